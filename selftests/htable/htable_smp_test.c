// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency: threads and processes mapping, unmapping and probing at
 * once.
 *
 * On disjoint ranges (interleaved chunks, so the workers share page tables
 * at every level and create and free them under each other) each worker
 * predicts every result from its own model and must end exactly as that
 * model says; the union of the models must then match INFO and CHECK.
 * On overlapping ranges of one hat nothing can be predicted: every MAP must
 * succeed or fail with EEXIST (or ENOENT for an alias), every UNMAP succeed
 * or fail with ENOENT, and at the end CHECK must pass, INFO must match
 * PROBE of the whole window, and the pages mapped minus the pages unmapped
 * by the successful calls must equal what is mapped. There the model is
 * rebuilt from RW (which pages the hat records) and from the flags the
 * workers used (each blind MAP stays in a zone of 8 pages and uses the
 * zone's flags), never from PROBE, so INFO and PROBE are compared with
 * something they did not produce. The pages of the disjoint workers carry
 * tags, written through RW after each MAP, that name them.
 *
 * Every worker runs until it has done WORKER_MIN_OPS operations and then
 * until its time budget is spent or WORKER_MAX_OPS are done, so a slow host
 * costs time, not coverage; one that is still short of the minimum at the
 * hang guard fails. The seed is printed; HTABLE_SEED=<seed> reuses it
 * (thread interleaving is not replayed).
 */
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"
#include "htable_random.h"

#define SMP_TIMEOUT	300
#define NTHREADS	4
#define NPROCS		3
#define MAX_SEGS	64
#define WORKER_MIN_OPS	1000
#define WORKER_MAX_OPS	3000
#define BUDGET_S	6.0
/*
 * On a KASAN kernel a worker's WORKER_MIN_OPS take about 4 s: there the
 * minimum, not the clock, ends it.
 */
#define BUDGET_KASAN_S	2.0
/* Far beyond what the debug kernel needs for WORKER_MIN_OPS (about 4 s). */
#define GUARD_S		150.0
/* Blind workers keep ranges short, or nearly every MAP meets a mapping. */
#define BLIND_MAXLEN	8

struct worker {
	pthread_t tid;
	struct ht_hat h;	/* fd shared unless own_hat; model always own */
	struct ht_seg seg[MAX_SEGS];
	int nseg;
	int own_hat;
	int blind;
	__u64 seed;
	double deadline, guard;
	struct ht_rnd r;
	int bad;
};

/*
 * Is a worker that has done @ops operations done? Only once it has done
 * WORKER_MIN_OPS, and then when its time is up (@deadline) or it has
 * done @max. *@bad counts a worker still short of the minimum at @guard.
 */
static int worker_done(unsigned long ops, unsigned long max, double deadline,
		       double guard, int *bad)
{
	double now = ht_now();

	if (ops >= WORKER_MIN_OPS)
		return ops >= max || now >= deadline;
	if (now < guard)
		return 0;
	fprintf(stderr, "# worker: only %lu of %d operations in %.0f s\n",
		ops, WORKER_MIN_OPS, GUARD_S);
	(*bad)++;
	return 1;
}

/* A worker's deadline and hang guard, from now. */
static void worker_clock(double *deadline, double *guard)
{
	*deadline = ht_now() + (ht_kernel_has_kasan() ? BUDGET_KASAN_S : BUDGET_S);
	*guard = ht_now() + GUARD_S;
}

/* What a forked child reports through shared memory. */
struct child_report {
	int bad;
	unsigned long ops;
	__u64 pages_mapped;
	__u64 pages_unmapped;
};

FIXTURE(smp) {
	struct ht_hat h;
	int err;
	__u64 seed;
};

FIXTURE_SETUP(smp)
{
	self->err = -ht_hat_open(&self->h);
	self->seed = ht_seed();
}

FIXTURE_TEARDOWN(smp)
{
	ht_hat_close(&self->h);
}

/*
 * Worker @t of @n's share of @npages pages at @va: every chunk of @chunk
 * pages whose number is @t modulo @n.
 */
static int interleave(struct ht_seg *seg, __u64 va, __u64 npages, __u64 chunk,
		      int n, int t)
{
	int nseg = 0;
	__u64 c;

	for (c = t; c * chunk < npages && nseg < MAX_SEGS; c += n) {
		seg[nseg].va = va + c * chunk * HT_PAGE_SIZE;
		seg[nseg].npages = chunk;
		nseg++;
	}
	return nseg;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	if (w->own_hat && ht_hat_open(&w->h)) {
		fprintf(stderr, "# worker: open %s: %s\n", HTABLE_DEV_PATH, strerror(errno));
		w->bad = 1;
		return NULL;
	}
	ht_rnd_init(&w->r, &w->h, w->seg, w->nseg, w->seed);
	if (w->blind)
		w->r.maxlen = BLIND_MAXLEN;
	while (!worker_done(w->r.op, WORKER_MAX_OPS, w->deadline, w->guard, &w->bad)) {
		if (ht_rnd_op(&w->r, w->blind)) {
			fprintf(stderr, "# worker seed %#llx diverged at op %lu\n",
				w->seed, w->r.op - 1);
			w->bad++;
			return NULL;
		}
	}
	if (w->blind || w->bad)
		return NULL;
	/* Its own pages, as its model says; all of its hat if it has one. */
	if (w->own_hat) {
		w->bad += ht_rnd_verify(&w->r);
		return NULL;
	}
	w->bad += ht_rnd_probe_all(&w->r);
	for (int i = 0; i < w->nseg; i++)
		w->bad += ht_verify_tags(w->h.fd, &w->h.m, w->seg[i].va, w->seg[i].npages, 1);
	return NULL;
}

/* Start @n workers; returns how many started. */
static int start_workers(struct worker *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (pthread_create(&w[i].tid, NULL, worker_run, &w[i]))
			break;
	return i;
}

/* Join the workers: the sum of their mismatches. */
static int join_workers(struct worker *w, int n)
{
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		bad += w[i].bad;
	}
	return bad;
}

