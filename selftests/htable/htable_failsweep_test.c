// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation-failure sweeps: every allocation the module makes during a
 * fixed workload is made to fail, one site at a time.
 *
 * For each site (debugfs fail_site = 1 << site), a first run with
 * fail_nth = UINT_MAX counts the K allocations the workload makes there
 * (fail_hits "calls") without failing any. Runs N = 1..K then set
 * fail_nth = N, so run N fails the Nth allocation at that site (and every
 * Nth after it): every failure point is hit, and fail_hits proves it.
 *
 * Each step of the workload may fail only with ENOMEM (or, for an ALIAS
 * whose source failed to map, ENOENT), and a failed MAP must leave its
 * range empty. After each run, with the knob off, RELOAD brings back
 * whatever a fallback steal took, the hat must match the model exactly
 * (INFO, CHECK, PROBE of every page), and once it is closed
 * active_ptables, cached_tables and the hat count are back where they
 * started. Free
 * memory is compared once around the whole sweep (not on the debug row,
 * where KASAN's quarantine holds freed memory back); kmemleak (debug row)
 * looks for any leak.
 *
 * The op cases sweep single operations the workload does not reach: a
 * map of 2 MiB pages, UNMAPs that split a 2 MiB page and two 2 MiB pages,
 * RELOAD after a steal, SHARE, and a PIN map (see "One operation at a
 * time" below).
 *
 * The cases are all here; their helpers that need no harness are in
 * htable_failsweep_workload.c (the workload of every_allocation_site)
 * and htable_failsweep_op.c (what the op cases read and compare),
 * declared in htable_failsweep.h.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_failsweep.h"

#define MAX_RUNS	400	/* per site: a bound, should the workload grow */
#define FREE_NOISE_KB	2048
#define KMEMLEAK_PATH	"/sys/kernel/debug/kmemleak"

static const char * const site_names[SITES] = {
	"ptable", "htable", "page", "xarray", "hat", "cpumask", "hash",
	"window", "samples", "share", "upin",
};

FIXTURE(sweep) {
	long long active0, hats0, cached0;
};

FIXTURE_SETUP(sweep)
{
	htable_knobs_reset();
	self->active0 = htable_stat("active_ptables");
	self->hats0 = htable_stat("hats");
	self->cached0 = htable_stat("cached_tables");
}

FIXTURE_TEARDOWN(sweep)
{
	htable_knobs_reset();
}

TEST_F_TIMEOUT(sweep, every_allocation_site, 500)
{
	long long calls, failed, total_points = 0, total_runs = 0, free0, free1;
	struct sweep s;
	int site;
	double t0 = ht_now();

	if (htable_dev_missing(_metadata, access(HTABLE_DEV_PATH, F_OK), errno))
		return;
	ASSERT_EQ(0, access(HTABLE_FAIL_HITS_PATH, R_OK));
	/* A warm-up run fills the reserve and caches that are not leaks. */
	sweep_workload(&s);
	sweep_settle_and_verify(&s);
	ASSERT_EQ(0, s.bad);
	free0 = sweep_free_kb();

	for (site = 0; site < SITES; site++) {
		long long k, hit = 0, hits_total = 0;
		unsigned long enomem = 0;

		ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_SITE_PATH, 1LL << site));
		ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0xffffffffLL));
		sweep_workload(&s);
		ASSERT_EQ(0, htable_fail_hits(site, &k, &failed));
		ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
		sweep_settle_and_verify(&s);
		ASSERT_EQ(0, s.bad) TH_LOG("counting run for %s", site_names[site]);
		ASSERT_EQ(0, failed);
		/* Every site is on the workload's path. */
		ASSERT_LT(0, k) TH_LOG("site %s never allocated", site_names[site]);
		ASSERT_GE(MAX_RUNS, k);

		for (long long n = 1; n <= k; n++) {
			ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, n));
			sweep_workload(&s);
			ASSERT_EQ(0, htable_fail_hits(site, &calls, &failed));
			ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
			sweep_settle_and_verify(&s);
			EXPECT_EQ(0, s.bad) TH_LOG("site %s, fail_nth %lld", site_names[site], n);
			/* Failure point n was reached and failed. */
			EXPECT_LE(1, failed)
				TH_LOG("site %s, fail_nth %lld: no failure", site_names[site], n);
			hit += failed > 0;
			hits_total += failed;
			enomem += s.enomem;
			EXPECT_EQ(self->active0, htable_stat("active_ptables"))
				TH_LOG("site %s, fail_nth %lld", site_names[site], n);
			EXPECT_EQ(self->hats0, htable_stat("hats"));
			EXPECT_EQ(self->cached0, htable_stat("cached_tables"));
			if (s.bad)
				break;
		}
		TH_LOG("site %-7s: %lld failure points, %lld hit, %lld injected, %lu ENOMEM",
		       site_names[site], k, hit, hits_total, enomem);
		EXPECT_EQ(k, hit);
		total_points += k;
		total_runs += k + 1;
	}
	free1 = sweep_free_kb();
	TH_LOG("%lld failure points over %d sites in %lld runs, %.1f s",
	       total_points, SITES, total_runs, ht_now() - t0);
	TH_LOG("free memory %lld kB -> %lld kB", free0, free1);
	/*
	 * KASAN's quarantine holds freed objects back (megabytes over this
	 * sweep on the debug row): there, kmemleak is the leak check instead.
	 */
	if (access(KMEMLEAK_PATH, F_OK))
		EXPECT_GE(FREE_NOISE_KB, free0 - free1);
	EXPECT_EQ(self->active0, htable_stat("active_ptables"));
}

