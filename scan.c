// SPDX-License-Identifier: GPL-2.0
/*
 * What ksmd does: walk the registered mms in turn, page by page, and for
 * each anonymous page in a VM_MERGEABLE VMA
 *
 *  - skip it if its content changed since the last scan, or if this is
 *    the first time it is seen (volatile);
 *  - merge it with the zero page, if it is all zeroes and use_zero_pages;
 *  - merge it into a KSM page with the same content, if there is one;
 *  - merge it with an unchanged page with the same content found earlier
 *    in this scan, making a new KSM page of the two;
 *  - otherwise file it in the unstable index for later pages to find.
 *
 * That is the order of upstream 6.12's cmp_and_merge_page().  A KSM page
 * met again (through a fork, or after migration) goes straight to the
 * stable index.  A full scan ends when the last mm is done; the unstable
 * index is then emptied, while KSM pages stay in the stable index until
 * they are freed.
 * Also here: unmerging everything (run = 2).
 *
 * Everything here runs under ksmd_mutex.
 */

#include <linux/bitfield.h>
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
	struct vm_area_struct *vma;

	put_anon_vma(item->anon_vma);
	vma = ksm_item_vma_lock(item);
	if (!vma)
		return;
	ksm_break_page(vma, ksm_item_addr(item), false);
	mmap_read_unlock(item->mm);
}

/*
 * Merge @page (of @item) into @kpage, or make it a KSM page if @kpage is
 * NULL, and take the anon_vma reference a stable item holds.
 */
static int ksm_merge_item(struct ksm_rmap_item *item, struct page *page,
			  struct page *kpage)
{
	struct vm_area_struct *vma = ksm_item_vma_lock(item);
	int err = vma ? ksm_merge_one_page(vma, page, kpage) : -EFAULT;

	if (!err) {
		/* anon_vma shares storage with the unstable link. */
		ksm_item_unlink(item);
		item->anon_vma = vma->anon_vma;
		get_anon_vma(item->anon_vma);
	}
	if (vma)
		mmap_read_unlock(item->mm);
	trace_ksm_merge_with_ksm_page(kpage, page_to_pfn(kpage ?: page), item,
				      item->mm, err);
	return err;
}

/*
 * Map the zero page for a zero-filled @page, if use_zero_pages.  Returns
 * 0 if merged, or if the page's VMA is gone so there is nothing to do.
 * @item's checksum is @page's current one.
 */
static int ksm_merge_zero(struct ksm_rmap_item *item, struct page *page)
{
	struct page *zero = ZERO_PAGE(ksm_item_addr(item));
	struct vm_area_struct *vma;
	int err;

	if (!READ_ONCE(ksm_tun.use_zero_pages) ||
	    item->checksum != ksm_zero_checksum)
		return -EFAULT;
	vma = ksm_item_vma_lock(item);
	if (!vma)
		return 0;
	err = ksm_merge_one_page(vma, page, zero);
	trace_ksm_merge_one_page(page_to_pfn(zero), item, item->mm, err);
	mmap_read_unlock(item->mm);
	return err;
}

/*
 * Two identical pages, @page scanned now and @tree_page found in the
 * unstable index: make @page a KSM page, map it in place of @tree_page
 * too, and file it with both items.  Returns false if they stay apart.
 */
static bool ksm_merge_pair(struct ksm_rmap_item *item, struct page *page,
			   struct ksm_rmap_item *tree_item,
			   struct page *tree_page)
{
	struct ksm_rmap_item *both[] = { tree_item, item };
	struct folio *kfolio = page_folio(page);
	struct ksm_stable_node *node;
	int i;

	if (ksm_merge_item(item, page, NULL))
		return false;
	if (ksm_merge_item(tree_item, tree_page, page)) {
		/* A KSM page with one mapping is no use: undo it. */
		ksm_break_item(item);
		return false;
	}