/*
 * @n workers on disjoint interleaved chunks of one hat (@h). Each checks
 * its own pages; then the union of their models must match INFO and CHECK.
 * Returns mismatches. Used by threads of the test and of forked children.
 */
static int run_disjoint(struct ht_hat *h, struct worker *w, int n, __u64 va,
			__u64 npages, __u64 chunk, __u64 seed)
{
	struct ht_model all = { 0 };
	int i, started, bad;
	unsigned long ops = 0;

	for (i = 0; i < n; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].h.fd = h->fd;
		w[i].h.levels = h->levels;
		w[i].h.limit = h->limit;
		w[i].nseg = interleave(w[i].seg, va, npages, chunk, n, i);
		w[i].seed = seed + i * 0x9e3779b97f4a7c15ULL;
		worker_clock(&w[i].deadline, &w[i].guard);
	}
	started = start_workers(w, n);
	bad = join_workers(w, started) + (started != n);
	for (i = 0; i < started; i++) {
		ops += w[i].r.op;
		if (ht_model_merge(&all, &w[i].h.m))
			bad++;
		ht_model_free(&w[i].h.m);
	}
	/* The union of the models, and every page's tag. */
	if (!bad)
		bad += ht_verify_info(h->fd, &all, h->levels, NULL) +
		       ht_verify_tags(h->fd, &all, 0, h->limit >> HT_PAGE_SHIFT, 1);
	fprintf(stderr, "# %d workers (seed %#llx) on %llu-page chunks: %lu ops, %zu pages left\n",
		n, seed, chunk, ops, all.n);
	/* Leave the hat empty. */
	for (i = 0; i < (int)all.n && !bad; i++)
		if (ht_unmap(h->fd, all.pg[i].va, 1))
			bad++;
	ht_model_free(&all);
	return bad;
}

/*
 * After blind workers: the model is rebuilt from RW, which reads the
 * hat's record of its pages and not its tables, and from the zone flags
 * every blind MAP used. INFO (tables by the table rule, locked pages)
 * must match it, CHECK must pass, PROBE of every page of the window must
 * show exactly its pages with their zone's flags, and the pages left
 * must be those mapped minus those unmapped. Then everything is
 * unmapped. Returns mismatches.
 */
