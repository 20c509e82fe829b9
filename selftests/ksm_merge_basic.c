// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_basic.c - identical pages merge, unique pages do not.
 *
 * Owns the basic merge semantics of upstream 6.12 KSM: N identical pages
 * of one process end up mapping one page frame, the global counters grow by
 * exactly one shared page and N-1 sharing mappings, the process's
 * ksm_merging_pages, ksm_stat and smaps "KSM:" say the same, unique pages
 * stay where they are, and all of this works across processes too (pages
 * filled after a fork, and pages that were already COW-shared by a fork).
 * Merging is judged from /proc/<pid>/pagemap and procfs, content is checked
 * after every merge, and counters are compared with a baseline taken after
 * everything was unmerged (run=2) at the start of each test.
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

static bool wait_counters(const struct ksm_counters *base, long dshared,
			  long dsharing)
{
	return ksm_wait_counters(base, dshared, dsharing, MERGE_TIMEOUT_MS);
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

/* A child that waits for one byte on @fd, then checks its pages and exits. */
static void child_hold_and_check(int fd, char *area, size_t pages,
				 uint64_t seed)
{
	size_t i;
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(3);
	for (i = 0; i < pages; i++)
		if (!page_has_seed(area + i * psize(), seed))
			_exit(4);
	_exit(0);
}

#define NR_SAME		32
#define NR_UNIQUE	8
#define NR_PAGES	(NR_SAME + NR_UNIQUE)

/* Every fifth page holds unique content, the others the same content. */
static bool is_unique(size_t i)
{
	return i % 5 == 4;
}

TEST_F_TIMEOUT(merge, identical_pages_one_process, 240)
{
	uint64_t seed = ksm_test_seed("basic/one"), useed[NR_PAGES];
	int64_t pfns[NR_PAGES], pfn = 0;
	struct ksm_counters base, after;
	struct ksm_proc_stat st;
	size_t i, j, same = 0;
	char *area;
	bool ok;

	area = map_private_anon(NR_PAGES);
	ASSERT_NE(NULL, area);
	for (i = 0; i < NR_PAGES; i++) {
		useed[i] = seed + 1 + i;
		fill_page_seeded(area + i * psize(),
				 is_unique(i) ? useed[i] : seed);
		same += !is_unique(i);
	}
	ASSERT_EQ((size_t)NR_SAME, same);
	ASSERT_EQ(0, ksm_read_counters(&base));
	/* Nothing is merging in this process before the advice. */
	EXPECT_EQ(0, ksm_read_merging_pages(0));

	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_MERGEABLE));

	ok = KSM_WAIT_FOR(!pagemap_pfns(0, area, NR_PAGES, pfns) &&
			  pfns[0] && pfns[0] == pfns[1] &&
			  pfns[0] == pfns[NR_PAGES - 2], MERGE_TIMEOUT_MS);
	ASSERT_TRUE(ok) TH_LOG("identical pages did not merge");
	EXPECT_TRUE(wait_counters(&base, 1, NR_SAME - 1));
	/* Let ksmd look at everything a few more times. */
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));

	ASSERT_EQ(0, pagemap_pfns(0, area, NR_PAGES, pfns));
	pfn = pfns[0];
	for (i = 0; i < NR_PAGES; i++) {
		const char *page = area + i * psize();

		if (is_unique(i)) {
			EXPECT_NE(pfn, pfns[i]) TH_LOG("unique page %zu", i);
			EXPECT_NE(0, pfns[i]);
			for (j = 0; j < i; j++)
				if (is_unique(j))
					EXPECT_NE(pfns[j], pfns[i]);
			EXPECT_TRUE(page_has_seed(page, useed[i]))
				TH_LOG("unique page %zu content", i);
		} else {
			EXPECT_EQ(pfn, pfns[i]) TH_LOG("page %zu", i);
			EXPECT_TRUE(page_has_seed(page, seed))
				TH_LOG("merged page %zu content", i);
		}
	}

	expect_counters(_metadata, &base, 1, NR_SAME - 1);
	EXPECT_EQ(NR_SAME, ksm_read_merging_pages(0));
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(NR_SAME, st.merging_pages);
	EXPECT_EQ(0, st.zero_pages);
	/* One rmap_item per scanned page, merged or not. */
	EXPECT_EQ(NR_PAGES, st.rmap_items);
	/* profit = merged bytes - rmap_items * sizeof(rmap_item) */
	EXPECT_LT(st.process_profit, NR_SAME * psize());
	if (st.rmap_items > 0) {
		long cost = NR_SAME * psize() - st.process_profit;

		EXPECT_EQ(0, cost % st.rmap_items);
		EXPECT_LT(0, cost / st.rmap_items);
		EXPECT_GT(psize() / 8, cost / st.rmap_items);
	}
	EXPECT_EQ(NR_SAME * psize() / 1024, smaps_field_kb(0, area, "KSM"));

	/* The merged page is write-protected but readable everywhere. */
	for (i = 0; i < NR_PAGES; i++)
		if (!is_unique(i))
			EXPECT_EQ(0, memcmp(area, area + i * psize(), psize()));

	/* Gone with the mapping: counters back to the baseline. */
	ASSERT_EQ(0, munmap(area, NR_PAGES * psize()));
	EXPECT_TRUE(wait_counters(&base, 0, 0));
	ASSERT_EQ(0, ksm_read_counters(&after));
	EXPECT_EQ(base.pages_shared, after.pages_shared);
	EXPECT_EQ(base.pages_sharing, after.pages_sharing);
	EXPECT_EQ(0, ksm_read_merging_pages(0));
}

