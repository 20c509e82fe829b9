// SPDX-License-Identifier: GPL-2.0
/*
 * The registry of mms that asked for merging: one ksm_mm_slot per mm, in a
 * hash for lookup by mm and on a list in the order ksmd scans them.
 *
 * A registered mm carries MMF_VM_MERGEABLE and a grab (mmgrab()) held by
 * its slot, so the mm_struct outlives its slot even after the process has
 * exited.  Advice given while no engine was loaded is only recorded in the
 * mm's flags by the dispatcher; ksm_mm_adopt_all() turns those into slots
 * when the module is loaded.
 */

#include <linux/hashtable.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <trace/events/ksm.h>

#include "ksm_mod.h"

/**
 * struct ksm_mm_slot - an mm the engine tracks
 * @hash: link in ksm_mm_hash, keyed by @mm.
 * @link: link in ksm_mm_list, in scan order.
 * @mm: the tracked mm, grabbed for the slot's lifetime.
 */
struct ksm_mm_slot {
	struct hlist_node hash;
	struct list_head link;
	struct mm_struct *mm;
};

#define KSM_MM_HASH_BITS 10

/* ksm_mm_lock protects ksm_mm_hash and ksm_mm_list. */
static DEFINE_SPINLOCK(ksm_mm_lock);
static DEFINE_HASHTABLE(ksm_mm_hash, KSM_MM_HASH_BITS);
static LIST_HEAD(ksm_mm_list);

static struct kmem_cache *ksm_mm_slot_cache;

static struct ksm_mm_slot *ksm_mm_lookup(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;

	lockdep_assert_held(&ksm_mm_lock);
	hash_for_each_possible(ksm_mm_hash, slot, hash, (unsigned long)mm)
		if (slot->mm == mm)
			return slot;
	return NULL;
}

static bool ksm_mm_tracked(struct mm_struct *mm)
{
	bool tracked;

	spin_lock(&ksm_mm_lock);
	tracked = ksm_mm_lookup(mm);
	spin_unlock(&ksm_mm_lock);
	return tracked;
}

bool ksm_mm_list_empty(void)
{
	return list_empty_careful(&ksm_mm_list);
}

/**
 * ksm_mm_enter - start tracking @mm
 * @mm: an mm whose process asked for merging
 *
 * Idempotent: an mm already tracked (adopted while its process was
 * advising) keeps its slot.  Returns 0 or -ENOMEM.
 */
int ksm_mm_enter(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;
	bool was_empty;

	slot = kmem_cache_zalloc(ksm_mm_slot_cache, GFP_KERNEL);
	if (!slot)
		return -ENOMEM;
	slot->mm = mm;

	spin_lock(&ksm_mm_lock);
	if (ksm_mm_lookup(mm)) {
		spin_unlock(&ksm_mm_lock);
		kmem_cache_free(ksm_mm_slot_cache, slot);
		set_bit(MMF_VM_MERGEABLE, &mm->flags);
		return 0;
	}
	was_empty = list_empty(&ksm_mm_list);
	hash_add(ksm_mm_hash, &slot->hash, (unsigned long)mm);
	list_add_tail(&slot->link, &ksm_mm_list);
	mmgrab(mm);
	spin_unlock(&ksm_mm_lock);

	set_bit(MMF_VM_MERGEABLE, &mm->flags);
	if (was_empty)
		ksmd_wake();
	trace_ksm_enter(mm);
	return 0;
}

static void ksm_mm_slot_free(struct ksm_mm_slot *slot)
{
	mmdrop(slot->mm);
	kmem_cache_free(ksm_mm_slot_cache, slot);
}

/**
 * ksm_mm_exit - forget @mm, whose last user is gone
 * @mm: the exiting mm
 */
void ksm_mm_exit(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;

	spin_lock(&ksm_mm_lock);
	slot = ksm_mm_lookup(mm);
	if (slot) {
		hash_del(&slot->hash);
		list_del(&slot->link);
	}
	spin_unlock(&ksm_mm_lock);

	if (slot) {
		clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
		clear_bit(MMF_VM_MERGEABLE, &mm->flags);
		ksm_mm_slot_free(slot);
	}
	trace_ksm_exit(mm);
}

/*
 * Find one live mm that carries the advice flag but has no slot, and take
 * a user reference on it.  The walk runs under RCU, so the allocation that
 * adopting needs happens after it, one mm per walk.
 */
static struct mm_struct *ksm_find_unadopted_mm(void)
{
	struct task_struct *g, *t;
	struct mm_struct *found = NULL;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		struct mm_struct *mm;

		if (t->flags & PF_KTHREAD)
			continue;
		mm = READ_ONCE(t->mm);
		if (!mm || !test_bit(MMF_VM_MERGEABLE, &mm->flags) ||
		    ksm_mm_tracked(mm))
			continue;
		found = get_task_mm(t);
		if (found)
			break;
	}
	rcu_read_unlock();
	return found;
}

/**
 * ksm_mm_adopt_all - track every mm that was advised before the engine
 *
 * Called after the engine is registered, so any mm advised from now on is
 * entered by the hooks themselves.  Returns 0 or -ENOMEM.
 */
int ksm_mm_adopt_all(void)
{
	struct mm_struct *mm;
	int err = 0;

	while (!err && (mm = ksm_find_unadopted_mm())) {
		err = ksm_mm_enter(mm);
		mmput(mm);
	}
	return err;
}

/* Drop every slot; the advice stays in the mms' flags for a later engine. */
static void ksm_mm_forget_all(void)
{
	struct ksm_mm_slot *slot, *next;
	LIST_HEAD(doomed);
	int bkt;

	spin_lock(&ksm_mm_lock);
	hash_for_each(ksm_mm_hash, bkt, slot, hash)
		hash_del(&slot->hash);
	list_splice_init(&ksm_mm_list, &doomed);
	spin_unlock(&ksm_mm_lock);

	list_for_each_entry_safe(slot, next, &doomed, link)
		ksm_mm_slot_free(slot);
}

int ksm_mm_init(void)
{
	ksm_mm_slot_cache = KMEM_CACHE(ksm_mm_slot, 0);
	return ksm_mm_slot_cache ? 0 : -ENOMEM;
}

void ksm_mm_destroy(void)
{
	ksm_mm_forget_all();
	kmem_cache_destroy(ksm_mm_slot_cache);
}
