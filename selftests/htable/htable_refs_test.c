// SPDX-License-Identifier: GPL-2.0
/*
 * Page references can't overflow (issue 15.4). Every alias of a page, and
 * every 4 KiB piece of a split large page, holds one reference on the
 * page's folio. The module refuses, with EOVERFLOW and changing nothing,
 * an entry whose folio already has ref_limit references (debugfs
 * ref_limit, 2..INT_MAX, default 2^30; hat_hold() in
 * include/htable/pages.h, __hat_hold() in module/pages.c). The tests
 * lower the limit to reach it.
 *
 * The expected counts don't come from the module. A page MAP allocates
 * fresh comes from the page allocator with one reference, which its entry
 * holds; the tests check that nothing else holds one: /proc/kpagecount
 * (the page's user map count) is 0, and /proc/kpageflags shows it on no
 * LRU list, not slab, not free. So a page mapped once has 1 reference,
 * and with a limit L, exactly L - 1 aliases of it fit. Splitting a 2 MiB
 * page for an UNMAP of one 4 KiB page of its middle leaves 511 entries,
 * each with its reference: a limit of 510 can't allow that, however the
 * split takes them, and 513 allows it even when all 512 new entries take
 * theirs before the large entry gives its own back.
 *
 * A refused MAP or UNMAP changes nothing: PROBE of its range, INFO's
 * counts, CHECK, and the data (RW) are as before. Aliases unmapped give
 * their references back: as many new aliases fit again.
 */
#include <limits.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define REFS_TIMEOUT	120
#define LIMIT		64
#define VA_SRC		HT_SZ_1G
#define VA_SRC2		(HT_SZ_1G + HT_SZ_2M)
#define VA_AL		(2 * HT_SZ_1G)
#define VA_AL2		(3 * HT_SZ_1G)
#define VA_2M		(4 * HT_SZ_1G)
#define NP_2M		HTABLE_2M_NPAGES
#define TAG		0x5245465354414755ULL	/* "REFSTAGU" */

FIXTURE(refs) {
	int fd;
	int err;
};

FIXTURE_SETUP(refs)
{
	/* A test killed by its timeout skipped its teardown: start clean. */
	htable_knob_write(HTABLE_REF_LIMIT_PATH, HTABLE_REF_LIMIT_DEFAULT);
	self->fd = htable_open_dev();
	self->err = errno;
}

FIXTURE_TEARDOWN(refs)
{
	if (self->fd >= 0)
		close(self->fd);
	htable_knob_write(HTABLE_REF_LIMIT_PATH, HTABLE_REF_LIMIT_DEFAULT);
}

/* HTABLE_IOC_RW of one u64: 0 or -errno. */
static int rw64(int fd, __u64 va, __u64 *val, __u32 flags)
{
	return ht_rw(fd, va, val, sizeof(*val), flags);
}

/* The counts of INFO that a refused MAP or UNMAP must leave alone. */
static int info_same(const struct htable_info *a, const struct htable_info *b)
{
	return !memcmp(a->tables, b->tables, sizeof(a->tables)) &&
	       !memcmp(a->valid, b->valid, sizeof(a->valid)) &&
	       a->locked == b->locked && a->mapped_pages == b->mapped_pages &&
	       a->owned_pages == b->owned_pages;
}

/* Pages of [va, va + npages pages) PROBE shows present or owned. */
static __u64 probe_used(int fd, __u64 va, __u64 npages)
{
	struct htable_probe p;
	__u64 i, used = 0;

	for (i = 0; i < npages; i++)
		if (ht_probe(fd, va + i * HT_PAGE_SIZE, &p) || p.flags)
			used++;
	return used;
}

/* CHECK's error count, or -1 when CHECK fails. */
static long long check_errors(int fd)
{
	struct htable_check c;

	if (ht_check(fd, &c))
		return -1;
	if (c.errors)
		printf("# CHECK: %llu errors, first %u at %#llx\n", c.errors,
		       c.first_error, c.first_va);
	return c.errors;
}

/*
 * The references of the page at @va other than its one entry's, as the
 * kernel shows them: a user mapping (kpagecount), an LRU list, or being
 * free or slab would each mean another one. Returns the number of such
 * signs (0: the page's only reference is its entry's), or -1.
 */
static int other_refs(int fd, __u64 va)
{
	struct htable_probe p;
	__u64 kpf, kpc;

	if (ht_probe(fd, va, &p) || !(p.flags & HTABLE_PROBE_PRESENT))
		return -1;
	kpf = ht_kpageflags(p.pfn);
	kpc = ht_kpagecount(p.pfn);
	if (kpf == ~0ULL || kpc == ~0ULL)
		return -1;
	if (kpc || (kpf & (_BITULL(HT_KPF_LRU) | _BITULL(HT_KPF_SLAB) |
			   _BITULL(HT_KPF_BUDDY))))
		printf("# pfn %#llx: kpagecount %llu kpageflags %#llx\n",
		       p.pfn, kpc, kpf);
	return !!kpc + !!(kpf & _BITULL(HT_KPF_LRU)) +
	       !!(kpf & _BITULL(HT_KPF_SLAB)) + !!(kpf & _BITULL(HT_KPF_BUDDY));
}

