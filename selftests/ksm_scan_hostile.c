// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_scan_hostile.c - page content chosen to hurt the scanner.
 *
 * Owns what ksmd must withstand whatever the advised pages hold, and when
 * a page written with a KSM page's content may join it:
 *
 *  - hash_flood: distinct pages built to share one content hash (words
 *    504, 506, 508 and 510 set so that every lane of ksm_mod's old hash
 *    collapsed to zero, whatever the other words held) must not make a
 *    full scan quadratic: ksmd's CPU time per full scan, from
 *    /proc/<ksmd>/stat, may grow at most 8x when 4x as many of the pages
 *    it scans are such pages (quadratic would be 16x);
 *  - near_equal_pages: pages that differ from another in one 64-bit word
 *    (first, middle, last and the four words above), next to exact twins,
 *    never share a frame, while the twins do;
 *  - first_visit_waits: as upstream 6.12's cmp_and_merge_page(), a page
 *    whose content changed since ksmd last saw it is only checksummed at
 *    the next visit, and merged (into the KSM page of its new content) at
 *    the visit after, which is one full scan boundary later at least.
 *
 * Verdicts come from /proc/self/pagemap PFNs, the /sys/kernel/mm/ksm
 * counters and ksmd's CPU time; content is checked after every merge.
 * The only advised memory in the machine is assumed to be the test's own
 * (true in the test VM): ksmd's CPU time and the counters are global.
 */
#include <ctype.h>
#include <dirent.h>
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
#define WORDS_PER_PAGE		512	/* 64-bit words of a 4 KiB page */

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

static char *page_at(char *area, size_t i)
{
	return area + i * psize();
}

/*
 * Words 504, 506, 508 and 510 of a page set to these values made every
 * lane of ksm_mod's old content hash (merge.c ksm_hash_page() up to commit
 * f413572) multiply by zero in its last round: all such pages hashed
 * alike, whatever their other words held.
 */
static const struct {
	unsigned int word;
	uint64_t val;
} flood_words[] = {
	{ 504, 0xe7037ed1a0b428dbULL },
	{ 506, 0x8ebc6af09c88c6e3ULL },
	{ 508, 0x589965cc75374cc3ULL },
	{ 510, 0x1d8e4e27c47d124fULL },
};

/* fill_page_seeded(@seed), then the words of flood_words[]. */
static void fill_flood_page(void *page, uint64_t seed)
{
	uint64_t *w = page;
	size_t i;

	fill_page_seeded(page, seed);
	for (i = 0; i < ARRAY_SIZE(flood_words); i++)
		w[flood_words[i].word] = flood_words[i].val;
}

/* Does @page hold exactly what fill_flood_page(@seed) wrote? */
static bool page_is_flood(const void *page, uint64_t seed)
{
	static uint64_t want[WORDS_PER_PAGE];

	fill_flood_page(want, seed);
	return !memcmp(page, want, sizeof(want));
}

FIXTURE(hostile)
{
	struct ksm_knobs saved;
};

FIXTURE_SETUP(hostile)
{
	int err;

	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	ASSERT_EQ(WORDS_PER_PAGE * sizeof(uint64_t), (size_t)psize());
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
	/* Every page is looked at in every full scan. */
	ASSERT_EQ(0, ksm_write_str("smart_scan", "0"));
}

