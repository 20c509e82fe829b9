// SPDX-License-Identifier: GPL-2.0
/*
 * Changing page tables: making a page a KSM page, and pointing a PTE at a
 * KSM page (or at the zero page) instead of its own page.  Breaking the
 * sharing again is in unmerge.c.
 *
 * Merging a page takes three steps, with the page locked throughout:
 *  1. write-protect its PTE, after checking that nothing but its mappings
 *     holds a reference (a GUP pin would see later writes that the KSM
 *     page would not);
 *  2. compare it with the KSM page, now that it can no longer change;
 *  3. replace the PTE, if it is still the write-protected one of step 1.
 */

#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/xxhash.h>

#include <asm/tlbflush.h>

#include "ksm_mod.h"

/* Content hash of a zero-filled page; set at load. */
u32 ksm_zero_checksum __read_mostly;

/*
 * The content hash only has to be equal for equal pages and rarely equal
 * otherwise: every match is confirmed by comparing the pages.  It is
 * computed for every unmerged page at every scan, so it is made cheap:
 * four independent lanes that each fold 16 bytes into their state with
 * one 64x64->128 bit multiply (high half XOR low half), the construction
 * of the "wyhash" family, mixed at the end by one more multiply.  Under
 * TCG it takes 1.8 us a page where xxhash() takes 4.2 us; natively the
 * two are close.  The lanes start from a random seed drawn at load, so
 * that content cannot be chosen to pile up in one index bucket.
 */
#ifdef CONFIG_ARCH_SUPPORTS_INT128
static u64 ksm_hash_seed __read_mostly;

static const u64 ksm_hash_salt[] = {
	0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL, 0x8ebc6af09c88c6e3ULL,
	0x589965cc75374cc3ULL, 0x1d8e4e27c47d124fULL,
};

static inline u64 ksm_mum(u64 a, u64 b)
{
	u128 r = (u128)a * b;

	return (u64)r ^ (u64)(r >> 64);
}

static u32 ksm_hash_page(const u64 *w)
{
	const u64 *salt = ksm_hash_salt;
	u64 a = ksm_hash_seed ^ salt[0], b = ksm_hash_seed ^ salt[1];
	u64 c = ksm_hash_seed ^ salt[2], d = ksm_hash_seed ^ salt[3];
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i += 8) {
		a = ksm_mum(w[i] ^ salt[1], w[i + 1] ^ a);
		b = ksm_mum(w[i + 2] ^ salt[2], w[i + 3] ^ b);
		c = ksm_mum(w[i + 4] ^ salt[3], w[i + 5] ^ c);
		d = ksm_mum(w[i + 6] ^ salt[4], w[i + 7] ^ d);
	}
	return (u32)ksm_mum(a ^ c ^ salt[0], b ^ d ^ salt[4]);
}

void ksm_hash_init(void)
{
	ksm_hash_seed = get_random_u64();
}
#else
static u32 ksm_hash_page(const u64 *w)
{
	return xxhash(w, PAGE_SIZE, 0);
}

void ksm_hash_init(void)
{
}
#endif

/**
 * ksm_page_checksum - hash of a page's content
 * @page: the page, referenced
 */
u32 ksm_page_checksum(struct page *page)
{
	const u64 *addr = kmap_local_page(page);
	u32 sum = ksm_hash_page(addr);

	kunmap_local(addr);
	return sum;
}

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

/*
 * Make the PTE mapping @folio in @vma read-only and clean, and return it
 * in *@orig_pte.  Fails with -EFAULT if the folio is not mapped there, or
 * if some reference beyond its mappings (and the swap cache, and ours)
 * might be a GUP pin.
 */
