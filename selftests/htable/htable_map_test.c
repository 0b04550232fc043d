// SPDX-License-Identifier: GPL-2.0
/*
 * MAP, PROBE and UNMAP of 1, 512, 513 and 262144 pages placed across
 * 2 MiB, 1 GiB, 512 GiB and (on a 5-level hat) 256 TiB boundaries. After
 * every step the hat is compared with a model kept here: INFO against the
 * table counts the table rule gives (see ht_model_expect() in
 * htable_model.c), CHECK must be clean and visit what INFO counts, and
 * PROBE of the pages (and of the holes next to them) must show the flags
 * they were mapped with, level 0, a stable pfn shared by aliases, and a
 * raw PTE that agrees.
 */
#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"

#define MAP_TIMEOUT	300

FIXTURE(map) {
	struct ht_hat h;
	int err;
};

FIXTURE_SETUP(map)
{
	self->err = -ht_hat_open(&self->h);
}

FIXTURE_TEARDOWN(map)
{
	ht_hat_close(&self->h);
}

/*
 * The boundaries the placements straddle: a 2 MiB one that is no 1 GiB
 * one, a 1 GiB one that is no 512 GiB one, a 512 GiB one that is no
 * 256 TiB one, and 256 TiB (1 << 48), which only a 5-level hat can map.
 */
static const __u64 boundaries[] = {
	3 * HT_SZ_2M, 5 * HT_SZ_1G, 3 * HT_SZ_512G, HT_SZ_256T,
};

/* Compare the whole hat with the model; sample PROBE on big models. */
static void verify(struct __test_metadata *_metadata, struct ht_hat *h)
{
	size_t stride = h->m.n > 4096 ? 61 : 1;

	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, stride));
}

/* A MAP the model says succeeds, then the hat must match the model. */
static void map_ok(struct __test_metadata *_metadata, struct ht_hat *h,
		   __u64 va, __u64 npages, __u32 flags)
{
	int ret = ht_map(h->fd, va, npages, flags);

	ASSERT_EQ(0, ret) {
		TH_LOG("MAP va %#llx npages %llu flags %#x: %s", va, npages,
		       flags, strerror(-ret));
	}
	ASSERT_EQ(0, ht_model_insert(&h->m, va, npages, flags, 0, 0));
	ASSERT_EQ(0, ht_model_learn(h->fd, &h->m, va, npages));
	verify(_metadata, h);
}

static void alias_ok(struct __test_metadata *_metadata, struct ht_hat *h,
		     __u64 va, __u64 npages, __u32 flags, __u64 alias_va,
		     __u64 alias_npages)
{
	int ret = ht_map_alias(h->fd, va, npages, flags | HTABLE_MAP_ALIAS,
			       alias_va, alias_npages);

	ASSERT_EQ(0, ret) {
		TH_LOG("MAP ALIAS va %#llx npages %llu of %#llx x %llu: %s", va,
		       npages, alias_va, alias_npages, strerror(-ret));
	}
	ASSERT_EQ(0, ht_model_insert(&h->m, va, npages, flags | HTABLE_MAP_ALIAS,
				     alias_va, alias_npages));
	verify(_metadata, h);
}

static void unmap_ok(struct __test_metadata *_metadata, struct ht_hat *h,
		     __u64 va, __u64 npages)
{
	int ret = ht_unmap(h->fd, va, npages);

	ASSERT_EQ(0, ret) {
		TH_LOG("UNMAP va %#llx npages %llu: %s", va, npages, strerror(-ret));
	}
	ht_model_remove(&h->m, va, npages);
	verify(_metadata, h);
}

/*
 * A placement a 4-level hat cannot map (it reaches 1 << 47 or beyond):
 * MAP must fail with ERANGE and leave the hat as the model says.
 */
static void map_erange(struct __test_metadata *_metadata, struct ht_hat *h,
		       __u64 va, __u64 npages, __u32 flags)
{
	int ret = ht_map(h->fd, va, npages, flags);

	ASSERT_EQ(-ERANGE, ret) {
		TH_LOG("MAP va %#llx npages %llu beyond %#llx: %s", va, npages,
		       h->limit, strerror(-ret));
	}
	verify(_metadata, h);
}

