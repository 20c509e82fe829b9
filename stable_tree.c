// SPDX-License-Identifier: GPL-2.0
/*
 * The stable index: every KSM page ksmd made, filed by a hash of its
 * content and its NUMA node (always 0 while merging across nodes).  A KSM
 * page is write-protected in every mapping, so its content, and with it
 * the hash computed when the node was made, stays true for its lifetime;
 * a lookup compares full pages only when the hash matches.
 *
 * Upstream keeps the same nodes in an rbtree sorted by content; the hash
 * index gives the same answers with one page compare per lookup instead
 * of one per tree level.
 *
 * Nodes hold no reference on their page.  ksm_node_get_folio() checks
 * through the "keyhole" instead: the page is still ours if its mapping
 * still points at the node.  A freed page loses that pointer, so nodes of
 * freed pages are found stale on their next use and dropped then.
 *
 * max_page_sharing: one KSM page may have that many mappings.  More
 * mappings of the same content get another KSM page; the pages alike are
 * then "dups" gathered under one "chain" entry of the index.  A chain left
 * with a single dup is turned back into a plain node at once.
 *
 * With merge_across_nodes 0 a KSM page that migration moved to another
 * node no longer belongs to the index of its old node: its node is moved
 * to a list of migrated nodes and filed again when ksmd next meets the
 * page.
 *
 * Everything here runs under ksmd_mutex, except that the rmap
 * items of a KSM page are changed with its folio locked as well.
 */

#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/slab.h>

#include <trace/events/ksm.h>

#include "ksm_mod.h"

#define KSM_STABLE_MIN_BITS	8
#define KSM_STABLE_MAX_BITS	22

static struct hlist_head *ksm_stable_table;
static unsigned int ksm_stable_bits;
/* Index entries (plain nodes and chains), to size the table. */
static unsigned long ksm_stable_entries;
/* All nodes of every kind: the module is pinned while there are any. */
static unsigned long ksm_nodes_alive;
static LIST_HEAD(ksm_migrated_nodes);
static struct kmem_cache *ksm_node_cache;

static struct hlist_head *ksm_stable_bucket(u32 checksum, int nid)
{
	return &ksm_stable_table[hash_32(checksum ^ (u32)nid,
					 ksm_stable_bits)];
}

bool ksm_stable_empty(void)
{
	return !ksm_nodes_alive;
}

static struct ksm_stable_node *ksm_node_alloc(void)
{
	struct ksm_stable_node *node;

	/* Each node keeps the module loaded until it is freed. */
	if (!ksm_nodes_alive && !ksm_pin_module())
		return NULL;
	/* Memory reserves: failing here means unmerging what was merged. */
	node = kmem_cache_zalloc(ksm_node_cache, GFP_KERNEL | __GFP_HIGH);
	if (!node) {
		if (!ksm_nodes_alive)
			ksm_unpin_module();
		return NULL;
	}
	ksm_nodes_alive++;
	return node;
}

static void ksm_node_free(struct ksm_stable_node *node)
{
	kmem_cache_free(ksm_node_cache, node);
	if (!--ksm_nodes_alive)
		ksm_unpin_module();
}

