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
	int err = htable_parse_uint(val, 0, 100000, &n);

	if (err)
		return err;
	WRITE_ONCE(htable_reserve_amount, n);
	/* Before htable_init() the cache does not exist yet: init fills it. */
	if (!htable_cache)
		return 0;
	htable_adjust_reserve();
	return htable_initial_reserve(n);
}

HTABLE_UINT_PARAM_OPS(reserve_amount_ops, reserve_amount_set);
module_param_cb(reserve_amount, &reserve_amount_ops, &htable_reserve_amount, 0644);
MODULE_PARM_DESC(reserve_amount,
		 "htable structures kept in the reserve (default 200)");

/*
 * The module's parts in the order they start: each one's init may use
 * those above it. They stop in the reverse order, the device first, so
 * that no new hat appears while the layers below go away.
 */
static const struct htable_part {
	int	(*init)(void);
	void	(*exit)(void);
} htable_parts[] = {
	{ htable_init, htable_fini },			/* core, reserve */
	{ hat_init, hat_fini },				/* the hat cache */
	{ htable_shrinker_init, htable_shrinker_exit },
	{ htable_debugfs_init, htable_debugfs_exit },
	{ htable_dev_init, htable_dev_exit },		/* /dev/htable */
};

/* Stop the first @n parts, last first. */
static void htable_parts_stop(unsigned int n)
{
	while (n--)
		htable_parts[n].exit();
}

static int __init htable_module_init(void)
{
	unsigned int i;
	int err;

	/* The seed's throttlefree: minfree = desfree / 2 = lotsfree / 4 = physmem / 256. */
	htable_throttle_pages = totalram_pages() / 256;
	for (i = 0; i < ARRAY_SIZE(htable_parts); i++) {
		err = htable_parts[i].init();
		if (err) {
			htable_parts_stop(i);
			return err;
		}
	}
	pr_info("loaded: ABI %d.%d, %u-level paging, reserve %u\n",
		HTABLE_ABI_MAJOR, HTABLE_ABI_MINOR, mmu.max_level + 1,
		htable_reserve_cnt);
	return 0;
}

static void __exit htable_module_exit(void)
{
	htable_parts_stop(ARRAY_SIZE(htable_parts));
	WARN_ON(atomic_long_read(&active_ptables));
	pr_info("unloaded\n");
}

module_init(htable_module_init);
module_exit(htable_module_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Solaris/illumos x86 hat page-table machinery (htable)");
MODULE_AUTHOR("htable developers");
