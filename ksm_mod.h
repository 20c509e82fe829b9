/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm_mod internal interfaces: the engine's tunables, its counters, the
 * run state, and the entry points each file offers the others.
 *
 * Lock order (outermost first):
 *   ksmd_mutex -> mmap_lock -> folio lock -> anon_vma lock
 *                    -> page table lock -> ksm_mm_lock
 *
 * What protects what:
 *  - ksmd_mutex: both indexes, every rmap item and stable node
 *    field except those below, the scan cursor, the counters.
 *  - the folio lock of a KSM page: the list of rmap items of its stable
 *    node (rmap walks hold only that lock), and folio->mapping.
 *  - ksm_mm_lock: the list and hash of mm slots, and which slot the
 *    scan cursor is on (so exiting mms can tell whether ksmd is in them).
 */
#ifndef _KSM_MOD_H
#define _KSM_MOD_H

#include <linux/ksm_engine.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rmap.h>
#include <linux/types.h>

/* Bits of ksm_run, as user space sees them in /sys/kernel/mm/ksm/run. */
#define KSM_RUN_STOP	0
#define KSM_RUN_MERGE	1
#define KSM_RUN_UNMERGE	2

enum ksm_advisor_mode {
	KSM_ADVISOR_NONE,
	KSM_ADVISOR_SCAN_TIME,
};

#define KSM_DEFAULT_PAGES_TO_SCAN	100

/**
 * struct ksm_tunables - the writable knobs of /sys/kernel/mm/ksm
 * @pages_to_scan: pages ksmd scans per batch.
 * @sleep_millisecs: ksmd's sleep between batches.
 * @stable_node_chains_prune_millisecs: minimum age before a chain is pruned.
 * @max_page_sharing: most mappings one KSM page may have.
 * @merge_across_nodes: one stable tree for all NUMA nodes (1) or one each.
 * @use_zero_pages: merge zero-filled pages with the shared zero page.
 * @smart_scan: skip pages that failed to merge on earlier scans.
 * @advisor: which advisor (if any) sets @pages_to_scan.
 * @advisor_max_cpu: ksmd CPU percentage the advisor may use.
 * @advisor_target_scan_time: seconds the advisor aims a full scan at.
 * @advisor_min_pages_to_scan: lower bound the advisor uses.
 * @advisor_max_pages_to_scan: upper bound the advisor uses.
 *
 * Written by the sysfs stores; read by ksmd with READ_ONCE().  The two
 * whose change needs an empty stable tree (@max_page_sharing and
 * @merge_across_nodes) are written only under ksmd_mutex.
 */
struct ksm_tunables {
	unsigned int pages_to_scan;
	unsigned int sleep_millisecs;
	unsigned int stable_node_chains_prune_millisecs;
	int max_page_sharing;
	unsigned int merge_across_nodes;
	bool use_zero_pages;
	bool smart_scan;
	enum ksm_advisor_mode advisor;
	unsigned int advisor_max_cpu;
	unsigned long advisor_target_scan_time;
	unsigned long advisor_min_pages_to_scan;
	unsigned long advisor_max_pages_to_scan;
};

/**
 * struct ksm_counters - the read-only counters of /sys/kernel/mm/ksm
 * @pages_scanned: pages ksmd has looked at since load.
 * @pages_shared: KSM pages in the stable tree.
 * @pages_sharing: further mappings of those KSM pages.
 * @pages_unshared: pages in the unstable tree.
 * @pages_skipped: pages smart scan passed over.
 * @rmap_items: rmap items in use; pages_volatile is derived from it.
 * @stable_node_chains: chains in the stable tree.
 * @stable_node_dups: dups hanging off those chains.
 *
 * Updated by ksmd under ksmd_mutex (and by the unmerge paths, which
 * hold it too); read without locking.
 */
struct ksm_counters {
	unsigned long pages_scanned;
	unsigned long pages_shared;
	unsigned long pages_sharing;
	unsigned long pages_unshared;
	unsigned long pages_skipped;
	unsigned long rmap_items;
	unsigned long stable_node_chains;
	unsigned long stable_node_dups;
};

extern struct ksm_tunables ksm_tun;
extern struct ksm_counters ksm_count;

/* KSM_RUN_* value; written under ksmd_mutex, read with READ_ONCE(). */
extern unsigned long ksm_run;
/* Serialises ksmd's batches against run changes and tree-wide knobs. */
extern struct mutex ksmd_mutex;

/*
 * Low bits of ksm_rmap_item.address (the page address is page aligned):
 * which index the item is in; for the unstable index, the low bits of the
 * number of the full scan it was filed during (an item is seen again, and
 * so unfiled, within one full scan, which two bits tell apart); and smart
 * scan's state.
 */
