// SPDX-License-Identifier: GPL-2.0
/*
 * The questions the rest of mm asks about a KSM page: where it is mapped
 * (reclaim, migration, page_referenced, memory failure), whether a swap-in
 * may map it as it is, and where it went when migration moved it.
 *
 * These run without ksmd_mutex, with the KSM folio locked: the
 * folio lock keeps its stable node and the node's list of rmap items from
 * changing under them.
 */

#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>

#include "ksm_mod.h"

bool ksm_keep_swapin_folio(struct folio *folio)
{
	return ksm_folio_node(folio) &&
	       !(READ_ONCE(ksm_run) & KSM_RUN_UNMERGE);
}

/*
 * Call @rwc on every VMA of @item's anon_vma that maps the item's address:
 * in the item's own mm on the first pass, in other mms (forked children
 * that ksmd has not met yet) on the second.  Returns false to stop.
 */
static bool ksm_vma_holds(const struct vm_area_struct *vma, unsigned long addr)
{
	return vma->vm_start <= addr && addr < vma->vm_end;
}

/* Does this pass of @rwc want @vma at @addr (the caller's filter too)? */
static bool ksm_walk_wants(struct rmap_walk_control *rwc,
			   struct vm_area_struct *vma, unsigned long addr,
			   const struct ksm_rmap_item *item, bool others)
{
	bool own_mm = vma->vm_mm == item->mm;

	/* This pass's mms only, and VMAs that hold the address. */
	if (own_mm == others || !ksm_vma_holds(vma, addr))
		return false;
	return !rwc->invalid_vma || !rwc->invalid_vma(vma, rwc->arg);
}

static bool ksm_walk_item(struct folio *folio, struct ksm_rmap_item *item,
			  struct rmap_walk_control *rwc, bool others)
{
	struct anon_vma *av = item->anon_vma;
	unsigned long addr = ksm_item_addr(item);
	struct anon_vma_chain *avc;
	bool go_on = true;

	/* A caller that may not sleep on the lock hears it was busy. */
	if (rwc->try_lock && !anon_vma_trylock_read(av)) {
		rwc->contended = true;
		return false;
	}
	if (!rwc->try_lock)
		anon_vma_lock_read(av);
	anon_vma_interval_tree_foreach(avc, &av->rb_root, 0, ULONG_MAX) {
		cond_resched();
		if (!ksm_walk_wants(rwc, avc->vma, addr, item, others))
			continue;
		go_on = rwc->rmap_one(folio, avc->vma, addr, rwc->arg) &&
			!(rwc->done && rwc->done(folio));
		if (!go_on)
			break;
	}
	anon_vma_unlock_read(av);
	return go_on;
}

void ksm_rmap_walk(struct folio *folio, struct rmap_walk_control *rwc)
{
	struct ksm_stable_node *node = ksm_folio_node(folio);
	struct ksm_rmap_item *item;
	int others;

	if (!node)
		return;
	for (others = 0; others <= 1; others++)
		for (item = ksm_node_first_item(node); item;
		     item = ksm_node_next_item(item)) {
			cond_resched();
			if (!ksm_walk_item(folio, item, rwc, others))
				return;
		}
}

void ksm_migrate_folio(struct folio *newfolio, struct folio *folio)
{
	struct ksm_stable_node *node = ksm_folio_node(folio);

	if (!node)
		return;
	VM_WARN_ON_ONCE_FOLIO(node->kpfn != folio_pfn(folio), folio);
	WRITE_ONCE(node->kpfn, folio_pfn(newfolio));
	/*
	 * newfolio->mapping already points at the node.  Publish the new
	 * kpfn before the old folio stops pointing at it, so the keyhole
	 * check in ksm_node_get_folio() never sees both stale.
	 */
	smp_wmb();
	ksm_folio_set_node(folio, NULL);
}

#ifdef CONFIG_MEMORY_FAILURE
/* Queue every task that maps @page through @av at @addr. */
static void ksm_queue_killable(struct anon_vma *av, struct page *page,
			       unsigned long addr, struct list_head *kill_list,
			       int early)
{
	struct task_struct *tsk;

	anon_vma_lock_read(av);
	rcu_read_lock();
	for_each_process(tsk) {
		struct task_struct *t = task_early_kill(tsk, early);
		struct anon_vma_chain *avc;

		if (!t)
			continue;
		anon_vma_interval_tree_foreach(avc, &av->rb_root, 0, ULONG_MAX)
			if (avc->vma->vm_mm == t->mm)
				add_to_kill_ksm(t, page, avc->vma, kill_list,
						addr);
	}
	rcu_read_unlock();
	anon_vma_unlock_read(av);
}

void ksm_collect_procs(struct folio *folio, struct page *page,
		       struct list_head *kill_list, int early)
{
	struct ksm_stable_node *node = ksm_folio_node(folio);
	struct ksm_rmap_item *item;

	if (!node)
		return;
	for (item = ksm_node_first_item(node); item;
	     item = ksm_node_next_item(item))
		ksm_queue_killable(item->anon_vma, page, ksm_item_addr(item),
				   kill_list, early);
}
#else
void ksm_collect_procs(struct folio *folio, struct page *page,
		       struct list_head *kill_list, int early)
{
}
#endif
