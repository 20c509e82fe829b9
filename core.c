// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mod core: module load and unload, the engine-wide state (tunables,
 * counters, run), and the state changes that need ksmd to be quiet.
 *
 * Load order: caches, ksmd, sysfs, then registration with the dispatcher,
 * then adoption of processes advised while no engine was loaded.  Unload
 * runs it backwards; after ksm_unregister_ops() returns no hook can be
 * running in this module.
 */

#include <linux/init.h>
#include <linux/ksm.h>
#include <linux/module.h>
#include <linux/mutex.h>

#define CREATE_TRACE_POINTS
#include <trace/events/ksm.h>

#include "ksm_mod.h"

struct ksm_tunables ksm_tun = {
	.pages_to_scan = KSM_DEFAULT_PAGES_TO_SCAN,
	.sleep_millisecs = 20,
	.stable_node_chains_prune_millisecs = 2000,
	.max_page_sharing = 256,
	.merge_across_nodes = 1,
	.use_zero_pages = false,
	.smart_scan = true,
	.advisor = KSM_ADVISOR_NONE,
	.advisor_max_cpu = 70,
	.advisor_target_scan_time = 200,
	.advisor_min_pages_to_scan = 500,
	.advisor_max_pages_to_scan = 30000,
};

struct ksm_counters ksm_count;

unsigned long ksm_run = KSM_RUN_STOP;
/* Held by ksmd for each batch and by whoever changes run or a tree knob. */
DEFINE_MUTEX(ksm_thread_mutex);

/**
 * ksm_set_run - the write side of /sys/kernel/mm/ksm/run
 * @run: KSM_RUN_STOP, KSM_RUN_MERGE or KSM_RUN_UNMERGE
 *
 * Returns 0 or the error that stopped the unmerge.
 */
int ksm_set_run(unsigned int run)
{
	mutex_lock(&ksm_thread_mutex);
	WRITE_ONCE(ksm_run, run);
	mutex_unlock(&ksm_thread_mutex);

	if (run & KSM_RUN_MERGE)
		ksmd_wake();
	return 0;
}

/* True while any KSM page exists: tree-wide knobs must not change then. */
static bool ksm_has_stable_pages(void)
{
	return ksm_count.pages_shared || ksm_count.stable_node_chains;
}

int ksm_set_max_page_sharing(int value)
{
	int err = 0;

	if (READ_ONCE(ksm_tun.max_page_sharing) == value)
		return 0;

	mutex_lock(&ksm_thread_mutex);
	if (ksm_tun.max_page_sharing != value) {
		if (ksm_has_stable_pages())
			err = -EBUSY;
		else
			WRITE_ONCE(ksm_tun.max_page_sharing, value);
	}
	mutex_unlock(&ksm_thread_mutex);
	return err;
}

int ksm_set_merge_across_nodes(unsigned int value)
{
	int err = 0;

	mutex_lock(&ksm_thread_mutex);
	if (ksm_tun.merge_across_nodes != value) {
		if (ksm_has_stable_pages())
			err = -EBUSY;
		else
			WRITE_ONCE(ksm_tun.merge_across_nodes, value);
	}
	mutex_unlock(&ksm_thread_mutex);
	return err;
}

/* Bytes saved by merging, system wide. */
long ksm_general_profit(void)
{
	return (long)(READ_ONCE(ksm_count.pages_sharing) +
		      atomic_long_read(&ksm_zero_pages)) * PAGE_SIZE;
}

/* Bytes saved by merging in one mm, as /proc/<pid>/ksm_stat shows. */
long ksm_mm_profit(struct mm_struct *mm)
{
	return (long)(mm->ksm_merging_pages + mm_ksm_zero_pages(mm)) *
	       PAGE_SIZE;
}

static int __init ksm_mod_init(void)
{
	int err;

	err = ksm_mm_init();
	if (err)
		return err;
	err = ksmd_start();
	if (err)
		goto out_mm;
	err = ksm_sysfs_init();
	if (err)
		goto out_ksmd;
	err = ksm_register_ops(&ksm_mod_ops);
	if (err) {
		pr_err("cannot register with the KSM dispatcher: %d%s\n", err,
		       err == -EBUSY ? " (another engine is loaded)" : "");
		goto out_sysfs;
	}
	err = ksm_mm_adopt_all();
	if (err)
		goto out_unregister;
	return 0;

out_unregister:
	ksm_unregister_ops(&ksm_mod_ops);
out_sysfs:
	ksm_sysfs_exit();
out_ksmd:
	ksmd_stop();
out_mm:
	ksm_mm_destroy();
	return err;
}

static void __exit ksm_mod_exit(void)
{
	ksm_unregister_ops(&ksm_mod_ops);
	ksm_sysfs_exit();
	ksmd_stop();
	ksm_mm_destroy();
}

module_init(ksm_mod_init);
module_exit(ksm_mod_exit);

MODULE_DESCRIPTION("Kernel Samepage Merging engine");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(KSM_INTERNAL);
