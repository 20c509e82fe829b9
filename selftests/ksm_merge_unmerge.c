// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_unmerge.c - undoing merges gives every page its own frame back.
 *
 * Owns the unmerge paths of upstream 6.12 KSM: MADV_UNMERGEABLE on a merged
 * range (all of it or part of it) breaks every KSM mapping in the range at
 * once, the VMA loses its "mg" flag and the counters drop after ksmd's next
 * pass; "echo 2 > run" unmerges every process synchronously, empties the
 * counters, keeps the areas registered (run=1 merges them again), and does
 * so safely while a process keeps writing to its merged pages; a run=2
 * that a signal interrupts leaves an engine that scans on cleanly.
 * Content is checked after every step, merging is judged from
 * /proc/<pid>/pagemap.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	60000
#define SCAN_TIMEOUT_MS		30000

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

FIXTURE(merge)
{
	struct ksm_knobs saved;
};

FIXTURE_SETUP(merge)
{
	int err;

	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(merge)
{
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/* pages_shared and pages_sharing are exactly @dshared/@dsharing above @base. */
static void expect_counters(struct __test_metadata *_metadata,
			    const struct ksm_counters *base, long dshared,
			    long dsharing)
{
	struct ksm_counters c;

	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base->pages_shared + dshared, c.pages_shared);
	EXPECT_EQ(base->pages_sharing + dsharing, c.pages_sharing);
}

static void fill_all(char *area, size_t pages, uint64_t seed)
{
	size_t i;

	for (i = 0; i < pages; i++)
		fill_page_seeded(area + i * psize(), seed);
}

/* Number of pages of process @pid (0: self) that do not hold @seed. */
static size_t bad_pages(pid_t pid, char *area, size_t pages, uint64_t seed)
{
	size_t i, bad = 0;

	for (i = 0; i < pages; i++) {
		const char *p = area + i * psize();

		if (pid ? !remote_page_has_seed(pid, p, seed) :
			  !page_has_seed(p, seed))
			bad++;
	}
	return bad;
}

#define NR_PAGES	16

TEST_F_TIMEOUT(merge, madvise_unmergeable_all, 240)
{
	uint64_t seed = ksm_test_seed("unmerge/all");
	struct ksm_counters base;
	struct ksm_proc_stat st;
	char *area, *anchor;
	int64_t pfn;

	/*
	 * A process without mergeable areas leaves ksmd's list and, with
	 * nobody else there, ksmd stops counting scans: one unique advised
	 * page keeps us on the list so that scans can be waited for.
	 */
	anchor = map_private_anon(1);
	ASSERT_NE(NULL, anchor);
	fill_page_seeded(anchor, seed ^ 1);
	ASSERT_EQ(0, madvise(anchor, psize(), MADV_MERGEABLE));
	area = map_private_anon(NR_PAGES);
	ASSERT_NE(NULL, area);
	fill_all(area, NR_PAGES, seed);
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_MERGEABLE));
	pfn = wait_common_pfn(0, area, NR_PAGES, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn);
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));

	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_UNMERGEABLE));
	/* Synchronous: every page has its own frame when madvise returns. */
	EXPECT_EQ(1, pfns_distinct(0, area, NR_PAGES, pfn));
	EXPECT_EQ(0U, bad_pages(0, area, NR_PAGES, seed));
	EXPECT_EQ(0, vma_has_flag(0, area, "mg"));
	EXPECT_EQ(0, smaps_field_kb(0, area, "KSM"));

	/* The bookkeeping goes when ksmd passes by. */
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	expect_counters(_metadata, &base, 0, 0);
	EXPECT_EQ(0, ksm_read_merging_pages(0));
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(0, st.merging_pages);
	EXPECT_EQ(1, st.rmap_items);	/* the anchor's */
	/* And nothing merges again without new advice. */
	EXPECT_EQ(1, pfns_distinct(0, area, NR_PAGES, pfn));
	EXPECT_EQ(0U, bad_pages(0, area, NR_PAGES, seed));
	EXPECT_TRUE(page_has_seed(anchor, seed ^ 1));
	munmap(area, NR_PAGES * psize());
	munmap(anchor, psize());
}

