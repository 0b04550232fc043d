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
int rw(int fd, __u64 va, void *buf, __u32 len, __u32 flags);
__u64 live_cpus(int fd);
int pin_to(int cpu);
int window_start(struct window *w, int fd, __u32 cpu, __u64 va, __u32 ms,
		 __u32 max_samples);
int wait_live(int fd, struct window *w, double timeout_s);
int window_sane(const struct window *w, __u64 *nvalid);

#endif /* HTABLE_WINDOW_H */
