// SPDX-License-Identifier: GPL-2.0
/*
 * The engine's entry points, as registered with the built-in dispatcher:
 * what madvise, prctl, mmap, fork, exec and exit ask of KSM, and the
 * questions reclaim, migration, swap-in and memory failure put to it.
 *
 * Advice follows upstream: MADV_MERGEABLE on a compatible VMA sets
 * VM_MERGEABLE and registers the mm; MADV_UNMERGEABLE breaks the KSM
 * pages of the range first; prctl(PR_SET_MEMORY_MERGE) sets
 * MMF_VM_MERGE_ANY and marks every compatible VMA, present and future,
 * and clearing it unmerges them all.  Hooks run with the mm's mmap_lock
 * as the callers in mm hold it (for write, for the advice).
 */

#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/coredump.h>

#include "ksm_mod.h"

static void ksm_mark_vma(struct vm_area_struct *vma)
{
	if (!ksm_vma_advised(vma) && ksm_vma_compatible(vma))
		vm_flags_mod(vma, VM_MERGEABLE, 0);
}

static void ksm_mark_vmas(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;

	for_each_vma(vmi, vma)
		ksm_mark_vma(vma);
}

/* Break the KSM pages of every mergeable VMA and clear VM_MERGEABLE. */
static int ksm_unmark_vmas(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int err;

	for_each_vma(vmi, vma) {
		if (!ksm_vma_advised(vma))
			continue;
		if (vma->anon_vma) {
			err = ksm_unmerge_range(vma, vma->vm_start,
						vma->vm_end, true);
			if (err)
				return err;
		}
		vm_flags_mod(vma, 0, VM_MERGEABLE);
	}
	return 0;
}

static int ksm_hook_madvise(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, int advice,
			    unsigned long *vm_flags)
{
	int err;

	if (advice == MADV_MERGEABLE &&
	    !ksm_vma_advised(vma) && ksm_vma_compatible(vma)) {
		if (!ksm_mm_advised(vma->vm_mm)) {
			err = ksm_mm_enter(vma->vm_mm);
			if (err)
				return err;
		}
		*vm_flags |= VM_MERGEABLE;
	} else if (advice == MADV_UNMERGEABLE && (*vm_flags & VM_MERGEABLE)) {
		if (vma->anon_vma) {
			err = ksm_unmerge_range(vma, start, end, true);
			if (err)
				return err;
		}
		*vm_flags &= ~VM_MERGEABLE;
	}
	return 0;
}

static void ksm_hook_add_vma(struct vm_area_struct *vma)
{
	struct mm_struct *owner = vma->vm_mm;

	if (!ksm_mm_merge_any(owner))
		return;
	ksm_mark_vma(vma);
	/* ksmd drops the registration of an mm it found without advice. */
	if (!ksm_mm_advised(owner))
		ksm_mm_enter(owner);
}

static int ksm_hook_enable_merge_any(struct mm_struct *mm)
{
	int err;

	if (ksm_mm_merge_any(mm))
		return 0;
	if (!ksm_mm_advised(mm)) {
		err = ksm_mm_enter(mm);
		if (err)
			return err;
	}
	assign_bit(MMF_VM_MERGE_ANY, &mm->flags, true);
	ksm_mark_vmas(mm);
	return 0;
}

static int ksm_hook_disable_merge_any(struct mm_struct *mm)
{
	int err;

	if (!ksm_mm_merge_any(mm))
		return 0;
	err = ksm_unmark_vmas(mm);
	if (err) {
		ksm_mark_vmas(mm);
		return err;
	}
	assign_bit(MMF_VM_MERGE_ANY, &mm->flags, false);
	return 0;
}

static int ksm_hook_disable(struct mm_struct *mm)
{
	mmap_assert_write_locked(mm);

	if (!ksm_mm_advised(mm))
		return 0;
	if (ksm_mm_merge_any(mm))
		return ksm_hook_disable_merge_any(mm);
	return ksm_unmark_vmas(mm);
}

const struct ksm_ops ksm_mod_ops = {
	.madvise		= ksm_hook_madvise,
	.add_vma		= ksm_hook_add_vma,
	.enable_merge_any	= ksm_hook_enable_merge_any,
	.disable_merge_any	= ksm_hook_disable_merge_any,
	.disable		= ksm_hook_disable,
	.enter			= ksm_mm_enter,
	.exit			= ksm_mm_exit,
	.keep_swapin_folio	= ksm_keep_swapin_folio,
	.rmap_walk		= ksm_rmap_walk,
	.migrate		= ksm_migrate_folio,
	.collect_procs		= ksm_collect_procs,
	.process_profit		= ksm_mm_profit,
};
