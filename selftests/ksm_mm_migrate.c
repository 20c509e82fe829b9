// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mm_migrate.c - merged pages keep their content and sharing when
 * page migration moves them.
 *
 * Owns KSM meeting page migration, as upstream 6.12 behaves: a KSM page
 * moved to the other NUMA node by move_pages(2) (MPOL_MF_MOVE_ALL: plain
 * MPOL_MF_MOVE refuses a page mapped more than once with -EACCES), by
 * migrate_pages(2) of a whole process or by compaction stays one KSM page
 * mapped by every sharer, on its new frame, with the old content and the
 * same counters.  With merge_across_nodes 0, identical pages on two nodes
 * make one KSM page per node and never merge across; when one node's KSM
 * page is then migrated next to the other's, nothing is lost: every
 * mapping keeps its content, and what ksmd makes of the pair is consistent
 * (two KSM pages with the same content on one node are reported as a chain
 * of two dups, as upstream files them, or they become one KSM page).
 *
 * Needs two NUMA nodes.  Verdicts come from /proc/<pid>/pagemap,
 * /proc/kpagecount, the node query of move_pages(2) and the KSM counters;
 * content is checked after every step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/mempolicy.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	120000
#define SCAN_TIMEOUT_MS		60000
#define CALL_TIMEOUT_MS		60000

#define NR_SAME		16
#define NR_UNIQ		4
#define NR_PAGES	(NR_SAME + NR_UNIQ)

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* A second process sharing the merged page; the parent maps @area. */
struct sharer {
	char *area;
	uint64_t seed;
	uint64_t useed;
	struct ksm_child child;
};

static bool sharer_ok(const struct sharer *s)
{
	size_t i;

	for (i = 0; i < NR_PAGES; i++)
		if (!page_has_seed(s->area + i * psize(),
				   i < NR_SAME ? s->seed : s->useed + i))
			return false;
	return true;
}

/* 'f': fill and advise, 'r': check every page. */
static char sharer_cmd(char cmd, void *arg)
{
	struct sharer *s = arg;
	size_t i;

	switch (cmd) {
	case 'f':
		for (i = 0; i < NR_PAGES; i++)
			fill_page_seeded(s->area + i * psize(),
					 i < NR_SAME ? s->seed : s->useed + i);
		return madvise(s->area, NR_PAGES * psize(), MADV_MERGEABLE) ?
		       'e' : 'k';
	case 'r':
		return sharer_ok(s) ? 'k' : 'x';
	}
	return '?';
}

FIXTURE(migrate)
{
	struct ksm_knobs saved;
	struct sharer sh;
	char *area;		/* NR_SAME pages of this process */
	uint64_t seed;
};

