// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_scan_idle.c - pages that appear in an mm that ksmd has seen idle.
 *
 * An mm whose pages do not change for a few full scans is an easy case
 * for ksmd; these tests make sure that whatever shortcut an engine takes
 * there, a page that then appears is still found and merged, however it
 * appears: a fault of a new page, a new page that balances the unmap of
 * another (same RSS), MADV_MERGEABLE over pages already there, pages
 * moved by mremap, new pages that balance lazy-free pages dropped by
 * reclaim without a TLB flush (their PTEs were PROT_NONE).  The mm
 * is a child's that does nothing but what it is told (a test's own mm
 * changes with every call it makes), so ksmd sees it idle for IDLE_SCANS
 * full scans; then, while ksmd sleeps between two full scans, the child
 * makes one change, and the test waits for the merge, judged by PFN from
 * the child's pagemap and by the counters, content checked.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	60000
#define SCAN_TIMEOUT_MS		30000
#define CALL_TIMEOUT_MS		30000
#define IDLE_SCANS		4
#define NR_PAGES		64
#define NR_FILLED		32
#define NR_LAZY			32	/* as many as the fresh pages */
/* ksmd's sleep while the child makes its change. */
#define QUIET_SLEEP_MS		"3000"
#define CGROUP_ROOT		"/sys/fs/cgroup"

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

static char *page_at(char *area, size_t i)
{
	return area + i * psize();
}