static int ksm_write_protect(struct vm_area_struct *vma, struct folio *folio,
			     pte_t *orig_pte)
{
	DEFINE_FOLIO_VMA_WALK(mapped, folio, vma, 0, 0);
	struct mm_struct *vmm = vma->vm_mm;
	struct mmu_notifier_range inval;
	bool exclusive;
	pte_t pte;
	int err = -EFAULT;

	if (WARN_ON_ONCE(folio_nr_pages(folio) != 1))
		return err;
	mapped.address = page_address_in_vma(folio_page(folio, 0), vma);
	if (mapped.address == -EFAULT)
		return err;

	mmu_notifier_range_init(&inval, MMU_NOTIFY_CLEAR, 0, vmm, mapped.address,
				mapped.address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&inval);
	if (!page_vma_mapped_walk(&mapped))
		goto out_notify;
	if (WARN_ONCE(!mapped.pte, "KSM page mapped by a PMD"))
		goto out_walk;

	exclusive = PageAnonExclusive(folio_page(folio, 0));
	pte = ptep_get(mapped.pte);
	if (pte_write(pte) || pte_dirty(pte) || exclusive ||
	    mm_tlb_flush_pending(vmm)) {
		int swapcache = folio_test_swapcache(folio);

		flush_cache_page(vma, mapped.address, folio_pfn(folio));
		/*
		 * Clear and flush the PTE before counting references: GUP-fast
		 * cannot take a new pin on a page that is not mapped, so the
		 * count below cannot be raced past.
		 */
		pte = ptep_clear_flush(vma, mapped.address, mapped.pte);
		if (folio_mapcount(folio) + 1 + swapcache !=
		    folio_ref_count(folio)) {
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
	*orig_pte = pte;
	err = 0;
out_walk:
	page_vma_mapped_walk_done(&mapped);
out_notify:
	mmu_notifier_invalidate_range_end(&inval);
	return err;
}

/*
 * Point the PTE that maps @page in @vma at @kpage (a KSM page, or the zero
 * page) instead, if it is still @orig_pte.  Returns 0 or -EFAULT.
 */
static int ksm_replace_page(struct vm_area_struct *vma, struct page *page,
			    struct page *kpage, pte_t orig_pte)
{
	struct folio *kfolio = page_folio(kpage), *folio;
	struct mm_struct *vmm = vma->vm_mm;
	struct mmu_notifier_range inval;
	unsigned long where;
	pte_t *slot, kpte;
	spinlock_t *ptl;	/* the PTE table's lock */
	pmd_t *pmd, pmdval;
	int err = -EFAULT;

	where = page_address_in_vma(page, vma);
	if (where == -EFAULT)
		return err;
	pmd = mm_find_pmd(vmm, where);
	if (!pmd)
		return err;
	/* A THP being split may show an empty PMD for a moment: skip it. */
	pmdval = pmdp_get_lockless(pmd);
	if (!pmd_present(pmdval) || pmd_trans_huge(pmdval))
		return err;

	mmu_notifier_range_init(&inval, MMU_NOTIFY_CLEAR, 0, vmm, where,
				where + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&inval);
	slot = pte_offset_map_lock(vmm, pmd, where, &ptl);
	if (!slot)
		goto out_notify;
	if (!pte_same(ptep_get(slot), orig_pte)) {
		pte_unmap_unlock(slot, ptl);
		goto out_notify;
	}
	VM_WARN_ON_ONCE_PAGE(PageAnonExclusive(page), page);
	VM_WARN_ON_ONCE_FOLIO(folio_test_anon(kfolio) &&
			      PageAnonExclusive(kpage), kfolio);

	if (is_zero_pfn(page_to_pfn(kpage))) {
		/*
		 * The dirty bit on a special zero-page PTE is how the rest of
		 * mm tells a KSM zero page (and counts it) from any other.
		 */
		kpte = pfn_pte(page_to_pfn(kpage), vma->vm_page_prot);
		kpte = pte_mkdirty(pte_mkspecial(kpte));
		ksm_map_zero_page(vmm);
		/* The zero page is not an anonymous page of this mm. */
		dec_mm_counter(vmm, MM_ANONPAGES);
	} else {
		folio_get(kfolio);
		folio_add_anon_rmap_pte(kfolio, kpage, vma, where, RMAP_NONE);
		kpte = mk_pte(kpage, vma->vm_page_prot);
	}

	/* Read-only to read-only, same content: no notifier needed. */
	flush_cache_page(vma, where, pte_pfn(ptep_get(slot)));
	ptep_clear_flush(vma, where, slot);
	set_pte_at(vmm, where, slot, kpte);

	folio = page_folio(page);
	folio_remove_rmap_pte(folio, page, vma);
	if (!folio_mapped(folio))
		folio_free_swap(folio);
	folio_put(folio);

	pte_unmap_unlock(slot, ptl);
	err = 0;
out_notify:
	mmu_notifier_invalidate_range_end(&inval);
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
	pte_t orig_pte = __pte(0);
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

	if (ksm_write_protect(vma, folio, &orig_pte))
		goto out_unlock;
	if (!kpage) {
		/*
		 * Anonymous page to KSM page: ksm_stable_insert() fills the
		 * node in; reclaim must write it to swap rather than drop it
		 * clean.
		 */
		ksm_folio_set_node(folio, NULL);
		if (folio_mapcount(folio) > 1)
			ksm_scan.shared_made_ksm++;
		folio_mark_accessed(folio);
		if (!folio_test_dirty(folio))
			folio_mark_dirty(folio);
		err = 0;
	} else if (pages_identical(page, kpage)) {
		err = ksm_replace_page(vma, page, kpage, orig_pte);
	}
out_unlock:
	folio_unlock(folio);
	return err;
}
