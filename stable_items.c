// SPDX-License-Identifier: GPL-2.0
/*
 * The mappings of a KSM page: the rmap items of its stable node, kept in
 * runs of at most KSM_RUN_ITEMS items, so that finding an item's node and
 * unlinking an item cost at most one run's length whatever
 * max_page_sharing allows (VM hosts raise it to thousands).
 *
 * The first run hangs off the node itself (node->items, node->nr_head),
 * so a KSM page with few mappings costs no more than one list; the others
 * are struct ksm_item_run, on node->runs, those with room first.  Each run
 * is singly linked through item->sibling, and the last item's sibling
 * names the run's owner, tagged: the node (KSM_ITEM_LIST_END) or the run
 * (KSM_ITEM_LIST_END | KSM_ITEM_LIST_RUN), whose ->node is the node.
 *
 * The enemy of the bound is an allocation failure: then the item goes on
 * the node's own run, over the limit, which stays correct and only costs
 * speed until the run shrinks.
 *
 * Everything here runs under ksmd_mutex, with the KSM page's folio locked
 * for changes to its lists (rmap walks read them under the folio lock).
 */

#include <linux/slab.h>

#include "ksm_mod.h"

#define KSM_RUN_ITEMS	64

/**
 * struct ksm_item_run - one run of a KSM page's items beyond its first
 * @link: entry on the node's @runs, those with room first.
 * @node: the stable node of the KSM page.
 * @items: the first item of the run, never NULL (empty runs are freed).
 * @nr: items on the run.
 */
struct ksm_item_run {
	struct hlist_node link;
	struct ksm_stable_node *node;
	struct ksm_rmap_item *items;
	unsigned int nr;
};

static struct kmem_cache *ksm_run_cache;

/*
 * The last item ksm_item_node() answered for, and its node: ksmd meets a
 * KSM page's items of one mm in address order, which is the reverse of
 * their order on a run (new items go first), so the item met next usually
 * links straight to this one.  Cleared whenever an item leaves a run, so
 * it never names an item that is not on its node's runs.
 */
static struct {
	const struct ksm_rmap_item *item;
	struct ksm_stable_node *node;
} ksm_item_node_memo;

static unsigned long ksm_run_tag(const struct ksm_item_run *run)
{
	return (unsigned long)run | KSM_ITEM_LIST_END | KSM_ITEM_LIST_RUN;
}

static unsigned long ksm_node_tag(const struct ksm_stable_node *node)
{
	return (unsigned long)node | KSM_ITEM_LIST_END;
}

static void *ksm_untag(unsigned long sibling)
{
	return (void *)(sibling & ~(KSM_ITEM_LIST_END | KSM_ITEM_LIST_RUN));
}

/* The tagged owner at the end of @item's run (at most a run's walk). */
static unsigned long ksm_item_run_end(const struct ksm_rmap_item *item)
{
	while (!(item->sibling & KSM_ITEM_LIST_END))
		item = (const struct ksm_rmap_item *)item->sibling;
	return item->sibling;
}

/**
 * ksm_item_node - the stable node of the KSM page @item maps
 * @item: an item flagged KSM_ITEM_STABLE
 */
struct ksm_stable_node *ksm_item_node(const struct ksm_rmap_item *item)
{
	const struct ksm_rmap_item *it = item;
	struct ksm_stable_node *node;

	for (;;) {
		if (it == ksm_item_node_memo.item) {
			node = ksm_item_node_memo.node;
			break;
		}
		if (it->sibling & KSM_ITEM_LIST_RUN) {
			node = ((struct ksm_item_run *)ksm_untag(it->sibling))->node;
			break;
		}
		if (it->sibling & KSM_ITEM_LIST_END) {
			node = ksm_untag(it->sibling);
			break;
		}
		it = (const struct ksm_rmap_item *)it->sibling;
	}
	ksm_item_node_memo.item = item;
	ksm_item_node_memo.node = node;
	return node;
}

/* An item is leaving its run: the memo may name it. */
void ksm_item_node_forget(void)
{
	ksm_item_node_memo.item = NULL;
}

/* The first item of @node's KSM page, or NULL if it has none. */
struct ksm_rmap_item *ksm_node_first_item(const struct ksm_stable_node *node)
{
	struct ksm_item_run *run;

	if (node->items)
		return node->items;
	run = hlist_entry_safe(node->runs.first, struct ksm_item_run, link);
	return run ? run->items : NULL;
}