/* Does [va, va + npages pages) fit under the hat's limit? */
static int fits(struct ht_hat *h, __u64 va, __u64 npages)
{
	return va < h->limit && npages <= (h->limit - va) >> HT_PAGE_SHIFT;
}

TEST_F_TIMEOUT(map, one_page_each_side, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	size_t i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	verify(_metadata, h);
	for (i = 0; i < ARRAY_SIZE(boundaries); i++) {
		__u64 b = boundaries[i];

		if (!fits(h, b - HT_PAGE_SIZE, 2)) {
			map_erange(_metadata, h, b - HT_PAGE_SIZE, 2, HTABLE_MAP_WRITE);
			map_erange(_metadata, h, b, 1, HTABLE_MAP_WRITE);
			continue;
		}
		/* Below, then above: the second needs a whole new branch. */
		map_ok(_metadata, h, b - HT_PAGE_SIZE, 1, HTABLE_MAP_WRITE);
		map_ok(_metadata, h, b, 1, HTABLE_MAP_EXEC);
		/* Emptying one side frees that side's tables only. */
		unmap_ok(_metadata, h, b - HT_PAGE_SIZE, 1);
		map_ok(_metadata, h, b - HT_PAGE_SIZE, 1, 0);
		unmap_ok(_metadata, h, b, 1);
		unmap_ok(_metadata, h, b - HT_PAGE_SIZE, 1);
	}
	/* Then all sides at once, taken down in the order they went up. */
	for (i = 0; i < ARRAY_SIZE(boundaries); i++) {
		if (!fits(h, boundaries[i] - HT_PAGE_SIZE, 2))
			continue;
		map_ok(_metadata, h, boundaries[i] - HT_PAGE_SIZE, 1,
		       HTABLE_MAP_WRITE | HTABLE_MAP_EXEC);
		map_ok(_metadata, h, boundaries[i], 1, HTABLE_MAP_WRITE);
	}
	for (i = 0; i < ARRAY_SIZE(boundaries); i++) {
		if (!fits(h, boundaries[i] - HT_PAGE_SIZE, 2))
			continue;
		unmap_ok(_metadata, h, boundaries[i] - HT_PAGE_SIZE, 2);
	}
	ASSERT_EQ(0, h->m.n);
}

TEST_F_TIMEOUT(map, pages_512_straddling, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	size_t i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	for (i = 0; i < ARRAY_SIZE(boundaries); i++) {
		__u64 va = boundaries[i] - 256 * HT_PAGE_SIZE;

		if (!fits(h, va, 512)) {
			map_erange(_metadata, h, va, 512, HTABLE_MAP_WRITE);
			continue;
		}
		/* Half below, half above: two PTE tables, two branches. */
		map_ok(_metadata, h, va, 512, HTABLE_MAP_WRITE);
		unmap_ok(_metadata, h, va, 256);
		unmap_ok(_metadata, h, boundaries[i], 256);
		/* 512 pages in exactly one PTE table, then its neighbour. */
		map_ok(_metadata, h, boundaries[i], 512, HTABLE_MAP_EXEC);
		map_ok(_metadata, h, boundaries[i] - 512 * HT_PAGE_SIZE, 512, 0);
		/* One UNMAP over both tables and the boundary. */
		unmap_ok(_metadata, h, boundaries[i] - 512 * HT_PAGE_SIZE, 1024);
	}
	ASSERT_EQ(0, h->m.n);
}

