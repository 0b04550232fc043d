// SPDX-License-Identifier: GPL-2.0
/*
 * RESIDENT windows for htable's CR3 and TLB tests, and the helpers they
 * need: see htable_window.h.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "htable_window.h"

/* CLOCK_MONOTONIC in ns. */
__u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* INFO.live_cpus of @fd, or POISON64 when INFO fails. */
__u64 live_cpus(int fd)
{
	struct htable_info info;

	if (ht_info(fd, &info))
		return POISON64;
	return info.live_cpus;
}

/* Pin the calling thread to @cpu: 0 or -errno. */
int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* The thread of a window: runs it into @arg's struct window; returns NULL. */
static void *window_thread(void *arg)
{
	struct window *w = arg;

	/* Best effort: the caller runs where its window does. */
	pin_to(w->cpu);
	memset(&w->r, 0, sizeof(w->r));
	w->r.cpu = w->cpu;
	w->r.mode = HTABLE_RUN_RESIDENT;
	w->r.va = w->va;
	w->r.npages = 1;
	w->r.duration_ms = w->duration_ms;
	w->r.samples = (uintptr_t)w->s;
	w->r.max_samples = w->max_samples;
	/* Poison the out fields, so one left unwritten shows. */
	w->r.nsamples = POISON32;
	w->r.verified = POISON64;
	w->r.mismatches = POISON64;
	w->r.faults = POISON64;
	w->r.first_fault_va = POISON64;
	w->r.first_mismatch_va = POISON64;
	w->r.reads = POISON64;
	w->r.valid_reads = POISON64;
	w->r.clobbers = POISON64;
	w->r.elapsed_ns = POISON64;
	w->r.watchdog = POISON32;
	w->t_start = now_ns();
	w->err = ht_ioctl(w->fd, HTABLE_IOC_RUN, &w->r);
	w->t_end = now_ns();
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Start a window of @ms on @cpu reading @va, with room for @max_samples:
 * 0 or -errno.
 */
int window_start(struct window *w, int fd, __u32 cpu, __u64 va, __u32 ms,
		 __u32 max_samples)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->cpu = cpu;
	w->va = va;
	w->duration_ms = ms;
	w->max_samples = max_samples;
	w->s = malloc((max_samples + GUARD_SAMPLES) * sizeof(*w->s));
	if (!w->s)
		return -ENOMEM;
	memset(w->s, 0xa5, (max_samples + GUARD_SAMPLES) * sizeof(*w->s));
	ret = pthread_create(&w->tid, NULL, window_thread, w);
	if (ret) {
		free(w->s);
		w->s = NULL;
		return -ret;
	}
	return 0;
}

/* Wait until INFO shows @w's CPU live on @fd: 0, or -1 when it never did. */
int wait_live(int fd, struct window *w, double timeout_s)
{
	double end = ht_now() + timeout_s;

	while (ht_now() < end && !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
		__u64 live = live_cpus(fd);

		if (live != POISON64 && (live & _BITULL(w->cpu)))
			return 0;
		usleep(1000);
	}
	return -1;
}

/*
 * What every RESIDENT window must satisfy: sane out fields, samples in
 * time order inside the ioctl's time, nothing written past nsamples.
 * @nvalid gets the number of VALID samples. Returns the problems.
 */
