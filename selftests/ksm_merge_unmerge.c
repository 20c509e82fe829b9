// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_unmerge.c - undoing merges gives every page its own frame back.
 *
 * Owns the unmerge paths of upstream 6.12 KSM: MADV_UNMERGEABLE on a merged
 * range (all of it or part of it) breaks every KSM mapping in the range at
 * once, the VMA loses its "mg" flag and the counters drop after ksmd's next
 * pass; "echo 2 > run" unmerges every process synchronously, empties the
 * counters, keeps the areas registered (run=1 merges them again), and does
 * so safely while a process keeps writing to its merged pages.  Content is
 * checked after every step, merging is judged from /proc/<pid>/pagemap.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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

TEST_HARNESS_MAIN