FIXTURE_TEARDOWN(hostile)
{
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/*
 * Wait up to @timeout_ms until full_scans is past @last; the new value goes
 * to @now.  0, -ETIMEDOUT or -errno.
 */
static int wait_scan_past(unsigned long last, uint64_t timeout_ms,
			  unsigned long *now)
{
	uint64_t deadline = now_ms() + timeout_ms;
	int err;

	for (;;) {
		err = ksm_read_ulong("full_scans", now);
		if (err)
			return err;
		if (*now != last)
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

/*
 * The stat line of @pid: utime + stime in clock ticks and the task flags;
 * 0 or -errno.  The command name may hold anything: fields are counted
 * from its closing parenthesis.
 */
static int read_task_stat(pid_t pid, unsigned long long *ticks,
			  unsigned int *flags)
{
	unsigned long long utime, stime;
	char path[64], buf[1024], *p;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	err = file_read_str(path, buf, sizeof(buf));
	if (err)
		return err;
	p = strrchr(buf, ')');
	/* state ppid pgrp session tty_nr tpgid flags 4 faults utime stime */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %u %*u %*u %*u %*u %llu %llu",
			 flags, &utime, &stime) != 3)
		return -EINVAL;
	*ticks = utime + stime;
	return 0;
}

#define PF_KTHREAD	0x00200000

/* The kernel thread named "ksmd" (built-in engine or module), or -errno. */
static pid_t find_ksmd(void)
{
	unsigned long long ticks;
	char path[64], comm[32];
	unsigned int flags;
	pid_t found = -ENOENT;
	struct dirent *de;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (file_read_str(path, comm, sizeof(comm)) ||
		    strcmp(comm, "ksmd"))
			continue;
		if (read_task_stat(pid, &ticks, &flags) ||
		    !(flags & PF_KTHREAD))
			continue;
		if (found > 0) {
			found = -EEXIST;
			break;
		}
		found = pid;
	}
	closedir(d);
	return found;
}

/* ksmd's CPU time (user + system) in milliseconds, or -errno. */
static long long ksmd_cpu_ms(pid_t ksmd)
{
	unsigned long long ticks;
	unsigned int flags;
	int err;

	err = read_task_stat(ksmd, &ticks, &flags);
	if (err)
		return err;
	return ticks * 1000 / sysconf(_SC_CLK_TCK);
}

/*
 * ksmd is measured scanning two sets of FLOOD_PAGES pages each: FLOOD_N
 * flood pages among ordinary distinct ones, then flood pages only, 4x as
 * many.  A linear engine scans both alike and takes about as long for
 * either; a quadratic one (N^2 / 2 page compares a scan) takes 16x as
 * long for the second.  Sets of N and of 4N pages would also show the
 * guest's caches and TLBs running short at 4N: under TCG upstream's
 * engine takes 6x to 8.5x as long for 4x the pages, too close to the
 * limit.  FLOOD_PAGES pages take a linear engine tens of ms of CPU a full
 * scan under TCG; a quadratic one gets through its few scans in minutes.
 */
#define FLOOD_N			512
#define FLOOD_FACTOR		4
#define FLOOD_PAGES		(FLOOD_FACTOR * FLOOD_N)
#define FLOOD_MAX_RATIO		8
/*
 * A measurement runs until ksmd used this much CPU, in windows of at least
 * FLOOD_WINDOW_MS each (whole full scans); the cheapest window counts, as
 * the host can only ever add to what the guest sees ksmd take ...
 */
#define FLOOD_CPU_MS		2500
#define FLOOD_WINDOW_MS		500
/* ... in this many full scans at least, and this many at most. */
#define FLOOD_MIN_SCANS		1
#define FLOOD_MAX_SCANS		300
/* A full scan of the set with FLOOD_N flood pages may take this long. */
#define FLOOD_SCAN_TIMEOUT_MS	180000
/*
 * A full scan of the set of flood pages only may take this many times as
 * long as one of the first set did, and at least FLOOD_MIN_BUDGET_MS.
 */
#define FLOOD_BUDGET_FACTOR	30
#define FLOOD_MIN_BUDGET_MS	60000
/* Everything must be done in time to report before the harness timeout. */
#define FLOOD_TEST_TIMEOUT_S	600
#define FLOOD_DEADLINE_MS	((FLOOD_TEST_TIMEOUT_S - 60) * 1000ULL)

struct flood_cost {
	unsigned long scans;		/* full scans measured */
	long long cpu_ms;		/* ksmd CPU time in them */
	uint64_t wall_ms;		/* wall time they took */
	double best;			/* ms a scan in the cheapest window */
	unsigned int windows;
};

