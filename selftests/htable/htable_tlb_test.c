// SPDX-License-Identifier: GPL-2.0
/*
 * TLB shootdown while a hat is live in CR3 on another CPU.
 *
 * A RESIDENT window on CPU 1 reads the first word of page P at va A in a
 * loop and logs what it saw and when. P is also mapped at va B, so it
 * stays alive, with its data, when A is unmapped. The test, on CPU 0,
 * unmaps A once it has seen the window read it (the MMU set A's accessed
 * bit) and notes the time the UNMAP returned: from then on, no valid
 * read of A may still see P's marker, because the UNMAP must have shot
 * down CPU 1's translation before returning. With the debugfs knob
 * tlb_skip_remote set, the module skips that shootdown on purpose, and
 * the same scenario must then catch a stale read: proof that the test can
 * see a missing shootdown at all.
 *
 * Also: two hats live on two CPUs at once, closing a hat's file while a
 * window on it is running, and a lazy-TLB clobber of CR3 forced with the
 * debugfs knob window_lazy (the window then does not borrow the mm).
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_window.h"

#define TLB_TIMEOUT	120
#define TLB_SKIP_PATH	"/sys/kernel/debug/htable/tlb_skip_remote"
#define LAZY_PATH	"/sys/kernel/debug/htable/window_lazy"

#define WINDOW_MS	2000
/*
 * How many times a case may start over when its window ended before the
 * test saw what it needed (the host stalled the guest for about a
 * window's length): such a run says nothing either way.
 */
#define TRIES		3
/* two_hats: window 1 runs inside window 0. */
#define TWO_LONG_MS	2000
#define TWO_SHORT_MS	1000

/* A and B in different PTE tables, so the UNMAP of A frees A's table. */
#define VA_A		(5 * HT_SZ_1G)
#define VA_B		(5 * HT_SZ_1G + 3 * HT_SZ_2M)

#define OLD		0x4f4c444d41524b31ULL	/* "1KRAMDLO" */
#define NEW		0x4e45574d41524b32ULL	/* "2KRAMWEN" */

static int write_word(int fd, __u64 va, __u64 val)
{
	return ht_rw(fd, va, &val, sizeof(val), HTABLE_RW_WRITE);
}

/* The first word of the page at @va through the direct map, or POISON64. */
static __u64 read_word(int fd, __u64 va)
{
	__u64 val;

	if (ht_rw(fd, va, &val, sizeof(val), 0))
		return POISON64;
	return val;
}

/*
 * tlb_skip_remote is a debugfs bool: written as 0 or 1, read back as "N"
 * or "Y". Returns 0 or 1, or -1 when it cannot be read.
 */
static int knob_read(void)
{
	char c = 0;
	int fd;

	fd = open(TLB_SKIP_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	if (c == 'Y' || c == 'y' || c == '1')
		return 1;
	if (c == 'N' || c == 'n' || c == '0')
		return 0;
	return -1;
}

/* A counter from debugfs stats, or -1 (with a message) when missing. */
static long long stat_of(const char *name)
{
	long long v = htable_stat(name);

	if (v < 0)
		fprintf(stderr, "# counter %s missing\n", name);
	return v;
}

/* The counters these tests watch. */
enum { ST_SHOOT, ST_SKIPPED, ST_WINDOWS, ST_CLOBBERS, ST_WATCHDOG, NR_ST };

static const char * const st_name[NR_ST] = {
	"hs_shootdowns", "hs_shootdowns_skipped", "hs_windows",
	"hs_cr3_clobbers", "hs_watchdog_ends",
};

static int stats_read(long long *v)
{
	int i, bad = 0;

	for (i = 0; i < NR_ST; i++) {
		v[i] = stat_of(st_name[i]);
		bad += v[i] < 0;
	}
	return bad;
}

/*
 * Valid samples of @w that did not read @want (a fault counts as not
 * reading it), and the valid ones, in (@after, @before); the first few
 * bad ones are printed.
 */
static __u64 count_not(const struct window *w, __u64 want, __u64 after,
		       __u64 before, __u64 *nvalid)
{
	__u64 i, bad = 0;

	*nvalid = 0;
	for (i = 0; i < w->r.nsamples; i++) {
		const struct htable_sample *s = &w->s[i];

		if (!(s->flags & HTABLE_SAMPLE_VALID) || s->t_ns <= after ||
		    s->t_ns >= before)
			continue;
		(*nvalid)++;
		if (!(s->flags & HTABLE_SAMPLE_FAULT) && s->value == want)
			continue;
		if (bad < 3)
			fprintf(stderr,
				"# CPU %u sample %llu at %llu: value %#llx flags %#x, want %#llx\n",
				w->cpu, i, s->t_ns, s->value, s->flags, want);
		bad++;
	}
	return bad;
}

FIXTURE(tlb) {
	int fd;
	int err;
	int ncpus;
};

FIXTURE_SETUP(tlb)
{
	/* An earlier run may have died with a knob set. */
	htable_knob_write(TLB_SKIP_PATH, 0);
	if (!access(LAZY_PATH, F_OK))
		htable_knob_write(LAZY_PATH, 0);
	self->ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	self->fd = htable_open_dev();
	self->err = errno;
}

FIXTURE_TEARDOWN(tlb)
{
	htable_knob_write(TLB_SKIP_PATH, 0);
	if (!access(LAZY_PATH, F_OK))
		htable_knob_write(LAZY_PATH, 0);
	if (self->fd >= 0)
		close(self->fd);
}

/* First of all, before any test touches it: the knob is off by default. */
TEST(knob_default)
{
	if (htable_dev_missing(_metadata, access(HTABLE_DEV_PATH, F_OK), errno))
		return;
	EXPECT_EQ(0, knob_read()) TH_LOG("%s", TLB_SKIP_PATH);
}

TEST_F(tlb, knob_rw)
{
	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, htable_knob_write(TLB_SKIP_PATH, 1));
	EXPECT_EQ(1, knob_read());
	ASSERT_EQ(0, htable_knob_write(TLB_SKIP_PATH, 0));
	EXPECT_EQ(0, knob_read());
	EXPECT_LE(0, htable_stat("hs_shootdowns_skipped"));
}

