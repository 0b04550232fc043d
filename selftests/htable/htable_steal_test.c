// SPDX-License-Identifier: GPL-2.0
/*
 * Stealing and reaping (Documentation/steal-reap.rst), driven by the knobs
 * in /sys/kernel/debug/htable/:
 *
 *   ptable_cap     most lower tables; at the cap every new one is stolen
 *   force_steal    every Nth table allocation steals first
 *   steal_passes   htable_steal()'s passes (default 8, clamped to 1..512)
 *   reap           writing N runs htable_reap(N) now
 *
 * and by /proc/sys/vm/drop_caches, which calls htable's shrinker.
 *
 * A stolen translation loses its entry, never its page: PROBE then shows
 * HTABLE_PROBE_OWNED without PRESENT, RW still reaches the data, and
 * RELOAD rebuilds the translation with the page and flags it had (the
 * model of each hat, from htable_model.h, holds the pfns PROBE reported
 * before the steal). Locked mappings are never stolen, and a MAP that can
 * get no table fails with ENOMEM having changed nothing. CHECK must be
 * clean on every hat after every step, and closing every hat must give
 * back every table. Every test resets the knobs in its setup (a test
 * killed by its timeout skips its teardown) and in its teardown.
 *
 * The cases are all here; their helpers that need no harness are in
 * htable_steal_hats.c (a hat and its model around steals) and
 * htable_steal_churn.c (the threads of close_while_stealing), declared in
 * htable_steal.h.
 */
#include <limits.h>

#include "kselftest_harness.h"
#include "htable_steal.h"

#define STEAL_TIMEOUT	300

/* The knobs exist and take writes; then open @n hats. */
static void ctx_start(struct __test_metadata *_metadata, struct steal_ctx *c, int n)
{
	int i, ret;

	ASSERT_EQ(0, access(PTABLE_CAP_PATH, W_OK)) TH_LOG("%s", PTABLE_CAP_PATH);
	ASSERT_EQ(0, access(FORCE_STEAL_PATH, W_OK)) TH_LOG("%s", FORCE_STEAL_PATH);
	ASSERT_EQ(0, access(STEAL_PASSES_PATH, W_OK)) TH_LOG("%s", STEAL_PASSES_PATH);
	ASSERT_EQ(0, access(HTABLE_REAP_PATH, W_OK)) TH_LOG("%s", HTABLE_REAP_PATH);
	ASSERT_EQ(0, htable_knobs_reset());
	ASSERT_LE(0, c->hats0);
	ASSERT_LE(0, c->active0);
	for (i = 0; i < n; i++) {
		ret = ht_hat_open(&c->h[i]);
		ASSERT_EQ(0, ret) TH_LOG("open hat %d: %s", i, strerror(-ret));
	}
}

/* Close every hat: the hat count and active_ptables are back to the start. */
static void ctx_finish(struct __test_metadata *_metadata, struct steal_ctx *c)
{
	int i;

	ASSERT_EQ(0, htable_knobs_reset());
	for (i = 0; i < MAX_HATS; i++)
		ht_hat_close(&c->h[i]);
	EXPECT_EQ(c->hats0, htable_stat("hats"));
	EXPECT_EQ(c->active0, htable_stat("active_ptables"));
}

