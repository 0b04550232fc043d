// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failure and the reserve, driven by the module's tunables:
 *
 *   /sys/kernel/debug/htable/fail_nth       every Nth page-table page
 *                                           allocation fails (0: off)
 *   /sys/kernel/debug/htable/force_reserve  htable structs come from the
 *                                           reserve (0: off)
 *   /sys/module/htable/parameters/reserve_amount  reserve target (200)
 *
 * A MAP that needs new tables must either succeed or fail with ENOMEM
 * having changed nothing; unmapping and closing must never fail and must
 * give back every page-table page. The reserve tests predict exactly what
 * debugfs.rst's policy says an empty or a k-structure reserve must cause:
 * which map succeeds, which errno the next one gets, and how far
 * hs_htable_rgets, hs_htable_rputs, hs_steals, hs_enomem, reserve_cnt and
 * active_ptables move. Every test puts the tunables back (in its
 * teardown, so also when it fails).
 */
#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"

#define KNOB_TIMEOUT	300

FIXTURE(failnth) {
	struct ht_hat h;
	int err;
	long long active0;
};

FIXTURE_VARIANT(failnth) {
	int nth;
};

FIXTURE_VARIANT_ADD(failnth, nth3) {
	.nth = 3,
};

FIXTURE_VARIANT_ADD(failnth, nth7) {
	.nth = 7,
};

FIXTURE_SETUP(failnth)
{
	/* A test killed by its timeout skips its teardown: start clean. */
	htable_knobs_reset();
	self->active0 = htable_stat("active_ptables");
	self->err = -ht_hat_open(&self->h);
}

FIXTURE_TEARDOWN(failnth)
{
	htable_knobs_reset();
	ht_hat_close(&self->h);
}

/* The module's tunables exist whenever the module is loaded. */
static void knobs_present(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, access(HTABLE_FAIL_NTH_PATH, W_OK)) TH_LOG("%s", HTABLE_FAIL_NTH_PATH);
	ASSERT_EQ(0, access(HTABLE_FORCE_RESERVE_PATH, W_OK))
		TH_LOG("%s", HTABLE_FORCE_RESERVE_PATH);
	ASSERT_EQ(0, access(HTABLE_RESERVE_AMOUNT_PATH, W_OK))
		TH_LOG("%s", HTABLE_RESERVE_AMOUNT_PATH);
	ASSERT_EQ(0, htable_knobs_reset());
}

/*
 * MAP at @va that may fail for want of memory: success goes into the
 * model, ENOMEM must leave the hat as the model says and the range empty.
 * Returns 0 on success, 1 on ENOMEM.
 */
static int map_or_enomem(struct __test_metadata *_metadata, struct ht_hat *h,
			 __u64 va, __u64 npages, __u32 flags)
{
	__u64 i;
	int ret;

	ret = ht_map(h->fd, va, npages, flags);
	if (ret == -ENOMEM) {
		for (i = 0; i < npages; i++)
			EXPECT_EQ(0, ht_verify_probe(h->fd, va + i * HT_PAGE_SIZE, NULL))
				TH_LOG("page %llu of a failed MAP at %#llx", i, va);
		EXPECT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 7))
			TH_LOG("after a failed MAP at %#llx", va);
		return 1;
	}
	EXPECT_EQ(0, ret) {
		TH_LOG("MAP va %#llx npages %llu: %s", va, npages, strerror(-ret));
	}
	if (ret)
		return 0;
	EXPECT_EQ(0, ht_model_insert(&h->m, va, npages, flags, 0, 0));
	EXPECT_EQ(0, ht_model_learn(h->fd, &h->m, va, npages));
	EXPECT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 7))
		TH_LOG("after MAP at %#llx", va);
	return 0;
}

