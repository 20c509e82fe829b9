// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_scan_knobs.c - what ksmd's scanning knobs do, and what its counters
 * count.
 *
 * Owns upstream 6.12 behaviour of the scanner as userspace sees it: run=0
 * stops ksmd (pages_scanned and full_scans freeze) and run=1 resumes it;
 * shortening sleep_millisecs wakes a sleeping ksmd at once; run=2 restarts
 * full_scans from zero; every full scan visits each advised page once, as
 * pages_scanned plus pages_skipped; pages that keep changing are counted in
 * pages_volatile and unique stable pages in pages_unshared; smart_scan=1
 * skips pages that never merge and smart_scan=0 never does; and
 * general_profit and ksm_stat's ksm_process_profit are merged bytes minus
 * a fixed cost per rmap_item, with the same cost in both.
 * The only advised memory in the machine is assumed to be the test's own
 * (true in the test VM): several checks compare global counters with it.
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

FIXTURE(scan)
{
	struct ksm_knobs saved;
};

FIXTURE_SETUP(scan)
{
	int err;

	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(scan)
{
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/* @pages pages of content unique to this run, advised; NULL on failure. */
static char *map_unique_advised(size_t pages, uint64_t seed)
{
	char *area = map_private_anon(pages);
	size_t i;

	if (!area)
		return NULL;
	for (i = 0; i < pages; i++)
		fill_page_seeded(area + i * psize(), seed + i);
	if (madvise(area, pages * psize(), MADV_MERGEABLE)) {
		munmap(area, pages * psize());
		return NULL;
	}
	return area;
}

static bool all_pages_have_seeds(const char *area, size_t pages,
				 uint64_t seed)
{
	size_t i;

	for (i = 0; i < pages; i++)
		if (!page_has_seed(area + i * psize(), seed + i))
			return false;
	return true;
}

/*
 * Restart the scanner from a clean state: run=2 drops every rmap_item and
 * sets full_scans back to 0; ksmd stays stopped until run=1.
 */
static int restart_scanner(struct ksm_scan_snap *start)
{
	int err = ksm_write_str("run", "2");

	if (!err)
		err = ksm_read_scan_snap(start);
	return err;
}

/*
 * Every full scan visits each of the @nr advised pages exactly once, either
 * scanning it (pages_scanned) or skipping it (pages_skipped).  A snapshot
 * taken while pass number full_scans is running or about to start has seen
 * between full_scans and full_scans + 1 passes' worth of pages since the
 * restart at @start (full_scans == 0 there).
 */
static bool visits_match_scans(struct __test_metadata *_metadata,
			       const struct ksm_scan_snap *start,
			       const struct ksm_scan_snap *s, size_t nr)
{
	unsigned long visited = (s->pages_scanned - start->pages_scanned) +
				(s->pages_skipped - start->pages_skipped);

	if (visited >= s->full_scans * nr &&
	    visited <= (s->full_scans + 1) * nr)
		return true;
	TH_LOG("%lu full scans of %zu pages, but %lu scanned + %lu skipped",
	       s->full_scans, nr, s->pages_scanned - start->pages_scanned,
	       s->pages_skipped - start->pages_skipped);
	return false;
}

#define NR_RUN		32

TEST_F_TIMEOUT(scan, run_0_stops_ksmd, 180)
{
	uint64_t seed = ksm_test_seed("scan/run0");
	unsigned long scanned0, full0, scanned, full;
	uint64_t until;
	char *area;

	area = map_unique_advised(NR_RUN, seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));

	/*
	 * run=0 takes effect when the write returns; a short grace covers
	 * a batch that was already on its way out.
	 */
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	usleep(100000);
	ASSERT_EQ(0, ksm_read_ulong("pages_scanned", &scanned0));
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &full0));
	until = now_ms() + 2500;
	while (now_ms() < until) {
		usleep(100000);
		ASSERT_EQ(0, ksm_read_ulong("pages_scanned", &scanned));
		ASSERT_EQ(0, ksm_read_ulong("full_scans", &full));
		ASSERT_EQ(scanned0, scanned) TH_LOG("ksmd scans with run=0");
		ASSERT_EQ(full0, full) TH_LOG("ksmd scans with run=0");
	}

	/* run=1 resumes, from where it stopped. */
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	EXPECT_TRUE(KSM_WAIT_FOR(!ksm_read_ulong("pages_scanned", &scanned) &&
				 scanned > scanned0, SCAN_TIMEOUT_MS));
	EXPECT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &full));
	EXPECT_LE(full0 + 2, full);
	EXPECT_TRUE(all_pages_have_seeds(area, NR_RUN, seed));
	munmap(area, NR_RUN * psize());
}