static int settle_blind(struct ht_hat *h, const struct ht_seg *seg, int nseg,
			__u64 mapped, __u64 unmapped)
{
	struct htable_info info;
	struct ht_rnd r;
	int bad;

	ht_rnd_init(&r, h, seg, nseg, 1);
	bad = ht_rnd_model_from_rw(&r);
	bad += ht_verify_info(h->fd, &h->m, h->levels, &info);
	bad += ht_rnd_probe_all(&r);
	if (mapped - unmapped != h->m.n || info.mapped_pages != h->m.n) {
		fprintf(stderr, "# %llu pages mapped - %llu unmapped != %zu present (INFO %llu)\n",
			mapped, unmapped, h->m.n, info.mapped_pages);
		bad++;
	}
	fprintf(stderr, "# %llu pages mapped, %llu unmapped, %zu left\n",
		mapped, unmapped, h->m.n);
	while (h->m.n && !bad)
		bad += ht_rnd_clear(&r);
	if (!bad)
		bad += ht_verify_info(h->fd, &h->m, h->levels, NULL);
	return bad;
}

/*
 * INFO and CHECK while the hat changes under them: they must not fail.
 * CHECK's verdict on a hat in motion is only logged (the ABI does not
 * promise a snapshot); the row's kernel-log check catches worse.
 */
struct watcher {
	pthread_t tid;
	int fd;
	int stop;		/* set (atomically) when the workers are done */
	unsigned long rounds;
	unsigned long dirty;	/* CHECKs that reported errors */
	int bad;
};

static void *watcher_run(void *arg)
{
	struct watcher *wa = arg;
	struct htable_info info;
	struct htable_check c;

	while (!__atomic_load_n(&wa->stop, __ATOMIC_ACQUIRE)) {
		if (ht_info(wa->fd, &info) || ht_check(wa->fd, &c)) {
			fprintf(stderr, "# INFO or CHECK failed: %s\n", strerror(errno));
			wa->bad++;
			break;
		}
		wa->dirty += !!c.errors;
		wa->rounds++;
	}
	return NULL;
}

/* The window the overlapping tests share: 1 GiB and 2 MiB boundaries. */
static const struct ht_seg overlap_window[] = {
	{ HT_SZ_1G - 512 * HT_PAGE_SIZE, 1024 },
	{ 3 * HT_SZ_512G + 3 * HT_SZ_2M - 256 * HT_PAGE_SIZE, 512 },
};

/* Threads of one process on one hat, disjoint chunks of 64 pages. */
TEST_F_TIMEOUT(smp, threads_disjoint_small_chunks, SMP_TIMEOUT)
{
	struct worker w[NTHREADS];

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	ASSERT_EQ(0, run_disjoint(&self->h, w, NTHREADS,
				  HT_SZ_1G - 2048 * HT_PAGE_SIZE, 4096, 64, self->seed));
	ASSERT_EQ(0, ht_verify_info(self->h.fd, &self->h.m, self->h.levels, NULL));
}

/* The same with whole PTE tables (512 pages) per chunk, across 512 GiB. */
TEST_F_TIMEOUT(smp, threads_disjoint_table_chunks, SMP_TIMEOUT)
{
	struct worker w[NTHREADS];

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	ASSERT_EQ(0, run_disjoint(&self->h, w, NTHREADS,
				  3 * HT_SZ_512G - 4096 * HT_PAGE_SIZE, 8192, 512, self->seed));
	ASSERT_EQ(0, ht_verify_info(self->h.fd, &self->h.m, self->h.levels, NULL));
}

/* Threads each with its own hat, all on the same addresses. */
TEST_F_TIMEOUT(smp, threads_own_hats, SMP_TIMEOUT)
{
	struct ht_seg seg = { HT_SZ_1G - 1024 * HT_PAGE_SIZE, 2048 };
	struct worker w[NTHREADS];
	long long hats0;
	int i, started;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	hats0 = htable_stat("hats");
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].own_hat = 1;
		w[i].seg[0] = seg;
		w[i].nseg = 1;
		w[i].seed = self->seed + i;
		worker_clock(&w[i].deadline, &w[i].guard);
	}
	started = start_workers(w, NTHREADS);
	EXPECT_EQ(NTHREADS, started);
	EXPECT_EQ(0, join_workers(w, started));
	for (i = 0; i < started; i++)
		TH_LOG("thread %d: %lu ops", i, w[i].r.op);
	EXPECT_EQ(hats0 + started, htable_stat("hats"));
	for (i = 0; i < started; i++)
		ht_hat_close(&w[i].h);
	EXPECT_EQ(hats0, htable_stat("hats"));
	/* The fixture's hat saw none of it. */
	ASSERT_EQ(0, ht_verify_info(self->h.fd, &self->h.m, self->h.levels, NULL));
}

/*
 * Forked processes, each with its own hat worked on by two threads on
 * disjoint chunks. Afterwards the open hats and the page-table pages are
 * back to where they were.
 */
