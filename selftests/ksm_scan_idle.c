// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_scan_idle.c - pages that appear in an mm that ksmd has seen idle.
 *
 * An mm whose pages do not change for a few full scans is an easy case
 * for ksmd; these tests make sure that whatever shortcut an engine takes
 * there, a page that then appears is still found and merged, however it
 * appears: a fault of a new page, a new page that balances the unmap of
 * another (same RSS), MADV_MERGEABLE over pages already there, pages
 * moved by mremap.  Each test first lets ksmd see the mm idle for
 * IDLE_SCANS full scans, then makes one change and waits for the merge,
 * judged by PFN from pagemap and by the counters, content checked.
 *
 * With ksm_mod loaded, /sys/kernel/debug/ksm_mod/mm_visits tells whether
 * the idle scans took its shortcut (visits that look up known pages
 * only); the tests then check that they did, so that the changes really
 * exercise the shortcut's way back to a full walk.
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
#define IDLE_SCANS		4
#define NR_PAGES		64
#define NR_FILLED		32
#define VISITS_FILE	"/sys/kernel/debug/ksm_mod/mm_visits"

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

static char *page_at(char *area, size_t i)
{
	return area + i * psize();
}

/* Visits that looked up known pages only, or -1 without the module. */
static long known_visits(void)
{
	char buf[128], *p;

	if (file_read_str(VISITS_FILE, buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "known ");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

FIXTURE(idle)
{
	struct ksm_knobs saved;
	struct ksm_counters base;
	uint64_t seed;
	char *area;		/* advised; NR_FILLED unique pages filled */
};

FIXTURE_SETUP(idle)
{
	size_t i;
	int err;

	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
	ASSERT_EQ(0, ksm_read_counters(&self->base));

	self->seed = ksm_test_seed("idle");
	self->area = map_private_anon(NR_PAGES);
	ASSERT_NE(NULL, self->area);
	for (i = 0; i < NR_FILLED; i++)
		fill_page_seeded(page_at(self->area, i), self->seed + i);
	ASSERT_EQ(0, madvise(self->area, NR_PAGES * psize(), MADV_MERGEABLE));
}

FIXTURE_TEARDOWN(idle)
{
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
	if (self->area)
		munmap(self->area, NR_PAGES * psize());
}

/*
 * Let ksmd see the mm idle: IDLE_SCANS full scans in which nothing
 * merges.  With the module, some of those visits took the shortcut.
 */
static void let_idle(struct __test_metadata *_metadata,
		     FIXTURE_DATA(idle) *self)
{
	long known = known_visits();
	struct ksm_counters c;

	ASSERT_EQ(0, ksm_wait_full_scans(IDLE_SCANS, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_counters(&c));
	ASSERT_EQ(self->base.pages_shared, c.pages_shared);
	ASSERT_EQ(self->base.pages_sharing, c.pages_sharing);
	if (known >= 0)
		EXPECT_LT(known, known_visits())
			TH_LOG("no visit looked up known pages only");
}

/* @a and @b (each a page) end up one page frame, holding @seed. */
static void expect_merged(struct __test_metadata *_metadata,
			  FIXTURE_DATA(idle) *self, char *a, char *b,
			  uint64_t seed)
{
	int64_t pa = -1, pb = -2;
	uint64_t until = now_ms() + MERGE_TIMEOUT_MS;

	while (now_ms() < until) {
		pa = pagemap_pfn(a);
		pb = pagemap_pfn(b);
		if (pa > 0 && pa == pb)
			break;
		usleep(20000);
	}
	EXPECT_LT(0, pa);
	EXPECT_EQ(pa, pb) TH_LOG("the new page was not merged");
	EXPECT_TRUE(page_has_seed(a, seed));
	EXPECT_TRUE(page_has_seed(b, seed));
	EXPECT_TRUE(ksm_wait_counters(&self->base, 1, 1, MERGE_TIMEOUT_MS));
}

/* A page faulted in after the idle scans. */
TEST_F(idle, new_page_found)
{
	char *fresh = page_at(self->area, NR_FILLED + 8);

	let_idle(_metadata, self);
	fill_page_seeded(fresh, self->seed + 3);
	expect_merged(_metadata, self, page_at(self->area, 3), fresh,
		      self->seed + 3);
}

/*
 * A page unmapped outside the advised area and a page faulted inside it:
 * the process's anonymous RSS is what it was.
 */
TEST_F(idle, new_page_behind_unmap)
{
	char *other = map_private_anon(1);
	char *fresh = page_at(self->area, NR_FILLED + 9);

	ASSERT_NE(NULL, other);
	fill_page_seeded(other, self->seed + 100);
	let_idle(_metadata, self);
	ASSERT_EQ(0, madvise(other, psize(), MADV_DONTNEED));
	fill_page_seeded(fresh, self->seed + 5);
	expect_merged(_metadata, self, page_at(self->area, 5), fresh,
		      self->seed + 5);
	munmap(other, psize());
}

/* One of the idle pages unmapped, and a new page in the same area. */
TEST_F(idle, new_page_behind_own_unmap)
{
	char *fresh = page_at(self->area, NR_FILLED + 10);

	let_idle(_metadata, self);
	ASSERT_EQ(0, madvise(page_at(self->area, NR_FILLED - 1), psize(),
			     MADV_DONTNEED));
	fill_page_seeded(fresh, self->seed + 6);
	expect_merged(_metadata, self, page_at(self->area, 6), fresh,
		      self->seed + 6);
}

/* MADV_MERGEABLE over pages that were there all along. */
TEST_F(idle, advice_over_present_pages)
{
	char *other = map_private_anon(4);

	ASSERT_NE(NULL, other);
	fill_page_seeded(other + 2 * psize(), self->seed + 7);
	let_idle(_metadata, self);
	ASSERT_EQ(0, madvise(other, 4 * psize(), MADV_MERGEABLE));
	expect_merged(_metadata, self, page_at(self->area, 7),
		      other + 2 * psize(), self->seed + 7);
	munmap(other, 4 * psize());
}

/*
 * The idle pages moved elsewhere by mremap, and a new page like one of
 * them: both must be found at their new addresses.
 */
TEST_F(idle, pages_moved_by_mremap)
{
	size_t len = NR_PAGES * psize();
	char *moved, *hole, *fresh;

	let_idle(_metadata, self);
	/* Reserve a destination away from the area, then move onto it. */
	hole = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	moved = mremap(self->area, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		       hole);
	ASSERT_NE(MAP_FAILED, moved);
	self->area = moved;
	fresh = page_at(moved, NR_FILLED + 11);
	fill_page_seeded(fresh, self->seed + 11);
	expect_merged(_metadata, self, page_at(moved, 11), fresh,
		      self->seed + 11);
}

TEST_HARNESS_MAIN
