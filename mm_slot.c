// SPDX-License-Identifier: GPL-2.0
/*
 * The registry of mms that asked for merging: one ksm_mm_slot per mm, in a
 * hash for lookup by mm and on a circular list, headed by ksm_mm_head, in
 * the order ksmd scans them.  The scan cursor (ksm_scan.slot) points at the
 * slot ksmd is in, or at the head between full scans.
 *
 * A registered mm carries MMF_VM_MERGEABLE and a grab (mmgrab()) held by
 * its slot, so the mm_struct outlives its slot even after the process has
 * exited.  Mms advised while no engine was loaded are parked by the
 * dispatcher; ksm_mm_adopt_all() turns them into slots when the module is
 * loaded, and ksm_mm_destroy() parks the live ones again at unload.
 *
 * Exit protocol: an exiting mm whose slot has no rmap items and is not
 * under the cursor is freed at once.  Otherwise the slot is moved just
 * after the cursor and left for ksmd, which sees mm_users at zero, drops
 * the items and frees the slot; the exiting task takes mmap_lock for write
 * once, so that any page-table work ksmd is doing in the mm completes
 * before the page tables go.
 */

#include <linux/hashtable.h>
#include <linux/ksm_engine.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <trace/events/ksm.h>

#include "ksm_mod.h"

#define KSM_MM_HASH_BITS 10

/* ksm_mm_lock protects ksm_mm_hash, the slot list and ksm_scan.slot. */
static DEFINE_SPINLOCK(ksm_mm_lock);
static DEFINE_HASHTABLE(ksm_mm_hash, KSM_MM_HASH_BITS);
/* The list's anchor: the cursor rests here between full scans. */
static struct ksm_mm_slot ksm_mm_head = { .link = LIST_HEAD_INIT(ksm_mm_head.link) };

struct ksm_scan_cursor ksm_scan = {
	.slot = &ksm_mm_head,
};

static struct kmem_cache *ksm_mm_slot_cache;

static void ksm_mm_note_advice(struct mm_struct *mm)
{
	assign_bit(MMF_VM_MERGEABLE, &mm->flags, true);
}

/* Unregistered: merge-any advice goes too, if @all (the mm exited). */
static void ksm_mm_forget_advice(struct mm_struct *mm, bool all)
{
	unsigned long *flags = &mm->flags;

	/* Merge-any first: it is what would register the mm again. */
	if (all)
		assign_bit(MMF_VM_MERGE_ANY, flags, false);
	assign_bit(MMF_VM_MERGEABLE, flags, false);
}

static struct ksm_mm_slot *ksm_mm_lookup(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;

	lockdep_assert_held(&ksm_mm_lock);
	hash_for_each_possible(ksm_mm_hash, slot, hash, (unsigned long)mm)
		if (slot->mm == mm)
			return slot;
	return NULL;
}

bool ksm_mm_list_empty(void)
{
	return list_empty_careful(&ksm_mm_head.link);
}

bool ksm_mm_is_head(struct ksm_mm_slot *slot)
{
	return slot == &ksm_mm_head;
}

static struct ksm_mm_slot *ksm_mm_after(struct ksm_mm_slot *slot)
{
	return list_entry(slot->link.next, struct ksm_mm_slot, link);
}

/* The first slot of a full scan (the head itself if there is none). */
struct ksm_mm_slot *ksm_mm_first(void)
{
	struct ksm_mm_slot *slot;

	spin_lock(&ksm_mm_lock);
	slot = ksm_mm_after(&ksm_mm_head);
	ksm_scan.slot = slot;
	spin_unlock(&ksm_mm_lock);
	return slot;
}

/* Put the cursor back at the head: the next scan starts afresh. */
void ksm_mm_rewind(void)
{
	spin_lock(&ksm_mm_lock);
	ksm_scan.slot = &ksm_mm_head;
	spin_unlock(&ksm_mm_lock);
}

/* Move the cursor past @slot and return where it landed. */
struct ksm_mm_slot *ksm_mm_next(struct ksm_mm_slot *slot)
{
	spin_lock(&ksm_mm_lock);
	slot = ksm_mm_after(slot);
	ksm_scan.slot = slot;
	spin_unlock(&ksm_mm_lock);
	return slot;
}

/* Take @slot out of the hash and the list; ksm_mm_lock held. */
static void ksm_mm_detach(struct ksm_mm_slot *slot)
{
	hash_del(&slot->hash);
	list_del(&slot->link);
}

static void ksm_mm_slot_free(struct ksm_mm_slot *slot)
{
	mmdrop(slot->mm);
	kmem_cache_free(ksm_mm_slot_cache, slot);
}

/**
 * ksm_mm_unlist - move the cursor past @slot and unregister its mm
 * @slot: the slot under the cursor, with no rmap items left
 *
 * The caller holds the mm's mmap_lock, so that clearing MMF_VM_MERGEABLE
 * cannot race with MADV_MERGEABLE (which registers the mm again if the
 * flag is clear), and calls ksm_mm_release() after dropping it.  Only
 * MMF_VM_MERGEABLE is cleared: a process with MMF_VM_MERGE_ANY registers
 * itself again on its next mmap.
 */