/*
 * One run of the scenario, on a hat of its own. @remap: after the UNMAP,
 * map A again to a fresh page and write NEW into it. @skip: run with
 * tlb_skip_remote set, so a stale read of OLD after the UNMAP must be
 * seen.
 *
 * Nothing here waits for a guess of how soon the window runs. The UNMAP
 * comes once the window is seen running: A's PTE shows the window's read
 * (so its CPU holds the translation) and INFO shows the CPU live. The
 * samples are judged only when the window logged a valid one after the
 * last action; a window that ended before that (the host stalled the
 * guest for about WINDOW_MS) says nothing, and the run is tried again.
 * Returns 1 when the run was judged, 0 when it says nothing.
 */
static int stale_try(struct __test_metadata *_metadata, int ncpus, int remap,
		     int skip, int try)
{
	__u64 t_unmap0 = 0, t_unmap = 0, t_new = 0, nvalid, i;
	__u64 old_before = 0, bad_before = 0, bad_during = 0, lagged = 0;
	__u64 last_before = -1ULL, last_upto = -1ULL;
	__u64 after_valid = 0, after_fault = 0, after_old = 0, after_new = 0;
	long long st0[NR_ST], st1[NR_ST];
	int fd, running, ret_unmap = -1, ret_map = 0, ret_new = 0;
	struct htable_check c;
	struct window w;

	fd = htable_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ht_map(fd, VA_A, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map_alias(fd, VA_B, 1, HTABLE_MAP_ALIAS, VA_A, 1));
	ASSERT_EQ(0, write_word(fd, VA_A, OLD));
	ASSERT_EQ(OLD, read_word(fd, VA_B));
	/* Only a window's read sets A: none yet. */
	ASSERT_EQ(0, pte_accessed(fd, VA_A));
	ASSERT_EQ(0, htable_knob_write(TLB_SKIP_PATH, skip));
	ASSERT_EQ(skip, knob_read());
	ASSERT_EQ(0, stats_read(st0));
	ASSERT_EQ(0, live_cpus(fd));

	ASSERT_EQ(0, window_start(&w, fd, 1, VA_A, WINDOW_MS, HTABLE_MAX_SAMPLES));
	/* No ASSERT until the window is joined. */
	running = wait_running(fd, &w, WINDOW_WAIT_S);
	if (!running) {
		t_unmap0 = now_ns();
		ret_unmap = ht_unmap(fd, VA_A, 1);
		t_unmap = now_ns();
		if (remap && !ret_unmap) {
			ret_map = ht_map(fd, VA_A, 1, HTABLE_MAP_WRITE);
			if (!ret_map)
				ret_new = write_word(fd, VA_A, NEW);
			t_new = now_ns();
		}
	}
	pthread_join(w.tid, NULL);
	htable_knob_write(TLB_SKIP_PATH, 0);

	ASSERT_EQ(0, w.err) TH_LOG("RUN RESIDENT on CPU 1: %s", strerror(-w.err));
	ASSERT_NE(WAIT_TIMEOUT, running)
		TH_LOG("window on CPU 1 not seen running in %.0f s", WINDOW_WAIT_S);
	if (!running) {
		ASSERT_EQ(0, ret_unmap) TH_LOG("UNMAP A: %s", strerror(-ret_unmap));
		ASSERT_EQ(0, ret_map) TH_LOG("MAP A again: %s", strerror(-ret_map));
		ASSERT_EQ(0, ret_new) TH_LOG("RW NEW: %s", strerror(-ret_new));
	}
	if (running || !valid_after(&w, remap ? t_new : t_unmap)) {
		TH_LOG("try %d: the window ended before it %s; again", try,
		       running ? "was seen running" : "read validly after the last change");
		free(w.s);
		close(fd);
		return 0;
	}
	EXPECT_EQ(0, window_sane(&w, &nvalid));
	EXPECT_EQ(0, live_cpus(fd));

	/*
	 * t_ns is taken before the read, which an interrupt or the host can
	 * delay past the UNMAP (or the remap). Only the last read before a
	 * point in time can be late that way: the next one starts after it.
	 */
	for (i = 0; i < w.r.nsamples; i++) {
		if (!(w.s[i].flags & HTABLE_SAMPLE_VALID))
			continue;
		if (w.s[i].t_ns < t_unmap0)
			last_before = i;
		if (w.s[i].t_ns <= t_unmap)
			last_upto = i;
	}
	for (i = 0; i < w.r.nsamples; i++) {
		const struct htable_sample *s = &w.s[i];
		int fault = !!(s->flags & HTABLE_SAMPLE_FAULT);
		int late_ok = fault || (remap && i == last_upto);

		if (!(s->flags & HTABLE_SAMPLE_VALID))
			continue;
		if (s->t_ns <= t_unmap && (fault || s->value != OLD))
			TH_LOG("sample %llu at UNMAP%+lld ns: value %#llx flags %#x",
			       i, (long long)(s->t_ns - t_unmap0), s->value, s->flags);
		if (s->t_ns < t_unmap0) {
			/* A was mapped to P all along. */
			if (!fault && s->value == OLD)
				old_before++;
			else if (i == last_before && late_ok)
				lagged++;
			else
				bad_before++;
		} else if (s->t_ns <= t_unmap) {
			/* During the UNMAP: P's marker, or a fault. */
			if (!fault && s->value != OLD && !(remap && i == last_upto))
				bad_during++;
		} else {
			after_valid++;
			after_fault += fault;
			after_old += !fault && s->value == OLD;
			after_new += !fault && s->value == NEW && s->t_ns > t_new;
		}
	}
	TH_LOG("try %d: %u samples (%llu valid), %llu reads (%llu valid), %llu clobbers",
	       try, w.r.nsamples, nvalid, w.r.reads, w.r.valid_reads, w.r.clobbers);
	TH_LOG("before: %llu OLD, %llu late; after: %llu valid, %llu faulted, %llu OLD, %llu NEW",
	       old_before, lagged, after_valid, after_fault, after_old, after_new);

	/*
	 * The test saw both periods, with the translation cached before: the
	 * read that set A's accessed bit was logged (the first read always
	 * is) before the UNMAP began.
	 */
	EXPECT_LE(1, old_before) TH_LOG("the reader never read OLD before the UNMAP");
	EXPECT_LE(1, after_valid) TH_LOG("no valid sample after the UNMAP");
	EXPECT_EQ(0, bad_before) TH_LOG("reads before the UNMAP did not see OLD");
	EXPECT_EQ(0, bad_during);
	if (skip) {
		/* No shootdown: CPU 1 must have kept the stale translation. */
		EXPECT_LE(1, after_old)
			TH_LOG("tlb_skip_remote set, yet no stale read seen");
	} else {
		EXPECT_EQ(0, after_old) TH_LOG("stale reads of OLD after the UNMAP returned");
		if (!remap) {
			EXPECT_EQ(after_valid, after_fault)
				TH_LOG("a read of the unmapped A did not fault");
		}
	}
	if (remap && !skip) {
		/* Once NEW is in place every valid read sees it. */
		EXPECT_EQ(0, count_not(&w, NEW, t_new, -1ULL, &nvalid));
		EXPECT_LE(1, nvalid) TH_LOG("no valid sample after NEW was written");
		EXPECT_LE(1, after_new);
	}

	/* P is still B's, with its data. */
	EXPECT_EQ(OLD, read_word(fd, VA_B));
	if (remap)
		EXPECT_EQ(NEW, read_word(fd, VA_A));
	ASSERT_EQ(0, ht_check(fd, &c));
	EXPECT_EQ(0, c.errors);

	ASSERT_EQ(0, stats_read(st1));
	TH_LOG("hs_shootdowns +%lld, hs_shootdowns_skipped +%lld, hs_cr3_clobbers +%lld",
	       st1[ST_SHOOT] - st0[ST_SHOOT], st1[ST_SKIPPED] - st0[ST_SKIPPED],
	       st1[ST_CLOBBERS] - st0[ST_CLOBBERS]);
	if (skip) {
		EXPECT_LE(1, st1[ST_SKIPPED] - st0[ST_SKIPPED]);
		EXPECT_EQ(0, st1[ST_SHOOT] - st0[ST_SHOOT]);
	} else {
		EXPECT_LE(1, st1[ST_SHOOT] - st0[ST_SHOOT]);
		EXPECT_EQ(0, st1[ST_SKIPPED] - st0[ST_SKIPPED]);
	}
	EXPECT_EQ(1, st1[ST_WINDOWS] - st0[ST_WINDOWS]);
	EXPECT_EQ(w.r.clobbers, st1[ST_CLOBBERS] - st0[ST_CLOBBERS]);
	EXPECT_EQ(0, st1[ST_WATCHDOG] - st0[ST_WATCHDOG]);
	free(w.s);
	close(fd);
	return 1;
}

