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
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"

#define STEAL_TIMEOUT	300

#define KNOB_DIR		"/sys/kernel/debug/htable/"
#define PTABLE_CAP_PATH		KNOB_DIR "ptable_cap"
#define FORCE_STEAL_PATH	KNOB_DIR "force_steal"
#define STEAL_PASSES_PATH	KNOB_DIR "steal_passes"
#define REAP_PATH		KNOB_DIR "reap"
#define HATS_PATH		KNOB_DIR "hats"
#define DROP_CACHES_PATH	"/proc/sys/vm/drop_caches"
#define STEAL_PASSES_DEFAULT	8

#define PTES		512	/* entries per table: one leaf table's pages */
#define MAX_HATS	5

/* Where the victims map and where the stealing hat maps (own 1 GiB slots). */
#define VA_V		(3 * HT_SZ_1G)
#define VA_S		(7 * HT_SZ_1G)

/*
 * Reap exactly the cached tables until none is left, so that a steal can
 * only take tables in use. htable_reap(N) takes at most its own count
 * (MAX(MIN(physmem / 20, active / 20), 10)) per call, so this loops; N is
 * never more than the cached count, so no table in use is touched.
 * Returns the cached count left (0), or -1 when a knob fails.
 */
static long long empty_caches(void)
{
	long long c = -1;
	int i;

	for (i = 0; i < 1000; i++) {
		c = htable_stat("cached_tables");
		if (c <= 0)
			break;
		if (htable_knob_write(REAP_PATH, c))
			return -1;
	}
	return c;
}

/* The sum of the stolen column of the hats file, or -1. */
static long long hats_file_stolen(void)
{
	unsigned long owned;
	long long sum = 0;
	char line[256];
	unsigned int id;
	long stolen;
	FILE *f;
	int pid;

	f = fopen(HATS_PATH, "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f) || strncmp(line, "id pid owned_pages stolen", 25))
		sum = -1;
	while (sum >= 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %d %lu %ld", &id, &pid, &owned, &stolen) != 4) {
			sum = -1;
			break;
		}
		sum += stolen;
	}
	fclose(f);
	return sum;
}

/* MAP into @h and its model, learning the pfns: 0, -errno, or HT_BADOUT. */
static int map_model(struct ht_hat *h, __u64 va, __u64 npages, __u32 flags)
{
	int ret = ht_map(h->fd, va, npages, flags);

	if (ret)
		return ret;
	if (ht_model_insert(&h->m, va, npages, flags, 0, 0) ||
	    ht_model_learn(h->fd, &h->m, va, npages))
		return HT_BADOUT;
	return 0;
}

/* HTABLE_IOC_RELOAD: 0 or -errno; *@reloaded is what it rebuilt. */
static int reload(int fd, __u64 va, __u64 npages, __u64 *reloaded)
{
	struct htable_reload r = { .va = va, .npages = npages };
	int ret;

	*reloaded = 0;
	r.reloaded = ~0ULL;
	ret = ht_ioctl(fd, HTABLE_IOC_RELOAD, &r);
	if (ret)
		return ret;
	*reloaded = r.reloaded;
	return 0;
}

/* RELOAD every run of pages the model holds: 0 or -errno; sums reloaded. */
static int reload_model(struct ht_hat *h, __u64 *total)
{
	size_t i = 0, j;
	__u64 n;
	int ret;

	*total = 0;
	while (i < h->m.n) {
		for (j = i; j + 1 < h->m.n &&
		     h->m.pg[j + 1].va == h->m.pg[j].va + HT_PAGE_SIZE; j++)
			;
		ret = reload(h->fd, h->m.pg[i].va, j - i + 1, &n);
		if (ret)
			return ret;
		*total += n;
		i = j + 1;
	}
	return 0;
}

/*
 * After steals: every page of the model is either mapped as the model says
 * (flags, the learned pfn, a sound PTE) or stolen, when PROBE shows
 * HTABLE_PROBE_OWNED alone with no level, pfn or PTE. *@stolen counts the
 * stolen pages. Returns mismatches.
 */
