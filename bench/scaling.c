// SPDX-License-Identifier: GPL-2.0
/*
 * scaling.c - the workloads that show how the engine's cost grows: where
 * an index or a list lets one page's work grow with the number of pages,
 * the cost of a full scan grows faster than the memory scanned.
 *
 *  - collide: unique pages crafted so that the module's old content hash
 *    gave all of them one value (see fill_collide() in worker.c), which
 *    made a full scan compare every page with every other (O(N^2)).  The
 *    ksmd CPU per full scan at N and 4N pages, and their ratio: 4 is
 *    linear, about 4.5 N log N, 16 quadratic.  A size whose scans do not
 *    end within COLLIDE_TIMEOUT is reported as such, with a lower bound.
 *  - collide-ref: the same with ordinary unique pages, for reference.
 *  - mps10000: max_page_sharing 10000 and 8,000 mappings of one page
 *    content in 4 processes: all of them merge into one KSM page.  The
 *    time and ksmd CPU to converge, ksmd CPU per full scan once merged,
 *    the ksmd CPU it takes to drop the 6,000 mappings that three of the
 *    processes unmerged (each one unlinked from a KSM page that keeps the
 *    fourth's 2,000: a list walk per mapping costs O(N^2) there), and
 *    MADV_UNMERGEABLE of it all.
 */
#include <math.h>

#include "ksm_bench.h"

#define COLLIDE_MIB	16	/* N, in MiB; the larger size is 4 N */
#define COLLIDE_SCANS	4	/* full scans timed after the first */
#define COLLIDE_TIMEOUT	120	/* seconds, for each size */

#define MPS_PROCS	4
#define MPS_PAGES	2000	/* per process */
#define MPS_TIMEOUT	300	/* seconds, to converge */
#define MPS_SCAN_TIMEOUT 120	/* seconds, for the scans once merged */

/*
 * One worker of @w->arg content (K_COLLIDE or K_UNIQUE) at N, then at 4 N:
 * full scans at sleep_millisecs 0 and smart_scan 0 (every scan meets every
 * page), timed as in the unique workload.  If N does not complete in time,
 * 4 N is not tried.  A size that timed out is a result, not a failure.
 */
bool run_collide(struct json *j, const struct workload *w)
{
	static const struct {
		const char *suffix;
		unsigned long mib;
	} sizes[] = { { "_n", COLLIDE_MIB }, { "_4n", 4 * COLLIDE_MIB } };
	struct scan_timing st[ARRAY_SIZE(sizes)] = { 0 };
	double cpu, cpu_n = NAN;
	unsigned long pages;
	int completed = 0;
	struct worker wk;
	size_t i;

	knob_set_int("sleep_millisecs", 0);
	knob_set_int("smart_scan", 0);
	json_knobs(j);
	json_int(j, "mib_n", COLLIDE_MIB);
	json_int(j, "timeout_s", COLLIDE_TIMEOUT);
	json_open(j, "metrics", '{');
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		if (i && !st[0].completed) {
			json_bool(j, "completed_4n", false);
			json_bool(j, "skipped_4n", true);
			break;
		}
		if (i) {
			engine_reset();
			knob_set_int("sleep_millisecs", 0);
			knob_set_int("smart_scan", 0);
		}
		pages = workers_start(&wk, 1, w->arg, sizes[i].mib * MIB);
		time_scans(&st[i], true, COLLIDE_SCANS, COLLIDE_TIMEOUT);
		knob_set("run", "0");
		workers_stop(&wk, 1);
		json_scan_timing(j, &st[i], pages, sizes[i].suffix);
		if (verbose)
			note("  %lu MiB: %s, %ld full scans", sizes[i].mib,
			     st[i].completed ? "completed" : "timed out",
			     st[i].scans);
		if (!st[i].completed)
			continue;
		completed++;
		cpu = (st[i].end.cpu - st[i].first.cpu) / st[i].scans;
		if (!i)
			cpu_n = cpu;
		else
			json_num(j, "cpu_ratio", cpu / cpu_n);
	}
	/* Where 4 N timed out: at least this much. */
	if (st[0].completed && !st[1].completed)
		json_num(j, "cpu_ratio_at_least",
			 scan_cpu_at_least(&st[1]) / cpu_n);
	json_int(j, "sizes_completed", completed);
	json_close(j, '}');
	return true;
}

