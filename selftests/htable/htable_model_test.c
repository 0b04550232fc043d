// SPDX-License-Identifier: GPL-2.0
/*
 * Random MAP/UNMAP/PROBE sequences against a model of the hat kept here
 * (htable_model.h: a sorted array of the mapped pages with their flags and
 * tags). Every call's result must be the one the model predicts, EEXIST
 * and ENOENT included; every so often PROBE of every page in the window,
 * the tag of every mapped page (written through RW when it was mapped,
 * inherited by its aliases), INFO (by the table rule) and CHECK are
 * compared with the model too.
 *
 * The seed is printed; HTABLE_SEED=<seed> replays a run and HTABLE_OPS=<n>
 * changes its length. A run must do all its operations: one still going
 * at the hang guard fails.
 */
#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"
#include "htable_random.h"

#define MODEL_TIMEOUT	300
#define MODEL_OPS	2500
/*
 * On a KASAN kernel each operation costs about ten times as much; the
 * debug row is there for lockdep, KASAN and kmemleak, which see every
 * operation kind well before 1000 of them.
 */
#define MODEL_OPS_KASAN	1000
#define VERIFY_EVERY	250
/* Between the full checks at the start and the end, every 4th tag. */
#define TAG_STRIDE	4
/* Far beyond the 10 s the debug kernel takes; fail before the harness's timeout. */
#define MODEL_GUARD_S	200.0

FIXTURE(model) {
	struct ht_hat h;
	int err;
	struct ht_seg seg[4];
	int nseg;
};

FIXTURE_VARIANT(model) {
	int wide;
};

/* 1536 pages across the 1 GiB boundary: the lower tables churn. */
FIXTURE_VARIANT_ADD(model, narrow) {
	.wide = 0,
};

/*
 * 2048 pages across a 1 GiB boundary, 1024 across a 512 GiB boundary,
 * the last 1024 pages below the top of the lower half and, on a 5-level
 * hat, 512 across 256 TiB: every level's tables come and go.
 */
FIXTURE_VARIANT_ADD(model, wide) {
	.wide = 1,
};

static int window(int wide, __u64 limit, int levels, struct ht_seg *seg)
{
	if (!wide) {
		seg[0].va = HT_SZ_1G - 768 * HT_PAGE_SIZE;
		seg[0].npages = 1536;
		return 1;
	}
	seg[0].va = 5 * HT_SZ_1G - 1024 * HT_PAGE_SIZE;
	seg[0].npages = 2048;
	seg[1].va = 3 * HT_SZ_512G - 512 * HT_PAGE_SIZE;
	seg[1].npages = 1024;
	if (levels == 5) {
		seg[2].va = HT_SZ_256T - 256 * HT_PAGE_SIZE;
		seg[2].npages = 512;
		seg[3].va = limit - 1024 * HT_PAGE_SIZE;
		seg[3].npages = 1024;
		return 4;
	}
	seg[2].va = limit - 1024 * HT_PAGE_SIZE;
	seg[2].npages = 1024;
	return 3;
}

FIXTURE_SETUP(model)
{
	self->err = -ht_hat_open(&self->h);
	if (!self->err)
		self->nseg = window(variant->wide, self->h.limit, self->h.levels, self->seg);
}

FIXTURE_TEARDOWN(model)
{
	ht_hat_close(&self->h);
}

static unsigned long ops_wanted(void)
{
	const char *env = getenv("HTABLE_OPS");

	if (env && *env)
		return strtoul(env, NULL, 0);
	return ht_kernel_has_kasan() ? MODEL_OPS_KASAN : MODEL_OPS;
}

static void log_run(struct __test_metadata *_metadata, const struct ht_rnd *r,
		    double secs)
{
	TH_LOG("%lu ops in %.1f s: %lu maps (%lu EEXIST, %lu ENOENT), %lu unmaps (%lu ENOENT)",
	       r->op, secs, r->maps, r->map_eexist, r->map_enoent, r->unmaps,
	       r->unmap_enoent);
	TH_LOG("%lu probes, %lu clears, %lu tags read back", r->probes, r->clears,
	       r->tags_read);
}