/*
 * ---- One operation at a time ----
 *
 * The sweep above runs a whole workload per failure point. These run one
 * operation the workload does not reach (large-page maps, splits, RELOAD
 * after a steal, SHARE, PIN maps) with fail_nth = 1, 2, ... over the
 * sites it allocates at, until it succeeds. Before each attempt every
 * hat's cache of free tables is emptied and no other hat exists, so a
 * table allocation that fails has nothing to steal and the operation
 * must fail; after each failure it must be ENOMEM with fail_hits showing
 * the injected failure, and the hats must be as they were: INFO (cached
 * and stolen aside), CHECK, PROBE of the vas around the operation, and
 * the tag this test wrote into word 1 of each page, read back through
 * RW. (RELOAD keeps what it rebuilt, as uapi.rst says: there each page
 * must be as before or rebuilt as it was.) The attempt that succeeds is
 * the retry, and its result is checked; fail_hits must show failures
 * injected at each site the operation is known to reach.
 */
#define OP_MAX_ATTEMPTS	64
#define OP_POISON	0xa5a5a5a5a5a5a5a5ULL
#define NP_2M		HTABLE_2M_NPAGES

enum {
	S_PTABLE, S_HTABLE, S_PAGE, S_XARRAY, S_HAT, S_CPUMASK, S_HASH,
	S_WINDOW, S_SAMPLES, S_SHARE, S_UPIN,
};

#define SITE(x)		(1U << (x))
#define TABLE_SITES	(SITE(S_PTABLE) | SITE(S_HTABLE))

/*
 * One attempt with fail_nth = @n over @mask: the op's result; @h gets
 * fail_hits, @before and @after the snapshots of each hat.
 */
static int attempt(struct __test_metadata *_metadata, struct opsweep *o, __u32 mask,
		   long long n, struct hits *h, struct hsnap *before, struct hsnap *after)
{
	int k, ret, hits_err;

	if (o->reset)
		EXPECT_EQ(0, o->reset(o)) TH_LOG("%s: reset", o->name);
	EXPECT_EQ(0, ht_drain_caches());
	for (k = 0; k < o->nfd; k++)
		EXPECT_EQ(0, sweep_snap_take(o->fd[k], o->va[k], o->nva[k], &before[k]));
	EXPECT_EQ(0, htable_knob_write(HTABLE_FAIL_SITE_PATH, mask));
	EXPECT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, n));
	ret = o->run(o);
	hits_err = sweep_read_hits(h);
	EXPECT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
	EXPECT_EQ(0, hits_err);
	for (k = 0; k < o->nfd; k++)
		EXPECT_EQ(0, sweep_snap_take(o->fd[k], o->va[k], o->nva[k], &after[k]));
	return ret;
}