TEST_F_TIMEOUT(smp, processes_own_hats, SMP_TIMEOUT)
{
	long long hats0, active0;
	pid_t pid[NPROCS];
	int i, status;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	hats0 = htable_stat("hats");
	active0 = htable_stat("active_ptables");
	ASSERT_LE(1, hats0);
	ASSERT_LE(1, active0);
	for (i = 0; i < NPROCS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i]) {
			struct worker cw[2];
			struct ht_hat h;
			int bad;

			close(self->h.fd);
			if (ht_hat_open(&h))
				_exit(2);
			bad = run_disjoint(&h, cw, 2, 5 * HT_SZ_1G - 1024 * HT_PAGE_SIZE,
					   2048, 128, self->seed + 1000 * i);
			ht_hat_close(&h);
			_exit(bad ? 1 : 0);
		}
	}
	for (i = 0; i < NPROCS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child %d", i);
	}
	EXPECT_EQ(hats0, htable_stat("hats"));
	EXPECT_EQ(active0, htable_stat("active_ptables"));
}

/*
 * Threads of one process on the same pages of one hat, with another
 * thread running INFO and CHECK throughout.
 */
TEST_F_TIMEOUT(smp, threads_overlapping, SMP_TIMEOUT)
{
	struct worker w[NTHREADS];
	struct watcher wa;
	__u64 mapped = 0, unmapped = 0;
	int i, started;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].h = self->h;
		w[i].blind = 1;
		memcpy(w[i].seg, overlap_window, sizeof(overlap_window));
		w[i].nseg = ARRAY_SIZE(overlap_window);
		w[i].seed = self->seed + i;
		worker_clock(&w[i].deadline, &w[i].guard);
	}
	memset(&wa, 0, sizeof(wa));
	wa.fd = self->h.fd;
	ASSERT_EQ(0, pthread_create(&wa.tid, NULL, watcher_run, &wa));
	started = start_workers(w, NTHREADS);
	EXPECT_EQ(NTHREADS, started);
	EXPECT_EQ(0, join_workers(w, started));
	__atomic_store_n(&wa.stop, 1, __ATOMIC_RELEASE);
	pthread_join(wa.tid, NULL);
	EXPECT_EQ(0, wa.bad);
	TH_LOG("concurrent INFO+CHECK: %lu rounds, %lu CHECKs saw errors",
	       wa.rounds, wa.dirty);
	/* CHECK claims the whole hat: it never sees a MAP half done. */
	EXPECT_EQ(0, wa.dirty);
	for (i = 0; i < started; i++) {
		mapped += w[i].r.pages_mapped;
		unmapped += w[i].r.pages_unmapped;
		TH_LOG("thread %d: %lu ops, %lu maps, %lu EEXIST, %lu unmaps, %lu ENOENT",
		       i, w[i].r.op, w[i].r.maps, w[i].r.map_eexist, w[i].r.unmaps,
		       w[i].r.unmap_enoent);
	}
	ASSERT_EQ(0, settle_blind(&self->h, overlap_window, ARRAY_SIZE(overlap_window),
				  mapped, unmapped));
}

/*
 * Forked processes on the hat they inherited (one open file, so one hat),
 * all on the same pages; the hat outlives the children's copies of the fd.
 */
TEST_F_TIMEOUT(smp, processes_shared_hat_overlapping, SMP_TIMEOUT)
{
	struct child_report *rep;
	__u64 mapped = 0, unmapped = 0;
	long long hats0;
	pid_t pid[NPROCS];
	int i, status;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	hats0 = htable_stat("hats");
	rep = mmap(NULL, NPROCS * sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rep);
	memset(rep, 0, NPROCS * sizeof(*rep));
	for (i = 0; i < NPROCS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i]) {
			double deadline, guard;
			struct ht_rnd r;

			worker_clock(&deadline, &guard);
			ht_rnd_init(&r, &self->h, overlap_window,
				    ARRAY_SIZE(overlap_window), self->seed + 77 * i);
			r.maxlen = BLIND_MAXLEN;
			while (!rep[i].bad &&
			       !worker_done(r.op, WORKER_MAX_OPS, deadline, guard, &rep[i].bad))
				rep[i].bad += ht_rnd_op(&r, 1);
			rep[i].ops = r.op;
			rep[i].pages_mapped = r.pages_mapped;
			rep[i].pages_unmapped = r.pages_unmapped;
			close(self->h.fd);
			_exit(0);
		}
	}
	for (i = 0; i < NPROCS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
		EXPECT_EQ(0, rep[i].bad) TH_LOG("child %d", i);
		mapped += rep[i].pages_mapped;
		unmapped += rep[i].pages_unmapped;
		TH_LOG("child %d: %lu ops", i, rep[i].ops);
	}
	munmap(rep, NPROCS * sizeof(*rep));
	/* Still one hat, still open here. */
	EXPECT_EQ(hats0, htable_stat("hats"));
	ASSERT_EQ(0, settle_blind(&self->h, overlap_window, ARRAY_SIZE(overlap_window),
				  mapped, unmapped));
}

