// SPDX-License-Identifier: GPL-2.0
/*
 * htable counters and the debugfs files that show them.
 *
 * /sys/kernel/debug/htable/stats is one "name value" line per counter, so a
 * test or htablectl can read every counter with one read().
 */
#include <linux/build_bug.h>
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>

#include <htable/stats.h>

DEFINE_PER_CPU(struct htable_stats, htable_stats);

static struct dentry *htable_debugfs_dir;

/**
 * htable_stat_sum() - sum one counter over every possible CPU
 * @s: the counter
 *
 * Return: the sum; exact only when no CPU is counting concurrently.
 */
u64 htable_stat_sum(enum htable_stat s)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(htable_stats, cpu).c[s];
	return sum;
}

static const char * const htable_stat_names[] = {
	[STAT_hs_ptable_allocs]		= "hs_ptable_allocs",
	[STAT_hs_ptable_frees]		= "hs_ptable_frees",
	[STAT_hs_htable_rgets]		= "hs_htable_rgets",
	[STAT_hs_htable_rputs]		= "hs_htable_rputs",
	[STAT_hs_steals]		= "hs_steals",
	[STAT_hs_reap_attempts]		= "hs_reap_attempts",
	[STAT_hs_reaped]		= "hs_reaped",
	[STAT_hs_htable_shared]		= "hs_htable_shared",
	[STAT_hs_htable_unshared]	= "hs_htable_unshared",
	[STAT_hs_hats_created]		= "hs_hats_created",
	[STAT_hs_hats_destroyed]	= "hs_hats_destroyed",
	[STAT_hs_bad_input]		= "hs_bad_input",
};

static_assert(ARRAY_SIZE(htable_stat_names) == HTABLE_NR_STATS);

static int stats_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < HTABLE_NR_STATS; i++)
		seq_printf(m, "%s %llu\n", htable_stat_names[i], htable_stat_sum(i));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/**
 * htable_debugfs_init() - create /sys/kernel/debug/htable and its files
 *
 * Return: 0, or -ENODEV when debugfs is unavailable (the module needs it:
 * the counters are its only report).
 */
int htable_debugfs_init(void)
{
	struct dentry *dir;

	dir = debugfs_create_dir("htable", NULL);
	if (IS_ERR(dir))
		return -ENODEV;
	debugfs_create_file("stats", 0444, dir, NULL, &stats_fops);
	htable_debugfs_dir = dir;
	return 0;
}

void htable_debugfs_exit(void)
{
	debugfs_remove_recursive(htable_debugfs_dir);
	htable_debugfs_dir = NULL;
}
