// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mm/ksm: the knobs and counters, with upstream's names,
 * modes, formats and parsing (including which errors bad input gets).
 *
 * The stores only parse and validate; changes that need the engine to be
 * quiet (run, max_page_sharing, merge_across_nodes) go through core.c.
 */

#include <linux/kobject.h>
#include <linux/ksm.h>
#include <linux/kstrtox.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "ksm_mod.h"

#define KSM_ATTR_RO(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RO(_name)
#define KSM_ATTR_RW(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RW(_name)

/* Knobs that take a u32 and answer any parse error with -EINVAL. */
static int ksm_parse_uint(const char *buf, unsigned int *val)
{
	return kstrtouint(buf, 10, val) ? -EINVAL : 0;
}

static int ksm_parse_ulong(const char *buf, unsigned long *val)
{
	return kstrtoul(buf, 10, val) ? -EINVAL : 0;
}

static int ksm_parse_bool(const char *buf, bool *val)
{
	return kstrtobool(buf, val) ? -EINVAL : 0;
}

static ssize_t sleep_millisecs_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_tun.sleep_millisecs));
}

static ssize_t sleep_millisecs_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned int ms;
	int err = ksm_parse_uint(buf, &ms);

	if (err)
		return err;
	WRITE_ONCE(ksm_tun.sleep_millisecs, ms);
	ksmd_sleep_changed();
	return count;
}
KSM_ATTR_RW(sleep_millisecs);

static ssize_t pages_to_scan_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_tun.pages_to_scan));
}

static ssize_t pages_to_scan_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned int pages;
	int err;

	/* The advisor owns pages_to_scan while it is on. */
	if (READ_ONCE(ksm_tun.advisor) != KSM_ADVISOR_NONE)
		return -EINVAL;
	err = ksm_parse_uint(buf, &pages);
	if (err)
		return err;
	WRITE_ONCE(ksm_tun.pages_to_scan, pages);
	return count;
}
KSM_ATTR_RW(pages_to_scan);

static ssize_t run_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(ksm_run));
}

static ssize_t run_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	unsigned int run;
	int err = ksm_parse_uint(buf, &run);

	if (err)
		return err;
	if (run > KSM_RUN_UNMERGE)
		return -EINVAL;
	err = ksm_set_run(run);
	return err ? err : count;
}
KSM_ATTR_RW(run);

#ifdef CONFIG_NUMA
static ssize_t merge_across_nodes_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_tun.merge_across_nodes));
}

static ssize_t merge_across_nodes_store(struct kobject *kobj,
					struct kobj_attribute *attr,
					const char *buf, size_t count)
{
	unsigned long val;
	int err;

	/* Upstream passes kstrtoul()'s own error through (-ERANGE too). */
	err = kstrtoul(buf, 10, &val);
	if (err)
		return err;
	if (val > 1)
		return -EINVAL;
	err = ksm_set_merge_across_nodes(val);
	return err ? err : count;
}
KSM_ATTR_RW(merge_across_nodes);
#endif

static ssize_t use_zero_pages_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_tun.use_zero_pages));
}

static ssize_t use_zero_pages_store(struct kobject *kobj,
				    struct kobj_attribute *attr,
				    const char *buf, size_t count)
{
	bool val;
	int err = ksm_parse_bool(buf, &val);

	if (err)
		return err;
	WRITE_ONCE(ksm_tun.use_zero_pages, val);
	return count;
}
KSM_ATTR_RW(use_zero_pages);

static ssize_t max_page_sharing_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_tun.max_page_sharing));
}

static ssize_t max_page_sharing_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	int val;
	int err;

	/* Upstream passes kstrtoint()'s own error through (-ERANGE too). */
	err = kstrtoint(buf, 10, &val);
	if (err)
		return err;
	/* A new KSM page already has two mappings; this rejects negatives. */
	if (val < 2)
		return -EINVAL;
	err = ksm_set_max_page_sharing(val);
	return err ? err : count;
}
KSM_ATTR_RW(max_page_sharing);

static ssize_t stable_node_chains_prune_millisecs_show(struct kobject *kobj,
						       struct kobj_attribute *attr,
						       char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(ksm_tun.stable_node_chains_prune_millisecs));
}

static ssize_t stable_node_chains_prune_millisecs_store(struct kobject *kobj,
							struct kobj_attribute *attr,
							const char *buf,
							size_t count)
{
	unsigned int ms;
	int err = ksm_parse_uint(buf, &ms);

	if (err)
		return err;
	WRITE_ONCE(ksm_tun.stable_node_chains_prune_millisecs, ms);
	return count;
}
KSM_ATTR_RW(stable_node_chains_prune_millisecs);

static ssize_t smart_scan_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_tun.smart_scan));
}

static ssize_t smart_scan_store(struct kobject *kobj,
				struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	bool val;
	int err = ksm_parse_bool(buf, &val);

	if (err)
		return err;
	WRITE_ONCE(ksm_tun.smart_scan, val);
	return count;
}
KSM_ATTR_RW(smart_scan);

static ssize_t advisor_mode_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	if (READ_ONCE(ksm_tun.advisor) == KSM_ADVISOR_SCAN_TIME)
		return sysfs_emit(buf, "none [scan-time]\n");
	return sysfs_emit(buf, "[none] scan-time\n");
}