/*
 * Threads on disjoint chunks and threads on one overlapping window of the
 * same hat at once: the disjoint ones must still get exactly what their
 * models predict.
 */
TEST_F_TIMEOUT(smp, threads_mixed, SMP_TIMEOUT)
{
	struct worker w[NTHREADS];
	__u64 mapped = 0, unmapped = 0;
	struct ht_model all = { 0 };
	int i, started, half = NTHREADS / 2;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].h.fd = self->h.fd;
		w[i].h.levels = self->h.levels;
		w[i].h.limit = self->h.limit;
		w[i].seed = self->seed + i;
		worker_clock(&w[i].deadline, &w[i].guard);
		if (i < half) {
			/* Same 1 GiB table as the blind window, other pages. */
			w[i].nseg = interleave(w[i].seg, HT_SZ_1G + 512 * HT_PAGE_SIZE,
					       2048, 32, half, i);
		} else {
			w[i].blind = 1;
			w[i].seg[0] = overlap_window[0];
			w[i].nseg = 1;
		}
	}
	started = start_workers(w, NTHREADS);
	ASSERT_EQ(NTHREADS, started);
	ASSERT_EQ(0, join_workers(w, started));
	for (i = 0; i < NTHREADS; i++)
		TH_LOG("thread %d (%s): %lu ops", i, w[i].blind ? "blind" : "own chunks",
		       w[i].r.op);
	for (i = half; i < NTHREADS; i++) {
		mapped += w[i].r.pages_mapped;
		unmapped += w[i].r.pages_unmapped;
	}
	/* The disjoint workers' pages, then the blind window's, must add up. */
	for (i = 0; i < half; i++) {
		ASSERT_EQ(0, ht_model_merge(&all, &w[i].h.m));
		ht_model_free(&w[i].h.m);
	}
	for (i = 0; i < (int)all.n; i++)
		ASSERT_EQ(0, ht_unmap(self->h.fd, all.pg[i].va, 1));
	ht_model_free(&all);
	ASSERT_EQ(0, settle_blind(&self->h, overlap_window, 1, mapped, unmapped));
}

/*
 * Range claims: a call holds only its own range of a hat. An RW into page
 * P copies from a user buffer on a userfaultfd page, so it stops inside
 * the kernel, holding its claim to read P, until the test resolves the
 * fault. Meanwhile MAP and UNMAP elsewhere in the same tables must
 * complete (with MAP and UNMAP serialized on the hat they would wait for
 * the RW), and so must a PROBE of P's neighbour and an ALIAS map of P,
 * which only reads P. An UNMAP of P must wait for the RW to let go of P
 * (else it would free the page under the copy).
 */
#define CLAIM_VA	(HT_SZ_1G + 7 * HT_SZ_2M)
#define CLAIM_WAIT_S	30.0
#define CLAIM_MARK	0x4d49414c43414d50ULL	/* "PMACLAIM" */

struct claim_call {
	pthread_t tid;
	int fd;
	int what;		/* 0: RW into P from buf; 1: others; 2: UNMAP P */
	void *buf;
	int err;
	int done;		/* set (atomically) when the call returned */
	double t_done;
};

