// SPDX-License-Identifier: GPL-2.0
/*
 * What ksmd does: walk the registered mms in turn, page by page, and for
 * each anonymous page in a VM_MERGEABLE VMA
 *
 *  - skip it if its content changed since the last scan (volatile);
 *  - merge it with the zero page, if it is all zeroes and use_zero_pages;
 *  - merge it into a KSM page with the same content, if there is one;
 *  - merge it with an unchanged page with the same content found earlier
 *    in this scan, making a new KSM page of the two;
 *  - otherwise file it in the unstable index for later pages to find.
 *
 * A full scan ends when the last mm is done; the unstable index is then
 * emptied, while KSM pages stay in the stable index until they are freed.
 * Also here: unmerging everything (run = 2).
 *
 * Everything here runs under ksmd_mutex.
 */

#include <linux/freezer.h>
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/swap.h>

#include <trace/events/ksm.h>

#include "ksm_mod.h"

/* Give up a mapping that was made a KSM page but could not be filed. */
static void ksm_break_item(struct ksm_rmap_item *item)
{
	struct mm_struct *mm = item->mm;
	struct vm_area_struct *vma;

	put_anon_vma(item->anon_vma);
	mmap_read_lock(mm);
	vma = ksm_find_vma(mm, ksm_item_addr(item));
	if (vma)
		ksm_break_page(vma, ksm_item_addr(item), false);
	mmap_read_unlock(mm);
}

/*
 * Merge @page (of @item) into @kpage, or make it a KSM page if @kpage is
 * NULL, and take the anon_vma reference a stable item holds.
 */
static int ksm_merge_item(struct ksm_rmap_item *item, struct page *page,
			  struct page *kpage)
{
	struct mm_struct *mm = item->mm;
	struct vm_area_struct *vma;
	int err = -EFAULT;

	mmap_read_lock(mm);
	vma = ksm_find_vma(mm, ksm_item_addr(item));
	if (vma) {
		err = ksm_merge_one_page(vma, page, kpage);
		if (!err) {
			/* anon_vma shares storage with the unstable link. */
			ksm_item_unlink(item);
			item->anon_vma = vma->anon_vma;
			get_anon_vma(vma->anon_vma);
		}
	}
	mmap_read_unlock(mm);
	trace_ksm_merge_with_ksm_page(kpage, page_to_pfn(kpage ?: page), item,
				      mm, err);
	return err;
}

/*
 * Map the zero page for a zero-filled @page, if use_zero_pages.  Returns
 * 0 if merged, or if the page's VMA is gone so there is nothing to do.
 */
static int ksm_merge_zero(struct ksm_rmap_item *item, struct page *page)
{
	struct mm_struct *mm = item->mm;
	unsigned long addr = ksm_item_addr(item);
	struct vm_area_struct *vma;
	int err = 0;

	if (!READ_ONCE(ksm_tun.use_zero_pages) ||
	    item->checksum != ksm_zero_checksum)
		return -EFAULT;

	mmap_read_lock(mm);
	vma = ksm_find_vma(mm, addr);
	if (vma) {
		err = ksm_merge_one_page(vma, page, ZERO_PAGE(addr));
		trace_ksm_merge_one_page(page_to_pfn(ZERO_PAGE(addr)), item,
					 mm, err);
	}
	mmap_read_unlock(mm);
	return err;
}

/* Two identical pages: make the first a KSM page, map it for both. */
static struct page *ksm_merge_pair(struct ksm_rmap_item *item,
				   struct page *page,
				   struct ksm_rmap_item *tree_item,
				   struct page *tree_page)
{
	if (ksm_merge_item(item, page, NULL))
		return NULL;
	if (ksm_merge_item(tree_item, tree_page, page)) {
		/* A KSM page with one mapping is no use: undo it. */
		ksm_break_item(item);
		return NULL;
	}
	return page;
}

/* File both items of a new KSM page; undo the merge if that fails. */
static void ksm_file_pair(struct page *kpage, struct ksm_rmap_item *item,
			  struct ksm_rmap_item *tree_item)
{
	struct ksm_stable_node *node;