	folio_lock(kfolio);
	node = ksm_stable_insert(kfolio);
	for (i = 0; node && i < ARRAY_SIZE(both); i++)
		ksm_stable_add_item(both[i], node, false);
	folio_unlock(kfolio);
	/* No memory for a node: the two mappings go back to own pages. */
	for (i = 0; !node && i < ARRAY_SIZE(both); i++)
		ksm_break_item(both[i]);
	return !!node;
}

static bool ksm_item_on(const struct ksm_rmap_item *item,
			const struct ksm_stable_node *node)
{
	return ksm_item_stable(item) && ksm_item_node(item) == node;
}

/* The work on one page: @page is referenced, @item is its rmap item. */
static void ksm_process_page(struct page *page, struct ksm_rmap_item *item)
{
	struct ksm_stable_node *node = ksm_folio_node(page_folio(page));
	struct ksm_rmap_item *tree_item;
	struct page *kpage, *tree_page = NULL;
	bool over_limit_ok = false;
	bool merged, same_thp;
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
		/*
		 * Changed since the last visit, or never seen: wait for the
		 * content to settle before looking for it anywhere.  A page
		 * written often would only be merged to be copied again at
		 * its next write.
		 */
		if (item->checksum != checksum) {
			item->checksum = checksum;
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

	merged = ksm_merge_pair(item, page, tree_item, tree_page);
	/*
	 * Both halves of one THP: the split in ksm_merge_one_page() failed
	 * on our own extra reference.  Retry it once that is dropped.
	 */
	same_thp = PageTransCompound(page) &&
		   compound_head(page) == compound_head(tree_page);
	put_page(tree_page);
	if (!merged && same_thp && trylock_page(page)) {
		split_huge_page(page);
		unlock_page(page);
	}
}

/* Smart scan: how many scans a page that failed to merge sits out. */
static unsigned long ksm_skip_budget(unsigned long age)
{
	static const u8 budget[] = { 1, 1, 1, 1, 2, 2, 4, 4, 4 };

	return age < ARRAY_SIZE(budget) ? budget[age] : 8;
}

/* Smart scan's verdict on a page that is not a KSM page, with its item. */
static bool ksm_smart_skip(struct ksm_rmap_item *item)
{
	unsigned long age = FIELD_GET(KSM_ITEM_AGE, item->address);
	unsigned long skips = FIELD_GET(KSM_ITEM_SKIPS, item->address);

	if (age < FIELD_MAX(KSM_ITEM_AGE))
		item->address += FIELD_PREP(KSM_ITEM_AGE, 1);
	if (age < 3)
		return false;	/* young pages get their chances first */
	if (!skips) {
		item->address |= FIELD_PREP(KSM_ITEM_SKIPS,
					    ksm_skip_budget(age));
		return false;
	}
	item->address -= FIELD_PREP(KSM_ITEM_SKIPS, 1);
	ksm_count.pages_skipped++;
	ksm_item_unlink(item);
	return true;
}

static bool ksm_should_skip(struct page *page, struct ksm_rmap_item *item)
{
	/* KSM pages are always looked at: their mappings must be counted. */
	if (!READ_ONCE(ksm_tun.smart_scan) || PageKsm(page))
		return false;
	return ksm_smart_skip(item);
}

/*
 * Pages collected ahead, under one mmap_lock and one page-table walk, so
 * that the walk is not restarted from the top for every page.  Each holds
 * a reference; they are handed out in address order and whatever a batch
 * of ksm_scan_batch() did not use is put back before it returns.  Under
 * ksmd_mutex, like the cursor.
 */
#define KSM_COLLECT_MAX	32

struct ksm_collected {
	struct page *page;
	unsigned long addr;
};

static struct {
	unsigned int nr, pos;		/* entries, and the next to go out */
	unsigned int max;		/* this batch's cap on @nr */
	struct ksm_collected ent[KSM_COLLECT_MAX];
} ksm_ahead;

/*
 * Take @page (referenced by the caller's walk) into the batch.  A page of
 * a large folio goes alone: merging one splits its folio, which our extra
 * references on its other pages would prevent.  Returns true if the
 * batch is complete.
 */
static bool ksm_collect_page(struct page *page, unsigned long addr)
{
	ksm_ahead.ent[ksm_ahead.nr].page = page;
	ksm_ahead.ent[ksm_ahead.nr].addr = addr;
	ksm_ahead.nr++;
	return ksm_ahead.nr == ksm_ahead.max ||
	       folio_test_large(page_folio(page));
}

/* A large folio's page waits for the next batch unless this one is empty. */
static bool ksm_collect_defer(struct folio *folio)
{
	return ksm_ahead.nr && folio_test_large(folio);
}

static bool ksm_pmd_maps_thp(pmd_t entry)
{
	return IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) && pmd_leaf(entry);
}