void ksm_mm_unlist(struct ksm_mm_slot *slot)
{
	spin_lock(&ksm_mm_lock);
	ksm_scan.slot = ksm_mm_after(slot);
	ksm_mm_detach(slot);
	spin_unlock(&ksm_mm_lock);
	ksm_mm_forget_advice(slot->mm, false);
}

/* Free a slot ksm_mm_unlist() took off the list. */
void ksm_mm_release(struct ksm_mm_slot *slot)
{
	ksm_mm_slot_free(slot);
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
		ksm_mm_note_advice(mm);
		return 0;
	}
	was_empty = list_empty(&ksm_mm_head.link);
	hash_add(ksm_mm_hash, &slot->hash, (unsigned long)mm);
	/*
	 * While unmerging, go at the end so the unmerge pass does not miss
	 * this mm's KSM pages (a fork); otherwise just behind the cursor, so
	 * a fork followed by exec is gone before ksmd spends time on it.
	 */
	if (READ_ONCE(ksm_run) & KSM_RUN_UNMERGE)
		list_add_tail(&slot->link, &ksm_mm_head.link);
	else
		list_add_tail(&slot->link, &ksm_scan.slot->link);
	mmgrab(mm);
	spin_unlock(&ksm_mm_lock);

	ksm_mm_note_advice(mm);
	if (was_empty)
		ksmd_wake();
	trace_ksm_enter(mm);
	return 0;
}

/**
 * ksm_mm_exit - @mm's last user is gone
 * @mm: the exiting mm
 */
void ksm_mm_exit(struct mm_struct *mm)
{
	struct ksm_mm_slot *slot;
	bool ksmd_cleans;

	spin_lock(&ksm_mm_lock);
	slot = ksm_mm_lookup(mm);
	/*
	 * Items, or the cursor on it: ksmd must clean the slot up, so put it
	 * right after the cursor (where it already is, if under it).
	 * Otherwise nobody else knows about the slot: free it now.
	 */
	ksmd_cleans = slot && (slot->items || ksm_scan.slot == slot);
	if (ksmd_cleans && ksm_scan.slot != slot)
		list_move(&slot->link, &ksm_scan.slot->link);
	else if (slot && !ksmd_cleans)
		ksm_mm_detach(slot);
	spin_unlock(&ksm_mm_lock);

	if (ksmd_cleans) {
		/* Wait out any page-table work ksmd is doing in this mm. */
		mmap_write_lock(mm);
		mmap_write_unlock(mm);
	} else if (slot) {
		ksm_mm_forget_advice(mm, true);
		ksm_mm_slot_free(slot);
	}
	trace_ksm_exit(mm);
}

/* Take over one parked mm, unless it has exited since it was parked. */
static int ksm_mm_adopt(struct mm_struct *mm)
{
	int err;

	if (!mmget_not_zero(mm))
		return 0;
	err = ksm_mm_enter(mm);
	mmput(mm);
	return err;
}

/**
 * ksm_mm_adopt_all - track every mm that was advised before the engine
 *
 * Called after the engine is registered, so any mm advised from now on is
 * entered by the hooks themselves.  Returns 0 or -ENOMEM (the mms not yet
 * adopted stay parked).
 */
int ksm_mm_adopt_all(void)
{
	return ksm_adopt_parked(ksm_mm_adopt);
}

int ksm_mm_init(void)
{
	ksm_mm_slot_cache = KMEM_CACHE(ksm_mm_slot, 0);
	return ksm_mm_slot_cache ? 0 : -ENOMEM;
}

/* Leave a live, advised mm to the dispatcher for the next engine. */
static void ksm_mm_hand_back(struct mm_struct *mm)
{
	if (!mmget_not_zero(mm))
		return;
	if (ksm_mm_advised(mm))
		ksm_park_mm(mm, GFP_KERNEL | __GFP_NOFAIL);
	mmput(mm);
}

/*
 * Drop every slot and park its mm for a later engine.  Called at unload
 * (or a failed load), after unregistering, with ksmd stopped or idle and
 * no KSM page left: the remaining rmap items are only bookkeeping.  An mm
 * exiting meanwhile is either still grabbed here, so its exit finds it
 * parked, or gone before ksm_mm_hand_back() could take a user reference.
 */
void ksm_mm_destroy(void)
{
	struct ksm_mm_slot *slot, *next;
	LIST_HEAD(doomed);
	int bkt;

	spin_lock(&ksm_mm_lock);
	hash_for_each(ksm_mm_hash, bkt, slot, hash)
		hash_del(&slot->hash);
	list_splice_init(&ksm_mm_head.link, &doomed);
	ksm_scan.slot = &ksm_mm_head;
	spin_unlock(&ksm_mm_lock);

	list_for_each_entry_safe(slot, next, &doomed, link) {
		ksm_items_drop_from(&slot->items);
		ksm_mm_hand_back(slot->mm);
		ksm_mm_slot_free(slot);
	}
	kmem_cache_destroy(ksm_mm_slot_cache);
}