static int verify_stolen(struct ht_hat *h, __u64 *stolen)
{
	struct htable_probe p;
	int bad = 0, err;
	size_t i;

	*stolen = 0;
	for (i = 0; i < h->m.n && bad < 20; i++) {
		struct ht_page *pg = &h->m.pg[i];

		err = ht_probe(h->fd, pg->va, &p);
		if (err) {
			fprintf(stderr, "# PROBE va %#llx failed: %s\n", pg->va, strerror(-err));
			bad++;
			continue;
		}
		if (p.flags & HTABLE_PROBE_PRESENT) {
			bad += ht_verify_probe(h->fd, pg->va, pg);
			continue;
		}
		(*stolen)++;
		if (p.flags != HTABLE_PROBE_OWNED || p.level || p.pfn || p.pte) {
			fprintf(stderr,
				"# PROBE va %#llx: stolen page shows flags %#x level %u pfn %#llx pte %#llx\n",
				pg->va, p.flags, p.level, p.pfn, p.pte);
			bad++;
		}
	}
	return bad;
}

/*
 * INFO and CHECK of a hat that lost @stolen_pages translations of its
 * model: it still owns every page, maps the others, and CHECK is clean
 * and visits what INFO counts. Returns mismatches; INFO goes to @out.
 */
static int verify_info_stolen(struct ht_hat *h, __u64 stolen_pages,
			      struct htable_info *out)
{
	struct htable_info info;
	int bad = 0, err;

	err = ht_info(h->fd, &info);
	if (err) {
		fprintf(stderr, "# INFO failed: %s\n", strerror(-err));
		return 1;
	}
	if (info.owned_pages != h->m.n || info.mapped_pages != h->m.n - stolen_pages ||
	    info.valid[0] != info.mapped_pages) {
		fprintf(stderr,
			"# INFO: owned %llu mapped %llu valid[0] %llu; model %zu pages, %llu stolen\n",
			info.owned_pages, info.mapped_pages, info.valid[0], h->m.n,
			stolen_pages);
		bad++;
	}
	bad += ht_verify_check(h->fd, &info);
	if (out)
		*out = info;
	return bad;
}

/* The first CPU a window should use: 1 when it is online, else 0. */
static __u32 window_cpu(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
}

/* What every fixture here holds: up to MAX_HATS hats and the start counts. */
struct steal_ctx {
	struct ht_hat h[MAX_HATS];
	int err;		/* errno of opening the device, or 0 */
	long long hats0;
	long long active0;
};

static void ctx_setup(struct steal_ctx *c)
{
	int i, fd;

	for (i = 0; i < MAX_HATS; i++)
		c->h[i].fd = -1;
	htable_knobs_reset();
	fd = htable_open_dev();
	c->err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	c->hats0 = htable_stat("hats");
	c->active0 = htable_stat("active_ptables");
}

static void ctx_teardown(struct steal_ctx *c)
{
	int i;

	htable_knobs_reset();
	for (i = 0; i < MAX_HATS; i++)
		ht_hat_close(&c->h[i]);
}

/* The knobs exist and take writes; then open @n hats. */
static void ctx_start(struct __test_metadata *_metadata, struct steal_ctx *c, int n)
{
	int i, ret;

	ASSERT_EQ(0, access(PTABLE_CAP_PATH, W_OK)) TH_LOG("%s", PTABLE_CAP_PATH);
	ASSERT_EQ(0, access(FORCE_STEAL_PATH, W_OK)) TH_LOG("%s", FORCE_STEAL_PATH);
	ASSERT_EQ(0, access(STEAL_PASSES_PATH, W_OK)) TH_LOG("%s", STEAL_PASSES_PATH);
	ASSERT_EQ(0, access(REAP_PATH, W_OK)) TH_LOG("%s", REAP_PATH);
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

	ret = reload_model(h, &n);
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
	ctx_setup(&self->c);
}