/*
 * Wait for the next full scan to end, within @scan_ms and before
 * @deadline (now_ms()); log what did not happen in time.
 */
static int flood_next_scan(struct __test_metadata *_metadata,
			   unsigned long *scans, uint64_t scan_ms,
			   uint64_t deadline, size_t flood, const char *what)
{
	uint64_t now = now_ms(), left = deadline > now ? deadline - now : 0;
	int err;

	err = wait_scan_past(*scans, scan_ms < left ? scan_ms : left, scans);
	if (err == -ETIMEDOUT)
		TH_LOG("%zu flood pages: a full scan (%s) did not complete within %llu ms%s",
		       flood, what, (unsigned long long)(scan_ms < left ? scan_ms : left),
		       scan_ms < left ? "" : " (the test's time is up)");
	return err;
}

/*
 * Advise @n distinct pages, the first @flood of them flood pages (the rest
 * ordinary ones from fill_page_seeded()), let ksmd settle on them (every page
 * checksummed twice and filed as unshared), then measure ksmd's CPU time
 * over whole full scans: until it used FLOOD_CPU_MS in FLOOD_MIN_SCANS
 * scans at least, or FLOOD_MAX_SCANS scans, with the cost a scan of the
 * cheapest window in @cost->best.  No full scan may take longer than
 * @scan_ms.  Checks at the end that nothing merged and every page
 * holds its content.  Returns 0, or -ETIMEDOUT (logged) or -errno.
 */
static int flood_measure(struct __test_metadata *_metadata, pid_t ksmd,
			 size_t n, size_t flood, uint64_t seed, uint64_t scan_ms,
			 uint64_t deadline, struct flood_cost *cost)
{
	unsigned long scans, first, scans_w, unshared = 0;
	long long cpu0 = 0, cpu, cpu_w;
	struct ksm_counters base, c;
	uint64_t t0;
	char *area;
	size_t i, bad = 0;
	int err, k;

	area = map_private_anon(n);
	if (!area)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (i < flood)
			fill_flood_page(page_at(area, i), seed + i);
		else
			fill_page_seeded(page_at(area, i), seed + i);
	}
	err = ksm_read_counters(&base);
	if (!err)
		err = ksm_read_ulong("full_scans", &scans);
	if (!err && madvise(area, n * psize(), MADV_MERGEABLE))
		err = -errno;
	if (err)
		goto out;

	/*
	 * The pass under way may or may not reach the new pages; at most two
	 * more checksum all of them twice, which files them in the unstable
	 * index (pages_unshared), and the pages of an earlier call, unmapped,
	 * are gone from it by then too.  The measurement starts at the end
	 * of the first full scan after which all of them are there.
	 */
	for (k = 0; ; k++) {
		err = flood_next_scan(_metadata, &scans, scan_ms, deadline, flood,
				      "settling");
		if (err)
			goto out;
		cpu0 = ksmd_cpu_ms(ksmd);
		t0 = now_ms();
		first = scans;
		err = ksm_read_ulong("pages_unshared", &unshared);
		if (err)
			goto out;
		if (k >= 1 && unshared == n)
			break;
		if (k == 5) {
			TH_LOG("%zu flood pages: pages_unshared %lu, not %zu, %d scans",
			       flood, unshared, n, k + 1);
			err = -EINVAL;
			goto out;
		}
	}
	if (cpu0 < 0) {
		err = cpu0;
		goto out;
	}
	cost->best = 0;
	cost->windows = 0;
	cpu_w = cpu0;
	scans_w = first;
	for (;;) {
		err = flood_next_scan(_metadata, &scans, scan_ms, deadline, flood,
				      "measured");
		if (err)
			goto out;
		cpu = ksmd_cpu_ms(ksmd);
		if (cpu < 0) {
			err = cpu;
			goto out;
		}
		if (cpu - cpu_w >= FLOOD_WINDOW_MS) {
			double per = (double)(cpu - cpu_w) / (scans - scans_w);

			if (!cost->windows++ || per < cost->best)
				cost->best = per;
			cpu_w = cpu;
			scans_w = scans;
		}
		if ((scans - first >= FLOOD_MIN_SCANS &&
		     cpu - cpu0 >= FLOOD_CPU_MS) ||
		    scans - first >= FLOOD_MAX_SCANS)
			break;
	}
	cost->scans = scans - first;
	cost->cpu_ms = cpu - cpu0;
	cost->wall_ms = now_ms() - t0;
	if (!cost->windows)
		cost->best = (double)cost->cpu_ms / cost->scans;

	/* All distinct: nothing merged, and nothing changed. */
	err = ksm_read_counters(&c);
	if (err)
		goto out;
	if (c.pages_shared != base.pages_shared ||
	    c.pages_sharing != base.pages_sharing) {
		TH_LOG("%zu flood pages: pages_shared %lu -> %lu, pages_sharing %lu -> %lu",
		       flood, base.pages_shared, c.pages_shared,
		       base.pages_sharing, c.pages_sharing);
		err = -EINVAL;
	}
	if (pfns_distinct(0, area, n, 0) != 1) {
		TH_LOG("%zu flood pages: distinct pages share a frame or are gone",
		       flood);
		err = -EINVAL;
	}
	for (i = 0; i < n; i++)
		bad += i < flood ? !page_is_flood(page_at(area, i), seed + i) :
		       !page_has_seed(page_at(area, i), seed + i);
	if (bad) {
		TH_LOG("%zu flood pages: %zu of %zu pages lost their content",
		       flood, bad, n);
		err = -EINVAL;
	}