/* A failed attempt: ENOMEM, a failure injected, every hat as it was. */
static void judge_failure(struct __test_metadata *_metadata, struct opsweep *o,
			  long long n, int ret, const struct hits *h,
			  const struct hsnap *before, const struct hsnap *after,
			  long long enomem0)
{
	int k, bad;

	EXPECT_EQ(-ENOMEM, ret) TH_LOG("%s, fail_nth %lld: %s", o->name, n, strerror(-ret));
	EXPECT_LE(1, sweep_sum(h->failed))
		TH_LOG("%s, fail_nth %lld: failed with no failure injected", o->name, n);
	for (k = 0; k < o->nfd; k++) {
		bad = o->partial ? o->partial(o, k, &before[k], &after[k]) :
				   sweep_snap_diff(&before[k], &after[k]);
		EXPECT_EQ(0, bad) TH_LOG("%s, fail_nth %lld: hat %d changed", o->name, n, k);
	}
	if (o->enomem >= 0)
		EXPECT_EQ(enomem0 + o->enomem, htable_stat("hs_enomem"))
			TH_LOG("%s, fail_nth %lld: hs_enomem", o->name, n);
}

/*
 * fail_nth = 1, 2, ... over o->mask until the operation succeeds; that
 * success (the retry) must have had no failure injected.
 */
static void sweep_op(struct __test_metadata *_metadata, struct opsweep *o)
{
	static struct hsnap before[2], after[2];
	struct hits h;
	long long n, enomem0;
	int ret, site;

	ASSERT_EQ(o->nfd, htable_stat("hats"))
		TH_LOG("%s: another hat could be stolen from", o->name);
	for (n = 1; n <= OP_MAX_ATTEMPTS; n++) {
		enomem0 = htable_stat("hs_enomem");
		ret = attempt(_metadata, o, o->mask, n, &h, before, after);
		for (site = 0; site < SITES; site++)
			o->injected[site] += h.failed[site];
		if (!ret) {
			EXPECT_EQ(0, sweep_sum(h.failed))
				TH_LOG("%s, fail_nth %lld: an injected failure did not fail it",
				       o->name, n);
			EXPECT_GT(n, sweep_sum(h.calls));
			o->attempts = n;
			TH_LOG("%s: %lld failure points, then success (%lld allocations)",
			       o->name, n - 1, sweep_sum(h.calls));
			return;
		}
		judge_failure(_metadata, o, n, ret, &h, before, after, enomem0);
	}
	ASSERT_TRUE(0) TH_LOG("%s: still failing at fail_nth %d", o->name, OP_MAX_ATTEMPTS);
}

/* The sites the operation must have been failed at, at least once each. */
static void reached(struct __test_metadata *_metadata, const struct opsweep *o, __u32 sites)
{
	int site;

	for (site = 0; site < SITES; site++) {
		const char *name = site_names[site];

		if (sites & SITE(site))
			EXPECT_LE(1, o->injected[site])
				TH_LOG("%s: no failure injected at %s", o->name, name);
	}
}

FIXTURE(op) {
	long long active0, hats0;
	int fd[2];
};

FIXTURE_SETUP(op)
{
	htable_knobs_reset();
	self->active0 = htable_stat("active_ptables");
	self->hats0 = htable_stat("hats");
	self->fd[0] = -1;
	self->fd[1] = -1;
}

FIXTURE_TEARDOWN(op)
{
	htable_knobs_reset();
	if (self->fd[0] >= 0)
		close(self->fd[0]);
	if (self->fd[1] >= 0)
		close(self->fd[1]);
}

