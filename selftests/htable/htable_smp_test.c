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
 * by the successful calls must equal what is mapped.
 *
 * Every worker stops after its operations or its time budget, whichever
 * comes first. The seed is printed; HTABLE_SEED=<seed> reuses it (thread
 * interleaving is not replayed).
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"
#include "htable_random.h"

#define SMP_TIMEOUT	300
#define NTHREADS	4
#define NPROCS		3
#define MAX_SEGS	64
#define WORKER_OPS	3000
#define BUDGET_S	6.0
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
	double deadline;
	struct ht_rnd r;
	int bad;
};

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
	while (w->r.op < WORKER_OPS && ht_now() < w->deadline) {
		if (ht_rnd_op(&w->r, w->blind)) {
			fprintf(stderr, "# worker seed %#llx diverged at op %lu\n",
				w->seed, w->r.op - 1);
			w->bad++;
			return NULL;
		}
	}
	if (w->blind)
		return NULL;
	/* Its own pages, as its model says; all of its hat if it has one. */
	w->bad += w->own_hat ? ht_rnd_verify(&w->r) : ht_rnd_probe_all(&w->r);
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
			__u64 npages, __u64 chunk, __u64 seed, double budget)
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
		w[i].deadline = ht_now() + budget;
	}
	started = start_workers(w, n);
	bad = join_workers(w, started) + (started != n);
	for (i = 0; i < started; i++) {
		ops += w[i].r.op;
		if (ht_model_merge(&all, &w[i].h.m))
			bad++;
		ht_model_free(&w[i].h.m);
	}
	if (!bad)
		bad += ht_verify_info(h->fd, &all, h->levels, NULL) +
		       ht_model_distinct_pfns(&all);
	fprintf(stderr, "# %d workers on %llu-page chunks: %lu ops, %zu pages left mapped\n",
		n, chunk, ops, all.n);
	/* Leave the hat empty. */
	for (i = 0; i < (int)all.n && !bad; i++)
		if (ht_unmap(h->fd, all.pg[i].va, 1))
			bad++;
	ht_model_free(&all);
	return bad;
}

/*
 * After blind workers: the hat must agree with itself. INFO must match a
 * model rebuilt from PROBE of the window, CHECK must pass, and the pages
 * left mapped must be those mapped minus those unmapped. Then everything
 * is unmapped. Returns mismatches.
 */
static int settle_blind(struct ht_hat *h, const struct ht_seg *seg, int nseg,
			__u64 mapped, __u64 unmapped)
{
	struct htable_info info;
	struct ht_rnd r;
	int bad;

	ht_rnd_init(&r, h, seg, nseg, 1);
	bad = ht_rnd_model_from_probe(&r);
	bad += ht_verify_info(h->fd, &h->m, h->levels, &info);
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

	if (self->h.fd < 0)
		SKIP(return, "%s: %s", HTABLE_DEV_PATH, strerror(self->err));
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	ASSERT_EQ(0, run_disjoint(&self->h, w, NTHREADS,
				  HT_SZ_1G - 2048 * HT_PAGE_SIZE, 4096, 64,
				  self->seed, BUDGET_S));
	ASSERT_EQ(0, ht_verify_info(self->h.fd, &self->h.m, self->h.levels, NULL));
}

/* The same with whole PTE tables (512 pages) per chunk, across 512 GiB. */
TEST_F_TIMEOUT(smp, threads_disjoint_table_chunks, SMP_TIMEOUT)
{
	struct worker w[NTHREADS];

	if (self->h.fd < 0)
		SKIP(return, "%s: %s", HTABLE_DEV_PATH, strerror(self->err));
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	ASSERT_EQ(0, run_disjoint(&self->h, w, NTHREADS,
				  3 * HT_SZ_512G - 4096 * HT_PAGE_SIZE, 8192, 512,
				  self->seed, BUDGET_S));
	ASSERT_EQ(0, ht_verify_info(self->h.fd, &self->h.m, self->h.levels, NULL));
}

/* Threads each with its own hat, all on the same addresses. */
TEST_F_TIMEOUT(smp, threads_own_hats, SMP_TIMEOUT)
{
	struct ht_seg seg = { HT_SZ_1G - 1024 * HT_PAGE_SIZE, 2048 };
	struct worker w[NTHREADS];
	long long hats0;
	int i, started;

	if (self->h.fd < 0)
		SKIP(return, "%s: %s", HTABLE_DEV_PATH, strerror(self->err));
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	hats0 = htable_stat("hats");
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].own_hat = 1;
		w[i].seg[0] = seg;
		w[i].nseg = 1;
		w[i].seed = self->seed + i;
		w[i].deadline = ht_now() + BUDGET_S;
	}
	started = start_workers(w, NTHREADS);
	EXPECT_EQ(NTHREADS, started);
	EXPECT_EQ(0, join_workers(w, started));
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

	if (self->h.fd < 0)
		SKIP(return, "%s: %s", HTABLE_DEV_PATH, strerror(self->err));
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
					   2048, 128, self->seed + 1000 * i, BUDGET_S);
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

	if (self->h.fd < 0)
		SKIP(return, "%s: %s", HTABLE_DEV_PATH, strerror(self->err));
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].h = self->h;
		w[i].blind = 1;
		memcpy(w[i].seg, overlap_window, sizeof(overlap_window));
		w[i].nseg = ARRAY_SIZE(overlap_window);
		w[i].seed = self->seed + i;
		w[i].deadline = ht_now() + BUDGET_S;
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

	if (self->h.fd < 0)
		SKIP(return, "%s: %s", HTABLE_DEV_PATH, strerror(self->err));
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
			double deadline = ht_now() + BUDGET_S;
			struct ht_rnd r;

			ht_rnd_init(&r, &self->h, overlap_window,
				    ARRAY_SIZE(overlap_window), self->seed + 77 * i);
			r.maxlen = BLIND_MAXLEN;
			while (r.op < WORKER_OPS && ht_now() < deadline && !rep[i].bad)
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

	if (self->h.fd < 0)
		SKIP(return, "%s: %s", HTABLE_DEV_PATH, strerror(self->err));
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx)", self->seed, self->seed);
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].h.fd = self->h.fd;
		w[i].h.levels = self->h.levels;
		w[i].h.limit = self->h.limit;
		w[i].seed = self->seed + i;
		w[i].deadline = ht_now() + BUDGET_S;
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

TEST_HARNESS_MAIN