static void *claim_run(void *arg)
{
	struct claim_call *c = arg;
	struct htable_rw rw = {
		.va = CLAIM_VA,
		.buf = (uintptr_t)c->buf,
		.len = sizeof(__u64),
		.flags = HTABLE_RW_WRITE,
	};
	const __u64 other[] = {
		CLAIM_VA + HT_PAGE_SIZE,	/* P's own leaf table */
		CLAIM_VA + HT_SZ_2M,		/* P's 1 GiB table */
		CLAIM_VA + HT_SZ_512G,		/* only the top table */
	};
	struct htable_probe p;
	unsigned int i;

	switch (c->what) {
	case 0:
		c->err = ht_ioctl(c->fd, HTABLE_IOC_RW, &rw);
		break;
	case 1:
		for (i = 0; i < ARRAY_SIZE(other) && !c->err; i++) {
			c->err = ht_map(c->fd, other[i], 3, HTABLE_MAP_WRITE);
			if (!c->err)
				c->err = ht_unmap(c->fd, other[i], 3);
		}
		if (!c->err)
			c->err = ht_probe(c->fd, CLAIM_VA + HT_PAGE_SIZE, &p);
		if (!c->err && p.flags)
			c->err = -EEXIST;
		if (!c->err)
			c->err = ht_map_alias(c->fd, other[0], 2, HTABLE_MAP_ALIAS,
					      CLAIM_VA, 1);
		if (!c->err)
			c->err = ht_unmap(c->fd, other[0], 2);
		break;
	default:
		c->err = ht_unmap(c->fd, CLAIM_VA, 1);
		break;
	}
	c->t_done = ht_now();
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Wait up to @s seconds for @c to return: 1 when it did. */
static int claim_wait(struct claim_call *c, double s)
{
	double end = ht_now() + s;

	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE) && ht_now() < end)
		usleep(1000);
	return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
}

TEST_F_TIMEOUT(smp, claims_hold_only_their_range, SMP_TIMEOUT)
{
	struct claim_call rw = { 0 }, others = { 0 }, unmap = { 0 };
	__u64 src[HT_PAGE_SIZE / sizeof(__u64)] = { CLAIM_MARK };
	struct pollfd pfd = { .events = POLLIN };
	struct uffdio_copy copy = { 0 };
	struct uffd_msg msg;
	struct htable_probe p;
	void *page = NULL;
	double t_resolve;
	int uffd;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	uffd = ht_uffd_page(&page);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(-uffd));
	ASSERT_EQ(0, ht_map(self->h.fd, CLAIM_VA, 1, HTABLE_MAP_WRITE));

	/* The RW stops in the kernel, on the missing page, holding P. */
	rw.fd = self->h.fd;
	rw.buf = page;
	ASSERT_EQ(0, pthread_create(&rw.tid, NULL, claim_run, &rw));
	pfd.fd = uffd;
	ASSERT_EQ(1, poll(&pfd, 1, CLAIM_WAIT_S * 1000));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	/* Elsewhere, MAP and UNMAP go on. */
	others.fd = self->h.fd;
	others.what = 1;
	ASSERT_EQ(0, pthread_create(&others.tid, NULL, claim_run, &others));
	EXPECT_EQ(1, claim_wait(&others, CLAIM_WAIT_S))
		TH_LOG("MAP, UNMAP or PROBE elsewhere, or an ALIAS of P, waited for an RW of P");

	/* An UNMAP of P waits for the RW. */
	unmap.fd = self->h.fd;
	unmap.what = 2;
	ASSERT_EQ(0, pthread_create(&unmap.tid, NULL, claim_run, &unmap));
	usleep(300000);
	EXPECT_EQ(0, __atomic_load_n(&unmap.done, __ATOMIC_ACQUIRE))
		TH_LOG("an UNMAP of P went through an RW of P");
	EXPECT_EQ(0, __atomic_load_n(&rw.done, __ATOMIC_ACQUIRE));

	/* Resolve the fault: the RW copies the marker, then the UNMAP goes. */
	copy.dst = (uintptr_t)page;
	copy.src = (uintptr_t)src;
	copy.len = HT_PAGE_SIZE;
	t_resolve = ht_now();
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	pthread_join(rw.tid, NULL);
	pthread_join(others.tid, NULL);
	pthread_join(unmap.tid, NULL);
	EXPECT_EQ(0, rw.err);
	EXPECT_EQ(0, others.err);
	EXPECT_EQ(0, unmap.err);
	EXPECT_LT(t_resolve, unmap.t_done);
	ASSERT_EQ(0, ht_probe(self->h.fd, CLAIM_VA, &p));
	EXPECT_EQ(0, p.flags & (HTABLE_PROBE_PRESENT | HTABLE_PROBE_OWNED));
	close(uffd);
	munmap(page, HT_PAGE_SIZE);
}