	lock_page(kpage);
	node = ksm_stable_insert(page_folio(kpage));
	if (node) {
		ksm_stable_add_item(tree_item, node, false);
		ksm_stable_add_item(item, node, false);
	}
	unlock_page(kpage);
	if (!node) {
		ksm_break_item(tree_item);
		ksm_break_item(item);
	}
}

static bool ksm_item_on(const struct ksm_rmap_item *item,
			const struct ksm_stable_node *node)
{
	return (item->address & KSM_ITEM_STABLE) && item->node == node;
}

/* The work on one page: @page is referenced, @item is its rmap item. */
static void ksm_process_page(struct page *page, struct ksm_rmap_item *item)
{
	struct ksm_stable_node *node = ksm_folio_node(page_folio(page));
	struct ksm_rmap_item *tree_item;
	struct page *kpage, *tree_page = NULL;
	bool over_limit_ok = false;
	bool same_thp;
	u32 checksum;

	if (node) {
		/* Already a KSM page: just make sure it is counted here. */
		ksm_stable_check_placement(node);
		if (node->place != KSM_NODE_MIGRATED && ksm_item_on(item, node))
			return;
		/* A fork may take a KSM page past max_page_sharing. */
		over_limit_ok = !ksm_node_has_room(node);
		checksum = node->checksum;
	} else {
		ksm_item_unlink(item);
		checksum = ksm_page_checksum(page);
		if (item->checksum != checksum) {
			item->checksum = checksum;	/* volatile: wait */
			return;
		}
		if (!ksm_merge_zero(item, page))
			return;
	}

	kpage = ksm_stable_find(page, checksum);
	if (kpage == page && ksm_item_on(item, node)) {
		put_page(kpage);
		return;
	}
	ksm_item_unlink(item);

	if (kpage) {
		if (IS_ERR(kpage))
			return;
		if (!ksm_merge_item(item, page, kpage)) {
			lock_page(kpage);
			ksm_stable_add_item(item,
					    ksm_folio_node(page_folio(kpage)),
					    over_limit_ok);
			unlock_page(kpage);
		}
		put_page(kpage);
		return;
	}
	/* A KSM page with no room left stays as it is. */
	if (node)
		return;

	tree_item = ksm_unstable_find_or_add(item, page,
					     ksm_pfn_nid(page_to_pfn(page)),
					     &tree_page);
	if (!tree_item)
		return;

	kpage = ksm_merge_pair(item, page, tree_item, tree_page);
	/*
	 * Both halves of one THP: the split in ksm_merge_one_page() failed
	 * on our own extra reference.  Retry it once that is dropped.
	 */
	same_thp = PageTransCompound(page) &&
		   compound_head(page) == compound_head(tree_page);
	put_page(tree_page);
	if (kpage) {
		ksm_file_pair(kpage, item, tree_item);
	} else if (same_thp && trylock_page(page)) {
		split_huge_page(page);
		unlock_page(page);
	}
}

/* Smart scan: how many scans a page that failed to merge sits out. */
static u8 ksm_skip_budget(u8 age)
{
	static const u8 budget[] = { 1, 1, 1, 1, 2, 2, 4, 4, 4 };

	return age < ARRAY_SIZE(budget) ? budget[age] : 8;
}

static bool ksm_should_skip(struct page *page, struct ksm_rmap_item *item)
{
	u8 age = item->age;

	/* KSM pages are always looked at: their mappings must be counted. */
	if (!READ_ONCE(ksm_tun.smart_scan) || PageKsm(page))
		return false;
	if (age != U8_MAX)
		item->age++;
	if (age < 3)
		return false;	/* young pages get their chances first */
	if (!item->skips_left) {
		item->skips_left = ksm_skip_budget(age);
		return false;
	}
	item->skips_left--;
	ksm_count.pages_skipped++;
	ksm_item_unlink(item);
	return true;
}

/* The page found by ksm_next_page_pmd() and where. */
struct ksm_found_page {
	struct page *page;
	unsigned long addr;
};