FIXTURE_SETUP(migrate)
{
	int err;

	self->sh.child.pid = -1;
	self->area = NULL;
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	if (!numa_node_present(0) || !numa_node_present(1))
		SKIP(return, "needs NUMA nodes 0 and 1");
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(migrate)
{
	ksm_child_stop(&self->sh.child, 10000);
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

static bool area_has_seed(const char *area, size_t pages, uint64_t seed)
{
	size_t i;

	for (i = 0; i < pages; i++)
		if (!page_has_seed(area + i * psize(), seed))
			return false;
	return true;
}

/* Every page of @pages from @addr in @pid is on node @nid. */
static bool all_on_node(pid_t pid, char *addr, size_t pages, int nid)
{
	size_t i;

	for (i = 0; i < pages; i++)
		if (page_node(pid, addr + i * psize()) != nid)
			return false;
	return true;
}

/*
 * move_page_to() until the page is on @nid: a migration fails for the
 * moment while someone (ksmd) holds the page.  Returns the last status.
 */
static int move_page_retry(pid_t pid, void *addr, int nid, int flags)
{
	int tries, status = -EAGAIN;

	for (tries = 0; tries < 10; tries++) {
		if (tries)
			usleep(200000);
		status = move_page_to(pid, addr, nid, flags);
		if (status == nid || status == -EACCES || status == -EINVAL)
			break;
	}
	return status;
}

/*
 * NR_SAME pages here and NR_SAME in a child (plus NR_UNIQ of its own)
 * merged into one KSM page; returns its frame.
 */
static int64_t merge_with_sharer(struct __test_metadata *_metadata,
				 FIXTURE_DATA(migrate) *self, const char *tag,
				 const struct ksm_counters *base)
{
	int64_t pfn, cpfn;
	size_t i;

	self->seed = ksm_test_seed(tag);
	self->area = map_private_anon(NR_SAME);
	if (!self->area)
		return 0;
	self->sh.area = map_private_anon(NR_PAGES);
	if (!self->sh.area)
		return 0;
	self->sh.seed = self->seed;
	self->sh.useed = self->seed + 7777;
	if (ksm_child_start(&self->sh.child, sharer_cmd, &self->sh))
		return 0;
	for (i = 0; i < NR_SAME; i++)
		fill_page_seeded(self->area + i * psize(), self->seed);
	if (madvise(self->area, NR_SAME * psize(), MADV_MERGEABLE))
		return 0;
	if (ksm_child_call(&self->sh.child, 'f', CALL_TIMEOUT_MS) != 'k')
		return 0;
	pfn = wait_common_pfn(0, self->area, NR_SAME, MERGE_TIMEOUT_MS);
	cpfn = wait_common_pfn(self->sh.child.pid, self->sh.area, NR_SAME,
			       MERGE_TIMEOUT_MS);
	EXPECT_NE(0, pfn);
	EXPECT_EQ(pfn, cpfn) TH_LOG("the processes map different frames");
	EXPECT_TRUE(ksm_wait_counters(base, 1, 2 * NR_SAME - 1,
				      MERGE_TIMEOUT_MS));
	return pfn == cpfn ? pfn : 0;
}

/*
 * After a migration of the merged page: one KSM frame (returned) for
 * both processes, content intact, the counters exactly as before.
 */
static int64_t check_still_merged(struct __test_metadata *_metadata,
				  FIXTURE_DATA(migrate) *self,
				  const struct ksm_counters *base)
{
	struct ksm_counters c;
	int64_t pfn, cpfn;

	pfn = common_pfn(0, self->area, NR_SAME);
	cpfn = common_pfn(self->sh.child.pid, self->sh.area, NR_SAME);
	EXPECT_LT(0, pfn) TH_LOG("this process's pages map several frames");
	EXPECT_EQ(pfn, cpfn) TH_LOG("the processes map different frames");
	EXPECT_EQ(2 * NR_SAME, kpagecount_read(pfn));
	EXPECT_TRUE(area_has_seed(self->area, NR_SAME, self->seed));
	EXPECT_EQ('k', ksm_child_call(&self->sh.child, 'r', CALL_TIMEOUT_MS));
	/*
	 * A scan that met the pages while they were under migration (not
	 * present) drops their mappings from the counts for a while; the
	 * next one counts them again.
	 */
	EXPECT_TRUE(ksm_wait_counters(base, 1, 2 * NR_SAME - 1,
				      MERGE_TIMEOUT_MS));
	/* And ksmd, having looked again, agrees. */
	EXPECT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	EXPECT_EQ(pfn, common_pfn(0, self->area, NR_SAME));
	EXPECT_EQ(pfn, common_pfn(self->sh.child.pid, self->sh.area,
				  NR_SAME));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base->pages_shared + 1, c.pages_shared);
	EXPECT_EQ(base->pages_sharing + 2 * NR_SAME - 1, c.pages_sharing);
	EXPECT_EQ(NR_SAME, ksm_read_merging_pages(0));
	EXPECT_EQ(NR_SAME, ksm_read_merging_pages(self->sh.child.pid));
	return pfn == cpfn ? pfn : 0;
}

TEST_F_TIMEOUT(migrate, move_pages_merged_page, 600)
{
	struct ksm_counters base, c;
	int64_t pfn, moved, pfns[NR_SAME];
	int from, to;
	size_t i;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_with_sharer(_metadata, self, "mm_migrate/move", &base);
	ASSERT_NE(0, pfn);
	from = page_node(0, self->area);
	ASSERT_LE(0, from);
	ASSERT_EQ(from, page_node(self->sh.child.pid, self->sh.area));
	to = !from;

	/* Mapped more than once: plain MPOL_MF_MOVE leaves it alone. */
	EXPECT_EQ(-EACCES, move_page_to(0, self->area, to, MPOL_MF_MOVE));
	EXPECT_EQ(pfn, common_pfn(0, self->area, NR_SAME));

	/* With ksmd quiet, migration alone must not change the counters. */
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_EQ(to, move_page_retry(0, self->area + 3 * psize(), to,
				      MPOL_MF_MOVE_ALL));
	/* Every mapping, in both processes, follows at once. */
	EXPECT_TRUE(all_on_node(0, self->area, NR_SAME, to));
	EXPECT_TRUE(all_on_node(self->sh.child.pid, self->sh.area, NR_SAME,
				to));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base.pages_shared + 1, c.pages_shared);
	EXPECT_EQ(base.pages_sharing + 2 * NR_SAME - 1, c.pages_sharing);
	EXPECT_EQ(NR_SAME, ksm_read_merging_pages(0));
	EXPECT_EQ(NR_SAME, ksm_read_merging_pages(self->sh.child.pid));
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	moved = check_still_merged(_metadata, self, &base);
	EXPECT_NE(pfn, moved) TH_LOG("the KSM page did not change frame");

	/* Still a KSM page: a write copies, the others stay. */
	self->area[5 * psize()] ^= 1;
	ASSERT_EQ(0, pagemap_pfns(0, self->area, NR_SAME, pfns));
	for (i = 0; i < NR_SAME; i++) {
		if (i == 5) {
			EXPECT_NE(moved, pfns[i]);
		} else {
			EXPECT_EQ(moved, pfns[i]);
		}
	}
	self->area[5 * psize()] ^= 1;
	EXPECT_TRUE(area_has_seed(self->area, NR_SAME, self->seed));
	EXPECT_EQ('k', ksm_child_call(&self->sh.child, 'r', CALL_TIMEOUT_MS));
}

