// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_ineligible.c - which memory KSM merges and which it leaves.
 *
 * Owns upstream 6.12's vma_ksm_compatible() rule as seen from user space:
 * for shared anonymous memory, hugetlb and MAP_DROPPABLE memory
 * MADV_MERGEABLE returns 0, sets no "mg" flag and nothing merges; mlocked
 * pages, PROT_NONE pages and the anonymous (COWed) pages of a private file
 * mapping are compatible and do merge, while the page cache pages of that
 * mapping do not.  Each test keeps a small merging control range with the
 * same content: once the control has merged and ksmd has scanned a few
 * more times, whatever could have merged with it would have.
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

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE	0x08
#endif

#define MERGE_TIMEOUT_MS	60000
#define SCAN_TIMEOUT_MS		30000
#define NR_PAGES		8
#define NR_HUGE			2
#define NR_HUGEPAGES_PATH	"/proc/sys/vm/nr_hugepages"

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

FIXTURE(merge)
{
	struct ksm_knobs saved;
	long nr_hugepages;	/* to restore, or -1 */
};

FIXTURE_SETUP(merge)
{
	int err;

	self->nr_hugepages = -1;
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

static long read_long_file(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int write_long_file(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld", v) < 0)
		err = -EIO;
	if (fclose(f))
		err = -errno;
	return err;
}

FIXTURE_TEARDOWN(merge)
{
	if (self->nr_hugepages >= 0)
		EXPECT_EQ(0, write_long_file(NR_HUGEPAGES_PATH,
					     self->nr_hugepages));
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

static bool all_have_seed(const char *area, size_t pages, uint64_t seed)
{
	size_t i;

	for (i = 0; i < pages; i++)
		if (!page_has_seed(area + i * psize(), seed))
			return false;
	return true;
}

/*
 * Map two advised pages of @seed, wait until they merged and ksmd has
 * scanned three more times; returns the control's frame (0: no merge).
 */
static int64_t control_merged(struct __test_metadata *_metadata,
			      uint64_t seed, char **control)
{
	int64_t pfn;

	*control = map_private_anon(2);
	if (!*control)
		return 0;
	fill_all(*control, 2, seed);
	if (madvise(*control, 2 * psize(), MADV_MERGEABLE))
		return 0;
	pfn = wait_common_pfn(0, *control, 2, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, pfn) TH_LOG("the control pages did not merge");
	EXPECT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	return pfn;
}

/* Common part: the advice is accepted, ignored, and nothing merges. */
static void check_ignored(struct __test_metadata *_metadata, char *area,
			  size_t pages, uint64_t seed)
{
	struct ksm_counters base;
	char *control;
	int64_t pfn;

	fill_all(area, pages, seed);
	ASSERT_EQ(0, ksm_read_counters(&base));
	EXPECT_EQ(0, madvise(area, pages * psize(), MADV_MERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, area, "mg"));
	pfn = control_merged(_metadata, seed, &control);
	ASSERT_NE(0, pfn);
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 1, MERGE_TIMEOUT_MS));
	EXPECT_EQ(1, pfns_distinct(0, area, pages, pfn));
	expect_counters(_metadata, &base, 1, 1);
	EXPECT_EQ(2, ksm_read_merging_pages(0));
	EXPECT_EQ(0, smaps_field_kb(0, area, "KSM"));
	EXPECT_TRUE(all_have_seed(area, pages, seed));
	EXPECT_EQ(0, madvise(area, pages * psize(), MADV_UNMERGEABLE));
	munmap(control, 2 * psize());
}

TEST_F_TIMEOUT(merge, shared_anonymous, 240)
{
	char *area = mmap(NULL, NR_PAGES * psize(), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, area);
	check_ignored(_metadata, area, NR_PAGES,
		      ksm_test_seed("ineligible/shared"));
	munmap(area, NR_PAGES * psize());
}

TEST_F_TIMEOUT(merge, droppable, 240)
{
	char *area = mmap(NULL, NR_PAGES * psize(), PROT_READ | PROT_WRITE,
			  MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);

	if (area == MAP_FAILED)
		SKIP(return, "MAP_DROPPABLE: %s", strerror(errno));
	check_ignored(_metadata, area, NR_PAGES,
		      ksm_test_seed("ineligible/droppable"));
	munmap(area, NR_PAGES * psize());
}

static long meminfo_kb(const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long v = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

TEST_F_TIMEOUT(merge, hugetlb, 240)
{
	long huge_kb = meminfo_kb("Hugepagesize"), nr, free_pages;
	uint64_t seed = ksm_test_seed("ineligible/hugetlb");
	size_t hsize, pages, per_huge, i;
	int64_t *pfns, pfn;
	struct ksm_counters base;
	char *area, *control;

	if (huge_kb <= 0)
		SKIP(return, "no hugetlb support");
	hsize = huge_kb * 1024;
	per_huge = hsize / psize();
	pages = NR_HUGE * per_huge;
	nr = read_long_file(NR_HUGEPAGES_PATH);
	free_pages = meminfo_kb("HugePages_Free");
	if (nr < 0 || free_pages < 0)
		SKIP(return, "cannot read the hugetlb pool");
	if (free_pages < NR_HUGE) {
		self->nr_hugepages = nr;
		write_long_file(NR_HUGEPAGES_PATH, nr + NR_HUGE - free_pages);
		if (meminfo_kb("HugePages_Free") < NR_HUGE)
			SKIP(return, "could not reserve %d huge pages", NR_HUGE);
	}
	area = mmap(NULL, NR_HUGE * hsize, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (area == MAP_FAILED)
		SKIP(return, "MAP_HUGETLB: %s", strerror(errno));

	/* Every base page of both huge pages holds the same bytes. */
	fill_all(area, pages, seed);
	ASSERT_EQ(0, ksm_read_counters(&base));
	EXPECT_EQ(0, madvise(area, NR_HUGE * hsize, MADV_MERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, area, "mg"));
	pfn = control_merged(_metadata, seed, &control);
	ASSERT_NE(0, pfn);
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 1, MERGE_TIMEOUT_MS));
	expect_counters(_metadata, &base, 1, 1);

	/* Still two whole huge pages: contiguous frames, none KSM's. */
	pfns = calloc(pages, sizeof(*pfns));
	ASSERT_NE(NULL, pfns);
	ASSERT_EQ(0, pagemap_pfns(0, area, pages, pfns));
	for (i = 0; i < pages; i++) {
		EXPECT_NE(pfn, pfns[i]);
		EXPECT_NE(0, pfns[i]);
		/* Within a huge page the frames follow each other. */
		EXPECT_EQ(i % per_huge ? pfns[i - 1] + 1 : pfns[i], pfns[i])
			TH_LOG("page %zu", i);
	}
	EXPECT_NE(pfns[0], pfns[per_huge]);
	EXPECT_TRUE(all_have_seed(area, pages, seed));
	free(pfns);
	munmap(area, NR_HUGE * hsize);
	munmap(control, 2 * psize());
}

TEST_F_TIMEOUT(merge, mlocked_pages_merge, 240)
{
	uint64_t seed = ksm_test_seed("ineligible/mlock");
	struct ksm_counters base;
	char *area;
	int64_t pfn;

	area = map_private_anon(NR_PAGES);
	ASSERT_NE(NULL, area);
	fill_all(area, NR_PAGES, seed);
	ASSERT_EQ(0, mlock(area, NR_PAGES * psize()))
		TH_LOG("mlock: %s", strerror(errno));
	EXPECT_EQ(1, vma_has_flag(0, area, "lo"));
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has_flag(0, area, "mg"));

	pfn = wait_common_pfn(0, area, NR_PAGES, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn) TH_LOG("mlocked pages did not merge");
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));
	EXPECT_EQ(1, vma_has_flag(0, area, "lo"));
	EXPECT_EQ(NR_PAGES * psize() / 1024, smaps_field_kb(0, area, "KSM"));
	EXPECT_TRUE(all_have_seed(area, NR_PAGES, seed));

	/* Still locked and writable: a write copies as usual. */
	area[7] ^= 1;
	EXPECT_NE(pfn, pagemap_pfn(area));
	EXPECT_EQ(pfn, common_pfn(0, area + psize(), NR_PAGES - 1));
	EXPECT_TRUE(all_have_seed(area + psize(), NR_PAGES - 1, seed));
	area[7] ^= 1;
	EXPECT_TRUE(page_has_seed(area, seed));
	munlock(area, NR_PAGES * psize());
	munmap(area, NR_PAGES * psize());
}