/* Find the first anonymous page mapped in this PMD's range. */
static int ksm_next_page_pmd(pmd_t *pmdp, unsigned long addr,
			     unsigned long end, struct mm_walk *walk)
{
	struct ksm_found_page *found = walk->private;
	struct vm_area_struct *vma = walk->vma;
	struct page *page = NULL;
	pte_t *start_pte, *ptep;
	spinlock_t *ptl;	/* the PMD's or PTE table's lock */
	pmd_t pmd;

	if (ksm_mm_exiting(walk->mm))
		return 0;
	cond_resched();

	pmd = pmdp_get_lockless(pmdp);
	if (!pmd_present(pmd))
		return 0;

	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) && pmd_leaf(pmd)) {
		ptl = pmd_lock(walk->mm, pmdp);
		pmd = pmdp_get(pmdp);
		if (pmd_present(pmd) && pmd_leaf(pmd)) {
			page = vm_normal_page_pmd(vma, addr, pmd);
			if (page && (folio_is_zone_device(page_folio(page)) ||
				     !folio_test_anon(page_folio(page))))
				page = NULL;
			if (page) {
				page += (addr & ~PMD_MASK) >> PAGE_SHIFT;
				get_page(page);
			}
			spin_unlock(ptl);
			goto out;
		}
		spin_unlock(ptl);
	}

	start_pte = pte_offset_map_lock(walk->mm, pmdp, addr, &ptl);
	if (!start_pte)
		return 0;
	for (ptep = start_pte; addr < end; ptep++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);
		struct folio *folio;

		if (!pte_present(pte))
			continue;
		page = vm_normal_page(vma, addr, pte);
		if (!page)
			continue;
		folio = page_folio(page);
		if (!folio_is_zone_device(folio) && folio_test_anon(folio)) {
			folio_get(folio);
			break;
		}
		page = NULL;
	}
	pte_unmap_unlock(start_pte, ptl);
out:
	if (!page)
		return 0;
	found->page = page;
	found->addr = addr;
	return 1;
}