TEST_F_TIMEOUT(migrate, migrate_pages_whole_process, 600)
{
	unsigned long old_nodes, new_nodes;
	struct ksm_counters base;
	int64_t pfn, moved;
	int from, to, tries;
	long ret;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_with_sharer(_metadata, self, "mm_migrate/process", &base);
	ASSERT_NE(0, pfn);
	from = page_node(self->sh.child.pid, self->sh.area);
	ASSERT_LE(0, from);
	to = !from;
	old_nodes = 1UL << from;
	new_nodes = 1UL << to;

	/*
	 * As root, migrate_pages() moves pages mapped by others too.  It
	 * counts each further mapping of a page it has queued already as a
	 * page it could not move, and a page in use (ksmd looking at it just
	 * then) may need another try a little later.
	 */
	for (tries = 1; tries <= 10; tries++) {
		if (tries > 1)
			usleep(200000);
		ret = syscall(SYS_migrate_pages, self->sh.child.pid,
			      8 * sizeof(unsigned long), &old_nodes,
			      &new_nodes);
		ASSERT_LE(0, ret) TH_LOG("migrate_pages: %s", strerror(errno));
		TH_LOG("try %d: %ld not moved, KSM page on node %d", tries,
		       ret, page_node(0, self->area));
		if (all_on_node(self->sh.child.pid, self->sh.area, NR_PAGES,
				to))
			break;
	}
	EXPECT_TRUE(all_on_node(self->sh.child.pid, self->sh.area, NR_PAGES,
				to));
	EXPECT_TRUE(all_on_node(0, self->area, NR_SAME, to));
	moved = check_still_merged(_metadata, self, &base);
	EXPECT_NE(pfn, moved);
}

