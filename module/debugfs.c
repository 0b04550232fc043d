// SPDX-License-Identifier: GPL-2.0
/*
 * htable's debugfs tree, /sys/kernel/debug/htable/:
 *
 *   stats		one "name value" line per counter and gauge, so a test
 *			or htablectl reads them all with one read()
 *   hats		one line per open hat
 *   hat/<id>		that hat's tree, one table per line
 *   corrupt/<id>	break one invariant of that hat on purpose
 *   fail_nth, fail_site, fail_hits, fail_warn, force_reserve,
 *   throttle_pages, tlb_skip_remote, window_lazy, steal_passes,
 *   force_steal, ptable_cap, reap, ref_limit
 *			knobs for tests
 *   bench		the benchmark (module/bench.c), when built in
 *
 * The layers below keep the values; this file only shows and sets them.
 * Documentation/debugfs.rst documents every line.
 */
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>

#include <htable/bench.h>
#include <htable/check.h>
#include <htable/corrupt.h>
#include <htable/cr3.h>
#include <htable/debugfs.h>
#include <htable/fail.h>
#include <htable/hat.h>
#include <htable/pages.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>

static struct dentry *htable_debugfs_dir;
static struct dentry *htable_debugfs_hats;
static struct dentry *htable_debugfs_corrupt;

static int stats_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < HTABLE_NR_STATS; i++)
		seq_printf(m, "%s %llu\n", htable_stat_name(i), htable_stat_sum(i));
	seq_printf(m, "active_ptables %ld\n", atomic_long_read(&active_ptables));
	seq_printf(m, "reserve_cnt %u\n", READ_ONCE(htable_reserve_cnt));
	seq_printf(m, "cached_tables %ld\n", atomic_long_read(&htable_nr_cached));
	seq_printf(m, "hats %d\n", atomic_read(&htable_nr_hats));
	for (i = 0; i < MAX_NUM_LEVEL; i++)
		seq_printf(m, "tables_l%d %ld\n", i,
			   atomic_long_read(&htable_level_tables[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

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

static int fail_hits_show(struct seq_file *m, void *unused)
{
	htable_fail_hits_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(fail_hits);

static int fail_warn_set(void *data, u64 val)
{
	if (val != 1)
		return -EINVAL;
	htable_fail_warn();
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(fail_warn_fops, NULL, fail_warn_set, "%llu\n");

/* reap: writing N runs htable_reap(N) now (0: the seed's own count). */
static int reap_set(void *data, u64 val)
{
	htable_reap(val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(reap_fops, NULL, reap_set, "%llu\n");

/*
 * The knobs whose owner keeps the value behind accessors, because a write
 * also acts (fail_nth and force_steal restart their counts): a value
 * outside [min, max] is refused with ERANGE.
 */
struct htable_knob {
	unsigned int	min, max;
	unsigned int	(*get)(void);
	void		(*set)(unsigned int val);
};

static int knob_get(void *data, u64 *val)
{
	const struct htable_knob *k = data;

	*val = k->get();
	return 0;
}

static int knob_set(void *data, u64 val)
{
	const struct htable_knob *k = data;

	if (val < k->min || val > k->max)
		return -ERANGE;
	k->set(val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(knob_fops, knob_get, knob_set, "%llu\n");

static unsigned int force_steal_get(void)
{
	return READ_ONCE(htable_force_steal);
}

static unsigned int ref_limit_get(void)
{
	return READ_ONCE(htable_ref_limit);
}

static void ref_limit_set(unsigned int val)
{
	WRITE_ONCE(htable_ref_limit, val);
}

/* fail_nth: writing it restarts the count, so failure N comes N calls later. */
static struct htable_knob fail_nth_knob = {
	0, UINT_MAX, htable_fail_nth_get, htable_fail_nth_set
};

/* force_steal: the same, for every Nth table allocation stealing first. */
static struct htable_knob force_steal_knob = {
	0, UINT_MAX, force_steal_get, htable_force_steal_set
};

/* ref_limit: at least 2, so an alias of a fresh page stays possible. */
static struct htable_knob ref_limit_knob = {
	2, INT_MAX, ref_limit_get, ref_limit_set
};

/**
 * htable_debugfs_add_hat() - create hat/<id> and corrupt/<id> for @hat
 * @hat:	a new hat
 *
 * debugfs failures are not fatal: the hat works without its files.
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
 * htable_debugfs_remove_hat() - remove @hat's files
 * @hat:	the hat; returns once no reader is inside its files
 */
void htable_debugfs_remove_hat(struct hat *hat)
{
	debugfs_remove(hat->hat_debugfs);
	hat->hat_debugfs = NULL;
	debugfs_remove(hat->hat_debugfs_corrupt);
	hat->hat_debugfs_corrupt = NULL;
}

static void htable_debugfs_knobs(struct dentry *dir)
{
	debugfs_create_file_unsafe("fail_nth", 0600, dir, &fail_nth_knob, &knob_fops);
	debugfs_create_x32("fail_site", 0600, dir, &htable_fail_sites);
	debugfs_create_file("fail_hits", 0400, dir, NULL, &fail_hits_fops);
	debugfs_create_file_unsafe("fail_warn", 0200, dir, NULL, &fail_warn_fops);
	debugfs_create_bool("force_reserve", 0600, dir, &htable_force_reserve);
	debugfs_create_ulong("throttle_pages", 0600, dir, &htable_throttle_pages);
	debugfs_create_bool("tlb_skip_remote", 0600, dir, &htable_tlb_skip_remote);
	/*
	 * With CONFIG_DEBUG_VM the kernel warns when a lazy switch finds CR3
	 * changed under it, so a forced clobber would splat: no knob there.
	 */
	if (!IS_ENABLED(CONFIG_DEBUG_VM))
		debugfs_create_bool("window_lazy", 0600, dir, &htable_window_lazy);
	debugfs_create_u32("steal_passes", 0600, dir, &htable_steal_passes);
	debugfs_create_file_unsafe("force_steal", 0600, dir, &force_steal_knob,
				   &knob_fops);
	debugfs_create_ulong("ptable_cap", 0600, dir, &htable_ptable_cap);
	debugfs_create_file_unsafe("reap", 0200, dir, NULL, &reap_fops);
	debugfs_create_file_unsafe("ref_limit", 0600, dir, &ref_limit_knob, &knob_fops);
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
	htable_debugfs_knobs(dir);
#ifdef HTABLE_BENCH
	debugfs_create_file("bench", 0600, dir, NULL, &htable_bench_fops);
#endif
	htable_debugfs_dir = dir;
	return 0;
}

/**
 * htable_debugfs_exit() - remove the tree; no reader is inside it after
 */
void htable_debugfs_exit(void)
{
	debugfs_remove_recursive(htable_debugfs_dir);
	htable_debugfs_dir = NULL;
	htable_bench_exit();
}
