// SPDX-License-Identifier: GPL-2.0
/*
 * SMP stress of stealing and reaping. Four threads, each with a hat of its
 * own and all sharing a fifth, do random MAP, UNMAP, PROBE, RELOAD and
 * CHECK for STRESS_SECONDS and until each has done its minimum count of
 * operations (short_of()); two of them also open RESIDENT windows on a
 * CPU, reading a page of their hat while the others change the world.
 * A fifth thread keeps steals and reaps going: every STEAL_PERIOD_MS it
 * toggles ptable_cap between active_ptables - 8 and 0, writes 2 to
 * /proc/sys/vm/drop_caches and 0 to the reap knob.
 *
 * Every ioctl must succeed or fail with an error the ABI documents for
 * the situation: ENOMEM for MAP and RELOAD only while the cap may have
 * been set, EEXIST and ENOENT exactly when the thread's own record of its
 * hat predicts them, and either on the shared hat. Each thread checks its
 * own hat against its record: a page it owns PROBEs as owned, present
 * with its flags and its first pfn or stolen (owned alone); a page it does
 * not own PROBEs as nothing. A window's reads that did not fault must
 * return what the thread wrote into the page (through RW) before the
 * window: a stolen table must never leave a CPU reading through a stale or
 * reused table.
 *
 * At the end every hat must be sound (CHECK), RELOAD of its whole window
 * must make every owned page present again, the shared hat must own what
 * the successful MAPs minus UNMAPs left, and once every hat is closed the
 * hat count and active_ptables are back where they started.
 * HTABLE_SEED=<seed> replays each thread's choices (not the interleaving).
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"
#include "htable_random.h"

#define STRESS_TIMEOUT	300
/*
 * The storm lasts STRESS_SECONDS and until every minimum below is met,
 * whichever is later, so that a slow host cannot shrink it; past
 * STRESS_LIMIT_S the minimums count as missed (a hang guard).
 */
#define STRESS_SECONDS	12.0
#define STRESS_LIMIT_S	150.0
#define MIN_OPS		250	/* each worker's operations */
#define MIN_OWN		10	/* each worker's own MAPs, UNMAPs and RELOADs */
#define MIN_WINDOWS	3	/* each windowed worker's windows */
#define MIN_CYCLES	8	/* the stealer's cap toggles (each also reaps) */
#define NWORKERS	4
#define NWINDOWED	2	/* workers that open resident windows */
#define WINDOW_MS	200
#define WINDOW_EVERY_S	1.5
#define MAX_SAMPLES	4096
#define STEAL_PERIOD_MS	500
#define MAX_BAD		10	/* a worker stops after this many failures */

#define KNOB_DIR		"/sys/kernel/debug/htable/"
#define PTABLE_CAP_PATH		KNOB_DIR "ptable_cap"
#define FORCE_STEAL_PATH	KNOB_DIR "force_steal"
#define STEAL_PASSES_PATH	KNOB_DIR "steal_passes"
#define DROP_CACHES_PATH	"/proc/sys/vm/drop_caches"
#define STEAL_PASSES_DEFAULT	8

/* Each worker's own hat: across a 1 GiB, a 2 MiB and a 512 GiB boundary. */
static const struct ht_seg own_window[] = {
	{ HT_SZ_1G - 512 * HT_PAGE_SIZE, 1024 },
	{ 5 * HT_SZ_2M - 512 * HT_PAGE_SIZE, 1024 },
	{ HT_SZ_512G - 256 * HT_PAGE_SIZE, 512 },
};

#define OWN_SEGS	ARRAY_SIZE(own_window)
#define SEG_MAX		1024

/* The shared hat: one segment across a 1 GiB boundary. */
static const struct ht_seg shared_window = { 3 * HT_SZ_1G - 256 * HT_PAGE_SIZE, 512 };

/* What a worker knows of one page of its own hat. */
struct slot {
	__u64 pfn;	/* first pfn PROBE showed; 0 until then */
	__u32 flags;	/* HTABLE_MAP_* it was mapped with */
	int owned;
};