/*
 * Large pages and 4 KiB pages from several threads over the same few
 * 2 MiB regions: MAP 2 MiB, MAP runs of 4 KiB, UNMAP any part (a split
 * when it cuts a large page), PROBE, while a watcher CHECKs. Every call
 * must succeed or fail with the errno of a conflict; CHECK must always be
 * clean; and at the end the pages mapped minus those unmapped by the
 * successful calls must be what PROBE and INFO show.
 */
#define LP_REGIONS	4
#define LP_VA		(2 * HT_SZ_1G)
#define LP_PAGES	(LP_REGIONS * 512)
#define LP_MAX_OPS	10000

struct lp_worker {
	pthread_t tid;
	int fd;
	__u64 seed;
	double deadline, guard;
	__u64 mapped, unmapped;
	unsigned long ops, splits_tried;
	int bad;
};

static __u64 lp_next(__u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *lp_run(void *arg)
{
	struct lp_worker *w = arg;
	__u64 x = w->seed | 1, r, first, n;
	struct htable_probe p;
	int err;

	while (!w->bad && !worker_done(w->ops, LP_MAX_OPS, w->deadline, w->guard, &w->bad)) {
		r = lp_next(&x);
		first = r % LP_PAGES;
		switch ((r >> 32) % 4) {
		case 0:		/* a 2 MiB page */
			first &= ~511ULL;
			err = ht_map(w->fd, LP_VA + first * HT_PAGE_SIZE, 512,
				     HTABLE_MAP_WRITE | HTABLE_MAP_2M);
			if (!err)
				w->mapped += 512;
			else if (err != -EEXIST && err != -ENOTEMPTY)
				w->bad++;
			break;
		case 1:		/* a run of 4 KiB pages */
			n = 1 + (r >> 40) % 16;
			n = first + n > LP_PAGES ? LP_PAGES - first : n;
			err = ht_map(w->fd, LP_VA + first * HT_PAGE_SIZE, n, 0);
			if (!err)
				w->mapped += n;
			else if (err != -EEXIST && err != -EBUSY)
				w->bad++;
			break;
		case 2:		/* any part: may split a large page */
			n = 1 + (r >> 40) % 600;
			n = first + n > LP_PAGES ? LP_PAGES - first : n;
			w->splits_tried += (first % 512) || ((first + n) % 512);
			err = ht_unmap(w->fd, LP_VA + first * HT_PAGE_SIZE, n);
			if (!err)
				w->unmapped += n;
			else if (err != -ENOENT)
				w->bad++;
			break;
		default:
			err = ht_probe(w->fd, LP_VA + first * HT_PAGE_SIZE, &p);
			if (err)
				w->bad++;
			break;
		}
		if (w->bad)
			fprintf(stderr, "# lp worker: op %lu (%llu) at page %llu: %s\n",
				w->ops, (r >> 32) % 4, first, strerror(-err));
		w->ops++;
	}
	return NULL;
}

TEST_F_TIMEOUT(smp, threads_large_pages, SMP_TIMEOUT)
{
	__u64 present = 0, mapped = 0, unmapped = 0, i;
	struct lp_worker w[NTHREADS];
	struct htable_info info;
	struct htable_probe p;
	struct watcher wa;
	int t, started;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	memset(w, 0, sizeof(w));
	memset(&wa, 0, sizeof(wa));
	wa.fd = self->h.fd;
	ASSERT_EQ(0, pthread_create(&wa.tid, NULL, watcher_run, &wa));
	for (t = 0; t < NTHREADS; t++) {
		w[t].fd = self->h.fd;
		w[t].seed = self->seed + t * 0x9e3779b97f4a7c15ULL;
		worker_clock(&w[t].deadline, &w[t].guard);
		if (pthread_create(&w[t].tid, NULL, lp_run, &w[t]))
			break;
	}
	started = t;
	for (t = 0; t < started; t++) {
		pthread_join(w[t].tid, NULL);
		EXPECT_EQ(0, w[t].bad);
		mapped += w[t].mapped;
		unmapped += w[t].unmapped;
		TH_LOG("thread %d: %lu ops, %lu unmaps that cut a 2 MiB boundary",
		       t, w[t].ops, w[t].splits_tried);
	}
	__atomic_store_n(&wa.stop, 1, __ATOMIC_RELEASE);
	pthread_join(wa.tid, NULL);
	EXPECT_EQ(NTHREADS, started);
	EXPECT_EQ(0, wa.bad);
	EXPECT_EQ(0, wa.dirty);
	TH_LOG("%lu CHECKs meanwhile, %lu saw errors", wa.rounds, wa.dirty);

	for (i = 0; i < LP_PAGES; i++) {
		ASSERT_EQ(0, ht_probe(self->h.fd, LP_VA + i * HT_PAGE_SIZE, &p));
		present += !!(p.flags & HTABLE_PROBE_PRESENT);
	}
	ASSERT_EQ(0, ht_info(self->h.fd, &info));
	TH_LOG("%llu pages mapped, %llu unmapped, %llu present", mapped,
	       unmapped, present);
	EXPECT_EQ(mapped - unmapped, present);
	EXPECT_EQ(present, info.mapped_pages);
	EXPECT_EQ(present, info.owned_pages);
	/* Leave the hat empty: one page at a time splits what is left. */
	for (i = 0; i < LP_PAGES; i++) {
		ASSERT_EQ(0, ht_probe(self->h.fd, LP_VA + i * HT_PAGE_SIZE, &p));
		if (p.flags & HTABLE_PROBE_PRESENT)
			ASSERT_EQ(0, ht_unmap(self->h.fd, LP_VA + i * HT_PAGE_SIZE, 1));
	}
	ASSERT_EQ(0, ht_info(self->h.fd, &info));
	EXPECT_EQ(0, info.mapped_pages);
	EXPECT_EQ(0, info.owned_pages);
}

/*
 * A walk down a link whose table comes and goes (walk_table() in
 * module/walk.c). A churner maps and unmaps page 0 of each of
 * CHURN_TABLES 2 MiB regions, so each region's leaf table is made, emptied
 * and freed over and over, and made again from the same page (the hat's
 * cache of free tables) under the same link. Meanwhile SYNC walks down
 * those links to pages 256 to 263 of each region, which no claim of the
 * churner covers: every SYNC must succeed. A walker that missed such a
 * table twice in a row (gone, back, gone again) once took that for a link
 * to a table missing from the hash, and failed with a WARN and EFAULT.
 */
#define CHURN_VA	(3 * HT_SZ_1G)
#define CHURN_TABLES	4
#define CHURN_S		2.0

struct churner {
	pthread_t tid;
	int fd;
	int stop;
	int bad;		/* -errno of the first MAP or UNMAP that failed */
	unsigned long cycles;
};

static void *churn_run(void *arg)
{
	struct churner *c = arg;
	__u64 va;
	int i;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE) && !c->bad) {
		for (i = 0; i < CHURN_TABLES && !c->bad; i++) {
			va = CHURN_VA + i * HT_SZ_2M;
			c->bad = ht_map(c->fd, va, 1, HTABLE_MAP_WRITE) ?:
				 ht_unmap(c->fd, va, 1);
		}
		c->cycles++;
	}
	return NULL;
}