TEST_F_TIMEOUT(scan, sleep_millisecs_change_wakes_ksmd, 180)
{
	uint64_t seed = ksm_test_seed("scan/sleep");
	unsigned long scanned0, scanned, full0, full;
	uint64_t t0, waited;
	char *area;
	int err;

	area = map_unique_advised(NR_RUN, seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, ksm_wait_full_scans(1, SCAN_TIMEOUT_MS));

	/*
	 * The write wakes ksmd from its 10 ms sleep; after at most one more
	 * batch it sleeps for a minute.
	 */
	ASSERT_EQ(0, ksm_write_str("sleep_millisecs", "60000"));
	err = ksm_wait_steady("pages_scanned", 2000, SCAN_TIMEOUT_MS,
			      &scanned0);
	ASSERT_EQ(0, err) TH_LOG("ksmd keeps scanning with a 60 s sleep");
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &full0));

	/* A new value ends the current sleep, not just the next one. */
	t0 = now_ms();
	ASSERT_EQ(0, ksm_write_str("sleep_millisecs", "20"));
	EXPECT_TRUE(KSM_WAIT_FOR(!ksm_read_ulong("pages_scanned", &scanned) &&
				 scanned > scanned0, 10000))
		TH_LOG("ksmd still asleep 10 s after sleep_millisecs changed");
	waited = now_ms() - t0;
	TH_LOG("ksmd woke %llu ms after sleep_millisecs changed",
	       (unsigned long long)waited);
	EXPECT_EQ(0, ksm_wait_full_scans(2, 10000));
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &full));
	EXPECT_LE(full0 + 2, full);
	EXPECT_TRUE(all_pages_have_seeds(area, NR_RUN, seed));
	munmap(area, NR_RUN * psize());
}

#define NR_FULL		64
#define FULL_BATCH	"16"

TEST_F_TIMEOUT(scan, full_scans_reset_and_count, 240)
{
	uint64_t seed = ksm_test_seed("scan/full");
	struct ksm_scan_snap start, s;
	struct ksm_proc_stat st;
	unsigned long full, last = 0;
	uint64_t until;
	char *area;

	/* Four batches per pass, every page visited in every pass. */
	ASSERT_EQ(0, ksm_write_str("smart_scan", "0"));
	ASSERT_EQ(0, ksm_write_str("pages_to_scan", FULL_BATCH));
	area = map_unique_advised(NR_FULL, seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &full));
	ASSERT_LE(2UL, full);

	/* run=2 starts the count again and forgets every rmap_item. */
	ASSERT_EQ(0, restart_scanner(&start));
	EXPECT_EQ(0UL, start.full_scans);
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(0, st.rmap_items);
	usleep(500000);
	ASSERT_EQ(0, ksm_read_scan_snap(&s));
	EXPECT_EQ(0UL, s.full_scans) TH_LOG("ksmd scans with run=2");
	EXPECT_EQ(start.pages_scanned, s.pages_scanned);

	/* One more per pass over the NR_FULL pages, never a jump back. */
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	until = now_ms() + SCAN_TIMEOUT_MS;
	do {
		ASSERT_EQ(0, ksm_read_scan_snap(&s));
		ASSERT_LE(last, s.full_scans);
		last = s.full_scans;
		ASSERT_TRUE(visits_match_scans(_metadata, &start, &s,
					       NR_FULL));
		usleep(3000);
	} while (s.full_scans < 8 && now_ms() < until);
	EXPECT_LE(8UL, s.full_scans);
	EXPECT_EQ(start.pages_skipped, s.pages_skipped);
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(NR_FULL, st.rmap_items);
	EXPECT_TRUE(all_pages_have_seeds(area, NR_FULL, seed));
	munmap(area, NR_FULL * psize());
}

#define NR_SMART	32
#define SMART_SCANS	12

