// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_scan_idle.c - pages that appear in an mm that ksmd has seen idle.
 *
 * An mm whose pages do not change for a few full scans is an easy case
 * for ksmd; these tests make sure that whatever shortcut an engine takes
 * there, a page that then appears is still found and merged, however it
 * appears: a fault of a new page, a new page that balances the unmap of
 * another (same RSS), MADV_MERGEABLE over pages already there, pages
 * moved by mremap.  The mm is a child's that does nothing but what it is
 * told (a test's own mm changes with every call it makes), so ksmd sees
 * it idle for IDLE_SCANS full scans; then the child makes one change and
 * the test waits for the merge, judged by PFN from the child's pagemap
 * and by the counters, content checked.
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
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	60000
#define SCAN_TIMEOUT_MS		30000
#define CALL_TIMEOUT_MS		30000
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

/* Where the child's memory is; in a shared page, for the test to read. */
struct idle_maps {
	char *area;	/* advised; NR_FILLED unique pages filled */
	char *other;	/* one page, not advised */
	char *other4;	/* four pages, not advised; the third filled */
	uint64_t seed;
};

static char *fresh_page(struct idle_maps *m, int n)
{
	return page_at(m->area, NR_FILLED + n);
}

static char child_setup(struct idle_maps *m)
{
	size_t i;

	m->area = map_private_anon(NR_PAGES);
	m->other = map_private_anon(1);
	m->other4 = map_private_anon(4);
	if (!m->area || !m->other || !m->other4)
		return 'e';
	for (i = 0; i < NR_FILLED; i++)
		fill_page_seeded(page_at(m->area, i), m->seed + i);
	fill_page_seeded(m->other, m->seed + 100);
	fill_page_seeded(m->other4 + 2 * psize(), m->seed + 7);
	if (madvise(m->area, NR_PAGES * psize(), MADV_MERGEABLE))
		return 'e';
	return 'k';
}

/* Move the area elsewhere, then fault a page in it like its page 11. */
static char child_mremap(struct idle_maps *m)
{
	size_t len = NR_PAGES * psize();
	char *hole, *moved;

	hole = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED)
		return 'e';
	moved = mremap(m->area, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	if (moved == MAP_FAILED)
		return 'e';
	m->area = moved;
	fill_page_seeded(fresh_page(m, 11), m->seed + 11);
	return 'k';
}

/* Runs in the child: one change per command, nothing else. */
static char child_cmd(char cmd, void *arg)
{
	struct idle_maps *m = arg;

	switch (cmd) {
	case 's':
		return child_setup(m);
	case 'f':	/* a new page, like page 3 */
		fill_page_seeded(fresh_page(m, 8), m->seed + 3);
		return 'k';
	case 'u':	/* unmap elsewhere, a new page like page 5: same RSS */
		if (madvise(m->other, psize(), MADV_DONTNEED))
			return 'e';
		fill_page_seeded(fresh_page(m, 9), m->seed + 5);
		return 'k';
	case 'o':	/* unmap an idle page, a new page like page 6 */
		if (madvise(page_at(m->area, NR_FILLED - 1), psize(),
			    MADV_DONTNEED))
			return 'e';
		fill_page_seeded(fresh_page(m, 10), m->seed + 6);
		return 'k';
	case 'a':	/* advise pages that were there all along */
		return madvise(m->other4, 4 * psize(), MADV_MERGEABLE) ?
		       'e' : 'k';
	case 'm':
		return child_mremap(m);
	}
	return 'e';
}

FIXTURE(idle)
{
	struct ksm_knobs saved;
	struct ksm_counters base;
	struct ksm_child child;
	struct idle_maps *maps;	/* shared with the child */
};

FIXTURE_SETUP(idle)
{
	int err;

	self->child.pid = -1;
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
	ASSERT_EQ(0, ksm_read_counters(&self->base));

	self->maps = mmap(NULL, psize(), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->maps);
	self->maps->seed = ksm_test_seed("idle");
	ASSERT_EQ(0, ksm_child_start(&self->child, child_cmd, self->maps));
	ASSERT_EQ('k', ksm_child_call(&self->child, 's', CALL_TIMEOUT_MS));
}

FIXTURE_TEARDOWN(idle)
{
	ksm_child_stop(&self->child, CALL_TIMEOUT_MS);
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/*
 * Let ksmd see the child's mm idle: IDLE_SCANS full scans in which
 * nothing merges; then have the child make change @cmd.  With the
 * module, some of the idle visits took the shortcut.
 */
static void idle_then(struct __test_metadata *_metadata,
		      FIXTURE_DATA(idle) *self, char cmd)
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
	ASSERT_EQ('k', ksm_child_call(&self->child, cmd, CALL_TIMEOUT_MS));
}

/* The child's pages @a and @b end up one page frame, holding @seed. */
static void expect_merged(struct __test_metadata *_metadata,
			  FIXTURE_DATA(idle) *self, char *a, char *b,
			  uint64_t seed)
{
	uint64_t until = now_ms() + MERGE_TIMEOUT_MS;
	pid_t pid = self->child.pid;
	int64_t pa = -1, pb = -2;

	while (now_ms() < until) {
		pa = pagemap_pfn_pid(pid, a);
		pb = pagemap_pfn_pid(pid, b);
		if (pa > 0 && pa == pb)
			break;
		usleep(20000);
	}
	EXPECT_LT(0, pa);
	EXPECT_EQ(pa, pb) TH_LOG("the new page was not merged");
	EXPECT_TRUE(remote_page_has_seed(pid, a, seed));
	EXPECT_TRUE(remote_page_has_seed(pid, b, seed));
	EXPECT_TRUE(ksm_wait_counters(&self->base, 1, 1, MERGE_TIMEOUT_MS));
}

/* A page faulted in after the idle scans. */
TEST_F(idle, new_page_found)
{
	struct idle_maps *m = self->maps;

	idle_then(_metadata, self, 'f');
	expect_merged(_metadata, self, page_at(m->area, 3), fresh_page(m, 8),
		      m->seed + 3);
}

/*
 * A page unmapped outside the advised area and a page faulted inside it:
 * the process's anonymous RSS is what it was.
 */
TEST_F(idle, new_page_behind_unmap)
{
	struct idle_maps *m = self->maps;

	idle_then(_metadata, self, 'u');
	expect_merged(_metadata, self, page_at(m->area, 5), fresh_page(m, 9),
		      m->seed + 5);
}

/* One of the idle pages unmapped, and a new page in the same area. */
TEST_F(idle, new_page_behind_own_unmap)
{
	struct idle_maps *m = self->maps;

	idle_then(_metadata, self, 'o');
	expect_merged(_metadata, self, page_at(m->area, 6), fresh_page(m, 10),
		      m->seed + 6);
}

/* MADV_MERGEABLE over pages that were there all along. */
TEST_F(idle, advice_over_present_pages)
{
	struct idle_maps *m = self->maps;

	idle_then(_metadata, self, 'a');
	expect_merged(_metadata, self, page_at(m->area, 7),
		      m->other4 + 2 * psize(), m->seed + 7);
}

/*
 * The idle pages moved elsewhere by mremap, and a new page like one of
 * them: both must be found at their new addresses.
 */
TEST_F(idle, pages_moved_by_mremap)
{
	struct idle_maps *m = self->maps;

	idle_then(_metadata, self, 'm');
	expect_merged(_metadata, self, page_at(m->area, 11),
		      fresh_page(m, 11), m->seed + 11);
}

TEST_HARNESS_MAIN
