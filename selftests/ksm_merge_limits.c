// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_limits.c - max_page_sharing and the knobs KSM pages pin.
 *
 * Owns upstream 6.12's deduplication limit: with max_page_sharing=M a KSM
 * page is mapped at most M times; further identical pages go to new KSM
 * pages ("dups") under one stable_node_chain, each new dup starting from
 * two pages that met in the unstable tree, so a lone remainder page stays
 * unmerged.  With M=4 and 10 identical pages that is 4+4+2 (3 shared, 7
 * sharing, 1 chain, 3 dups), with 9 pages 4+4 and one page left alone.
 * Also: max_page_sharing and merge_across_nodes refuse changes with -EBUSY
 * while KSM pages exist, accept rewriting the current value, and take
 * changes again once everything is unmerged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

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

#define MAX_PAGES	16

/*
 * Sizes of the groups of pages sharing a frame, largest first, in
 * @sizes; returns the number of groups or -errno.
 */
static int pfn_groups(const char *area, size_t pages, size_t *sizes)
{
	int64_t pfns[MAX_PAGES];
	bool seen[MAX_PAGES] = { false };
	size_t i, j, k;
	int n = 0, err;

	if (pages > MAX_PAGES)
		return -EINVAL;
	err = pagemap_pfns(0, area, pages, pfns);
	if (err)
		return err;
	for (i = 0; i < pages; i++) {
		if (seen[i])
			continue;
		sizes[n] = 0;
		for (j = i; j < pages; j++) {
			if (pfns[j] == pfns[i]) {
				seen[j] = true;
				sizes[n]++;
			}
		}
		/* Keep the list sorted, largest first. */
		for (k = n; k > 0 && sizes[k] > sizes[k - 1]; k--) {
			size_t t = sizes[k];

			sizes[k] = sizes[k - 1];
			sizes[k - 1] = t;
		}
		n++;
	}
	return n;
}

static char *map_same(size_t pages, uint64_t seed)
{
	char *area = map_private_anon(pages);
	size_t i;

	if (area)
		for (i = 0; i < pages; i++)
			fill_page_seeded(area + i * psize(), seed);
	return area;
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
 * Merge @pages identical pages under max_page_sharing=@limit and check the
 * counters and the sizes of the groups of pages sharing a frame.
 */
static void check_limit(struct __test_metadata *_metadata, const char *limit,
			size_t pages, const char *tag, unsigned long shared,
			unsigned long sharing, unsigned long dups,
			const size_t *want, int groups)
{
	uint64_t seed = ksm_test_seed(tag);
	struct ksm_counters base, c;
	size_t sizes[MAX_PAGES];
	char *area;
	int i, n;

	ASSERT_EQ(0, ksm_write_str("max_page_sharing", limit));
	area = map_same(pages, seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, pages * psize(), MADV_MERGEABLE));

	EXPECT_TRUE(ksm_wait_counters(&base, shared, sharing,
				      MERGE_TIMEOUT_MS));
	/* And it stays like that. */
	ASSERT_EQ(0, ksm_wait_full_scans(5, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base.pages_shared + shared, c.pages_shared);
	EXPECT_EQ(base.pages_sharing + sharing, c.pages_sharing);
	EXPECT_EQ(base.stable_node_chains + 1, c.stable_node_chains);
	EXPECT_EQ(base.stable_node_dups + dups, c.stable_node_dups);

	n = pfn_groups(area, pages, sizes);
	ASSERT_EQ(groups, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ(want[i], sizes[i]) TH_LOG("group %d of %d", i, n);
	EXPECT_EQ((long)(shared + sharing), ksm_read_merging_pages(0));
	EXPECT_EQ((long)((shared + sharing) * psize() / 1024),
		  smaps_field_kb(0, area, "KSM"));
	EXPECT_TRUE(all_have_seed(area, pages, seed));

	/* run=2 takes the chain and its dups down with the pages. */
	ASSERT_EQ(0, ksm_write_str("run", "2"));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(0UL, c.pages_shared);
	EXPECT_EQ(0UL, c.stable_node_chains);
	EXPECT_EQ(0UL, c.stable_node_dups);
	EXPECT_EQ(1, pfns_distinct(0, area, pages, 0));
	EXPECT_TRUE(all_have_seed(area, pages, seed));
	munmap(area, pages * psize());
}

TEST_F_TIMEOUT(merge, ten_pages_limit_four, 240)
{
	static const size_t want[] = { 4, 4, 2 };

	check_limit(_metadata, "4", 10, "limits/ten", 3, 7, 3, want, 3);
}

TEST_F_TIMEOUT(merge, nine_pages_lone_remainder, 240)
{
	static const size_t want[] = { 4, 4, 1 };

	check_limit(_metadata, "4", 9, "limits/nine", 2, 6, 2, want, 3);
}

/* The smallest limit: pairs, and the odd page out. */
TEST_F_TIMEOUT(merge, seven_pages_limit_two, 240)
{
	static const size_t want[] = { 2, 2, 2, 1 };

	check_limit(_metadata, "2", 7, "limits/seven", 3, 3, 3, want, 4);
}

TEST_F_TIMEOUT(merge, ebusy_while_merged, 240)
{
	uint64_t seed = ksm_test_seed("limits/ebusy");
	bool numa = kernel_has_numa();
	struct ksm_counters base;
	char val[32], *area;

	area = map_same(4, seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0UL, base.pages_shared);
	ASSERT_EQ(0, madvise(area, 4 * psize(), MADV_MERGEABLE));
	ASSERT_NE(0, wait_common_pfn(0, area, 4, MERGE_TIMEOUT_MS));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 3, MERGE_TIMEOUT_MS));

	EXPECT_EQ(-EBUSY, ksm_write_str("max_page_sharing", "128"));
	ASSERT_EQ(0, ksm_read_str("max_page_sharing", val, sizeof(val)));
	EXPECT_STREQ("256", val);
	/* The value it already has is no change. */
	EXPECT_EQ(0, ksm_write_str("max_page_sharing", "256"));
	if (numa) {
		EXPECT_EQ(-EBUSY, ksm_write_str("merge_across_nodes", "0"));
		ASSERT_EQ(0, ksm_read_str("merge_across_nodes", val,
					  sizeof(val)));
		EXPECT_STREQ("1", val);
		EXPECT_EQ(0, ksm_write_str("merge_across_nodes", "1"));
	}
	EXPECT_LT(0, common_pfn(0, area, 4));
	EXPECT_TRUE(all_have_seed(area, 4, seed));

	/* Once the KSM pages are gone the knobs move again. */
	ASSERT_EQ(0, munmap(area, 4 * psize()));
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
	EXPECT_EQ(0, ksm_write_str("max_page_sharing", "128"));
	ASSERT_EQ(0, ksm_read_str("max_page_sharing", val, sizeof(val)));
	EXPECT_STREQ("128", val);
	if (numa) {
		EXPECT_EQ(0, ksm_write_str("merge_across_nodes", "0"));
		EXPECT_EQ(0, ksm_write_str("merge_across_nodes", "1"));
	}
}

TEST_HARNESS_MAIN
