// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_cow.c - writing to a merged page breaks COW on that page only.
 *
 * Owns the copy-on-write side of upstream 6.12 KSM: a write to one mapping
 * of a KSM page gives that mapping a new private frame holding the written
 * content, every other mapping keeps the KSM frame and the old content, and
 * once ksmd has looked again the counters have lost exactly that mapping
 * (pages_sharing first, pages_shared when the last mapping goes).  The same
 * holds across processes, and vmstat cow_ksm counts each such copy.
 * Verdicts come from /proc/<pid>/pagemap, procfs and the global counters,
 * content is checked after every write.
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

/*
 * Map @pages pages of the same content, advise them and wait until they
 * map one frame and the counters show it.  Returns the mapping, fills
 * *@pfn with the KSM frame.
 */
static char *map_merged(struct __test_metadata *_metadata,
			const struct ksm_counters *base, size_t pages,
			uint64_t seed, int64_t *pfn)
{
	char *area = map_private_anon(pages);
	size_t i;

	*pfn = 0;
	if (!area)
		return NULL;
	for (i = 0; i < pages; i++)
		fill_page_seeded(area + i * psize(), seed);
	if (madvise(area, pages * psize(), MADV_MERGEABLE))
		return NULL;
	*pfn = wait_common_pfn(0, area, pages, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, *pfn) TH_LOG("%zu identical pages did not merge", pages);
	EXPECT_TRUE(ksm_wait_counters(base, 1, pages - 1, MERGE_TIMEOUT_MS));
	return *pfn ? area : NULL;
}

/* The content written over page @i by write_page(). */
static void expected_page(char *buf, uint64_t seed, size_t i)
{
	fill_page_seeded(buf, seed);
	buf[64 + i] ^= 0x5a;
}

/* Change one byte of page @i: each page gets a different new content. */
static void write_page(char *area, size_t i)
{
	area[i * psize() + 64 + i] ^= 0x5a;
}

#define NR_COW	16

TEST_F_TIMEOUT(merge, write_one_page, 240)
{
	uint64_t seed = ksm_test_seed("cow/one");
	const size_t victim = 5;
	struct ksm_counters base;
	int64_t pfn, pfns[NR_COW];
	char *area, *want;
	size_t i;

	want = malloc(psize());
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, ksm_read_counters(&base));
	area = map_merged(_metadata, &base, NR_COW, seed, &pfn);
	ASSERT_NE(NULL, area);
	expect_counters(_metadata, &base, 1, NR_COW - 1);

	write_page(area, victim);
	expected_page(want, seed, victim);

	/* The copy happens at the fault, no scan needed to see it. */
	ASSERT_EQ(0, pagemap_pfns(0, area, NR_COW, pfns));
	for (i = 0; i < NR_COW; i++) {
		if (i == victim) {
			EXPECT_NE(0, pfns[i]);
			EXPECT_NE(pfn, pfns[i]) TH_LOG("written page kept the KSM frame");
			EXPECT_EQ(0, memcmp(want, area + i * psize(), psize()));
		} else {
			EXPECT_EQ(pfn, pfns[i]) TH_LOG("page %zu", i);
			EXPECT_TRUE(page_has_seed(area + i * psize(), seed))
				TH_LOG("page %zu saw the write", i);
		}
	}

	/* ksmd notices on its next visit: one mapping less. */
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_COW - 2, MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	expect_counters(_metadata, &base, 1, NR_COW - 2);
	EXPECT_EQ(NR_COW - 1, ksm_read_merging_pages(0));
	EXPECT_EQ((NR_COW - 1) * psize() / 1024,
		  smaps_field_kb(0, area, "KSM"));
	/* The written page has unique content now and stays on its own. */
	ASSERT_EQ(0, pagemap_pfns(0, area, NR_COW, pfns));
	for (i = 0; i < NR_COW; i++) {
		if (i == victim) {
			EXPECT_NE(pfn, pfns[i]);
			EXPECT_EQ(0, memcmp(want, area + i * psize(), psize()));
		} else {
			EXPECT_EQ(pfn, pfns[i]);
			EXPECT_TRUE(page_has_seed(area + i * psize(), seed));
		}
	}
	munmap(area, NR_COW * psize());
	free(want);
}

/* Writing the mappings away one by one: sharing first, then shared. */
TEST_F_TIMEOUT(merge, write_every_page_in_turn, 300)
{
	static const long after[3][2] = { { 1, 1 }, { 1, 0 }, { 0, 0 } };
	uint64_t seed = ksm_test_seed("cow/turn");
	struct ksm_counters base;
	int64_t pfn, pfns[3];
	char *area, *want;
	size_t i, j;

	want = malloc(psize());
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, ksm_read_counters(&base));
	area = map_merged(_metadata, &base, 3, seed, &pfn);
	ASSERT_NE(NULL, area);

	for (i = 0; i < 3; i++) {
		write_page(area, i);
		ASSERT_EQ(0, pagemap_pfns(0, area, 3, pfns));
		for (j = 0; j < 3; j++) {
			if (j <= i) {
				expected_page(want, seed, j);
				EXPECT_NE(pfn, pfns[j]);
				EXPECT_EQ(0, memcmp(want, area + j * psize(),
						    psize()));
			} else {
				EXPECT_EQ(pfn, pfns[j]);
				EXPECT_TRUE(page_has_seed(area + j * psize(),
							  seed));
			}
		}
		EXPECT_TRUE(ksm_wait_counters(&base, after[i][0], after[i][1],
					      MERGE_TIMEOUT_MS))
			TH_LOG("after writing %zu of 3 pages", i + 1);
		ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
		expect_counters(_metadata, &base, after[i][0], after[i][1]);
		EXPECT_EQ((long)(2 - i), ksm_read_merging_pages(0));
	}
	EXPECT_EQ(1, pfns_distinct(0, area, 3, pfn));
	munmap(area, 3 * psize());
	free(want);
}