TEST_F_TIMEOUT(map, pages_513, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	size_t i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	for (i = 0; i < ARRAY_SIZE(boundaries); i++) {
		__u64 b = boundaries[i];

		if (!fits(h, b - HT_PAGE_SIZE, 513)) {
			map_erange(_metadata, h, b - HT_PAGE_SIZE, 513, HTABLE_MAP_LOCK);
			continue;
		}
		/* One page below the boundary, a full PTE table above it. */
		map_ok(_metadata, h, b - HT_PAGE_SIZE, 513,
		       HTABLE_MAP_WRITE | HTABLE_MAP_LOCK);
		/* A full table plus one page: the last page opens a table. */
		map_ok(_metadata, h, b + 512 * HT_PAGE_SIZE, 513, HTABLE_MAP_EXEC);
		/* The single page below empties (and frees) its branch. */
		unmap_ok(_metadata, h, b - HT_PAGE_SIZE, 1);
		/* A 513-page hole punched across two tables... */
		unmap_ok(_metadata, h, b + 256 * HT_PAGE_SIZE, 513);
		/* ...and refilled with other flags. */
		map_ok(_metadata, h, b + 256 * HT_PAGE_SIZE, 513, HTABLE_MAP_LOCK);
		unmap_ok(_metadata, h, b, 1025);
	}
	ASSERT_EQ(0, h->m.n);
}

/*
 * 262144 pages (1 GiB; 65536 under KASAN) centred on each boundary from
 * 1 GiB up: 64 fresh pages, then one ALIAS MAP of the other pages
 * repeating them, so the test needs 256 KiB of backing pages rather than
 * 1 GiB. The source
 * is unmapped first: the aliases keep their pages (same pfns) until they
 * go too.
 */
TEST_F_TIMEOUT(map, pages_262144_alias, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	/*
	 * Under KASAN a quarter of it (256 MiB, still 128 MiB on each side
	 * of every boundary): the full size took 137 s of the debug row.
	 */
	const __u64 total = ht_kernel_has_kasan() ? 65536 : 262144, real = 64;
	size_t i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	for (i = 1; i < ARRAY_SIZE(boundaries); i++) {
		__u64 va = boundaries[i] - total / 2 * HT_PAGE_SIZE;
		__u64 ava = va + real * HT_PAGE_SIZE;

		if (!fits(h, va, total)) {
			map_erange(_metadata, h, va, total, HTABLE_MAP_WRITE);
			continue;
		}
		map_ok(_metadata, h, va, real, HTABLE_MAP_WRITE);
		alias_ok(_metadata, h, ava, total - real, HTABLE_MAP_WRITE,
			 va, real);
		ASSERT_EQ(total, h->m.n);
		unmap_ok(_metadata, h, va, real);
		unmap_ok(_metadata, h, ava, total - real);
	}
	ASSERT_EQ(0, h->m.n);
}

/* Smaller aliases: one page many times, 1:1, wrapping, and of an alias. */
TEST_F_TIMEOUT(map, alias_shapes, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	__u64 src = 5 * HT_SZ_1G - 3 * HT_PAGE_SIZE;
	__u64 dst = 3 * HT_SZ_512G - 100 * HT_PAGE_SIZE;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	/* Read-only source; the aliases take their own flags. */
	map_ok(_metadata, h, src, 5, 0);
	alias_ok(_metadata, h, dst, 513, HTABLE_MAP_WRITE | HTABLE_MAP_EXEC,
		 src, 1);
	alias_ok(_metadata, h, dst + 600 * HT_PAGE_SIZE, 5, HTABLE_MAP_LOCK,
		 src, 5);
	alias_ok(_metadata, h, dst + 700 * HT_PAGE_SIZE, 11, HTABLE_MAP_WRITE,
		 src + HT_PAGE_SIZE, 3);
	/* An alias of aliases still names the original pages. */
	alias_ok(_metadata, h, dst + 800 * HT_PAGE_SIZE, 7, 0,
		 dst + 700 * HT_PAGE_SIZE, 7);
	unmap_ok(_metadata, h, src, 5);
	unmap_ok(_metadata, h, dst, 513);
	unmap_ok(_metadata, h, dst + 600 * HT_PAGE_SIZE, 5);
	unmap_ok(_metadata, h, dst + 700 * HT_PAGE_SIZE, 11);
	unmap_ok(_metadata, h, dst + 800 * HT_PAGE_SIZE, 7);
	ASSERT_EQ(0, h->m.n);
}