TEST_F_TIMEOUT(merge, unique_pages_stay, 180)
{
	uint64_t seed = ksm_test_seed("basic/unique");
	struct ksm_counters base;
	struct ksm_proc_stat st;
	char *area;
	size_t i;

	area = map_private_anon(NR_UNIQUE);
	ASSERT_NE(NULL, area);
	for (i = 0; i < NR_UNIQUE; i++)
		fill_page_seeded(area + i * psize(), seed + i);
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_UNIQUE * psize(), MADV_MERGEABLE));
	/* Two scans checksum and compare every page; give it five. */
	ASSERT_EQ(0, ksm_wait_full_scans(5, SCAN_TIMEOUT_MS));
	EXPECT_EQ(1, pfns_distinct(0, area, NR_UNIQUE, 0));
	expect_counters(_metadata, &base, 0, 0);
	EXPECT_EQ(0, ksm_read_merging_pages(0));
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(0, st.merging_pages);
	EXPECT_EQ(NR_UNIQUE, st.rmap_items);
	/* Nothing merged: all cost, no profit. */
	EXPECT_GT(0, st.process_profit);
	EXPECT_EQ(0, smaps_field_kb(0, area, "KSM"));
	for (i = 0; i < NR_UNIQUE; i++)
		EXPECT_TRUE(page_has_seed(area + i * psize(), seed + i));
	munmap(area, NR_UNIQUE * psize());
}

#define NR_XPROC	16

/*
 * Both processes write the same content after the fork, so each has its
 * own page frames until KSM merges all of them into one.
 */