TEST_F_TIMEOUT(merge, madvise_unmergeable_part, 240)
{
	uint64_t seed = ksm_test_seed("unmerge/part");
	const size_t half = NR_PAGES / 2;
	struct ksm_counters base;
	char *area, *upper;
	int64_t pfn;

	area = map_private_anon(NR_PAGES);
	ASSERT_NE(NULL, area);
	upper = area + half * psize();
	fill_all(area, NR_PAGES, seed);
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_MERGEABLE));
	pfn = wait_common_pfn(0, area, NR_PAGES, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn);
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));

	ASSERT_EQ(0, madvise(upper, half * psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(pfn, common_pfn(0, area, half));
	EXPECT_EQ(1, pfns_distinct(0, upper, half, pfn));
	EXPECT_EQ(1, vma_has_flag(0, area, "mg"));
	EXPECT_EQ(0, vma_has_flag(0, upper, "mg"));
	EXPECT_EQ(0U, bad_pages(0, area, NR_PAGES, seed));

	EXPECT_TRUE(ksm_wait_counters(&base, 1, half - 1, MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	expect_counters(_metadata, &base, 1, half - 1);
	EXPECT_EQ((long)half, ksm_read_merging_pages(0));
	EXPECT_EQ((long)(half * psize() / 1024),
		  smaps_field_kb(0, area, "KSM"));
	EXPECT_EQ(0, smaps_field_kb(0, upper, "KSM"));
	/* The advised half stays merged, the other half stays apart. */
	EXPECT_EQ(pfn, common_pfn(0, area, half));
	EXPECT_EQ(1, pfns_distinct(0, upper, half, pfn));
	EXPECT_EQ(0U, bad_pages(0, area, NR_PAGES, seed));
	munmap(area, NR_PAGES * psize());
}

/* run=2 unmerges every process at once and keeps them registered. */
TEST_F_TIMEOUT(merge, run_2_unmerges_all, 300)
{
	uint64_t seed = ksm_test_seed("unmerge/run2");
	struct ksm_counters base, c;
	struct ksm_proc_stat st;
	int go[2], ready[2], status;
	int64_t pfn;
	char *area, ch;
	pid_t pid;

	area = map_private_anon(NR_PAGES);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_MERGEABLE));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, ksm_read_counters(&base));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fill_all(area, NR_PAGES, seed);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (read(go[0], &ch, 1) != 1)
			_exit(3);
		_exit(bad_pages(0, area, NR_PAGES, seed) ? 4 : 0);
	}
	close(go[0]);
	close(ready[1]);
	fill_all(area, NR_PAGES, seed);
	ASSERT_EQ(1, read(ready[0], &ch, 1));
	pfn = wait_common_pfn(0, area, NR_PAGES, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn);
	ASSERT_EQ(pfn, wait_common_pfn(pid, area, NR_PAGES, MERGE_TIMEOUT_MS));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 2 * NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));

	ASSERT_EQ(0, ksm_write_str("run", "2"));
	/* Done when the write returns: nothing merged anywhere. */
	EXPECT_EQ(1, pfns_distinct(0, area, NR_PAGES, pfn));
	EXPECT_EQ(1, pfns_distinct(pid, area, NR_PAGES, pfn));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(0UL, c.pages_shared);
	EXPECT_EQ(0UL, c.pages_sharing);
	EXPECT_EQ(0UL, c.stable_node_chains);
	EXPECT_EQ(0UL, c.stable_node_dups);
	/* The scan count restarts with the unmerge. */
	EXPECT_EQ(0UL, c.full_scans);
	EXPECT_EQ(0, ksm_read_merging_pages(0));
	EXPECT_EQ(0, ksm_read_merging_pages(pid));
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(0, st.rmap_items);
	EXPECT_EQ(0U, bad_pages(0, area, NR_PAGES, seed));
	EXPECT_EQ(0U, bad_pages(pid, area, NR_PAGES, seed));
	/* Still advised: ksmd takes them up again when it runs. */
	EXPECT_EQ(1, vma_has_flag(0, area, "mg"));
	EXPECT_EQ(1, vma_has_flag(pid, area, "mg"));

	ASSERT_EQ(0, ksm_write_str("run", "1"));
	pfn = wait_common_pfn(0, area, NR_PAGES, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, pfn);
	EXPECT_EQ(pfn, wait_common_pfn(pid, area, NR_PAGES, MERGE_TIMEOUT_MS));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 2 * NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));
	EXPECT_EQ(0U, bad_pages(0, area, NR_PAGES, seed));

	ASSERT_EQ(1, write(go[1], "q", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	munmap(area, NR_PAGES * psize());
}

#define NR_BUSY		64

/* Shared between the test and its writer child. */
struct busy_ctl {
	unsigned long go;
	unsigned long stop;
	unsigned long writes;
};

static unsigned long ctl_get(unsigned long *field)
{
	return __atomic_load_n(field, __ATOMIC_SEQ_CST);
}

static void ctl_set(unsigned long *field, unsigned long v)
{
	__atomic_store_n(field, v, __ATOMIC_SEQ_CST);
}

/*
 * The writer: keeps a private model of every page, checks a page against
 * it before each write and changes one word, one page every ~200us, until
 * told to stop; then checks everything once more.
 */
static int busy_writer(struct busy_ctl *ctl, char *area, uint64_t seed,
		       int ready_fd, int done_fd)
{
	size_t words = psize() / sizeof(uint64_t), i;
	char *model = malloc(NR_BUSY * psize());
	unsigned long n = 0;

	if (!model)
		return 10;
	for (i = 0; i < NR_BUSY; i++) {
		fill_page_seeded(area + i * psize(), seed);
		fill_page_seeded(model + i * psize(), seed);
	}
	if (write(ready_fd, "r", 1) != 1)
		return 11;
	while (!ctl_get(&ctl->go))
		usleep(1000);
	while (!ctl_get(&ctl->stop) || n < 2 * NR_BUSY) {
		size_t page = n % NR_BUSY, w = (n / NR_BUSY * 7 + page) % words;
		uint64_t *a = (uint64_t *)(area + page * psize());
		uint64_t *m = (uint64_t *)(model + page * psize());

		if (memcmp(a, m, psize()))
			return 12;
		m[w] = seed ^ (n + 1);
		a[w] = m[w];
		ctl_set(&ctl->writes, ++n);
		usleep(200);
	}
	for (i = 0; i < NR_BUSY; i++)
		if (memcmp(area + i * psize(), model + i * psize(), psize()))
			return 13;
	/* Tell the test we are done but stay for it to look at us. */
	if (write(done_fd, "d", 1) != 1)
		return 14;
	pause();
	return 0;
}

TEST_F_TIMEOUT(merge, run_2_while_writing, 300)
{
	uint64_t seed = ksm_test_seed("unmerge/busy");
	int ready[2], done[2], status;
	struct busy_ctl *ctl;
	struct ksm_counters c;
	unsigned long at_unmerge;
	int64_t pfn;
	char *area, ch;
	pid_t pid;

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ctl);
	area = map_private_anon(NR_BUSY);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, madvise(area, NR_BUSY * psize(), MADV_MERGEABLE));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(done));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(busy_writer(ctl, area, seed, ready[1], done[1]));
	}
	close(ready[1]);
	close(done[1]);
	ASSERT_EQ(1, read(ready[0], &ch, 1));
	pfn = wait_common_pfn(pid, area, NR_BUSY, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn) TH_LOG("the writer's pages did not merge");

	ctl_set(&ctl->go, 1);
	/* Unmerge while the writer is part-way through its first pass. */
	KSM_WAIT_FOR(ctl_get(&ctl->writes) >= NR_BUSY / 4, 10000);
	at_unmerge = ctl_get(&ctl->writes);
	ASSERT_EQ(0, ksm_write_str("run", "2"));
	TH_LOG("run=2 after %lu of the writer's writes", at_unmerge);
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(0UL, c.pages_shared);
	EXPECT_EQ(0UL, c.pages_sharing);
	ctl_set(&ctl->stop, 1);

	/* The writer checked every page; now look at its frames. */
	if (read(done[0], &ch, 1) == 1)
		EXPECT_EQ(1, pfns_distinct(pid, area, NR_BUSY, pfn));
	EXPECT_EQ(0, ksm_read_merging_pages(pid));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("writer failed: status %#x (exit 12/13: wrong content)",
		       status);
	munmap(area, NR_BUSY * psize());
	munmap(ctl, sizeof(*ctl));
}