/* Map @h's model pages again after steals: RELOAD must rebuild @pages. */
static void reload_ok(struct __test_metadata *_metadata, struct ht_hat *h, __u64 pages)
{
	__u64 n;
	int ret;

	ret = steal_reload_model(h, &n);
	ASSERT_EQ(0, ret) TH_LOG("RELOAD: %s", strerror(-ret));
	EXPECT_EQ(pages, n);
	/* Same pages, same flags, same pfns, the tables the model predicts. */
	EXPECT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

FIXTURE(steal) {
	struct steal_ctx c;
};

FIXTURE_SETUP(steal)
{
	steal_ctx_setup(&self->c);
}

FIXTURE_TEARDOWN(steal)
{
	steal_ctx_teardown(&self->c);
}

#define SPREAD_VICTIMS	4
#define SPREAD_TABLES	8
#define SPREAD_MAPS	12

/*
 * With a cap, a hat that maps past it steals from the others, and the
 * victims rotate. Four hats hold 8 full leaf tables each, the caches are
 * empty, and the cap is what is allocated; a fifth hat then maps 12 new
 * leaf tables' worth. Every table it needs must be stolen: passes 1..7
 * find nothing (full tables), pass 8 takes one table from the first hat on
 * the list whose hat_seg_lock is free (never the stealer's own, held by
 * its MAP), and that hat moves to the back. So the victims give in strict
 * rotation, and the spread (max - min of INFO.stolen) is at most 1; the
 * test also checks the exact round-robin counts.
 */
TEST_F_TIMEOUT(steal, spread_under_cap, STEAL_TIMEOUT)
{
	struct steal_ctx *c = &self->c;
	struct ht_hat *s = &c->h[SPREAD_VICTIMS];
	long long cap, steals0, steals, sum = 0, min = LLONG_MAX, max = 0;
	__u64 stolen[SPREAD_VICTIMS], pages;
	struct htable_info info;
	int v, k, ret;

	if (htable_dev_missing(_metadata, c->err, c->err))
		return;
	ctx_start(_metadata, c, SPREAD_VICTIMS + 1);
	for (v = 0; v < SPREAD_VICTIMS; v++) {
		ret = steal_map_model(&c->h[v], VA_V, SPREAD_TABLES * PTES, HTABLE_MAP_WRITE);
		ASSERT_EQ(0, ret) TH_LOG("victim %d MAP: %s", v, strerror(-ret));
	}
	ASSERT_EQ(0, ht_drain_caches());
	cap = htable_stat("active_ptables");
	ASSERT_LT(0, cap);
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, cap));
	ASSERT_EQ(cap, htable_knob_read(PTABLE_CAP_PATH));

	steals0 = htable_stat("hs_steals");
	for (k = 0; k < SPREAD_MAPS; k++) {
		ret = steal_map_model(s, VA_S + k * HT_SZ_2M, PTES, HTABLE_MAP_WRITE);
		ASSERT_EQ(0, ret) TH_LOG("stealer MAP %d under cap %lld: %s", k, cap,
					 strerror(-ret));
	}
	steals = htable_stat("hs_steals") - steals0;
	/* The first map's branch (levels - 1 tables), then one leaf a map. */
	EXPECT_EQ(s->levels - 1 + SPREAD_MAPS - 1, steals);
	/* Stolen tables are reused, never allocated: the count stays. */
	EXPECT_EQ(cap, htable_stat("active_ptables"));

	for (v = 0; v < SPREAD_VICTIMS; v++) {
		struct ht_hat *h = &c->h[v];

		ASSERT_EQ(0, ht_info(h->fd, &info));
		stolen[v] = info.stolen;
		EXPECT_EQ(0, steal_verify_stolen(h, &pages)) TH_LOG("victim %d", v);
		EXPECT_EQ(stolen[v] * PTES, pages) TH_LOG("victim %d", v);
		EXPECT_EQ(0, steal_verify_info_stolen(h, pages, &info)) TH_LOG("victim %d", v);
		EXPECT_EQ(SPREAD_TABLES - stolen[v], info.tables[0]) TH_LOG("victim %d", v);
		sum += stolen[v];
		min = stolen[v] < min ? stolen[v] : min;
		max = stolen[v] > max ? stolen[v] : max;
	}
	TH_LOG("%lld steals; INFO.stolen of the victims: %llu %llu %llu %llu",
	       steals, stolen[0], stolen[1], stolen[2], stolen[3]);
	EXPECT_EQ(steals, sum);
	EXPECT_LE(max - min, 1) TH_LOG("victims not rotated evenly");
	for (v = 0; v < SPREAD_VICTIMS; v++) {
		EXPECT_EQ(steals / SPREAD_VICTIMS + (v < steals % SPREAD_VICTIMS), stolen[v])
			TH_LOG("victim %d out of round-robin order", v);
	}
	EXPECT_EQ(steals, steal_hats_file_stolen());
	/* The stealer lost nothing, not even to itself. */
	ASSERT_EQ(0, ht_info(s->fd, &info));
	EXPECT_EQ(0, info.stolen);
	EXPECT_EQ(0, ht_verify_model(s->fd, &s->m, s->levels, 7));

	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, 0));
	for (v = 0; v < SPREAD_VICTIMS; v++)
		reload_ok(_metadata, &c->h[v], stolen[v] * PTES);
	EXPECT_EQ(0, ht_verify_model(s->fd, &s->m, s->levels, 7));
	ctx_finish(_metadata, c);
}

/*
 * Locked mappings are never stolen. One hat maps only LOCK pages, another
 * two unlocked tables, and a third maps under the cap until only locked
 * tables (and its own) are left: it takes the unlocked hat's two, may get
 * the tables their emptied parents gave back, and then MAP fails with
 * ENOMEM. That failure changes nothing anywhere, and neither reaping nor
 * drop_caches touches the locked hat.
 */