/* Where the child's memory is; in a shared page, for the test to read. */
struct idle_maps {
	char *area;	/* advised; NR_FILLED unique pages filled */
	char *other;	/* one page, not advised */
	char *other4;	/* four pages, not advised; the third filled */
	char *lazy;	/* NR_LAZY pages, not advised, PROT_NONE, lazy-free */
	int lazy_left;	/* of them still mapped after the drop */
	int drop_tries;
	/* The memory cgroup the lazy-free pages are charged to, or "". */
	char memcg[128];
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

/* Lazy-free pages still mapped (present or swapped), or -1. */
static int lazy_mapped(struct idle_maps *m)
{
	uint64_t ents[NR_LAZY];
	int i, n = 0;

	if (pagemap_entries(0, m->lazy, NR_LAZY, ents))
		return -1;
	for (i = 0; i < NR_LAZY; i++)
		n += !!(ents[i] & (PM_PRESENT | PM_SWAP));
	return n;
}

/* The cgroup of the calling process, as a directory; 0 or -errno. */
static int own_cgroup(char *dir, size_t size)
{
	char buf[512], *p;
	int err;

	err = file_read_str("/proc/self/cgroup", buf, sizeof(buf));
	if (err)
		return err;
	/* The cgroup2 line is "0::/path". */
	p = strstr(buf, "\n0::");
	if (!strncmp(buf, "0::", 3))
		p = buf + 3;
	else if (p)
		p += 4;
	else
		return -ENOENT;
	p[strcspn(p, "\n")] = '\0';
	if (snprintf(dir, size, "%s%s", CGROUP_ROOT, p) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/* Move the calling process into cgroup @dir; 0 or -errno. */
static int join_cgroup(const char *dir)
{
	char path[320];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	return file_write_str(path, "0");
}

/*
 * Populate NR_LAZY pages outside the advised area (charged to m->memcg if
 * there is one: the child joins it for the faults only), make them
 * PROT_NONE and lazy-free (MADV_FREE: clean, old PTEs).  MADV_FREE leaves
 * the last pages in its CPU's LRU batch, where reclaim cannot see them;
 * MADV_COLD drains that batch, and finds nothing to do with old PTEs.
 * The child stays on its CPU from now on, so that it is the right one.
 */
static char child_lazy_setup(struct idle_maps *m)
{
	size_t len = NR_LAZY * psize(), i;
	int cpu = sched_getcpu();
	char home[256];
	cpu_set_t set;

	if (cpu < 0)
		return 'e';
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return 'e';
	m->lazy = map_private_anon(NR_LAZY);
	if (!m->lazy)
		return 'e';
	if (m->memcg[0] &&
	    (own_cgroup(home, sizeof(home)) || join_cgroup(m->memcg)))
		return 'e';
	for (i = 0; i < NR_LAZY; i++)
		fill_page_seeded(page_at(m->lazy, i), m->seed + 200 + i);
	if (m->memcg[0] && join_cgroup(home))
		return 'e';
	if (mprotect(m->lazy, len, PROT_NONE) ||
	    madvise(m->lazy, len, MADV_FREE) ||
	    madvise(m->lazy, len, MADV_COLD))
		return 'e';
	/* What 'p' runs, once, so that it then faults nothing else. */
	return lazy_mapped(m) == NR_LAZY ? 'k' : 'e';
}

/*
 * Reclaim the lazy-free pages: they are clean, so they are dropped, not
 * swapped.  From their memory cgroup, with memory.reclaim, their PTEs are
 * cleared with no TLB flush: try_to_unmap_one() flushes only a PTE that
 * is accessible, and a PROT_NONE one is not, unless a TLB flush of the mm
 * is pending.  MADV_PAGEOUT, the fallback, reclaims within its own
 * mmu_gather of the mm, which is such a pending flush: it flushes.
 */
static int drop_lazy(struct idle_maps *m)
{
	char path[192], req[64];
	int err;

	if (!m->memcg[0])
		return madvise(m->lazy, NR_LAZY * psize(), MADV_PAGEOUT) ?
		       -errno : 0;
	snprintf(path, sizeof(path), "%s/memory.reclaim", m->memcg);
	snprintf(req, sizeof(req), "%ld swappiness=0", NR_LAZY * psize());
	err = file_write_str(path, req);
	/* A memory.reclaim that takes no swappiness= rejects it. */
	if (err == -EINVAL) {
		snprintf(req, sizeof(req), "%ld", NR_LAZY * psize());
		err = file_write_str(path, req);
	}
	/* -EAGAIN: less than asked for was reclaimed; pagemap tells. */
	return err == -EAGAIN ? 0 : err;
}

/*
 * Drop the lazy-free pages, then fault as many new pages into the advised
 * area, each like one of the idle pages.
 */
static char child_drop_and_fault(struct idle_maps *m)
{
	size_t i;

	for (m->drop_tries = 1; ; m->drop_tries++) {
		if (drop_lazy(m))
			return 'e';
		m->lazy_left = lazy_mapped(m);
		if (m->lazy_left <= 0 || m->drop_tries == 5)
			break;
	}
	for (i = 0; i < NR_LAZY; i++)
		fill_page_seeded(fresh_page(m, i), m->seed + i);
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
	case 'l':	/* not a change: set up for 'p' */
		return child_lazy_setup(m);
	case 'p':
		return child_drop_and_fault(m);
	}
	return 'e';
}

FIXTURE(idle)
{
	struct ksm_knobs saved;
	struct ksm_counters base;
	struct ksm_child child;
	struct idle_maps *maps;	/* shared with the child */
	char memcg[128];	/* the memory cgroup we made, to remove */
	bool memory_enabled;	/* we enabled the root's memory controller */
};

FIXTURE_SETUP(idle)
{
	int err;

	self->child.pid = -1;
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	/*
	 * Smart scan off: it lets a page that failed to merge sit out up to
	 * 8 of every 9 scans (should_skip_rmap_item() upstream, the same
	 * here), and an old idle page and a new one can settle in phases
	 * that never share a scan, so that they never merge, on either
	 * engine.  What these tests ask is whether ksmd visits new pages of
	 * an idle mm at all.
	 */
	err = err ?: ksm_write_str("smart_scan", "0");
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
	if (self->memcg[0])
		rmdir(self->memcg);
	if (self->memory_enabled)
		file_write_str(CGROUP_ROOT "/cgroup.subtree_control", "-memory");
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/*
 * A memory cgroup of our own under the cgroup2 root, for maps->memcg; the
 * root's memory controller is enabled for it if it was not.  0 or -errno.
 */
static int make_lazy_memcg(FIXTURE_DATA(idle) *self)
{
	static const char ctl[] = CGROUP_ROOT "/cgroup.subtree_control";
	char buf[256];
	int err;

	err = file_read_str(CGROUP_ROOT "/cgroup.controllers", buf,
			    sizeof(buf));
	if (err)
		return err;
	if (!strstr(buf, "memory"))
		return -EOPNOTSUPP;
	err = file_read_str(ctl, buf, sizeof(buf));
	if (err)
		return err;
	if (!strstr(buf, "memory")) {
		err = file_write_str(ctl, "+memory");
		if (err)
			return err;
		self->memory_enabled = true;
	}
	snprintf(self->memcg, sizeof(self->memcg), "%s/ksm_scan_idle.%d",
		 CGROUP_ROOT, getpid());
	if (mkdir(self->memcg, 0755)) {
		err = -errno;
		self->memcg[0] = '\0';
		return err;
	}
	snprintf(buf, sizeof(buf), "%s/memory.reclaim", self->memcg);
	if (access(buf, W_OK))
		return -errno;
	snprintf(self->maps->memcg, sizeof(self->maps->memcg), "%s",
		 self->memcg);
	return 0;
}

/*
 * Let ksmd see the child's mm idle: IDLE_SCANS full scans in which
 * nothing merges; then have the child make change @cmd while ksmd sleeps
 * between two full scans, so that no visit sees it half made.
 */
static void idle_then(struct __test_metadata *_metadata,
		      FIXTURE_DATA(idle) *self, char cmd)
{
	unsigned long before, after;
	struct ksm_counters c;
	char sleep_ms[32];

	ASSERT_EQ(0, ksm_wait_full_scans(IDLE_SCANS, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_counters(&c));
	ASSERT_EQ(self->base.pages_shared, c.pages_shared);
	ASSERT_EQ(self->base.pages_sharing, c.pages_sharing);

	/* Right after a full scan with the long sleep, ksmd sleeps long. */
	ASSERT_EQ(0, ksm_read_str("sleep_millisecs", sleep_ms,
				  sizeof(sleep_ms)));
	ASSERT_EQ(0, ksm_write_str("sleep_millisecs", QUIET_SLEEP_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(1, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &before));
	ASSERT_EQ('k', ksm_child_call(&self->child, cmd, CALL_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &after));
	ASSERT_EQ(0, ksm_write_str("sleep_millisecs", sleep_ms));
	if (after != before)
		TH_LOG("note: a full scan ended while the child made its change");
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
TEST_F_TIMEOUT(idle, new_page_found, 180)
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
TEST_F_TIMEOUT(idle, new_page_behind_unmap, 180)
{
	struct idle_maps *m = self->maps;

	idle_then(_metadata, self, 'u');
	expect_merged(_metadata, self, page_at(m->area, 5), fresh_page(m, 9),
		      m->seed + 5);
}

/* One of the idle pages unmapped, and a new page in the same area. */
TEST_F_TIMEOUT(idle, new_page_behind_own_unmap, 180)
{
	struct idle_maps *m = self->maps;

	idle_then(_metadata, self, 'o');
	expect_merged(_metadata, self, page_at(m->area, 6), fresh_page(m, 10),
		      m->seed + 6);
}

/* MADV_MERGEABLE over pages that were there all along. */
TEST_F_TIMEOUT(idle, advice_over_present_pages, 180)
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
TEST_F_TIMEOUT(idle, pages_moved_by_mremap, 180)
{
	struct idle_maps *m = self->maps;

	idle_then(_metadata, self, 'm');
	expect_merged(_metadata, self, page_at(m->area, 11),
		      fresh_page(m, 11), m->seed + 11);
}

/* Are the pages i and fresh i of the child one frame each, for all i < @n? */
static bool fresh_pairs_merged(pid_t pid, struct idle_maps *m, size_t n)
{
	int64_t pfns[NR_PAGES];
	size_t i;

	if (pagemap_pfns(pid, m->area, NR_PAGES, pfns))
		return false;
	for (i = 0; i < n; i++)
		if (!pfns[i] || pfns[i] != pfns[NR_FILLED + i])
			return false;
	return true;
}

/*
 * Lazy-free pages outside the advised area dropped by reclaim, and as many
 * new pages faulted inside it: the anonymous RSS is what it was, and as
 * the dropped pages' PTEs were PROT_NONE, reclaim flushed no TLB for them
 * (see drop_lazy()), so the mm's TLB flush generation did not move either.
 */
TEST_F_TIMEOUT(idle, new_pages_behind_lazy_free_drop, 180)
{
	struct idle_maps *m = self->maps;
	pid_t pid = self->child.pid;
	const char *how = "memory.reclaim";
	size_t i, mapped = 0, unmerged = 0, bad = 0;
	uint64_t ents[NR_LAZY];
	int64_t pa, pb;
	int err;
	bool ok;

	ASSERT_EQ(NR_LAZY, NR_PAGES - NR_FILLED);
	err = make_lazy_memcg(self);
	if (err) {
		TH_LOG("no memory cgroup of our own (%s)", strerror(-err));
		TH_LOG("MADV_PAGEOUT drops the lazy-free pages, with a flush");
		how = "MADV_PAGEOUT";
	}
	ASSERT_EQ('k', ksm_child_call(&self->child, 'l', CALL_TIMEOUT_MS));
	idle_then(_metadata, self, 'p');

	/* Without the pages really gone, this proves nothing. */
	ASSERT_EQ(0, pagemap_entries(pid, m->lazy, NR_LAZY, ents));
	for (i = 0; i < NR_LAZY; i++)
		mapped += !!(ents[i] & (PM_PRESENT | PM_SWAP));
	if (m->drop_tries > 1)
		TH_LOG("%s: %d calls, %d of %d lazy-free pages left", how,
		       m->drop_tries, m->lazy_left, NR_LAZY);
	ASSERT_EQ(0U, mapped)
		TH_LOG("%s left %zu of %d lazy-free pages mapped", how,
		       mapped, NR_LAZY);

	ok = KSM_WAIT_FOR(fresh_pairs_merged(pid, m, NR_LAZY),
			  MERGE_TIMEOUT_MS);
	for (i = 0; i < NR_LAZY; i++) {
		pa = pagemap_pfn_pid(pid, page_at(m->area, i));
		pb = pagemap_pfn_pid(pid, fresh_page(m, i));
		unmerged += pa <= 0 || pa != pb;
		bad += !remote_page_has_seed(pid, page_at(m->area, i),
					     m->seed + i);
		bad += !remote_page_has_seed(pid, fresh_page(m, i),
					     m->seed + i);
	}
	EXPECT_TRUE(ok);
	EXPECT_EQ(0U, unmerged)
		TH_LOG("%zu of %d new pages were not merged", unmerged,
		       NR_LAZY);
	EXPECT_EQ(0U, bad) TH_LOG("%zu pages lost their content", bad);
	EXPECT_TRUE(ksm_wait_counters(&self->base, NR_LAZY, NR_LAZY,
				      MERGE_TIMEOUT_MS));
}

TEST_HARNESS_MAIN