TEST_F_TIMEOUT(migrate, compact_memory, 600)
{
	struct ksm_counters base;
	int64_t pfn, after;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_with_sharer(_metadata, self, "mm_migrate/compact", &base);
	ASSERT_NE(0, pfn);
	ASSERT_EQ(0, file_write_str("/proc/sys/vm/compact_memory", "1"));
	after = check_still_merged(_metadata, self, &base);
	TH_LOG("compaction %s the KSM page",
	       after == pfn ? "left" : "moved");
}

/* @pages pages of @seed bound to node @nid, advised. */
static char *map_on_node(struct __test_metadata *_metadata, size_t pages,
			 int nid, uint64_t seed)
{
	char *area = map_private_anon(pages);
	size_t i;

	if (!area)
		return NULL;
	EXPECT_EQ(0, mbind_node(area, pages * psize(), nid));
	for (i = 0; i < pages; i++)
		fill_page_seeded(area + i * psize(), seed);
	EXPECT_TRUE(all_on_node(0, area, pages, nid));
	EXPECT_EQ(0, madvise(area, pages * psize(), MADV_MERGEABLE));
	return area;
}

/*
 * After one of two identical KSM pages moved next to the other: either
 * both mappings' sets share one KSM page now, or the two KSM pages are
 * dups of one chain.  Waits up to MERGE_TIMEOUT_MS, two full scans at a
 * time, for the counters to show one of the two; *@q0, *@q1 and *@c are
 * what was seen last.
 */
static void nodes_settle(struct __test_metadata *_metadata,
			 const struct ksm_counters *base, char *a0, char *a1,
			 int64_t *q0, int64_t *q1, struct ksm_counters *c)
{
	uint64_t deadline = now_ms() + MERGE_TIMEOUT_MS;
	int scans = 0;
	bool one, two;

	do {
		ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
		scans += 2;
		*q0 = common_pfn(0, a0, NR_SAME);
		*q1 = common_pfn(0, a1, NR_SAME);
		ASSERT_EQ(0, ksm_read_counters(c));
		one = *q0 == *q1 && c->pages_shared == base->pages_shared + 1 &&
		      c->pages_sharing == base->pages_sharing + 2 * NR_SAME - 1;
		two = *q0 != *q1 && c->pages_shared == base->pages_shared + 2 &&
		      c->pages_sharing == base->pages_sharing + 2 * NR_SAME - 2 &&
		      c->stable_node_chains == base->stable_node_chains + 1 &&
		      c->stable_node_dups == base->stable_node_dups + 2;
	} while (!one && !two && now_ms() < deadline);
	TH_LOG("after %d full scans: %s", scans,
	       one ? "one KSM page" : two ? "two dups" : "not settled");
}