/* UNMAP every run of the model; these must all succeed. */
static void unmap_all(struct __test_metadata *_metadata, struct ht_hat *h)
{
	while (h->m.n) {
		__u64 va = h->m.pg[0].va;
		size_t j = 0;
		int ret;

		while (j + 1 < h->m.n && h->m.pg[j + 1].va == h->m.pg[j].va + HT_PAGE_SIZE)
			j++;
		ret = ht_unmap(h->fd, va, j + 1);
		ASSERT_EQ(0, ret) TH_LOG("UNMAP %#llx x %zu: %s", va, j + 1, strerror(-ret));
		ht_model_remove(&h->m, va, j + 1);
	}
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

/*
 * Maps of four kinds, round robin: a page in a new 512 GiB region (new
 * tables at every level), a page in a new 2 MiB region of a touched 1 GiB
 * one (a new PTE table), 513 pages over a 2 MiB boundary (up to three new
 * tables), and a page next to one already mapped (no new table: this one
 * must always succeed).
 */
TEST_F_TIMEOUT(failnth, map_under_fail_nth, KNOB_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	int i, fails = 0, oks = 0;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	knobs_present(_metadata);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, variant->nth));
	for (i = 0; i < 64; i++) {
		__u64 va;
		int f;

		switch (i % 4) {
		case 0:
			va = (i / 4 + 1) * HT_SZ_512G + (i % 7) * HT_SZ_1G;
			f = map_or_enomem(_metadata, h, va, 1, HTABLE_MAP_WRITE);
			break;
		case 1:
			va = 5 * HT_SZ_1G + (i / 4) * 3 * HT_SZ_2M;
			f = map_or_enomem(_metadata, h, va, 1, HTABLE_MAP_LOCK);
			break;
		case 2:
			va = 9 * HT_SZ_1G + (i / 4) * 4 * HT_SZ_2M - HT_PAGE_SIZE;
			f = map_or_enomem(_metadata, h, va, 513, 0);
			break;
		default:
			if (!h->m.n)
				continue;
			/* Just below the first page of some mapping. */
			va = h->m.pg[(i * 37) % h->m.n].va;
			if (!(va & (HT_SZ_2M - 1)) || ht_model_find(&h->m, va - HT_PAGE_SIZE))
				continue;
			f = map_or_enomem(_metadata, h, va - HT_PAGE_SIZE, 1, 0);
			EXPECT_EQ(0, f) TH_LOG("MAP into an existing table failed");
		}
		fails += f;
		oks += !f;
	}
	TH_LOG("fail_nth %d: %d maps succeeded, %d failed with ENOMEM",
	       variant->nth, oks, fails);
	EXPECT_LT(0, fails);
	EXPECT_LT(0, oks);
	/* Taking down needs no memory, failures or not. */
	unmap_all(_metadata, h);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
	ht_hat_close(h);
	EXPECT_EQ(self->active0, htable_stat("active_ptables"));
}

/* With allocations failing, UNMAP and close still give everything back. */
TEST_F_TIMEOUT(failnth, unmap_and_close_under_fail_nth, KNOB_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	int i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	knobs_present(_metadata);
	for (i = 0; i < 8; i++) {
		__u64 va = (i + 1) * HT_SZ_512G - 300 * HT_PAGE_SIZE;

		ASSERT_EQ(0, map_or_enomem(_metadata, h, va, 600, HTABLE_MAP_WRITE));
	}
	ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, variant->nth));
	for (i = 0; i < 8; i += 2) {
		__u64 va = (i + 1) * HT_SZ_512G - 300 * HT_PAGE_SIZE;

		ASSERT_EQ(0, ht_unmap(h->fd, va, 600));
		ht_model_remove(&h->m, va, 600);
		ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 7));
	}
	/* Closed with half of it still mapped, allocations still failing. */
	ht_hat_close(h);
	EXPECT_EQ(self->active0, htable_stat("active_ptables"));
	ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
}

/* Opening hats while allocations fail: each open works fully or not at all. */
TEST_F_TIMEOUT(failnth, open_under_fail_nth, KNOB_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	long long hats0 = htable_stat("hats");
	int fds[16], i, n = 0, enomem = 0;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	knobs_present(_metadata);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, variant->nth));
	for (i = 0; i < (int)ARRAY_SIZE(fds); i++) {
		struct ht_hat g;
		int ret = ht_hat_open(&g);

		if (ret) {
			EXPECT_EQ(-ENOMEM, ret);
			enomem++;
			continue;
		}
		/* A hat that opened is whole: its top table and nothing else. */
		EXPECT_EQ(0, ht_verify_info(g.fd, &g.m, g.levels, NULL));
		fds[n++] = g.fd;
	}
	TH_LOG("fail_nth %d: %d opens, %d ENOMEM", variant->nth, n, enomem);
	EXPECT_EQ(hats0 + n, htable_stat("hats"));
	for (i = 0; i < n; i++)
		close(fds[i]);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
	EXPECT_EQ(hats0, htable_stat("hats"));
	ht_hat_close(h);
	EXPECT_EQ(self->active0, htable_stat("active_ptables"));
}