TEST_F_TIMEOUT(steal, locked_never_stolen, STEAL_TIMEOUT)
{
	struct steal_ctx *c = &self->c;
	struct ht_hat *l = &c->h[0], *u = &c->h[1], *s = &c->h[2];
	struct htable_info before[3], after[3], info;
	long long cap, enomem0, active;
	struct htable_probe p;
	int i, k, ok = 0, ret;
	__u64 va, pages;

	if (htable_dev_missing(_metadata, c->err, c->err))
		return;
	ctx_start(_metadata, c, 3);
	ASSERT_EQ(0, steal_map_model(l, VA_V, 4 * PTES, HTABLE_MAP_LOCK | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, steal_map_model(u, VA_V, 2 * PTES, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, steal_map_model(s, VA_S, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_drain_caches());
	cap = htable_stat("active_ptables");
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, cap));

	for (k = 1; k <= 32; k++) {
		va = VA_S + k * HT_SZ_2M;
		ret = steal_map_model(s, va, 1, HTABLE_MAP_WRITE);
		if (ret == -ENOMEM)
			break;
		ASSERT_EQ(0, ret) TH_LOG("MAP %d under the cap: %s", k, strerror(-ret));
		ok++;
	}
	TH_LOG("%d one-table maps succeeded under the cap, then ENOMEM", ok);
	ASSERT_GE(32, k) TH_LOG("MAP never failed with only locked tables left");
	EXPECT_LE(2, ok);
	ASSERT_EQ(0, ht_probe(s->fd, va, &p));
	EXPECT_EQ(0, p.flags) TH_LOG("a failed MAP left flags %#x", p.flags);

	/* The unlocked hat gave both tables; the locked one and the stealer none. */
	ASSERT_EQ(0, ht_info(u->fd, &info));
	EXPECT_EQ(2, info.stolen);
	EXPECT_EQ(0, steal_verify_stolen(u, &pages));
	EXPECT_EQ(2 * PTES, pages);
	EXPECT_EQ(0, steal_verify_info_stolen(u, pages, NULL));
	ASSERT_EQ(0, ht_info(l->fd, &info));
	EXPECT_EQ(0, info.stolen);
	EXPECT_EQ(4 * PTES, info.locked);
	EXPECT_EQ(0, ht_verify_model(l->fd, &l->m, l->levels, 1));
	ASSERT_EQ(0, ht_info(s->fd, &info));
	EXPECT_EQ(0, info.stolen);
	EXPECT_EQ(0, ht_verify_model(s->fd, &s->m, s->levels, 1));

	/* Once more: ENOMEM, counted once, and not one thing changed. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, ht_info(c->h[i].fd, &before[i]));
		EXPECT_EQ(0, ht_verify_check(c->h[i].fd, &before[i]));
	}
	enomem0 = htable_stat("hs_enomem");
	active = htable_stat("active_ptables");
	ret = ht_map(s->fd, va, 1, HTABLE_MAP_WRITE);
	EXPECT_EQ(-ENOMEM, ret) TH_LOG("MAP with only locked tables left: %s", strerror(-ret));
	EXPECT_EQ(enomem0 + 1, htable_stat("hs_enomem"));
	EXPECT_EQ(active, htable_stat("active_ptables"));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, ht_info(c->h[i].fd, &after[i]));
		EXPECT_EQ(0, memcmp(&before[i], &after[i], sizeof(after[i])))
			TH_LOG("hat %d: INFO changed by a failed MAP", i);
		EXPECT_EQ(0, ht_info_diff(&before[i], &after[i], 1));
		EXPECT_EQ(0, ht_verify_check(c->h[i].fd, &after[i]));
	}
	ASSERT_EQ(0, ht_probe(s->fd, va, &p));
	EXPECT_EQ(0, p.flags);

	/* Reaping skips locked tables too (the stealer's idle ones may go). */
	ASSERT_EQ(0, htable_knob_write(HTABLE_REAP_PATH, 0));
	ASSERT_EQ(0, htable_knob_write(DROP_CACHES_PATH, 2));
	ASSERT_EQ(0, ht_info(l->fd, &info));
	EXPECT_EQ(0, info.stolen);
	EXPECT_EQ(0, ht_verify_model(l->fd, &l->m, l->levels, 1));
	EXPECT_EQ(0, steal_verify_stolen(s, &pages));
	EXPECT_EQ(0, steal_verify_info_stolen(s, pages, NULL));

	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, 0));
	reload_ok(_metadata, u, 2 * PTES);
	reload_ok(_metadata, s, pages);
	EXPECT_EQ(0, ht_verify_model(l->fd, &l->m, l->levels, 1));
	ctx_finish(_metadata, c);
}

/*
 * Data survives a steal and a reload. Hat A maps four tables with four
 * flag sets and gets distinct bytes in every page (through RW); all four
 * tables are then stolen for hat B. PROBE shows them owned but not
 * present, RW still reads the data, RELOAD rebuilds exactly those pages
 * with the same pfns and flags, and a VERIFY window on a CPU reads every
 * page through the rebuilt tables: the translations point at the pages
 * the hat recorded. The data outside the words VERIFY writes is intact.
 */
