// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mm/ksm: the knobs and counters, with upstream's names,
 * modes, formats and parsing (including which errors bad input gets).
 *
 * Each file is a row of two tables: knobs (0644) with a reader and a
 * writer, counters (0444) with a reader.  The writers only parse and
 * validate; changes that need ksmd to be quiet (run, max_page_sharing,
 * merge_across_nodes) go through core.c.
 */

#include <linux/kobject.h>
#include <linux/ksm.h>
#include <linux/kstrtox.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "ksm_mod.h"

/**
 * struct ksm_file - one file of /sys/kernel/mm/ksm
 * @kattr: the sysfs attribute (name, mode, and the generic show/store)
 * @read: format the value into @buf (a page)
 * @write: parse @buf and apply it; 0 or a negative errno
 */
struct ksm_file {
	struct kobj_attribute kattr;
	ssize_t (*read)(char *buf);
	int (*write)(const char *buf);
};

static ssize_t ksm_file_show(struct kobject *kobj, struct kobj_attribute *a,
			     char *buf)
{
	return container_of(a, struct ksm_file, kattr)->read(buf);
}

static ssize_t ksm_file_store(struct kobject *kobj, struct kobj_attribute *a,
			      const char *buf, size_t count)
{
	int err = container_of(a, struct ksm_file, kattr)->write(buf);

	return err ? err : count;
}

/* Most knobs answer any parse error with -EINVAL, whatever it was. */
static int parse_u32(const char *buf, unsigned int *val)
{
	return kstrtouint(buf, 10, val) ? -EINVAL : 0;
}

static int parse_ulong(const char *buf, unsigned long *val)
{
	return kstrtoul(buf, 10, val) ? -EINVAL : 0;
}

static int parse_flag(const char *buf, bool *val)
{
	return kstrtobool(buf, val) ? -EINVAL : 0;
}

static ssize_t show_ulong(char *buf, unsigned long val)
{
	return sysfs_emit(buf, "%lu\n", val);
}

/* --- knobs --- */

static ssize_t read_run(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_run));
}

static int write_run(const char *buf)
{
	unsigned int run;

	if (parse_u32(buf, &run) || run > KSM_RUN_UNMERGE)
		return -EINVAL;
	return ksm_set_run(run);
}

static ssize_t read_pages_to_scan(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.pages_to_scan));
}

static int write_pages_to_scan(const char *buf)
{
	unsigned int pages;

	/* The advisor owns pages_to_scan while it is on. */
	if (READ_ONCE(ksm_tun.advisor) != KSM_ADVISOR_NONE ||
	    parse_u32(buf, &pages))
		return -EINVAL;
	WRITE_ONCE(ksm_tun.pages_to_scan, pages);
	return 0;
}

static ssize_t read_sleep_millisecs(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.sleep_millisecs));
}

static int write_sleep_millisecs(const char *buf)
{
	unsigned int ms;

	if (parse_u32(buf, &ms))
		return -EINVAL;
	WRITE_ONCE(ksm_tun.sleep_millisecs, ms);
	ksmd_sleep_changed();
	return 0;
}

static ssize_t read_merge_across_nodes(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.merge_across_nodes));
}

static int write_merge_across_nodes(const char *buf)
{
	unsigned long across;
	/* Upstream hands kstrtoul()'s own error back (-ERANGE too). */
	int err = kstrtoul(buf, 10, &across);

	if (err)
		return err;
	return across > 1 ? -EINVAL : ksm_set_merge_across_nodes(across);
}

static ssize_t read_max_page_sharing(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.max_page_sharing));
}

static int write_max_page_sharing(const char *buf)
{
	int sharing;
	/* Upstream hands kstrtoint()'s own error back (-ERANGE too). */
	int err = kstrtoint(buf, 10, &sharing);

	if (err)
		return err;
	/* A new KSM page already has two mappings; negatives fail too. */
	return sharing < 2 ? -EINVAL : ksm_set_max_page_sharing(sharing);
}

static ssize_t read_use_zero_pages(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.use_zero_pages));
}