FIXTURE_TEARDOWN(steal)
{
	ctx_teardown(&self->c);
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
		ret = map_model(&c->h[v], VA_V, SPREAD_TABLES * PTES, HTABLE_MAP_WRITE);
		ASSERT_EQ(0, ret) TH_LOG("victim %d MAP: %s", v, strerror(-ret));
	}
	ASSERT_EQ(0, empty_caches());
	cap = htable_stat("active_ptables");
	ASSERT_LT(0, cap);
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, cap));
	ASSERT_EQ(cap, htable_knob_read(PTABLE_CAP_PATH));

	steals0 = htable_stat("hs_steals");
	for (k = 0; k < SPREAD_MAPS; k++) {
		ret = map_model(s, VA_S + k * HT_SZ_2M, PTES, HTABLE_MAP_WRITE);
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
		EXPECT_EQ(0, verify_stolen(h, &pages)) TH_LOG("victim %d", v);
		EXPECT_EQ(stolen[v] * PTES, pages) TH_LOG("victim %d", v);
		EXPECT_EQ(0, verify_info_stolen(h, pages, &info)) TH_LOG("victim %d", v);
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
	EXPECT_EQ(steals, hats_file_stolen());
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
	ASSERT_EQ(0, map_model(l, VA_V, 4 * PTES, HTABLE_MAP_LOCK | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, map_model(u, VA_V, 2 * PTES, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, map_model(s, VA_S, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, empty_caches());
	cap = htable_stat("active_ptables");
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, cap));

	for (k = 1; k <= 32; k++) {
		va = VA_S + k * HT_SZ_2M;
		ret = map_model(s, va, 1, HTABLE_MAP_WRITE);
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
	EXPECT_EQ(0, verify_stolen(u, &pages));
	EXPECT_EQ(2 * PTES, pages);
	EXPECT_EQ(0, verify_info_stolen(u, pages, NULL));
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
	ASSERT_EQ(0, htable_knob_write(REAP_PATH, 0));
	ASSERT_EQ(0, htable_knob_write(DROP_CACHES_PATH, 2));
	ASSERT_EQ(0, ht_info(l->fd, &info));
	EXPECT_EQ(0, info.stolen);
	EXPECT_EQ(0, ht_verify_model(l->fd, &l->m, l->levels, 1));
	EXPECT_EQ(0, verify_stolen(s, &pages));
	EXPECT_EQ(0, verify_info_stolen(s, pages, NULL));

	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, 0));
	reload_ok(_metadata, u, 2 * PTES);
	reload_ok(_metadata, s, pages);
	EXPECT_EQ(0, ht_verify_model(l->fd, &l->m, l->levels, 1));
	ctx_finish(_metadata, c);
}

/* The bytes the data test writes into page @i at offset DATA_OFF + @j. */
#define DATA_OFF	8
#define DATA_LEN	248	/* bytes 8..255: no word VERIFY writes (0, 257, 511) */

static __u8 data_byte(__u64 i, unsigned int j)
{
	return (__u8)(i * 251 + (i >> 8) * 17 + j * 13 + 0x5a);
}

/* RW @len bytes at @va: 0 or -errno. */
static int rw(int fd, __u64 va, void *buf, __u32 len, __u32 flags)
{
	struct htable_rw r = {
		.va = va,
		.buf = (uintptr_t)buf,
		.len = len,
		.flags = flags,
	};

	return ht_ioctl(fd, HTABLE_IOC_RW, &r);
}

/*
 * Read bytes 0..255 of the model's pages through the direct map: bytes
 * DATA_OFF.. hold what data_byte() wrote. With @seed, word 0 holds what
 * VERIFY wrote (documented in Documentation/cr3.rst). Returns mismatches.
 */
