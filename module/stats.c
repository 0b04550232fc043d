// SPDX-License-Identifier: GPL-2.0
/*
 * htable counters and debugfs: /sys/kernel/debug/htable/
 *
 *   stats		one "name value" line per counter and gauge, so a test
 *			or htablectl reads them all with one read()
 *   hats		one line per open hat
 *   hat/<id>		that hat's tree, one table per line
 *   corrupt/<id>	break one invariant of that hat on purpose
 *   fail_nth, fail_site, fail_hits, force_reserve, throttle_pages,
 *   tlb_skip_remote, window_lazy, steal_passes, force_steal,
 *   ptable_cap, reap	tunables for tests
 *   bench		the benchmark (module/bench.c)
 *
 * Documentation/debugfs.rst documents every line.
 */
#include <linux/build_bug.h>
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/printk.h>
#include <linux/ratelimit.h>
#include <linux/seq_file.h>

#include <htable/bench.h>
#include <htable/corrupt.h>
#include <htable/fail.h>
#include <htable/hat.h>
#include <htable/module.h>
#include <htable/stats.h>
#include <htable/tlb.h>

DEFINE_PER_CPU(struct htable_stats, htable_stats);

/* At most 10 bad-input lines per 5 s, over all sites together. */
static DEFINE_RATELIMIT_STATE(htable_bad_input_rs, 5 * HZ, 10);

/**
 * htable_log_bad_input() - count a refused request and log it, rate-limited
 * @fmt:	printk format of the line, with its level and newline
 *
 * Context: any context.
 */
void htable_log_bad_input(const char *fmt, ...)
{
	va_list args;

	HATSTAT_INC(hs_bad_input);
	if (!__ratelimit(&htable_bad_input_rs))
		return;
	va_start(args, fmt);
	vprintk(fmt, args);
	va_end(args);
}

static struct dentry *htable_debugfs_dir;
static struct dentry *htable_debugfs_hats;
static struct dentry *htable_debugfs_corrupt;

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
	[STAT_hs_shootdowns]		= "hs_shootdowns",
	[STAT_hs_tlb_invals]		= "hs_tlb_invals",
	[STAT_hs_tlb_flush_all]		= "hs_tlb_flush_all",
	[STAT_hs_enomem]		= "hs_enomem",
	[STAT_hs_shootdown_cpus]	= "hs_shootdown_cpus",
	[STAT_hs_shootdowns_skipped]	= "hs_shootdowns_skipped",
	[STAT_hs_windows]		= "hs_windows",
	[STAT_hs_pages_verified]	= "hs_pages_verified",
	[STAT_hs_window_faults]		= "hs_window_faults",
	[STAT_hs_ad_syncs]		= "hs_ad_syncs",
	[STAT_hs_cr3_clobbers]		= "hs_cr3_clobbers",
	[STAT_hs_watchdog_ends]		= "hs_watchdog_ends",
};

static_assert(ARRAY_SIZE(htable_stat_names) == HTABLE_NR_STATS);