TEST_F_TIMEOUT(steal, data_survives_steal_and_reload, STEAL_TIMEOUT)
{
	static const __u32 flags[] = {
		HTABLE_MAP_WRITE, HTABLE_MAP_WRITE | HTABLE_MAP_EXEC, 0, HTABLE_MAP_EXEC,
	};
	const __u64 seed = 0x5eed0f57ea15ULL;
	struct steal_ctx *c = &self->c;
	struct ht_hat *a = &c->h[0], *b = &c->h[1];
	__u8 buf[DATA_LEN];
	__u64 pages, reloaded;
	long long steals0;
	struct htable_info info;
	struct htable_run r;
	unsigned int j;
	size_t i;
	int k, ret;

	if (htable_dev_missing(_metadata, c->err, c->err))
		return;
	ctx_start(_metadata, c, 2);
	for (k = 0; k < (int)ARRAY_SIZE(flags); k++) {
		ret = steal_map_model(a, VA_V + k * HT_SZ_2M, PTES, flags[k]);
		ASSERT_EQ(0, ret) TH_LOG("A's MAP %d: %s", k, strerror(-ret));
	}
	for (i = 0; i < a->m.n; i++) {
		for (j = 0; j < DATA_LEN; j++)
			buf[j] = steal_data_byte(i, j);
		ASSERT_EQ(0, ht_rw(a->fd, a->m.pg[i].va + DATA_OFF, buf, DATA_LEN,
				   HTABLE_RW_WRITE));
	}
	ASSERT_EQ(0, steal_check_data(a, 0, 0));
	/* B's branch exists before the cap: each of its maps needs one leaf. */
	ASSERT_EQ(0, steal_map_model(b, VA_S, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_drain_caches());
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, htable_stat("active_ptables")));

	steals0 = htable_stat("hs_steals");
	for (k = 1; k <= (int)ARRAY_SIZE(flags); k++) {
		ret = steal_map_model(b, VA_S + k * HT_SZ_2M, PTES, HTABLE_MAP_WRITE);
		ASSERT_EQ(0, ret) TH_LOG("B's MAP %d under the cap: %s", k, strerror(-ret));
	}
	EXPECT_EQ(ARRAY_SIZE(flags), htable_stat("hs_steals") - steals0);
	ASSERT_EQ(0, ht_info(a->fd, &info));
	EXPECT_EQ(ARRAY_SIZE(flags), info.stolen);
	EXPECT_EQ(0, info.tables[0]);
	EXPECT_EQ(0, steal_verify_stolen(a, &pages));
	EXPECT_EQ(a->m.n, pages);
	EXPECT_EQ(0, steal_verify_info_stolen(a, pages, NULL));
	EXPECT_EQ(0, ht_verify_model(b->fd, &b->m, b->levels, 1));
	/* The pages never left the hat: RW reads them through the direct map. */
	EXPECT_EQ(0, steal_check_data(a, 0, 0));

	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, 0));
	ret = ht_reload(a->fd, VA_V, ARRAY_SIZE(flags) * PTES, &reloaded);
	ASSERT_EQ(0, ret) TH_LOG("RELOAD: %s", strerror(-ret));
	EXPECT_EQ(a->m.n, reloaded);
	/* Same pfns and flags as before the steal, and the tables are back. */
	EXPECT_EQ(0, ht_verify_model(a->fd, &a->m, a->levels, 1));
	/* A second RELOAD has nothing left to do. */
	ASSERT_EQ(0, ht_reload(a->fd, VA_V, ARRAY_SIZE(flags) * PTES, &reloaded));
	EXPECT_EQ(0, reloaded);

	memset(&r, 0, sizeof(r));
	r.cpu = steal_window_cpu();
	r.mode = HTABLE_RUN_VERIFY;
	r.va = VA_V;
	r.npages = a->m.n;
	r.seed = seed;
	ret = ht_ioctl(a->fd, HTABLE_IOC_RUN, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY on CPU %u: %s", r.cpu, strerror(-ret));
	EXPECT_EQ(a->m.n, r.verified);
	EXPECT_EQ(0, r.mismatches) TH_LOG("first mismatch %#llx", r.first_mismatch_va);
	EXPECT_EQ(0, r.faults) TH_LOG("first fault %#llx", r.first_fault_va);
	EXPECT_EQ(0, r.watchdog);
	/* Word 0 holds VERIFY's pattern, the bytes after it are still ours. */
	EXPECT_EQ(0, steal_check_data(a, 1, seed));
	EXPECT_EQ(0, ht_verify_model(a->fd, &a->m, a->levels, 7));
	ctx_finish(_metadata, c);
}

