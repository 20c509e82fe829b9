// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_zero.c - zero-filled pages and use_zero_pages.
 *
 * Owns upstream 6.12's handling of pages that hold only zeroes: with
 * use_zero_pages=1 KSM maps them to the shared zero page (the frame a read
 * fault on untouched anonymous memory maps), counts each such mapping in
 * ksm_zero_pages (sysfs) and in ksm_stat's ksm_zero_pages, and not in
 * pages_shared/pages_sharing/ksm_merging_pages; a write, MADV_UNMERGEABLE,
 * run=2, munmap or exit takes them out of the count at once, and only the
 * zero pages KSM placed (not those of read faults) are touched.  With
 * use_zero_pages=0 zero-filled pages merge into an ordinary KSM page.
 * The zero page is identified by the PFN pagemap shows for a read fault.
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
	int64_t zero_pfn;
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
	self->zero_pfn = zero_page_pfn();
	ASSERT_LT(0, self->zero_pfn) TH_LOG("no PFN for the zero page");
}

FIXTURE_TEARDOWN(merge)
{
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

static long global_zero_pages(void)
{
	struct ksm_counters c;

	return ksm_read_counters(&c) ? -1 : c.ksm_zero_pages;
}

static long self_zero_pages(void)
{
	struct ksm_proc_stat st;

	return ksm_read_proc_stat(0, &st) ? -1 : st.zero_pages;
}

static bool all_zero(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Number of pages from @area mapping @pfn. */
static long pages_on(const char *area, size_t pages, int64_t pfn)
{
	int64_t pfns[64];
	long n = 0;
	size_t i;

	if (pages > 64 || pagemap_pfns(0, area, pages, pfns))
		return -1;
	for (i = 0; i < pages; i++)
		n += pfns[i] == pfn;
	return n;
}

#define NR_ZERO		16	/* written with zeroes */
#define NR_READ		4	/* only read: the zero page of a read fault */
#define NR_OTHER	2	/* unique content */
#define NR_ALL		(NR_ZERO + NR_READ + NR_OTHER)

/* [0, NR_ZERO) zero-filled, then NR_READ read-faulted, then unique pages. */
static char *map_zero_layout(uint64_t seed)
{
	char *area = map_private_anon(NR_ALL);
	size_t i;

	if (!area)
		return NULL;
	memset(area, 0, NR_ZERO * psize());
	if (madvise(area + NR_ZERO * psize(), NR_READ * psize(),
		    MADV_POPULATE_READ))
		return NULL;
	for (i = NR_ZERO + NR_READ; i < NR_ALL; i++)
		fill_page_seeded(area + i * psize(), seed + i);
	return area;
}

TEST_F_TIMEOUT(merge, use_zero_pages_on, 240)
{
	uint64_t seed = ksm_test_seed("zero/on");
	char *area, *read_only, *victim;
	struct ksm_counters base, now;
	struct ksm_proc_stat st;
	size_t i;

	ASSERT_EQ(0, ksm_write_str("use_zero_pages", "1"));
	area = map_zero_layout(seed);
	ASSERT_NE(NULL, area);
	read_only = area + NR_ZERO * psize();
	victim = area + 3 * psize();
	/* Written pages have frames of their own, read ones the zero page. */
	EXPECT_EQ(0, pages_on(area, NR_ZERO, self->zero_pfn));
	EXPECT_EQ(NR_READ, pages_on(read_only, NR_READ, self->zero_pfn));
	ASSERT_EQ(0, ksm_read_counters(&base));

	ASSERT_EQ(0, madvise(area, NR_ALL * psize(), MADV_MERGEABLE));
	EXPECT_TRUE(KSM_WAIT_FOR(pages_on(area, NR_ZERO, self->zero_pfn) ==
				 NR_ZERO, MERGE_TIMEOUT_MS))
		TH_LOG("zero-filled pages were not mapped to the zero page");
	EXPECT_TRUE(KSM_WAIT_FOR(global_zero_pages() ==
				 base.ksm_zero_pages + NR_ZERO,
				 MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));

	/* Exactly the pages KSM placed are counted, nothing else. */
	EXPECT_EQ(base.ksm_zero_pages + NR_ZERO, global_zero_pages());
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(NR_ZERO, st.zero_pages);
	EXPECT_EQ(0, st.merging_pages);
	EXPECT_LT(0, st.process_profit);
	EXPECT_EQ(0, ksm_read_merging_pages(0));
	ASSERT_EQ(0, ksm_read_counters(&now));
	EXPECT_EQ(base.pages_shared, now.pages_shared);
	EXPECT_EQ(base.pages_sharing, now.pages_sharing);
	/* The zero page is no KSM page. */
	EXPECT_EQ(0, smaps_field_kb(0, area, "KSM"));
	EXPECT_EQ(NR_READ, pages_on(read_only, NR_READ, self->zero_pfn));
	EXPECT_EQ(1, pfns_distinct(0, area + (NR_ZERO + NR_READ) * psize(),
				   NR_OTHER, self->zero_pfn));
	EXPECT_TRUE(all_zero(area, (NR_ZERO + NR_READ) * psize()));
	for (i = NR_ZERO + NR_READ; i < NR_ALL; i++)
		EXPECT_TRUE(page_has_seed(area + i * psize(), seed + i));

	/* A write gets a private page and leaves the count at once. */
	victim[100] = 0x42;
	EXPECT_NE(self->zero_pfn, pagemap_pfn(victim));
	EXPECT_NE(0, pagemap_pfn(victim));
	EXPECT_EQ(0x42, victim[100]);
	EXPECT_TRUE(all_zero(victim, 100));
	EXPECT_TRUE(all_zero(victim + 101, psize() - 101));
	EXPECT_EQ(base.ksm_zero_pages + NR_ZERO - 1, global_zero_pages());
	EXPECT_EQ(NR_ZERO - 1, self_zero_pages());
	EXPECT_EQ(NR_ZERO - 1, pages_on(area, NR_ZERO, self->zero_pfn));

	/*
	 * MADV_UNMERGEABLE replaces the zero pages KSM placed with private
	 * zeroed pages; the read-fault zero pages stay as they are.
	 */
	ASSERT_EQ(0, madvise(area, NR_ALL * psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(base.ksm_zero_pages, global_zero_pages());
	EXPECT_EQ(0, self_zero_pages());
	EXPECT_EQ(1, pfns_distinct(0, area, NR_ZERO, self->zero_pfn));
	EXPECT_EQ(NR_READ, pages_on(read_only, NR_READ, self->zero_pfn));
	EXPECT_TRUE(all_zero(area, 3 * psize()));
	EXPECT_TRUE(all_zero(area + 4 * psize(),
			     (NR_ZERO + NR_READ - 4) * psize()));
	EXPECT_EQ(0x42, victim[100]);
	munmap(area, NR_ALL * psize());
}

/* run=2, munmap and exit all take KSM's zero pages out of the count. */
TEST_F_TIMEOUT(merge, zero_pages_leave_count, 300)
{
	uint64_t seed = ksm_test_seed("zero/leave");
	int ready[2], go[2], status;
	struct ksm_counters base;
	struct ksm_proc_stat st;
	char *area, c;
	pid_t pid;

	ASSERT_EQ(0, ksm_write_str("use_zero_pages", "1"));
	area = map_zero_layout(seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_ALL * psize(), MADV_MERGEABLE));
	ASSERT_TRUE(KSM_WAIT_FOR(global_zero_pages() ==
				 base.ksm_zero_pages + NR_ZERO,
				 MERGE_TIMEOUT_MS));
	EXPECT_EQ(NR_ZERO, pages_on(area, NR_ZERO, self->zero_pfn));

	ASSERT_EQ(0, ksm_write_str("run", "2"));
	EXPECT_EQ(0, global_zero_pages());
	EXPECT_EQ(0, self_zero_pages());
	EXPECT_EQ(1, pfns_distinct(0, area, NR_ZERO, self->zero_pfn));
	EXPECT_TRUE(all_zero(area, (NR_ZERO + NR_READ) * psize()));

	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	ASSERT_TRUE(KSM_WAIT_FOR(global_zero_pages() ==
				 base.ksm_zero_pages + NR_ZERO,
				 MERGE_TIMEOUT_MS));
	EXPECT_EQ(NR_ZERO, pages_on(area, NR_ZERO, self->zero_pfn));
	ASSERT_EQ(0, munmap(area, NR_ALL * psize()));
	EXPECT_EQ(base.ksm_zero_pages, global_zero_pages());
	EXPECT_EQ(0, self_zero_pages());

	/* A child's zero pages leave the count when it exits. */
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		area = map_zero_layout(seed);
		if (!area || madvise(area, NR_ALL * psize(), MADV_MERGEABLE))
			_exit(2);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(all_zero(area, NR_ZERO * psize()) ? 0 : 4);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	EXPECT_TRUE(KSM_WAIT_FOR(global_zero_pages() ==
				 base.ksm_zero_pages + NR_ZERO,
				 MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_proc_stat(pid, &st));
	EXPECT_EQ(NR_ZERO, st.zero_pages);
	ASSERT_EQ(1, write(go[1], "q", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(base.ksm_zero_pages, global_zero_pages());
}

TEST_F_TIMEOUT(merge, use_zero_pages_off, 240)
{
	uint64_t seed = ksm_test_seed("zero/off");
	char *area, *read_only;
	struct ksm_counters base;
	struct ksm_proc_stat st;
	int64_t pfn;

	ASSERT_EQ(0, ksm_write_str("use_zero_pages", "0"));
	area = map_zero_layout(seed);
	ASSERT_NE(NULL, area);
	read_only = area + NR_ZERO * psize();
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_ALL * psize(), MADV_MERGEABLE));

	pfn = wait_common_pfn(0, area, NR_ZERO, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn) TH_LOG("zero-filled pages did not merge");
	EXPECT_NE(self->zero_pfn, pfn);
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_ZERO - 1,
				      MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	EXPECT_EQ(pfn, common_pfn(0, area, NR_ZERO));
	EXPECT_EQ(base.ksm_zero_pages, global_zero_pages());
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(0, st.zero_pages);
	EXPECT_EQ(NR_ZERO, st.merging_pages);
	EXPECT_EQ(NR_ZERO * psize() / 1024, smaps_field_kb(0, area, "KSM"));
	/* Read-fault zero pages are not anonymous pages: left alone. */
	EXPECT_EQ(NR_READ, pages_on(read_only, NR_READ, self->zero_pfn));
	EXPECT_TRUE(all_zero(area, (NR_ZERO + NR_READ) * psize()));
	munmap(area, NR_ALL * psize());
}

TEST_HARNESS_MAIN
