/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm_util.h - helpers shared by the KSM selftests.
 *
 * Owns the plumbing the tests share: raw reads and writes of the
 * /sys/kernel/mm/ksm knobs (errno preserved, so tests can check the exact
 * error a store returns), saving and restoring all writable knobs, the VMA
 * flags from /proc/<pid>/smaps, and PFN lookups in /proc/self/pagemap.
 * Nothing here trusts the engine: it only reads what the kernel exposes.
 */
#ifndef KSM_SELFTEST_UTIL_H
#define KSM_SELFTEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KSM_SYSFS_DIR "/sys/kernel/mm/ksm"

/* One file of the upstream 6.12 ABI. */
struct ksm_file {
	const char *name;
	bool writable;		/* 0644 (true) or 0444 (false) */
	bool numa_only;		/* only with CONFIG_NUMA */
};

extern const struct ksm_file ksm_files[];
extern const size_t ksm_nr_files;

/* True when the running kernel is 6.12.x, whose ABI the tests encode. */
bool kernel_is_6_12(void);
/* CONFIG_NUMA kernels have /sys/devices/system/node. */
bool kernel_has_numa(void);
bool ksm_sysfs_present(void);

/*
 * Raw knob access.  Reads return the file's bytes (with the newline);
 * writes issue exactly one write() of exactly @len bytes.  Both return 0 or
 * -errno; a short write is reported as -EIO.
 */
int ksm_read_raw(const char *knob, char *buf, size_t size);
int ksm_write_raw(const char *knob, const char *buf, size_t len);
/* Value without the trailing newline. */
int ksm_read_str(const char *knob, char *buf, size_t size);
int ksm_write_str(const char *knob, const char *val);
int ksm_read_ulong(const char *knob, unsigned long *val);
int ksm_write_ulong(const char *knob, unsigned long val);

/* Snapshot of every writable knob, restored in a safe order. */
#define KSM_KNOB_LEN 64
struct ksm_knobs {
	size_t nr;
	struct {
		const char *name;
		char val[KSM_KNOB_LEN];
	} knob[32];
};

int ksm_save_knobs(struct ksm_knobs *k);
/* Returns the number of knobs that could not be restored. */
int ksm_restore_knobs(const struct ksm_knobs *k);

/*
 * VmFlags of the VMA that contains @addr in /proc/<pid>/smaps (pid 0 means
 * self).  Returns 1 if @flag is set, 0 if not, -errno if no VMA was found.
 */
int vma_has_flag(pid_t pid, const void *addr, const char *flag);

/* PFN of the page mapped at @addr, 0 if none, or -errno. */
int64_t pagemap_pfn(const void *addr);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t now_ms(void);

/*
 * Map @nr_pairs pairs of identical, pair-distinct private anonymous pages
 * (page i and page i + nr_pairs hold the same bytes), populated and with
 * THP off.  Returns the mapping or NULL.
 */
char *map_identical_pairs(size_t nr_pairs);
/* Number of pairs whose two pages map the same PFN, or -errno. */
long count_shared_pairs(char *area, size_t nr_pairs);

#endif /* KSM_SELFTEST_UTIL_H */
