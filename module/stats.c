// SPDX-License-Identifier: GPL-2.0
/*
 * htable's event counters (include/htable/stats.h), and the one rate
 * limit of its bad-input lines: a leaf that every layer counts into and
 * nothing below calls. debugfs.c shows them.
 */
#include <linux/build_bug.h>
#include <linux/kernel.h>
#include <linux/printk.h>
#include <linux/ratelimit.h>

#include <htable/stats.h>

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

/**
 * htable_stat_name() - the name debugfs shows for counter @s
 * @s:		the counter
 *
 * Return: its name, the seed's hs_ name.
 */
const char *htable_stat_name(enum htable_stat s)
{
	return htable_stat_names[s];
}