out:
	munmap(area, n * psize());
	return err;
}

static void flood_log(struct __test_metadata *_metadata, size_t n,
		      const struct flood_cost *c)
{
	TH_LOG("%zu flood pages of %d: %lu full scans, ksmd CPU %lld ms",
	       n, FLOOD_PAGES, c->scans, c->cpu_ms);
	TH_LOG("  %.1f ms a scan, %.1f in the cheapest of %u windows",
	       (double)c->cpu_ms / c->scans, c->best, c->windows);
	TH_LOG("  wall %llu ms (%.1f ms a scan)", (unsigned long long)c->wall_ms,
	       (double)c->wall_ms / c->scans);
}

static double flood_per_scan(const struct flood_cost *c)
{
	return c->best;
}

/*
 * FLOOD_N flood pages among FLOOD_PAGES, then FLOOD_PAGES flood pages, then
 * FLOOD_N again: the CPU a full scan takes may grow FLOOD_MAX_RATIO times
 * at most from the cheaper of the two outer measurements to the middle
 * one.  ksmd's CPU time, as the guest counts it, includes whatever the
 * host takes from the guest's vCPUs while ksmd runs: each measurement
 * counts its cheapest window, and measuring the first set before and
 * after the second brackets a change of the host's load in between.
 */
TEST_F_TIMEOUT(hostile, hash_flood, FLOOD_TEST_TIMEOUT_S)
{
	uint64_t seed = ksm_test_seed("hostile/flood"), deadline, budget;
	struct flood_cost before, all, after;
	double per_few, per_all;
	pid_t ksmd;
	int err;

	deadline = now_ms() + FLOOD_DEADLINE_MS;
	ksmd = find_ksmd();
	ASSERT_LT(0, ksmd) TH_LOG("no single kernel thread named ksmd: %s",
				  strerror(-ksmd));

	err = flood_measure(_metadata, ksmd, FLOOD_PAGES, FLOOD_N, seed,
			    FLOOD_SCAN_TIMEOUT_MS, deadline, &before);
	ASSERT_EQ(0, err) TH_LOG("%d flood pages: %s (see above)", FLOOD_N,
				 strerror(-err));
	flood_log(_metadata, FLOOD_N, &before);
	/* Too little CPU to tell anything apart would be no measurement. */
	ASSERT_LT(0, before.cpu_ms) TH_LOG("ksmd used no CPU time");

	budget = FLOOD_BUDGET_FACTOR * before.wall_ms / before.scans;
	if (budget < FLOOD_MIN_BUDGET_MS)
		budget = FLOOD_MIN_BUDGET_MS;
	TH_LOG("%d flood pages: each full scan must complete within %llu ms",
	       FLOOD_PAGES, (unsigned long long)budget);
	err = flood_measure(_metadata, ksmd, FLOOD_PAGES, FLOOD_PAGES,
			    seed + FLOOD_PAGES, budget, deadline, &all);
	ASSERT_EQ(0, err) TH_LOG("%d flood pages: %s (see above)",
				 FLOOD_PAGES, strerror(-err));
	flood_log(_metadata, FLOOD_PAGES, &all);

	err = flood_measure(_metadata, ksmd, FLOOD_PAGES, FLOOD_N,
			    seed + 2 * FLOOD_PAGES, FLOOD_SCAN_TIMEOUT_MS,
			    deadline, &after);
	ASSERT_EQ(0, err) TH_LOG("%d flood pages: %s (see above)", FLOOD_N,
				 strerror(-err));
	flood_log(_metadata, FLOOD_N, &after);

	per_few = flood_per_scan(&before);
	if (flood_per_scan(&after) < per_few)
		per_few = flood_per_scan(&after);
	per_all = flood_per_scan(&all);
	TH_LOG("CPU a full scan grew %.2fx for %dx the flood pages (at most %dx)",
	       per_all / per_few, FLOOD_FACTOR, FLOOD_MAX_RATIO);
	EXPECT_GE(FLOOD_MAX_RATIO * per_few, per_all)
		TH_LOG("the cost of a full scan grows quadratically with pages of one hash");
}