static int stats_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < HTABLE_NR_STATS; i++)
		seq_printf(m, "%s %llu\n", htable_stat_names[i], htable_stat_sum(i));
	seq_printf(m, "active_ptables %ld\n", atomic_long_read(&active_ptables));
	seq_printf(m, "reserve_cnt %u\n", READ_ONCE(htable_reserve_cnt));
	seq_printf(m, "cached_tables %ld\n", atomic_long_read(&htable_nr_cached));
	seq_printf(m, "hats %d\n", atomic_read(&htable_nr_hats));
	for (i = 0; i < HTABLE_MAX_LEVELS; i++)
		seq_printf(m, "tables_l%d %ld\n", i,
			   atomic_long_read(&htable_level_tables[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/* fail_nth: writing it restarts the count, so failure N comes N calls later. */
static int fail_nth_get(void *data, u64 *val)
{
	*val = READ_ONCE(htable_fail_nth);
	return 0;
}

static int fail_nth_set(void *data, u64 val)
{
	if (val > UINT_MAX)
		return -ERANGE;
	htable_fail_reset();
	WRITE_ONCE(htable_fail_nth, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(fail_nth_fops, fail_nth_get, fail_nth_set, "%llu\n");

/* force_steal: the same, for every Nth table allocation stealing first. */
static int force_steal_get(void *data, u64 *val)
{
	*val = READ_ONCE(htable_force_steal);
	return 0;
}

static int force_steal_set(void *data, u64 val)
{
	if (val > UINT_MAX)
		return -ERANGE;
	atomic_set(&htable_force_steal_count, 0);
	WRITE_ONCE(htable_force_steal, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(force_steal_fops, force_steal_get, force_steal_set, "%llu\n");

/* reap: writing N runs htable_reap(N) now (0: the seed's own count). */
static int reap_set(void *data, u64 val)
{
	htable_reap(val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(reap_fops, NULL, reap_set, "%llu\n");

static int hats_show(struct seq_file *m, void *unused)
{
	struct hat *hat;

	seq_puts(m, "id pid owned_pages stolen flags reaped\n");
	spin_lock(&htable_hat_list_lock);
	list_for_each_entry(hat, &htable_hat_list, hat_list)
		seq_printf(m, "%u %d %ld %ld %#lx %ld\n", hat->hat_id, hat->hat_pid,
			   atomic_long_read(&hat->hat_owned_pages),
			   atomic_long_read(&hat->hat_stolen), hat->hat_flags,
			   atomic_long_read(&hat->hat_reaped));
	spin_unlock(&htable_hat_list_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hats);

static int tree_show(struct seq_file *m, void *unused)
{
	htable_dump_tree(m->private, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tree);

/**
 * htable_debugfs_add_hat() - create hat/<id>, the hat's tree dump
 * @hat:	a new hat
 *
 * debugfs failures are not fatal: the hat works without its file.
 */
void htable_debugfs_add_hat(struct hat *hat)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", hat->hat_id);
	hat->hat_debugfs = debugfs_create_file(name, 0400, htable_debugfs_hats,
					       hat, &tree_fops);
	hat->hat_debugfs_corrupt = debugfs_create_file(name, 0600,
						       htable_debugfs_corrupt,
						       hat, &htable_corrupt_fops);
}

/**
 * htable_debugfs_remove_hat() - remove hat/<id>
 * @hat:	the hat; returns once no reader is inside its file
 */
void htable_debugfs_remove_hat(struct hat *hat)
{
	debugfs_remove(hat->hat_debugfs);
	hat->hat_debugfs = NULL;
	debugfs_remove(hat->hat_debugfs_corrupt);
	hat->hat_debugfs_corrupt = NULL;
}

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
	debugfs_create_file("hats", 0400, dir, NULL, &hats_fops);
	htable_debugfs_hats = debugfs_create_dir("hat", dir);
	htable_debugfs_corrupt = debugfs_create_dir("corrupt", dir);
	debugfs_create_file_unsafe("fail_nth", 0600, dir, NULL, &fail_nth_fops);
	htable_fail_debugfs_init(dir);
	debugfs_create_bool("force_reserve", 0600, dir, &htable_force_reserve);
	debugfs_create_bool("tlb_skip_remote", 0600, dir, &htable_tlb_skip_remote);
	/*
	 * With CONFIG_DEBUG_VM the kernel warns when a lazy switch finds CR3
	 * changed under it, so a forced clobber would splat: no knob there.
	 */
	if (!IS_ENABLED(CONFIG_DEBUG_VM))
		debugfs_create_bool("window_lazy", 0600, dir, &htable_window_lazy);
	debugfs_create_u32("steal_passes", 0600, dir, &htable_steal_passes);
	debugfs_create_file_unsafe("force_steal", 0600, dir, NULL, &force_steal_fops);
	debugfs_create_ulong("ptable_cap", 0600, dir, &htable_ptable_cap);
	debugfs_create_file_unsafe("reap", 0200, dir, NULL, &reap_fops);
	debugfs_create_ulong("throttle_pages", 0600, dir, &htable_throttle_pages);
	htable_bench_debugfs_init(dir);
	htable_debugfs_dir = dir;
	return 0;
}

void htable_debugfs_exit(void)
{
	debugfs_remove_recursive(htable_debugfs_dir);
	htable_debugfs_dir = NULL;
	htable_bench_exit();
}