int window_sane(const struct window *w, __u64 *nvalid)
{
	const struct htable_run *r = &w->r;
	struct htable_sample poison;
	__u64 i, prev = 0;
	int bad = 0;

	memset(&poison, 0xa5, sizeof(poison));
	*nvalid = 0;
	if (r->nsamples > w->max_samples) {
		fprintf(stderr, "# nsamples %u > max_samples %u\n", r->nsamples,
			w->max_samples);
		return 1;
	}
	for (i = 0; i < r->nsamples; i++) {
		const struct htable_sample *s = &w->s[i];
		int sbad = 0;

		if ((s->flags & ~(HTABLE_SAMPLE_FAULT | HTABLE_SAMPLE_VALID)) ||
		    s->reserved || ((s->flags & HTABLE_SAMPLE_FAULT) && s->value))
			sbad++;
		if (s->t_ns < prev || s->t_ns < w->t_start || s->t_ns > w->t_end)
			sbad++;
		if (sbad && bad < 5)
			fprintf(stderr,
				"# sample %llu: t %llu (prev %llu, ioctl %llu..%llu) value %#llx flags %#x reserved %u\n",
				i, s->t_ns, prev, w->t_start, w->t_end, s->value,
				s->flags, s->reserved);
		bad += sbad;
		prev = s->t_ns;
		*nvalid += !!(s->flags & HTABLE_SAMPLE_VALID);
	}
	for (i = w->max_samples; i < w->max_samples + GUARD_SAMPLES; i++) {
		if (memcmp(&w->s[i], &poison, sizeof(poison))) {
			fprintf(stderr, "# sample %llu written past max_samples\n", i);
			bad++;
		}
	}
	if (r->reads < r->nsamples || r->valid_reads > r->reads ||
	    r->valid_reads < *nvalid) {
		fprintf(stderr, "# reads %llu valid_reads %llu nsamples %u valid samples %llu\n",
			r->reads, r->valid_reads, r->nsamples, *nvalid);
		bad++;
	}
	if (r->elapsed_ns < w->duration_ms * 900000ULL ||
	    r->elapsed_ns > w->t_end - w->t_start) {
		fprintf(stderr, "# elapsed_ns %llu for %u ms (ioctl took %llu ns)\n",
			r->elapsed_ns, w->duration_ms, w->t_end - w->t_start);
		bad++;
	}
	if (r->watchdog || r->reserved || r->clobbers == POISON64) {
		fprintf(stderr, "# watchdog %u reserved %u clobbers %#llx\n",
			r->watchdog, r->reserved, r->clobbers);
		bad++;
	}
	return bad;
}

/*
 * Between two polls for an event that began to be awaited at @start:
 * yield for the first 10 ms (the event is usually that close, and a
 * sleep can last a whole tick in the guest), then sleep.
 */
static void poll_pause(double start)
{
	if (ht_now() < start + 0.01)
		sched_yield();
	else
		usleep(500);
}