/* The knob takes 2..INT_MAX and refuses the rest with ERANGE. */
TEST_F_TIMEOUT(refs, knob_range, REFS_TIMEOUT)
{
	static const long long bad[] = { 0, 1, (long long)INT_MAX + 1, 1LL << 32 };
	size_t i;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(HTABLE_REF_LIMIT_DEFAULT, htable_knob_read(HTABLE_REF_LIMIT_PATH));
	ASSERT_EQ(0, htable_knob_write(HTABLE_REF_LIMIT_PATH, 2));
	EXPECT_EQ(2, htable_knob_read(HTABLE_REF_LIMIT_PATH));
	ASSERT_EQ(0, htable_knob_write(HTABLE_REF_LIMIT_PATH, INT_MAX));
	EXPECT_EQ(INT_MAX, htable_knob_read(HTABLE_REF_LIMIT_PATH));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-ERANGE, htable_knob_write(HTABLE_REF_LIMIT_PATH, bad[i]))
			TH_LOG("ref_limit %lld", bad[i]);
		EXPECT_EQ(INT_MAX, htable_knob_read(HTABLE_REF_LIMIT_PATH));
	}
}

/*
 * Single-page aliases of one page until the first refusal: exactly
 * LIMIT - 1, then EOVERFLOW, changing nothing; after UNMAP of some, as
 * many fit again; a raised limit lets exactly that many more in.
 */
TEST_F_TIMEOUT(refs, alias_stops_at_limit, REFS_TIMEOUT)
{
	struct htable_info before, after;
	__u64 i, n, val;
	int ret = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(self->fd, VA_SRC, 1, HTABLE_MAP_WRITE));
	val = TAG;
	ASSERT_EQ(0, rw64(self->fd, VA_SRC, &val, HTABLE_RW_WRITE));
	/* One reference, the entry's: so LIMIT - 1 aliases fit. */
	ASSERT_EQ(0, other_refs(self->fd, VA_SRC));
	ASSERT_EQ(0, htable_knob_write(HTABLE_REF_LIMIT_PATH, LIMIT));

	for (n = 0; n < LIMIT + 16; n++) {
		ASSERT_EQ(0, ht_info(self->fd, &before));
		ret = ht_map_alias(self->fd, VA_AL + n * HT_PAGE_SIZE, 1,
				   HTABLE_MAP_ALIAS, VA_SRC, 1);
		if (ret)
			break;
	}
	EXPECT_EQ(LIMIT - 1, n);
	ASSERT_EQ(-EOVERFLOW, ret) TH_LOG("alias %llu: %s", n, strerror(-ret));
	/* The refused alias changed nothing. */
	ASSERT_EQ(0, ht_info(self->fd, &after));
	EXPECT_TRUE(info_same(&before, &after));
	EXPECT_EQ(0, probe_used(self->fd, VA_AL + n * HT_PAGE_SIZE, 1));
	/* Nor does a larger one, all or nothing. */
	EXPECT_EQ(-EOVERFLOW, ht_map_alias(self->fd, VA_AL2, 8, HTABLE_MAP_ALIAS, VA_SRC, 1));
	EXPECT_EQ(0, probe_used(self->fd, VA_AL2, 8));
	ASSERT_EQ(0, ht_info(self->fd, &after));
	EXPECT_TRUE(info_same(&before, &after));
	EXPECT_EQ(0, check_errors(self->fd));
	/* Every alias still reads the source's data. */
	for (i = 0; i < n; i++) {
		val = 0;
		ASSERT_EQ(0, rw64(self->fd, VA_AL + i * HT_PAGE_SIZE, &val, 0));
		ASSERT_EQ(TAG, val) TH_LOG("alias %llu", i);
	}

	/* UNMAP gives 8 references back: 8 aliases fit again, not 9. */
	ASSERT_EQ(0, ht_unmap(self->fd, VA_AL, 8));
	EXPECT_EQ(0, ht_map_alias(self->fd, VA_AL2, 8, HTABLE_MAP_ALIAS, VA_SRC, 1));
	EXPECT_EQ(-EOVERFLOW, ht_map_alias(self->fd, VA_AL2 + 8 * HT_PAGE_SIZE, 1,
					   HTABLE_MAP_ALIAS, VA_SRC, 1));

	/* 16 more with a limit 16 higher: one MAP of 17 fails, of 16 fits. */
	ASSERT_EQ(0, htable_knob_write(HTABLE_REF_LIMIT_PATH, LIMIT + 16));
	ASSERT_EQ(0, ht_info(self->fd, &before));
	EXPECT_EQ(-EOVERFLOW, ht_map_alias(self->fd, VA_AL2 + 8 * HT_PAGE_SIZE, 17,
					   HTABLE_MAP_ALIAS, VA_SRC, 1));
	EXPECT_EQ(0, probe_used(self->fd, VA_AL2 + 8 * HT_PAGE_SIZE, 17));
	ASSERT_EQ(0, ht_info(self->fd, &after));
	EXPECT_TRUE(info_same(&before, &after));
	EXPECT_EQ(0, ht_map_alias(self->fd, VA_AL2 + 8 * HT_PAGE_SIZE, 16,
				  HTABLE_MAP_ALIAS, VA_SRC, 1));
	EXPECT_EQ(-EOVERFLOW, ht_map_alias(self->fd, VA_AL2 + 24 * HT_PAGE_SIZE, 1,
					   HTABLE_MAP_ALIAS, VA_SRC, 1));
	EXPECT_EQ(0, check_errors(self->fd));

	/* All given back: LIMIT - 1 fit again at the old limit. */
	ASSERT_EQ(0, ht_unmap(self->fd, VA_AL + 8 * HT_PAGE_SIZE, n - 8));
	ASSERT_EQ(0, ht_unmap(self->fd, VA_AL2, 24));
	ASSERT_EQ(0, htable_knob_write(HTABLE_REF_LIMIT_PATH, LIMIT));
	EXPECT_EQ(0, ht_map_alias(self->fd, VA_AL, LIMIT - 1, HTABLE_MAP_ALIAS, VA_SRC, 1));
	EXPECT_EQ(-EOVERFLOW, ht_map_alias(self->fd, VA_AL2, 1, HTABLE_MAP_ALIAS, VA_SRC, 1));
	/* The limit is per page: another page's aliases are not refused. */
	ASSERT_EQ(0, ht_map(self->fd, VA_SRC2, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, other_refs(self->fd, VA_SRC2));
	EXPECT_EQ(0, ht_map_alias(self->fd, VA_AL2, LIMIT - 1, HTABLE_MAP_ALIAS, VA_SRC2, 1));
	EXPECT_EQ(0, check_errors(self->fd));
}