/*
 * A signal stops "echo 2 > run" part-way (the write fails with EINTR and
 * run is 0).  Pages of the mms it did not reach may be in the unstable
 * index, filed during the full scan that the unmerge cut short; when run
 * is set to 1 again the scan starts over and must neither trip over them
 * (a kernel warning, seen in /proc/sys/kernel/tainted) nor lose data.
 *
 * One area, in address order: M, pairs of pages alike (merged; unmerging
 * them takes long enough for a 20 ms timer to interrupt it), U, unique pages
 * (filed in the unstable index every scan), F, more unique pages.  The
 * unmerge is started while ksmd is in F: pages_scanned, counted from the
 * start of the scan, tells (smart scan is off, so every page counts).
 */
#define INT_MERGED	4096
#define INT_UNIQUE	1024
#define INT_FILLER	8192
#define INT_PAGES	(INT_MERGED + INT_UNIQUE + INT_FILLER)
#define INT_ROUNDS	6
#define TAINT_WARN_BIT	(1UL << 9)

static void on_alarm(int sig)
{
}

static int read_taint(unsigned long *val)
{
	char buf[32];
	int err = file_read_str("/proc/sys/kernel/tainted", buf, sizeof(buf));

	if (!err)
		*val = strtoul(buf, NULL, 10);
	return err;
}