/*
 * A page that has not merged after a few passes is skipped in some of the
 * following ones (upstream: from its fifth pass on); skipped pages are not
 * scanned, so scanned + skipped still covers every page once per pass.
 */
TEST_F_TIMEOUT(scan, smart_scan_skips_unmergeable_pages, 240)
{
	uint64_t seed = ksm_test_seed("scan/smart");
	struct ksm_scan_snap start, s;
	unsigned long skipped;
	char *area;
	bool ok;

	ASSERT_EQ(0, ksm_write_str("smart_scan", "1"));
	area = map_unique_advised(NR_SMART, seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, restart_scanner(&start));
	ASSERT_EQ(0, ksm_write_str("run", "1"));

	ok = KSM_WAIT_FOR(!ksm_read_scan_snap(&s) &&
			  s.pages_skipped - start.pages_skipped >= NR_SMART,
			  MERGE_TIMEOUT_MS);
	skipped = s.pages_skipped - start.pages_skipped;
	EXPECT_TRUE(ok) TH_LOG("%lu pages skipped in %lu full scans",
			       skipped, s.full_scans);
	/* Not before every page has been tried a few times. */
	EXPECT_LE(3UL, s.full_scans);
	ASSERT_EQ(0, ksm_wait_full_scans(SMART_SCANS, MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_scan_snap(&s));
	EXPECT_TRUE(visits_match_scans(_metadata, &start, &s, NR_SMART));
	/* Skipping is not merging. */
	EXPECT_EQ(1, pfns_distinct(0, area, NR_SMART, 0));
	EXPECT_EQ(0, ksm_read_merging_pages(0));
	EXPECT_TRUE(all_pages_have_seeds(area, NR_SMART, seed));
	munmap(area, NR_SMART * psize());
}

TEST_F_TIMEOUT(scan, smart_scan_off_never_skips, 240)
{
	uint64_t seed = ksm_test_seed("scan/nosmart");
	struct ksm_scan_snap start, s;
	char *area;

	ASSERT_EQ(0, ksm_write_str("smart_scan", "0"));
	area = map_unique_advised(NR_SMART, seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, restart_scanner(&start));
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	ASSERT_EQ(0, ksm_wait_full_scans(SMART_SCANS, MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_scan_snap(&s));
	EXPECT_EQ(start.pages_skipped, s.pages_skipped);
	EXPECT_TRUE(visits_match_scans(_metadata, &start, &s, NR_SMART));
	EXPECT_LE(start.pages_scanned + SMART_SCANS * NR_SMART,
		  s.pages_scanned);

	/* Switching it on later starts skipping the same, old pages. */
	ASSERT_EQ(0, ksm_write_str("smart_scan", "1"));
	EXPECT_TRUE(KSM_WAIT_FOR(!ksm_read_scan_snap(&s) &&
				 s.pages_skipped > start.pages_skipped,
				 MERGE_TIMEOUT_MS));
	EXPECT_TRUE(all_pages_have_seeds(area, NR_SMART, seed));
	munmap(area, NR_SMART * psize());
}

#define NR_SAME		16
#define NR_UNIQUE	16
#define NR_VOLATILE	16

/* Rewrite @pages pages with new content every pass until killed. */
static void child_rewrite(int ready, size_t pages)
{
	char *area = map_private_anon(pages);
	uint64_t pass;
	size_t i;

	if (!area)
		_exit(2);
	for (pass = 0; ; pass++) {
		for (i = 0; i < pages; i++) {
			uint64_t *w = (uint64_t *)(area + i * psize());

			w[0] = pass;
			w[1] = i;
			w[2] = getpid();
		}
		if (!pass) {
			if (madvise(area, pages * psize(), MADV_MERGEABLE))
				_exit(3);
			if (write(ready, "r", 1) != 1)
				_exit(4);
		}
		usleep(1000);
	}
}

struct vol_counters {
	unsigned long shared, sharing, unshared, vol;
};

static int read_vol_counters(struct vol_counters *c)
{
	int err = ksm_read_ulong("pages_shared", &c->shared);

	if (!err)
		err = ksm_read_ulong("pages_sharing", &c->sharing);
	if (!err)
		err = ksm_read_ulong("pages_unshared", &c->unshared);
	if (!err)
		err = ksm_read_ulong("pages_volatile", &c->vol);
	return err;
}

/*
 * Three kinds of advised page at once: identical ones merge (shared and
 * sharing), unique unchanging ones wait in the unstable tree (unshared),
 * and those a child rewrites between passes never get that far (volatile).
 */
TEST_F_TIMEOUT(scan, volatile_and_unshared_pages, 240)
{
	uint64_t seed = ksm_test_seed("scan/volatile");
	int ready[2], status;
	struct vol_counters c = { 0 };
	char *same, *uniq, r;
	pid_t pid;
	size_t i;
	bool ok;

	/* Pages in the unstable tree stay there only without smart scan. */
	ASSERT_EQ(0, ksm_write_str("smart_scan", "0"));
	ASSERT_EQ(0, pipe(ready));
	/* Fork first: the child must not inherit the parent's pages. */
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		child_rewrite(ready[1], NR_VOLATILE);
		_exit(1);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &r, 1));

	same = map_private_anon(NR_SAME);
	ASSERT_NE(NULL, same);
	for (i = 0; i < NR_SAME; i++)
		fill_page_seeded(same + i * psize(), seed);
	uniq = map_unique_advised(NR_UNIQUE, seed + 1);
	ASSERT_NE(NULL, uniq);
	ASSERT_EQ(0, madvise(same, NR_SAME * psize(), MADV_MERGEABLE));

	EXPECT_NE(0, wait_common_pfn(0, same, NR_SAME, MERGE_TIMEOUT_MS));
	ok = KSM_WAIT_FOR(!read_vol_counters(&c) && c.shared == 1 &&
			  c.sharing == NR_SAME - 1 &&
			  c.unshared == NR_UNIQUE &&
			  c.vol >= NR_VOLATILE / 2, MERGE_TIMEOUT_MS);
	EXPECT_TRUE(ok)
		TH_LOG("shared %lu sharing %lu unshared %lu volatile %lu",
		       c.shared, c.sharing, c.unshared, c.vol);
	/* rmap_items = shared + sharing + unshared + volatile */
	EXPECT_GE((unsigned long)(NR_SAME + NR_UNIQUE + NR_VOLATILE),
		  c.shared + c.sharing + c.unshared + c.vol);
	EXPECT_EQ(1, pfns_distinct(0, uniq, NR_UNIQUE, 0));
	for (i = 0; i < NR_SAME; i++)
		EXPECT_TRUE(page_has_seed(same + i * psize(), seed));
	EXPECT_TRUE(all_pages_have_seeds(uniq, NR_UNIQUE, seed + 1));

	/* Once the writer is gone, its pages no longer count as volatile. */
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("child failed: %#x", status);
	ok = KSM_WAIT_FOR(!read_vol_counters(&c) && c.vol == 0 &&
			  c.unshared == NR_UNIQUE, MERGE_TIMEOUT_MS);
	EXPECT_TRUE(ok) TH_LOG("unshared %lu volatile %lu after the writer left",
			       c.unshared, c.vol);
	munmap(same, NR_SAME * psize());
	munmap(uniq, NR_UNIQUE * psize());
}