static int check_data(struct ht_hat *h, int with_seed, __u64 seed)
{
	__u8 buf[DATA_OFF + DATA_LEN];
	int bad = 0, err;
	unsigned int j;
	size_t i;

	for (i = 0; i < h->m.n && bad < 10; i++) {
		const struct ht_page *pg = &h->m.pg[i];
		__u64 w0;

		err = rw(h->fd, pg->va, buf, sizeof(buf), 0);
		if (err) {
			fprintf(stderr, "# RW read %#llx: %s\n", pg->va, strerror(-err));
			bad++;
			continue;
		}
		for (j = 0; j < DATA_LEN; j++) {
			if (buf[DATA_OFF + j] != data_byte(i, j)) {
				fprintf(stderr, "# page %#llx byte %u: %#x, wrote %#x\n",
					pg->va, DATA_OFF + j, buf[DATA_OFF + j],
					data_byte(i, j));
				bad++;
				break;
			}
		}
		memcpy(&w0, buf, sizeof(w0));
		if (with_seed && w0 != (seed ^ (pg->pfn << 16))) {
			fprintf(stderr, "# page %#llx word 0: %#llx, VERIFY writes %#llx\n",
				pg->va, w0, seed ^ (pg->pfn << 16));
			bad++;
		}
	}
	return bad;
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
		ret = map_model(a, VA_V + k * HT_SZ_2M, PTES, flags[k]);
		ASSERT_EQ(0, ret) TH_LOG("A's MAP %d: %s", k, strerror(-ret));
	}
	for (i = 0; i < a->m.n; i++) {
		for (j = 0; j < DATA_LEN; j++)
			buf[j] = data_byte(i, j);
		ASSERT_EQ(0, rw(a->fd, a->m.pg[i].va + DATA_OFF, buf, DATA_LEN,
				HTABLE_RW_WRITE));
	}
	ASSERT_EQ(0, check_data(a, 0, 0));
	/* B's branch exists before the cap: each of its maps needs one leaf. */
	ASSERT_EQ(0, map_model(b, VA_S, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, empty_caches());
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, htable_stat("active_ptables")));

	steals0 = htable_stat("hs_steals");
	for (k = 1; k <= (int)ARRAY_SIZE(flags); k++) {
		ret = map_model(b, VA_S + k * HT_SZ_2M, PTES, HTABLE_MAP_WRITE);
		ASSERT_EQ(0, ret) TH_LOG("B's MAP %d under the cap: %s", k, strerror(-ret));
	}
	EXPECT_EQ(ARRAY_SIZE(flags), htable_stat("hs_steals") - steals0);
	ASSERT_EQ(0, ht_info(a->fd, &info));
	EXPECT_EQ(ARRAY_SIZE(flags), info.stolen);
	EXPECT_EQ(0, info.tables[0]);
	EXPECT_EQ(0, verify_stolen(a, &pages));
	EXPECT_EQ(a->m.n, pages);
	EXPECT_EQ(0, verify_info_stolen(a, pages, NULL));
	EXPECT_EQ(0, ht_verify_model(b->fd, &b->m, b->levels, 1));
	/* The pages never left the hat: RW reads them through the direct map. */
	EXPECT_EQ(0, check_data(a, 0, 0));

	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, 0));
	ret = reload(a->fd, VA_V, ARRAY_SIZE(flags) * PTES, &reloaded);
	ASSERT_EQ(0, ret) TH_LOG("RELOAD: %s", strerror(-ret));
	EXPECT_EQ(a->m.n, reloaded);
	/* Same pfns and flags as before the steal, and the tables are back. */
	EXPECT_EQ(0, ht_verify_model(a->fd, &a->m, a->levels, 1));
	/* A second RELOAD has nothing left to do. */
	ASSERT_EQ(0, reload(a->fd, VA_V, ARRAY_SIZE(flags) * PTES, &reloaded));
	EXPECT_EQ(0, reloaded);

	memset(&r, 0, sizeof(r));
	r.cpu = window_cpu();
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
	EXPECT_EQ(0, check_data(a, 1, seed));
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
	ASSERT_EQ(0, map_model(o, VA_V, 3 * PTES, HTABLE_MAP_WRITE | HTABLE_MAP_EXEC));
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

	EXPECT_EQ(0, verify_stolen(o, &pages));
	EXPECT_EQ(0, verify_info_stolen(o, pages, NULL));
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
	ASSERT_EQ(0, map_model(v, VA_V, 12 * PTES, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, empty_caches());
	active0 = htable_stat("active_ptables");
	steals0 = htable_stat("hs_steals");
	ASSERT_EQ(0, htable_knob_write(FORCE_STEAL_PATH, 3));
	ASSERT_EQ(3, htable_knob_read(FORCE_STEAL_PATH));
	for (k = 0; k < 24; k++) {
		ASSERT_EQ(0, map_model(m, VA_S + k * HT_SZ_2M, 1, HTABLE_MAP_WRITE))
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
	EXPECT_EQ(0, verify_stolen(v, &pages));
	EXPECT_EQ(steals * PTES, pages);
	EXPECT_EQ(0, verify_info_stolen(v, pages, NULL));
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
	ASSERT_EQ(0, empty_caches());
	steals0 = htable_stat("hs_steals");
	ASSERT_EQ(0, htable_knob_write(FORCE_STEAL_PATH, 1));
	/* A page in each of 8 new 1 GiB regions: two new tables each, or more. */
	for (k = 0; k < 8; k++) {
		ret = map_model(h, VA_S + k * (HT_SZ_1G + HT_SZ_2M), 1, HTABLE_MAP_WRITE);
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
 * Each phase of close_while_stealing lasts CHURN_SECONDS and until its
 * minimums are met (churn_phase()), whichever is later; CHURN_LIMIT_S is
 * the hang guard.
 */
#define CHURN_SECONDS	3.0
#define CHURN_LIMIT_S	45.0
#define CHURN_REGIONS	32
#define CHURN_MIN	10	/* victim closes (or maps) per phase */
#define CHURN_ROUNDS	5	/* stealer rounds per phase */

/* What the threads of close_while_stealing share. */
struct churn {
	pthread_t tid;
	int stop;		/* set atomically by the test */
	int fd;			/* the stealer's hat */
	/* The counts: the test reads them (atomically) while the thread runs. */
	unsigned long rounds, maps, enomem, closes;
	unsigned long stolen;	/* victims: INFO.stolen summed just before close */
	int bad;
};

/* Add @n to a count of struct churn; the thread is its only writer. */
static void add(unsigned long *c, unsigned long n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static unsigned long peek(const unsigned long *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/*
 * A victim that comes and goes: open a hat, map 8 leaf tables (aliases of
 * one page, so no data pages are needed), close it at once; over and over.
 * Its tables are what the stealer takes, while it is being closed.
 */
static void *victim_churn(void *arg)
{
	struct churn *ch = arg;
	struct htable_info info;
	int fd, ret;

	while (!__atomic_load_n(&ch->stop, __ATOMIC_ACQUIRE)) {
		fd = htable_open_dev();
		if (fd < 0) {
			if (errno != ENOMEM) {
				fprintf(stderr, "# churn: open: %s\n", strerror(errno));
				__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
				break;
			}
			add(&ch->enomem, 1);
			continue;
		}
		ret = ht_map(fd, VA_V, 1, HTABLE_MAP_WRITE);
		if (!ret)
			ret = ht_map_alias(fd, VA_V + HT_PAGE_SIZE, 8 * PTES - 1,
					   HTABLE_MAP_WRITE | HTABLE_MAP_ALIAS, VA_V, 1);
		if (ret && ret != -ENOMEM) {
			fprintf(stderr, "# churn: MAP: %s\n", strerror(-ret));
			__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
		}
		add(&ch->maps, !ret);
		add(&ch->enomem, ret == -ENOMEM);
		if (!ht_info(fd, &info))
			add(&ch->stolen, info.stolen);
		close(fd);
		add(&ch->closes, 1);
		add(&ch->rounds, 1);
	}
	return NULL;
}

/* The stealer: one page in each of CHURN_REGIONS new leaves, then unmap. */
static void *stealer_churn(void *arg)
{
	struct churn *ch = arg;
	int mapped[CHURN_REGIONS];
	struct htable_check chk;
	int k, ret;

	while (!__atomic_load_n(&ch->stop, __ATOMIC_ACQUIRE)) {
		for (k = 0; k < CHURN_REGIONS; k++) {
			ret = ht_map(ch->fd, VA_S + k * HT_SZ_2M, 1, HTABLE_MAP_WRITE);
			if (ret && ret != -ENOMEM) {
				fprintf(stderr, "# stealer: MAP: %s\n", strerror(-ret));
				__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
			}
			mapped[k] = !ret;
			add(&ch->maps, !ret);
			add(&ch->enomem, ret == -ENOMEM);
		}
		for (k = 0; k < CHURN_REGIONS; k++) {
			if (!mapped[k])
				continue;
			ret = ht_unmap(ch->fd, VA_S + k * HT_SZ_2M, 1);
			if (ret) {
				fprintf(stderr, "# stealer: UNMAP: %s\n", strerror(-ret));
				__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
			}
		}
		if (ht_check(ch->fd, &chk) || chk.errors) {
			fprintf(stderr, "# stealer: CHECK: %llu errors, first %u at %#llx\n",
				chk.errors, chk.first_error, chk.first_va);
			__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
		}
		add(&ch->rounds, 1);
		if (ch->bad)
			break;
	}
	return NULL;
}

/* What one phase of the churn must reach, counted from its start. */
struct churn_min {
	unsigned long closes;	/* both victims' closes */
	unsigned long maps;	/* both victims' successful MAPs */
	unsigned long stolen;	/* tables stolen from victims before close */
	unsigned long rounds;	/* the stealer's rounds */
	long long steals;	/* hs_steals */
};

/* The counts of @ch now, as a struct churn_min. */
static struct churn_min churn_now(struct churn *ch)
{
	struct churn_min c = {
		.closes = peek(&ch[0].closes) + peek(&ch[1].closes),
		.maps = peek(&ch[0].maps) + peek(&ch[1].maps),
		.stolen = peek(&ch[0].stolen) + peek(&ch[1].stolen),
		.rounds = peek(&ch[2].rounds),
		.steals = htable_stat("hs_steals"),
	};

	return c;
}

/* Does the churn since @c0 fall short of @min? With @say, print how. */
static int churn_short(struct churn *ch, const struct churn_min *c0,
		       const struct churn_min *min, int say)
{
	struct churn_min c = churn_now(ch);
	int n = 0;

	n += c.closes - c0->closes < min->closes;
	n += c.maps - c0->maps < min->maps;
	n += c.stolen - c0->stolen < min->stolen;
	n += c.rounds - c0->rounds < min->rounds;
	n += c.steals - c0->steals < min->steals;
	if (n && say)
		fprintf(stderr,
			"# phase: %lu closes, %lu maps, %lu stolen, %lu stealer rounds, %lld steals; want %lu, %lu, %lu, %lu, %lld\n",
			c.closes - c0->closes, c.maps - c0->maps, c.stolen - c0->stolen,
			c.rounds - c0->rounds, c.steals - c0->steals, min->closes,
			min->maps, min->stolen, min->rounds, min->steals);
	return n;
}

/*
 * Run the churn for CHURN_SECONDS and until it has done @min, reaping
 * every 100 ms: 0, -errno of a reap, or -ETIMEDOUT when CHURN_LIMIT_S
 * passed first.
 */
static int churn_phase(struct churn *ch, const struct churn_min *min)
{
	struct churn_min c0 = churn_now(ch);
	double t0 = ht_now();
	int err = 0, i;

	while (!err) {
		usleep(100 * 1000);
		err = htable_knob_write(REAP_PATH, 0);
		if (ht_now() >= t0 + CHURN_SECONDS && !churn_short(ch, &c0, min, 0))
			break;
		for (i = 0; i < 3 && !__atomic_load_n(&ch[i].bad, __ATOMIC_RELAXED); i++)
			;
		if (i < 3 || ht_now() >= t0 + CHURN_LIMIT_S) {
			churn_short(ch, &c0, min, 1);
			err = -ETIMEDOUT;
		}
	}
	fprintf(stderr, "# phase took %.1f s\n", ht_now() - t0);
	return err;
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
		if (pthread_create(&ch[i].tid, NULL, i < 2 ? victim_churn : stealer_churn,
				   &ch[i]))
			break;
		started++;
	}
	if (started == 3)
		err = churn_phase(ch, &min_cap);
	if (!err) {
		maps_a = peek(&ch[0].maps) + peek(&ch[1].maps);
		stolen_a = peek(&ch[0].stolen) + peek(&ch[1].stolen);
		/* Phase 2: no cap, every other allocation steals. */
		err = htable_knob_write(FORCE_STEAL_PATH, 2);
		if (!err)
			err = htable_knob_write(PTABLE_CAP_PATH, 0);
		if (!err)
			err = churn_phase(ch, &min_force);
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
	ctx_setup(&self->c);
}

FIXTURE_TEARDOWN(passes)
{
	ctx_teardown(&self->c);
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
		ASSERT_EQ(0, map_model(v, VA_V + t * HT_SZ_2M, fill[t], HTABLE_MAP_WRITE));
		total += fill[t];
	}
	ASSERT_EQ(0, map_model(s, VA_S, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, empty_caches());
	ASSERT_EQ(0, htable_knob_write(STEAL_PASSES_PATH, variant->passes));
	ASSERT_EQ(variant->passes, htable_knob_read(STEAL_PASSES_PATH));
	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, htable_stat("active_ptables")));
	steals0 = htable_stat("hs_steals");

	for (k = 1; k <= 4; k++) {
		ret = map_model(s, VA_S + k * HT_SZ_2M, 1, HTABLE_MAP_WRITE);
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
	EXPECT_EQ(0, verify_stolen(v, &pages));
	EXPECT_EQ(total, pages);
	EXPECT_EQ(0, verify_info_stolen(v, pages, NULL));
	EXPECT_EQ(0, ht_verify_model(s->fd, &s->m, s->levels, 1));

	ASSERT_EQ(0, htable_knob_write(PTABLE_CAP_PATH, 0));
	reload_ok(_metadata, v, total);
	ctx_finish(_metadata, c);
}

TEST_HARNESS_MAIN