/*
 * What page @i of the area holds: in M, page i and page i + INT_MERGED / 2
 * are alike; every other page is unique.
 */
static uint64_t int_seed(uint64_t seed, size_t i)
{
	return seed + 1 + (i < INT_MERGED ? i % (INT_MERGED / 2) : i);
}

static bool int_merged(char *area)
{
	return count_shared_pairs(area, INT_MERGED / 2) == INT_MERGED / 2;
}

static size_t int_bad_pages(char *area, uint64_t seed)
{
	size_t i, bad = 0;

	for (i = 0; i < INT_PAGES; i++)
		bad += !page_has_seed(area + i * psize(), int_seed(seed, i));
	return bad;
}

/*
 * Wait until ksmd is in F: past M, U and a batch of F (of pages_to_scan
 * 1000) in a full scan it began after this was called.
 */
static int int_wait_in_filler(void)
{
	unsigned long past = INT_MERGED + INT_UNIQUE + 1500;
	struct ksm_scan_snap start, now;
	uint64_t deadline = now_ms() + SCAN_TIMEOUT_MS;
	int err;

	err = ksm_read_scan_snap(&start);
	do {
		if (!err)
			err = ksm_read_scan_snap(&now);
		if (err || now_ms() > deadline)
			return err ?: -ETIMEDOUT;
	} while (now.full_scans == start.full_scans);
	start = now;
	while (!err && now.full_scans == start.full_scans) {
		if (now.pages_scanned - start.pages_scanned >= past)
			return 0;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
		err = ksm_read_scan_snap(&now);
	}
	return err ?: -EAGAIN;	/* the scan ended first: try again */
}

