// SPDX-License-Identifier: GPL-2.0
/*
 * workloads.c - the workloads of `make bench` that merge, scan, break and
 * unmerge memory of the kinds a KSM user has: mixed processes, zero pages,
 * a large sparse mapping, unique memory, COW, unmerge, and a bystander's
 * memory bandwidth.  Each sets its knobs, starts its workers, measures
 * and writes its metrics; Documentation/bench.md has the table.
 */
#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "ksm_bench.h"

/* Several processes, mostly duplicated pages; arg is sleep_millisecs. */
bool run_mixed(struct json *j, const struct workload *w)
{
	struct converge c = { .timeout = 600, .expect_merge = true };
	struct worker workers[MIXED_PROCS];
	struct series s = { 0 };
	unsigned long pages;
	struct meta m;
	long total;

	pages = workers_start(workers, MIXED_PROCS, K_MIXED, MIXED_MIB * MIB);
	if (verbose)
		note("  %lu pages ready", pages);
	knob_set_int("sleep_millisecs", w->arg);
	json_knobs(j);
	json_int(j, "procs", MIXED_PROCS);
	json_int(j, "mib_each", MIXED_MIB);
	c.series = &s;
	converge(&c);
	json_open(j, "metrics", '{');
	json_converge(j, &c, pages);
	if (w->arg == 0) {
		meta_snapshot(j, &m);
		total = m.slab_bytes + m.vmalloc_bytes +
			(m.kmalloc_bytes > 0 ? m.kmalloc_bytes : 0);
		json_bool(j, "metadata_complete", m.kmalloc_bytes >= 0);
		json_int(j, "metadata_bytes", total);
		json_num(j, "metadata_bytes_per_page", (double)total / pages);
		json_num(j, "saved_bytes",
			 (double)(c.end.c[C_SHARING] + c.end.c[C_ZERO]) *
			 page_size - total);
	}
	json_close(j, '}');
	json_series(j, &s);
	workers_stop(workers, MIXED_PROCS);
	series_free(&s);
	return c.converged;
}

/* Zero-filled memory; arg is use_zero_pages. */
bool run_zero(struct json *j, const struct workload *w)
{
	struct converge c = { .timeout = 300, .expect_merge = true };
	struct worker wk;
	unsigned long pages;

	pages = workers_start(&wk, 1, K_ZERO, ZERO_MIB * MIB);
	knob_set_int("use_zero_pages", w->arg);
	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	converge(&c);
	json_open(j, "metrics", '{');
	json_converge(j, &c, pages);
	json_int(j, "saved_pages", c.end.c[C_SHARING] + c.end.c[C_ZERO]);
	json_close(j, '}');
	workers_stop(&wk, 1);
	return c.converged;
}

/*
 * Time and ksmd CPU of full scans at sleep_millisecs 0: the first one
 * (which meets every page for the first time), then at least @n more and
 * at least 2 s of them, so that fast scans are not lost in the sampling.
 */
static bool timed_scans(struct json *j, unsigned long pages, int n,
			double timeout)
{
	struct scan_timing st;

	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	time_scans(&st, true, n, timeout);
	json_open(j, "metrics", '{');
	json_scan_timing(j, &st, pages, "");
	json_close(j, '}');
	knob_set("run", "0");
	return st.completed;
}

/* One worker of @kind over @mib MiB, timed over @scans full scans. */
static bool run_one_worker(struct json *j, enum content kind, unsigned long mib,
			   int scans)
{
	struct worker wk;
	unsigned long pages;
	bool ok;

	pages = workers_start(&wk, 1, kind, mib * MIB);
	ok = timed_scans(j, pages, scans, 600);
	workers_stop(&wk, 1);
	return ok;
}

/* 1 GiB advised, one page populated per 2 MiB. */
bool run_sparse(struct json *j, const struct workload *w)
{
	json_int(j, "mapping_mib", SPARSE_MIB);
	return run_one_worker(j, K_SPARSE, SPARSE_MIB, 3);
}

/* One process, every page unique: nothing to merge. */
bool run_unique(struct json *j, const struct workload *w)
{
	return run_one_worker(j, K_UNIQUE, UNIQUE_MIB, 2);
}

/* Merge PATTERNS contents repeated over COW_MIB, at sleep_millisecs 0. */
static bool merge_patterns(struct converge *c)
{
	c->timeout = 300;
	c->expect_merge = true;
	converge(c);
	knob_set("run", "0");
	return c->converged;
}

static void json_rounds(struct json *j, const char *key, const double *v)
{
	int r;

	json_open(j, key, '[');
	for (r = 0; r < ROUNDS; r++)
		json_num(j, NULL, v[r]);
	json_close(j, ']');
}

/*
 * Write one byte into each of the merged pages, ksmd stopped; ROUNDS
 * times, each with a new process (no history for smart scan to skip on).
 */
bool run_cow(struct json *j, const struct workload *w)
{
	struct converge c[ROUNDS] = { 0 };
	unsigned long pages = 0;
	double t[ROUNDS], med;
	struct worker wk;
	bool ok = true;
	int r;

	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	for (r = 0; r < ROUNDS; r++) {
		pages = workers_start(&wk, 1, K_PATTERN, COW_MIB * MIB);
		ok = merge_patterns(&c[r]) && ok;
		t[r] = worker_cmd(&wk, 'c');
		workers_stop(&wk, 1);
		engine_reset();
		knob_set_int("sleep_millisecs", 0);
	}
	json_int(j, "rounds", ROUNDS);
	json_open(j, "metrics", '{');
	json_converge(j, &c[0], pages);
	json_rounds(j, "cow_s_rounds", t);
	med = median(t, ROUNDS);
	json_num(j, "cow_s", med);
	json_num(j, "cow_us_per_page", med * 1e6 / pages);
	json_close(j, '}');
	return ok;
}