TEST_F_TIMEOUT(migrate, merge_across_nodes_0, 900)
{
	uint64_t seed = ksm_test_seed("mm_migrate/nodes");
	struct ksm_counters base, c;
	int64_t p0, p1, p2, q0, q1;
	char *a0, *a1, *a2;

	ASSERT_EQ(0, ksm_write_str("merge_across_nodes", "0"));
	ASSERT_EQ(0, ksm_read_counters(&base));

	/* Identical pages on two nodes: one KSM page per node. */
	a0 = map_on_node(_metadata, NR_SAME, 0, seed);
	a1 = map_on_node(_metadata, NR_SAME, 1, seed);
	ASSERT_NE(NULL, a0);
	ASSERT_NE(NULL, a1);
	p0 = wait_common_pfn(0, a0, NR_SAME, MERGE_TIMEOUT_MS);
	p1 = wait_common_pfn(0, a1, NR_SAME, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, p0);
	ASSERT_NE(0, p1);
	ASSERT_TRUE(ksm_wait_counters(&base, 2, 2 * NR_SAME - 2,
				      MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	EXPECT_NE(p0, p1) TH_LOG("pages merged across nodes");
	EXPECT_EQ(p0, common_pfn(0, a0, NR_SAME));
	EXPECT_EQ(p1, common_pfn(0, a1, NR_SAME));
	EXPECT_EQ(0, page_node(0, a0));
	EXPECT_EQ(1, page_node(0, a1));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base.pages_shared + 2, c.pages_shared);
	EXPECT_EQ(base.pages_sharing + 2 * NR_SAME - 2, c.pages_sharing);

	/* Node 1's KSM page moves next to node 0's. */
	ASSERT_EQ(0, move_page_retry(0, a1, 0, MPOL_MF_MOVE_ALL));
	q1 = common_pfn(0, a1, NR_SAME);
	EXPECT_LT(0, q1);
	EXPECT_NE(p1, q1);
	EXPECT_TRUE(all_on_node(0, a1, NR_SAME, 0));
	EXPECT_EQ(NR_SAME, kpagecount_read(q1));
	/*
	 * ksmd re-files the moved page (or merges its mappings into the
	 * other) as it meets its mappings: wait, scan by scan, for one of
	 * the two settled states.
	 */
	nodes_settle(_metadata, &base, a0, a1, &q0, &q1, &c);
	EXPECT_LT(0, q0);
	EXPECT_LT(0, q1);
	EXPECT_TRUE(all_on_node(0, a0, NR_SAME, 0));
	EXPECT_TRUE(all_on_node(0, a1, NR_SAME, 0));
	EXPECT_TRUE(area_has_seed(a0, NR_SAME, seed));
	EXPECT_TRUE(area_has_seed(a1, NR_SAME, seed));
	if (q0 == q1) {
		TH_LOG("the two KSM pages became one");
		EXPECT_EQ(base.pages_shared + 1, c.pages_shared);
		EXPECT_EQ(base.pages_sharing + 2 * NR_SAME - 1,
			  c.pages_sharing);
	} else {
		TH_LOG("two KSM pages of one content on node 0");
		EXPECT_EQ(base.pages_shared + 2, c.pages_shared);
		EXPECT_EQ(base.pages_sharing + 2 * NR_SAME - 2,
			  c.pages_sharing);
		EXPECT_EQ(base.stable_node_chains + 1, c.stable_node_chains);
		EXPECT_EQ(base.stable_node_dups + 2, c.stable_node_dups);
	}

	/* Node 1 has no KSM page of this content left: new ones merge there. */
	a2 = map_on_node(_metadata, NR_SAME, 1, seed);
	ASSERT_NE(NULL, a2);
	p2 = wait_common_pfn(0, a2, NR_SAME, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, p2);
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	EXPECT_EQ(p2, common_pfn(0, a2, NR_SAME));
	EXPECT_NE(q0, p2);
	EXPECT_NE(q1, p2);
	EXPECT_EQ(1, page_node(0, a2));
	EXPECT_EQ(q0, common_pfn(0, a0, NR_SAME));
	EXPECT_EQ(q1, common_pfn(0, a1, NR_SAME));
	EXPECT_TRUE(area_has_seed(a2, NR_SAME, seed));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base.pages_shared + (q0 == q1 ? 2 : 3), c.pages_shared);
	EXPECT_EQ(base.pages_sharing + 3 * NR_SAME - (q0 == q1 ? 2 : 3),
		  c.pages_sharing);

	/* Nothing lost on the way out either. */
	ASSERT_EQ(0, madvise(a0, NR_SAME * psize(), MADV_UNMERGEABLE));
	ASSERT_EQ(0, madvise(a1, NR_SAME * psize(), MADV_UNMERGEABLE));
	ASSERT_EQ(0, madvise(a2, NR_SAME * psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(1, pfns_distinct(0, a0, NR_SAME, 0));
	EXPECT_EQ(1, pfns_distinct(0, a1, NR_SAME, 0));
	EXPECT_EQ(1, pfns_distinct(0, a2, NR_SAME, 0));
	EXPECT_TRUE(area_has_seed(a0, NR_SAME, seed));
	EXPECT_TRUE(area_has_seed(a1, NR_SAME, seed));
	EXPECT_TRUE(area_has_seed(a2, NR_SAME, seed));
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
}

TEST_HARNESS_MAIN