/* "echo 2 > run" with a 20 ms timer armed: 0, or -EINTR if it was cut. */
static int run_2_with_timer(void)
{
	struct itimerval t = { .it_value = { .tv_usec = 20000 } };
	struct itimerval off = { };
	int err;

	setitimer(ITIMER_REAL, &t, NULL);
	err = ksm_write_str("run", "2");
	setitimer(ITIMER_REAL, &off, NULL);
	return err;
}

TEST_F_TIMEOUT(merge, run_2_interrupted, 900)
{
	uint64_t seed = ksm_test_seed("unmerge/interrupted");
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	unsigned long taint0, taint, scans;
	int round, tries, interrupted = 0, err;
	struct ksm_scan_snap snap;
	size_t i;
	char *area;

	/*
	 * Upstream 6.12 resets its unstable tree on the restart but keeps
	 * the scan number, and then rb_erase()s items of the interrupted
	 * scan from the fresh tree: this is a fix beyond upstream.
	 */
	if (access("/sys/module/ksm_mod", F_OK))
		SKIP(return, "built-in engine: upstream 6.12 has no such fix");
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, read_taint(&taint0));
	area = map_private_anon(INT_PAGES);
	ASSERT_NE(NULL, area);
	for (i = 0; i < INT_PAGES; i++)
		fill_page_seeded(area + i * psize(), int_seed(seed, i));
	ASSERT_EQ(0, madvise(area, INT_PAGES * psize(), MADV_MERGEABLE));
	ASSERT_EQ(0, ksm_write_str("pages_to_scan", "1000"));
	ASSERT_EQ(0, ksm_write_str("smart_scan", "0"));

	for (round = 0; round < INT_ROUNDS; round++) {
		ASSERT_EQ(0, ksm_write_str("run", "1"));
		/* M merged again, U and F filed: then a while into a scan. */
		ASSERT_TRUE(KSM_WAIT_FOR(int_merged(area), MERGE_TIMEOUT_MS));
		ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
		for (tries = 0; tries < 10; tries++) {
			err = int_wait_in_filler();
			if (err != -EAGAIN)
				break;
		}
		ASSERT_EQ(0, err) TH_LOG("waiting for ksmd in F: %s",
					 strerror(-err));
		err = run_2_with_timer();
		ASSERT_TRUE(!err || err == -EINTR)
			TH_LOG("run=2: %s", strerror(-err));
		interrupted += err == -EINTR;
		ASSERT_EQ(0, ksm_read_scan_snap(&snap));
		scans = snap.full_scans;
		ASSERT_EQ(0, ksm_write_str("run", "1"));
		/* A whole scan after the restart: every item met again. */
		ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS))
			TH_LOG("no full scan after the interrupted run=2 (%lu)",
			       scans);
		ASSERT_EQ(0, read_taint(&taint));
		ASSERT_EQ(taint0 & TAINT_WARN_BIT, taint & TAINT_WARN_BIT)
			TH_LOG("round %d: a kernel warning (see the console)",
			       round);
		ASSERT_EQ(0U, int_bad_pages(area, seed));
	}
	TH_LOG("%d of %d run=2 writes were interrupted", interrupted,
	       INT_ROUNDS);
	EXPECT_LT(0, interrupted);
	/* And everything still merges. */
	EXPECT_TRUE(KSM_WAIT_FOR(int_merged(area), MERGE_TIMEOUT_MS));
	EXPECT_EQ(1, pfns_distinct(0, area + INT_MERGED * psize(),
				   INT_UNIQUE + INT_FILLER, 0));
	EXPECT_EQ(0U, int_bad_pages(area, seed));
	munmap(area, INT_PAGES * psize());
}

TEST_HARNESS_MAIN