/* A page merged across two processes: the writer's copy is its own. */
TEST_F_TIMEOUT(merge, write_in_one_process_only, 240)
{
	uint64_t seed = ksm_test_seed("cow/xproc");
	int cmd[2], ack[2], status;
	const size_t victim = 3;
	struct ksm_counters base;
	int64_t pfn, pfns[NR_COW];
	char *area, *want, c;
	pid_t pid;
	size_t i;

	want = malloc(psize());
	ASSERT_NE(NULL, want);
	area = map_private_anon(NR_COW);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, madvise(area, NR_COW * psize(), MADV_MERGEABLE));
	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(ack));
	ASSERT_EQ(0, ksm_read_counters(&base));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (i = 0; i < NR_COW; i++)
			fill_page_seeded(area + i * psize(), seed);
		if (write(ack[1], "r", 1) != 1)
			_exit(2);
		/* 'w': write the victim page; 'q': leave. */
		while (read(cmd[0], &c, 1) == 1 && c == 'w') {
			write_page(area, victim);
			if (write(ack[1], "w", 1) != 1)
				_exit(2);
		}
		_exit(0);
	}
	close(cmd[0]);
	close(ack[1]);
	for (i = 0; i < NR_COW; i++)
		fill_page_seeded(area + i * psize(), seed);
	ASSERT_EQ(1, read(ack[0], &c, 1));
	pfn = wait_common_pfn(0, area, NR_COW, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn);
	ASSERT_EQ(pfn, wait_common_pfn(pid, area, NR_COW, MERGE_TIMEOUT_MS));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 2 * NR_COW - 1,
				      MERGE_TIMEOUT_MS));

	ASSERT_EQ(1, write(cmd[1], "w", 1));
	ASSERT_EQ(1, read(ack[0], &c, 1));
	expected_page(want, seed, victim);

	/* The writer: only the victim moved, and holds the new bytes. */
	ASSERT_EQ(0, pagemap_pfns(pid, area, NR_COW, pfns));
	for (i = 0; i < NR_COW; i++) {
		if (i == victim) {
			EXPECT_NE(pfn, pfns[i]);
			EXPECT_NE(0, pfns[i]);
		} else {
			EXPECT_EQ(pfn, pfns[i]);
			EXPECT_TRUE(remote_page_has_seed(pid, area + i * psize(),
							 seed));
		}
	}
	/* The other process sees nothing of it. */
	EXPECT_EQ(pfn, common_pfn(0, area, NR_COW));
	for (i = 0; i < NR_COW; i++)
		EXPECT_TRUE(page_has_seed(area + i * psize(), seed));
	EXPECT_FALSE(remote_page_has_seed(pid, area + victim * psize(), seed));

	EXPECT_TRUE(ksm_wait_counters(&base, 1, 2 * NR_COW - 2,
				      MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	expect_counters(_metadata, &base, 1, 2 * NR_COW - 2);
	EXPECT_EQ(NR_COW, ksm_read_merging_pages(0));
	EXPECT_EQ(NR_COW - 1, ksm_read_merging_pages(pid));

	ASSERT_EQ(1, write(cmd[1], "q", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	munmap(area, NR_COW * psize());
	free(want);
}

TEST_F_TIMEOUT(merge, cow_ksm_vmstat, 240)
{
	uint64_t seed = ksm_test_seed("cow/vmstat");
	unsigned long before, now;
	struct ksm_counters base;
	char *area, *plain;
	int64_t pfn;

	if (vmstat_read("cow_ksm", &before) == -ENOENT)
		SKIP(return,
		     "no cow_ksm in /proc/vmstat (CONFIG_VM_EVENT_COUNTERS=n)");
	ASSERT_EQ(0, ksm_read_counters(&base));
	area = map_merged(_metadata, &base, 8, seed, &pfn);
	ASSERT_NE(NULL, area);
	plain = map_private_anon(1);
	ASSERT_NE(NULL, plain);
	plain[0] = 1;

	/*
	 * ksmd stopped: a fresh copy that it met before the write landed
	 * would still have the KSM page's content and could be merged back,
	 * so that the write faults, and counts, twice.
	 */
	ASSERT_EQ(0, ksm_write_ulong("run", 0));
	ASSERT_EQ(0, vmstat_read("cow_ksm", &before));
	write_page(area, 0);
	write_page(area, 1);
	write_page(area, 7);
	ASSERT_EQ(0, vmstat_read("cow_ksm", &now));
	EXPECT_EQ(before + 3, now);
	/* Writes to pages that are not KSM pages (any more) do not count. */
	area[300] ^= 1;
	plain[1] = 2;
	ASSERT_EQ(0, vmstat_read("cow_ksm", &now));
	EXPECT_EQ(before + 3, now);
	EXPECT_EQ(0, ksm_write_ulong("run", 1));
	EXPECT_EQ(pfn, common_pfn(0, area + 2 * psize(), 5));
	munmap(area, 8 * psize());
	munmap(plain, psize());
}

TEST_HARNESS_MAIN
