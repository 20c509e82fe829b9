// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_mremap_mprotect.c - merged pages under mremap, mprotect and
 * writes through /proc/self/mem.
 *
 * Owns what upstream 6.12 does to KSM pages when their mapping changes:
 * mremap() that moves a merged range unmerges it first (move_vma() calls
 * ksm_madvise(MADV_UNMERGEABLE) on the old range but keeps VM_MERGEABLE),
 * so at the new address every page has its own frame with its content and
 * KSM merges them again later; mremap() that only shrinks keeps the rest
 * merged; mprotect(PROT_READ), whole or part, keeps pages merged and
 * readable; a FOLL_FORCE write through /proc/self/mem (even to a read-only
 * mapping) breaks COW on exactly the page written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	60000
#define SCAN_TIMEOUT_MS		30000
#define NR_PAGES		16

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

static bool all_have_seed(const char *area, size_t pages, uint64_t seed)
{
	size_t i;

	for (i = 0; i < pages; i++)
		if (!page_has_seed(area + i * psize(), seed))
			return false;
	return true;
}

/* NR_PAGES pages of @seed, advised, merged; *@pfn is the KSM frame. */
static char *map_merged(struct __test_metadata *_metadata,
			const struct ksm_counters *base, uint64_t seed,
			int64_t *pfn)
{
	char *area = map_private_anon(NR_PAGES);
	size_t i;

	*pfn = 0;
	if (!area)
		return NULL;
	for (i = 0; i < NR_PAGES; i++)
		fill_page_seeded(area + i * psize(), seed);
	if (madvise(area, NR_PAGES * psize(), MADV_MERGEABLE))
		return NULL;
	*pfn = wait_common_pfn(0, area, NR_PAGES, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, *pfn) TH_LOG("identical pages did not merge");
	EXPECT_TRUE(ksm_wait_counters(base, 1, NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));
	return *pfn ? area : NULL;
}

TEST_F_TIMEOUT(merge, mremap_move_unmerges, 300)
{
	uint64_t seed = ksm_test_seed("mremap/move");
	size_t len = NR_PAGES * psize();
	struct ksm_counters base;
	char *area, *target, *moved;
	int64_t pfn, again;

	ASSERT_EQ(0, ksm_read_counters(&base));
	area = map_merged(_metadata, &base, seed, &pfn);
	ASSERT_NE(NULL, area);
	/* A place to move to that cannot overlap the old one. */
	target = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);

	/* ksmd paused, so that it cannot merge them again under our eyes. */
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	moved = mremap(area, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	ASSERT_EQ(target, moved) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_EQ(-ENOENT, vma_has_flag(0, area, "mg"));
	EXPECT_EQ(0, pagemap_pfn(area));
	/* Unmerged by the move, still advised at the new place. */
	EXPECT_EQ(1, pfns_distinct(0, moved, NR_PAGES, pfn));
	EXPECT_TRUE(all_have_seed(moved, NR_PAGES, seed));
	EXPECT_EQ(1, vma_has_flag(0, moved, "mg"));

	/* ... so KSM merges them again there. */
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	again = wait_common_pfn(0, moved, NR_PAGES, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, again) TH_LOG("moved pages did not merge again");
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	expect_counters(_metadata, &base, 1, NR_PAGES - 1);
	EXPECT_EQ(NR_PAGES, ksm_read_merging_pages(0));
	EXPECT_EQ(NR_PAGES * psize() / 1024, smaps_field_kb(0, moved, "KSM"));
	EXPECT_TRUE(all_have_seed(moved, NR_PAGES, seed));
	munmap(moved, len);
}

TEST_F_TIMEOUT(merge, mremap_shrink_keeps_merged, 240)
{
	uint64_t seed = ksm_test_seed("mremap/shrink");
	const size_t keep = NR_PAGES / 2;
	struct ksm_counters base;
	char *area, *shrunk;
	int64_t pfn;

	ASSERT_EQ(0, ksm_read_counters(&base));
	area = map_merged(_metadata, &base, seed, &pfn);
	ASSERT_NE(NULL, area);
	shrunk = mremap(area, NR_PAGES * psize(), keep * psize(), 0);
	ASSERT_EQ(area, shrunk) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_EQ(pfn, common_pfn(0, area, keep));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, keep - 1, MERGE_TIMEOUT_MS));
	EXPECT_EQ(pfn, common_pfn(0, area, keep));
	EXPECT_TRUE(all_have_seed(area, keep, seed));
	munmap(area, keep * psize());
}