/*
 * drop_caches calls the shrinker, which reaps cached tables first: a hat
 * that mapped and unmapped 18 leaf tables holds them (and their emptied
 * parents) in its cache; after drop_caches the cache is empty, the hat's
 * INFO.stolen counts them, hs_reaped and hs_reap_attempts rose, and
 * active_ptables fell by at least as much. Another hat that keeps its
 * mappings may lose idle translations to the same reap (the shrinker may
 * scan past the count): it must still be sound and RELOAD must restore it.
 */
TEST_F_TIMEOUT(steal, drop_caches_reaps, STEAL_TIMEOUT)
{
	struct steal_ctx *c = &self->c;
	struct ht_hat *h = &c->h[0], *o = &c->h[1];
	long long cached, reaped0, attempts0, active0;
	struct htable_info info;
	__u64 pages;
	int k, ret;

	if (htable_dev_missing(_metadata, c->err, c->err))
		return;
	ctx_start(_metadata, c, 2);
	ASSERT_EQ(0, steal_map_model(o, VA_V, 3 * PTES, HTABLE_MAP_WRITE | HTABLE_MAP_EXEC));
	for (k = 0; k < 18; k++) {
		ret = ht_map(h->fd, VA_S + k * HT_SZ_2M, 1, HTABLE_MAP_WRITE);
		ASSERT_EQ(0, ret) TH_LOG("MAP %d: %s", k, strerror(-ret));
	}
	for (k = 0; k < 18; k++) {
		ret = ht_unmap(h->fd, VA_S + k * HT_SZ_2M, 1);
		ASSERT_EQ(0, ret) TH_LOG("UNMAP %d: %s", k, strerror(-ret));
	}
	ASSERT_EQ(0, ht_verify_info(h->fd, &h->m, h->levels, &info));
	/* 18 leaves and the branch above them, all in the cache. */
	EXPECT_EQ(18 + h->levels - 2, info.cached);
	cached = htable_stat("cached_tables");
	EXPECT_EQ(info.cached, cached);
	ASSERT_LT(0, cached);

	reaped0 = htable_stat("hs_reaped");
	attempts0 = htable_stat("hs_reap_attempts");
	active0 = htable_stat("active_ptables");
	ASSERT_EQ(0, htable_knob_write(DROP_CACHES_PATH, 2));
	TH_LOG("drop_caches: %lld cached; %lld reap attempts, %lld reaped, active %lld -> %lld",
	       cached, htable_stat("hs_reap_attempts") - attempts0,
	       htable_stat("hs_reaped") - reaped0, active0, htable_stat("active_ptables"));
	EXPECT_LT(attempts0, htable_stat("hs_reap_attempts"));
	EXPECT_LE(reaped0 + cached, htable_stat("hs_reaped"));
	EXPECT_EQ(0, htable_stat("cached_tables"));
	EXPECT_GE(active0 - cached, htable_stat("active_ptables"));
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(0, info.cached);
	/* Free tables held no translation: a reap of them steals nothing. */
	EXPECT_EQ(0, info.stolen);
	EXPECT_EQ(0, ht_verify_info(h->fd, &h->m, h->levels, NULL));

	EXPECT_EQ(0, steal_verify_stolen(o, &pages));
	EXPECT_EQ(0, steal_verify_info_stolen(o, pages, NULL));
	TH_LOG("the other hat lost %llu of %zu translations", pages, o->m.n);
	reload_ok(_metadata, o, pages);
	ctx_finish(_metadata, c);
}

/*
 * force_steal=3: every third table allocation steals first, cap or not.
 * A hat maps 24 pages in 24 new 2 MiB regions (a leaf each, plus its
 * branch); the steals counted must be a third of its allocations (the
 * knob's count is global and keeps its phase, hence floor or ceiling), and
 * each took a full table from the only other hat (pass 8). Neither hat
 * loses soundness, and the victim reloads to exactly what it had.
 */
