// SPDX-License-Identifier: GPL-2.0
/*
 * Memory hot-remove.  While a memory block goes offline, ksmd and the
 * other walkers of the stable index must keep off it: migration is moving
 * KSM pages out of the block, and struct pages of offlined memory must not
 * be looked at.  KSM_RUN_OFFLINE in ksm_run marks that time; ksmd and the
 * sysfs stores wait on that bit.  Once offline, stable nodes still
 * pointing into the block are dropped without looking at their pages.
 */

#include <linux/memory.h>
#include <linux/wait_bit.h>

#include "ksm_mod.h"

#define KSM_RUN_OFFLINE_BIT	2

/* Call with ksmd_mutex held; it is dropped while waiting. */
void ksm_wait_while_offlining(void)
{
	while (READ_ONCE(ksm_run) & BIT(KSM_RUN_OFFLINE_BIT)) {
		mutex_unlock(&ksmd_mutex);
		wait_on_bit(&ksm_run, KSM_RUN_OFFLINE_BIT,
			    TASK_UNINTERRUPTIBLE);
		mutex_lock(&ksmd_mutex);
	}
}

/* Memory is going offline: ksmd and the knob writers wait until it is done. */
static void ksm_offline_begin(void)
{
	mutex_lock(&ksmd_mutex);
	set_bit(KSM_RUN_OFFLINE_BIT, &ksm_run);
	mutex_unlock(&ksmd_mutex);
}

static void ksm_offline_end(void)
{
	mutex_lock(&ksmd_mutex);
	clear_bit(KSM_RUN_OFFLINE_BIT, &ksm_run);
	mutex_unlock(&ksmd_mutex);
	/* Pairs with the test in wait_on_bit(). */
	smp_mb__after_atomic();
	wake_up_bit(&ksm_run, KSM_RUN_OFFLINE_BIT);
}

static int ksm_memory_notify(struct notifier_block *nb, unsigned long action,
			     void *arg)
{
	const struct memory_notify *range = arg;

	if (action == MEM_GOING_OFFLINE) {
		ksm_offline_begin();
		return NOTIFY_OK;
	}
	/* Nodes of pages left in the range are stale: drop them first. */
	if (action == MEM_OFFLINE)
		ksm_stable_remove_range(range->start_pfn,
					range->start_pfn + range->nr_pages);
	if (action == MEM_OFFLINE || action == MEM_CANCEL_OFFLINE)
		ksm_offline_end();
	return NOTIFY_OK;
}

static struct notifier_block ksm_memory_nb = {
	.notifier_call = ksm_memory_notify,
	/* Same priority as the built-in engine's callback. */
	.priority = KSM_CALLBACK_PRI,
};

int ksm_hotplug_init(void)
{
	return register_memory_notifier(&ksm_memory_nb);
}

void ksm_hotplug_exit(void)
{
	unregister_memory_notifier(&ksm_memory_nb);
}
