// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mod core: module load and unload, the engine-wide state (tunables,
 * counters, run), and the state changes that need ksmd to be quiet.
 *
 * Load order: caches, ksmd (idle: run is 0), the memory hotplug notifier,
 * registration with the dispatcher, adoption of the mms it parked while no
 * engine was loaded, and sysfs last: nothing can set run, so nothing is
 * merged, before every step that can fail has succeeded, and a failed load
 * unwinds with no stable node (no folio pointing into this module).
 * Unload runs it backwards; after ksm_unregister_ops() returns no hook can
 * be running in this module, and ksm_mm_destroy() parks the mms it tracked
 * again for the next engine.
 */

#include <linux/init.h>
#include <linux/ksm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/oom.h>

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
DEFINE_MUTEX(ksmd_mutex);

/**
 * ksm_set_run - the write side of /sys/kernel/mm/ksm/run
 * @run: KSM_RUN_STOP, KSM_RUN_MERGE or KSM_RUN_UNMERGE
 *
 * Returns 0 or the error that stopped the unmerge (which leaves run 0).
 */
int ksm_set_run(unsigned int run)
{
	int err = 0;

	mutex_lock(&ksmd_mutex);
	ksm_wait_while_offlining();
	if (ksm_run != run) {
		WRITE_ONCE(ksm_run, run);
		if (run & KSM_RUN_UNMERGE) {
			/* Unmerging allocates: be the OOM killer's choice. */
			set_current_oom_origin();
			err = ksm_unmerge_all();
			clear_current_oom_origin();
			if (err)
				WRITE_ONCE(ksm_run, KSM_RUN_STOP);
		}
	}
	mutex_unlock(&ksmd_mutex);

	if (run & KSM_RUN_MERGE)
		ksmd_wake();
	return err;
}

/*
 * Knobs that reshape the stable index can change only while there is no
 * KSM page: stable nodes of unmapped pages are dropped first.
 */
static bool ksm_index_busy(void)
{
	return ksm_count.pages_shared || ksm_stable_remove_all();
}

int ksm_set_max_page_sharing(int value)
{
	int err = 0;

	if (READ_ONCE(ksm_tun.max_page_sharing) == value)
		return 0;

	mutex_lock(&ksmd_mutex);
	ksm_wait_while_offlining();
	if (ksm_tun.max_page_sharing != value) {
		if (ksm_index_busy())
			err = -EBUSY;
		else
			WRITE_ONCE(ksm_tun.max_page_sharing, value);
	}
	mutex_unlock(&ksmd_mutex);
	return err;
}

int ksm_set_merge_across_nodes(unsigned int value)
{
	int err = 0;

	mutex_lock(&ksmd_mutex);
	ksm_wait_while_offlining();
	if (ksm_tun.merge_across_nodes != value) {
		if (ksm_index_busy())
			err = -EBUSY;
		else
			WRITE_ONCE(ksm_tun.merge_across_nodes, value);
	}
	mutex_unlock(&ksmd_mutex);
	return err;
}

/* Bytes saved by merging, system wide, net of the rmap items' memory. */
long ksm_general_profit(void)
{
	return (long)(READ_ONCE(ksm_count.pages_sharing) +
		      atomic_long_read(&ksm_zero_pages)) * PAGE_SIZE -
	       (long)(READ_ONCE(ksm_count.rmap_items) * ksm_item_bytes());
}

/* The same for one mm, as /proc/<pid>/ksm_stat shows it. */
long ksm_mm_profit(struct mm_struct *mm)
{
	return (long)(mm->ksm_merging_pages + mm_ksm_zero_pages(mm)) *
	       PAGE_SIZE - (long)(mm->ksm_rmap_items * ksm_item_bytes());
}

/*
 * While any stable node exists a folio's mapping may point into this
 * module: keep it loaded.  Fails once the module is being unloaded.
 */
bool ksm_pin_module(void)
{
	return try_module_get(THIS_MODULE);
}

void ksm_unpin_module(void)
{
	module_put(THIS_MODULE);
}

static int __init ksm_mod_init(void)
{
	int err;

	ksm_content_init();

	err = ksm_item_cache_init();
	if (err)
		return err;
	err = ksm_stable_init();
	if (err)
		goto out_items;
	err = ksm_mm_init();
	if (err)
		goto out_stable;
	err = ksmd_start();
	if (err)
		goto out_mm;
	err = ksm_hotplug_init();
	if (err)
		goto out_ksmd;
	err = ksm_register_ops(&ksm_mod_ops);
	if (err) {
		pr_err("cannot register with the KSM dispatcher: %d%s\n", err,
		       err == -EBUSY ? " (another engine is loaded)" : "");
		goto out_hotplug;
	}
	err = ksm_mm_adopt_all();
	if (err)
		goto out_unregister;
	err = ksm_sysfs_init();
	if (err)
		goto out_unregister;
	ksm_debugfs_init();
	return 0;

out_unregister:
	ksm_unregister_ops(&ksm_mod_ops);
out_hotplug:
	ksm_hotplug_exit();
out_ksmd:
	ksmd_stop();
out_mm:
	ksm_mm_destroy();
	ksm_unstable_destroy();
out_stable:
	ksm_stable_destroy();
out_items:
	ksm_item_cache_destroy();
	return err;
}

/*
 * Only reached with no stable node left (each pins the module), so no
 * folio points into this module; what is left is bookkeeping.
 */
static void __exit ksm_mod_exit(void)
{
	ksm_debugfs_exit();
	ksm_sysfs_exit();
	ksm_unregister_ops(&ksm_mod_ops);
	ksm_hotplug_exit();
	ksmd_stop();
	ksm_mm_destroy();
	ksm_unstable_destroy();
	ksm_stable_destroy();
	ksm_item_cache_destroy();
}

module_init(ksm_mod_init);
module_exit(ksm_mod_exit);

MODULE_DESCRIPTION("Kernel Samepage Merging engine");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(KSM_INTERNAL);
