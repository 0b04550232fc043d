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
#include <linux/kernel.h>
#include <linux/seq_file.h>

#include <htable/fail.h>

/* Every Nth counted allocation fails (debugfs fail_nth); 0: off. */
static unsigned int htable_fail_nth;
static atomic_t htable_fail_count = ATOMIC_INIT(0);

/* Sites fail_nth applies to; a debugfs u32, read locklessly on each call. */
u32 htable_fail_sites = HTABLE_FAIL_DEFAULT_SITES;

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

/* Restart the count and the per-site tallies. */
static void htable_fail_reset(void)
{
	int i;

	for (i = 0; i < HTABLE_FAIL_NR; i++) {
		atomic_long_set(&htable_fail_calls[i], 0);
		atomic_long_set(&htable_fail_hits[i], 0);
	}
	atomic_set(&htable_fail_count, 0);
}

/**
 * htable_fail_nth_get() - the fail_nth knob
 *
 * Return: N, or 0 when failure injection is off.
 */
unsigned int htable_fail_nth_get(void)
{
	return READ_ONCE(htable_fail_nth);
}

/**
 * htable_fail_nth_set() - set fail_nth, restarting the count and tallies
 * @n:		every Nth counted allocation fails; 0 turns it off
 *
 * So failure N comes N counted calls after the write.
 */
void htable_fail_nth_set(unsigned int n)
{
	htable_fail_reset();
	WRITE_ONCE(htable_fail_nth, n);
}

/**
 * htable_fail_warn() - make the module WARN, once per load
 *
 * A test-only knob (debugfs fail_warn) that shows a row fails when the
 * module warns (testing.rst): the check every other WARN site relies on.
 */
void htable_fail_warn(void)
{
	WARN_ONCE(1, "htable: fail_warn knob\n");
}

/**
 * htable_fail_hits_show() - per site: allocations counted, failures made
 * @m:		where to print (debugfs fail_hits)
 */
void htable_fail_hits_show(struct seq_file *m)
{
	int i;

	seq_puts(m, "site bit calls failed\n");
	for (i = 0; i < HTABLE_FAIL_NR; i++)
		seq_printf(m, "%s %d %ld %ld\n", htable_fail_names[i], i,
			   atomic_long_read(&htable_fail_calls[i]),
			   atomic_long_read(&htable_fail_hits[i]));
}