/*
 * Near-equal pages: for each position in near_words[], a base page and
 * five pages made from it: two copies of the base (a twin pair), two
 * copies of the base with the word at that position changed in one bit
 * (another twin pair) and one copy with the same word changed in another
 * bit (alone).  Every group is built once on plain random content and
 * once on flood content (fill_flood_page()), whose pages a naive hash
 * cannot tell apart.
 */
static const unsigned int near_words[] = { 0, 255, 511, 504, 506, 508, 510 };

#define NEAR_POS	ARRAY_SIZE(near_words)
#define NEAR_GROUPS	(2 * NEAR_POS)
#define NEAR_PER_GROUP	5
#define NEAR_PAGES	(NEAR_GROUPS * NEAR_PER_GROUP)

/* Page @k (0..4) of group @g: what it holds, in @buf. */
static void near_content(uint64_t *buf, uint64_t seed, size_t g, size_t k)
{
	unsigned int word = near_words[g % NEAR_POS];

	if (g < NEAR_POS)
		fill_page_seeded(buf, seed + g);
	else
		fill_flood_page(buf, seed + g);
	if (k == 2 || k == 3)
		buf[word] ^= 1ULL << (word % 64);
	else if (k == 4)
		buf[word] ^= 1ULL << ((word + 32) % 64);
}

static size_t near_index(size_t g, size_t k)
{
	return g * NEAR_PER_GROUP + k;
}

/* Both pages of every twin pair map one frame. */
static bool near_twins_merged(char *area)
{
	int64_t pfns[NEAR_PAGES];
	size_t g;

	if (pagemap_pfns(0, area, NEAR_PAGES, pfns))
		return false;
	for (g = 0; g < NEAR_GROUPS; g++) {
		int64_t a = pfns[near_index(g, 0)], b = pfns[near_index(g, 2)];

		if (!a || a != pfns[near_index(g, 1)] ||
		    !b || b != pfns[near_index(g, 3)])
			return false;
	}
	return true;
}

