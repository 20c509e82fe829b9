// SPDX-License-Identifier: GPL-2.0
/*
 * Changing page tables: making a page a KSM page, and pointing a PTE at a
 * KSM page (or at the zero page) instead of its own page.  Breaking the
 * sharing again is in unmerge.c.
 *
 * Both run with the page locked.  Making a page a KSM page write-protects
 * its PTE, after checking that nothing but its mappings holds a reference
 * (a GUP pin would see later writes that the KSM page would not).
 * Merging a page into a KSM page clears its PTE (one TLB flush), counts
 * the references as above, compares the pages while the PTE lock keeps
 * the PTE clear, and then sets the PTE to the KSM page, or back.
 */

#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/swap.h>

#include <asm/tlbflush.h>

#include "ksm_mod.h"

/**
 * ksm_find_vma - the mergeable VMA at @addr, if ksmd may work in it
 * @mm: a registered mm, mmap_lock held
 * @addr: page address
 */
struct vm_area_struct *ksm_find_vma(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;

	if (ksm_mm_exiting(mm))
		return NULL;
	vma = vma_lookup(mm, addr);
	if (!vma || !ksm_vma_advised(vma) || !vma->anon_vma)
		return NULL;
	return vma;
}

/**
 * ksm_item_vma_lock - lock @item's mm and find the mergeable VMA of its page
 * @item: an rmap item
 *
 * Returns the VMA, with the mm's mmap_lock held for reading; or NULL,
 * without it, if ksmd has nothing to do there any more.
 */
struct vm_area_struct *ksm_item_vma_lock(const struct ksm_rmap_item *item)
{
	struct vm_area_struct *vma;

	mmap_read_lock(item->mm);
	vma = ksm_find_vma(item->mm, ksm_item_addr(item));
	if (!vma)
		mmap_read_unlock(item->mm);
	return vma;
}

/*
 * Find and lock the PTE through which @mapped's VMA maps its folio (of one
 * page), inside a notifier range @inval for secondary MMUs.  Returns false,
 * with neither held, if the folio is not mapped there by a present PTE.
 */
static bool ksm_lock_mapping(struct page_vma_mapped_walk *mapped,
			     struct mmu_notifier_range *inval)
{
	struct vm_area_struct *vma = mapped->vma;

	if (WARN_ON_ONCE(mapped->nr_pages != 1))
		return false;
	mapped->address = page_address_in_vma(pfn_to_page(mapped->pfn), vma);
	if (mapped->address == -EFAULT)
		return false;

	mmu_notifier_range_init(inval, MMU_NOTIFY_CLEAR, 0, vma->vm_mm,
				mapped->address, mapped->address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(inval);
	if (!page_vma_mapped_walk(mapped))
		goto out_notify;
	/*
	 * The walk also stops at a device-exclusive swap entry for the
	 * folio: only a present PTE may be write-protected or replaced.
	 */
	if (!WARN_ONCE(!mapped->pte, "KSM page mapped by a PMD") &&
	    pte_present(ptep_get(mapped->pte)))
		return true;
	page_vma_mapped_walk_done(mapped);
out_notify:
	mmu_notifier_invalidate_range_end(inval);
	return false;
}

static void ksm_unlock_mapping(struct page_vma_mapped_walk *mapped,
			       struct mmu_notifier_range *inval)
{
	page_vma_mapped_walk_done(mapped);
	mmu_notifier_invalidate_range_end(inval);
}

/*
 * Could a GUP pin hide behind this mapping?  Only a writable or exclusive
 * page (or one whose stale writable TLB entries are still being flushed)
 * can have one.
 */
static bool ksm_pin_possible(struct folio *folio, pte_t pte,
			     struct mm_struct *vmm)
{
	return pte_write(pte) || pte_dirty(pte) ||
	       PageAnonExclusive(&folio->page) || mm_tlb_flush_pending(vmm);
}

/* No reference but its mappings, the swap cache's and ksmd's own. */
static bool ksm_refs_all_known(struct folio *folio)
{
	return folio_mapcount(folio) + 1 + folio_test_swapcache(folio) ==
	       folio_ref_count(folio);
}

/*
 * Make the PTE mapping @folio in @vma read-only and clean.  Fails with
 * -EFAULT if the folio is not mapped there, or if some reference beyond
 * its mappings (and the swap cache, and ours) might be a GUP pin.
 */
static int ksm_write_protect(struct vm_area_struct *vma, struct folio *folio)
{
	DEFINE_FOLIO_VMA_WALK(mapped, folio, vma, 0, 0);
	struct mm_struct *vmm = vma->vm_mm;
	struct mmu_notifier_range inval;
	bool exclusive;
	pte_t pte;
	int err = -EFAULT;

	if (!ksm_lock_mapping(&mapped, &inval))
		return err;

	exclusive = PageAnonExclusive(folio_page(folio, 0));
	pte = ptep_get(mapped.pte);
	if (ksm_pin_possible(folio, pte, vmm)) {
		flush_cache_page(vma, mapped.address, folio_pfn(folio));
		/*
		 * Clear and flush the PTE before counting references: GUP-fast
		 * cannot take a new pin on a page that is not mapped, so the
		 * count below cannot be raced past.
		 */
		pte = ptep_clear_flush(vma, mapped.address, mapped.pte);
		if (!ksm_refs_all_known(folio)) {
			set_pte_at(vmm, mapped.address, mapped.pte, pte);
			goto out_walk;
		}
		/* Shared now: a write must copy, not reuse, the page. */
		if (exclusive &&
		    folio_try_share_anon_rmap_pte(folio, folio_page(folio, 0))) {
			set_pte_at(vmm, mapped.address, mapped.pte, pte);
			goto out_walk;
		}
		if (pte_dirty(pte))
			folio_mark_dirty(folio);
		pte = pte_wrprotect(pte_mkclean(pte));
		set_pte_at(vmm, mapped.address, mapped.pte, pte);
	}
	err = 0;
out_walk:
	ksm_unlock_mapping(&mapped, &inval);
	return err;
}

/* The PTE that is to map @kpage (a KSM page, or the zero page) at @addr. */
static pte_t ksm_kpage_pte(struct vm_area_struct *vma, struct page *kpage,
			   unsigned long addr)
{
	pte_t kpte;

	if (is_zero_pfn(page_to_pfn(kpage))) {
		/*
		 * The dirty bit on a special zero-page PTE is how the rest of
		 * mm tells a KSM zero page (and counts it) from any other.
		 */
		kpte = pfn_pte(page_to_pfn(kpage), vma->vm_page_prot);
		kpte = pte_mkdirty(pte_mkspecial(kpte));
		ksm_map_zero_page(vma->vm_mm);
		/* The zero page is not an anonymous page of this mm. */
		dec_mm_counter(vma->vm_mm, MM_ANONPAGES);
		return kpte;
	}
	/* One more mapping of a shared page: never an exclusive one. */
	VM_WARN_ON_ONCE_PAGE(PageAnonExclusive(kpage), kpage);
	get_page(kpage);
	folio_add_anon_rmap_ptes(page_folio(kpage), kpage, 1, vma, addr,
				 RMAP_NONE);
	return mk_pte(kpage, vma->vm_page_prot);
}

/*
 * Map @kpage (a KSM page, or the zero page) in @vma where @folio (locked,
 * referenced, one page) is mapped now, if their contents are the same.
 * Returns 0 or -EFAULT.
 *
 * Write-protecting the page first and replacing its PTE afterwards, each
 * under the PTE lock, would flush the TLB twice.  Instead the PTE is
 * cleared and flushed once, and stays clear under the lock while the
 * references are counted and the pages compared: with no PTE of this mm
 * mapping the page (and any other mapping of it read-only, as it is not
 * exclusive), and no GUP pin (the count), nothing can write to the page
 * meanwhile.  A fault on the address waits for the lock and then finds
 * the new PTE, or the old one put back if the pages differ.
 */
static int ksm_map_kpage(struct vm_area_struct *vma, struct folio *folio,
			 struct page *kpage)
{
	DEFINE_FOLIO_VMA_WALK(mapped, folio, vma, 0, 0);
	struct page *old = &folio->page;
	struct mm_struct *vmm = vma->vm_mm;
	struct mmu_notifier_range inval;
	bool pinnable;
	pte_t pte;
	int err = -EFAULT;

