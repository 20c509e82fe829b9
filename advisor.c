// SPDX-License-Identifier: GPL-2.0
/*
 * The scan-time advisor (advisor_mode = scan-time): after every full scan
 * it sets pages_to_scan so that a full scan takes about
 * advisor_target_scan_time seconds, smoothing its steps with a moving
 * average and keeping ksmd's CPU use between 10% and advisor_max_cpu
 * percent and pages_to_scan under advisor_max_pages_to_scan.  The
 * formula is upstream's, so the knobs mean the same here.
 *
 * Runs in ksmd under ksmd_mutex; ksm_advisor_reset() runs from the
 * sysfs store that switches the mode.
 */

#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/sched.h>
#include <linux/sched/cputime.h>

#include <trace/events/ksm.h>

#include "ksm_mod.h"

#define KSM_ADVISOR_MIN_CPU	10	/* percent */
#define KSM_ADVISOR_EWMA_PCT	30	/* weight of the newest sample */

/**
 * struct ksm_advisor_state - what the advisor remembers between scans
 * @scan_start: when the current full scan began.
 * @last_scan_secs: length of the previous full scan, or 0 if none yet.
 * @trend_pct: smoothed ratio of consecutive scan lengths, in percent.
 * @ksmd_cpu_ns: ksmd's CPU time when the current scan began.
 */
struct ksm_advisor_state {
	ktime_t scan_start;
	unsigned long last_scan_secs;
	unsigned long trend_pct;
	unsigned long long ksmd_cpu_ns;
};

static struct ksm_advisor_state ksm_adv;

static bool ksm_advisor_on(void)
{
	return READ_ONCE(ksm_tun.advisor) == KSM_ADVISOR_SCAN_TIME;
}

void ksm_advisor_reset(void)
{
	ksm_adv = (struct ksm_advisor_state){};
}

void ksm_advisor_scan_start(void)
{
	if (ksm_advisor_on())
		ksm_adv.scan_start = ktime_get();
}

void ksm_advisor_scan_end(void)
{
	unsigned long secs, cpu_pct, prev_secs, speedup, pages, per_pct;
	unsigned long now_pages = READ_ONCE(ksm_tun.pages_to_scan);
	unsigned long long cpu_ns;

	if (!ksm_advisor_on())
		return;

	secs = div_s64(ktime_ms_delta(ktime_get(), ksm_adv.scan_start),
		       MSEC_PER_SEC) ?: 1;
	cpu_ns = task_sched_runtime(current);
	cpu_pct = div64_u64(cpu_ns - ksm_adv.ksmd_cpu_ns, NSEC_PER_MSEC) *
		  100 / (secs * MSEC_PER_SEC) ?: 1;
	prev_secs = ksm_adv.last_scan_secs ?: secs;

	/* How much faster than the target this scan was, in percent. */
	speedup = READ_ONCE(ksm_tun.advisor_target_scan_time) * 100 / secs ?: 1;
	/* How this scan compares to the one before, smoothed. */
	ksm_adv.trend_pct = ((100 - KSM_ADVISOR_EWMA_PCT) * ksm_adv.trend_pct +
			     KSM_ADVISOR_EWMA_PCT * (secs * 100 / prev_secs ?: 1)) /
			    100;

	pages = now_pages * 100 / speedup;
	pages = pages * ksm_adv.trend_pct / 100;

	/* Pages per percent of CPU, as measured over this scan. */
	per_pct = now_pages / cpu_pct ?: 1;
	pages = min(pages, per_pct * READ_ONCE(ksm_tun.advisor_max_cpu));
	pages = max(pages, per_pct * KSM_ADVISOR_MIN_CPU);
	pages = min(pages, READ_ONCE(ksm_tun.advisor_max_pages_to_scan));

	ksm_adv.last_scan_secs = secs;
	ksm_adv.ksmd_cpu_ns = cpu_ns;
	WRITE_ONCE(ksm_tun.pages_to_scan, pages);
	trace_ksm_advisor(secs, pages, cpu_pct);
}