static ssize_t advisor_mode_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	enum ksm_advisor_mode mode;

	if (sysfs_streq(buf, "scan-time"))
		mode = KSM_ADVISOR_SCAN_TIME;
	else if (sysfs_streq(buf, "none"))
		mode = KSM_ADVISOR_NONE;
	else
		return -EINVAL;

	/* Switching mode resets pages_to_scan to the new mode's start. */
	if (mode != READ_ONCE(ksm_tun.advisor)) {
		WRITE_ONCE(ksm_tun.advisor, mode);
		ksm_advisor_reset();
		WRITE_ONCE(ksm_tun.pages_to_scan, mode == KSM_ADVISOR_NONE ?
			   KSM_DEFAULT_PAGES_TO_SCAN :
			   READ_ONCE(ksm_tun.advisor_min_pages_to_scan));
	}
	return count;
}
KSM_ATTR_RW(advisor_mode);

static ssize_t advisor_max_cpu_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_tun.advisor_max_cpu));
}

static ssize_t advisor_max_cpu_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned long val;
	int err = ksm_parse_ulong(buf, &val);

	if (err)
		return err;
	/* Upstream keeps this knob in a u32: larger values wrap. */
	WRITE_ONCE(ksm_tun.advisor_max_cpu, (unsigned int)val);
	return count;
}
KSM_ATTR_RW(advisor_max_cpu);

static ssize_t advisor_min_pages_to_scan_show(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(ksm_tun.advisor_min_pages_to_scan));
}

static ssize_t advisor_min_pages_to_scan_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	unsigned long val;
	int err = ksm_parse_ulong(buf, &val);

	if (err)
		return err;
	WRITE_ONCE(ksm_tun.advisor_min_pages_to_scan, val);
	return count;
}
KSM_ATTR_RW(advisor_min_pages_to_scan);

static ssize_t advisor_max_pages_to_scan_show(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(ksm_tun.advisor_max_pages_to_scan));
}

static ssize_t advisor_max_pages_to_scan_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	unsigned long val;
	int err = ksm_parse_ulong(buf, &val);

	if (err)
		return err;
	WRITE_ONCE(ksm_tun.advisor_max_pages_to_scan, val);
	return count;
}
KSM_ATTR_RW(advisor_max_pages_to_scan);

static ssize_t advisor_target_scan_time_show(struct kobject *kobj,
					     struct kobj_attribute *attr,
					     char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(ksm_tun.advisor_target_scan_time));
}

static ssize_t advisor_target_scan_time_store(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      const char *buf, size_t count)
{
	unsigned long val;
	int err = ksm_parse_ulong(buf, &val);

	if (err)
		return err;
	if (!val)
		return -EINVAL;
	WRITE_ONCE(ksm_tun.advisor_target_scan_time, val);
	return count;
}
KSM_ATTR_RW(advisor_target_scan_time);

/* Read-only counters, all printed as unsigned long. */
#define KSM_COUNTER_ATTR(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lu\n", (unsigned long)READ_ONCE(_expr)); \
}									\
KSM_ATTR_RO(_name)

KSM_COUNTER_ATTR(pages_scanned, ksm_count.pages_scanned);
KSM_COUNTER_ATTR(pages_shared, ksm_count.pages_shared);
KSM_COUNTER_ATTR(pages_sharing, ksm_count.pages_sharing);
KSM_COUNTER_ATTR(pages_unshared, ksm_count.pages_unshared);
KSM_COUNTER_ATTR(pages_skipped, ksm_count.pages_skipped);
KSM_COUNTER_ATTR(stable_node_chains, ksm_count.stable_node_chains);
KSM_COUNTER_ATTR(stable_node_dups, ksm_count.stable_node_dups);
KSM_COUNTER_ATTR(full_scans, ksm_scan.seqnr);

static ssize_t pages_volatile_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	/* Items neither in a tree nor sharing; unlocked, so clamp at 0. */
	long vol = READ_ONCE(ksm_count.rmap_items) -
		   READ_ONCE(ksm_count.pages_shared) -
		   READ_ONCE(ksm_count.pages_sharing) -
		   READ_ONCE(ksm_count.pages_unshared);

	return sysfs_emit(buf, "%ld\n", max(vol, 0L));
}
KSM_ATTR_RO(pages_volatile);

static ssize_t ksm_zero_pages_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&ksm_zero_pages));
}
KSM_ATTR_RO(ksm_zero_pages);

static ssize_t general_profit_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", ksm_general_profit());
}
KSM_ATTR_RO(general_profit);

static struct attribute *ksm_attrs[] = {
	&sleep_millisecs_attr.attr,
	&pages_to_scan_attr.attr,
	&run_attr.attr,
	&pages_scanned_attr.attr,
	&pages_shared_attr.attr,
	&pages_sharing_attr.attr,
	&pages_unshared_attr.attr,
	&pages_volatile_attr.attr,
	&pages_skipped_attr.attr,
	&ksm_zero_pages_attr.attr,
	&full_scans_attr.attr,
#ifdef CONFIG_NUMA
	&merge_across_nodes_attr.attr,
#endif
	&max_page_sharing_attr.attr,
	&stable_node_chains_attr.attr,
	&stable_node_dups_attr.attr,
	&stable_node_chains_prune_millisecs_attr.attr,
	&use_zero_pages_attr.attr,
	&general_profit_attr.attr,
	&smart_scan_attr.attr,
	&advisor_mode_attr.attr,
	&advisor_max_cpu_attr.attr,
	&advisor_min_pages_to_scan_attr.attr,
	&advisor_max_pages_to_scan_attr.attr,
	&advisor_target_scan_time_attr.attr,
	NULL,
};

static const struct attribute_group ksm_attr_group = {
	.name = "ksm",
	.attrs = ksm_attrs,
};

int ksm_sysfs_init(void)
{
	return sysfs_create_group(mm_kobj, &ksm_attr_group);
}

void ksm_sysfs_exit(void)
{
	sysfs_remove_group(mm_kobj, &ksm_attr_group);
}
