// SPDX-License-Identifier: GPL-2.0
/*
 * Breaking the sharing again: a mapping of a KSM page (or of the zero page
 * that use_zero_pages put there) gets a private copy of its own through an
 * unsharing fault, as if the process had written to it.
 *
 * A range is unmerged in rounds: one page-table walk finds the next
 * KSM_BREAK_BATCH mappings to break, the faults break them, and the next
 * walk starts again at the first of them, so that it also sees any fault
 * that backed out on a race and left its KSM page mapped.  A round costs
 * one pass over the PTE tables it covers, where looking each address up
 * on its own would cost a descent from the PGD per page, twice (before
 * and after its fault).
 */

#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "ksm_mod.h"

#define KSM_BREAK_BATCH	64

/* The mappings one walk found; its private data. */
struct ksm_break_batch {
	unsigned long addr[KSM_BREAK_BATCH];
	unsigned int nr;
};

/* Does @pte map a KSM page (or one being migrated), or the KSM zero page? */
static bool ksm_pte_shares(struct vm_area_struct *vma, unsigned long addr,
			   pte_t pte)
{
	struct page *page;
	swp_entry_t entry;

	if (pte_present(pte)) {
		if (is_ksm_zero_pte(pte))
			return true;
		page = vm_normal_page(vma, addr, pte);
		return page ? folio_test_ksm(page_folio(page)) : false;
	}
	if (pte_none(pte))
		return false;
	/* The fault waits for the migration, and the next walk looks again. */
	entry = pte_to_swp_entry(pte);
	return is_migration_entry(entry) &&
	       folio_test_ksm(pfn_swap_entry_folio(entry));
}

static int ksm_break_find_pmd(pmd_t *pmdp, unsigned long addr,
			      unsigned long end, struct mm_walk *walk)
{
	struct ksm_break_batch *batch = walk->private;
	pte_t *start_pte, *ptep;
	spinlock_t *ptl;	/* the PTE table's lock */
	pmd_t seen = pmdp_get_lockless(pmdp);

	/* A PMD-mapped folio is large, and KSM pages are small. */
	if (!pmd_present(seen) || pmd_leaf(seen))
		return 0;

	start_pte = pte_offset_map_lock(walk->mm, pmdp, addr, &ptl);
	if (!start_pte)
		return 0;
	for (ptep = start_pte; addr < end; ptep++, addr += PAGE_SIZE) {
		if (!ksm_pte_shares(walk->vma, addr, ptep_get(ptep)))
			continue;
		batch->addr[batch->nr++] = addr;
		if (batch->nr == KSM_BREAK_BATCH)
			break;
	}
	pte_unmap_unlock(start_pte, ptl);
	return batch->nr == KSM_BREAK_BATCH;
}

static const struct mm_walk_ops ksm_break_find_ops = {
	.pmd_entry = ksm_break_find_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

static vm_fault_t ksm_unshare(struct vm_area_struct *vma, unsigned long addr)
{
	cond_resched();
	return handle_mm_fault(vma, addr, FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE,
			       NULL);
}

/*
 * SIGBUS and SIGSEGV: the mapping went away under the fault, and took the
 * KSM page with it.  OOM (a memcg limit): reported, with VM_MERGEABLE left
 * set so that a later unmerge retries.
 */
#define KSM_UNSHARE_STOP	(VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_OOM)

/**
 * ksm_break_page - give the mapping at @where back a private page
 * @vma: a VMA of the mm (mmap_lock held)
 * @where: page address
 * @lock_vma: take the per-VMA write lock (caller has mmap_lock for write)
 *
 * Only KSM pages and KSM zero pages are touched.  Faults are retried until
 * the KSM page is gone, since a fault may back out on a race.  Returns 0,
 * or -ENOMEM if the fault ran out of memory.
 */
int ksm_break_page(struct vm_area_struct *vma, unsigned long where,
		   bool lock_vma)
{
	vm_fault_t fault = 0;

	if (lock_vma)
		vma_start_write(vma);

	for (;;) {
		struct folio_walk fw;
		struct folio *folio;
		bool ksm = false;

		folio = folio_walk_start(&fw, vma, where,
					 FW_MIGRATION | FW_ZEROPAGE);
		if (folio) {
			/* Small folios are mapped by PTEs only. */
			ksm = !folio_test_large(folio) &&
			      (folio_test_ksm(folio) || is_ksm_zero_pte(fw.pte));
			folio_walk_end(&fw, vma);
		}
		if (!ksm)
			return 0;
		fault = ksm_unshare(vma, where);
		if (fault & KSM_UNSHARE_STOP)
			break;
	}
	return (fault & VM_FAULT_OOM) ? -ENOMEM : 0;
}

/**
 * ksm_unmerge_range - break every KSM page in [@start, @end) of @vma
 * @vma: the VMA (mmap_lock held)
 * @start: first address
 * @end: end address
 * @lock_vma: as for ksm_break_page()
 *
 * Returns 0, -ERESTARTSYS if a signal arrived, or -ENOMEM.
 */
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end, bool lock_vma)
{
	struct ksm_break_batch batch;
	unsigned long addr = start;
	unsigned int i, stuck;
	vm_fault_t fault;

	if (lock_vma)
		vma_start_write(vma);

	while (addr < end) {
		if (ksm_mm_exiting(vma->vm_mm))
			return 0;
		if (signal_pending(current))
			return -ERESTARTSYS;
		batch.nr = 0;
		walk_page_range_vma(vma, addr, end, &ksm_break_find_ops,
				    &batch);
		if (!batch.nr)
			return 0;

		for (i = 0; i < batch.nr; i++) {
			fault = ksm_unshare(vma, batch.addr[i]);
			if (fault & VM_FAULT_OOM)
				return -ENOMEM;
			if (fault & KSM_UNSHARE_STOP)
				break;
		}
		if (i == batch.nr) {
			/* The next walk checks this batch too. */
			addr = batch.addr[0];
			continue;
		}
		/*
		 * The mapping at batch.addr[i] is left as it is, as a lone
		 * ksm_break_page() would leave it; the ones before it are
		 * checked one by one, and the walk goes on after it.
		 */
		for (stuck = i; i--; ) {
			if (ksm_break_page(vma, batch.addr[i], false))
				return -ENOMEM;
		}
		addr = batch.addr[stuck] + PAGE_SIZE;
	}
	return 0;
}
