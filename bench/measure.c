// SPDX-License-Identifier: GPL-2.0
/*
 * measure.c - the two measurements the workloads are built on, from the
 * counters sampled every 10 ms: convergence after "run = 1" (the time and
 * ksmd CPU until the merged state stops changing), and the time and ksmd
 * CPU of full scans.  Documentation/bench.md, "Metrics", defines both.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ksm_bench.h"

/* Sleep until the next sample is due, SAMPLE_NS after *@next. */
void tick(struct timespec *next)
{
	next->tv_nsec += SAMPLE_NS;
	if (next->tv_nsec >= 1000000000L) {
		next->tv_nsec -= 1000000000L;
		next->tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) ==
	       EINTR)
		;
}

/* ---- convergence ---- */

static void series_add(struct series *s, double t, const struct sample *x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->t = realloc(s->t, s->cap * sizeof(*s->t));
		s->sharing = realloc(s->sharing, s->cap * sizeof(*s->sharing));
		s->scans = realloc(s->scans, s->cap * sizeof(*s->scans));
		if (!s->t || !s->sharing || !s->scans)
			die("realloc");
	}
	s->t[s->n] = t;
	s->sharing[s->n] = x->c[C_SHARING];
	s->scans[s->n] = x->c[C_FULL_SCANS];
	s->n++;
}

void series_free(struct series *s)
{
	free(s->t);
	free(s->sharing);
	free(s->scans);
}

static bool merged_state_differs(const struct sample *a,
				 const struct sample *b)
{
	return a->c[C_SHARING] != b->c[C_SHARING] ||
	       a->c[C_SHARED] != b->c[C_SHARED] ||
	       a->c[C_ZERO] != b->c[C_ZERO];
}

/*
 * Start ksmd (run = 1) and sample the counters until the merged state
 * (pages_sharing, pages_shared, ksm_zero_pages) has not changed while
 * full_scans advanced by 2.  "Converged" is the first sample showing the
 * final state.  With expect_merge, a state with nothing merged does not
 * count (smart scan may skip pages for a few scans before they merge).
 * ksmd is left running.
 */
void converge(struct converge *c)
{
	struct sample s, prev, change;
	struct timespec next;
	bool changed = false;
	double shown = 0, plotted = 0;

	sample(&c->start);
	prev = c->start;
	change = c->start;
	clock_gettime(CLOCK_MONOTONIC, &next);
	if (knob_set("run", "1"))
		die("echo 1 > run");
	c->start.t = now();
	c->converged = false;
	for (;;) {
		tick(&next);
		sample(&s);
		/* The plot needs the changes, and a point now and then. */
		if (c->series && (s.c[C_SHARING] != prev.c[C_SHARING] ||
				  s.c[C_FULL_SCANS] != prev.c[C_FULL_SCANS] ||
				  s.t >= plotted + 0.25)) {
			series_add(c->series, s.t - c->start.t, &s);
			plotted = s.t;
		}
		if (merged_state_differs(&s, &prev)) {
			change = s;
			changed = true;
		}
		prev = s;
		if (verbose && s.t >= shown + 2) {
			shown = s.t;
			note("  %5.1f s: full_scans %ld, pages_sharing %ld, ksmd %.2f s",
			     s.t - c->start.t, s.c[C_FULL_SCANS] -
			     c->start.c[C_FULL_SCANS], s.c[C_SHARING],
			     s.cpu - c->start.cpu);
		}
		if (s.c[C_FULL_SCANS] >= change.c[C_FULL_SCANS] + 2 &&
		    (!c->expect_merge || s.c[C_SHARING] + s.c[C_ZERO] > 0)) {
			c->converged = true;
			break;
		}
		if (s.t - c->start.t > c->timeout)
			break;
	}
	c->end = s;
	c->t_converged = changed ? change.t - c->start.t : 0;
	c->cpu_converged = changed ? change.cpu - c->start.cpu : 0;
	c->t_detected = s.t - c->start.t;
	c->cpu_detected = s.cpu - c->start.cpu;
	c->scans = s.c[C_FULL_SCANS] - c->start.c[C_FULL_SCANS];
	if (verbose)
		note("  %s after %.2f s, %ld full scans: sharing %ld -> %ld, shared %ld -> %ld",
		     c->converged ? "converged" : "NOT converged", c->t_detected,
		     c->scans, c->start.c[C_SHARING], s.c[C_SHARING],
		     c->start.c[C_SHARED], s.c[C_SHARED]);
}

void json_converge(struct json *j, const struct converge *c,
		   unsigned long pages)
{
	long scanned = c->end.c[C_SCANNED] - c->start.c[C_SCANNED];

	json_bool(j, "converged", c->converged);
	json_num(j, "converge_s", c->converged ? c->t_converged : NAN);
	json_num(j, "detect_s", c->t_detected);
	json_num(j, "ksmd_cpu_converge_s", c->cpu_converged);
	json_num(j, "ksmd_cpu_s", c->cpu_detected);
	json_int(j, "full_scans", c->scans);
	json_int(j, "pages_tracked", pages);
	json_num(j, "pages_per_cpu_s",
		 c->cpu_detected > 0 ? (double)c->scans * pages /
				       c->cpu_detected : NAN);
	json_num(j, "sysfs_pages_scanned_per_cpu_s",
		 c->start.c[C_SCANNED] >= 0 && c->cpu_detected > 0 ?
		 scanned / c->cpu_detected : NAN);
	json_int(j, "pages_sharing", c->end.c[C_SHARING]);
	json_int(j, "pages_shared", c->end.c[C_SHARED]);
	json_int(j, "ksm_zero_pages", c->end.c[C_ZERO]);
	json_int(j, "pages_unshared", c->end.c[C_UNSHARED]);
	json_int(j, "pages_volatile", c->end.c[C_VOLATILE]);
}