static int write_use_zero_pages(const char *buf)
{
	bool on;

	if (parse_flag(buf, &on))
		return -EINVAL;
	WRITE_ONCE(ksm_tun.use_zero_pages, on);
	return 0;
}

static ssize_t read_smart_scan(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.smart_scan));
}

static int write_smart_scan(const char *buf)
{
	bool on;

	if (parse_flag(buf, &on))
		return -EINVAL;
	WRITE_ONCE(ksm_tun.smart_scan, on);
	return 0;
}

static ssize_t read_prune_millisecs(char *buf)
{
	return show_ulong(buf,
			  READ_ONCE(ksm_tun.stable_node_chains_prune_millisecs));
}

static int write_prune_millisecs(const char *buf)
{
	unsigned int ms;

	if (parse_u32(buf, &ms))
		return -EINVAL;
	WRITE_ONCE(ksm_tun.stable_node_chains_prune_millisecs, ms);
	return 0;
}

static ssize_t read_advisor_mode(char *buf)
{
	bool scan_time = READ_ONCE(ksm_tun.advisor) == KSM_ADVISOR_SCAN_TIME;

	return sysfs_emit(buf, "%s\n", scan_time ? "none [scan-time]" :
						   "[none] scan-time");
}

static int write_advisor_mode(const char *buf)
{
	enum ksm_advisor_mode mode;

	if (sysfs_streq(buf, "scan-time"))
		mode = KSM_ADVISOR_SCAN_TIME;
	else if (sysfs_streq(buf, "none"))
		mode = KSM_ADVISOR_NONE;
	else
		return -EINVAL;

	/* Switching mode restarts pages_to_scan from the mode's start. */
	if (mode != READ_ONCE(ksm_tun.advisor)) {
		WRITE_ONCE(ksm_tun.advisor, mode);
		ksm_advisor_reset();
		WRITE_ONCE(ksm_tun.pages_to_scan, mode == KSM_ADVISOR_NONE ?
			   KSM_DEFAULT_PAGES_TO_SCAN :
			   READ_ONCE(ksm_tun.advisor_min_pages_to_scan));
	}
	return 0;
}

static ssize_t read_advisor_max_cpu(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.advisor_max_cpu));
}

static int write_advisor_max_cpu(const char *buf)
{
	unsigned long pct;

	if (parse_ulong(buf, &pct))
		return -EINVAL;
	/* Upstream keeps this knob in a u32: larger values wrap. */
	WRITE_ONCE(ksm_tun.advisor_max_cpu, (unsigned int)pct);
	return 0;
}

static ssize_t read_advisor_min_pages(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.advisor_min_pages_to_scan));
}

static int write_advisor_min_pages(const char *buf)
{
	unsigned long pages;

	if (parse_ulong(buf, &pages))
		return -EINVAL;
	WRITE_ONCE(ksm_tun.advisor_min_pages_to_scan, pages);
	return 0;
}

static ssize_t read_advisor_max_pages(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.advisor_max_pages_to_scan));
}

static int write_advisor_max_pages(const char *buf)
{
	unsigned long pages;

	if (parse_ulong(buf, &pages))
		return -EINVAL;
	WRITE_ONCE(ksm_tun.advisor_max_pages_to_scan, pages);
	return 0;
}

static ssize_t read_advisor_target(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_tun.advisor_target_scan_time));
}

static int write_advisor_target(const char *buf)
{
	unsigned long secs;

	if (parse_ulong(buf, &secs) || !secs)
		return -EINVAL;
	WRITE_ONCE(ksm_tun.advisor_target_scan_time, secs);
	return 0;
}

/* --- counters --- */

static ssize_t read_pages_scanned(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_count.pages_scanned));
}

static ssize_t read_pages_shared(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_count.pages_shared));
}

static ssize_t read_pages_sharing(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_count.pages_sharing));
}

static ssize_t read_pages_unshared(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_count.pages_unshared));
}

static ssize_t read_pages_skipped(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_count.pages_skipped));
}

