/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm_util.h - helpers shared by the KSM selftests.
 *
 * Owns the plumbing the tests share: raw reads and writes of the
 * /sys/kernel/mm/ksm knobs (errno preserved, so tests can check the exact
 * error a store returns), saving and restoring all writable knobs, the VMA
 * flags from /proc/<pid>/smaps, and PFN lookups in /proc/self/pagemap;
 * for the merge tests, counter snapshots, waits for scans, procfs readers
 * and page content that is unique to one test run; for the scan tests,
 * signed counters, waits for a counter to settle and scan snapshots; for
 * the mm tests, raw pagemap entries, kpageflags and kpagecount, NUMA
 * placement, small files and command-driven child processes.
 * Nothing here trusts the engine: it only reads what the kernel exposes.
 */
#ifndef KSM_SELFTEST_UTIL_H
#define KSM_SELFTEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

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

/*
 * Helpers of the merge tests (ksm_merge_*.c).  Every verdict they feed
 * comes from page tables, procfs or the global sysfs counters.
 */

/* The global counters of /sys/kernel/mm/ksm at one moment. */
struct ksm_counters {
	unsigned long pages_shared;
	unsigned long pages_sharing;
	unsigned long pages_unshared;
	long ksm_zero_pages;
	unsigned long full_scans;
	unsigned long stable_node_chains;
	unsigned long stable_node_dups;
};

int ksm_read_counters(struct ksm_counters *c);

/*
 * Start of a merge test: save every knob into @saved, unmerge everything
 * (run=2, so leftovers of earlier tests are gone), switch the advisor off,
 * scan fast (pages_to_scan 5000, sleep_millisecs 10) and start ksmd.
 * Returns 0 or -errno; on error @saved is valid if saved->nr is non-zero.
 */
int ksm_merge_setup(struct ksm_knobs *saved);
/* End of a merge test: unmerge everything, restore the knobs (run last). */
int ksm_merge_teardown(const struct ksm_knobs *saved);
/*
 * Wait until full_scans has grown by @scans; 0 or -ETIMEDOUT / -errno.
 * ksmd stops scanning (and counting) when no process has mergeable areas
 * left, so keep one advised while waiting.
 */
int ksm_wait_full_scans(unsigned long scans, unsigned int timeout_ms);
/*
 * Wait up to @timeout_ms until pages_shared and pages_sharing are @dshared
 * and @dsharing above @base; true if they got there.
 */
bool ksm_wait_counters(const struct ksm_counters *base, long dshared,
		       long dsharing, unsigned int timeout_ms);

/*
 * Poll @cond every 10 ms until it holds or @timeout_ms passed; evaluates to
 * the last value of @cond.
 */
#define KSM_WAIT_FOR(cond, timeout_ms)					\
({									\
	uint64_t __deadline = now_ms() + (timeout_ms);			\
	bool __ok;							\
									\
	while (!(__ok = (cond)) && now_ms() < __deadline)		\
		usleep(10000);						\
	__ok;								\
})

/* /proc/<pid>/ksm_stat (pid 0: self), 6.12 format. */
struct ksm_proc_stat {
	long rmap_items;
	long zero_pages;
	long merging_pages;
	long process_profit;
};

int ksm_read_proc_stat(pid_t pid, struct ksm_proc_stat *st);
/* /proc/<pid>/ksm_merging_pages, or -errno. */
long ksm_read_merging_pages(pid_t pid);
/*
 * A "Name:   N kB" field (e.g. "KSM", "Rss") of the VMA containing @addr in
 * /proc/<pid>/smaps, in kB, or -errno.
 */
long smaps_field_kb(pid_t pid, const void *addr, const char *field);
/* One counter of /proc/vmstat; -ENOENT if the kernel does not show it. */
int vmstat_read(const char *name, unsigned long *val);

/* pagemap_pfn() of another process (pid 0: self). */
int64_t pagemap_pfn_pid(pid_t pid, const void *addr);
/* PFN of the shared zero page, from a read fault on untouched memory. */
int64_t zero_page_pfn(void);

/* Seed for content that no other test and no other process produces. */
uint64_t ksm_test_seed(const char *tag);
/* Fill a page with pseudo-random words derived from @seed. */
void fill_page_seeded(void *page, uint64_t seed);
/* Does the page hold exactly what fill_page_seeded(@seed) wrote? */
bool page_has_seed(const void *page, uint64_t seed);
/* Private anonymous pages, THP off, not populated; NULL on failure. */
char *map_private_anon(size_t pages);

/* PFNs of @pages pages from @addr in process @pid (0: self); 0 or -errno. */
int pagemap_pfns(pid_t pid, const void *addr, size_t pages, int64_t *pfns);
/*
 * The PFN all @pages pages from @addr map if it is one and the same present
 * page, 0 if not, or -errno.
 */
