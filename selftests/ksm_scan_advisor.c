// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_scan_advisor.c - the scan-time advisor while ksmd runs.
 *
 * Owns upstream 6.12 behaviour of advisor_mode=scan-time over full scans:
 * switching it on sets pages_to_scan to advisor_min_pages_to_scan and
 * takes pages_to_scan away from userspace (-EINVAL on writes), after each
 * full scan the advisor picks a new pages_to_scan that never exceeds
 * advisor_max_pages_to_scan (nor falls to 0), switching back to none puts
 * back the default of 100, and the limits the advisor's knobs enforce.
 * Note that upstream uses advisor_min_pages_to_scan only as the starting
 * value: its lower bound after a scan is KSM_ADVISOR_MIN_CPU (10) times the
 * measured per-page cost, so the tests do not expect pages_to_scan >= min.
 * The advisor's own arithmetic (EWMA, CPU share) is not encoded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define SCAN_TIMEOUT_MS		60000

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

FIXTURE(advisor)
{
	struct ksm_knobs saved;
};

FIXTURE_SETUP(advisor)
{
	int err;

	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(advisor)
{
	/* pages_to_scan can only be restored with the advisor off. */
	ksm_write_str("advisor_mode", "none");
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

static bool advisor_is(const char *want)
{
	char buf[KSM_KNOB_LEN];

	return !ksm_read_str("advisor_mode", buf, sizeof(buf)) &&
	       !strcmp(buf, want);
}

#define NR_PAGES	64

static char *map_advised(uint64_t seed)
{
	char *area = map_private_anon(NR_PAGES);
	size_t i;

	if (!area)
		return NULL;
	for (i = 0; i < NR_PAGES; i++)
		fill_page_seeded(area + i * psize(), seed + i);
	if (madvise(area, NR_PAGES * psize(), MADV_MERGEABLE)) {
		munmap(area, NR_PAGES * psize());
		return NULL;
	}
	return area;
}

/*
 * Writes to pages_to_scan are refused while the advisor is on.  Whether the
 * value stayed is only checked with ksmd stopped (@stopped): while it runs,
 * the advisor itself may change it after any full scan.
 */
static void expect_pages_to_scan_refused(struct __test_metadata *_metadata,
					 unsigned long cur, bool stopped)
{
	unsigned long now;

	EXPECT_EQ(-EINVAL, ksm_write_str("pages_to_scan", "100"));
	EXPECT_EQ(-EINVAL, ksm_write_ulong("pages_to_scan", cur));
	if (!stopped)
		return;
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &now));
	EXPECT_EQ(cur, now);
}

TEST_F_TIMEOUT(advisor, switch_on_and_off, 60)
{
	unsigned long pts;

	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_EQ(0, ksm_write_str("pages_to_scan", "1234"));
	ASSERT_EQ(0, ksm_write_str("advisor_min_pages_to_scan", "321"));
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "scan-time"));
	EXPECT_TRUE(advisor_is("none [scan-time]"));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	EXPECT_EQ(321UL, pts);
	expect_pages_to_scan_refused(_metadata, pts, true);

	/* Selecting the mode already selected changes nothing. */
	ASSERT_EQ(0, ksm_write_str("advisor_min_pages_to_scan", "654"));
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "scan-time"));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	EXPECT_EQ(321UL, pts);

	/* Off again: the default, not the value from before. */
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "none"));
	EXPECT_TRUE(advisor_is("[none] scan-time"));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	EXPECT_EQ(100UL, pts);
	EXPECT_EQ(0, ksm_write_str("pages_to_scan", "77"));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	EXPECT_EQ(77UL, pts);

	/* On once more: the current minimum. */
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "scan-time"));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	EXPECT_EQ(654UL, pts);
}

/*
 * The advisor runs at the end of every full scan: with the maximum below
 * the starting minimum, the first full scan already brings pages_to_scan
 * down to the maximum or below.
 */