FIXTURE(reserve) {
	struct ht_hat h;
	int err;
};

FIXTURE_SETUP(reserve)
{
	htable_knobs_reset();
	self->err = -ht_hat_open(&self->h);
}

FIXTURE_TEARDOWN(reserve)
{
	htable_knobs_reset();
	ht_hat_close(&self->h);
}

/*
 * The counters the reserve's policy moves (debugfs.rst): structures taken
 * from it (hs_htable_rgets) and put on it (hs_htable_rputs), steals,
 * ENOMEM from MAP, table pages held, the reserve's size, free tables
 * cached in hats, and hats.
 */
struct rc {
	long long rgets, rputs, steals, enomem, active, reserve, cached, hats;
};

static void rc_read(struct rc *c)
{
	c->rgets = htable_stat("hs_htable_rgets");
	c->rputs = htable_stat("hs_htable_rputs");
	c->steals = htable_stat("hs_steals");
	c->enomem = htable_stat("hs_enomem");
	c->active = htable_stat("active_ptables");
	c->reserve = htable_stat("reserve_cnt");
	c->cached = htable_stat("cached_tables");
	c->hats = htable_stat("hats");
}

/*
 * Did each counter move by exactly its delta in @d since @c0? Prints the
 * ones that did not and returns how many.
 */
static int rc_moved(const struct rc *c0, const struct rc *d)
{
	struct rc c1;
	const struct {
		const char *name;
		long long from, by;
	} f[] = {
		{ "hs_htable_rgets", c0->rgets, d->rgets },
		{ "hs_htable_rputs", c0->rputs, d->rputs },
		{ "hs_steals", c0->steals, d->steals },
		{ "hs_enomem", c0->enomem, d->enomem },
		{ "active_ptables", c0->active, d->active },
		{ "reserve_cnt", c0->reserve, d->reserve },
	};
	long long now[ARRAY_SIZE(f)];
	int bad = 0;
	size_t i;

	rc_read(&c1);
	now[0] = c1.rgets;
	now[1] = c1.rputs;
	now[2] = c1.steals;
	now[3] = c1.enomem;
	now[4] = c1.active;
	now[5] = c1.reserve;
	for (i = 0; i < ARRAY_SIZE(f); i++) {
		if (now[i] == f[i].from + f[i].by)
			continue;
		fprintf(stderr, "# %s: %lld, then %lld; expected a change of %lld\n",
			f[i].name, f[i].from, now[i], f[i].by);
		bad++;
	}
	return bad;
}

#define RC_MOVED(c0, d) EXPECT_EQ(0, rc_moved(&(c0), &(d)))

/* Tables below the top that the model's pages need. */
static long long model_tables(const struct ht_hat *h)
{
	struct htable_info exp;
	long long n = 0;
	int l;

	ht_model_expect(&h->m, h->levels, &exp);
	for (l = 0; l < h->levels - 1; l++)
		n += exp.tables[l];
	return n;
}

/* A hat with nothing cached, so every new table must come from elsewhere. */
static void no_cache(struct __test_metadata *_metadata, const struct ht_hat *h)
{
	struct htable_info info;

	ASSERT_EQ(0, ht_info(h->fd, &info));
	ASSERT_EQ(0, info.cached);
}

/*
 * force_reserve: every new table's structure comes from the reserve, one
 * per table the model says the maps build, and nothing is stolen.
 */
TEST_F_TIMEOUT(reserve, force_reserve_draws, KNOB_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	struct rc c0, d;
	long long want, rgets2;
	int i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	knobs_present(_metadata);
	no_cache(_metadata, h);
	rc_read(&c0);
	ASSERT_LE(16, c0.reserve);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 1));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, map_or_enomem(_metadata, h, (2 * i + 1) * HT_SZ_512G, 2,
					   HTABLE_MAP_WRITE));
	want = model_tables(h);
	TH_LOG("force_reserve: %lld tables, %lld reserve gets", want,
	       htable_stat("hs_htable_rgets") - c0.rgets);
	memset(&d, 0, sizeof(d));
	d.rgets = want;
	d.reserve = -want;
	d.active = want;
	RC_MOVED(c0, d);
	unmap_all(_metadata, h);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 0));
	/* Without it, ordinary maps do not touch the reserve. */
	rgets2 = htable_stat("hs_htable_rgets");
	ASSERT_EQ(0, map_or_enomem(_metadata, h, 11 * HT_SZ_512G, 2, 0));
	EXPECT_EQ(rgets2, htable_stat("hs_htable_rgets"));
	unmap_all(_metadata, h);
}