static const struct mm_walk_ops ksm_next_page_ops = {
	.pmd_entry = ksm_next_page_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/* Start a full scan; returns false if there is nothing to scan. */
static bool ksm_scan_begin(void)
{
	ksm_advisor_scan_start();
	trace_ksm_start_scan(ksm_scan.seqnr, ksm_count.rmap_items);
	/*
	 * Pages sitting in per-CPU LRU batches hold an extra reference that
	 * makes them look pinned to ksm_write_protect(): flush them, once
	 * per full scan.
	 */
	lru_add_drain_all();
	if (!READ_ONCE(ksm_tun.merge_across_nodes))
		ksm_stable_prune_migrated();
	if (ksm_unstable_reset())
		return false;

	ksm_scan.slot = ksm_mm_first();
	/* The last mm may have exited since the caller looked. */
	return !ksm_mm_is_head(ksm_scan.slot);
}

/* Done with the mm under the cursor (mmap_lock held); move on. */
static void ksm_scan_leave_mm(struct ksm_mm_slot *slot)
{
	struct mm_struct *mm = slot->mm;

	/* Items past the cursor map pages that are gone. */
	ksm_items_drop_from(ksm_scan.link);

	if (!ksm_scan.next_addr) {
		/*
		 * No mergeable VMA was left (or the mm is exiting): with
		 * mmap_lock held, MADV_MERGEABLE cannot race with this.
		 */
		ksm_mm_unlist(slot);
		mmap_read_unlock(mm);
		ksm_mm_release(slot);
	} else {
		/*
		 * Unlock first: once the cursor has moved on, an exiting mm
		 * with no items may be freed at once.
		 */
		mmap_read_unlock(mm);
		ksm_mm_next(slot);
	}
}

/*
 * The next page to look at, with a reference, and its rmap item; NULL at
 * the end of a full scan, or if no item could be allocated.
 */
static struct ksm_rmap_item *ksm_scan_next(struct page **pagep)
{
	struct ksm_mm_slot *slot;
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	struct mm_struct *mm;

	if (ksm_mm_list_empty())
		return NULL;

	if (ksm_mm_is_head(ksm_scan.slot)) {
		if (!ksm_scan_begin())
			return NULL;
		ksm_scan.next_addr = 0;
		ksm_scan.link = &ksm_scan.slot->items;
	}

	for (;;) {
		slot = ksm_scan.slot;
		mm = slot->mm;
		vma_iter_init(&vmi, mm, ksm_scan.next_addr);
		mmap_read_lock(mm);
		if (ksm_mm_exiting(mm))
			goto none_left;

		for_each_vma(vmi, vma) {
			if (!ksm_vma_advised(vma))
				continue;
			if (ksm_scan.next_addr < vma->vm_start)
				ksm_scan.next_addr = vma->vm_start;
			if (!vma->anon_vma)
				ksm_scan.next_addr = vma->vm_end;

			while (ksm_scan.next_addr < vma->vm_end) {
				struct ksm_found_page found = {};
				struct ksm_rmap_item *item;

				if (ksm_mm_exiting(mm))
					break;
				if (walk_page_range_vma(vma, ksm_scan.next_addr,
							vma->vm_end,
							&ksm_next_page_ops,
							&found) <= 0) {
					ksm_scan.next_addr = vma->vm_end;
					break;
				}
				ksm_scan.next_addr = found.addr;
				flush_anon_page(vma, found.page, found.addr);
				flush_dcache_page(found.page);

				item = ksm_item_get(slot, ksm_scan.link,
						    found.addr);
				if (!item) {
					put_page(found.page);
					mmap_read_unlock(mm);
					return NULL;
				}
				ksm_scan.link = &item->next;
				ksm_scan.next_addr += PAGE_SIZE;
				if (ksm_should_skip(found.page, item)) {
					put_page(found.page);
					cond_resched();
					continue;
				}
				mmap_read_unlock(mm);
				*pagep = found.page;
				return item;
			}
		}

		if (ksm_mm_exiting(mm)) {
none_left:
			ksm_scan.next_addr = 0;
			ksm_scan.link = &slot->items;
		}
		ksm_scan_leave_mm(slot);

		if (ksm_mm_is_head(ksm_scan.slot))
			break;
		ksm_scan.next_addr = 0;
		ksm_scan.link = &ksm_scan.slot->items;
	}

	ksm_advisor_scan_end();
	trace_ksm_stop_scan(ksm_scan.seqnr, ksm_count.rmap_items);
	ksm_scan.seqnr++;
	return NULL;
}

/**
 * ksm_scan_batch - look at up to @nr_pages pages
 * @nr_pages: pages_to_scan
 */
void ksm_scan_batch(unsigned int nr_pages)
{
	struct ksm_rmap_item *item;
	struct page *page;

	while (nr_pages-- && likely(!freezing(current))) {
		cond_resched();
		item = ksm_scan_next(&page);
		if (!item)
			return;
		ksm_process_page(page, item);
		put_page(page);
		ksm_count.pages_scanned++;
	}
}

/* Break the KSM pages of every mergeable VMA of @mm (mmap_lock held). */
static int ksm_unmerge_mm(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int err;

	for_each_vma(vmi, vma) {
		if (!ksm_vma_advised(vma) || !vma->anon_vma)
			continue;
		err = ksm_unmerge_range(vma, vma->vm_start, vma->vm_end,
					false);
		if (err)
			return err;
	}
	return 0;
}

/**
 * ksm_unmerge_all - run = 2: break every KSM page, drop every rmap item
 *
 * The mms stay registered, for when run is set to 1 again.  Returns 0, or
 * the error (a signal, or no memory) that stopped it.
 */
int ksm_unmerge_all(void)
{
	struct ksm_mm_slot *slot;
	struct mm_struct *mm;
	int err;

	for (slot = ksm_mm_first(); !ksm_mm_is_head(slot);
	     slot = ksm_scan.slot) {
		mm = slot->mm;
		mmap_read_lock(mm);
		/* An exiting mm's VMAs are being torn down: leave them. */
		if (!ksm_mm_exiting(mm)) {
			err = ksm_unmerge_mm(mm);
			if (err) {
				mmap_read_unlock(mm);
				ksm_mm_rewind();
				return err;
			}
		}
		ksm_items_drop_from(&slot->items);
		if (ksm_mm_exiting(mm)) {
			ksm_mm_unlist(slot);
			mmap_read_unlock(mm);
			ksm_mm_release(slot);
		} else {
			mmap_read_unlock(mm);
			ksm_mm_next(slot);
		}
	}
	/* Pages still in the swap cache or LRU batches: let them go too. */
	ksm_stable_remove_all();
	ksm_scan.seqnr = 0;
	return 0;
}