/* Every counter profit depends on, read twice with the same result. */
struct profit_snap {
	struct vol_counters c;
	long zero, general;
	struct ksm_proc_stat st;
};

static int read_profit_once(struct profit_snap *p)
{
	int err;

	memset(p, 0, sizeof(*p));
	err = read_vol_counters(&p->c);
	if (!err)
		err = ksm_read_long("ksm_zero_pages", &p->zero);
	if (!err)
		err = ksm_read_long("general_profit", &p->general);
	if (!err)
		err = ksm_read_proc_stat(0, &p->st);
	return err;
}

static int read_profit(struct profit_snap *p)
{
	struct profit_snap again;
	int err, tries;

	for (tries = 0; tries < 100; tries++) {
		err = read_profit_once(p);
		if (!err)
			err = read_profit_once(&again);
		if (err)
			return err;
		if (!memcmp(p, &again, sizeof(again)))
			return 0;
		usleep(20000);
	}
	return -EAGAIN;
}

#define NR_PROFIT_SAME		32
#define NR_PROFIT_UNIQUE	8

/*
 * profit = merged pages * PAGE_SIZE - rmap_items * cost of one rmap_item.
 * The cost is the engine's business; it is derived from the process's
 * numbers with pages merged and then must explain every other number:
 * general_profit with pages merged, and both profits once nothing is.
 */