/* Close the test's hats: every table and every hat is gone again. */
static void op_done(struct __test_metadata *_metadata, int *fd, long long hats0,
		    long long active0)
{
	int k;

	for (k = 0; k < 2; k++) {
		if (fd[k] >= 0)
			close(fd[k]);
		fd[k] = -1;
	}
	EXPECT_EQ(hats0, htable_stat("hats"));
	EXPECT_EQ(active0, htable_stat("active_ptables"));
}

/*
 * Begin case @o, named @name, on @nfd new hats: the fixture's @fd, which
 * op_done() or the teardown closes. Returns false, the case passing as
 * htable_dev_missing() says, when there is no device.
 */
static bool op_start(struct __test_metadata *_metadata, int *fd,
		     struct opsweep *o, const char *name, int nfd)
{
	int k;

	memset(o, 0, sizeof(*o));
	o->name = name;
	o->nfd = nfd;
	fd[0] = htable_open_dev();
	if (htable_dev_missing(_metadata, fd[0] < 0, errno))
		return false;
	for (k = 1; k < nfd; k++) {
		fd[k] = htable_open_dev();
		ASSERT_LE(0, fd[k]);
	}
	memcpy(o->fd, fd, nfd * sizeof(*fd));
	return true;
}

/* Pages of the hat around the operations, tagged. */
#define BASE_VA		(5 * HT_SZ_1G - 4 * HT_PAGE_SIZE)
#define BASE_N		8