/*
 * The PMD maps a THP (as last seen without its lock): collect the page at
 * @addr.  Returns what ksm_collect_pmd() returns, or -EAGAIN if under the
 * lock it no longer maps one (split meanwhile): then walk its PTEs.
 */
static int ksm_collect_thp(pmd_t *pmdp, unsigned long addr,
			   struct mm_walk *walk)
{
	unsigned long *next = walk->private;
	spinlock_t *ptl = pmd_lock(walk->mm, pmdp);
	pmd_t entry = pmdp_get(pmdp);
	struct folio *folio = NULL;
	struct page *head = NULL;
	int done = 0;

	if (!pmd_present(entry) || !pmd_leaf(entry)) {
		spin_unlock(ptl);
		return -EAGAIN;
	}
	head = vm_normal_page_pmd(walk->vma, addr, entry);
	if (head)
		folio = page_folio(head);
	if (folio && (folio_is_zone_device(folio) || !folio_test_anon(folio)))
		folio = NULL;
	if (folio && ksm_collect_defer(folio)) {
		done = 1;	/* resume at @addr next batch */
	} else if (folio) {
		folio_get(folio);
		done = ksm_collect_page(head + ((addr & ~PMD_MASK) >> PAGE_SHIFT),
					addr);
		addr += PAGE_SIZE;
	}
	spin_unlock(ptl);
	if (done)
		*next = addr;
	return done;
}

/* Collect the anonymous pages mapped in this PMD's range. */
static int ksm_collect_pmd(pmd_t *pmdp, unsigned long addr,
			   unsigned long end, struct mm_walk *walk)
{
	unsigned long *next = walk->private;
	pte_t *start_pte, *ptep;
	spinlock_t *ptl;	/* the PTE table's lock */
	struct folio *folio;
	struct page *page;
	pmd_t entry;
	int done = 0;

	if (ksm_mm_exiting(walk->mm))
		return 1;
	cond_resched();

	entry = pmdp_get_lockless(pmdp);
	if (!pmd_present(entry))
		goto out;
	if (ksm_pmd_maps_thp(entry)) {
		done = ksm_collect_thp(pmdp, addr, walk);
		if (done != -EAGAIN)
			return done;
		done = 0;
	}

	start_pte = pte_offset_map_lock(walk->mm, pmdp, addr, &ptl);
	if (!start_pte)
		goto out;
	for (ptep = start_pte; addr < end && !done;
	     ptep++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);

		if (!pte_present(pte))
			continue;
		page = vm_normal_page(walk->vma, addr, pte);
		if (!page)
			continue;
		folio = page_folio(page);
		if (!folio_test_anon(folio) || folio_is_zone_device(folio))
			continue;
		if (ksm_collect_defer(folio)) {
			done = 1;
			break;
		}
		folio_get(folio);
		done = ksm_collect_page(page, addr);
	}
	pte_unmap_unlock(start_pte, ptl);
	if (done) {
		*next = addr;
		return 1;
	}
out:
	*next = end;
	return 0;
}