TEST_F_TIMEOUT(scan, profit, 240)
{
	uint64_t seed = ksm_test_seed("scan/profit");
	struct profit_snap p;
	long cost, rmap, merged;
	char *same, *uniq;
	size_t i;
	bool ok;

	/* Unique pages stay in the unstable tree, not skipped. */
	ASSERT_EQ(0, ksm_write_str("smart_scan", "0"));
	same = map_private_anon(NR_PROFIT_SAME);
	ASSERT_NE(NULL, same);
	for (i = 0; i < NR_PROFIT_SAME; i++)
		fill_page_seeded(same + i * psize(), seed);
	ASSERT_EQ(0, madvise(same, NR_PROFIT_SAME * psize(), MADV_MERGEABLE));
	uniq = map_unique_advised(NR_PROFIT_UNIQUE, seed + 1);
	ASSERT_NE(NULL, uniq);

	ASSERT_NE(0, wait_common_pfn(0, same, NR_PROFIT_SAME,
				     MERGE_TIMEOUT_MS));
	ok = KSM_WAIT_FOR(!read_profit(&p) && p.c.shared == 1 &&
			  p.c.sharing == NR_PROFIT_SAME - 1 &&
			  p.c.unshared == NR_PROFIT_UNIQUE && !p.c.vol,
			  MERGE_TIMEOUT_MS);
	ASSERT_TRUE(ok) TH_LOG("shared %lu sharing %lu unshared %lu volatile %lu",
			       p.c.shared, p.c.sharing, p.c.unshared, p.c.vol);
	ASSERT_EQ(0, p.zero);
	ASSERT_EQ(NR_PROFIT_SAME, p.st.merging_pages);
	ASSERT_EQ(NR_PROFIT_SAME + NR_PROFIT_UNIQUE, p.st.rmap_items);

	/* The process: all its merged pages count, the cost is positive. */
	merged = (p.st.merging_pages + p.st.zero_pages) * psize();
	rmap = p.st.rmap_items;
	EXPECT_LT(0, p.st.process_profit);
	EXPECT_GT(merged, p.st.process_profit);
	cost = merged - p.st.process_profit;
	EXPECT_EQ(0, cost % rmap) TH_LOG("cost %ld of %ld rmap_items", cost,
					 rmap);
	cost /= rmap;
	EXPECT_LT(0, cost);
	EXPECT_GT(psize() / 8, cost);
	TH_LOG("%ld bytes per rmap_item", cost);

	/*
	 * Globally only pages_sharing saves memory; all rmap_items are
	 * shared + sharing + unshared + volatile.
	 */
	EXPECT_LT(0, p.general);
	EXPECT_EQ((long)(p.c.sharing + p.zero) * psize() -
		  (long)(p.c.shared + p.c.sharing + p.c.unshared + p.c.vol) * cost,
		  p.general);
	EXPECT_EQ(p.st.process_profit - (long)p.c.shared * psize(), p.general);

	/* Nothing merged: only the cost is left, the same per rmap_item. */
	ASSERT_EQ(0, munmap(same, NR_PROFIT_SAME * psize()));
	ok = KSM_WAIT_FOR(!read_profit(&p) && !p.c.shared && !p.c.sharing &&
			  p.st.rmap_items == NR_PROFIT_UNIQUE &&
			  p.c.unshared == NR_PROFIT_UNIQUE && !p.c.vol,
			  MERGE_TIMEOUT_MS);
	ASSERT_TRUE(ok) TH_LOG("shared %lu sharing %lu unshared %lu volatile %lu rmap_items %ld",
			       p.c.shared, p.c.sharing, p.c.unshared, p.c.vol,
			       p.st.rmap_items);
	EXPECT_EQ(0, p.st.merging_pages);
	EXPECT_GT(0, p.st.process_profit);
	EXPECT_GT(0, p.general);
	EXPECT_EQ(-NR_PROFIT_UNIQUE * cost, p.st.process_profit);
	EXPECT_EQ(-NR_PROFIT_UNIQUE * cost, p.general);
	EXPECT_TRUE(all_pages_have_seeds(uniq, NR_PROFIT_UNIQUE, seed + 1));
	munmap(uniq, NR_PROFIT_UNIQUE * psize());
}

TEST_HARNESS_MAIN
