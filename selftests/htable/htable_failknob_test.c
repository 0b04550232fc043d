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
 * give back every page-table page. Every test puts the tunables back (in
 * its teardown, so also when it fails).
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

	HT_NEED_DEV(h->fd < 0, self->err);
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

	HT_NEED_DEV(h->fd < 0, self->err);
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

	HT_NEED_DEV(h->fd < 0, self->err);
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

/* force_reserve: new tables take their htable structs from the reserve. */
TEST_F_TIMEOUT(reserve, force_reserve_draws, KNOB_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	long long rgets0, rgets1, rgets2;
	int i;

	HT_NEED_DEV(h->fd < 0, self->err);
	knobs_present(_metadata);
	rgets0 = htable_stat("hs_htable_rgets");
	ASSERT_LE(0, rgets0);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 1));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, map_or_enomem(_metadata, h, (2 * i + 1) * HT_SZ_512G, 2,
					   HTABLE_MAP_WRITE));
	rgets1 = htable_stat("hs_htable_rgets");
	EXPECT_LT(rgets0, rgets1);
	TH_LOG("force_reserve: %lld reserve gets mapping %llu pages", rgets1 - rgets0,
	       (unsigned long long)h->m.n);
	unmap_all(_metadata, h);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 0));
	/* Without it, ordinary maps do not touch the reserve. */
	rgets2 = htable_stat("hs_htable_rgets");
	ASSERT_EQ(0, map_or_enomem(_metadata, h, 11 * HT_SZ_512G, 2, 0));
	EXPECT_EQ(rgets2, htable_stat("hs_htable_rgets"));
	unmap_all(_metadata, h);
}

/* reserve_amount: lowering it trims the reserve to at most the new amount. */
TEST_F_TIMEOUT(reserve, reserve_amount_trims, KNOB_TIMEOUT)
{
	static const long long amounts[] = { 100, 16, 1, 0 };
	struct ht_hat *h = &self->h;
	size_t i;

	HT_NEED_DEV(h->fd < 0, self->err);
	knobs_present(_metadata);
	EXPECT_EQ(HTABLE_RESERVE_DEFAULT, htable_knob_read(HTABLE_RESERVE_AMOUNT_PATH));
	TH_LOG("reserve_cnt %lld at reserve_amount %d", htable_stat("reserve_cnt"),
	       HTABLE_RESERVE_DEFAULT);
	EXPECT_LE(0, htable_stat("reserve_cnt"));
	EXPECT_GE(HTABLE_RESERVE_DEFAULT, htable_stat("reserve_cnt"));
	for (i = 0; i < ARRAY_SIZE(amounts); i++) {
		ASSERT_EQ(0, htable_knob_write(HTABLE_RESERVE_AMOUNT_PATH, amounts[i]));
		EXPECT_EQ(amounts[i], htable_knob_read(HTABLE_RESERVE_AMOUNT_PATH));
		EXPECT_LE(0, htable_stat("reserve_cnt"));
		EXPECT_GE(amounts[i], htable_stat("reserve_cnt"))
			TH_LOG("reserve_amount %lld", amounts[i]);
	}
	ASSERT_EQ(0, htable_knob_write(HTABLE_RESERVE_AMOUNT_PATH, HTABLE_RESERVE_DEFAULT));
	EXPECT_EQ(HTABLE_RESERVE_DEFAULT, htable_knob_read(HTABLE_RESERVE_AMOUNT_PATH));
	EXPECT_GE(HTABLE_RESERVE_DEFAULT, htable_stat("reserve_cnt"));
}

/*
 * A small reserve that force_reserve must draw from: maps either succeed
 * or fail with ENOMEM having changed nothing, and all of it comes back.
 */
TEST_F_TIMEOUT(reserve, small_forced_reserve, KNOB_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	int i, fails = 0;

	HT_NEED_DEV(h->fd < 0, self->err);
	knobs_present(_metadata);
	ASSERT_EQ(0, htable_knob_write(HTABLE_RESERVE_AMOUNT_PATH, 4));
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 1));
	for (i = 0; i < 12; i++)
		fails += map_or_enomem(_metadata, h, (i + 1) * HT_SZ_512G + i * HT_SZ_1G,
				       1 + i * 100, HTABLE_MAP_WRITE);
	TH_LOG("reserve_amount 4, forced: %d of 12 maps failed", fails);
	unmap_all(_metadata, h);
	ASSERT_EQ(0, htable_knobs_reset());
}

TEST_HARNESS_MAIN