TEST_F_TIMEOUT(merge, mprotect_read_keeps_merged, 240)
{
	uint64_t seed = ksm_test_seed("mprotect/read");
	const size_t half = NR_PAGES / 2;
	struct ksm_counters base;
	char *area, *upper;
	int64_t pfn;

	ASSERT_EQ(0, ksm_read_counters(&base));
	area = map_merged(_metadata, &base, seed, &pfn);
	ASSERT_NE(NULL, area);
	upper = area + half * psize();

	ASSERT_EQ(0, mprotect(area, NR_PAGES * psize(), PROT_READ));
	EXPECT_EQ(pfn, common_pfn(0, area, NR_PAGES));
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	EXPECT_EQ(pfn, common_pfn(0, area, NR_PAGES));
	expect_counters(_metadata, &base, 1, NR_PAGES - 1);
	EXPECT_TRUE(all_have_seed(area, NR_PAGES, seed));

	/* Writable again in one half only: two VMAs, one KSM page. */
	ASSERT_EQ(0, mprotect(upper, half * psize(), PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	EXPECT_EQ(pfn, common_pfn(0, area, NR_PAGES));
	expect_counters(_metadata, &base, 1, NR_PAGES - 1);
	EXPECT_EQ(1, vma_has_flag(0, area, "mg"));
	EXPECT_EQ(1, vma_has_flag(0, upper, "mg"));
	EXPECT_EQ((long)(half * psize() / 1024), smaps_field_kb(0, area, "KSM"));
	EXPECT_EQ((long)(half * psize() / 1024), smaps_field_kb(0, upper, "KSM"));

	upper[psize() + 1] ^= 1;
	EXPECT_NE(pfn, pagemap_pfn(upper + psize()));
	EXPECT_EQ(pfn, common_pfn(0, area, half + 1));
	EXPECT_TRUE(all_have_seed(area, half + 1, seed));
	EXPECT_FALSE(page_has_seed(upper + psize(), seed));
	upper[psize() + 1] ^= 1;
	EXPECT_TRUE(page_has_seed(upper + psize(), seed));
	munmap(area, NR_PAGES * psize());
}

TEST_F_TIMEOUT(merge, proc_self_mem_write_cows, 240)
{
	uint64_t seed = ksm_test_seed("mremap/procmem");
	const uint64_t word = 0x6b736d5f6d656d21ULL;
	const size_t victim = 4, off = 128;
	unsigned long cow_before = 0, cow_after = 0;
	struct ksm_counters base;
	char *area, *want;
	bool have_cow;
	int64_t pfn;
	ssize_t n;
	size_t i;
	int fd;

	want = malloc(psize());
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, ksm_read_counters(&base));
	area = map_merged(_metadata, &base, seed, &pfn);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, mprotect(area, NR_PAGES * psize(), PROT_READ));
	fd = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, fd);

	have_cow = !vmstat_read("cow_ksm", &cow_before);
	n = pwrite(fd, &word, sizeof(word),
		   (off_t)(uintptr_t)(area + victim * psize() + off));
	if (n < 0 && (errno == EPERM || errno == EACCES || errno == EIO))
		SKIP(goto out, "no forced writes via /proc/self/mem: %s",
		     strerror(errno));
	ASSERT_EQ((ssize_t)sizeof(word), n) TH_LOG("pwrite: %s", strerror(errno));
	if (have_cow) {
		ASSERT_EQ(0, vmstat_read("cow_ksm", &cow_after));
		EXPECT_EQ(cow_before + 1, cow_after);
	} else {
		TH_LOG("no cow_ksm in /proc/vmstat: copy not counted here");
	}

	fill_page_seeded(want, seed);
	memcpy(want + off, &word, sizeof(word));
	for (i = 0; i < NR_PAGES; i++) {
		const char *page = area + i * psize();

		if (i == victim) {
			EXPECT_NE(pfn, pagemap_pfn(page));
			EXPECT_NE(0, pagemap_pfn(page));
			EXPECT_EQ(0, memcmp(want, page, psize()));
		} else {
			EXPECT_EQ(pfn, pagemap_pfn(page)) TH_LOG("page %zu", i);
			EXPECT_TRUE(page_has_seed(page, seed));
		}
	}
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_PAGES - 2,
				      MERGE_TIMEOUT_MS));
	EXPECT_EQ(NR_PAGES - 1, ksm_read_merging_pages(0));
	/* Still read-only for the process itself. */
	EXPECT_EQ(0, vma_has_flag(0, area, "wr"));
out:
	close(fd);
	munmap(area, NR_PAGES * psize());
	free(want);
}

TEST_HARNESS_MAIN