/*
 * reserve_amount: a write trims the reserve to the new amount or fills it
 * up to it, at once: exactly the amount, each structure counted.
 */
TEST_F_TIMEOUT(reserve, reserve_amount_exact, KNOB_TIMEOUT)
{
	static const long long amounts[] = { 100, 16, 1, 0, 5, 37, 0, 200 };
	struct ht_hat *h = &self->h;
	struct rc c0, d;
	size_t i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	knobs_present(_metadata);
	EXPECT_EQ(HTABLE_RESERVE_DEFAULT, htable_knob_read(HTABLE_RESERVE_AMOUNT_PATH));
	for (i = 0; i < ARRAY_SIZE(amounts); i++) {
		rc_read(&c0);
		ASSERT_EQ(0, htable_knob_write(HTABLE_RESERVE_AMOUNT_PATH, amounts[i]));
		EXPECT_EQ(amounts[i], htable_knob_read(HTABLE_RESERVE_AMOUNT_PATH));
		memset(&d, 0, sizeof(d));
		d.reserve = amounts[i] - c0.reserve;
		if (d.reserve < 0)
			d.rgets = -d.reserve;
		else
			d.rputs = d.reserve;
		RC_MOVED(c0, d);
	}
	EXPECT_EQ(HTABLE_RESERVE_DEFAULT, htable_stat("reserve_cnt"));
}

/*
 * An empty reserve under force_reserve: a map that needs a table has only
 * htable_steal() left, once (hs_steals + 1); with no other hat to steal
 * from it fails with ENOMEM, having taken nothing and changed nothing. A
 * map into a table that exists needs no structure, and a new hat's top
 * table can't be had at all: open() fails.
 */
TEST_F_TIMEOUT(reserve, empty_reserve, KNOB_TIMEOUT)
{
	struct ht_hat *h = &self->h, g;
	const __u64 va = 5 * HT_SZ_1G;
	struct rc c0, d;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	knobs_present(_metadata);
	ASSERT_EQ(0, map_or_enomem(_metadata, h, va, 1, HTABLE_MAP_WRITE));
	no_cache(_metadata, h);
	/* Only this hat: a steal has nothing to take. */
	ASSERT_EQ(1, htable_stat("hats"));
	ASSERT_EQ(0, htable_knob_write(HTABLE_RESERVE_AMOUNT_PATH, 0));
	ASSERT_EQ(0, htable_stat("reserve_cnt"));
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 1));
	memset(&d, 0, sizeof(d));

	rc_read(&c0);
	ASSERT_EQ(0, map_or_enomem(_metadata, h, va + HT_PAGE_SIZE, 1, 0));
	RC_MOVED(c0, d);

	rc_read(&c0);
	ASSERT_EQ(1, map_or_enomem(_metadata, h, va + HT_SZ_2M, 1, 0));
	d.steals = 1;
	d.enomem = 1;
	RC_MOVED(c0, d);
	no_cache(_metadata, h);

	rc_read(&c0);
	EXPECT_EQ(-ENOMEM, ht_hat_open(&g));
	ht_hat_close(&g);
	EXPECT_EQ(c0.hats, htable_stat("hats"));
	memset(&d, 0, sizeof(d));
	RC_MOVED(c0, d);

	/* The same map, the reserve no longer forced: it works. */
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 0));
	ASSERT_EQ(0, map_or_enomem(_metadata, h, va + HT_SZ_2M, 1, 0));
	unmap_all(_metadata, h);
}

/*
 * A reserve of k structures, forced: exactly k maps that each need one
 * new leaf table succeed, each taking one (reserve_cnt k - 1, ..., 0, no
 * steal); the next one steals once, finds nothing and fails. A map that
 * needs three tables from a reserve of two takes both, then fails: the
 * two built go back to the reserve or to the hat's cache.
 */