static void base_pages(struct __test_metadata *_metadata, struct opsweep *o, int k)
{
	ASSERT_EQ(0, ht_map(o->fd[k], BASE_VA, BASE_N, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, sweep_put_tags(o->fd[k], BASE_VA, BASE_N));
	sweep_add_run(o, k, BASE_VA, BASE_N);
}

static int do_map(struct opsweep *o)
{
	return ht_map_alias(o->fd[0], o->a[0], o->a[1], o->a[2], o->a[3], 0);
}

static int do_unmap(struct opsweep *o)
{
	return ht_unmap(o->fd[0], o->a[0], o->a[1]);
}

/* Two fresh 2 MiB pages in a 1 GiB region with no table yet. */
TEST_F_TIMEOUT(op, map_2m, 300)
{
	static struct opsweep o;
	const __u64 va = 7 * HT_SZ_1G;
	struct htable_info info;
	__u64 i, pfn;
	int fd;

	if (!op_start(_metadata, self->fd, &o, "MAP 2 MiB", 1))
		return;
	fd = o.fd[0];
	base_pages(_metadata, &o, 0);
	sweep_add_run(&o, 0, va, 2 * NP_2M);
	sweep_add_va(&o, 0, va + HT_SZ_2M - HT_PAGE_SIZE);
	sweep_add_va(&o, 0, va + HT_SZ_2M);
	o.run = do_map;
	o.a[0] = va;
	o.a[1] = 2 * NP_2M;
	o.a[2] = HTABLE_MAP_2M | HTABLE_MAP_WRITE;
	o.enomem = 1;
	o.mask = SITE(S_PAGE) | TABLE_SITES;
	sweep_op(_metadata, &o);
	/* Two 2 MiB pages: aligned, contiguous, zeroed; nothing else moved. */
	for (i = 0; i < 2 * NP_2M; i += 37) {
		pfn = sweep_pfn_level(fd, va + i * HT_PAGE_SIZE, 1);
		EXPECT_NE(0, pfn);
		EXPECT_EQ(0, (pfn - i % NP_2M) % NP_2M);
		EXPECT_EQ(0, sweep_word1(fd, va + i * HT_PAGE_SIZE));
	}
	EXPECT_EQ(0, sweep_tags_intact(fd, BASE_VA, BASE_N));
	ASSERT_EQ(0, ht_info(fd, &info));
	EXPECT_EQ(BASE_N + 2 * NP_2M, info.mapped_pages);
	EXPECT_EQ(BASE_N + 2 * NP_2M, info.owned_pages);
	EXPECT_EQ(0, ht_verify_check(fd, NULL));
	reached(_metadata, &o, SITE(S_PAGE) | TABLE_SITES);
	op_done(_metadata, self->fd, self->hats0, self->active0);
}

/* A 2 MiB page cut in the middle: its split needs one table. */
TEST_F_TIMEOUT(op, split_2m, 300)
{
	static struct opsweep o;
	const __u64 va = 6 * HT_SZ_1G, cut = va + 100 * HT_PAGE_SIZE;
	__u64 pfn0;
	int fd;

	if (!op_start(_metadata, self->fd, &o, "UNMAP splitting 2 MiB", 1))
		return;
	fd = o.fd[0];
	base_pages(_metadata, &o, 0);
	ASSERT_EQ(0, ht_map(fd, va, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, sweep_put_tags(fd, va, NP_2M));
	pfn0 = sweep_pfn_level(fd, va, 1);
	ASSERT_NE(0, pfn0);
	sweep_add_run(&o, 0, va, NP_2M);
	sweep_add_run(&o, 0, cut, 1);
	sweep_add_va(&o, 0, va + 256 * HT_PAGE_SIZE);
	o.run = do_unmap;
	o.a[0] = cut;
	o.a[1] = 1;
	o.mask = TABLE_SITES;
	sweep_op(_metadata, &o);
	EXPECT_TRUE(sweep_absent(fd, cut));
	EXPECT_EQ(0, sweep_pages_intact(fd, va, 100, 0, pfn0));
	EXPECT_EQ(0, sweep_pages_intact(fd, cut + HT_PAGE_SIZE, NP_2M - 101, 0, pfn0 + 101));
	EXPECT_EQ(0, ht_verify_check(fd, NULL));
	reached(_metadata, &o, TABLE_SITES);
	op_done(_metadata, self->fd, self->hats0, self->active0);
}

/*
 * A cut whose two ends lie in two 2 MiB pages: two splits, two tables.
 * When the second can't be had, uapi.rst's UNMAP fails with ENOMEM and,
 * like every refused request, changes nothing: the first split too must
 * not show (PROBE's level, INFO's tables).
 */
TEST_F_TIMEOUT(op, split_two_edges, 300)
{
	static struct opsweep o;
	const __u64 va = 6 * HT_SZ_1G, cut = va + 500 * HT_PAGE_SIZE;
	__u64 pfn0;
	int fd;

	if (!op_start(_metadata, self->fd, &o, "UNMAP splitting two 2 MiB pages", 1))
		return;
	fd = o.fd[0];
	ASSERT_EQ(0, ht_map(fd, va, 2 * NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, sweep_put_tags(fd, va, 2 * NP_2M));
	pfn0 = sweep_pfn_level(fd, va, 1);
	ASSERT_NE(0, pfn0);
	ASSERT_EQ(pfn0 + NP_2M - 1, sweep_pfn_level(fd, va + HT_SZ_2M - HT_PAGE_SIZE, 1));
	sweep_add_run(&o, 0, va, 2 * NP_2M);
	sweep_add_run(&o, 0, cut, 24);
	sweep_add_va(&o, 0, va + HT_SZ_2M - HT_PAGE_SIZE);
	sweep_add_va(&o, 0, va + HT_SZ_2M);
	o.run = do_unmap;
	o.a[0] = cut;
	o.a[1] = 24;
	o.mask = TABLE_SITES;
	sweep_op(_metadata, &o);
	EXPECT_TRUE(sweep_absent(fd, cut));
	EXPECT_TRUE(sweep_absent(fd, cut + 23 * HT_PAGE_SIZE));
	EXPECT_EQ(0, sweep_pages_intact(fd, va, 500, 0, pfn0));
	EXPECT_EQ(0, sweep_pages_intact(fd, cut + 24 * HT_PAGE_SIZE, 500, 0,
					sweep_pfn_level(fd, cut + 24 * HT_PAGE_SIZE, 0)));
	EXPECT_EQ(0, ht_verify_check(fd, NULL));
	reached(_metadata, &o, TABLE_SITES);
	op_done(_metadata, self->fd, self->hats0, self->active0);
}

/*
 * RELOAD after a steal. The pages: BASE (8, over a 1 GiB boundary, so in
 * two leaf tables), a locked page in the second of those (so it is never
 * stolen), a 2 MiB page (never stolen: RELOAD leaves it), and 3 pages at
 * 12 GiB. Each attempt first reaps every idle table; RELOAD then has four
 * tables to build. A failed RELOAD keeps what it rebuilt (uapi.rst), so
 * after one each page must be as before the attempt or exactly as it was
 * mapped, and the structure is not copied back.
 */
#define RL_VA	(4 * HT_SZ_1G)
#define RL_LOCK	(5 * HT_SZ_1G + 100 * HT_PAGE_SIZE)
#define RL_2M	(6 * HT_SZ_1G)
#define RL_FAR	(12 * HT_SZ_1G + 3 * HT_PAGE_SIZE)

static struct hsnap rl_orig;

static int reload_reset(struct opsweep *o)
{
	struct htable_probe p;
	int bad = 0;
	__u64 i;

	if (ht_reap_all() < 0)
		bad++;
	for (i = 0; i < 4; i++) {
		bad += ht_probe(o->fd[0], BASE_VA + i * HT_PAGE_SIZE, &p) ||
		       p.flags != HTABLE_PROBE_OWNED;
		if (i < 3)
			bad += ht_probe(o->fd[0], RL_FAR + i * HT_PAGE_SIZE, &p) ||
			       p.flags != HTABLE_PROBE_OWNED;
	}
	return bad;
}

static int do_reload(struct opsweep *o)
{
	struct htable_reload r = {
		.va = RL_VA, .npages = HTABLE_MAX_NPAGES, .reloaded = OP_POISON,
	};
	int ret = ht_ioctl(o->fd[0], HTABLE_IOC_RELOAD, &r);

	o->a[3] = r.reloaded;
	return ret;
}

static int reload_partial(struct opsweep *o, int k, const struct hsnap *b,
			  const struct hsnap *a)
{
	int i, bad = 0;

	if (o->a[3] != OP_POISON) {
		fprintf(stderr, "# a failed RELOAD wrote reloaded %llu\n", o->a[3]);
		bad++;
	}
	if (a->check.errors || a->info.owned_pages != b->info.owned_pages ||
	    a->info.mapped_pages < b->info.mapped_pages ||
	    a->info.mapped_pages > rl_orig.info.mapped_pages) {
		fprintf(stderr, "# CHECK %llu errors; owned %llu, then %llu;",
			a->check.errors, b->info.owned_pages, a->info.owned_pages);
		fprintf(stderr, " mapped %llu, then %llu\n", b->info.mapped_pages,
			a->info.mapped_pages);
		bad++;
	}
	for (i = 0; i < a->n; i++) {
		if (memcmp(&a->p[i], &b->p[i], sizeof(a->p[i])) &&
		    memcmp(&a->p[i], &rl_orig.p[i], sizeof(a->p[i]))) {
			fprintf(stderr, "# %#llx: flags %#x pfn %#llx; before %#x,", a->p[i].va,
				a->p[i].flags, a->p[i].pfn, b->p[i].flags);
			fprintf(stderr, " mapped as %#x %#llx\n", rl_orig.p[i].flags,
				rl_orig.p[i].pfn);
			bad++;
		}
		bad += a->word[i] != rl_orig.word[i];
	}
	return bad;
}

TEST_F_TIMEOUT(op, reload_after_steal, 300)
{
	static struct opsweep o;
	static struct hsnap now;
	int fd;

	if (!op_start(_metadata, self->fd, &o, "RELOAD after a steal", 1))
		return;
	fd = o.fd[0];
	base_pages(_metadata, &o, 0);
	ASSERT_EQ(0, ht_map(fd, RL_LOCK, 1, HTABLE_MAP_LOCK | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(fd, RL_2M, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_EXEC));
	ASSERT_EQ(0, ht_map(fd, RL_FAR, 3, HTABLE_MAP_WRITE | HTABLE_MAP_EXEC));
	ASSERT_EQ(0, sweep_put_tags(fd, RL_LOCK, 1));
	ASSERT_EQ(0, sweep_put_tags(fd, RL_2M, 2));
	ASSERT_EQ(0, sweep_put_tags(fd, RL_FAR, 3));
	sweep_add_run(&o, 0, RL_LOCK, 1);
	sweep_add_run(&o, 0, RL_2M, NP_2M);
	sweep_add_run(&o, 0, RL_FAR, 3);
	ASSERT_EQ(0, sweep_snap_take(fd, o.va[0], o.nva[0], &rl_orig));
	o.run = do_reload;
	o.reset = reload_reset;
	o.partial = reload_partial;
	o.mask = TABLE_SITES;
	o.enomem = 1;
	sweep_op(_metadata, &o);
	/* The retry rebuilt all seven: every page exactly as it was mapped. */
	EXPECT_EQ(7, o.a[3]);
	ASSERT_EQ(0, sweep_snap_take(fd, o.va[0], o.nva[0], &now));
	EXPECT_EQ(0, sweep_snap_diff(&rl_orig, &now));
	reached(_metadata, &o, TABLE_SITES);
	op_done(_metadata, self->fd, self->hats0, self->active0);
}

/*
 * SHARE of two leaf tables: the owner has pages in the first and nothing
 * in the second (SHARE makes it an empty table), and the sharer has no
 * table for the 1 GiB region yet. Both hats are write-locked by SHARE,
 * so neither's tables can be stolen: each failure is certain.
 */
#define SH_VA	(12 * HT_SZ_1G)

static int do_share(struct opsweep *o)
{
	struct htable_share sh = {
		.owner_fd = o->fd[0], .va = SH_VA, .npages = 2 * NP_2M,
		.tables = OP_POISON,
	};
	long long net = htable_stat("hs_htable_shared") - htable_stat("hs_htable_unshared");
	int ret = ht_ioctl(o->fd[1], HTABLE_IOC_SHARE, &sh);
	long long now = htable_stat("hs_htable_shared") - htable_stat("hs_htable_unshared");

	/* a[2]: failures that moved the count of shared tables or wrote tables. */
	if (ret && (now != net || sh.tables != OP_POISON))
		o->a[2]++;
	o->a[3] = sh.tables;
	return ret;
}

TEST_F_TIMEOUT(op, share, 300)
{
	static struct opsweep o;
	struct htable_share un = { .va = SH_VA, .npages = 2 * NP_2M };
	struct htable_probe p;
	long long enomem0;
	struct hits h;
	__u64 i;

	if (!op_start(_metadata, self->fd, &o, "SHARE", 2))
		return;
	ASSERT_EQ(0, ht_map(o.fd[0], SH_VA + 3 * HT_PAGE_SIZE, 16, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, sweep_put_tags(o.fd[0], SH_VA + 3 * HT_PAGE_SIZE, 16));
	ASSERT_EQ(0, ht_map(o.fd[1], 3 * HT_SZ_1G, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, sweep_put_tags(o.fd[1], 3 * HT_SZ_1G, 1));
	for (i = 0; i < 2; i++) {
		sweep_add_run(&o, i, SH_VA + 3 * HT_PAGE_SIZE, 16);
		sweep_add_va(&o, i, SH_VA + HT_SZ_2M + 5 * HT_PAGE_SIZE);
		sweep_add_run(&o, i, 3 * HT_SZ_1G, 1);
	}
	o.run = do_share;
	o.mask = SITE(S_SHARE) | TABLE_SITES;
	/* debugfs.rst counts MAP's and RELOAD's ENOMEM only: just report it. */
	o.enomem = -1;
	enomem0 = htable_stat("hs_enomem");
	sweep_op(_metadata, &o);
	TH_LOG("SHARE's ENOMEM moved hs_enomem by %lld", htable_stat("hs_enomem") - enomem0);
	EXPECT_EQ(0, o.a[2]) TH_LOG("a failed SHARE moved the shared count or wrote tables");
	EXPECT_EQ(2, o.a[3]);
	/* The owner's pages, seen through the sharer. */
	for (i = 0; i < 16; i++) {
		__u64 va = SH_VA + (3 + i) * HT_PAGE_SIZE;

		ASSERT_EQ(0, ht_probe(o.fd[1], va, &p));
		EXPECT_EQ(HTABLE_PROBE_PRESENT | HTABLE_PROBE_WRITE, p.flags & ~HT_PROBE_HW);
		EXPECT_EQ(sweep_pfn_level(o.fd[0], va, 0), p.pfn);
		EXPECT_EQ(WTAG(va), sweep_word1(o.fd[0], va));
	}
	EXPECT_EQ(0, ht_verify_check(o.fd[0], NULL));
	EXPECT_EQ(0, ht_verify_check(o.fd[1], NULL));
	/* UNSHARE allocates nothing: with every site failing, it works. */
	EXPECT_EQ(0, htable_knob_write(HTABLE_FAIL_SITE_PATH, (1U << SITES) - 1));
	EXPECT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 1));
	EXPECT_EQ(0, ht_ioctl(o.fd[1], HTABLE_IOC_UNSHARE, &un));
	EXPECT_EQ(0, sweep_read_hits(&h));
	EXPECT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
	EXPECT_EQ(0, sweep_sum(h.calls));
	EXPECT_EQ(2, un.tables);
	EXPECT_TRUE(sweep_absent(o.fd[1], SH_VA + 3 * HT_PAGE_SIZE));
	reached(_metadata, &o, SITE(S_SHARE) | TABLE_SITES);
	op_done(_metadata, self->fd, self->hats0, self->active0);
}

/* A PIN map of two pages of this process, in a 1 GiB region with no table. */
TEST_F_TIMEOUT(op, pin_map, 300)
{
	static struct opsweep o;
	const __u64 va = 9 * HT_SZ_1G;
	__u64 *mem, i, v;
	int fd;

	if (!op_start(_metadata, self->fd, &o, "MAP PIN", 1))
		return;
	fd = o.fd[0];
	mem = mmap(NULL, 2 * HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	/* The tags are in this process's own memory. */
	for (i = 0; i < 2; i++)
		mem[i * HT_PAGE_SIZE / 8 + 1] = WTAG(va + i * HT_PAGE_SIZE);
	base_pages(_metadata, &o, 0);
	sweep_add_run(&o, 0, va, 2);
	o.run = do_map;
	o.a[0] = va;
	o.a[1] = 2;
	o.a[2] = HTABLE_MAP_PIN | HTABLE_MAP_WRITE;
	o.a[3] = (uintptr_t)mem;
	o.mask = SITE(S_UPIN) | TABLE_SITES;
	o.enomem = 1;
	sweep_op(_metadata, &o);
	/* The hat maps this process's pages: its tags, and a write shows here. */
	for (i = 0; i < 2; i++) {
		EXPECT_NE(0, sweep_pfn_level(fd, va + i * HT_PAGE_SIZE, 0));
		EXPECT_EQ(WTAG(va + i * HT_PAGE_SIZE), sweep_word1(fd, va + i * HT_PAGE_SIZE));
	}
	v = 0x5a5a1234;
	{
		struct htable_rw r = {
			.va = va + HT_PAGE_SIZE + 16, .buf = (uintptr_t)&v, .len = 8,
			.flags = HTABLE_RW_WRITE,
		};

		EXPECT_EQ(0, ht_ioctl(fd, HTABLE_IOC_RW, &r));
	}
	EXPECT_EQ(0x5a5a1234, mem[HT_PAGE_SIZE / 8 + 2]);
	EXPECT_EQ(0, ht_verify_check(fd, NULL));
	reached(_metadata, &o, SITE(S_UPIN) | TABLE_SITES);
	op_done(_metadata, self->fd, self->hats0, self->active0);
	munmap(mem, 2 * HT_PAGE_SIZE);
}

TEST_HARNESS_MAIN