	if (!ksm_lock_mapping(&mapped, &inval))
		return err;

	pinnable = ksm_pin_possible(folio, ptep_get(mapped.pte), vmm);
	flush_cache_page(vma, mapped.address, folio_pfn(folio));
	/*
	 * Clear and flush before counting: GUP-fast cannot take a new pin on
	 * a page that is not mapped.
	 */
	pte = ptep_clear_flush(vma, mapped.address, mapped.pte);
	if (pinnable && !ksm_refs_all_known(folio))
		goto out_restore;
	if (ksm_pages_differ(old, kpage))
		goto out_restore;

	/* Its other mappings, or the swap cache, may keep the page. */
	if (pte_dirty(pte))
		folio_mark_dirty(folio);
	set_pte_at(vmm, mapped.address, mapped.pte,
		   ksm_kpage_pte(vma, kpage, mapped.address));
	folio_remove_rmap_ptes(folio, old, 1, vma);
	if (!folio_mapped(folio))
		folio_free_swap(folio);
	folio_put(folio);
	err = 0;
	goto out_walk;

out_restore:
	set_pte_at(vmm, mapped.address, mapped.pte, pte);
out_walk:
	ksm_unlock_mapping(&mapped, &inval);
	return err;
}

/**
 * ksm_merge_one_page - merge @page into @kpage, or make it a KSM page
 * @vma: the VMA @page is mapped in (its mm's mmap_lock held)
 * @page: an anonymous page, referenced
 * @kpage: the KSM page (or zero page) to map instead, or NULL to turn
 *	@page itself into a KSM page (with no stable node yet)
 *
 * Returns 0 if merged, -EFAULT if not.
 */
int ksm_merge_one_page(struct vm_area_struct *vma, struct page *page,
		       struct page *kpage)
{
	struct folio *folio = page_folio(page);
	int err = -EFAULT;

	if (page == kpage)		/* a KSM page reached through a fork */
		return 0;
	if (!folio_test_anon(folio))
		return err;
	/* A locked page is busy: better scan others and come back later. */
	if (!folio_trylock(folio))
		return err;

	if (folio_test_large(folio)) {
		if (split_huge_page(page))
			goto out_unlock;
		folio = page_folio(page);
	}

	if (kpage) {
		err = ksm_map_kpage(vma, folio, kpage);
	} else if (!ksm_write_protect(vma, folio)) {
		/*
		 * Anonymous page to KSM page: ksm_stable_insert() fills the
		 * node in; reclaim must write it to swap rather than drop it
		 * clean.
		 */
		ksm_folio_set_node(folio, NULL);
		folio_mark_accessed(folio);
		if (!folio_test_dirty(folio))
			folio_mark_dirty(folio);
		err = 0;
	}
out_unlock:
	folio_unlock(folio);
	return err;
}