/*
 * For reference, the kernel's own COW fault path on the same memory with
 * no KSM page in it: a child writes one byte into each page its fork
 * shares, ksmd stopped and nothing merged.  ROUNDS times, each with a new
 * process.
 */
bool run_cow_fork(struct json *j, const struct workload *w)
{
	unsigned long pages = 0;
	double t[ROUNDS], med;
	struct worker wk;
	bool ok = true;
	int r;

	json_knobs(j);
	for (r = 0; r < ROUNDS; r++) {
		pages = workers_start(&wk, 1, K_PATTERN, COW_MIB * MIB);
		t[r] = worker_cmd(&wk, 'f');
		ok = ok && t[r] > 0;
		workers_stop(&wk, 1);
	}
	json_int(j, "rounds", ROUNDS);
	json_open(j, "metrics", '{');
	json_rounds(j, "cow_s_rounds", t);
	med = median(t, ROUNDS);
	json_num(j, "cow_s", med);
	json_num(j, "cow_us_per_page", med * 1e6 / pages);
	json_close(j, '}');
	return ok;
}

static double timed_run2(void)
{
	double t = now();

	if (knob_set("run", "2"))
		return NAN;
	return now() - t;
}

/*
 * MADV_UNMERGEABLE over merged pages; advise and merge again; "echo 2 >
 * run" over them.  ROUNDS times, each with a new process.
 */
bool run_unmerge(struct json *j, const struct workload *w)
{
	double t[ROUNDS], t2[ROUNDS], merged = 0, merged2 = 0, m;
	struct converge c[ROUNDS] = { 0 }, c2[ROUNDS] = { 0 };
	unsigned long pages = 0;
	struct worker wk;
	bool ok = true;
	int r;

	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	for (r = 0; r < ROUNDS; r++) {
		pages = workers_start(&wk, 1, K_PATTERN, COW_MIB * MIB);
		ok = merge_patterns(&c[r]) && ok;
		merged += c[r].end.c[C_SHARING] + c[r].end.c[C_SHARED];
		t[r] = worker_cmd(&wk, 'u');
		worker_cmd(&wk, 'm');
		ok = merge_patterns(&c2[r]) && ok;
		merged2 += c2[r].end.c[C_SHARING] + c2[r].end.c[C_SHARED];
		t2[r] = timed_run2();
		workers_stop(&wk, 1);
		engine_reset();
		knob_set_int("sleep_millisecs", 0);
	}
	json_int(j, "rounds", ROUNDS);
	json_open(j, "metrics", '{');
	json_converge(j, &c[0], pages);
	json_num(j, "merged_pages", merged / ROUNDS);
	json_rounds(j, "unmerge_madvise_s_rounds", t);
	m = median(t, ROUNDS);
	json_num(j, "unmerge_madvise_s", m);
	json_num(j, "unmerge_madvise_pages_per_s", m > 0 ? merged / ROUNDS / m : NAN);
	json_num(j, "merged_pages_run2", merged2 / ROUNDS);
	json_rounds(j, "unmerge_run2_s_rounds", t2);
	m = median(t2, ROUNDS);
	json_num(j, "unmerge_run2_s", m);
	json_num(j, "unmerge_run2_pages_per_s", m > 0 ? merged2 / ROUNDS / m : NAN);
	json_close(j, '}');
	return ok;
}

static double membw_passes(unsigned long *buf, size_t words)
{
	double t = now();
	size_t i;
	int p;

	for (p = 0; p < MEMBW_PASSES; p++)
		for (i = 0; i < words; i++)
			buf[i] += i ^ p;
	__asm__ __volatile__("" : : "r"(buf) : "memory");
	return now() - t;
}

/*
 * A memory-bound loop (MEMBW_PASSES read-modify-write passes over a 64 MiB
 * buffer that is not advised), timed while ksmd is stopped and while it
 * scans mixed memory of two processes at sleep_millisecs 0, alternately.
 */
bool run_membw(struct json *j, const struct workload *w)
{
	double stopped[MEMBW_ROUNDS], scanning[MEMBW_ROUNDS], cpu = 0, t;
	size_t words = MEMBW_MIB * MIB / sizeof(unsigned long);
	struct worker wk[2];
	unsigned long *buf;
	struct sample s, e;
	bool ok;
	int r;

	buf = mmap(NULL, MEMBW_MIB * MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	workers_start(wk, 2, K_MIXED, MIXED_MIB * MIB);
	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	sample(&s);
	knob_set("run", "1");
	ok = wait_scans(s.c[C_FULL_SCANS] + 3, 0, now() + 300, &s);
	membw_passes(buf, words);
	for (r = 0; r < MEMBW_ROUNDS; r++) {
		knob_set("run", "0");
		sleep_s(0.1);
		stopped[r] = membw_passes(buf, words);
		knob_set("run", "1");
		sample(&s);
		scanning[r] = membw_passes(buf, words);
		sample(&e);
		cpu += e.cpu - s.cpu;
	}
	knob_set("run", "0");
	json_open(j, "metrics", '{');
	json_bool(j, "completed", ok);
	t = median(stopped, MEMBW_ROUNDS);
	json_num(j, "loop_stopped_s", t);
	json_num(j, "loop_scanning_s", median(scanning, MEMBW_ROUNDS));
	json_num(j, "slowdown", median(scanning, MEMBW_ROUNDS) / t);
	json_num(j, "ksmd_cpu_while_scanning_s", cpu);
	json_close(j, '}');
	workers_stop(wk, 2);
	munmap(buf, MEMBW_MIB * MIB);
	return ok;
}