/*
 * @w->arg is max_page_sharing: MPS_PROCS processes of MPS_PAGES pages,
 * every page the same, merged into one KSM page; then full scans over it
 * merged, and MADV_UNMERGEABLE in each process.
 */
/*
 * All processes but the last unmerge their mappings, which leave a KSM
 * page that keeps the last one's: ksmd's CPU until it has dropped all
 * 6,000 (pages_sharing down by as much), each one an unlink from that
 * page.  Whatever order the mms were merged in, most of those mappings
 * sit behind others on the page's list.  Returns the MADV_UNMERGEABLE
 * time, or < 0.
 */
static double mps_drop_most(struct json *j, struct worker *wk)
{
	struct sample s0, s1;
	struct timespec next;
	bool dropped = false;
	double t, total = 0;
	int i;

	sample(&s0);
	for (i = 0; i < MPS_PROCS - 1; i++) {
		t = worker_cmd(&wk[i], 'u');
		if (t < 0)
			return t;
		total += t;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		sample(&s1);
		dropped = s1.c[C_SHARING] <=
			  s0.c[C_SHARING] - (MPS_PROCS - 1) * MPS_PAGES;
		if (dropped || s1.t > s0.t + MPS_SCAN_TIMEOUT)
			break;
		tick(&next);
	}
	json_bool(j, "dropped_most", dropped);
	json_num(j, "drop_most_s", s1.t - s0.t);
	json_num(j, "drop_most_cpu_s", s1.cpu - s0.cpu);
	json_int(j, "drop_most_full_scans",
		 s1.c[C_FULL_SCANS] - s0.c[C_FULL_SCANS]);
	return total;
}

bool run_mps(struct json *j, const struct workload *w)
{
	struct converge c = { .timeout = MPS_TIMEOUT, .expect_merge = true };
	struct worker wk[MPS_PROCS];
	struct scan_timing st = { 0 };
	double t, t_unmerge = 0;
	bool merged, unmerged = true;
	unsigned long pages;
	long merged_pages;
	struct sample s;
	int i;

	/* As the ABI has it: max_page_sharing changes with nothing merged. */
	if (knob_set("run", "2"))
		die("echo 2 > run");
	knob_set_int("max_page_sharing", w->arg);
	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	json_int(j, "procs", MPS_PROCS);
	json_int(j, "pages_each", MPS_PAGES);
	if (knob_get("max_page_sharing") != w->arg) {
		json_str(j, "error", "max_page_sharing not taken");
		return false;
	}
	pages = workers_start(wk, MPS_PROCS, K_SAME, MPS_PAGES * page_size);
	converge(&c);
	merged = c.converged && c.end.c[C_SHARED] == 1 &&
		 c.end.c[C_SHARING] == (long)pages - 1;
	json_open(j, "metrics", '{');
	json_converge(j, &c, pages);
	json_bool(j, "merged_into_one", merged);
	if (c.converged) {
		time_scans(&st, false, 2, MPS_SCAN_TIMEOUT);
		json_bool(j, "merged_scans_completed", st.completed);
		if (st.completed) {
			json_int(j, "merged_full_scans", st.scans);
			json_num(j, "merged_scan_s",
				 (st.end.t - st.first.t) / st.scans);
			json_num(j, "merged_scan_cpu_s",
				 (st.end.cpu - st.first.cpu) / st.scans);
		} else {
			json_num(j, "merged_scan_cpu_at_least_s",
				 scan_cpu_at_least(&st));
		}
	}
	sample(&s);
	merged_pages = s.c[C_SHARING] + s.c[C_SHARED];
	t = mps_drop_most(j, wk);
	if (t < 0)
		unmerged = false;
	else
		t_unmerge += t;
	knob_set("run", "0");

	/*
	 * The counters are not checked after: upstream's stay as they were
	 * until ksmd next meets the mm.
	 */
	for (i = MPS_PROCS - 1; i < MPS_PROCS; i++) {
		t = worker_cmd(&wk[i], 'u');
		if (t < 0)
			unmerged = false;
		else
			t_unmerge += t;
	}
	json_int(j, "merged_pages", merged_pages);
	json_num(j, "unmerge_madvise_s", unmerged ? t_unmerge : NAN);
	json_num(j, "unmerge_madvise_pages_per_s",
		 unmerged && t_unmerge > 0 ? merged_pages / t_unmerge : NAN);
	json_close(j, '}');
	workers_stop(wk, MPS_PROCS);
	return merged && st.completed && unmerged;
}