TEST_F_TIMEOUT(merge, prot_none_pages_merge, 240)
{
	uint64_t seed = ksm_test_seed("ineligible/protnone");
	struct ksm_counters base;
	char *area;
	int64_t pfn;

	area = map_private_anon(NR_PAGES);
	ASSERT_NE(NULL, area);
	fill_all(area, NR_PAGES, seed);
	ASSERT_EQ(0, mprotect(area, NR_PAGES * psize(), PROT_NONE));
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has_flag(0, area, "mg"));

	pfn = wait_common_pfn(0, area, NR_PAGES, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn) TH_LOG("PROT_NONE pages did not merge");
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));
	/* Unmerging works without access rights too. */
	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(1, pfns_distinct(0, area, NR_PAGES, pfn));
	ASSERT_EQ(0, mprotect(area, NR_PAGES * psize(), PROT_READ));
	EXPECT_TRUE(all_have_seed(area, NR_PAGES, seed));
	munmap(area, NR_PAGES * psize());
}

/*
 * A private file mapping: pages written (COWed) are anonymous and merge;
 * pages only read are the file's page cache and never do.
 */
TEST_F_TIMEOUT(merge, private_file_mapping, 240)
{
	uint64_t seed = ksm_test_seed("ineligible/file");
	const size_t half = NR_PAGES / 2;
	struct ksm_counters base;
	char *page, *area;
	int64_t pfn;
	size_t i;
	int fd;

	fd = memfd_create("ksm_merge_ineligible", 0);
	if (fd < 0)
		SKIP(return, "memfd_create: %s", strerror(errno));
	page = malloc(psize());
	ASSERT_NE(NULL, page);
	fill_page_seeded(page, seed);
	for (i = 0; i < NR_PAGES; i++)
		ASSERT_EQ(psize(), write(fd, page, psize()));
	area = mmap(NULL, NR_PAGES * psize(), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_POPULATE_READ));
	/* The same byte changed in each: the copies are identical. */
	for (i = 0; i < half; i++)
		area[i * psize() + 9] ^= 0x77;
	page[9] ^= 0x77;

	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NR_PAGES * psize(), MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has_flag(0, area, "mg"));
	pfn = wait_common_pfn(0, area, half, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn) TH_LOG("COWed pages of a file mapping did not merge");
	EXPECT_TRUE(ksm_wait_counters(&base, 1, half - 1, MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	expect_counters(_metadata, &base, 1, half - 1);
	EXPECT_EQ(1, pfns_distinct(0, area + half * psize(), half, pfn));
	EXPECT_EQ((long)half, ksm_read_merging_pages(0));
	for (i = 0; i < half; i++)
		EXPECT_EQ(0, memcmp(page, area + i * psize(), psize()));
	page[9] ^= 0x77;
	for (i = half; i < NR_PAGES; i++)
		EXPECT_EQ(0, memcmp(page, area + i * psize(), psize()));
	munmap(area, NR_PAGES * psize());
	close(fd);
	free(page);
}

TEST_HARNESS_MAIN