/* 256 TiB: a 5-level hat maps across it, a 4-level one refuses it. */
TEST_F_TIMEOUT(map, boundary_256t, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	struct htable_info info;
	__u64 b = HT_SZ_256T;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	if (h->levels == 4) {
		ASSERT_EQ(1ULL << 47, h->limit);
		map_erange(_metadata, h, b - HT_PAGE_SIZE, 2, HTABLE_MAP_WRITE);
		map_erange(_metadata, h, b, 1, 0);
		map_erange(_metadata, h, b - HT_PAGE_SIZE, 1, 0);
		/* Half below the limit is not enough either. */
		map_erange(_metadata, h, h->limit - HT_PAGE_SIZE, 2, 0);
		return;
	}
	ASSERT_EQ(1ULL << 56, h->limit);
	map_ok(_metadata, h, b - HT_PAGE_SIZE, 1, HTABLE_MAP_WRITE);
	map_ok(_metadata, h, b, 1, HTABLE_MAP_WRITE);
	/* Written out rather than modelled: two of everything below the top. */
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(5, info.levels);
	EXPECT_EQ(1, info.tables[4]);
	EXPECT_EQ(2, info.tables[3]);
	EXPECT_EQ(2, info.tables[2]);
	EXPECT_EQ(2, info.tables[1]);
	EXPECT_EQ(2, info.tables[0]);
	EXPECT_EQ(2, info.valid[4]);
	EXPECT_EQ(2, info.valid[0]);
	EXPECT_EQ(2, info.mapped_pages);
	unmap_ok(_metadata, h, b - HT_PAGE_SIZE, 2);
	map_ok(_metadata, h, b - 256 * HT_PAGE_SIZE, 513, HTABLE_MAP_EXEC);
	unmap_ok(_metadata, h, b - 256 * HT_PAGE_SIZE, 513);
}

/* The ends of the mappable half: va 0 and the last pages below the limit. */
TEST_F_TIMEOUT(map, lower_half_ends, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	struct htable_info info;
	int top;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	top = h->levels - 1;
	map_ok(_metadata, h, 0, 1, HTABLE_MAP_WRITE);
	map_ok(_metadata, h, h->limit - HT_PAGE_SIZE, 1, HTABLE_MAP_WRITE);
	/* First and last top-level entries: two full branches. */
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(1, info.tables[top]);
	EXPECT_EQ(2, info.valid[top]);
	EXPECT_EQ(2, info.tables[0]);
	map_ok(_metadata, h, h->limit - 513 * HT_PAGE_SIZE, 512, HTABLE_MAP_EXEC);
	unmap_ok(_metadata, h, h->limit - 513 * HT_PAGE_SIZE, 513);
	map_ok(_metadata, h, HT_PAGE_SIZE, 512, 0);
	unmap_ok(_metadata, h, 0, 513);
	ASSERT_EQ(0, h->m.n);
}

/* A hard-coded case, so the model's arithmetic is checked too. */
TEST_F_TIMEOUT(map, written_out_counts, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	struct htable_info info;
	int top;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	top = h->levels - 1;
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(h->levels, info.levels);
	EXPECT_EQ(1, info.tables[top]);
	EXPECT_EQ(0, info.tables[0]);
	EXPECT_EQ(0, info.valid[top]);
	EXPECT_EQ(0, info.mapped_pages);
	/* Pages at 4 KiB and 8 KiB, 2 MiB + 4 KiB and 1 GiB. */
	map_ok(_metadata, h, HT_PAGE_SIZE, 2, HTABLE_MAP_WRITE);
	map_ok(_metadata, h, HT_SZ_2M + HT_PAGE_SIZE, 1, HTABLE_MAP_LOCK);
	map_ok(_metadata, h, HT_SZ_1G, 1, 0);
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(3, info.tables[0]);	/* 0-2M, 2M-4M, 1G-1G+2M */
	EXPECT_EQ(2, info.tables[1]);	/* 0-1G, 1G-2G */
	EXPECT_EQ(1, info.tables[2]);	/* 0-512G */
	EXPECT_EQ(4, info.valid[0]);
	EXPECT_EQ(3, info.valid[1]);
	EXPECT_EQ(2, info.valid[2]);
	EXPECT_EQ(1, info.valid[3]);
	EXPECT_EQ(1, info.locked);
	EXPECT_EQ(4, info.mapped_pages);
	EXPECT_EQ(4, info.owned_pages);
	if (top == 4) {
		EXPECT_EQ(1, info.tables[3]);
		EXPECT_EQ(1, info.valid[4]);
	} else {
		EXPECT_EQ(0, info.tables[4]);
		EXPECT_EQ(0, info.valid[4]);
	}
	unmap_ok(_metadata, h, HT_SZ_2M + HT_PAGE_SIZE, 1);
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(2, info.tables[0]);
	EXPECT_EQ(0, info.locked);
	unmap_ok(_metadata, h, HT_PAGE_SIZE, 2);
	unmap_ok(_metadata, h, HT_SZ_1G, 1);
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(0, info.tables[0]);
	EXPECT_EQ(0, info.tables[1]);
	EXPECT_EQ(1, info.tables[top]);
	EXPECT_EQ(0, info.valid[top]);
}