#define KSM_ITEM_SEQNR		0x003UL
#define KSM_ITEM_UNSTABLE	0x004UL
#define KSM_ITEM_STABLE		0x008UL
#define KSM_ITEM_AGE		0x0f0UL	/* scans seen, saturating */
#define KSM_ITEM_SKIPS		0xf00UL	/* scans still to sit out */
/* What leaving an index clears. */
#define KSM_ITEM_INDEXED	(KSM_ITEM_SEQNR | KSM_ITEM_UNSTABLE | \
				 KSM_ITEM_STABLE)

/*
 * The end of a run of a KSM page's items (stable_items.c): its owner,
 * tagged: the stable node, or with KSM_ITEM_LIST_RUN a struct ksm_item_run.
 */
#define KSM_ITEM_LIST_END	0x1UL
#define KSM_ITEM_LIST_RUN	0x2UL

struct ksm_stable_node;

/**
 * struct ksm_rmap_item - one page of a registered mm that ksmd looked at
 * @next: the mm slot's list of items, sorted by address.
 * @mm: the mm the page is mapped in.
 * @address: the page's address, with KSM_ITEM_* bits in the low bits.
 * @checksum: hash of the content when last scanned (when not stable; a
 *	stable item's is its node's).
 * @hash_next: chain in the unstable index (when KSM_ITEM_UNSTABLE).
 * @sibling: the next item on its run of the KSM page's items, or, for the
 *	last one, the run's owner, tagged (when KSM_ITEM_STABLE).
 * @anon_vma: the VMA's anon_vma, referenced, for rmap walks (when stable).
 *
 * 40 bytes: one is kept for every page of every mergeable area, so its
 * size is most of the engine's memory.  Hence the union, the flags in the
 * address, and the singly linked @sibling list (the node of an item is at
 * the end of its list: finding it, or unlinking an item, costs a walk of
 * at most max_page_sharing items).
 *
 * Owned by ksmd: all fields are under ksmd_mutex, and @sibling also
 * under the KSM page's folio lock.
 */
struct ksm_rmap_item {
	struct ksm_rmap_item *next;
	struct mm_struct *mm;
	unsigned long address;
	union {
		struct {
			u32 checksum;
			struct ksm_rmap_item *hash_next;
		};
		struct {
			unsigned long sibling;
			struct anon_vma *anon_vma;
		};
	};
};

static inline unsigned long ksm_item_addr(const struct ksm_rmap_item *item)
{
	return item->address & PAGE_MASK;
}

static inline bool ksm_item_stable(const struct ksm_rmap_item *item)
{
	return item->address & KSM_ITEM_STABLE;
}

/* The item after @item on its KSM page's list, or NULL at the end. */
static inline struct ksm_rmap_item *
ksm_item_sibling(const struct ksm_rmap_item *item)
{
	if (item->sibling & KSM_ITEM_LIST_END)
		return NULL;
	return (struct ksm_rmap_item *)item->sibling;
}

/* Where a stable node is filed. */
enum ksm_node_place {
	KSM_NODE_INDEXED,	/* in the stable index: a plain node or chain */
	KSM_NODE_DUP,		/* in a chain's list of dups */
	KSM_NODE_MIGRATED,	/* moved to another NUMA node, to be re-filed */
};

/**
 * struct ksm_stable_node - a KSM page, or a chain of KSM pages alike
 * @hash: entry in the stable index (KSM_NODE_INDEXED).
 * @dup_link: entry in its chain's list of dups (KSM_NODE_DUP).
 * @migrated: entry in the list of migrated nodes (KSM_NODE_MIGRATED).
 * @items: the first rmap item of the KSM page's first run.
 * @dups: a chain's dups.
 * @kpfn: the KSM page's pfn (not for chains).
 * @prune_time: jiffies when the chain's dups were last checked (chains).
 * @checksum: hash of the (write-protected) content.
 * @nr_items: number of @items, or KSM_NODE_CHAIN for a chain.
 * @nid: NUMA node of the index the node is filed under.
 * @place: which of @hash, @dup_link, @migrated is in use.
 * @nr_head: items on the first run (@items).
 * @runs: the KSM page's other runs of items (struct ksm_item_run).
 *
 * A chain stands for max_page_sharing overflow: several KSM pages with the
 * same content, each a "dup" with its own mappings.  All fields are under
 * ksmd_mutex; @items of a KSM page also under its folio lock, and
 * @kpfn is also written by migration with both folios locked and read
 * locklessly through the folio->mapping keyhole.
 */