/* Double the table when it gets crowded; a failure only costs speed. */
static void ksm_stable_grow(void)
{
	unsigned int bits = ksm_stable_bits + 1;
	struct hlist_head *table, *old = ksm_stable_table;
	struct ksm_stable_node *node;
	struct hlist_node *tmp;
	unsigned long i;

	if (ksm_stable_entries < (1UL << ksm_stable_bits) ||
	    bits > KSM_STABLE_MAX_BITS)
		return;
	table = kvcalloc(1UL << bits, sizeof(*table),
			 GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
	if (!table)
		return;
	ksm_stable_table = table;
	ksm_stable_bits = bits;
	for (i = 0; i < (1UL << (bits - 1)); i++)
		hlist_for_each_entry_safe(node, tmp, &old[i], hash) {
			hlist_del(&node->hash);
			hlist_add_head(&node->hash,
				       ksm_stable_bucket(node->checksum,
							 node->nid));
		}
	kvfree(old);
}

static void ksm_index_add(struct ksm_stable_node *node)
{
	node->place = KSM_NODE_INDEXED;
	hlist_add_head(&node->hash, ksm_stable_bucket(node->checksum,
						      node->nid));
	ksm_stable_entries++;
	ksm_stable_grow();
}

static void ksm_index_del(struct ksm_stable_node *node)
{
	hlist_del(&node->hash);
	ksm_stable_entries--;
}

static void ksm_chain_add_dup(struct ksm_stable_node *chain,
			      struct ksm_stable_node *dup)
{
	dup->place = KSM_NODE_DUP;
	hlist_add_head(&dup->dup_link, &chain->dups);
	ksm_count.stable_node_dups++;
}

/* Turn plain index entry @node into a chain with @node as its first dup. */
static struct ksm_stable_node *ksm_chain_create(struct ksm_stable_node *node)
{
	struct ksm_stable_node *chain = ksm_node_alloc();

	if (!chain)
		return NULL;
	chain->checksum = node->checksum;
	chain->nid = node->nid;
	chain->nr_items = KSM_NODE_CHAIN;
	chain->prune_time = jiffies;
	chain->place = KSM_NODE_INDEXED;
	hlist_replace_rcu(&node->hash, &chain->hash);
	ksm_count.stable_node_chains++;
	ksm_chain_add_dup(chain, node);
	return chain;
}

/*
 * Dups leave their chain without touching it (callers may be walking the
 * chain); the chain is tidied at a safe point: freed once empty, replaced
 * in the index by its last dup once that is alone.  Returns what now
 * stands in the chain's place: the chain, that dup, or NULL.
 */
static struct ksm_stable_node *ksm_chain_tidy(struct ksm_stable_node *chain)
{
	struct ksm_stable_node *last = NULL;

	if (hlist_empty(&chain->dups)) {
		ksm_index_del(chain);
	} else if (hlist_is_singular_node(chain->dups.first, &chain->dups)) {
		last = hlist_entry(chain->dups.first, struct ksm_stable_node,
				   dup_link);
		hlist_del(&last->dup_link);
		ksm_count.stable_node_dups--;
		last->place = KSM_NODE_INDEXED;
		hlist_replace_rcu(&chain->hash, &last->hash);
	} else {
		return chain;
	}
	ksm_count.stable_node_chains--;
	ksm_node_free(chain);
	return last;
}

/* Take a KSM page's node out of wherever it is filed. */
static void ksm_node_unfile(struct ksm_stable_node *node)
{
	switch (node->place) {
	case KSM_NODE_INDEXED:
		ksm_index_del(node);
		break;
	case KSM_NODE_DUP:
		hlist_del(&node->dup_link);
		ksm_count.stable_node_dups--;
		break;
	case KSM_NODE_MIGRATED:
		list_del(&node->migrated);
		break;
	}
}

/* A stable item becomes a plain one again, with its node's checksum. */
static void ksm_item_leave_node(struct ksm_rmap_item *item,
				const struct ksm_stable_node *node)
{
	ksm_item_node_forget();
	item->address &= ~KSM_ITEM_INDEXED;
	item->checksum = node->checksum;
	item->hash_next = NULL;
}

/*
 * Forget a KSM page: its mappings are no longer counted as merged and its
 * node is freed.  The caller made sure the page no longer points at the
 * node (it was freed, or its mapping was cleared under the folio lock).
 */
static void ksm_node_remove(struct ksm_stable_node *node)
{
	struct ksm_rmap_item *item, *next;

	for (item = ksm_node_first_item(node); item; item = next) {
		next = ksm_node_next_item(item);
		if (next)
			ksm_count.pages_sharing--;
		else
			ksm_count.pages_shared--;
		item->mm->ksm_merging_pages--;
		node->nr_items--;
		put_anon_vma(item->anon_vma);
		if (next)
			trace_ksm_remove_rmap_item(node->kpfn, item, item->mm);
		ksm_item_leave_node(item, node);
		cond_resched();
	}
	ksm_node_free_runs(node);
	WARN_ON_ONCE(node->nr_items);
	trace_ksm_remove_ksm_page(node->kpfn);
	ksm_node_unfile(node);
	ksm_node_free(node);
}

/* Does @folio's mapping still point at @node (the "keyhole")? */
static bool ksm_keyhole_fits(struct folio *folio, struct ksm_stable_node *node)
{
	return READ_ONCE(folio->mapping) ==
	       (void *)((unsigned long)node | PAGE_MAPPING_KSM);
}

/*
 * A reference on @folio unless it was freed.  A zero refcount means freed,
 * except while the swap cache or migration has frozen it: such a page
 * still in the swap cache may still be ours, so wait for the freeze to end.
 */
static bool ksm_folio_hold(struct folio *folio)
{
	while (!folio_try_get(folio)) {
		if (!folio_test_swapcache(folio))
			return false;
		cpu_relax();
	}
	return true;
}

/*
 * @folio, referenced and locked as @mode asks, if it is @node's KSM page;
 * NULL if not (any more); ERR_PTR(-EBUSY) if it could not be trylocked.
 */
static struct folio *ksm_keyhole_folio(struct ksm_stable_node *node,
				       struct folio *folio,
				       enum ksm_get_folio_mode mode)
{
	if (!ksm_keyhole_fits(folio, node) || !ksm_folio_hold(folio))
		return NULL;
	if (!ksm_keyhole_fits(folio, node))
		goto put;
	if (mode == KSM_GET_NOLOCK)
		return folio;
	if (mode == KSM_GET_LOCK) {
		folio_lock(folio);
	} else if (!folio_trylock(folio)) {
		folio_put(folio);
		return ERR_PTR(-EBUSY);
	}
	/* Freed and reused while we waited for the lock? */
	if (ksm_keyhole_fits(folio, node))
		return folio;
	folio_unlock(folio);
put:
	folio_put(folio);
	return NULL;
}

/**
 * ksm_node_get_folio - the KSM page of @node, if it is still one
 * @node: a plain node or dup
 * @mode: whether to lock the folio, and how
 *
 * Returns the folio with a reference (and locked, as asked), NULL if the
 * page is gone (the node has then been removed), or ERR_PTR(-EBUSY) if
 * KSM_GET_TRYLOCK could not lock it.
 */
struct folio *ksm_node_get_folio(struct ksm_stable_node *node,
				 enum ksm_get_folio_mode mode)
{
	struct folio *folio;
	unsigned long kpfn;

	do {
		kpfn = READ_ONCE(node->kpfn);
		folio = ksm_keyhole_folio(node, pfn_folio(kpfn), mode);
		if (folio)
			return folio;
		/*
		 * Pairs with the barrier in ksm_migrate_folio(): the page may
		 * have moved rather than gone.
		 */
		smp_rmb();
	} while (READ_ONCE(node->kpfn) != kpfn);
	ksm_node_remove(node);
	return NULL;
}

/* Can one more mapping join this KSM page? */
bool ksm_node_has_room(const struct ksm_stable_node *node)
{
	/* A KSM page whose last mapping went is about to be freed. */
	return node->nr_items &&
	       node->nr_items < READ_ONCE(ksm_tun.max_page_sharing);
}

/*
 * The best dup of chain *@entryp to share: one with room, with the most
 * mappings.  Stale dups met on the way are dropped; every
 * stable_node_chains_prune_millisecs all of them are checked.  Returns
 * the dup's folio with a reference (*@dupp set), or NULL if nothing of
 * the chain is left.  *@entryp becomes the dup if the chain was reduced
 * to it.
 */
static struct folio *ksm_chain_pick(struct ksm_stable_node **entryp,
				    struct ksm_stable_node **dupp)
{
	struct ksm_stable_node *chain = *entryp, *dup, *best = NULL;
	unsigned long prune_ms =
		READ_ONCE(ksm_tun.stable_node_chains_prune_millisecs);
	struct folio *folio, *best_folio = NULL;
	struct hlist_node *tmp;
	bool prune = time_after_eq(jiffies, chain->prune_time +
				   msecs_to_jiffies(prune_ms));

	if (prune)
		chain->prune_time = jiffies;

	hlist_for_each_entry_safe(dup, tmp, &chain->dups, dup_link) {
		cond_resched();
		folio = ksm_node_get_folio(dup, KSM_GET_NOLOCK);
		if (!folio)
			continue;
		if (!best || (ksm_node_has_room(dup) &&
			      (!ksm_node_has_room(best) ||
			       dup->nr_items > best->nr_items))) {
			if (best_folio)
				folio_put(best_folio);
			best = dup;
			best_folio = folio;
			if (!prune && ksm_node_has_room(best))
				break;
			continue;
		}
		folio_put(folio);
	}
	*entryp = ksm_chain_tidy(chain);
	*dupp = best;
	return best_folio;
}

/*
 * The KSM page index entry *@entryp stands for: a plain node's own page,
 * or a chain's best dup (*@dupp).  NULL if nothing of the entry is left,
 * in which case the bucket changed under the caller, who must start over.
 */
static struct folio *ksm_entry_folio(struct ksm_stable_node **entryp,
				     struct ksm_stable_node **dupp)
{
	if (!ksm_node_is_chain(*entryp)) {
		*dupp = *entryp;
		return ksm_node_get_folio(*entryp, KSM_GET_NOLOCK);
	}
	return ksm_chain_pick(entryp, dupp);
}

/*
 * File migrated KSM page @node (of @folio, content @checksum) in the
 * index of its new node, next to an equal page if there is one.
 * Returns true if @node may take one more mapping.
 */
static bool ksm_refile_migrated(struct ksm_stable_node *node,
				struct ksm_stable_node *same, int nid)
{
	list_del(&node->migrated);
	node->nid = nid;
	if (!same) {
		ksm_index_add(node);
	} else {
		if (!ksm_node_is_chain(same))
			same = ksm_chain_create(same);
		if (same)
			ksm_chain_add_dup(same, node);
		else
			ksm_index_add(node);
	}
	return ksm_node_has_room(node);
}

/**
 * ksm_stable_find - a KSM page with the content of @page
 * @page: the page being scanned (referenced), not changed since @checksum
 * @checksum: its content hash
 *
 * Returns the KSM page, with a reference, that @page should be merged
 * with (@page itself if it already is one that ksmd should just count);
 * NULL if there is none with room; ERR_PTR(-EBUSY) if it is locked.
 */
struct page *ksm_stable_find(struct page *page, u32 checksum)
{
	struct folio *folio = page_folio(page);
	struct ksm_stable_node *own = ksm_folio_node(folio);
	struct ksm_stable_node *entry, *dup;
	struct folio *tree_folio;
	int nid;

	/* A KSM page reached through a fork: it is its own match. */
	if (own && own->place != KSM_NODE_MIGRATED) {
		folio_get(folio);
		return page;
	}

	nid = ksm_pfn_nid(folio_pfn(folio));
again:
	hlist_for_each_entry(entry, ksm_stable_bucket(checksum, nid), hash) {
		if (entry->checksum != checksum || entry->nid != nid)
			continue;
		tree_folio = ksm_entry_folio(&entry, &dup);
		if (!tree_folio)
			goto again;	/* the bucket changed */
		if (ksm_pages_differ(page, folio_page(tree_folio, 0))) {
			folio_put(tree_folio);
			continue;	/* same hash, other content */
		}
		folio_put(tree_folio);

		/*
		 * A migrated KSM page with several mappings joins its equals
		 * as a dup rather than being merged into them.
		 */
		if (own && folio_mapcount(folio) > 1)
			goto refile;
		/* All full: the page must wait to make a new KSM page. */
		if (!ksm_node_has_room(dup))
			return NULL;

		/*
		 * Lock and unlock the page, so that a migration racing with
		 * us sees the reference we took.
		 */
		tree_folio = ksm_node_get_folio(dup, KSM_GET_TRYLOCK);
		if (IS_ERR(tree_folio))
			return ERR_CAST(tree_folio);
		if (!tree_folio)
			goto again;
		folio_unlock(tree_folio);

		/* That page itself moved away from this node: re-file it. */
		if (ksm_pfn_nid(dup->kpfn) != dup->nid) {
			folio_put(tree_folio);
			ksm_stable_check_placement(dup);
			goto again;
		}
		return folio_page(tree_folio, 0);
	}

	if (!own)
		return NULL;
	entry = NULL;
refile:
	if (!ksm_refile_migrated(own, entry, nid))
		return NULL;
	folio_get(folio);
	return page;
}

/**
 * ksm_stable_check_placement - move @node aside if its page changed node
 * @node: the node of a KSM page ksmd is looking at
 *
 * With merge_across_nodes 0, a KSM page migrated to another NUMA node is
 * filed under the wrong index: take it out, to be filed again.
 */
void ksm_stable_check_placement(struct ksm_stable_node *node)
{
	if (node->place == KSM_NODE_MIGRATED ||
	    ksm_pfn_nid(READ_ONCE(node->kpfn)) == node->nid)
		return;
	ksm_node_unfile(node);
	node->place = KSM_NODE_MIGRATED;
	list_add(&node->migrated, &ksm_migrated_nodes);
}

/* Drop migrated nodes whose pages are gone; once per full scan. */
void ksm_stable_prune_migrated(void)
{
	struct ksm_stable_node *node, *next;
	struct folio *folio;

	list_for_each_entry_safe(node, next, &ksm_migrated_nodes, migrated) {
		folio = ksm_node_get_folio(node, KSM_GET_NOLOCK);
		if (folio)
			folio_put(folio);
		cond_resched();
	}
}

/**
 * ksm_stable_insert - file a new KSM page
 * @kfolio: the page, locked, write-protected in its (two) mappings
 *
 * Returns its node, or NULL if there was no memory for one.
 */
struct ksm_stable_node *ksm_stable_insert(struct folio *kfolio)
{
	unsigned long kpfn = folio_pfn(kfolio);
	int nid = ksm_pfn_nid(kpfn);
	u32 checksum = ksm_page_checksum(folio_page(kfolio, 0));
	struct ksm_stable_node *entry, *dup, *same = NULL, *node;
	struct folio *tree_folio;

again:
	hlist_for_each_entry(entry, ksm_stable_bucket(checksum, nid), hash) {
		if (entry->checksum != checksum || entry->nid != nid)
			continue;
		tree_folio = ksm_entry_folio(&entry, &dup);
		if (!tree_folio)
			goto again;
		if (!ksm_pages_differ(folio_page(kfolio, 0),
				      folio_page(tree_folio, 0)))
			same = entry;
		folio_put(tree_folio);
		if (same)
			break;
	}

	node = ksm_node_alloc();
	if (!node)
		return NULL;
	node->kpfn = kpfn;
	node->checksum = checksum;
	node->nid = nid;
	if (same && !ksm_node_is_chain(same)) {
		same = ksm_chain_create(same);
		if (!same) {
			ksm_node_free(node);
			return NULL;
		}
	}
	if (same)
		ksm_chain_add_dup(same, node);
	else
		ksm_index_add(node);
	ksm_folio_set_node(kfolio, node);
	return node;
}

/**
 * ksm_stable_add_item - count @item as a mapping of @node's KSM page
 * @item: the item of a page just replaced by (or found to be) that page
 * @node: the KSM page's node; its folio is locked
 * @over_limit_ok: a fork may take a KSM page past max_page_sharing
 */
void ksm_stable_add_item(struct ksm_rmap_item *item,
			 struct ksm_stable_node *node, bool over_limit_ok)
{
	node->nr_items++;
	WARN_ON_ONCE(!over_limit_ok &&
		     node->nr_items > READ_ONCE(ksm_tun.max_page_sharing));
	item->address |= KSM_ITEM_STABLE;
	ksm_node_link_item(node, item);
	if (node->nr_items > 1)
		ksm_count.pages_sharing++;
	else
		ksm_count.pages_shared++;
	item->mm->ksm_merging_pages++;
}

/**
 * ksm_stable_remove_item - @item no longer maps its KSM page
 * @item: an item flagged KSM_ITEM_STABLE
 */
void ksm_stable_remove_item(struct ksm_rmap_item *item)
{
	struct ksm_stable_node *node = ksm_item_node(item);
	struct folio *folio;

	folio = ksm_node_get_folio(node, KSM_GET_LOCK);
	if (!folio)
		return;	/* the node went, and took the item's state along */

	ksm_node_unlink_item(node, item);
	folio_unlock(folio);
	folio_put(folio);

	node->nr_items--;
	if (node->nr_items)
		ksm_count.pages_sharing--;
	else
		ksm_count.pages_shared--;
	item->mm->ksm_merging_pages--;
	put_anon_vma(item->anon_vma);
	ksm_item_leave_node(item, node);
}

/*
 * Drop @node if its page is no longer mapped (it may linger in the swap
 * cache or a pagevec).  Returns -EBUSY if it is still mapped.
 */
static int ksm_node_drop_unmapped(struct ksm_stable_node *node)
{
	struct folio *folio = ksm_node_get_folio(node, KSM_GET_LOCK);
	bool busy;

	if (!folio)
		return 0;	/* freed: the node went with it */
	busy = folio_mapped(folio);
	if (!busy) {
		/* The page forgets the node before the node goes. */
		ksm_folio_set_node(folio, NULL);
		ksm_node_remove(node);
	}
	folio_unlock(folio);
	folio_put(folio);
	return busy ? -EBUSY : 0;
}

/*
 * Drop an index entry (a plain node, or a chain with its dups) whose pages
 * are no longer mapped.  Returns -EBUSY if some page is still mapped.
 */
static int ksm_entry_drop_unmapped(struct ksm_stable_node *entry)
{
	struct ksm_stable_node *dup;
	struct hlist_node *tmp;
	int err = 0;

	if (!ksm_node_is_chain(entry))
		return ksm_node_drop_unmapped(entry);
	hlist_for_each_entry_safe(dup, tmp, &entry->dups, dup_link)
		if (ksm_node_drop_unmapped(dup))
			err = -EBUSY;
	ksm_chain_tidy(entry);
	return err;
}

/**
 * ksm_stable_remove_all - drop every stable node whose page is unmapped
 *
 * Used after unmerging everything, and before changing a knob that
 * reshapes the index.  Returns -EBUSY if some KSM page is still mapped.
 */
int ksm_stable_remove_all(void)
{
	struct ksm_stable_node *entry, *node, *next;
	struct hlist_node *tmp;
	unsigned long i;
	int err = 0;

	/*
	 * An entry dropped or tidied leaves the entries after it in place,
	 * so the saved next pointer of the walk stays good.
	 */
	for (i = 0; ksm_stable_table && i < (1UL << ksm_stable_bits); i++) {
		hlist_for_each_entry_safe(entry, tmp, &ksm_stable_table[i],
					  hash)
			if (ksm_entry_drop_unmapped(entry))
				err = -EBUSY;
		cond_resched();
	}
	list_for_each_entry_safe(node, next, &ksm_migrated_nodes, migrated) {
		if (ksm_node_drop_unmapped(node))
			err = -EBUSY;
		cond_resched();
	}
	return err;
}

/* Drop @node, whose page is offline, if its pfn is in [@start, @end). */
static void ksm_node_drop_in_range(struct ksm_stable_node *node,
				   unsigned long start, unsigned long end)
{
	if (node->kpfn >= start && node->kpfn < end)
		ksm_node_remove(node);
}

/**
 * ksm_stable_remove_range - forget KSM pages in memory just offlined
 * @start_pfn: first pfn of the range
 * @end_pfn: pfn after the range
 *
 * Migration moved every page it could; nodes still pointing into the
 * range are stale, and their struct pages must not be looked at again.
 */
void ksm_stable_remove_range(unsigned long start_pfn, unsigned long end_pfn)
{
	struct ksm_stable_node *entry, *dup, *node, *next;
	struct hlist_node *tmp, *dtmp;
	unsigned long i;

	for (i = 0; ksm_stable_table && i < (1UL << ksm_stable_bits); i++) {
		hlist_for_each_entry_safe(entry, tmp, &ksm_stable_table[i],
					  hash) {
			if (!ksm_node_is_chain(entry)) {
				ksm_node_drop_in_range(entry, start_pfn,
						       end_pfn);
				continue;
			}
			hlist_for_each_entry_safe(dup, dtmp, &entry->dups,
						  dup_link)
				ksm_node_drop_in_range(dup, start_pfn, end_pfn);
			ksm_chain_tidy(entry);
		}
		cond_resched();
	}
	list_for_each_entry_safe(node, next, &ksm_migrated_nodes, migrated)
		ksm_node_drop_in_range(node, start_pfn, end_pfn);
}

/* Bytes of the bucket array (ksmd may be growing it: a snapshot). */
size_t ksm_stable_table_bytes(void)
{
	return sizeof(*ksm_stable_table) << READ_ONCE(ksm_stable_bits);
}

int ksm_stable_init(void)
{
	ksm_node_cache = KMEM_CACHE(ksm_stable_node, 0);
	if (!ksm_node_cache)
		return -ENOMEM;
	ksm_stable_table = kvcalloc(1UL << KSM_STABLE_MIN_BITS,
				    sizeof(*ksm_stable_table), GFP_KERNEL);
	if (!ksm_stable_table || ksm_item_runs_init()) {
		kvfree(ksm_stable_table);
		kmem_cache_destroy(ksm_node_cache);
		return -ENOMEM;
	}
	ksm_stable_bits = KSM_STABLE_MIN_BITS;
	return 0;
}

/* At unload: the module is unpinned, so no node is left. */
void ksm_stable_destroy(void)
{
	WARN_ON_ONCE(ksm_nodes_alive);
	kvfree(ksm_stable_table);
	ksm_stable_table = NULL;
	ksm_item_runs_destroy();
	kmem_cache_destroy(ksm_node_cache);
}