/* LOCK shows in INFO.locked and PROBE LOCKED, and goes with UNMAP. */
TEST_F_TIMEOUT(map, locked, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	__u64 va = 5 * HT_SZ_1G - 8 * HT_PAGE_SIZE;
	struct htable_probe p;
	struct htable_info info;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	map_ok(_metadata, h, va, 8, HTABLE_MAP_LOCK);
	map_ok(_metadata, h, va + 8 * HT_PAGE_SIZE, 8, HTABLE_MAP_WRITE);
	map_ok(_metadata, h, va + 16 * HT_PAGE_SIZE, 3,
	       HTABLE_MAP_LOCK | HTABLE_MAP_WRITE | HTABLE_MAP_EXEC);
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(11, info.locked);
	ASSERT_EQ(0, ht_probe(h->fd, va, &p));
	EXPECT_EQ(HTABLE_PROBE_LOCKED, p.flags & HTABLE_PROBE_LOCKED);
	ASSERT_EQ(0, ht_probe(h->fd, va + 8 * HT_PAGE_SIZE, &p));
	EXPECT_EQ(0, p.flags & HTABLE_PROBE_LOCKED);
	/* An alias of locked pages is locked only when it asks to be. */
	alias_ok(_metadata, h, va + 32 * HT_PAGE_SIZE, 8, 0, va, 8);
	alias_ok(_metadata, h, va + 40 * HT_PAGE_SIZE, 8, HTABLE_MAP_LOCK,
		 va + 8 * HT_PAGE_SIZE, 8);
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(19, info.locked);
	/* UNMAP of a range mixing locked and unlocked pages. */
	unmap_ok(_metadata, h, va + 4 * HT_PAGE_SIZE, 14);
	unmap_ok(_metadata, h, va, 4);
	unmap_ok(_metadata, h, va + 18 * HT_PAGE_SIZE, 1);
	unmap_ok(_metadata, h, va + 32 * HT_PAGE_SIZE, 16);
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(0, info.locked);
}

/* Unmapped addresses, aligned or not, PROBE as nothing. */
TEST_F_TIMEOUT(map, probe_holes, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	__u64 vas[] = { 0, 1, 0xfff, HT_SZ_2M - 1, 5 * HT_SZ_1G + 2 * HT_PAGE_SIZE + 0x123,
			3 * HT_SZ_512G, 0, 0 };
	size_t i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	vas[6] = h->limit - 1;
	vas[7] = h->limit - HT_PAGE_SIZE;
	for (i = 0; i < ARRAY_SIZE(vas); i++)
		EXPECT_EQ(0, ht_verify_probe(h->fd, vas[i], NULL));
	/* Next to a mapping, and inside a table that exists. */
	map_ok(_metadata, h, 5 * HT_SZ_1G, 1, HTABLE_MAP_WRITE);
	for (i = 0; i < ARRAY_SIZE(vas); i++)
		EXPECT_EQ(0, ht_verify_probe(h->fd, vas[i], NULL));
	EXPECT_EQ(0, ht_verify_probe(h->fd, 5 * HT_SZ_1G + HT_PAGE_SIZE, NULL));
	EXPECT_EQ(0, ht_verify_probe(h->fd, 5 * HT_SZ_1G + HT_SZ_2M - 1, NULL));
	EXPECT_EQ(0, ht_verify_probe(h->fd, 5 * HT_SZ_1G - 1, NULL));
	EXPECT_EQ(0, ht_verify_probe(h->fd, 5 * HT_SZ_1G + 0xfff, &h->m.pg[0]));
	unmap_ok(_metadata, h, 5 * HT_SZ_1G, 1);
	EXPECT_EQ(0, ht_verify_probe(h->fd, 5 * HT_SZ_1G, NULL));
}