TEST_F_TIMEOUT(steal, force_steal_every_third, STEAL_TIMEOUT)
{
	struct steal_ctx *c = &self->c;
	struct ht_hat *v = &c->h[0], *m = &c->h[1];
	long long steals0, steals, active0, allocs = 0;
	struct htable_info info;
	__u64 pages;
	int k, l;

	if (htable_dev_missing(_metadata, c->err, c->err))
		return;
	ctx_start(_metadata, c, 2);
	ASSERT_EQ(0, steal_map_model(v, VA_V, 12 * PTES, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_drain_caches());
	active0 = htable_stat("active_ptables");
	steals0 = htable_stat("hs_steals");
	ASSERT_EQ(0, htable_knob_write(FORCE_STEAL_PATH, 3));
	ASSERT_EQ(3, htable_knob_read(FORCE_STEAL_PATH));
	for (k = 0; k < 24; k++) {
		ASSERT_EQ(0, steal_map_model(m, VA_S + k * HT_SZ_2M, 1, HTABLE_MAP_WRITE))
			TH_LOG("MAP %d with force_steal 3", k);
	}
	ASSERT_EQ(0, htable_knob_write(FORCE_STEAL_PATH, 0));
	steals = htable_stat("hs_steals") - steals0;

	ASSERT_EQ(0, ht_verify_info(m->fd, &m->m, m->levels, &info));
	for (l = 0; l < m->levels - 1; l++)
		allocs += info.tables[l];
	TH_LOG("force_steal 3: %lld allocations, %lld steals", allocs, steals);
	EXPECT_LE(allocs / 3, steals);
	EXPECT_GE((allocs + 2) / 3, steals);
	/* Each steal reused a victim's table instead of a new page. */
	EXPECT_EQ(active0 + allocs - steals, htable_stat("active_ptables"));
	EXPECT_EQ(0, info.stolen);
	EXPECT_EQ(0, ht_verify_model(m->fd, &m->m, m->levels, 1));

	ASSERT_EQ(0, ht_info(v->fd, &info));
	EXPECT_EQ(steals, info.stolen);
	EXPECT_EQ(0, steal_verify_stolen(v, &pages));
	EXPECT_EQ(steals * PTES, pages);
	EXPECT_EQ(0, steal_verify_info_stolen(v, pages, NULL));
	reload_ok(_metadata, v, pages);
	EXPECT_EQ(0, ht_verify_model(m->fd, &m->m, m->levels, 1));
	ctx_finish(_metadata, c);
}

/*
 * force_steal with nothing to steal: one hat alone, the caches empty, and
 * force_steal=1, so every table allocation tries a steal first and finds
 * nothing (the only hat is the one mapping: its hat_seg_lock is held). It
 * must fall back to a fresh table, zeroed like any other: every MAP
 * succeeds, each allocation counted one steal, and the hat matches its
 * model. Unmapped, its tables go to its cache, and CHECK (which requires
 * cached tables to be all zero) stays clean.
 */
TEST_F_TIMEOUT(steal, force_steal_nothing_to_steal, STEAL_TIMEOUT)
{
	struct steal_ctx *c = &self->c;
	struct ht_hat *h = &c->h[0];
	long long steals0, steals, allocs = 0;
	struct htable_info info;
	int k, l, ret;

	if (htable_dev_missing(_metadata, c->err, c->err))
		return;
	ctx_start(_metadata, c, 1);
	ASSERT_EQ(0, ht_drain_caches());
	steals0 = htable_stat("hs_steals");
	ASSERT_EQ(0, htable_knob_write(FORCE_STEAL_PATH, 1));
	/* A page in each of 8 new 1 GiB regions: two new tables each, or more. */
	for (k = 0; k < 8; k++) {
		ret = steal_map_model(h, VA_S + k * (HT_SZ_1G + HT_SZ_2M), 1, HTABLE_MAP_WRITE);
		ASSERT_EQ(0, ret) TH_LOG("MAP %d with force_steal 1 and nothing to steal: %s",
					 k, strerror(-ret));
	}
	ASSERT_EQ(0, htable_knob_write(FORCE_STEAL_PATH, 0));
	steals = htable_stat("hs_steals") - steals0;
	ASSERT_EQ(0, ht_verify_info(h->fd, &h->m, h->levels, &info));
	for (l = 0; l < h->levels - 1; l++)
		allocs += info.tables[l];
	EXPECT_EQ(allocs, steals);
	EXPECT_EQ(0, info.stolen);
	EXPECT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
	for (k = 0; k < 8; k++) {
		ret = ht_unmap(h->fd, VA_S + k * (HT_SZ_1G + HT_SZ_2M), 1);
		ASSERT_EQ(0, ret) TH_LOG("UNMAP %d: %s", k, strerror(-ret));
	}
	ht_model_free(&h->m);
	ASSERT_EQ(0, ht_verify_info(h->fd, &h->m, h->levels, &info));
	EXPECT_EQ(allocs, info.cached);
	ctx_finish(_metadata, c);
}

/*
 * Hats closed while another hat's MAP steals from them: two threads open,
 * fill (8 leaf tables) and close hats in a loop while a third maps and
 * unmaps in its own hat, and the test reaps every 100 ms. First under a
 * tight cap (most allocations steal, many fail with ENOMEM), then with
 * force_steal=2 and no cap (every other allocation steals, none fails, so
 * the victims do hold tables while they close). Each phase runs until the
 * churn has reached its minimums (min_cap, min_force), so a slow host
 * makes it longer, not emptier. hat_free() must wait for
 * a steal working on its hat (HAT_VICTIM) and steals must skip hats being
 * freed. Nothing may hang (the harness's timeout), fail other than with
 * ENOMEM, or leak: once every hat is closed, the hat count and
 * active_ptables are back where they started.
 */
TEST_F_TIMEOUT(steal, close_while_stealing, 120)
{
	struct steal_ctx *c = &self->c;
	unsigned long maps_a = 0, stolen_a = 0;
	long long steals0, reaps0;
	struct htable_info info;
	struct churn ch[3];
	int i, started = 0, err = -1;
	/*
	 * Under the cap: victims come and go, the stealer maps, steals take
	 * victims' tables. With force_steal: victims map (and so hold tables
	 * while they close).
	 */
	const struct churn_min min_cap = {
		.closes = CHURN_MIN, .stolen = 1, .rounds = CHURN_ROUNDS, .steals = 1,
	};
	const struct churn_min min_force = {
		.closes = CHURN_MIN, .maps = CHURN_MIN, .rounds = CHURN_ROUNDS, .steals = 1,
	};

	if (htable_dev_missing(_metadata, c->err, c->err))
		return;
	ctx_start(_metadata, c, 1);
	memset(ch, 0, sizeof(ch));
	ch[2].fd = c->h[0].fd;
	steals0 = htable_stat("hs_steals");
	reaps0 = htable_stat("hs_reap_attempts");
	/* Phase 1: room for about one victim's tables. */
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, htable_stat("active_ptables") + 12));
	for (i = 0; i < 3; i++) {
		if (pthread_create(&ch[i].tid, NULL,
				   i < 2 ? steal_churn_victim : steal_churn_stealer, &ch[i]))
			break;
		started++;
	}
	if (started == 3)
		err = steal_churn_phase(ch, &min_cap);
	if (!err) {
		maps_a = steal_churn_peek(&ch[0].maps) + steal_churn_peek(&ch[1].maps);
		stolen_a = steal_churn_peek(&ch[0].stolen) + steal_churn_peek(&ch[1].stolen);
		/* Phase 2: no cap, every other allocation steals. */
		err = htable_knob_write(FORCE_STEAL_PATH, 2);
		if (!err)
			err = htable_knob_write(PTABLE_CAP_PATH, 0);
		if (!err)
			err = steal_churn_phase(ch, &min_force);
	}
	for (i = 0; i < started; i++)
		__atomic_store_n(&ch[i].stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < started; i++)
		pthread_join(ch[i].tid, NULL);
	ASSERT_EQ(3, started);
	ASSERT_EQ(0, err) TH_LOG("%s", err == -ETIMEDOUT ?
			 "a phase fell short of its minimums (or a thread failed)" :
			 strerror(-err));
	ASSERT_EQ(0, htable_knobs_reset());
	TH_LOG("cap: victims %lu maps, %lu tables stolen from them before close",
	       maps_a, stolen_a);
	TH_LOG("force_steal: victims %lu maps, %lu tables stolen from them before close",
	       ch[0].maps + ch[1].maps - maps_a, ch[0].stolen + ch[1].stolen - stolen_a);
	TH_LOG("victims: %lu+%lu closes, %lu+%lu ENOMEM; stealer: %lu rounds, %lu maps, %lu ENOMEM",
	       ch[0].closes, ch[1].closes, ch[0].enomem, ch[1].enomem, ch[2].rounds,
	       ch[2].maps, ch[2].enomem);
	TH_LOG("%lld steals, %lld reaps", htable_stat("hs_steals") - steals0,
	       htable_stat("hs_reap_attempts") - reaps0);
	/* Each thread printed what went wrong. */
	EXPECT_EQ(0, ch[0].bad);
	EXPECT_EQ(0, ch[1].bad);
	EXPECT_EQ(0, ch[2].bad);
	EXPECT_LT(0, ch[0].closes + ch[1].closes);
	EXPECT_LT(0, ch[2].maps);
	/* The victims had tables, and steals took some of them. */
	EXPECT_LT(maps_a, ch[0].maps + ch[1].maps);
	EXPECT_LT(0, ch[0].stolen + ch[1].stolen);
	EXPECT_LT(steals0, htable_stat("hs_steals"));
	/* The stealer unmapped all it mapped: nothing owned, and it is sound. */
	EXPECT_EQ(c->hats0 + 1, htable_stat("hats"));
	ASSERT_EQ(0, ht_verify_info(c->h[0].fd, &c->h[0].m, c->h[0].levels, &info));
	ctx_finish(_metadata, c);
}