struct ksm_stable_node {
	union {
		struct hlist_node hash;
		struct hlist_node dup_link;
		struct list_head migrated;
	};
	union {
		struct ksm_rmap_item *items;
		struct hlist_head dups;
	};
	union {
		unsigned long kpfn;
		unsigned long prune_time;
	};
	u32 checksum;
	int nr_items;
	u16 nid;
	u8 place;
	unsigned int nr_head;
	struct hlist_head runs;
};

#define KSM_NODE_CHAIN	(-1024)

static inline bool ksm_node_is_chain(const struct ksm_stable_node *node)
{
	return node->nr_items == KSM_NODE_CHAIN;
}

/**
 * struct ksm_mm_slot - an mm the engine tracks
 * @hash: link in the slot hash, keyed by @mm.
 * @link: link in the slot list, in scan order.
 * @mm: the tracked mm, grabbed for the slot's lifetime.
 * @items: the mm's rmap items, sorted by address (under ksmd_mutex).
 */
struct ksm_mm_slot {
	struct hlist_node hash;
	struct list_head link;
	struct mm_struct *mm;
	struct ksm_rmap_item *items;
};

/**
 * struct ksm_scan_cursor - where ksmd is
 * @slot: the mm slot being scanned; the list head between full scans.
 * @next_addr: the next address to look at in @slot's mm.
 * @link: where in @slot's item list the next item goes.
 * @seqnr: full scans completed since the last unmerge (sysfs full_scans).
 */
struct ksm_scan_cursor {
	struct ksm_mm_slot *slot;
	unsigned long next_addr;
	struct ksm_rmap_item **link;
	unsigned long seqnr;
};

extern struct ksm_scan_cursor ksm_scan;

/* An mm whose last user is gone: its pages are about to be unmapped. */
static inline bool ksm_mm_exiting(struct mm_struct *mm)
{
	return !atomic_read(&mm->mm_users);
}

/* The mm asked for merging (it is, or is to be, registered). */
static inline bool ksm_mm_advised(struct mm_struct *mm)
{
	return test_bit(MMF_VM_MERGEABLE, &mm->flags);
}

/* prctl(PR_SET_MEMORY_MERGE): every compatible VMA is mergeable. */
static inline bool ksm_mm_merge_any(struct mm_struct *mm)
{
	return test_bit(MMF_VM_MERGE_ANY, &mm->flags);
}

static inline bool ksm_vma_advised(struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_MERGEABLE;
}

/* The index (0 when merging across nodes) a page at @pfn belongs to. */
static inline int ksm_pfn_nid(unsigned long pfn)
{
	return READ_ONCE(ksm_tun.merge_across_nodes) ? 0 : pfn_to_nid(pfn);
}

/* mm_slot.c: the registry of mms that asked for merging. */
int ksm_mm_enter(struct mm_struct *mm);
void ksm_mm_exit(struct mm_struct *mm);
bool ksm_mm_list_empty(void);
int ksm_mm_adopt_all(void);
struct ksm_mm_slot *ksm_mm_first(void);
struct ksm_mm_slot *ksm_mm_next(struct ksm_mm_slot *slot);
bool ksm_mm_is_head(struct ksm_mm_slot *slot);
void ksm_mm_unlist(struct ksm_mm_slot *slot);
void ksm_mm_rewind(void);
void ksm_mm_release(struct ksm_mm_slot *slot);
int ksm_mm_init(void);
void ksm_mm_destroy(void);

/* rmap_item.c: per-mm lists of rmap items. */
struct ksm_rmap_item *ksm_item_get(struct ksm_mm_slot *slot,
				   struct ksm_rmap_item **link,
				   unsigned long addr);
void ksm_item_unlink(struct ksm_rmap_item *item);
void ksm_items_drop_from(struct ksm_rmap_item **link);
int ksm_item_cache_init(void);
void ksm_item_cache_destroy(void);
size_t ksm_item_bytes(void);

/* unstable_tree.c: pages unchanged for a scan, by content hash. */
int ksm_unstable_reset(void);
struct ksm_rmap_item *ksm_unstable_find_or_add(struct ksm_rmap_item *item,
					       struct page *page, int nid,
					       struct page **match);
void ksm_unstable_remove(struct ksm_rmap_item *item);
void ksm_unstable_destroy(void);
size_t ksm_unstable_table_bytes(void);

/* stable_items.c: the rmap items of a KSM page, in bounded runs. */
struct ksm_stable_node *ksm_item_node(const struct ksm_rmap_item *item);
void ksm_item_node_forget(void);
struct ksm_rmap_item *ksm_node_first_item(const struct ksm_stable_node *node);
struct ksm_rmap_item *ksm_node_next_item(const struct ksm_rmap_item *item);
void ksm_node_link_item(struct ksm_stable_node *node,
			struct ksm_rmap_item *item);
