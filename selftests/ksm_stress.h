/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm_stress.h - the randomized integrity stress, shared between its five
 * parts: ksm_stress.c (options, processes, report), ksm_stress_worker.c
 * (random operations on advised memory, each page checked against what the
 * worker last wrote there), ksm_stress_uring.c (a long-term pin through an
 * io_uring fixed buffer), ksm_stress_control.c (the knob flipper) and
 * ksm_stress_fault.c (allocation failures aimed at the module).
 *
 * Every decision comes from a per-process generator seeded from the one
 * seed printed at start, so a failing run replays the same sequence of
 * operations (not the same timing) when given that seed again.
 */
#ifndef KSM_STRESS_H
#define KSM_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kselftest.h"

#define STRESS_MAX_WORKERS	8

/* What a worker can do; the names are what the report and the log print. */
enum stress_op {
	OP_WRITE,
	OP_CHECK,
	OP_ADVISE,
	OP_UNADVISE,
	OP_MERGE_ANY,
	OP_FORK,
	OP_EXEC,
	OP_MREMAP,
	OP_MPROTECT,
	OP_REMAP,
	OP_DONTNEED,
	OP_PAGEOUT,
	OP_COLD,
	OP_MOVE_PAGES,
	OP_COLLAPSE,
	OP_PROC_READ,
	OP_PIN,
	OP_PAUSE,
	NR_STRESS_OPS
};

/* What the controller can do. */
enum stress_knob_op {
	KOP_RUN,
	KOP_STOP,
	KOP_UNMERGE_ALL,
	KOP_SLEEP,
	KOP_PAGES,
	KOP_ZERO_PAGES,
	KOP_SMART_SCAN,
	KOP_ADVISOR,
	KOP_SHARING_LIMIT,
	KOP_ACROSS_NODES,
	KOP_RELOAD,
	KOP_OFFLINE,
	NR_STRESS_KNOB_OPS
};

/*
 * Shared between all processes (one MAP_SHARED page); every field is
 * written with __atomic builtins, counters only ever grow.
 */
struct stress_shared {
	int stop;			/* set by main at the deadline */
	int failed;			/* set by whoever saw a failure */
	uint64_t ops[NR_STRESS_OPS];
	uint64_t op_errors[NR_STRESS_OPS];	/* tolerated failures */
	uint64_t knob_ops[NR_STRESS_KNOB_OPS];
	uint64_t knob_refused[NR_STRESS_KNOB_OPS];	/* tolerated */
	uint64_t pages_checked;
	uint64_t corruptions;
	uint64_t max_sharing;		/* largest pages_sharing seen */
	uint64_t merged_seen;		/* checks that found a shared PFN */
	uint64_t reloads;		/* module unloaded and loaded again */
	uint64_t faults_injected;	/* allocations failed on purpose */
	int unmerged;			/* main has set run = 2 at the end */
};

struct stress_config {
	uint64_t seed;
	unsigned int seconds;
	unsigned int workers;
	unsigned int pages;		/* per worker, a multiple of 512 */
	const char *module;		/* .ko to reload, or NULL */
	const char *self;		/* our own path, for the exec op */
	const char *module_name;	/* as /proc/modules has it, or NULL */
	unsigned int fail_percent;	/* allocation failures in the module */
	bool numa;			/* two nodes online */
	bool verbose;
};

extern const char *const stress_op_names[NR_STRESS_OPS];
extern const char *const stress_knob_op_names[NR_STRESS_KNOB_OPS];

/* splitmix64: a small, good, seedable generator. */
static inline uint64_t stress_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint64_t stress_below(uint64_t *state, uint64_t n)
{
	return n ? stress_next(state) % n : 0;
}

/* An index in [0, @nr) drawn with the relative weights @weight. */
static inline int stress_pick(uint64_t *state, const unsigned int *weight,
			      int nr)
{
	unsigned int total = 0, r;
	int i;

	for (i = 0; i < nr; i++)
		total += weight[i];
	r = (unsigned int)stress_below(state, total);
	for (i = 0; r >= weight[i]; i++)
		r -= weight[i];
	return i;
}

static inline void stress_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static inline bool stress_stopping(const struct stress_shared *sh)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&sh->failed, __ATOMIC_RELAXED);
}

/* A worker process: runs until told to stop; exit status 0 or 1. */
int stress_worker(const struct stress_config *cfg, struct stress_shared *sh,
		  unsigned int id);
/* The exec op's other half: the program re-executed with --exec-child. */
int stress_exec_child(uint64_t seed, int merge_any);
/* A long-term pin through an io_uring fixed buffer (ksm_stress_uring.c). */
struct stress_uring;
struct stress_uring *stress_uring_open(void);
void stress_uring_close(struct stress_uring *u);
int stress_uring_pin(struct stress_uring *u, void *buf, size_t len);
int stress_uring_unpin(struct stress_uring *u);
long stress_uring_write_fixed(struct stress_uring *u, int fd, void *buf,
			      size_t len);

/* Allocation failures aimed at the module (ksm_stress_fault.c). */
int stress_fault_aim(const char *module, unsigned int percent);
void stress_fault_disarm(struct stress_shared *sh);
void stress_fault_reset(void);

/* The knob controller: runs in its own process until told to stop. */
int stress_controller(const struct stress_config *cfg,
		      struct stress_shared *sh);

#endif /* KSM_STRESS_H */
