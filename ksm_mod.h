/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm_mod internal interfaces: the engine's tunables, its counters, the
 * run state, and the entry points each file offers the others.
 *
 * Lock order (outermost first):
 *   ksm_thread_mutex -> mmap_lock -> ksm_mm_lock
 */
#ifndef _KSM_MOD_H
#define _KSM_MOD_H

#include <linux/ksm_engine.h>
#include <linux/mutex.h>
#include <linux/types.h>

/* Bits of ksm_run, as user space sees them in /sys/kernel/mm/ksm/run. */
#define KSM_RUN_STOP	0
#define KSM_RUN_MERGE	1
#define KSM_RUN_UNMERGE	2

enum ksm_advisor_mode {
	KSM_ADVISOR_NONE,
	KSM_ADVISOR_SCAN_TIME,
};

#define KSM_DEFAULT_PAGES_TO_SCAN	100

/**
 * struct ksm_tunables - the writable knobs of /sys/kernel/mm/ksm
 * @pages_to_scan: pages ksmd scans per batch.
 * @sleep_millisecs: ksmd's sleep between batches.
 * @stable_node_chains_prune_millisecs: minimum age before a chain is pruned.
 * @max_page_sharing: most mappings one KSM page may have.
 * @merge_across_nodes: one stable tree for all NUMA nodes (1) or one each.
 * @use_zero_pages: merge zero-filled pages with the shared zero page.
 * @smart_scan: skip pages that failed to merge on earlier scans.
 * @advisor: which advisor (if any) sets @pages_to_scan.
 * @advisor_max_cpu: ksmd CPU percentage the advisor may use.
 * @advisor_target_scan_time: seconds the advisor aims a full scan at.
 * @advisor_min_pages_to_scan: lower bound the advisor uses.
 * @advisor_max_pages_to_scan: upper bound the advisor uses.
 *
 * Written by the sysfs stores; read by ksmd with READ_ONCE().  The two
 * whose change needs an empty stable tree (@max_page_sharing and
 * @merge_across_nodes) are written only under ksm_thread_mutex.
 */
struct ksm_tunables {
	unsigned int pages_to_scan;
	unsigned int sleep_millisecs;
	unsigned int stable_node_chains_prune_millisecs;
	int max_page_sharing;
	unsigned int merge_across_nodes;
	bool use_zero_pages;
	bool smart_scan;
	enum ksm_advisor_mode advisor;
	unsigned int advisor_max_cpu;
	unsigned long advisor_target_scan_time;
	unsigned long advisor_min_pages_to_scan;
	unsigned long advisor_max_pages_to_scan;
};

/**
 * struct ksm_counters - the read-only counters of /sys/kernel/mm/ksm
 * @pages_scanned: pages ksmd has looked at since load.
 * @pages_shared: KSM pages in the stable tree.
 * @pages_sharing: further mappings of those KSM pages.
 * @pages_unshared: pages in the unstable tree.
 * @pages_skipped: pages smart scan passed over.
 * @rmap_items: rmap items in use; pages_volatile is derived from it.
 * @stable_node_chains: chains in the stable tree.
 * @stable_node_dups: dups hanging off those chains.
 * @full_scans: completed passes over all registered mms.
 *
 * Updated by ksmd under ksm_thread_mutex (and by the unmerge paths, which
 * hold it too); read without locking.
 */
struct ksm_counters {
	unsigned long pages_scanned;
	unsigned long pages_shared;
	unsigned long pages_sharing;
	unsigned long pages_unshared;
	unsigned long pages_skipped;
	unsigned long rmap_items;
	unsigned long stable_node_chains;
	unsigned long stable_node_dups;
	unsigned long full_scans;
};

extern struct ksm_tunables ksm_tun;
extern struct ksm_counters ksm_count;

/* KSM_RUN_* value; written under ksm_thread_mutex, read with READ_ONCE(). */
extern unsigned long ksm_run;
/* Serialises ksmd's batches against run changes and tree-wide knobs. */
extern struct mutex ksm_thread_mutex;

/* mm_slot.c: the registry of mms that asked for merging. */
int ksm_mm_enter(struct mm_struct *mm);
void ksm_mm_exit(struct mm_struct *mm);
bool ksm_mm_list_empty(void);
int ksm_mm_adopt_all(void);
int ksm_mm_init(void);
void ksm_mm_destroy(void);

/* hooks.c: the table registered with the dispatcher. */
extern const struct ksm_ops ksm_mod_ops;

/* ksmd.c: the scanning thread. */
int ksmd_start(void);
void ksmd_stop(void);
void ksmd_wake(void);
void ksmd_sleep_changed(void);

/* sysfs.c: /sys/kernel/mm/ksm. */
int ksm_sysfs_init(void);
void ksm_sysfs_exit(void);

/* core.c: state changes that several files trigger. */
int ksm_set_run(unsigned int run);
int ksm_set_max_page_sharing(int value);
int ksm_set_merge_across_nodes(unsigned int value);
long ksm_general_profit(void);
long ksm_mm_profit(struct mm_struct *mm);

#endif /* _KSM_MOD_H */