static void stale_tlb(struct __test_metadata *_metadata, int ncpus, int remap,
		      int skip)
{
	int try, judged = 0;

	/* Every row of the matrix has 2 vCPUs or more: fewer is a failure. */
	ASSERT_LE(2, ncpus);
	ASSERT_EQ(0, pin_to(0));
	for (try = 1; try <= TRIES && !judged; try++)
		judged = stale_try(_metadata, ncpus, remap, skip, try);
	ASSERT_TRUE(judged) TH_LOG("in %d tries every window ended too soon", TRIES);
}

/* UNMAP of A: every valid read after it returned faults. */
TEST_F_TIMEOUT(tlb, stale_unmap, TLB_TIMEOUT)
{
	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	stale_tlb(_metadata, self->ncpus, 0, 0);
}

/* UNMAP of A, then A to a fresh page with NEW: OLD is never read again. */
TEST_F_TIMEOUT(tlb, stale_remap, TLB_TIMEOUT)
{
	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	stale_tlb(_metadata, self->ncpus, 1, 0);
}

/* The same with the remote shootdown skipped: a stale read must show. */
TEST_F_TIMEOUT(tlb, stale_unmap_skip_remote, TLB_TIMEOUT)
{
	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	stale_tlb(_metadata, self->ncpus, 0, 1);
}

