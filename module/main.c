// SPDX-License-Identifier: GPL-2.0
/*
 * htable: the Solaris/illumos x86 hat layer's page-table machinery as a
 * loadable Linux module. See Documentation/design.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <asm/pgtable.h>

#include <uapi/htable.h>
#include <htable/module.h>

static int __init htable_init(void)
{
	int err;

	err = htable_debugfs_init();
	if (err)
		goto out;
	err = htable_dev_init();
	if (err)
		goto out_debugfs;

	pr_info("loaded: ABI %d.%d, %d-level paging\n", HTABLE_ABI_MAJOR,
		HTABLE_ABI_MINOR, pgtable_l5_enabled() ? 5 : 4);
	return 0;

out_debugfs:
	htable_debugfs_exit();
out:
	return err;
}

static void __exit htable_exit(void)
{
	htable_dev_exit();
	htable_debugfs_exit();
	pr_info("unloaded\n");
}

module_init(htable_init);
module_exit(htable_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Solaris/illumos x86 hat page-table machinery (htable)");
MODULE_AUTHOR("htable developers");
