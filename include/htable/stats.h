/* SPDX-License-Identifier: GPL-2.0 */
/*
 * htable event counters.
 *
 * Every event the seed counts with HATSTAT_INC keeps its hs_ name here. The
 * counters are per-CPU (they sit on the map/unmap fast path) and are summed
 * when debugfs "stats" is read; a sum taken while other CPUs count is a
 * snapshot, exact once the system is quiet, which is when tests assert on it.
 */
#ifndef _HTABLE_STATS_H
#define _HTABLE_STATS_H

#include <linux/percpu.h>
#include <linux/types.h>

/*
 * One enumerator per counter, named after the counter (STAT_<name>). The
 * names shown in debugfs are in module/stats.c, and
 * Documentation/debugfs.rst documents each.
 */
enum htable_stat {
	STAT_hs_ptable_allocs,
	STAT_hs_ptable_frees,
	STAT_hs_htable_rgets,
	STAT_hs_htable_rputs,
	STAT_hs_steals,
	STAT_hs_reap_attempts,
	STAT_hs_reaped,
	STAT_hs_htable_shared,
	STAT_hs_htable_unshared,
	STAT_hs_hats_created,
	STAT_hs_hats_destroyed,
	STAT_hs_bad_input,
	STAT_hs_shootdowns,
	STAT_hs_tlb_invals,
	STAT_hs_tlb_flush_all,
	STAT_hs_enomem,
	STAT_hs_shootdown_cpus,
	STAT_hs_shootdowns_skipped,
	STAT_hs_windows,
	STAT_hs_pages_verified,
	STAT_hs_window_faults,
	STAT_hs_ad_syncs,
	STAT_hs_cr3_clobbers,
	STAT_hs_watchdog_ends,
	HTABLE_NR_STATS
};

struct htable_stats {
	u64 c[HTABLE_NR_STATS];
};

DECLARE_PER_CPU(struct htable_stats, htable_stats);

#define HATSTAT_INC(name)	this_cpu_inc(htable_stats.c[STAT_##name])
#define HATSTAT_ADD(name, n)	this_cpu_add(htable_stats.c[STAT_##name], (n))

u64 htable_stat_sum(enum htable_stat s);
const char *htable_stat_name(enum htable_stat s);
__printf(1, 2) void htable_log_bad_input(const char *fmt, ...);

#endif /* _HTABLE_STATS_H */