TEST_F_TIMEOUT(tlb, stale_remap_skip_remote, TLB_TIMEOUT)
{
	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	stale_tlb(_metadata, self->ncpus, 1, 1);
}

/* First and last valid sample of @w, or 0 and 0. */
static void valid_span(const struct window *w, __u64 *first, __u64 *last)
{
	__u64 i;

	*first = 0;
	*last = 0;
	for (i = 0; i < w->r.nsamples; i++) {
		if (!(w->s[i].flags & HTABLE_SAMPLE_VALID))
			continue;
		if (!*first)
			*first = w->s[i].t_ns;
		*last = w->s[i].t_ns;
	}
}

/* One poll of both hats' INFO.live_cpus, and when it was taken. */
struct poll2 {
	__u64 t0, t1;
	__u64 live[2];
};

#define MAX_POLLS	8192

/*
 * One run of two_hats: window 0 (TWO_LONG_MS) is started, and window 1
 * (TWO_SHORT_MS) only once window 0 is seen running, so the two overlap
 * unless the host stalls the guest for most of window 0. The test polls
 * both hats' live_cpus meanwhile (with two CPUs only before and after
 * window 1, whose CPU the polling thread shares). Returns 1 when judged,
 * 0 when the windows did not overlap or no poll fell in their overlap
 * where one must (the run says nothing).
 */