struct worker {
	pthread_t tid;
	int idx;
	int fd;			/* its own hat */
	int shared_fd;
	int windowed;
	__u32 cpu;		/* where its windows run */
	__u64 rng;
	struct slot s[OWN_SEGS][SEG_MAX];
	struct htable_sample samples[MAX_SAMPLES];
	unsigned long ops, maps, map_eexist, map_enomem, unmaps, unmap_enoent;
	unsigned long probes, stolen_seen, reloads, reload_enomem, checks;
	unsigned long windows, window_reads, window_faults;
	unsigned long sh_maps, sh_eexist, sh_enomem, sh_unmaps, sh_enoent;
	__u64 reloaded, sh_mapped, sh_unmapped;
	int bad;
};

struct stealer {
	pthread_t tid;
	unsigned long cycles;
	int bad;
};

/*
 * The cap as the stealer sets it. Setting: cap_on = 1, cap_gen++, then the
 * knob. Clearing: the knob, then cap_on = 0, cap_gen++. So a call that
 * saw cap_gen unchanged across it and cap_on clear before it ran with no
 * cap; any other call may have met the cap.
 */
static int cap_on;
static unsigned int cap_gen;
static int stop;

struct capsnap {
	unsigned int gen;
	int on;
};

static struct capsnap cap_snap(void)
{
	struct capsnap s;

	s.gen = __atomic_load_n(&cap_gen, __ATOMIC_SEQ_CST);
	s.on = __atomic_load_n(&cap_on, __ATOMIC_SEQ_CST);
	return s;
}

/* May a call that started at @s have met the cap? */
static int cap_met(struct capsnap s)
{
	return s.on || s.gen != __atomic_load_n(&cap_gen, __ATOMIC_SEQ_CST);
}

static int stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_ACQUIRE);
}