TEST_F_TIMEOUT(hostile, near_equal_pages, 300)
{
	uint64_t seed = ksm_test_seed("hostile/near"), buf[WORDS_PER_PAGE];
	struct ksm_counters base, c;
	int64_t pfns[NEAR_PAGES];
	size_t g, k, i, j;
	char *area;
	bool ok;

	area = map_private_anon(NEAR_PAGES);
	ASSERT_NE(NULL, area);
	for (g = 0; g < NEAR_GROUPS; g++)
		for (k = 0; k < NEAR_PER_GROUP; k++)
			near_content((uint64_t *)page_at(area, near_index(g, k)),
				     seed, g, k);
	ASSERT_EQ(0, ksm_read_counters(&base));
	ASSERT_EQ(0, madvise(area, NEAR_PAGES * psize(), MADV_MERGEABLE));

	ok = KSM_WAIT_FOR(near_twins_merged(area), MERGE_TIMEOUT_MS);
	ASSERT_TRUE(ok) TH_LOG("twin pages did not merge");
	/* Give the near-equal pages a few more chances to merge wrongly. */
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));

	ASSERT_EQ(0, pagemap_pfns(0, area, NEAR_PAGES, pfns));
	for (g = 0; g < NEAR_GROUPS; g++) {
		unsigned int word = near_words[g % NEAR_POS];
		const char *kind = g < NEAR_POS ? "plain" : "flood";

		EXPECT_EQ(pfns[near_index(g, 0)], pfns[near_index(g, 1)])
			TH_LOG("%s group, word %u: twins apart", kind, word);
		EXPECT_EQ(pfns[near_index(g, 2)], pfns[near_index(g, 3)])
			TH_LOG("%s group, word %u: changed twins apart",
			       kind, word);
	}
	/* Apart from the twins, no two pages share a frame. */
	for (i = 0; i < NEAR_PAGES; i++) {
		EXPECT_NE(0, pfns[i]) TH_LOG("page %zu not present", i);
		for (j = i + 1; j < NEAR_PAGES; j++) {
			bool twins = i / NEAR_PER_GROUP == j / NEAR_PER_GROUP &&
				     i % NEAR_PER_GROUP / 2 ==
				     j % NEAR_PER_GROUP / 2 &&
				     i % NEAR_PER_GROUP != 4;

			if (twins)
				continue;
			EXPECT_NE(pfns[i], pfns[j])
				TH_LOG("%s pages %zu and %zu (word %u, %u) share a frame",
				       i / NEAR_PER_GROUP < NEAR_POS ? "plain" : "flood",
				       i, j,
				       near_words[i / NEAR_PER_GROUP % NEAR_POS],
				       near_words[j / NEAR_PER_GROUP % NEAR_POS]);
		}
	}
	for (g = 0; g < NEAR_GROUPS; g++) {
		for (k = 0; k < NEAR_PER_GROUP; k++) {
			near_content(buf, seed, g, k);
			EXPECT_EQ(0, memcmp(buf, page_at(area, near_index(g, k)),
					    psize()))
				TH_LOG("group %zu page %zu content", g, k);
		}
	}
	/* Two KSM pages of two mappings each per group. */
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base.pages_shared + 2 * NEAR_GROUPS, c.pages_shared);
	EXPECT_EQ(base.pages_sharing + 2 * NEAR_GROUPS, c.pages_sharing);
	munmap(area, NEAR_PAGES * psize());
}

/*
 * The area of first_visit_waits: the two pages of a KSM page K, filler A,
 * the probe, filler B.  ksmd is slowed down so that it takes about a
 * second to get through a filler: a write made right after a full scan
 * ended lands well before the cursor reaches the probe, and a merge made
 * at the probe's first visit after it is seen well before the scan ends.
 */
#define FV_FILL		2048
#define FV_K		0
#define FV_FILL_A	2
#define FV_PROBE	(FV_FILL_A + FV_FILL)
#define FV_FILL_B	(FV_PROBE + 1)
#define FV_PAGES	(FV_FILL_B + FV_FILL)
#define FV_PAGES_TO_SCAN	"64"	/* 32 batches a filler ... */
#define FV_SLEEP_MS		"30"	/* ... about 1 s */
#define FV_TRIALS	4
/* A slowed full scan is 2 to 3 s (more under load): generous bounds. */
#define FV_SCAN_TIMEOUT_MS	60000
#define FV_MERGE_TIMEOUT_MS	120000

