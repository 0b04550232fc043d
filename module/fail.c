// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation-failure injection (include/htable/fail.h).
 *
 * Each allocation site asks htable_should_fail() first and, told yes,
 * behaves exactly as if its allocator had returned NULL, so every error
 * path of the module can be reached from a test on demand.
 */
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>

#include <htable/fail.h>
#include <htable/htable.h>

/* Sites fail_nth applies to; a debugfs u32, read locklessly on each call. */
static u32 htable_fail_sites = HTABLE_FAIL_DEFAULT_SITES;

/* Per site: allocations counted and failures injected since the last reset. */
static atomic_long_t htable_fail_calls[HTABLE_FAIL_NR];
static atomic_long_t htable_fail_hits[HTABLE_FAIL_NR];

static const char * const htable_fail_names[HTABLE_FAIL_NR] = {
	[HTABLE_FAIL_PTABLE]	= "ptable",
	[HTABLE_FAIL_HTABLE]	= "htable",
	[HTABLE_FAIL_PAGE]	= "page",
	[HTABLE_FAIL_XARRAY]	= "xarray",
	[HTABLE_FAIL_HAT]	= "hat",
	[HTABLE_FAIL_CPUMASK]	= "cpumask",
	[HTABLE_FAIL_HASH]	= "hash",
	[HTABLE_FAIL_WINDOW]	= "window",
	[HTABLE_FAIL_SAMPLES]	= "samples",
	[HTABLE_FAIL_SHARE]	= "share",
	[HTABLE_FAIL_UPIN]	= "upin",
};

/**
 * htable_should_fail() - must this allocation fail on purpose?
 * @site:	the allocation site asking
 *
 * Counts the call when fail_nth is set and @site is in fail_site; every
 * Nth counted call (over all sites in the mask) fails.
 *
 * Context: any; lock-free.
 * Return: true when the caller must act as if its allocation failed.
 */
bool htable_should_fail(enum htable_fail_site site)
{
	unsigned int n = READ_ONCE(htable_fail_nth);

	if (!n || !(READ_ONCE(htable_fail_sites) & BIT(site)))
		return false;
	atomic_long_inc(&htable_fail_calls[site]);
	if (atomic_inc_return(&htable_fail_count) % n)
		return false;
	atomic_long_inc(&htable_fail_hits[site]);
	return true;
}

/** htable_fail_reset() - restart the count and the per-site tallies */
void htable_fail_reset(void)
{
	int i;

	for (i = 0; i < HTABLE_FAIL_NR; i++) {
		atomic_long_set(&htable_fail_calls[i], 0);
		atomic_long_set(&htable_fail_hits[i], 0);
	}
	atomic_set(&htable_fail_count, 0);
}

/*
 * fail_warn: writing 1 makes the module WARN, once per load. A test-only
 * knob that shows a row fails when the module warns (testing.rst): the
 * check that every other WARN site relies on.
 */
static int fail_warn_set(void *data, u64 val)
{
	if (val != 1)
		return -EINVAL;
	WARN_ONCE(1, "htable: fail_warn knob\n");
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(fail_warn_fops, NULL, fail_warn_set, "%llu\n");

static int fail_hits_show(struct seq_file *m, void *unused)
{
	int i;

	seq_puts(m, "site bit calls failed\n");
	for (i = 0; i < HTABLE_FAIL_NR; i++)
		seq_printf(m, "%s %d %ld %ld\n", htable_fail_names[i], i,
			   atomic_long_read(&htable_fail_calls[i]),
			   atomic_long_read(&htable_fail_hits[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(fail_hits);

/**
 * htable_fail_debugfs_init() - create fail_site and fail_hits in @dir
 * @dir:	/sys/kernel/debug/htable
 */
void htable_fail_debugfs_init(struct dentry *dir)
{
	debugfs_create_x32("fail_site", 0600, dir, &htable_fail_sites);
	debugfs_create_file("fail_hits", 0400, dir, NULL, &fail_hits_fops);
	debugfs_create_file_unsafe("fail_warn", 0200, dir, NULL, &fail_warn_fops);
}