/* Count one more of @c, which the test reads while the thread runs. */
static void bump(unsigned long *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

static unsigned long peek(const unsigned long *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Count a failure of @w; its index, for the message. */
static int fail_count(struct worker *w)
{
	__atomic_store_n(&w->bad, w->bad + 1, __ATOMIC_RELAXED);
	return w->idx;
}

/* Report a failure of worker @w, prefixed with "# worker N: ". */
#define fail(w, fmt, ...) \
	fprintf(stderr, "# worker %d: " fmt "\n", fail_count(w), ##__VA_ARGS__)

static __u64 rnd(struct worker *w, __u64 n)
{
	return ht_rand_below(&w->rng, n);
}

static __u64 seg_va(const struct ht_seg *seg, __u64 i)
{
	return seg->va + i * HT_PAGE_SIZE;
}

/*
 * Compare PROBE of a page of the worker's own hat with its record: owned
 * and present with the mapped flags and the first pfn seen, owned and
 * stolen, or not there at all. Returns 1 on a mismatch; *@present says
 * whether the page was present.
 */
static int probe_slot(struct worker *w, __u64 va, struct slot *sl, int *present)
{
	struct htable_probe p;
	__u32 want;
	int err;

	*present = 0;
	err = ht_probe(w->fd, va, &p);
	if (err) {
		fail(w, "PROBE %#llx: %s", va, strerror(-err));
		return 1;
	}
	if (!sl->owned) {
		if (p.flags) {
			fail(w, "PROBE %#llx: not mapped, but flags %#x", va, p.flags);
			return 1;
		}
		return 0;
	}
	if (!(p.flags & HTABLE_PROBE_PRESENT)) {
		if (p.flags != HTABLE_PROBE_OWNED || p.pfn || p.pte) {
			fail(w, "PROBE %#llx: owned page shows flags %#x pfn %#llx", va,
			     p.flags, p.pfn);
			return 1;
		}
		w->stolen_seen++;
		return 0;
	}
	*present = 1;
	want = ht_probe_flags(sl->flags);
	if ((p.flags & ~HT_PROBE_HW) != want || ht_probe_selfcheck(&p)) {
		fail(w, "PROBE %#llx: flags %#x, mapped %#x (PROBE %#x)", va, p.flags,
		     sl->flags, want);
		return 1;
	}
	if (!sl->pfn)
		sl->pfn = p.pfn;
	if (p.pfn != sl->pfn) {
		fail(w, "PROBE %#llx: pfn %#llx, was %#llx", va, p.pfn, sl->pfn);
		return 1;
	}
	return 0;
}

static void own_map(struct worker *w)
{
	static const __u32 fl[] = {
		HTABLE_MAP_WRITE, HTABLE_MAP_WRITE | HTABLE_MAP_EXEC, 0, HTABLE_MAP_EXEC,
	};
	int sg = rnd(w, OWN_SEGS), overlap = 0, ret, present;
	const struct ht_seg *seg = &own_window[sg];
	__u64 start = rnd(w, seg->npages), len = 1 + rnd(w, 64), i;
	__u32 flags = fl[rnd(w, ARRAY_SIZE(fl))];
	struct capsnap cs;

	if (start + len > seg->npages)
		len = seg->npages - start;
	if (!rnd(w, 20))
		flags |= HTABLE_MAP_LOCK;
	for (i = start; i < start + len; i++)
		overlap |= w->s[sg][i].owned;
	/* Predictable but noisy in the kernel log: meet a mapping only at times. */
	if (overlap && rnd(w, 8))
		return;
	cs = cap_snap();
	ret = ht_map(w->fd, seg_va(seg, start), len, flags);
	if (overlap) {
		if (ret != -EEXIST)
			fail(w, "MAP %#llx x %llu over a mapping: %s", seg_va(seg, start), len,
			     strerror(-ret));
		w->map_eexist++;
		return;
	}
	if (ret == -ENOMEM && cap_met(cs)) {
		/* Nothing changed: the range is still a hole. */
		w->map_enomem++;
		probe_slot(w, seg_va(seg, start), &w->s[sg][start], &present);
		return;
	}
	if (ret) {
		fail(w, "MAP %#llx x %llu flags %#x: %s%s", seg_va(seg, start), len, flags,
		     strerror(-ret), cs.on ? "" : " (no cap)");
		return;
	}
	for (i = start; i < start + len; i++) {
		w->s[sg][i].owned = 1;
		w->s[sg][i].flags = flags;
		w->s[sg][i].pfn = 0;
	}
	bump(&w->maps);
}

static void own_unmap(struct worker *w)
{
	int sg = rnd(w, OWN_SEGS), ret;
	const struct ht_seg *seg = &own_window[sg];
	__u64 start = rnd(w, seg->npages), max = 1 + rnd(w, 64), len, i;

	if (!w->s[sg][start].owned) {
		if (rnd(w, 8))
			return;
		/* A hole: ENOENT, and nothing changes. */
		ret = ht_unmap(w->fd, seg_va(seg, start), 1);
		if (ret != -ENOENT)
			fail(w, "UNMAP of the hole %#llx: %s", seg_va(seg, start), strerror(-ret));
		w->unmap_enoent++;
		return;
	}
	for (len = 1; len < max && start + len < seg->npages &&
	     w->s[sg][start + len].owned; len++)
		;
	ret = ht_unmap(w->fd, seg_va(seg, start), len);
	if (ret) {
		fail(w, "UNMAP %#llx x %llu: %s", seg_va(seg, start), len, strerror(-ret));
		return;
	}
	for (i = start; i < start + len; i++)
		memset(&w->s[sg][i], 0, sizeof(w->s[sg][i]));
	bump(&w->unmaps);
}

static void own_probe(struct worker *w)
{
	int sg = rnd(w, OWN_SEGS), present;
	__u64 i = rnd(w, own_window[sg].npages);

	probe_slot(w, seg_va(&own_window[sg], i) + rnd(w, HT_PAGE_SIZE), &w->s[sg][i],
		   &present);
	w->probes++;
}

static void own_reload(struct worker *w)
{
	int sg = rnd(w, OWN_SEGS), ret;
	const struct ht_seg *seg = &own_window[sg];
	__u64 start = rnd(w, seg->npages), len = 1 + rnd(w, 512), owned = 0, n, i;
	struct capsnap cs;

	if (start + len > seg->npages)
		len = seg->npages - start;
	cs = cap_snap();
	ret = ht_reload(w->fd, seg_va(seg, start), len, &n);
	if (ret == -ENOMEM && cap_met(cs)) {
		w->reload_enomem++;
		return;
	}
	if (ret) {
		fail(w, "RELOAD %#llx x %llu: %s", seg_va(seg, start), len, strerror(-ret));
		return;
	}
	for (i = start; i < start + len; i++)
		owned += w->s[sg][i].owned;
	if (n > owned)
		fail(w, "RELOAD %#llx x %llu rebuilt %llu of %llu owned pages",
		     seg_va(seg, start), len, n, owned);
	bump(&w->reloads);
	w->reloaded += n;
}

static void own_check(struct worker *w)
{
	struct htable_check c;
	int err = ht_check(w->fd, &c);

	if (err || c.errors)
		fail(w, "CHECK: %s, %llu errors, first %u at %#llx", strerror(-err),
		     err ? 0 : c.errors, err ? 0 : c.first_error, err ? 0 : c.first_va);
	w->checks++;
}

/*
 * A RESIDENT window on w->cpu reading the first word of an owned page,
 * into which the worker wrote a token through RW. While it runs, the
 * stealer and the other workers may steal the page's table: a read then
 * faults, but a read that does not fault must see the token.
 */
static void own_window_run(struct worker *w)
{
	int sg = rnd(w, OWN_SEGS), ret, k;
	__u64 i = rnd(w, own_window[sg].npages), token, va, n, bad_value = 0;
	unsigned long bad_samples = 0;
	struct htable_rw rw;
	struct htable_run r;
	unsigned int j;

	for (k = 0; k < SEG_MAX * (int)OWN_SEGS && !w->s[sg][i].owned; k++) {
		if (++i >= own_window[sg].npages) {
			i = 0;
			sg = (sg + 1) % OWN_SEGS;
		}
	}
	if (!w->s[sg][i].owned)
		return;
	va = seg_va(&own_window[sg], i);
	token = ht_rand(&w->rng) | 1;
	memset(&rw, 0, sizeof(rw));
	rw.va = va;
	rw.buf = (uintptr_t)&token;
	rw.len = sizeof(token);
	rw.flags = HTABLE_RW_WRITE;
	ret = ht_ioctl(w->fd, HTABLE_IOC_RW, &rw);
	if (ret) {
		fail(w, "RW write %#llx: %s", va, strerror(-ret));
		return;
	}
	ret = ht_reload(w->fd, va, 1, &n);
	if (ret && ret != -ENOMEM)
		fail(w, "RELOAD %#llx: %s", va, strerror(-ret));

	memset(&r, 0, sizeof(r));
	r.cpu = w->cpu;
	r.mode = HTABLE_RUN_RESIDENT;
	r.va = va;
	r.npages = 1;
	r.duration_ms = WINDOW_MS;
	r.samples = (uintptr_t)w->samples;
	r.max_samples = MAX_SAMPLES;
	ret = ht_ioctl(w->fd, HTABLE_IOC_RUN, &r);
	if (ret) {
		fail(w, "RUN RESIDENT %#llx on CPU %u: %s", va, w->cpu, strerror(-ret));
		return;
	}
	if (r.watchdog || r.nsamples > MAX_SAMPLES || !r.reads)
		fail(w, "RUN RESIDENT: watchdog %u, %u samples, %llu reads", r.watchdog,
		     r.nsamples, r.reads);
	for (j = 0; j < r.nsamples && j < MAX_SAMPLES; j++) {
		const struct htable_sample *s = &w->samples[j];

		if (s->flags & HTABLE_SAMPLE_FAULT) {
			w->window_faults++;
			if (s->value) {
				bad_samples++;
				bad_value = s->value;
			}
		} else if ((s->flags & HTABLE_SAMPLE_VALID) && s->value != token) {
			bad_samples++;
			bad_value = s->value;
		}
	}
	if (bad_samples)
		fail(w, "RUN RESIDENT %#llx: %lu samples read %#llx, wrote %#llx", va,
		     bad_samples, bad_value, token);
	bump(&w->windows);
	w->window_reads += r.reads;
}

/* One operation on the shared hat: only the documented outcomes. */
static void shared_op(struct worker *w)
{
	__u64 start = rnd(w, shared_window.npages), len = 1 + rnd(w, 8), va, n;
	unsigned int k = rnd(w, 100);
	struct htable_probe p;
	struct capsnap cs;
	int ret;

	if (start + len > shared_window.npages)
		len = shared_window.npages - start;
	va = seg_va(&shared_window, start);
	if (k < 35) {
		cs = cap_snap();
		ret = ht_map(w->shared_fd, va, len, HTABLE_MAP_WRITE);
		if (!ret) {
			w->sh_maps++;
			w->sh_mapped += len;
		} else if (ret == -EEXIST) {
			w->sh_eexist++;
		} else if (ret == -ENOMEM && cap_met(cs)) {
			w->sh_enomem++;
		} else {
			fail(w, "shared MAP %#llx x %llu: %s", va, len, strerror(-ret));
		}
	} else if (k < 70) {
		ret = ht_unmap(w->shared_fd, va, len);
		if (!ret) {
			w->sh_unmaps++;
			w->sh_unmapped += len;
		} else if (ret == -ENOENT) {
			w->sh_enoent++;
		} else {
			fail(w, "shared UNMAP %#llx x %llu: %s", va, len, strerror(-ret));
		}
	} else if (k < 90) {
		ret = ht_probe(w->shared_fd, va, &p);
		if (ret)
			fail(w, "shared PROBE %#llx: %s", va, strerror(-ret));
		else if ((p.flags & HTABLE_PROBE_PRESENT) &&
			 (!(p.flags & HTABLE_PROBE_OWNED) || ht_probe_selfcheck(&p)))
			fail(w, "shared PROBE %#llx: flags %#x", va, p.flags);
	} else {
		cs = cap_snap();
		ret = ht_reload(w->shared_fd, va, 8 * len, &n);
		if (ret && !(ret == -ENOMEM && cap_met(cs)))
			fail(w, "shared RELOAD %#llx: %s", va, strerror(-ret));
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	double next_window = ht_now() + 0.5 + w->idx;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int k;
	cpu_set_t set;

	/* Pinned: the workers spread over the CPUs, windows or not. */
	CPU_ZERO(&set);
	CPU_SET(w->idx % (ncpu > 0 ? ncpu : 1), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!stopping() && w->bad < MAX_BAD) {
		bump(&w->ops);
		if (w->windowed && ht_now() >= next_window) {
			own_window_run(w);
			next_window = ht_now() + WINDOW_EVERY_S;
			continue;
		}
		if (rnd(w, 100) < 30) {
			shared_op(w);
			continue;
		}
		k = rnd(w, 100);
		if (k < 30)
			own_map(w);
		else if (k < 50)
			own_unmap(w);
		else if (k < 80)
			own_probe(w);
		else if (k < 95)
			own_reload(w);
		else
			own_check(w);
	}
	return NULL;
}

static void *stealer_run(void *arg)
{
	struct stealer *st = arg;
	long long active;
	int ms;

	while (!stopping() && !st->bad) {
		if (!__atomic_load_n(&cap_on, __ATOMIC_SEQ_CST)) {
			active = htable_stat("active_ptables");
			__atomic_store_n(&cap_on, 1, __ATOMIC_SEQ_CST);
			__atomic_add_fetch(&cap_gen, 1, __ATOMIC_SEQ_CST);
			if (htable_knob_write(PTABLE_CAP_PATH, active > 9 ? active - 8 : 1))
				__atomic_store_n(&st->bad, 1, __ATOMIC_RELAXED);
		} else {
			if (htable_knob_write(PTABLE_CAP_PATH, 0))
				__atomic_store_n(&st->bad, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&cap_on, 0, __ATOMIC_SEQ_CST);
			__atomic_add_fetch(&cap_gen, 1, __ATOMIC_SEQ_CST);
		}
		/* drop_caches first: the shrinker then finds the cached tables. */
		if (htable_knob_write(DROP_CACHES_PATH, 2) ||
		    htable_knob_write(HTABLE_REAP_PATH, 0))
			__atomic_store_n(&st->bad, 1, __ATOMIC_RELAXED);
		bump(&st->cycles);
		for (ms = 0; ms < STEAL_PERIOD_MS && !stopping(); ms += 50)
			usleep(50 * 1000);
	}
	if (htable_knob_write(PTABLE_CAP_PATH, 0))
		st->bad++;
	__atomic_store_n(&cap_on, 0, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&cap_gen, 1, __ATOMIC_SEQ_CST);
	if (st->bad)
		fprintf(stderr, "# stealer: a knob write failed\n");
	return NULL;
}

FIXTURE(stress) {
	struct worker *w;
	int shared_fd;
	int err;
	long long hats0, active0;
};

FIXTURE_SETUP(stress)
{
	int i, fd;

	htable_knobs_reset();
	self->shared_fd = -1;
	self->w = calloc(NWORKERS, sizeof(*self->w));
	for (i = 0; self->w && i < NWORKERS; i++) {
		self->w[i].fd = -1;
		self->w[i].shared_fd = -1;
	}
	fd = htable_open_dev();
	self->err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	self->hats0 = htable_stat("hats");
	self->active0 = htable_stat("active_ptables");
}

FIXTURE_TEARDOWN(stress)
{
	int i;

	htable_knobs_reset();
	for (i = 0; self->w && i < NWORKERS; i++)
		if (self->w[i].fd >= 0)
			close(self->w[i].fd);
	if (self->shared_fd >= 0)
		close(self->shared_fd);
	free(self->w);
}

/*
 * After the storm, on a quiet system with no cap: each worker's hat is
 * sound, RELOAD of its window succeeds, and then every page it owns is
 * present with its flags and first pfn, and INFO counts exactly those.
 */
static int settle_own(struct worker *w)
{
	__u64 owned = 0, present_n = 0, i, n;
	struct htable_info info;
	int sg, bad = 0, present, err;

	err = ht_info(w->fd, &info);
	if (err)
		return 1;
	bad += ht_verify_check(w->fd, &info);
	for (sg = 0; sg < (int)OWN_SEGS; sg++) {
		err = ht_reload(w->fd, own_window[sg].va, own_window[sg].npages, &n);
		if (err) {
			fprintf(stderr, "# worker %d: final RELOAD: %s\n", w->idx, strerror(-err));
			bad++;
		}
	}
	for (sg = 0; sg < (int)OWN_SEGS && bad < 20; sg++) {
		for (i = 0; i < own_window[sg].npages && bad < 20; i++) {
			struct slot *sl = &w->s[sg][i];

			bad += probe_slot(w, seg_va(&own_window[sg], i), sl, &present);
			owned += sl->owned;
			present_n += present;
			if (sl->owned && !present) {
				fprintf(stderr, "# worker %d: %#llx not present after RELOAD\n",
					w->idx, seg_va(&own_window[sg], i));
				bad++;
			}
		}
	}
	if (ht_info(w->fd, &info))
		return bad + 1;
	if (info.owned_pages != owned || info.mapped_pages != owned) {
		fprintf(stderr, "# worker %d: INFO owned %llu mapped %llu; owns %llu\n",
			w->idx, info.owned_pages, info.mapped_pages, owned);
		bad++;
	}
	return bad + ht_verify_check(w->fd, &info);
}

/* The shared hat: sound, every owned page present after RELOAD, balanced. */
static int settle_shared(int fd, __u64 mapped, __u64 unmapped)
{
	struct htable_info info;
	struct htable_probe p;
	__u64 owned = 0, i, n;
	int bad = 0, err;

	if (ht_info(fd, &info))
		return 1;
	bad += ht_verify_check(fd, &info);
	err = ht_reload(fd, shared_window.va, shared_window.npages, &n);
	if (err) {
		fprintf(stderr, "# shared: final RELOAD: %s\n", strerror(-err));
		bad++;
	}
	for (i = 0; i < shared_window.npages && bad < 20; i++) {
		if (ht_probe(fd, seg_va(&shared_window, i), &p)) {
			bad++;
			continue;
		}
		if (!p.flags)
			continue;
		owned++;
		if ((p.flags & ~HT_PROBE_HW) != ht_probe_flags(HTABLE_MAP_WRITE) ||
		    ht_probe_selfcheck(&p)) {
			fprintf(stderr, "# shared: %#llx flags %#x after RELOAD\n",
				seg_va(&shared_window, i), p.flags);
			bad++;
		}
	}
	if (ht_info(fd, &info))
		return bad + 1;
	if (mapped - unmapped != owned || info.owned_pages != owned ||
	    info.mapped_pages != owned) {
		fprintf(stderr,
			"# shared: %llu pages mapped - %llu unmapped; %llu owned, INFO owned %llu mapped %llu\n",
			mapped, unmapped, owned, info.owned_pages, info.mapped_pages);
		bad++;
	}
	return bad + ht_verify_check(fd, &info);
}

/* 1 when @have is short of @min (then, with @say, printed), else 0. */
static int min_of(int say, const char *what, int idx, unsigned long have,
		  unsigned long min)
{
	if (have >= min)
		return 0;
	if (say && idx >= 0)
		fprintf(stderr, "# worker %d: %s %lu, want %lu\n", idx, what, have, min);
	else if (say)
		fprintf(stderr, "# %s %lu, want %lu\n", what, have, min);
	return 1;
}

/*
 * How many of the storm's minimums are not met yet: each worker's
 * operations, its own MAPs, UNMAPs and RELOADs, its windows; the
 * stealer's cycles; a steal and a reap since the start. With @say, each
 * one missed is printed.
 */
static int short_of(struct worker *ws, struct stealer *st, long long steals0,
		    long long reaps0, int say)
{
	int i, n = 0;

	for (i = 0; i < NWORKERS; i++) {
		struct worker *w = &ws[i];

		n += min_of(say, "ops", i, peek(&w->ops), MIN_OPS);
		n += min_of(say, "maps", i, peek(&w->maps), MIN_OWN);
		n += min_of(say, "unmaps", i, peek(&w->unmaps), MIN_OWN);
		n += min_of(say, "reloads", i, peek(&w->reloads), MIN_OWN);
		if (w->windowed)
			n += min_of(say, "windows", i, peek(&w->windows), MIN_WINDOWS);
	}
	n += min_of(say, "stealer cycles", -1, peek(&st->cycles), MIN_CYCLES);
	n += min_of(say, "steals", -1, htable_stat("hs_steals") - steals0, 1);
	n += min_of(say, "reap attempts", -1, htable_stat("hs_reap_attempts") - reaps0, 1);
	return n;
}

TEST_F_TIMEOUT(stress, steal_reap_storm, STRESS_TIMEOUT)
{
	long long steals0, reaps0, reaped0, enomem0, windows0;
	__u64 seed = ht_seed(), mapped = 0, unmapped = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct stealer st;
	int i, bad, started = 0, stealer_started;
	struct worker *w;
	double t0;

	if (htable_dev_missing(_metadata, self->err, self->err))
		return;
	ASSERT_NE(NULL, self->w);
	ASSERT_EQ(0, access(PTABLE_CAP_PATH, W_OK));
	ASSERT_EQ(0, access(HTABLE_REAP_PATH, W_OK));
	ASSERT_EQ(0, htable_knobs_reset());
	ASSERT_LE(0, self->hats0);
	ASSERT_LE(0, self->active0);
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx replays the choices), %ld CPUs", seed, seed, ncpu);

	self->shared_fd = htable_open_dev();
	ASSERT_LE(0, self->shared_fd);
	for (i = 0; i < NWORKERS; i++) {
		w = &self->w[i];
		w->idx = i;
		w->fd = htable_open_dev();
		ASSERT_LE(0, w->fd);
		w->shared_fd = self->shared_fd;
		w->windowed = i < NWINDOWED;
		w->cpu = ncpu > 1 ? 1 : 0;
		w->rng = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
		if (!w->rng)
			w->rng = 1;
	}
	steals0 = htable_stat("hs_steals");
	reaps0 = htable_stat("hs_reap_attempts");
	reaped0 = htable_stat("hs_reaped");
	enomem0 = htable_stat("hs_enomem");
	windows0 = htable_stat("hs_windows");

	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	memset(&st, 0, sizeof(st));
	for (i = 0; i < NWORKERS; i++) {
		if (pthread_create(&self->w[i].tid, NULL, worker_run, &self->w[i]))
			break;
		started++;
	}
	stealer_started = !pthread_create(&st.tid, NULL, stealer_run, &st);
	t0 = ht_now();
	while (started == NWORKERS && stealer_started && ht_now() < t0 + STRESS_LIMIT_S &&
	       (ht_now() < t0 + STRESS_SECONDS ||
		short_of(self->w, &st, steals0, reaps0, 0))) {
		usleep(100 * 1000);
		/* A worker that stopped on its failures makes no more. */
		for (i = 0; i < NWORKERS; i++)
			if (__atomic_load_n(&self->w[i].bad, __ATOMIC_RELAXED) >= MAX_BAD)
				break;
		if (i < NWORKERS || __atomic_load_n(&st.bad, __ATOMIC_RELAXED))
			break;
	}
	t0 = ht_now() - t0;
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < started; i++)
		pthread_join(self->w[i].tid, NULL);
	if (stealer_started)
		pthread_join(st.tid, NULL);
	ASSERT_EQ(NWORKERS, started);
	ASSERT_TRUE(stealer_started);
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, 0));
	TH_LOG("the storm lasted %.1f s", t0);
	EXPECT_EQ(0, short_of(self->w, &st, steals0, reaps0, 1))
		TH_LOG("the storm fell short of its minimums in %.0f s", STRESS_LIMIT_S);

	for (i = 0; i < NWORKERS; i++) {
		w = &self->w[i];
		TH_LOG("worker %d: %lu ops; own: %lu maps (%lu EEXIST, %lu ENOMEM)", i,
		       w->ops, w->maps, w->map_eexist, w->map_enomem);
		TH_LOG("worker %d: %lu unmaps (%lu ENOENT), %lu probes (%lu stolen seen)", i,
		       w->unmaps, w->unmap_enoent, w->probes, w->stolen_seen);
		TH_LOG("worker %d: %lu reloads (%llu pages, %lu ENOMEM), %lu checks", i,
		       w->reloads, w->reloaded, w->reload_enomem, w->checks);
		TH_LOG("worker %d: %lu windows (%lu reads, %lu faults)", i, w->windows,
		       w->window_reads, w->window_faults);
		TH_LOG("worker %d: shared %lu maps (%lu EEXIST, %lu ENOMEM)", i,
		       w->sh_maps, w->sh_eexist, w->sh_enomem);
		TH_LOG("worker %d: shared %lu unmaps (%lu ENOENT)", i, w->sh_unmaps,
		       w->sh_enoent);
		EXPECT_EQ(0, w->bad) TH_LOG("worker %d", i);
		EXPECT_LT(0, w->maps) TH_LOG("worker %d", i);
		EXPECT_TRUE(!w->windowed || w->windows) TH_LOG("worker %d opened no window", i);
		mapped += w->sh_mapped;
		unmapped += w->sh_unmapped;
	}
	TH_LOG("stealer: %lu cycles; %lld steals, %lld reaps (%lld tables)", st.cycles,
	       htable_stat("hs_steals") - steals0, htable_stat("hs_reap_attempts") - reaps0,
	       htable_stat("hs_reaped") - reaped0);
	TH_LOG("%lld ENOMEM, %lld windows", htable_stat("hs_enomem") - enomem0,
	       htable_stat("hs_windows") - windows0);
	EXPECT_EQ(0, st.bad);
	EXPECT_LT(steals0, htable_stat("hs_steals"));
	EXPECT_LT(reaps0, htable_stat("hs_reap_attempts"));

	for (i = 0; i < NWORKERS; i++) {
		bad = settle_own(&self->w[i]);
		EXPECT_EQ(0, bad) TH_LOG("worker %d's hat", i);
	}
	EXPECT_EQ(0, settle_shared(self->shared_fd, mapped, unmapped));

	for (i = 0; i < NWORKERS; i++) {
		close(self->w[i].fd);
		self->w[i].fd = -1;
	}
	close(self->shared_fd);
	self->shared_fd = -1;
	EXPECT_EQ(self->hats0, htable_stat("hats"));
	EXPECT_EQ(self->active0, htable_stat("active_ptables"));
}

TEST_HARNESS_MAIN