int64_t common_pfn(pid_t pid, const void *addr, size_t pages);
/* Wait up to @timeout_ms for common_pfn() to find one; returns it or 0. */
int64_t wait_common_pfn(pid_t pid, const void *addr, size_t pages,
			unsigned int timeout_ms);
/*
 * 1 if all @pages pages are present and map pairwise different PFNs, none
 * of them @not_pfn (pass 0 for no such check); 0 if not; -errno.
 */
int pfns_distinct(pid_t pid, const void *addr, size_t pages, int64_t not_pfn);
/* page_has_seed() on a page of another process, read from /proc/<pid>/mem. */
bool remote_page_has_seed(pid_t pid, const void *addr, uint64_t seed);

/*
 * Helpers of the scan and tracepoint tests (ksm_scan_*.c, ksm_tracepoints.c).
 */

/* A signed counter (general_profit can be negative). */
int ksm_read_long(const char *knob, long *val);
/*
 * Wait up to @timeout_ms until the counter @knob has not changed for
 * @steady_ms; its value then goes to @val.  0, -ETIMEDOUT or -errno.
 */
int ksm_wait_steady(const char *knob, unsigned int steady_ms,
		    unsigned int timeout_ms, unsigned long *val);
/*
 * full_scans, pages_scanned and pages_skipped read while full_scans did not
 * change, so that they belong to the same pass; 0 or -errno.
 */
struct ksm_scan_snap {
	unsigned long full_scans;
	unsigned long pages_scanned;
	unsigned long pages_skipped;
};

int ksm_read_scan_snap(struct ksm_scan_snap *s);

/*
 * Helpers of the tests of merged pages meeting the rest of mm
 * (ksm_mm_*.c): raw pagemap entries, /proc/kpageflags, NUMA placement,
 * plain file access and command-driven helper processes.
 */

/* Bits of a /proc/<pid>/pagemap entry. */
#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_PFN_MASK	((1ULL << 55) - 1)	/* PFN, or swap type/offset */

/* Raw pagemap entries of @pages pages from @addr in @pid (0: self). */
int pagemap_entries(pid_t pid, const void *addr, size_t pages, uint64_t *ents);
/* /proc/kpageflags words of @nr frames from @pfn; 0 or -errno. */
int kpageflags_read(uint64_t pfn, size_t nr, uint64_t *flags);
/*
 * 1 if the frame @pfn has kpageflags bit @bit, 0 if not, or -errno.
 * KPF_KSM tells nothing on 6.12: it is set on every anonymous page there
 * (fs/proc/page.c tests mapping & PAGE_MAPPING_KSM); count mappings with
 * kpagecount_read() instead.
 */
int pfn_has_kpf(int64_t pfn, unsigned int bit);
/* /proc/kpagecount of @pfn: how many page table entries map it, or -errno. */
int64_t kpagecount_read(int64_t pfn);
/* Is NUMA node @nid online (/sys/devices/system/node/node<nid>)? */
bool numa_node_present(int nid);
/*
 * NUMA node of the page at @addr of process @pid (0: self), from the
 * query form of move_pages(2); -errno if the page is not present.
 */
int page_node(pid_t pid, const void *addr);
/* mbind(2) @len bytes at @addr to node @nid with MPOL_BIND; 0 or -errno. */
int mbind_node(void *addr, size_t len, int nid);
/*
 * move_pages(2) of the page at @addr of @pid (0: self) to node @nid with
 * @flags (MPOL_MF_MOVE or MPOL_MF_MOVE_ALL).  Returns the page's status:
 * the node it is on now, or -errno for it (or for the call; -EBUSY if
 * it could not be moved).
 */
int move_page_to(pid_t pid, void *addr, int nid, int flags);

/* One read() / one write() of a whole small file; 0 or -errno. */
int file_read_str(const char *path, char *buf, size_t size);
int file_write_str(const char *path, const char *val);

/*
 * A forked helper process driven by one-byte commands: the child runs
 * @fn(cmd, @arg) for each command and answers with the byte @fn returns;
 * command 'q' (or the parent going away) ends it with exit status 0.
 * The child gets SIGKILL when its parent dies.  @fn runs in the child:
 * it must not use the harness macros.
 */
typedef char (*ksm_child_fn)(char cmd, void *arg);

struct ksm_child {
	pid_t pid;
	int cmd_fd;	/* parent -> child */
	int rep_fd;	/* child -> parent */
};

int ksm_child_start(struct ksm_child *c, ksm_child_fn fn, void *arg);
/* Send @cmd and wait for the reply: the reply byte, -ETIMEDOUT or -errno. */
int ksm_child_call(struct ksm_child *c, char cmd, unsigned int timeout_ms);
/*
 * Send 'q' and reap the child (SIGKILL after @timeout_ms); returns its
 * wait status or -errno.  Safe on a child that was never started.
 */
int ksm_child_stop(struct ksm_child *c, unsigned int timeout_ms);

#endif /* KSM_SELFTEST_UTIL_H */