void json_series(struct json *j, const struct series *s)
{
	size_t i;

	json_open(j, "series", '{');
	json_open(j, "t", '[');
	for (i = 0; i < s->n; i++) {
		json_sep(j, NULL);
		json_put(j, "%.3f", s->t[i]);
	}
	json_close(j, ']');
	json_open(j, "pages_sharing", '[');
	for (i = 0; i < s->n; i++)
		json_int(j, NULL, s->sharing[i]);
	json_close(j, ']');
	json_open(j, "full_scans", '[');
	for (i = 0; i < s->n; i++)
		json_int(j, NULL, s->scans[i]);
	json_close(j, ']');
	json_close(j, '}');
}

/* ---- full scans ---- */

/* Wait until full_scans reaches @target and @min_t has passed. */
bool wait_scans(long target, double min_t, double deadline,
		struct sample *s)
{
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		sample(s);
		if (s->c[C_FULL_SCANS] >= target && s->t >= min_t)
			return true;
		if (s->t > deadline)
			return false;
		tick(&next);
	}
}

/*
 * Sample until a full scan ends with full_scans at @target or more and
 * @min_t passed (true), or until @deadline (false).  st->end is the last
 * sample, st->mark the first one after the last full scan that ended:
 * ending at a scan's end, not wherever @min_t falls, keeps a scan in
 * progress out of the time of the ones counted.
 */
static bool scan_until(struct scan_timing *st, long target, double min_t,
		       double deadline)
{
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		sample(&st->end);
		if (st->end.c[C_FULL_SCANS] > st->mark.c[C_FULL_SCANS]) {
			st->mark = st->end;
			if (st->mark.c[C_FULL_SCANS] >= target &&
			    st->mark.t >= min_t)
				return true;
		}
		if (st->end.t > deadline)
			return false;
		tick(&next);
	}
}

/*
 * Time full scans at the knobs set: with @start, ksmd is started (run = 1)
 * and the first full scan meets every page for the first time; without,
 * ksmd is running and the first "scan" is the rest of the one under way.
 * Then at least @n more full scans and at least 2 s of them, so that fast
 * scans are not lost in the sampling, up to the end of a scan.  Gives up
 * @timeout seconds after the start, with st->completed false.  ksmd is
 * left running.
 */
void time_scans(struct scan_timing *st, bool start, int n, double timeout)
{
	double deadline;

	memset(st, 0, sizeof(*st));
	sample(&st->start);
	if (start) {
		knob_set("run", "1");
		st->start.t = now();
	}
	st->mark = st->start;
	deadline = st->start.t + timeout;
	st->first_done = scan_until(st, st->start.c[C_FULL_SCANS] + 1, 0,
				    deadline);
	st->first = st->end;
	if (st->first_done)
		st->completed = scan_until(st, st->first.c[C_FULL_SCANS] + n,
					   st->first.t + 2, deadline);
	st->scans = st->end.c[C_FULL_SCANS] - st->first.c[C_FULL_SCANS];
}

/*
 * For scans that did not complete: a lower bound of ksmd's CPU time per
 * full scan.  The mean of the full scans that ended after the first, or
 * what the scan under way at the timeout had cost so far (the first one,
 * if none ended), whichever is more.
 */
double scan_cpu_at_least(const struct scan_timing *st)
{
	long done = st->mark.c[C_FULL_SCANS] - st->first.c[C_FULL_SCANS];
	double cur = st->end.cpu - st->mark.cpu, mean = 0;

	if (st->first_done && done > 0)
		mean = (st->mark.cpu - st->first.cpu) / done;
	return cur > mean ? cur : mean;
}

static const char *key(const char *name, const char *suffix)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s%s", name, suffix);
	return buf;
}

/*
 * The metrics of time_scans() over @pages populated pages, each key with
 * @suffix: the first full scan (if it ended), then the mean time and ksmd
 * CPU of the next ones; if they did not complete, a lower bound of the
 * CPU per full scan instead.
 */
void json_scan_timing(struct json *j, const struct scan_timing *st,
		      unsigned long pages, const char *suffix)
{
	double cpu = st->end.cpu - st->start.cpu;

	json_bool(j, key("completed", suffix), st->completed);
	json_int(j, key("pages_tracked", suffix), pages);
	if (st->first_done) {
		json_num(j, key("first_scan_s", suffix),
			 st->first.t - st->start.t);
		json_num(j, key("first_scan_cpu_s", suffix),
			 st->first.cpu - st->start.cpu);
	}
	if (!st->completed) {
		json_num(j, key("scan_cpu_at_least_s", suffix),
			 scan_cpu_at_least(st));
		return;
	}
	json_int(j, key("full_scans", suffix), st->scans);
	json_num(j, key("scan_s", suffix),
		 (st->end.t - st->first.t) / st->scans);
	json_num(j, key("scan_cpu_s", suffix),
		 (st->end.cpu - st->first.cpu) / st->scans);
	json_num(j, key("ksmd_cpu_s", suffix), cpu);
	json_num(j, key("pages_per_cpu_s", suffix),
		 (double)(st->scans + 1) * pages / cpu);
	json_int(j, key("pages_sharing", suffix), st->end.c[C_SHARING]);
}