static const struct mm_walk_ops ksm_collect_ops = {
	.pmd_entry = ksm_collect_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/*
 * Fill the batch with up to @max pages of the mm under the cursor, from
 * ksm_scan.next_addr on; mmap_lock is held.  Returns the number collected:
 * 0 when the mm has nothing left to scan this time round.
 */
static unsigned int ksm_collect(struct mm_struct *mm, unsigned int max)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	struct ksm_collected *ent;
	unsigned int first;
	bool stop;

	ksm_ahead.nr = 0;
	ksm_ahead.pos = 0;
	ksm_ahead.max = clamp(max, 1U, KSM_COLLECT_MAX);

	vma_iter_set(&vmi, ksm_scan.next_addr);
	for_each_vma(vmi, vma) {
		if (!ksm_vma_advised(vma))
			continue;
		if (ksm_scan.next_addr < vma->vm_start)
			ksm_scan.next_addr = vma->vm_start;
		if (!vma->anon_vma) {
			ksm_scan.next_addr = vma->vm_end;
			continue;
		}
		if (ksm_mm_exiting(mm))
			break;
		first = ksm_ahead.nr;
		stop = ksm_scan.next_addr < vma->vm_end &&
		       walk_page_range_vma(vma, ksm_scan.next_addr, vma->vm_end,
					   &ksm_collect_ops, &ksm_scan.next_addr);
		for (; first < ksm_ahead.nr; first++) {
			ent = &ksm_ahead.ent[first];
			flush_anon_page(vma, ent->page, ent->addr);
			flush_dcache_page(ent->page);
		}
		if (stop)
			break;
		ksm_scan.next_addr = vma->vm_end;
	}
	return ksm_ahead.nr;
}

/*
 * Put back the pages collected but not handed out, from the one at @pos;
 * the cursor goes back to the first of them.
 */
static void ksm_collect_release(unsigned int pos)
{
	if (pos < ksm_ahead.nr)
		ksm_scan.next_addr = ksm_ahead.ent[pos].addr;
	for (; pos < ksm_ahead.nr; pos++)
		put_page(ksm_ahead.ent[pos].page);
	ksm_ahead.nr = 0;
	ksm_ahead.pos = 0;
}

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
 * the end of a full scan, or if no item could be allocated.  @budget is
 * how many pages the caller may still look at.
 */
static struct ksm_rmap_item *ksm_scan_next(struct page **pagep,
					   unsigned int budget)
{
	struct ksm_collected *ent;
	struct ksm_rmap_item *item;
	struct ksm_mm_slot *slot;
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
		while (ksm_ahead.pos < ksm_ahead.nr) {
			ent = &ksm_ahead.ent[ksm_ahead.pos++];
			item = ksm_item_get(slot, ksm_scan.link, ent->addr);
			if (!item) {
				ksm_collect_release(ksm_ahead.pos - 1);
				return NULL;
			}
			ksm_scan.link = &item->next;
			if (ksm_should_skip(ent->page, item)) {
				put_page(ent->page);
				cond_resched();
				continue;
			}
			*pagep = ent->page;
			return item;
		}

		mm = slot->mm;
		mmap_read_lock(mm);
		if (!ksm_mm_exiting(mm) && ksm_collect(mm, budget)) {
			mmap_read_unlock(mm);
			continue;
		}
		if (ksm_mm_exiting(mm)) {
			/* Drop all its items, and the slot. */
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

	for (; nr_pages && likely(!freezing(current)); nr_pages--) {
		cond_resched();
		item = ksm_scan_next(&page, nr_pages);
		if (!item)
			break;
		ksm_process_page(page, item);
		put_page(page);
		ksm_count.pages_scanned++;
	}
	ksm_collect_release(ksm_ahead.pos);
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

/*
 * An unmerge stopped at @slot (under the cursor), by a signal or for lack
 * of memory: the next full scan starts over from the first mm.  It will
 * empty the unstable index, but the scan that filed the items of the mms
 * not reached yet never finished, so they would still look current then.
 * Take them out of the index now.
 */
static void ksm_unmerge_abort(struct ksm_mm_slot *slot)
{
	struct ksm_rmap_item *item;

	for (; !ksm_mm_is_head(slot); slot = ksm_mm_next(slot))
		for (item = slot->items; item; item = item->next)
			if (!ksm_item_stable(item))
				ksm_item_unlink(item);
	ksm_mm_rewind();
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
				ksm_unmerge_abort(slot);
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
