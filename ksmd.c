// SPDX-License-Identifier: GPL-2.0
/*
 * ksmd, the scanning thread: runs a batch of pages_to_scan pages under
 * ksmd_mutex, sleeps sleep_millisecs, and parks on a wait queue
 * while run is not 1 or nothing is registered.  It is freezable, so
 * suspend and hibernation stop it between batches.
 */

#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/wait.h>

#include "ksm_mod.h"

static struct task_struct *ksmd_task;
/* ksmd waits here while it has nothing to do. */
static DECLARE_WAIT_QUEUE_HEAD(ksmd_idle_wait);
/* ksmd sleeps here between batches; a new sleep_millisecs wakes it. */
static DECLARE_WAIT_QUEUE_HEAD(ksmd_batch_wait);

static bool ksmd_should_run(void)
{
	return (READ_ONCE(ksm_run) & KSM_RUN_MERGE) && !ksm_mm_list_empty();
}

static bool ksmd_may_continue(void)
{
	return ksmd_should_run() || kthread_should_stop();
}

/* Sleep @ms between batches, or less if sleep_millisecs changes. */
static void ksmd_nap(unsigned int ms)
{
	wait_event_freezable_timeout(ksmd_batch_wait,
				     ms != READ_ONCE(ksm_tun.sleep_millisecs) ||
				     kthread_should_stop(),
				     msecs_to_jiffies(ms));
}

static int ksmd_fn(void *unused)
{
	set_freezable();
	set_user_nice(current, 5);

	for (;;) {
		if (kthread_should_stop())
			break;
		mutex_lock(&ksmd_mutex);
		ksm_wait_while_offlining();
		if (ksmd_should_run())
			ksm_scan_batch(READ_ONCE(ksm_tun.pages_to_scan));
		mutex_unlock(&ksmd_mutex);

		if (ksmd_should_run())
			ksmd_nap(READ_ONCE(ksm_tun.sleep_millisecs));
		else
			wait_event_freezable(ksmd_idle_wait, ksmd_may_continue());
	}
	return 0;
}

/* Tell ksmd that run was set or an mm was registered. */
void ksmd_wake(void)
{
	wake_up_interruptible(&ksmd_idle_wait);
}

/* Tell ksmd that sleep_millisecs changed, so it need not finish its nap. */
void ksmd_sleep_changed(void)
{
	wake_up_interruptible(&ksmd_batch_wait);
}

int ksmd_start(void)
{
	struct task_struct *task;

	task = kthread_run(ksmd_fn, NULL, "ksmd");
	if (IS_ERR(task))
		return PTR_ERR(task);
	ksmd_task = task;
	return 0;
}

void ksmd_stop(void)
{
	kthread_stop(ksmd_task);
	ksmd_task = NULL;
}
