/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm_bench.h - what the parts of ksm_bench share.
 *
 * ksm_bench is the guest side of `make bench`; each of its files owns one
 * thing:
 *
 *   ksm_bench.c  options, the workload list, the run of each workload
 *   util.c       messages, clocks, whole-file reads and writes
 *   json.c       the JSON writer: one object per workload, on one line
 *   engine.c     the engine from the outside: knobs, counters, ksmd's CPU
 *   measure.c    convergence and the timing of full scans
 *   metadata.c   the engine's slab, vmalloc and (traced) large kmalloc
 *   worker.c     worker processes and the content of their pages
 *   workloads.c  the workloads of Documentation/bench.md
 *   scaling.c    the workloads whose cost must not grow faster than
 *                their size: collide, collide-ref, mps10000
 *   ksm_tests.c  upstream's ksm_tests, run and parsed
 */
#ifndef KSM_BENCH_H
#define KSM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <time.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KSM_DIR "/sys/kernel/mm/ksm/"
#define TRACE_DIR "/sys/kernel/tracing/"
#define MIB (1024UL * 1024UL)
#define SAMPLE_NS 10000000L	/* counters are sampled every 10 ms */

/* Workload sizes; Documentation/bench.md explains the choice. */
#define MIXED_PROCS	8
#define MIXED_MIB	32
#define ZERO_MIB	32
#define SPARSE_MIB	1024
#define SPARSE_STRIDE	(2 * MIB)
#define UNIQUE_MIB	64
#define COW_MIB		64
#define PATTERNS	64
#define ROUNDS		5	/* of the COW and unmerge measurements */
#define MEMBW_MIB	64
#define MEMBW_PASSES	4
#define MEMBW_ROUNDS	3

/* ---- ksm_bench.c: the run's settings ---- */

extern long page_size;
extern unsigned long seed;
extern bool verbose;

/* ---- util.c ---- */

void note(const char *fmt, ...);
noreturn void die(const char *fmt, ...);
double now(void);
void sleep_s(double s);
int read_file(const char *path, char *buf, size_t size);
char *slurp(const char *path);
int write_file(const char *path, const char *val);
double median(double *v, int n);

/* ---- json.c ---- */

struct json {
	char *buf;
	size_t len, cap;
	bool first[16];
	int depth;
};

extern FILE *json_out;	/* --out; NULL: stdout */

void json_put(struct json *j, const char *fmt, ...);
void json_sep(struct json *j, const char *key);
void json_open(struct json *j, const char *key, char bracket);
void json_close(struct json *j, char bracket);
void json_begin(struct json *j);
void json_num(struct json *j, const char *key, double v);
void json_int(struct json *j, const char *key, long long v);
void json_bool(struct json *j, const char *key, bool v);
void json_str(struct json *j, const char *key, const char *s);
void json_emit(struct json *j);

/* ---- engine.c ---- */

enum counter {
	C_FULL_SCANS, C_SHARING, C_SHARED, C_UNSHARED, C_VOLATILE,
	C_ZERO, C_SCANNED, C_NR
};

struct sample {
	double t, cpu;
	long c[C_NR];
};

extern pid_t ksmd_pid;

int knob_set(const char *name, const char *val);
void knob_set_int(const char *name, long val);
long knob_get(const char *name);
void counters_open(void);
long counter(enum counter c);
pid_t find_ksmd(void);
double ksmd_cpu(void);
void sample(struct sample *s);
void engine_reset(void);
void json_knobs(struct json *j);

/* ---- measure.c ---- */

/* pages_sharing and full_scans against time, for the plot */
struct series {
	double *t;
	long *sharing, *scans;
	size_t n, cap;
};

struct converge {
	/* in */
	double timeout;
	bool expect_merge;
	struct series *series;
	/* out, times and CPU relative to "run = 1" */
	bool converged;
	double t_converged, t_detected;
	double cpu_converged, cpu_detected;
	long scans;
	struct sample start, end;
};

/* Full scans timed by time_scans(). */
struct scan_timing {
	bool completed;		/* every scan asked for, in time */
	bool first_done;	/* the first full scan ended in time */
	long scans;		/* full scans ended after the first */
	struct sample start;	/* "run = 1", or when time_scans() began */
	struct sample first;	/* the end of the first full scan */
	struct sample mark;	/* the end of the last full scan seen */
	struct sample end;	/* the last sample */
};

void tick(struct timespec *next);
void converge(struct converge *c);
void json_converge(struct json *j, const struct converge *c,
		   unsigned long pages);
void json_series(struct json *j, const struct series *s);
void series_free(struct series *s);
bool wait_scans(long target, double min_t, double deadline,
		struct sample *s);
void time_scans(struct scan_timing *st, bool start, int n, double timeout);
double scan_cpu_at_least(const struct scan_timing *st);
void json_scan_timing(struct json *j, const struct scan_timing *st,
		      unsigned long pages, const char *suffix);

/* ---- metadata.c ---- */

struct meta {
	long slab_bytes;	/* pages held by the engine's caches */
	long obj_bytes;		/* of which objects in use */
	long vmalloc_bytes;
	long kmalloc_bytes;	/* -1: not measured */
};

void trace_start(void);
void trace_stop(void);
void meta_snapshot(struct json *j, struct meta *m);

/* ---- worker.c ---- */

enum content {
	K_MIXED,	/* the mixed workload's pages */
	K_ZERO,		/* zero-filled */
	K_UNIQUE,	/* every page unique */
	K_SPARSE,	/* one unique page per SPARSE_STRIDE */
	K_PATTERN,	/* PATTERNS contents, repeated */
	K_COLLIDE,	/* unique, crafted against the old content hash */
	K_SAME,		/* every page of every worker alike */
};

struct worker {
	pid_t pid;
	int cmd;	/* parent -> worker: one command byte */
	int res;	/* worker -> parent: 'r' when ready, then doubles */
	unsigned long pages;	/* pages populated */
};

double worker_cmd(struct worker *w, char c);
unsigned long workers_start(struct worker *w, int n, enum content kind,
			    size_t bytes);
void workers_stop(struct worker *w, int n);

/* ---- the workloads ---- */

struct workload {
	const char *name;
	bool (*run)(struct json *j, const struct workload *w);
	long arg;
	char mode;	/* ksm_tests mode */
};

/* workloads.c */
bool run_mixed(struct json *j, const struct workload *w);
bool run_zero(struct json *j, const struct workload *w);
bool run_sparse(struct json *j, const struct workload *w);
bool run_unique(struct json *j, const struct workload *w);
bool run_cow(struct json *j, const struct workload *w);
bool run_cow_fork(struct json *j, const struct workload *w);
bool run_unmerge(struct json *j, const struct workload *w);
bool run_membw(struct json *j, const struct workload *w);

/* scaling.c */
bool run_collide(struct json *j, const struct workload *w);
bool run_mps(struct json *j, const struct workload *w);

/* ksm_tests.c */
extern const char *ksm_tests_path;
extern int ksm_tests_mib;
bool run_ksm_tests(struct json *j, const struct workload *w);

#endif /* KSM_BENCH_H */
