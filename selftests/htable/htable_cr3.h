/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of htable_cr3_test share: the counters windows move,
 * and the helpers of htable_cr3_pages.c and htable_cr3_run.c.
 */
#ifndef HTABLE_CR3_H
#define HTABLE_CR3_H

#include "kselftest.h"
#include "htable_test.h"
#include "htable_window.h"

/* Counters the windows and SYNC move. */
enum { ST_WINDOWS, ST_VERIFIED, ST_FAULTS, ST_SYNCS, ST_CLOBBERS, ST_WATCHDOG, NR_ST };

/* htable_cr3_pages.c: what a window leaves in the pages */
int cr3_fill_pages(int fd, __u64 va, __u64 n);
int cr3_check_page(int fd, __u64 va, __u64 seed, int filled, __u64 fill_va);
int cr3_ad_of(int fd, __u64 va);
int cr3_ad_expect(int fd, __u64 va, __u64 n, int want);

/* htable_cr3_run.c: RUN requests and what they report */
int cr3_run_req(int fd, struct htable_run *r);
int cr3_run_verify(int fd, __u32 cpu, __u64 va, __u64 npages,
		   __u32 flags, __u64 seed, struct htable_run *r);
int cr3_verify_result(const struct htable_run *r, __u64 verified,
		      __u64 faults, __u64 first_fault);
int cr3_possible_cpus(void);
int cr3_stats_read(long long *v);
int cr3_stats_moved(const long long *before, const long long *want);

#endif /* HTABLE_CR3_H */
