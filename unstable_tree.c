// SPDX-License-Identifier: GPL-2.0
/*
 * The unstable index: pages whose content did not change between two
 * scans, not yet merged, so not write-protected.  Upstream keeps them in
 * an rbtree sorted by content, which costs a page lookup in another mm and
 * a page compare at every level, and whose order decays as pages change.
 *
 * Here they are hashed by their keyed content checksum (content.c,
 * already computed to tell volatile pages) into chained buckets: a lookup
 * fetches and compares only pages whose checksum matches, and a page that
 * changes after insertion cannot disturb anything but its own entry.
 *
 * The cost of a lookup is bounded whatever the content: pages of
 * different content share a checksum with probability 2^-31 (content.c),
 * so the candidates a lookup meets are, but for that, pages that were
 * equal to this one when they were filed.  Such a candidate that is gone,
 * or differs now, was changed after it was filed (or is that rare
 * collision): it is taken out of the index there and then, as it can no
 * longer be matched by its checksum.  Each filed page is thus compared in
 * vain at most once per full scan, and a full scan of N pages makes at
 * most about 2N page compares here, however its pages are written.
 * Candidates on another NUMA node (merge_across_nodes 0) stay: at most
 * one per node can be equal to a page without having been merged.
 *
 * Like upstream's tree, the index is emptied at the start of every full
 * scan: items inserted earlier keep KSM_ITEM_UNSTABLE with an older scan
 * number until ksmd next reaches them, and are then only unflagged.  The
 * table is resized at that point to the number of rmap items.
 *
 * Everything here runs under ksmd_mutex.
 */

#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/slab.h>

#include "ksm_mod.h"

#define KSM_UNSTABLE_MIN_BITS	10
#define KSM_UNSTABLE_MAX_BITS	24

static struct ksm_rmap_item **ksm_unstable_table;
static unsigned int ksm_unstable_bits;

/*
 * Pages of every NUMA node share the buckets: a page's node is checked
 * when it is found, as it may have moved since it was filed.
 */
static struct ksm_rmap_item **ksm_unstable_bucket(u32 checksum)
{
	return &ksm_unstable_table[hash_32(checksum, ksm_unstable_bits)];
}

static bool ksm_unstable_current(const struct ksm_rmap_item *item)
{
	return ((item->address ^ ksm_scan.seqnr) & KSM_ITEM_SEQNR) == 0;
}

/**
 * ksm_unstable_reset - empty the index for a new full scan
 *
 * Returns 0, or -ENOMEM if there is no table at all.  A failed resize keeps
 * the old table: longer chains, same results.
 */
int ksm_unstable_reset(void)
{
	/*
	 * A bucket per two to four rmap items (chains stay short even if
	 * every page is filed): 2 to 4 bytes of table per tracked page.
	 */
	unsigned int bits = order_base_2(max(ksm_count.rmap_items / 4, 1UL));
	struct ksm_rmap_item **table;

	bits = clamp(bits, KSM_UNSTABLE_MIN_BITS, KSM_UNSTABLE_MAX_BITS);
	if (bits != ksm_unstable_bits) {
		table = kvcalloc(1UL << bits, sizeof(*table), GFP_KERNEL);
		if (table) {
			kvfree(ksm_unstable_table);
			ksm_unstable_table = table;
			ksm_unstable_bits = bits;
			return 0;
		}
	}
	if (!ksm_unstable_table)
		return -ENOMEM;
	memset(ksm_unstable_table, 0,
	       sizeof(*ksm_unstable_table) << ksm_unstable_bits);
	return 0;
}

/* Clear @item's unstable state; it is already out of its bucket. */
static void ksm_unstable_unflag(struct ksm_rmap_item *item)
{
	item->hash_next = NULL;
	item->address &= ~KSM_ITEM_INDEXED;
	ksm_count.pages_unshared--;
}

/**
 * ksm_unstable_remove - take @item out of the unstable index
 * @item: an item flagged KSM_ITEM_UNSTABLE
 */
void ksm_unstable_remove(struct ksm_rmap_item *item)
{
	struct ksm_rmap_item **link;

	if (ksm_unstable_current(item)) {
		link = ksm_unstable_bucket(item->checksum);
		while (*link && *link != item)
			link = &(*link)->hash_next;
		if (!WARN_ON_ONCE(!*link))
			*link = item->hash_next;
	}
	ksm_unstable_unflag(item);
}

/*
 * The anonymous page an unstable item stands for, with a reference, or
 * NULL if it is gone.  Takes the other mm's mmap_lock for reading.
 */
static struct page *ksm_unstable_page(struct ksm_rmap_item *item)
{
	struct vm_area_struct *vma = ksm_item_vma_lock(item);
	struct folio_walk fw;
	struct folio *folio;
	struct page *page;

	if (!vma)
		return NULL;
	folio = folio_walk_start(&fw, vma, ksm_item_addr(item), 0);
	page = folio ? fw.page : NULL;
	/* Only an ordinary anonymous page can be merged. */
	if (folio && (!folio_test_anon(folio) || folio_is_zone_device(folio)))
		page = NULL;
	if (page)
		folio_get(folio);
	if (folio)
		folio_walk_end(&fw, vma);
	mmap_read_unlock(item->mm);
	return page;
}

/**
 * ksm_unstable_find_or_add - find a page like @page, or file @item
 * @item: the item of @page, in no index, its checksum up to date
 * @page: the page being scanned (referenced)
 * @nid: the index @page belongs to
 * @match: set to the matching page, with a reference, on success
 *
 * Returns the item of an identical page in the index, or NULL: @item is
 * then filed there, unless @page itself is already (through a fork).
 */
struct ksm_rmap_item *ksm_unstable_find_or_add(struct ksm_rmap_item *item,
					       struct page *page, int nid,
					       struct page **match)
{
	struct ksm_rmap_item **bucket = ksm_unstable_bucket(item->checksum);
	struct ksm_rmap_item **link = bucket, *cand;
	struct page *other;

	while ((cand = *link)) {
		if (cand->checksum != item->checksum) {
			link = &cand->hash_next;
			continue;
		}
		other = ksm_unstable_page(cand);
		/*
		 * The same page twice: a fork that has not broken COW yet.
		 * Filing it again would only make the chain longer.
		 */
		if (other == page) {
			put_page(other);
			return NULL;
		}
		if (other && ksm_pfn_nid(page_to_pfn(other)) != nid) {
			put_page(other);
			link = &cand->hash_next;
			continue;
		}
		if (other && !ksm_pages_differ(page, other)) {
			*match = other;
			return cand;
		}
		/* Gone, or changed since it was filed: it cannot match now. */
		if (other)
			put_page(other);
		*link = cand->hash_next;
		ksm_unstable_unflag(cand);
	}

	item->address |= KSM_ITEM_UNSTABLE | (ksm_scan.seqnr & KSM_ITEM_SEQNR);
	item->hash_next = *bucket;
	*bucket = item;
	ksm_count.pages_unshared++;
	return NULL;
}

/* Bytes of the bucket array (ksmd may be resizing it: a snapshot). */
size_t ksm_unstable_table_bytes(void)
{
	unsigned int bits = READ_ONCE(ksm_unstable_bits);

	return bits ? sizeof(*ksm_unstable_table) << bits : 0;
}

void ksm_unstable_destroy(void)
{
	kvfree(ksm_unstable_table);
	ksm_unstable_table = NULL;
	ksm_unstable_bits = 0;
}