static ssize_t read_pages_volatile(char *buf)
{
	/* Items in no index: read without locking, so clamp at zero. */
	long vol = READ_ONCE(ksm_count.rmap_items) -
		   READ_ONCE(ksm_count.pages_shared) -
		   READ_ONCE(ksm_count.pages_sharing) -
		   READ_ONCE(ksm_count.pages_unshared);

	return sysfs_emit(buf, "%ld\n", max(vol, 0L));
}

static ssize_t read_full_scans(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_scan.seqnr));
}

static ssize_t read_chains(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_count.stable_node_chains));
}

static ssize_t read_dups(char *buf)
{
	return show_ulong(buf, READ_ONCE(ksm_count.stable_node_dups));
}

static ssize_t read_zero_pages(char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&ksm_zero_pages));
}

static ssize_t read_general_profit(char *buf)
{
	return sysfs_emit(buf, "%ld\n", ksm_general_profit());
}

#define KSM_KNOB(_name, _read, _write)					\
	{ .kattr = __ATTR(_name, 0644, ksm_file_show, ksm_file_store),	\
	  .read = _read, .write = _write }
#define KSM_COUNTER(_name, _read)					\
	{ .kattr = __ATTR(_name, 0444, ksm_file_show, NULL), .read = _read }

static struct ksm_file ksm_files[] = {
	KSM_KNOB(run, read_run, write_run),
	KSM_KNOB(pages_to_scan, read_pages_to_scan, write_pages_to_scan),
	KSM_KNOB(sleep_millisecs, read_sleep_millisecs, write_sleep_millisecs),
#ifdef CONFIG_NUMA
	KSM_KNOB(merge_across_nodes, read_merge_across_nodes,
		 write_merge_across_nodes),
#endif
	KSM_KNOB(max_page_sharing, read_max_page_sharing,
		 write_max_page_sharing),
	KSM_KNOB(use_zero_pages, read_use_zero_pages, write_use_zero_pages),
	KSM_KNOB(smart_scan, read_smart_scan, write_smart_scan),
	KSM_KNOB(stable_node_chains_prune_millisecs, read_prune_millisecs,
		 write_prune_millisecs),
	KSM_KNOB(advisor_mode, read_advisor_mode, write_advisor_mode),
	KSM_KNOB(advisor_max_cpu, read_advisor_max_cpu, write_advisor_max_cpu),
	KSM_KNOB(advisor_min_pages_to_scan, read_advisor_min_pages,
		 write_advisor_min_pages),
	KSM_KNOB(advisor_max_pages_to_scan, read_advisor_max_pages,
		 write_advisor_max_pages),
	KSM_KNOB(advisor_target_scan_time, read_advisor_target,
		 write_advisor_target),
	KSM_COUNTER(pages_scanned, read_pages_scanned),
	KSM_COUNTER(pages_shared, read_pages_shared),
	KSM_COUNTER(pages_sharing, read_pages_sharing),
	KSM_COUNTER(pages_unshared, read_pages_unshared),
	KSM_COUNTER(pages_volatile, read_pages_volatile),
	KSM_COUNTER(pages_skipped, read_pages_skipped),
	KSM_COUNTER(full_scans, read_full_scans),
	KSM_COUNTER(stable_node_chains, read_chains),
	KSM_COUNTER(stable_node_dups, read_dups),
	KSM_COUNTER(ksm_zero_pages, read_zero_pages),
	KSM_COUNTER(general_profit, read_general_profit),
};

static struct attribute *ksm_file_attrs[ARRAY_SIZE(ksm_files) + 1];

static const struct attribute_group ksm_group = {
	.name = "ksm",
	.attrs = ksm_file_attrs,
};

int ksm_sysfs_init(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(ksm_files); i++)
		ksm_file_attrs[i] = &ksm_files[i].kattr.attr;
	return sysfs_create_group(mm_kobj, &ksm_group);
}

void ksm_sysfs_exit(void)
{
	sysfs_remove_group(mm_kobj, &ksm_group);
}