/*
 * A split needs a reference per new entry: refused with EOVERFLOW, the 2
 * MiB page whole and its data in place, when the limit can't allow 511;
 * done when it allows 513.
 */
TEST_F_TIMEOUT(refs, split_needs_references, REFS_TIMEOUT)
{
	static const __u64 idx[] = { 0, 255, 257, 511 };
	__u64 mid = VA_2M + 256 * HT_PAGE_SIZE, pfn, val;
	struct htable_info before, after;
	struct htable_probe p;
	size_t i;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(self->fd, VA_2M, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_probe(self->fd, VA_2M, &p));
	ASSERT_EQ(1, p.level);
	pfn = p.pfn;
	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		val = TAG ^ idx[i];
		ASSERT_EQ(0, rw64(self->fd, VA_2M + idx[i] * HT_PAGE_SIZE, &val,
				  HTABLE_RW_WRITE));
	}

	ASSERT_EQ(0, htable_knob_write(HTABLE_REF_LIMIT_PATH, NP_2M - 2));
	ASSERT_EQ(0, ht_info(self->fd, &before));
	EXPECT_EQ(-EOVERFLOW, ht_unmap(self->fd, mid, 1));
	ASSERT_EQ(0, ht_info(self->fd, &after));
	EXPECT_TRUE(info_same(&before, &after));
	ASSERT_EQ(0, ht_probe(self->fd, mid, &p));
	EXPECT_TRUE(p.flags & HTABLE_PROBE_PRESENT);
	EXPECT_EQ(1, p.level);
	EXPECT_EQ(pfn + 256, p.pfn);
	EXPECT_EQ(0, check_errors(self->fd));

	ASSERT_EQ(0, htable_knob_write(HTABLE_REF_LIMIT_PATH, NP_2M + 1));
	ASSERT_EQ(0, ht_unmap(self->fd, mid, 1));
	EXPECT_EQ(0, probe_used(self->fd, mid, 1));
	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		__u64 va = VA_2M + idx[i] * HT_PAGE_SIZE;

		ASSERT_EQ(0, ht_probe(self->fd, va, &p));
		EXPECT_EQ(0, p.level);
		EXPECT_EQ(pfn + idx[i], p.pfn);
		val = 0;
		ASSERT_EQ(0, rw64(self->fd, va, &val, 0));
		EXPECT_EQ(TAG ^ idx[i], val);
	}
	ASSERT_EQ(0, ht_info(self->fd, &after));
	EXPECT_EQ(NP_2M - 1, after.mapped_pages);
	EXPECT_EQ(0, check_errors(self->fd));
}

TEST_HARNESS_MAIN