/* steal_passes: the knob's value, and whether steals go emptiest first. */
FIXTURE(passes) {
	struct steal_ctx c;
};

FIXTURE_VARIANT(passes) {
	unsigned int passes;
	int ordered;	/* distinct fills fall in distinct passes */
};

FIXTURE_VARIANT_ADD(passes, one) {
	.passes = 1,
	.ordered = 0,
};

FIXTURE_VARIANT_ADD(passes, eight) {
	.passes = 8,
	.ordered = 1,
};

FIXTURE_VARIANT_ADD(passes, max) {
	.passes = 512,
	.ordered = 1,
};

/* Out of range: htable_steal() clamps to 1..512. */
FIXTURE_VARIANT_ADD(passes, zero_clamps_to_one) {
	.passes = 0,
	.ordered = 0,
};

FIXTURE_VARIANT_ADD(passes, huge_clamps_to_max) {
	.passes = 100000,
	.ordered = 1,
};

FIXTURE_SETUP(passes)
{
	steal_ctx_setup(&self->c);
}

FIXTURE_TEARDOWN(passes)
{
	steal_ctx_teardown(&self->c);
}

/*
 * A victim with four leaf tables of 1, 100, 300 and 512 entries, and a
 * stealer that needs one leaf a map under the cap. Every map must succeed
 * and take one of the victim's tables. With 8 passes the fills fall in
 * passes 1, 2, 5 and 8, with 512 in passes 1, 100, 300 and 512: the
 * emptiest table goes first. With one pass any order is right.
 */