TEST_F_TIMEOUT(model, random_ops, MODEL_TIMEOUT)
{
	unsigned long ops = ops_wanted();
	__u64 seed = ht_seed();
	struct ht_rnd r;
	double t0;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	ASSERT_TRUE(self->h.levels == 4 || self->h.levels == 5);
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx replays), %lu ops",
	       seed, seed, ops);
	ht_rnd_init(&r, &self->h, self->seg, self->nseg, seed);
	ASSERT_EQ(0, ht_rnd_verify(&r));
	t0 = ht_now();
	r.tag_stride = TAG_STRIDE;
	while (r.op < ops) {
		ASSERT_EQ(0, ht_rnd_op(&r, 0)) {
			TH_LOG("seed %#llx: op %lu diverged from the model", seed, r.op - 1);
		}
		if (r.op % VERIFY_EVERY == 0) {
			ASSERT_EQ(0, ht_rnd_verify(&r)) {
				TH_LOG("seed %#llx: after op %lu", seed, r.op - 1);
			}
		}
		ASSERT_GT(MODEL_GUARD_S, ht_now() - t0)
			TH_LOG("hang guard: only %lu of %lu ops", r.op, ops);
	}
	r.tag_stride = 1;
	ASSERT_EQ(0, ht_rnd_verify(&r)) TH_LOG("seed %#llx: at the end", seed);
	log_run(_metadata, &r, ht_now() - t0);
	/* Enough of each outcome for the run to mean something. */
	if (r.op >= 1000) {
		EXPECT_LT(0, r.maps);
		EXPECT_LT(0, r.map_eexist);
		EXPECT_LT(0, r.map_enoent);
		EXPECT_LT(0, r.unmaps);
		EXPECT_LT(0, r.unmap_enoent);
	}
	/* Take everything down: only the top table is left. */
	while (self->h.m.n)
		ASSERT_EQ(0, ht_rnd_clear(&r));
	ASSERT_EQ(0, ht_rnd_verify(&r));
}

/*
 * Two hats driven by different seeds on the same window, interleaved:
 * neither may see the other's mappings.
 */
TEST_F_TIMEOUT(model, two_hats_interleaved, MODEL_TIMEOUT)
{
	unsigned long ops = ops_wanted() / 2;
	__u64 seed = ht_seed();
	struct ht_rnd r1, r2;
	struct ht_hat h2;
	double t0;

	if (htable_dev_missing(_metadata, self->h.fd < 0, self->err))
		return;
	ASSERT_TRUE(self->h.levels == 4 || self->h.levels == 5);
	ASSERT_EQ(0, ht_hat_open(&h2));
	TH_LOG("seed %#llx (HTABLE_SEED=%#llx replays), %lu ops per hat",
	       seed, seed, ops);
	ht_rnd_init(&r1, &self->h, self->seg, self->nseg, seed);
	ht_rnd_init(&r2, &h2, self->seg, self->nseg, ~seed);
	r1.tag_stride = TAG_STRIDE;
	r2.tag_stride = TAG_STRIDE;
	t0 = ht_now();
	while (r1.op < ops) {
		ASSERT_EQ(0, ht_rnd_op(&r1, 0)) TH_LOG("hat 1, op %lu", r1.op - 1);
		ASSERT_EQ(0, ht_rnd_op(&r2, 0)) TH_LOG("hat 2, op %lu", r2.op - 1);
		if (r1.op % VERIFY_EVERY == 0) {
			ASSERT_EQ(0, ht_rnd_verify(&r1)) TH_LOG("hat 1, op %lu", r1.op - 1);
			ASSERT_EQ(0, ht_rnd_verify(&r2)) TH_LOG("hat 2, op %lu", r2.op - 1);
		}
		ASSERT_GT(MODEL_GUARD_S, ht_now() - t0)
			TH_LOG("hang guard: only %lu of %lu ops", r1.op, ops);
	}
	r1.tag_stride = 1;
	r2.tag_stride = 1;
	ASSERT_EQ(0, ht_rnd_verify(&r1));
	ASSERT_EQ(0, ht_rnd_verify(&r2));
	/* Closing one hat with its mappings leaves the other intact. */
	ht_hat_close(&h2);
	ASSERT_EQ(0, ht_rnd_verify(&r1));
}

TEST_HARNESS_MAIN
