// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/ksm_mod/:
 *  - table_bytes: the memory of the two hash indexes, which are allocated
 *    outside the engine's slab caches (those show in /proc/slabinfo as
 *    ksm_rmap_item, ksm_stable_node and ksm_mm_slot, as upstream's do).
 *    With both, a measurement can count every byte of bookkeeping the
 *    engine keeps per tracked page.
 */

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "ksm_mod.h"

static struct dentry *ksm_debugfs_dir;

static int ksm_table_bytes_show(struct seq_file *m, void *v)
{
	seq_printf(m, "unstable %zu\nstable %zu\n", ksm_unstable_table_bytes(),
		   ksm_stable_table_bytes());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksm_table_bytes);

void ksm_debugfs_init(void)
{
	/* Optional: without debugfs the engine works the same. */
	ksm_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("table_bytes", 0444, ksm_debugfs_dir, NULL,
			    &ksm_table_bytes_fops);
}

void ksm_debugfs_exit(void)
{
	debugfs_remove_recursive(ksm_debugfs_dir);
}