static int two_hats_try(struct __test_metadata *_metadata, const int *fd,
			int ncpus, struct poll2 *poll, int try)
{
	const __u64 marker[2] = { 0x4841543030303030ULL, 0x4841543131313131ULL };
	__u64 nvalid[2], first[2], last[2], stray[2] = { 0, 0 }, lo, hi;
	__u64 both = 0, inside = 0, missed = 0;
	long long st0[NR_ST], st1[NR_ST];
	const __u32 ms[2] = { TWO_LONG_MS, TWO_SHORT_MS };
	int i, n = 0, started = 0, ret = 0, running = WAIT_TIMEOUT;
	struct window w[2];

	for (i = 0; i < 2; i++) {
		/* A clear, so that only this run's windows set it. */
		ASSERT_EQ(0, clear_accessed(fd[i], VA_A));
		ASSERT_EQ(0, pte_accessed(fd[i], VA_A));
	}
	ASSERT_EQ(0, stats_read(st0));
	ret = window_start(&w[0], fd[0], 0, VA_A, ms[0], HTABLE_MAX_SAMPLES);
	started += !ret;
	/* No ASSERT until the windows are joined. */
	if (started) {
		running = wait_running(fd[0], &w[0], WINDOW_WAIT_S);
		if (!running) {
			ret = window_start(&w[1], fd[1], 1, VA_A, ms[1],
					   HTABLE_MAX_SAMPLES);
			started += !ret;
		}
	}
	while (started == 2 && (!window_done(&w[0]) || !window_done(&w[1]))) {
		struct poll2 *p = &poll[n < MAX_POLLS ? n++ : n - 1];

		p->t0 = now_ns();
		p->live[0] = live_cpus(fd[0]);
		p->live[1] = live_cpus(fd[1]);
		p->t1 = now_ns();
		for (i = 0; i < 2; i++)
			if (p->live[i] & ~_BITULL(i))
				stray[i] = p->live[i];
		both += p->live[0] == _BITULL(0) && p->live[1] == _BITULL(1);
		usleep(2000);
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	ASSERT_EQ(0, ret) TH_LOG("starting window %d: %s", started, strerror(-ret));
	ASSERT_NE(WAIT_TIMEOUT, running)
		TH_LOG("window 0 not seen running in %.0f s", WINDOW_WAIT_S);
	for (i = 0; i < started; i++) {
		ASSERT_EQ(0, w[i].err) TH_LOG("RUN RESIDENT on CPU %d: %s", i,
					      strerror(-w[i].err));
		EXPECT_EQ(0, window_sane(&w[i], &nvalid[i]));
		EXPECT_EQ(0, count_not(&w[i], marker[i], 0, -1ULL, &nvalid[i]))
			TH_LOG("CPU %d read what is not its hat's marker", i);
		EXPECT_LE(1, nvalid[i]);
		EXPECT_EQ(0, stray[i]) TH_LOG("hat %d live_cpus %#llx", i, stray[i]);
		EXPECT_EQ(0, live_cpus(fd[i]));
		valid_span(&w[i], &first[i], &last[i]);
		TH_LOG("try %d: CPU %d: %u samples (%llu valid), clobbers %llu", try, i,
		       w[i].r.nsamples, nvalid[i], w[i].r.clobbers);
	}
	/* Window 1 began after window 0 was seen running. */
	lo = started == 2 ? first[1] : 0;
	hi = started == 2 ? (last[0] < last[1] ? last[0] : last[1]) : 0;
	if (started < 2 || !first[0] || lo >= hi) {
		TH_LOG("try %d: window 0 ended before window 1 %s; again", try,
		       started < 2 ? "was started" : "read");
		for (i = 0; i < started; i++)
			free(w[i].s);
		return 0;
	}
	EXPECT_LT(first[0], first[1]);
	/*
	 * A poll taken wholly inside the overlap must see both CPUs: each
	 * joins its hat's set before its first read and leaves it after its
	 * last.
	 */
	for (i = 0; i < n; i++) {
		if (poll[i].t0 < lo || poll[i].t1 > hi)
			continue;
		inside++;
		missed += poll[i].live[0] != _BITULL(0) || poll[i].live[1] != _BITULL(1);
	}
	TH_LOG("try %d: %d polls, %llu in the overlap (%llu ms), %llu saw both live",
	       try, n, inside, (hi - lo) / 1000000, both);
	EXPECT_EQ(0, missed) TH_LOG("%llu polls in the overlap missed a CPU", missed);
	if (ncpus >= 3 && !inside) {
		TH_LOG("try %d: no poll fell in the overlap; again", try);
		for (i = 0; i < 2; i++)
			free(w[i].s);
		return 0;
	}
	ASSERT_EQ(0, stats_read(st1));
	EXPECT_EQ(2, st1[ST_WINDOWS] - st0[ST_WINDOWS]);
	EXPECT_EQ(w[0].r.clobbers + w[1].r.clobbers, st1[ST_CLOBBERS] - st0[ST_CLOBBERS]);
	EXPECT_EQ(0, st1[ST_WATCHDOG] - st0[ST_WATCHDOG]);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(marker[i], read_word(fd[i], VA_A));
		free(w[i].s);
	}
	return 1;
}

/*
 * Two hats at the same va, each with its own marker, live at the same
 * time on CPUs 0 and 1: each window reads only its own hat's marker, and
 * each hat's live_cpus shows only its own CPU; with a third CPU to watch
 * from, every poll taken while both read shows both.
 */