TEST_F_TIMEOUT(reserve, k_structures, KNOB_TIMEOUT)
{
	const long long k = 3;
	struct ht_hat *h = &self->h;
	const __u64 va = 5 * HT_SZ_1G;
	struct htable_info info;
	struct rc c0, d;
	long long i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	knobs_present(_metadata);
	ASSERT_EQ(0, map_or_enomem(_metadata, h, va, 1, HTABLE_MAP_WRITE));
	no_cache(_metadata, h);
	ASSERT_EQ(1, htable_stat("hats"));
	ASSERT_EQ(0, htable_knob_write(HTABLE_RESERVE_AMOUNT_PATH, k));
	ASSERT_EQ(k, htable_stat("reserve_cnt"));
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 1));
	memset(&d, 0, sizeof(d));
	d.rgets = 1;
	d.reserve = -1;
	d.active = 1;
	for (i = 1; i <= k; i++) {
		rc_read(&c0);
		ASSERT_EQ(0, map_or_enomem(_metadata, h, va + i * HT_SZ_2M, 1, 0))
			TH_LOG("map %lld of a reserve of %lld", i, k);
		RC_MOVED(c0, d);
	}
	EXPECT_EQ(0, htable_stat("reserve_cnt"));
	rc_read(&c0);
	ASSERT_EQ(1, map_or_enomem(_metadata, h, va + (k + 1) * HT_SZ_2M, 1, 0));
	memset(&d, 0, sizeof(d));
	d.steals = 1;
	d.enomem = 1;
	RC_MOVED(c0, d);

	/* Three new tables (levels 2, 1 and 0) from a reserve of two. */
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 0));
	ASSERT_EQ(0, htable_knob_write(HTABLE_RESERVE_AMOUNT_PATH, 2));
	ASSERT_EQ(2, htable_stat("reserve_cnt"));
	no_cache(_metadata, h);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 1));
	rc_read(&c0);
	ASSERT_EQ(1, map_or_enomem(_metadata, h, 3 * HT_SZ_512G, 1, 0));
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(c0.rgets + 2, htable_stat("hs_htable_rgets"));
	EXPECT_EQ(c0.steals + 1, htable_stat("hs_steals"));
	EXPECT_EQ(c0.enomem + 1, htable_stat("hs_enomem"));
	/* The two built: cached (their pages held), or back in the reserve. */
	EXPECT_EQ(2, htable_stat("reserve_cnt") + (long long)info.cached);
	EXPECT_EQ(c0.active + (long long)info.cached, htable_stat("active_ptables"));

	/* Not forced, the maps that failed work. */
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 0));
	ASSERT_EQ(0, map_or_enomem(_metadata, h, 3 * HT_SZ_512G, 1, 0));
	ASSERT_EQ(0, map_or_enomem(_metadata, h, va + (k + 1) * HT_SZ_2M, 1, 0));
	unmap_all(_metadata, h);
}

/*
 * An empty reserve, forced, with another hat holding an idle leaf table:
 * the map steals it (hs_steals + 1, the victim's stolen + 1) and takes no
 * structure from the reserve. The victim's page stays its own, unmapped
 * until RELOAD; its locked page, in a table no steal takes, stays mapped.
 */
