// SPDX-License-Identifier: GPL-2.0
/*
 * rmap items: one per page of a registered mm that ksmd has looked at,
 * kept per mm in a singly linked list sorted by address, which the scan
 * cursor walks in step with the page tables.  An item remembers the
 * page's content hash between scans and, once the page is in an index,
 * where it is filed.
 *
 * Everything here runs under ksmd_mutex.
 */

#include <linux/slab.h>

#include "ksm_mod.h"

static struct kmem_cache *ksm_item_cache;

size_t ksm_item_bytes(void)
{
	return sizeof(struct ksm_rmap_item);
}

static struct ksm_rmap_item *ksm_item_alloc(struct mm_struct *mm,
					    unsigned long addr)
{
	struct ksm_rmap_item *item;

	/* Under memory pressure, skip the page rather than add to it. */
	item = kmem_cache_zalloc(ksm_item_cache, GFP_KERNEL | __GFP_NORETRY |
				 __GFP_NOWARN);
	if (!item)
		return NULL;
	item->mm = mm;
	item->address = addr;
	mm->ksm_rmap_items++;
	ksm_count.rmap_items++;
	return item;
}

static void ksm_item_free(struct ksm_rmap_item *item)
{
	item->mm->ksm_rmap_items--;
	ksm_count.rmap_items--;
	kmem_cache_free(ksm_item_cache, item);
}

/**
 * ksm_item_unlink - take @item out of whichever index holds it
 * @item: an rmap item, in an index or not
 */
void ksm_item_unlink(struct ksm_rmap_item *item)
{
	if (item->address & KSM_ITEM_STABLE)
		ksm_stable_remove_item(item);
	else if (item->address & KSM_ITEM_UNSTABLE)
		ksm_unstable_remove(item);
	cond_resched();
}

/**
 * ksm_item_get - the item for @addr, at or after *@link
 * @slot: the mm slot the list belongs to
 * @link: a link in @slot's list; items before @addr from here are stale
 *	(their pages are gone) and are dropped
 * @addr: page address
 *
 * Returns the item, or NULL if a new one was needed and could not be had.
 */
struct ksm_rmap_item *ksm_item_get(struct ksm_mm_slot *slot,
				   struct ksm_rmap_item **link,
				   unsigned long addr)
{
	struct ksm_rmap_item *item;

	while ((item = *link)) {
		if (ksm_item_addr(item) == addr)
			return item;
		if (ksm_item_addr(item) > addr)
			break;
		*link = item->next;
		ksm_item_unlink(item);
		ksm_item_free(item);
	}

	item = ksm_item_alloc(slot->mm, addr);
	if (item) {
		item->next = *link;
		*link = item;
	}
	return item;
}

/**
 * ksm_items_drop_from - drop every item from *@link to the end of its list
 * @link: a link in an mm slot's item list
 *
 * Highest address first: a KSM page's list has the items of one mm in
 * descending address order, so each one dropped is then at its head and
 * is unlinked without a walk.
 */
void ksm_items_drop_from(struct ksm_rmap_item **link)
{
	struct ksm_rmap_item *item = *link, *reversed = NULL, *next;

	*link = NULL;
	for (; item; item = next) {
		next = item->next;
		item->next = reversed;
		reversed = item;
	}
	for (item = reversed; item; item = next) {
		next = item->next;
		ksm_item_unlink(item);
		ksm_item_free(item);
	}
}

int ksm_item_cache_init(void)
{
	/* See struct ksm_rmap_item: its size is the engine's footprint. */
	BUILD_BUG_ON(IS_ENABLED(CONFIG_64BIT) &&
		     sizeof(struct ksm_rmap_item) > 40);
	ksm_item_cache = KMEM_CACHE(ksm_rmap_item, 0);
	return ksm_item_cache ? 0 : -ENOMEM;
}

void ksm_item_cache_destroy(void)
{
	kmem_cache_destroy(ksm_item_cache);
}