TEST_F_TIMEOUT(tlb, two_hats, TLB_TIMEOUT)
{
	const __u64 marker[2] = { 0x4841543030303030ULL, 0x4841543131313131ULL };
	struct poll2 *poll;
	int fd[2], i, try, judged = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_LE(2, self->ncpus);
	poll = calloc(MAX_POLLS, sizeof(*poll));
	ASSERT_NE(NULL, poll);
	fd[0] = self->fd;
	fd[1] = htable_open_dev();
	ASSERT_LE(0, fd[1]);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, ht_map(fd[i], VA_A, 1, HTABLE_MAP_WRITE));
		ASSERT_EQ(0, write_word(fd[i], VA_A, marker[i]));
	}
	/*
	 * Watch from a third CPU when there is one. With two, stay off CPU 0
	 * so window 0 cannot keep this thread from starting window 1.
	 */
	ASSERT_EQ(0, pin_to(self->ncpus >= 3 ? 2 : 1));
	for (try = 1; try <= TRIES && !judged; try++)
		judged = two_hats_try(_metadata, fd, self->ncpus, poll, try);
	ASSERT_TRUE(judged) TH_LOG("in %d tries the windows never overlapped", TRIES);
	free(poll);
	close(fd[1]);
}

/*
 * close() of the hat's only fd while a window on it runs: the window
 * (which holds the file) ends normally, then the hat goes away with all
 * its tables.
 *
 * The window is seen running (its read set A's accessed bit, INFO shows
 * its CPU) before the close(). A window that took no sample after the
 * close() had ended by then (the host stalled the guest for about
 * WINDOW_MS): that run says nothing either way, and starts over.
 */
TEST_F_TIMEOUT(tlb, close_in_window, TLB_TIMEOUT)
{
	const __u64 marker = 0x434c4f5345444d4bULL;
	long long hats0, pt0, destroyed0, hats1 = -1, pt1 = -1;
	__u64 nvalid, after = 0, any_after = 0, t_close = 0;
	int f, try, waited;
	struct window w;
	double end;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_LE(2, self->ncpus);
	ASSERT_EQ(0, pin_to(0));
	for (try = 1; try <= TRIES; try++) {
		hats0 = stat_of("hats");
		pt0 = stat_of("active_ptables");
		destroyed0 = stat_of("hs_hats_destroyed");
		ASSERT_LE(0, hats0);
		ASSERT_LE(0, pt0);
		ASSERT_LE(0, destroyed0);
		f = htable_open_dev();
		ASSERT_LE(0, f);
		ASSERT_EQ(0, ht_map(f, VA_A, 1, HTABLE_MAP_WRITE));
		ASSERT_EQ(0, ht_map(f, VA_B, 600, HTABLE_MAP_WRITE));
		ASSERT_EQ(0, write_word(f, VA_A, marker));
		ASSERT_EQ(hats0 + 1, htable_stat("hats"));

		ASSERT_EQ(0, window_start(&w, f, 1, VA_A, WINDOW_MS,
					  HTABLE_MAX_SAMPLES));
		waited = wait_running(f, &w, WINDOW_WAIT_S);
		/* The window holds the file: this close() frees nothing yet. */
		close(f);
		t_close = now_ns();
		pthread_join(w.tid, NULL);

		ASSERT_EQ(0, w.err) TH_LOG("RUN RESIDENT after close: %s",
					   strerror(-w.err));
		ASSERT_NE(WAIT_TIMEOUT, waited)
			TH_LOG("window on CPU 1 not seen running in %.0f s", WINDOW_WAIT_S);
		EXPECT_EQ(0, window_sane(&w, &nvalid));
		EXPECT_EQ(0, count_not(&w, marker, 0, -1ULL, &nvalid));
		EXPECT_EQ(0, count_not(&w, marker, t_close, -1ULL, &after));
		any_after = samples_after(&w, t_close);
		TH_LOG("try %d: %u samples, %llu after close (%llu valid)",
		       try, w.r.nsamples, any_after, after);
		TH_LOG("%llu clobbers; close at +%llu ms of the RUN",
		       w.r.clobbers, (t_close - w.t_start) / 1000000);

		/* The hat is freed once the window let go of the file. */
		end = ht_now() + WINDOW_WAIT_S;
		do {
			hats1 = htable_stat("hats");
			pt1 = htable_stat("active_ptables");
			if (hats1 == hats0 && pt1 == pt0)
				break;
			usleep(10000);
		} while (ht_now() < end);
		EXPECT_EQ(hats0, hats1);
		EXPECT_EQ(pt0, pt1);
		EXPECT_EQ(destroyed0 + 1, htable_stat("hs_hats_destroyed"));
		free(w.s);
		if (!waited && any_after)
			break;
	}
	ASSERT_LT(0, any_after) TH_LOG("every window ended before close()");
	/* The window went on after the close, still reading through the hat. */
	EXPECT_LE(1, after) TH_LOG("no valid sample after close()");
}