/* A va mapped, unmapped and mapped again gets a sound fresh mapping. */
TEST_F_TIMEOUT(map, remap, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	__u64 va = 3 * HT_SZ_2M - 2 * HT_PAGE_SIZE;
	int i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	for (i = 0; i < 4; i++) {
		map_ok(_metadata, h, va, 4, i & 1 ? HTABLE_MAP_WRITE : HTABLE_MAP_EXEC);
		unmap_ok(_metadata, h, va, 4);
	}
}

/*
 * Closing a hat that still maps pages frees everything: the gauge of
 * page-table pages (hats and caches), the per-level table gauges and the
 * count of open hats return to where they were before it was opened.
 */
TEST_F_TIMEOUT(map, close_with_mappings, MAP_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	long long active0, hats0, destroyed0, lvl0[HTABLE_MAX_LEVELS];
	struct htable_info info;
	char name[16];
	__u64 sum = 0;
	size_t i;
	int l;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	/* The baseline is taken with the fixture's hat closed. */
	close(h->fd);
	h->fd = -1;
	active0 = htable_stat("active_ptables");
	hats0 = htable_stat("hats");
	destroyed0 = htable_stat("hs_hats_destroyed");
	ASSERT_LE(0, active0);
	ASSERT_LE(0, hats0);
	ASSERT_LE(0, destroyed0);
	for (l = 0; l < HTABLE_MAX_LEVELS; l++) {
		snprintf(name, sizeof(name), "tables_l%d", l);
		lvl0[l] = htable_stat(name);
		ASSERT_LE(0, lvl0[l]) TH_LOG("no %s in stats", name);
	}

	h->fd = htable_open_dev();
	ASSERT_LE(0, h->fd);
	EXPECT_EQ(hats0 + 1, htable_stat("hats"));
	/* The new hat has its top table. */
	EXPECT_LE(active0 + 1, htable_stat("active_ptables"));
	for (i = 0; i < ARRAY_SIZE(boundaries); i++) {
		if (!fits(h, boundaries[i] - 300 * HT_PAGE_SIZE, 600))
			continue;
		map_ok(_metadata, h, boundaries[i] - 300 * HT_PAGE_SIZE, 600,
		       i & 1 ? HTABLE_MAP_LOCK : HTABLE_MAP_WRITE);
	}
	alias_ok(_metadata, h, 7 * HT_SZ_1G, 1000, 0,
		 boundaries[0] - 300 * HT_PAGE_SIZE, 10);
	/* Some tables emptied into the hat's cache before the close. */
	unmap_ok(_metadata, h, boundaries[1] - 300 * HT_PAGE_SIZE, 600);
	ASSERT_EQ(0, ht_info(h->fd, &info));
	for (l = 0; l < HTABLE_MAX_LEVELS; l++)
		sum += info.tables[l];
	EXPECT_LE(active0 + (long long)sum, htable_stat("active_ptables"));
	for (l = 0; l < HTABLE_MAX_LEVELS; l++) {
		snprintf(name, sizeof(name), "tables_l%d", l);
		EXPECT_LE(lvl0[l] + (long long)info.tables[l], htable_stat(name))
			TH_LOG("%s", name);
	}

	close(h->fd);
	h->fd = -1;
	EXPECT_EQ(hats0, htable_stat("hats"));
	EXPECT_EQ(destroyed0 + 1, htable_stat("hs_hats_destroyed"));
	EXPECT_EQ(active0, htable_stat("active_ptables"));
	for (l = 0; l < HTABLE_MAX_LEVELS; l++) {
		snprintf(name, sizeof(name), "tables_l%d", l);
		EXPECT_EQ(lvl0[l], htable_stat(name)) TH_LOG("%s", name);
	}
}

TEST_HARNESS_MAIN
