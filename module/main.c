// SPDX-License-Identifier: GPL-2.0
/*
 * htable: the Solaris/illumos x86 hat layer's page-table machinery as a
 * loadable Linux module. See Documentation/design.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include <uapi/htable.h>
#include <htable/hat.h>
#include <htable/debugfs.h>
#include <htable/module.h>
#include <htable/steal.h>

/*
 * reserve_amount: the seed's htable_reserve_amount. Writing it trims the
 * reserve at once, or tops it up to the new amount.
 */
static int reserve_amount_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int err;

	err = kstrtouint(val, 0, &n);
	if (err)
		return err;
	if (n > 100000)
		return -ERANGE;
	WRITE_ONCE(htable_reserve_amount, n);
	/* Before htable_init() the cache does not exist yet: init fills it. */
	if (!htable_cache)
		return 0;
	htable_adjust_reserve();
	return htable_initial_reserve(n);
}

static const struct kernel_param_ops reserve_amount_ops = {
	.set = reserve_amount_set,
	.get = param_get_uint,
};
module_param_cb(reserve_amount, &reserve_amount_ops, &htable_reserve_amount, 0644);
MODULE_PARM_DESC(reserve_amount,
		 "htable structures kept in the reserve (default 200)");

static int __init htable_module_init(void)
{
	int err;

	/* The seed's throttlefree: minfree = desfree / 2 = lotsfree / 4 = physmem / 256. */
	htable_throttle_pages = totalram_pages() / 256;
	err = htable_init();
	if (err)
		goto out;
	err = hat_init();
	if (err)
		goto out_htable;
	err = htable_shrinker_init();
	if (err)
		goto out_hat;
	err = htable_debugfs_init();
	if (err)
		goto out_shrinker;
	err = htable_dev_init();
	if (err)
		goto out_debugfs;

	pr_info("loaded: ABI %d.%d, %u-level paging, reserve %u\n",
		HTABLE_ABI_MAJOR, HTABLE_ABI_MINOR, mmu.max_level + 1,
		htable_reserve_cnt);
	return 0;

out_debugfs:
	htable_debugfs_exit();
out_shrinker:
	htable_shrinker_exit();
out_hat:
	hat_fini();
out_htable:
	htable_fini();
out:
	return err;
}

static void __exit htable_module_exit(void)
{
	htable_dev_exit();
	htable_debugfs_exit();
	htable_shrinker_exit();
	hat_fini();
	htable_fini();
	WARN_ON(atomic_long_read(&active_ptables));
	pr_info("unloaded\n");
}

module_init(htable_module_init);
module_exit(htable_module_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Solaris/illumos x86 hat page-table machinery (htable)");
MODULE_AUTHOR("htable developers");