/*
 * How long each window of the lazy-TLB test lasts, how many flush IPIs
 * must reach its CPU while it runs (a lazy CPU switches away at the
 * first), and how many lazy windows it may take to see a clobber.
 */
#define LAZY_WINDOW_MS	1000
#define LAZY_IPIS(lazy)	((lazy) ? 1 : 10)
#define LAZY_TRIES	3
#define MARK		0x595a414c4b52414dULL	/* "MARKLAZY" */

/*
 * Make this process's page tables come and go: map 8 MiB without
 * transparent huge pages, touch two 2 MiB-aligned pages in it, unmap it.
 * The unmap frees the two PTE tables, and a flush that frees tables goes to
 * every CPU in the mm's cpumask, lazy ones included
 * (native_flush_tlb_multi()); a lazy CPU answers it by switching to
 * init_mm. A huge page would need no PTE table, and its unmap would skip
 * lazy CPUs. Returns 0 or -errno.
 */
static int churn_page_tables(void)
{
	const size_t len = 8UL << 20, align = 2UL << 20;
	char *a, *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL) {
		munmap(p, len);
		return -errno;
	}
	a = (char *)(((uintptr_t)p + align - 1) & ~(align - 1));
	a[0] = 1;
	a[align] = 1;
	return munmap(p, len) ? -errno : 0;
}

/*
 * TLB-flush IPIs CPU @cpu has received, from the "TLB:" line of
 * /proc/interrupts (the kernel's irq_tlb_count), or -1.
 */
static long long tlb_ipis(int cpu)
{
	FILE *f = fopen("/proc/interrupts", "r");
	long long v = -1;
	char line[1024];

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "TLB:"), *end;
		int i;

		if (!p)
			continue;
		p += 4;
		for (i = 0; i <= cpu; i++, p = end) {
			v = strtoll(p, &end, 10);
			if (end == p) {
				v = -1;
				break;
			}
		}
		break;
	}
	if (f)
		fclose(f);
	return v;
}

/*
 * One RESIDENT window on CPU 1 reading MARK at VA_A, with window_lazy set
 * to @lazy, while this thread (on CPU 0) churns page tables of the same
 * mm. The window's caller runs on CPU 1 just before it, so without the
 * borrowed mm CPU 1 is lazy on this very mm. The churn starts once the
 * window is seen running. With the borrowed mm the run counts only if
 * LAZY_IPIS(0) flush IPIs reached CPU 1 while the window still ran (it
 * logged a sample after the test saw the last of them): they must all
 * have been done in place. Checks what must hold either way, puts the
 * window's clobbers in *@clobbers and returns 1, or returns 0 when the
 * run says nothing.
 */