TEST_F_TIMEOUT(advisor, capped_by_max_pages_to_scan, 180)
{
	uint64_t seed = ksm_test_seed("advisor/cap");
	unsigned long pts, full;
	char *area;
	int scans;

	ASSERT_EQ(0, ksm_write_str("advisor_min_pages_to_scan", "400"));
	ASSERT_EQ(0, ksm_write_str("advisor_max_pages_to_scan", "150"));
	ASSERT_EQ(0, ksm_write_str("advisor_target_scan_time", "1"));
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	area = map_advised(seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "scan-time"));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	ASSERT_EQ(400UL, pts);
	ASSERT_EQ(0, ksm_write_str("run", "1"));

	for (scans = 0; scans < 6; scans++) {
		ASSERT_EQ(0, ksm_wait_full_scans(1, SCAN_TIMEOUT_MS));
		ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
		EXPECT_GE(150UL, pts) TH_LOG("after %d full scans", scans + 1);
		EXPECT_LT(0UL, pts);
		expect_pages_to_scan_refused(_metadata, pts, false);
	}
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &full));
	EXPECT_LE(6UL, full);

	/* A lower maximum applies from the next full scan on. */
	ASSERT_EQ(0, ksm_write_str("advisor_max_pages_to_scan", "40"));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	EXPECT_GE(40UL, pts);
	EXPECT_LT(0UL, pts);
	munmap(area, NR_PAGES * psize());
}

/*
 * With the default limits, whatever the advisor picks stays within
 * [1, advisor_max_pages_to_scan], and scanning goes on.
 */
TEST_F_TIMEOUT(advisor, stays_within_limits, 180)
{
	uint64_t seed = ksm_test_seed("advisor/limits");
	unsigned long pts, max, full0, full;
	char *area;
	int scans;

	ASSERT_EQ(0, ksm_write_str("advisor_min_pages_to_scan", "500"));
	ASSERT_EQ(0, ksm_write_str("advisor_max_pages_to_scan", "30000"));
	ASSERT_EQ(0, ksm_write_str("advisor_target_scan_time", "200"));
	ASSERT_EQ(0, ksm_write_str("advisor_max_cpu", "70"));
	area = map_advised(seed);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &full0));
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "scan-time"));
	ASSERT_EQ(0, ksm_read_ulong("advisor_max_pages_to_scan", &max));

	for (scans = 0; scans < 5; scans++) {
		ASSERT_EQ(0, ksm_wait_full_scans(1, SCAN_TIMEOUT_MS));
		ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
		EXPECT_GE(max, pts);
		EXPECT_LT(0UL, pts);
	}
	ASSERT_EQ(0, ksm_read_ulong("full_scans", &full));
	EXPECT_LE(full0 + 5, full);

	/* Off while scanning: back to 100 and writable at once. */
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "none"));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	EXPECT_EQ(100UL, pts);
	EXPECT_EQ(0, ksm_write_str("pages_to_scan", "5000"));
	EXPECT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	EXPECT_EQ(5000UL, pts) TH_LOG("the advisor still sets pages_to_scan");
	munmap(area, NR_PAGES * psize());
}

/*
 * The limits of the advisor's knobs in upstream 6.12: the target scan time
 * must be at least one second; the other three take any unsigned long
 * (advisor_max_cpu is not checked against 100).
 */
TEST_F(advisor, knob_limits)
{
	unsigned long v;

	EXPECT_EQ(-EINVAL, ksm_write_str("advisor_target_scan_time", "0"));
	EXPECT_EQ(0, ksm_write_str("advisor_target_scan_time", "1"));
	ASSERT_EQ(0, ksm_read_ulong("advisor_target_scan_time", &v));
	EXPECT_EQ(1UL, v);
	EXPECT_EQ(0, ksm_write_str("advisor_max_cpu", "0"));
	EXPECT_EQ(0, ksm_write_str("advisor_max_cpu", "100"));
	EXPECT_EQ(0, ksm_write_str("advisor_max_cpu", "150"));
	ASSERT_EQ(0, ksm_read_ulong("advisor_max_cpu", &v));
	EXPECT_EQ(150UL, v);
	EXPECT_EQ(-EINVAL, ksm_write_str("advisor_max_cpu", "-1"));
	EXPECT_EQ(0, ksm_write_str("advisor_min_pages_to_scan", "0"));
	EXPECT_EQ(0, ksm_write_str("advisor_max_pages_to_scan", "0"));
	EXPECT_EQ(-EINVAL, ksm_write_str("advisor_min_pages_to_scan", "-1"));
	EXPECT_EQ(-EINVAL, ksm_write_str("advisor_max_pages_to_scan", "x"));
	EXPECT_EQ(-EINVAL, ksm_write_str("advisor_mode", "scan_time"));
	EXPECT_TRUE(advisor_is("[none] scan-time"));
}

TEST_HARNESS_MAIN