TEST_F_TIMEOUT(merge, two_processes_fill_after_fork, 240)
{
	uint64_t seed = ksm_test_seed("basic/xproc");
	int go[2], ready[2], status;
	struct ksm_counters base;
	int64_t ppfn, cpfn;
	char *area, c;
	pid_t pid;
	size_t i;

	area = map_private_anon(NR_XPROC);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, madvise(area, NR_XPROC * psize(), MADV_MERGEABLE));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, ksm_read_counters(&base));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		close(ready[0]);
		for (i = 0; i < NR_XPROC; i++)
			fill_page_seeded(area + i * psize(), seed);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		child_hold_and_check(go[0], area, NR_XPROC, seed);
	}
	close(go[0]);
	close(ready[1]);
	for (i = 0; i < NR_XPROC; i++)
		fill_page_seeded(area + i * psize(), seed);
	ASSERT_EQ(1, read(ready[0], &c, 1));

	ppfn = wait_common_pfn(0, area, NR_XPROC, MERGE_TIMEOUT_MS);
	cpfn = wait_common_pfn(pid, area, NR_XPROC, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, ppfn);
	EXPECT_EQ(ppfn, cpfn) TH_LOG("the processes' pages map different frames");
	EXPECT_TRUE(wait_counters(&base, 1, 2 * NR_XPROC - 1));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	EXPECT_EQ(ppfn, common_pfn(0, area, NR_XPROC));
	EXPECT_EQ(ppfn, common_pfn(pid, area, NR_XPROC));
	expect_counters(_metadata, &base, 1, 2 * NR_XPROC - 1);
	EXPECT_EQ(NR_XPROC, ksm_read_merging_pages(0));
	EXPECT_EQ(NR_XPROC, ksm_read_merging_pages(pid));
	EXPECT_EQ(NR_XPROC * psize() / 1024, smaps_field_kb(0, area, "KSM"));
	EXPECT_EQ(NR_XPROC * psize() / 1024,
		  smaps_field_kb(pid, area, "KSM"));
	for (i = 0; i < NR_XPROC; i++) {
		EXPECT_TRUE(page_has_seed(area + i * psize(), seed));
		EXPECT_TRUE(remote_page_has_seed(pid, area + i * psize(),
						 seed));
	}

	/* The child leaves: the parent's pages stay merged among themselves. */
	ASSERT_EQ(1, write(go[1], "q", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("child saw wrong content: %#x", status);
	EXPECT_TRUE(wait_counters(&base, 1, NR_XPROC - 1));
	EXPECT_EQ(ppfn, common_pfn(0, area, NR_XPROC));
	for (i = 0; i < NR_XPROC; i++)
		EXPECT_TRUE(page_has_seed(area + i * psize(), seed));
	munmap(area, NR_XPROC * psize());
	EXPECT_TRUE(wait_counters(&base, 0, 0));
}

/*
 * Pages filled before the fork are COW-shared by both processes when KSM
 * sees them; they still end up as one KSM page mapped 2N times.
 */
TEST_F_TIMEOUT(merge, two_processes_fork_after_fill, 240)
{
	uint64_t seed = ksm_test_seed("basic/forked");
	struct ksm_counters base;
	int go[2], status;
	int64_t ppfn, cpfn;
	char *area;
	pid_t pid;
	size_t i;

	area = map_private_anon(NR_XPROC);
	ASSERT_NE(NULL, area);
	for (i = 0; i < NR_XPROC; i++)
		fill_page_seeded(area + i * psize(), seed);
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_XPROC * psize(), MADV_MERGEABLE));
	ASSERT_EQ(0, pipe(go));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		child_hold_and_check(go[0], area, NR_XPROC, seed);
	}
	close(go[0]);

	ppfn = wait_common_pfn(0, area, NR_XPROC, MERGE_TIMEOUT_MS);
	cpfn = wait_common_pfn(pid, area, NR_XPROC, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, ppfn);
	EXPECT_EQ(ppfn, cpfn);
	EXPECT_TRUE(wait_counters(&base, 1, 2 * NR_XPROC - 1));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	expect_counters(_metadata, &base, 1, 2 * NR_XPROC - 1);
	EXPECT_EQ(NR_XPROC, ksm_read_merging_pages(0));
	EXPECT_EQ(NR_XPROC, ksm_read_merging_pages(pid));
	for (i = 0; i < NR_XPROC; i++) {
		EXPECT_TRUE(page_has_seed(area + i * psize(), seed));
		EXPECT_TRUE(remote_page_has_seed(pid, area + i * psize(),
						 seed));
	}

	ASSERT_EQ(1, write(go[1], "q", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_TRUE(wait_counters(&base, 1, NR_XPROC - 1));
	munmap(area, NR_XPROC * psize());
	EXPECT_TRUE(wait_counters(&base, 0, 0));
}

TEST_HARNESS_MAIN
