/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RESIDENT windows for htable's CR3 and TLB tests: a thread runs
 * HTABLE_IOC_RUN (RESIDENT) on one CPU while the test watches it, and
 * the checks every such window must pass.
 */
#ifndef HTABLE_WINDOW_H
#define HTABLE_WINDOW_H

#include <pthread.h>

#include "htable_test.h"

#define POISON64	0xa5a5a5a5a5a5a5a5ULL
#define POISON32	0xa5a5a5a5U
/* Poisoned samples past max_samples, which the module must not write. */
#define GUARD_SAMPLES	4

/* One RESIDENT window, run by a thread. */
struct window {
	pthread_t tid;
	int fd;
	__u32 cpu;
	__u64 va;
	__u32 duration_ms;
	__u32 max_samples;
	struct htable_sample *s;	/* max_samples + GUARD_SAMPLES */
	struct htable_run r;
	int err;			/* 0 or -errno of the RUN */
	__u64 t_start, t_end;		/* CLOCK_MONOTONIC around the ioctl */
	int done;			/* set (atomically) when it returned */
};

__u64 now_ns(void);
__u64 live_cpus(int fd);
int pin_to(int cpu);
int window_start(struct window *w, int fd, __u32 cpu, __u64 va, __u32 ms,
		 __u32 max_samples);
int wait_live(int fd, struct window *w, double timeout_s);
int window_sane(const struct window *w, __u64 *nvalid);

/*
 * Events a RESIDENT window produces while it runs, for tests that must act
 * while it is running instead of guessing how soon it will be. The window
 * reads its page through the hat, and the MMU sets the accessed bit of the
 * page's PTE on the walk: only a window ever walks the hat's tables, so
 * that bit, clear after MAP and after SYNC_CLEAR, shows a read.
 */
#define PTE_ACCESSED	_BITULL(5)
/* Generous hang guard for waiting on a window's events. */
#define WINDOW_WAIT_S	30.0

/* What the wait_* helpers return besides 0. */
#define WAIT_ENDED	(-1)	/* the window's RUN returned first */
#define WAIT_TIMEOUT	(-2)	/* the hang guard ran out */

int window_done(const struct window *w);
int pte_accessed(int fd, __u64 va);
int clear_accessed(int fd, __u64 va);
int wait_accessed(int fd, __u64 va, const struct window *w, double timeout_s);
int wait_running(int fd, struct window *w, double timeout_s);
int witness_reads(int fd, struct window *w, int n, __u64 *seen_ns);
__u64 samples_upto(const struct window *w, __u64 t);
__u64 samples_after(const struct window *w, __u64 t);
__u64 valid_after(const struct window *w, __u64 t);
int sample_gaps(const struct window *w);

#endif /* HTABLE_WINDOW_H */