TEST_F_TIMEOUT(smp, walk_meets_table_churn, SMP_TIMEOUT)
{
	unsigned long syncs = 0;
	struct churner c = { 0 };
	struct htable_info info;
	struct htable_check chk;
	__u64 ref, mod;
	int i, err = 0;
	double end;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	/* Keeps the level-1 table above the regions: only the leaves churn. */
	ASSERT_EQ(0, ht_map(self->h.fd, CHURN_VA + CHURN_TABLES * HT_SZ_2M, 1, 0));
	c.fd = self->h.fd;
	ASSERT_EQ(0, pthread_create(&c.tid, NULL, churn_run, &c));
	end = ht_now() + CHURN_S;
	while (!err && ht_now() < end) {
		for (i = 0; i < CHURN_TABLES && !err; i++)
			err = ht_sync(self->h.fd, CHURN_VA + i * HT_SZ_2M + 256 * HT_PAGE_SIZE,
				      8, 0, &ref, &mod);
		syncs++;
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(c.tid, NULL);
	TH_LOG("%lu rounds of SYNC over %lu rounds of churn", syncs, c.cycles);
	EXPECT_EQ(0, err) TH_LOG("SYNC: %s", strerror(-err));
	EXPECT_EQ(0, c.bad) TH_LOG("churn: %s", strerror(-c.bad));
	EXPECT_LT(0, c.cycles);
	ASSERT_EQ(0, ht_check(self->h.fd, &chk));
	EXPECT_EQ(0, chk.errors);
	ASSERT_EQ(0, ht_info(self->h.fd, &info));
	EXPECT_EQ(1, info.mapped_pages);
}

TEST_HARNESS_MAIN