TEST_F_TIMEOUT(reserve, empty_reserve_steals, KNOB_TIMEOUT)
{
	struct ht_hat *h = &self->h, v;
	const __u64 va = 5 * HT_SZ_1G, vva = 9 * HT_SZ_1G;
	struct htable_info vinfo0, vinfo1;
	struct htable_reload r;
	struct htable_probe p;
	struct rc c0, d;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	knobs_present(_metadata);
	ASSERT_EQ(0, map_or_enomem(_metadata, h, va, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_hat_open(&v));
	/* Two leaf tables under one level-1 table: one locked, one idle. */
	ASSERT_EQ(0, map_or_enomem(_metadata, &v, vva, 1, HTABLE_MAP_LOCK));
	ASSERT_EQ(0, map_or_enomem(_metadata, &v, vva + HT_SZ_2M, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(2, htable_stat("hats"));
	ASSERT_EQ(0, htable_stat("cached_tables"));
	ASSERT_EQ(0, ht_info(v.fd, &vinfo0));
	ASSERT_EQ(0, htable_knob_write(HTABLE_RESERVE_AMOUNT_PATH, 0));
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 1));

	rc_read(&c0);
	ASSERT_EQ(0, map_or_enomem(_metadata, h, va + HT_SZ_2M, 1, 0));
	memset(&d, 0, sizeof(d));
	d.steals = 1;
	RC_MOVED(c0, d);
	ASSERT_EQ(0, ht_info(v.fd, &vinfo1));
	EXPECT_EQ(vinfo0.stolen + 1, vinfo1.stolen);
	EXPECT_EQ(vinfo0.tables[0] - 1, vinfo1.tables[0]);
	EXPECT_EQ(vinfo0.tables[1], vinfo1.tables[1]);
	EXPECT_EQ(2, vinfo1.owned_pages);
	EXPECT_EQ(1, vinfo1.mapped_pages);
	ASSERT_EQ(0, ht_probe(v.fd, vva + HT_SZ_2M, &p));
	EXPECT_EQ(HTABLE_PROBE_OWNED, p.flags);
	EXPECT_EQ(0, ht_verify_probe(v.fd, vva, ht_model_find(&v.m, vva)));
	EXPECT_EQ(0, ht_verify_check(v.fd, NULL));

	ASSERT_EQ(0, htable_knobs_reset());
	memset(&r, 0, sizeof(r));
	r.va = vva;
	r.npages = 2 * HTABLE_2M_NPAGES;
	ASSERT_EQ(0, ht_ioctl(v.fd, HTABLE_IOC_RELOAD, &r));
	EXPECT_EQ(1, r.reloaded);
	EXPECT_EQ(0, ht_verify_model(v.fd, &v.m, v.levels, 1));
	unmap_all(_metadata, h);
	ht_hat_close(&v);
}

/* HTABLE_FAIL_HASH in the module's include/htable/fail.h: the hat's hash. */
#define SITE_HASH	6
#define HASH_VA		(3 * HT_SZ_512G)

/*
 * A hash that can't grow keeps the one it has, and no call fails for it:
 * an UNMAP least of all. A hat's hash starts with one bucket and grows
 * before a call that would leave it more than two tables a bucket. The
 * MAP below adds a table at every level under the top, so it tries to
 * grow the hash; when that fails, the UNMAP after it finds the hash still
 * too small and tries again. Every allocation of a hash fails for both.
 */
static int hash_fails_for(struct __test_metadata *_metadata, int fd,
			  unsigned long cmd, unsigned long va)
{
	long long calls0, failed0, calls, failed;
	int err;

	EXPECT_EQ(0, htable_fail_hits(SITE_HASH, &calls0, &failed0));
	EXPECT_EQ(0, htable_knob_write(HTABLE_FAIL_SITE_PATH, 1LL << SITE_HASH));
	EXPECT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 1));
	err = cmd == HTABLE_IOC_MAP ? ht_map(fd, va, 1, HTABLE_MAP_WRITE) : ht_unmap(fd, va, 1);
	EXPECT_EQ(0, htable_fail_hits(SITE_HASH, &calls, &failed));
	EXPECT_EQ(0, htable_knobs_reset());
	/* The growth was tried once, and failed. */
	EXPECT_EQ(calls0 + 1, calls);
	EXPECT_EQ(failed0 + 1, failed);
	return err;
}

TEST(unmap_while_the_hash_cannot_grow)
{
	struct ht_hat h;
	int err = -ht_hat_open(&h);

	if (htable_dev_missing(_metadata, h.fd < 0, err))
		return;
	ASSERT_EQ(0, htable_knobs_reset());
	err = hash_fails_for(_metadata, h.fd, HTABLE_IOC_MAP, HASH_VA);
	ASSERT_EQ(0, err) TH_LOG("MAP while the hash could not grow: %s", strerror(-err));
	ASSERT_EQ(0, ht_model_insert(&h.m, HASH_VA, 1, HTABLE_MAP_WRITE, 0, 0));
	ASSERT_EQ(0, ht_model_learn(h.fd, &h.m, HASH_VA, 1));
	err = hash_fails_for(_metadata, h.fd, HTABLE_IOC_UNMAP, HASH_VA);
	EXPECT_EQ(0, err) TH_LOG("UNMAP while the hash could not grow: %s", strerror(-err));
	if (!err)
		ht_model_remove(&h.m, HASH_VA, 1);
	EXPECT_EQ(0, ht_verify_model(h.fd, &h.m, h.levels, 1));
	ht_hat_close(&h);
}

TEST_HARNESS_MAIN