/* The item after @item on its KSM page's runs, or NULL after the last. */
struct ksm_rmap_item *ksm_node_next_item(const struct ksm_rmap_item *item)
{
	const struct ksm_stable_node *node;
	struct ksm_item_run *run;
	struct hlist_node *next;

	if (!(item->sibling & KSM_ITEM_LIST_END))
		return (struct ksm_rmap_item *)item->sibling;
	if (item->sibling & KSM_ITEM_LIST_RUN) {
		run = ksm_untag(item->sibling);
		next = run->link.next;
	} else {
		node = ksm_untag(item->sibling);
		next = node->runs.first;
	}
	run = hlist_entry_safe(next, struct ksm_item_run, link);
	return run ? run->items : NULL;
}

/* Push @item on the run @head/@nr with owner tag @tag. */
static void ksm_run_push(struct ksm_rmap_item **head, unsigned int *nr,
			 unsigned long tag, struct ksm_rmap_item *item)
{
	item->sibling = *head ? (unsigned long)*head : tag;
	*head = item;
	(*nr)++;
}

/**
 * ksm_node_link_item - put @item on the runs of @node's KSM page
 * @node: a KSM page's node (not a chain), its folio locked
 * @item: an item that is on no run
 */
void ksm_node_link_item(struct ksm_stable_node *node,
			struct ksm_rmap_item *item)
{
	struct ksm_item_run *run;

	if (node->nr_head < KSM_RUN_ITEMS) {
		ksm_run_push(&node->items, &node->nr_head, ksm_node_tag(node),
			     item);
		return;
	}
	run = hlist_entry_safe(node->runs.first, struct ksm_item_run, link);
	if (!run || run->nr >= KSM_RUN_ITEMS) {
		run = kmem_cache_zalloc(ksm_run_cache,
					GFP_KERNEL | __GFP_NOWARN);
		if (!run) {
			/* Over the limit: correct, only slower. */
			ksm_run_push(&node->items, &node->nr_head,
				     ksm_node_tag(node), item);
			return;
		}
		run->node = node;
		hlist_add_head(&run->link, &node->runs);
	}
	ksm_run_push(&run->items, &run->nr, ksm_run_tag(run), item);
}

/* Take @item off the run that starts at *@head. */
static void ksm_run_unlink(struct ksm_rmap_item **head,
			   struct ksm_rmap_item *item)
{
	struct ksm_rmap_item *prev;

	if (*head == item) {
		*head = ksm_item_sibling(item);
		return;
	}
	for (prev = *head; prev->sibling != (unsigned long)item;
	     prev = ksm_item_sibling(prev))
		;
	prev->sibling = item->sibling;
}

/**
 * ksm_node_unlink_item - take @item off its KSM page's runs
 * @node: the node of its KSM page, the folio locked
 * @item: an item on one of @node's runs
 *
 * The item's sibling is left as it was, for the caller to reuse.
 */
void ksm_node_unlink_item(struct ksm_stable_node *node,
			  struct ksm_rmap_item *item)
{
	unsigned long end = ksm_item_run_end(item);
	struct ksm_item_run *run;

	ksm_item_node_forget();
	if (!(end & KSM_ITEM_LIST_RUN)) {
		ksm_run_unlink(&node->items, item);
		node->nr_head--;
		return;
	}
	run = ksm_untag(end);
	ksm_run_unlink(&run->items, item);
	hlist_del(&run->link);
	if (--run->nr)
		hlist_add_head(&run->link, &node->runs);	/* has room */
	else
		kmem_cache_free(ksm_run_cache, run);
}

/* Free the runs of a node whose items have all left (ksm_node_remove). */
void ksm_node_free_runs(struct ksm_stable_node *node)
{
	struct ksm_item_run *run;
	struct hlist_node *tmp;

	hlist_for_each_entry_safe(run, tmp, &node->runs, link)
		kmem_cache_free(ksm_run_cache, run);
	INIT_HLIST_HEAD(&node->runs);
	node->items = NULL;
	node->nr_head = 0;
}

int ksm_item_runs_init(void)
{
	ksm_run_cache = KMEM_CACHE(ksm_item_run, 0);
	return ksm_run_cache ? 0 : -ENOMEM;
}

void ksm_item_runs_destroy(void)
{
	kmem_cache_destroy(ksm_run_cache);
}