static int lazy_window(struct __test_metadata *_metadata, int fd, int lazy,
		       int try, __u64 *clobbers)
{
	long long ipi0 = -1, ipi1, c0 = stat_of("hs_cr3_clobbers"), c1;
	__u64 i, nvalid, churns = 0, bad = 0, valid_after_invalid = 0, t_ipis = 0;
	int running, ret = 0, seen_invalid = 0;
	struct window w;

	*clobbers = 0;
	ASSERT_LE(0, c0);
	ASSERT_EQ(0, clear_accessed(fd, VA_A));
	ASSERT_EQ(0, pte_accessed(fd, VA_A));
	ASSERT_EQ(0, htable_knob_write(LAZY_PATH, lazy));
	ASSERT_EQ(0, window_start(&w, fd, 1, VA_A, LAZY_WINDOW_MS,
				  HTABLE_MAX_SAMPLES));
	/* No ASSERT until the window is joined. */
	running = wait_running(fd, &w, WINDOW_WAIT_S);
	if (!running)
		ipi0 = tlb_ipis(1);
	while (!running && !ret && ipi0 >= 0 && !window_done(&w)) {
		ret = churn_page_tables();
		churns++;
		if (!t_ipis && tlb_ipis(1) - ipi0 >= LAZY_IPIS(lazy))
			t_ipis = now_ns();
	}
	pthread_join(w.tid, NULL);
	htable_knob_write(LAZY_PATH, 0);
	ipi1 = tlb_ipis(1);

	ASSERT_EQ(0, w.err) TH_LOG("RUN RESIDENT on CPU 1: %s", strerror(-w.err));
	ASSERT_NE(WAIT_TIMEOUT, running)
		TH_LOG("window on CPU 1 not seen running in %.0f s", WINDOW_WAIT_S);
	EXPECT_EQ(0, ret) TH_LOG("mmap/munmap: %s", strerror(-ret));
	ASSERT_LE(0, ipi1);
	TH_LOG("try %d, lazy %d: %llu churns, %lld IPIs to CPU 1", try, lazy, churns,
	       ipi0 >= 0 ? ipi1 - ipi0 : 0);
	TH_LOG("try %d, lazy %d: %llu reads (%llu valid), %llu clobbers", try, lazy,
	       w.r.reads, w.r.valid_reads, w.r.clobbers);
	if (running || (!lazy && (!t_ipis || !samples_after(&w, t_ipis)))) {
		TH_LOG("try %d: the window ended before %d IPIs reached CPU 1 in it; again",
		       try, LAZY_IPIS(lazy));
		free(w.s);
		return 0;
	}
	EXPECT_EQ(0, window_sane(&w, &nvalid));
	for (i = 0; i < w.r.nsamples; i++) {
		const struct htable_sample *s = &w.s[i];

		if (!(s->flags & HTABLE_SAMPLE_VALID)) {
			seen_invalid = 1;
			continue;
		}
		/* Once CR3 was replaced, no later read may claim to be valid. */
		valid_after_invalid += seen_invalid;
		if ((s->flags & HTABLE_SAMPLE_FAULT) || s->value != MARK) {
			if (bad++ < 3)
				TH_LOG("valid sample %llu: value %#llx flags %#x",
				       i, s->value, s->flags);
		}
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, valid_after_invalid);
	/*
	 * The window ends live on the hat whatever happened: its last read
	 * went through the hat's tables and saw MARK. Were CR3 left at
	 * init_mm's after a clobber, that read would have faulted.
	 */
	if (w.r.nsamples) {
		EXPECT_EQ(0, w.s[w.r.nsamples - 1].flags & HTABLE_SAMPLE_FAULT);
		EXPECT_EQ(MARK, w.s[w.r.nsamples - 1].value);
	}
	/* The read that set A came before any clobber could (it is logged). */
	EXPECT_LE(1, nvalid) TH_LOG("no valid read before any clobber");
	if (w.r.clobbers)
		EXPECT_GT(w.r.reads, w.r.valid_reads)
			TH_LOG("reads after a clobber were counted valid");
	c1 = stat_of("hs_cr3_clobbers");
	EXPECT_EQ(w.r.clobbers, c1 - c0);
	*clobbers = w.r.clobbers;
	free(w.s);
	return 1;
}

/*
 * The kernel's lazy-TLB code replaces CR3 under a window whose CPU is
 * lazy, and the window notices, counts it, and reloads the hat. With the
 * borrowed mm (the default) the same flushes are done in place: no clobber.
 */
TEST_F_TIMEOUT(tlb, lazy_clobber, TLB_TIMEOUT)
{
	__u64 clobbers = 0, c = 0;
	struct htable_check chk;
	int t, judged = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	if (access(LAZY_PATH, F_OK))
		/* Such a kernel warns when a lazy switch finds CR3 changed. */
		SKIP(return, "needs:lazy %s absent: a CONFIG_DEBUG_VM kernel", LAZY_PATH);
	ASSERT_LE(2, self->ncpus);
	ASSERT_EQ(0, ht_map(self->fd, VA_A, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, write_word(self->fd, VA_A, MARK));
	ASSERT_EQ(0, pin_to(0));

	for (t = 1; t <= TRIES && !judged; t++)
		judged = lazy_window(_metadata, self->fd, 0, t, &c);
	ASSERT_TRUE(judged) TH_LOG("in %d tries no window got %d flush IPIs",
				   TRIES, LAZY_IPIS(0));
	EXPECT_EQ(0, c) TH_LOG("CR3 clobbered although the window borrowed the mm");
	/*
	 * A flush reaches CPU 1 only while it is in the mm's cpumask, and
	 * makes a clobber only if CPU 1 is lazy on that very mm then: a
	 * window whose caller's CPU went to another mm first gets no
	 * clobber, nor does one that ended before it was seen running.
	 */
	for (t = 1; t <= LAZY_TRIES && !clobbers; t++) {
		lazy_window(_metadata, self->fd, 1, t, &c);
		clobbers += c;
	}
	EXPECT_LE(1, clobbers)
		TH_LOG("no clobber in %d lazy windows under page-table churn", t - 1);
	ASSERT_EQ(0, ht_check(self->fd, &chk));
	EXPECT_EQ(0, chk.errors);
	EXPECT_EQ(0, live_cpus(self->fd));
}

TEST_HARNESS_MAIN