void ksm_node_unlink_item(struct ksm_stable_node *node,
			  struct ksm_rmap_item *item);
void ksm_node_free_runs(struct ksm_stable_node *node);
int ksm_item_runs_init(void);
void ksm_item_runs_destroy(void);

/* stable_tree.c: KSM pages, by content hash. */
enum ksm_get_folio_mode {
	KSM_GET_NOLOCK,
	KSM_GET_LOCK,
	KSM_GET_TRYLOCK,
};

struct folio *ksm_node_get_folio(struct ksm_stable_node *node,
				 enum ksm_get_folio_mode mode);
struct page *ksm_stable_find(struct page *page, u32 checksum);
struct ksm_stable_node *ksm_stable_insert(struct folio *kfolio);
void ksm_stable_add_item(struct ksm_rmap_item *item,
			 struct ksm_stable_node *node, bool over_limit_ok);
void ksm_stable_remove_item(struct ksm_rmap_item *item);
bool ksm_node_has_room(const struct ksm_stable_node *node);
void ksm_stable_check_placement(struct ksm_stable_node *node);
void ksm_stable_prune_migrated(void);
int ksm_stable_remove_all(void);
void ksm_stable_remove_range(unsigned long start_pfn, unsigned long end_pfn);
bool ksm_stable_empty(void);
size_t ksm_stable_table_bytes(void);
int ksm_stable_init(void);
void ksm_stable_destroy(void);

static inline struct ksm_stable_node *ksm_folio_node(struct folio *folio)
{
	if (!folio_test_ksm(folio))
		return NULL;
	return (void *)((unsigned long)folio->mapping & ~PAGE_MAPPING_FLAGS);
}

static inline void ksm_folio_set_node(struct folio *folio,
				      struct ksm_stable_node *node)
{
	folio->mapping = (void *)((unsigned long)node | PAGE_MAPPING_KSM);
}

/* content.c: the keyed content hash and the page compare. */
void ksm_content_init(void);
u32 ksm_page_checksum(struct page *page);
bool ksm_pages_differ(struct page *page1, struct page *page2);
extern u32 ksm_zero_checksum;

/* merge.c: changing page tables. */
int ksm_merge_one_page(struct vm_area_struct *vma, struct page *page,
		       struct page *kpage);
struct vm_area_struct *ksm_find_vma(struct mm_struct *mm, unsigned long addr);
struct vm_area_struct *ksm_item_vma_lock(const struct ksm_rmap_item *item);

/* unmerge.c: breaking the sharing again. */
int ksm_break_page(struct vm_area_struct *vma, unsigned long addr,
		   bool lock_vma);
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end, bool lock_vma);

/* scan.c: what ksmd does with each page. */
void ksm_scan_batch(unsigned int nr_pages);
int ksm_unmerge_all(void);

/* advisor.c: the scan-time advisor. */
void ksm_advisor_scan_start(void);
void ksm_advisor_scan_end(void);
void ksm_advisor_reset(void);

/* rmap.c: questions the rest of mm asks about KSM folios. */
bool ksm_keep_swapin_folio(struct folio *folio);
void ksm_rmap_walk(struct folio *folio, struct rmap_walk_control *rwc);
void ksm_migrate_folio(struct folio *newfolio, struct folio *folio);
void ksm_collect_procs(struct folio *folio, struct page *page,
		       struct list_head *kill_list, int early);

/* hotplug.c: memory hot-remove. */
int ksm_hotplug_init(void);
void ksm_hotplug_exit(void);
void ksm_wait_while_offlining(void);

/* hooks.c: the table registered with the dispatcher. */
extern const struct ksm_ops ksm_mod_ops;

/* ksmd.c: the scanning thread. */
int ksmd_start(void);
void ksmd_stop(void);
void ksmd_wake(void);
void ksmd_sleep_changed(void);

/* sysfs.c: /sys/kernel/mm/ksm. */
int ksm_sysfs_init(void);
void ksm_sysfs_exit(void);

/* debugfs.c: the indexes' memory, for measurements. */
void ksm_debugfs_init(void);
void ksm_debugfs_exit(void);

/* core.c: state changes that several files trigger. */
int ksm_set_run(unsigned int run);
int ksm_set_max_page_sharing(int value);
int ksm_set_merge_across_nodes(unsigned int value);
long ksm_general_profit(void);
long ksm_mm_profit(struct mm_struct *mm);
bool ksm_pin_module(void);
void ksm_unpin_module(void);

#endif /* _KSM_MOD_H */