TEST_F_TIMEOUT(hostile, first_visit_waits, 900)
{
	uint64_t seed = ksm_test_seed("hostile/first"), kseed = seed;
	unsigned long before, s0, s, f;
	int64_t kpfn, pfn;
	uint64_t until;
	char *area, *probe;
	size_t i;
	int t;

	area = map_private_anon(FV_PAGES);
	ASSERT_NE(NULL, area);
	probe = page_at(area, FV_PROBE);
	for (i = 0; i < FV_PAGES; i++)
		fill_page_seeded(page_at(area, i),
				 i < FV_FILL_A ? kseed : seed + 1 + i);
	ASSERT_EQ(0, madvise(area, FV_PAGES * psize(), MADV_MERGEABLE));

	kpfn = wait_common_pfn(0, page_at(area, FV_K), 2, MERGE_TIMEOUT_MS);
	ASSERT_LT(0, kpfn) TH_LOG("the two pages of K did not merge");
	/* Everything else checksummed twice and filed. */
	ASSERT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_write_str("pages_to_scan", FV_PAGES_TO_SCAN));
	ASSERT_EQ(0, ksm_write_str("sleep_millisecs", FV_SLEEP_MS));

	for (t = 0; t < FV_TRIALS; t++) {
		/* The cursor is back at the start of the area ... */
		ASSERT_EQ(0, ksm_read_ulong("full_scans", &before));
		ASSERT_EQ(0, wait_scan_past(before, FV_SCAN_TIMEOUT_MS, &s0));
		/* ... and K's content goes into the probe. */
		fill_page_seeded(probe, kseed);
		ASSERT_EQ(0, ksm_read_ulong("full_scans", &s));

		until = now_ms() + FV_MERGE_TIMEOUT_MS;
		do {
			usleep(2000);
			pfn = pagemap_pfn(probe);
			ASSERT_EQ(0, ksm_read_ulong("full_scans", &f));
		} while (pfn != kpfn && now_ms() < until);
		ASSERT_EQ(kpfn, pfn)
			TH_LOG("trial %d: the probe did not join K", t);
		TH_LOG("trial %d: full_scans %lu when written (%lu after), %lu when merged",
		       t, s0, s, f);
		EXPECT_LE(s0 + 1, f)
			TH_LOG("trial %d: merged in the pass it was written in", t);
		EXPECT_TRUE(page_has_seed(probe, kseed));
		EXPECT_EQ(kpfn, common_pfn(0, page_at(area, FV_K), 2));
		EXPECT_TRUE(page_has_seed(page_at(area, FV_K), kseed));

		/* Unique again (a COW of K), settled for the next trial. */
		fill_page_seeded(probe, seed + 1 + FV_PROBE + t * FV_PAGES);
		ASSERT_EQ(0, ksm_read_ulong("full_scans", &before));
		for (i = 0; i < 3; i++)
			ASSERT_EQ(0, wait_scan_past(before, FV_SCAN_TIMEOUT_MS,
						    &before));
		EXPECT_NE(kpfn, pagemap_pfn(probe));
		EXPECT_TRUE(page_has_seed(probe,
					  seed + 1 + FV_PROBE + t * FV_PAGES));
	}

	/* Nothing else merged, nothing changed. */
	EXPECT_EQ(1, pfns_distinct(0, page_at(area, FV_FILL_A),
				   FV_PAGES - FV_FILL_A, kpfn));
	for (i = FV_FILL_A; i < FV_PAGES; i++)
		if (i != FV_PROBE)
			EXPECT_TRUE(page_has_seed(page_at(area, i),
						  seed + 1 + i))
				TH_LOG("page %zu content", i);
	munmap(area, FV_PAGES * psize());
}

TEST_HARNESS_MAIN