TEST_F_TIMEOUT(passes, steal_order, STEAL_TIMEOUT)
{
	static const __u64 fill[] = { 512, 300, 100, 1 };	/* mapped fullest first */
	static const int order[] = { 3, 2, 1, 0 };		/* emptiest first */
	struct steal_ctx *c = &self->c;
	struct ht_hat *v = &c->h[0], *s = &c->h[1];
	long long steals0;
	struct htable_info info;
	struct htable_probe p;
	__u64 pages, total = 0;
	int k, t, ret, missing, gone[4] = { 0 };

	if (htable_dev_missing(_metadata, c->err, c->err))
		return;
	ctx_start(_metadata, c, 2);
	for (t = 0; t < 4; t++) {
		ASSERT_EQ(0, steal_map_model(v, VA_V + t * HT_SZ_2M, fill[t], HTABLE_MAP_WRITE));
		total += fill[t];
	}
	ASSERT_EQ(0, steal_map_model(s, VA_S, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_drain_caches());
	ASSERT_EQ(0, htable_knob_write(STEAL_PASSES_PATH, variant->passes));
	ASSERT_EQ(variant->passes, htable_knob_read(STEAL_PASSES_PATH));
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, htable_stat("active_ptables")));
	steals0 = htable_stat("hs_steals");

	for (k = 1; k <= 4; k++) {
		ret = steal_map_model(s, VA_S + k * HT_SZ_2M, 1, HTABLE_MAP_WRITE);
		ASSERT_EQ(0, ret) TH_LOG("steal_passes %u, MAP %d: %s", variant->passes, k,
					 strerror(-ret));
		for (t = 0; t < 4; t++) {
			ASSERT_EQ(0, ht_probe(v->fd, VA_V + t * HT_SZ_2M, &p));
			if (!gone[t] && !(p.flags & HTABLE_PROBE_PRESENT)) {
				gone[t] = k;
				TH_LOG("steal %d took the table of %llu entries", k, fill[t]);
			}
		}
		if (variant->ordered) {
			EXPECT_EQ(k, gone[order[k - 1]])
				TH_LOG("steal %d should take the %llu-entry table",
				       k, fill[order[k - 1]]);
		}
	}
	for (t = 0, missing = 0; t < 4; t++)
		missing += !gone[t];
	EXPECT_EQ(0, missing) TH_LOG("%d of the victim's tables not stolen", missing);
	EXPECT_EQ(4, htable_stat("hs_steals") - steals0);
	ASSERT_EQ(0, ht_info(v->fd, &info));
	EXPECT_EQ(4, info.stolen);
	EXPECT_EQ(0, steal_verify_stolen(v, &pages));
	EXPECT_EQ(total, pages);
	EXPECT_EQ(0, steal_verify_info_stolen(v, pages, NULL));
	EXPECT_EQ(0, ht_verify_model(s->fd, &s->m, s->levels, 1));

	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, 0));
	reload_ok(_metadata, v, total);
	ctx_finish(_metadata, c);
}

TEST_HARNESS_MAIN