/* Has @w's RUN returned? */
int window_done(const struct window *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

/*
 * The accessed bit of the raw PTE that maps @va: 1 or 0, or -1 when
 * nothing is present there (or PROBE fails).
 */
int pte_accessed(int fd, __u64 va)
{
	struct htable_probe p;

	if (ht_probe(fd, va, &p) || !(p.flags & HTABLE_PROBE_PRESENT))
		return -1;
	return !!(p.pte & PTE_ACCESSED);
}

/*
 * SYNC_CLEAR of the page at @va: its A and D bits are cleared and every
 * CPU where the hat is live drops the translation, so the next read of a
 * window walks the tables again and sets A. 0 or -errno.
 */
int clear_accessed(int fd, __u64 va)
{
	struct htable_sync s = {
		.va = va,
		.npages = 1,
		.flags = HTABLE_SYNC_CLEAR,
	};

	return ht_ioctl(fd, HTABLE_IOC_SYNC, &s);
}

/*
 * Wait until the PTE of @va has its accessed bit: a read through the hat
 * happened. 0; WAIT_ENDED when @w (if not NULL) returned and the bit is
 * still clear; WAIT_TIMEOUT after @timeout_s.
 */
int wait_accessed(int fd, __u64 va, const struct window *w, double timeout_s)
{
	double start = ht_now();

	for (;;) {
		/* Read "done" first: a read before it returned shows after. */
		int ended = w && window_done(w);

		if (pte_accessed(fd, va) == 1)
			return 0;
		if (ended)
			return WAIT_ENDED;
		if (ht_now() > start + timeout_s)
			return WAIT_TIMEOUT;
		poll_pause(start);
	}
}

/*
 * Wait until @w is seen running: its page's PTE shows its read, and INFO
 * shows its CPU live after that. The PTE's A bit must be clear when @w
 * starts (fresh MAP, or clear_accessed()). 0, WAIT_ENDED when the RUN
 * returned first, or WAIT_TIMEOUT.
 */
int wait_running(int fd, struct window *w, double timeout_s)
{
	double end = ht_now() + timeout_s;
	int ret = wait_accessed(fd, w->va, w, timeout_s);
	__u64 live;

	if (ret)
		return ret;
	for (;;) {
		live = live_cpus(fd);
		if (window_done(w))
			return WAIT_ENDED;
		if (live != POISON64 && (live & _BITULL(w->cpu)))
			return 0;
		if (ht_now() > end)
			return WAIT_TIMEOUT;
		poll_pause(end - timeout_s);
	}
}

/*
 * Witness @n more reads of a running window @w, each one started at least
 * 2 ms after the last was seen: clear the PTE's A bit (which also drops
 * the window's translation) and wait for the window's next read to set it
 * again. seen_ns[k] is when read k was seen (after it happened). Returns
 * how many were seen before @w ended (or the hang guard ran out).
 *
 * Read k + 1 comes from a later pass of the window than read k, so the
 * pass of read k + 2 started after read k + 1, which was after clear
 * k + 1, at least 2 ms after read k was seen: passes of reads two apart
 * are more than 1 ms apart, and between them the window must have logged
 * a sample (Documentation/uapi.rst). So with seen_ns[-1] the wait_running()
 * read, samples_upto(w, seen_ns[2m - 1]) >= m + 1: a floor on the samples
 * that no host speed can lower.
 */
int witness_reads(int fd, struct window *w, int n, __u64 *seen_ns)
{
	int k;

	for (k = 0; k < n; k++) {
		__u64 next = (k ? seen_ns[k - 1] : now_ns()) + 2000000;

		/* Not a sleep: one can take a whole tick in the guest. */
		while (now_ns() < next)
			sched_yield();
		if (clear_accessed(fd, w->va) ||
		    wait_accessed(fd, w->va, w, WINDOW_WAIT_S))
			break;
		seen_ns[k] = now_ns();
	}
	return k;
}

/* Samples of @w (valid or not) taken before @t. */
__u64 samples_upto(const struct window *w, __u64 t)
{
	__u64 i, n = 0;

	for (i = 0; i < w->r.nsamples; i++)
		n += w->s[i].t_ns < t;
	return n;
}

/* Samples of @w (valid or not) taken after @t. */
__u64 samples_after(const struct window *w, __u64 t)
{
	__u64 i, n = 0;

	for (i = 0; i < w->r.nsamples; i++)
		n += w->s[i].t_ns > t;
	return n;
}

/* Valid samples of @w taken after @t. */
__u64 valid_after(const struct window *w, __u64 t)
{
	__u64 i, n = 0;

	for (i = 0; i < w->r.nsamples; i++)
		n += w->s[i].t_ns > t && (w->s[i].flags & HTABLE_SAMPLE_VALID);
	return n;
}

/*
 * Samples of @w logged less than 1 ms after the previous one with the same
 * value and flags: the module logs a sample only on a change or after
 * 1 ms (Documentation/uapi.rst). Returns how many broke that rule.
 */
int sample_gaps(const struct window *w)
{
	__u64 i;
	int bad = 0;

	for (i = 1; i < w->r.nsamples; i++) {
		const struct htable_sample *a = &w->s[i - 1], *b = &w->s[i];

		if (a->value != b->value || a->flags != b->flags ||
		    b->t_ns - a->t_ns >= 1000000)
			continue;
		if (bad++ < 3)
			fprintf(stderr, "# samples %llu and %llu: %#llx flags %#x, %llu ns apart\n",
				i - 1, i, b->value, b->flags, b->t_ns - a->t_ns);
	}
	return bad;
}
