// SPDX-License-Identifier: GPL-2.0
/*
 * Every request the ABI refuses, each checked three ways: the errno, that
 * nothing changed (INFO identical, CHECK clean and visiting the same
 * tables and entries, PROBE of the pages around the request and of every
 * page already mapped unchanged), and that hs_bad_input counted it once.
 *
 * Each test starts from the same hat: pages across a 1 GiB boundary, a
 * locked page after a gap, pages across a 2 MiB boundary, va 0 and the
 * last page below the top of the lower half.
 */
#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"

#define BAD_TIMEOUT	120
#define MAX_PROBES	400

/* The starting hat: A (8 pages) and B (1, locked) with a 3-page gap. */
#define A_VA	(5 * HT_SZ_1G - 4 * HT_PAGE_SIZE)
#define A_N	8
#define B_VA	(A_VA + 11 * HT_PAGE_SIZE)
#define C_VA	(3 * HT_SZ_2M - HT_PAGE_SIZE)
#define C_N	3

struct bad_case {
	const char *what;
	int unmap;		/* UNMAP rather than MAP */
	__u64 va;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 alias_va;
	__u64 alias_npages;
	int err;		/* the errno the ABI gives */
};

/* What must not change. */
struct snap {
	struct htable_info info;
	struct htable_check check;
	int nprobe;
	struct htable_probe probe[MAX_PROBES];
};

FIXTURE(bad) {
	struct ht_hat h;
	int err;
};

FIXTURE_SETUP(bad)
{
	self->err = -ht_hat_open(&self->h);
}

FIXTURE_TEARDOWN(bad)
{
	ht_hat_close(&self->h);
}

static void baseline(struct __test_metadata *_metadata, struct ht_hat *h)
{
	const struct { __u64 va, n; __u32 flags; } maps[] = {
		{ A_VA, A_N, HTABLE_MAP_WRITE },
		{ B_VA, 1, HTABLE_MAP_LOCK },
		{ C_VA, C_N, HTABLE_MAP_EXEC },
		{ 0, 1, HTABLE_MAP_WRITE },
		{ h->limit - HT_PAGE_SIZE, 1, HTABLE_MAP_WRITE | HTABLE_MAP_EXEC },
	};
	size_t i;

	ASSERT_TRUE(h->levels == 4 || h->levels == 5);
	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		int ret = ht_map(h->fd, maps[i].va, maps[i].n, maps[i].flags);

		ASSERT_EQ(0, ret) TH_LOG("MAP %#llx: %s", maps[i].va, strerror(-ret));
		ASSERT_EQ(0, ht_model_insert(&h->m, maps[i].va, maps[i].n,
					     maps[i].flags, 0, 0));
	}
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

static void add_probe(struct snap *s, __u64 va)
{
	if (s->nprobe < MAX_PROBES)
		s->probe[s->nprobe++].va = va;
}

/* Up to 32 pages from each end of the range that lie in the lower half. */
static void add_range(struct snap *s, const struct ht_hat *h, __u64 va, __u64 npages)
{
	__u64 i, end;

	va &= ~(HT_PAGE_SIZE - 1);
	for (i = 0; i < 32 && i < npages && va + i * HT_PAGE_SIZE < h->limit; i++)
		add_probe(s, va + i * HT_PAGE_SIZE);
	if (npages > HTABLE_MAX_NPAGES || va >= h->limit)
		return;
	end = va + npages * HT_PAGE_SIZE;
	if (end > h->limit)
		end = h->limit;
	for (i = 1; i <= 32 && end - i * HT_PAGE_SIZE > va; i++)
		add_probe(s, end - i * HT_PAGE_SIZE);
}

/* INFO, CHECK and PROBE of the mapped pages, their neighbours and @c's pages. */
static int take(const struct ht_hat *h, const struct bad_case *c, struct snap *s)
{
	size_t i;
	int k, bad = 0;

	memset(s, 0, sizeof(*s));
	bad += !!ht_info(h->fd, &s->info);
	bad += !!ht_check(h->fd, &s->check);
	bad += !!s->check.errors;
	for (i = 0; i < h->m.n; i++) {
		if (h->m.pg[i].va)
			add_probe(s, h->m.pg[i].va - HT_PAGE_SIZE);
		add_probe(s, h->m.pg[i].va);
		if (h->m.pg[i].va + HT_PAGE_SIZE < h->limit)
			add_probe(s, h->m.pg[i].va + HT_PAGE_SIZE);
	}
	if (c) {
		add_range(s, h, c->va, c->npages);
		if (c->alias_npages)
			add_range(s, h, c->alias_va, c->alias_npages);
	}
	for (k = 0; k < s->nprobe; k++)
		bad += !!ht_probe(h->fd, s->probe[k].va, &s->probe[k]);
	return bad;
}

/*
 * What differs between two snapshots. INFO must be identical, the cache
 * included, unless @any_cached: a request refused only once the module
 * looked at the tables (EEXIST, ENOENT) may have moved tables it built
 * for the request into the cache.
 */
static int diff(const struct snap *a, const struct snap *b, int any_cached)
{
	int k, bad = ht_info_diff(&a->info, &b->info, !any_cached);

	if (memcmp(&a->check, &b->check, sizeof(a->check))) {
		fprintf(stderr, "# CHECK errors/tables/entries %llu %llu %llu,",
			a->check.errors, a->check.tables, a->check.entries);
		fprintf(stderr, " then %llu %llu %llu\n",
			b->check.errors, b->check.tables, b->check.entries);
		bad++;
	}
	for (k = 0; k < a->nprobe && k < b->nprobe; k++) {
		const struct htable_probe *p = &a->probe[k], *q = &b->probe[k];

		if (memcmp(p, q, sizeof(*p))) {
			fprintf(stderr, "# PROBE %#llx flags/pfn/pte %#x %#llx %#llx,",
				p->va, p->flags, p->pfn, p->pte);
			fprintf(stderr, " then %#x %#llx %#llx\n", q->flags, q->pfn, q->pte);
			bad++;
		}
	}
	return bad;
}

static int issue(const struct ht_hat *h, const struct bad_case *c)
{
	if (c->unmap) {
		struct htable_unmap u = {
			.va = c->va,
			.npages = c->npages,
			.flags = c->flags,
			.reserved0 = c->reserved0,
		};

		return ht_unmap_req(h->fd, &u);
	}
	{
		struct htable_map m = {
			.va = c->va,
			.npages = c->npages,
			.flags = c->flags,
			.reserved0 = c->reserved0,
			.alias_va = c->alias_va,
			.alias_npages = c->alias_npages,
		};

		return ht_map_req(h->fd, &m);
	}
}

/* One refused request: its errno, nothing changed, counted once. */
static void refused(struct __test_metadata *_metadata, struct ht_hat *h,
		    const struct bad_case *c)
{
	static struct snap before, after;
	long long bad0, bad1;
	int ret;

	ASSERT_EQ(0, take(h, c, &before)) TH_LOG("%s: snapshot", c->what);
	bad0 = htable_stat("hs_bad_input");
	ret = issue(h, c);
	bad1 = htable_stat("hs_bad_input");
	ASSERT_EQ(0, take(h, c, &after)) TH_LOG("%s: snapshot", c->what);
	EXPECT_EQ(-c->err, ret) {
		TH_LOG("%s %s va %#llx npages %llu flags %#x: %s, expected %s",
		       c->unmap ? "UNMAP" : "MAP", c->what, c->va, c->npages,
		       c->flags, ret ? strerror(-ret) : "success", strerror(c->err));
	}
	EXPECT_EQ(0, diff(&before, &after, c->err == EEXIST || c->err == ENOENT)) {
		TH_LOG("%s: the hat changed", c->what);
	}
	EXPECT_EQ(0, after.check.errors) TH_LOG("%s: CHECK", c->what);
	EXPECT_LE(0, bad0);
	EXPECT_EQ(bad0 + 1, bad1) TH_LOG("%s: hs_bad_input", c->what);
}

static void refuse_all(struct __test_metadata *_metadata, struct ht_hat *h,
		       const struct bad_case *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		refused(_metadata, h, &c[i]);
	/* And the hat still is exactly the starting one. */
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

TEST_F_TIMEOUT(bad, misaligned_va, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "va + 1", .va = 3 * HT_SZ_1G + 1, .npages = 1, .err = EINVAL },
			{ .what = "va + 2048", .va = 3 * HT_SZ_1G + 2048, .npages = 4,
			  .err = EINVAL },
			{ .what = "va + 4095", .va = 3 * HT_SZ_1G + 4095, .npages = 1,
			  .err = EINVAL },
			{ .what = "mapped va + 8", .va = A_VA + 8, .npages = 1, .err = EINVAL },
			{ .what = "va 1", .va = 1, .npages = 1, .err = EINVAL },
			{ .what = "unmap mapped va + 1", .unmap = 1, .va = A_VA + 1,
			  .npages = 1, .err = EINVAL },
			{ .what = "unmap va + 4095", .unmap = 1, .va = C_VA + 4095,
			  .npages = 1, .err = EINVAL },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, npages, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "npages 0", .va = 3 * HT_SZ_1G, .npages = 0, .err = EINVAL },
			{ .what = "npages 0 at a mapped va", .va = A_VA, .npages = 0,
			  .err = EINVAL },
			{ .what = "npages max + 1", .va = 3 * HT_SZ_1G,
			  .npages = HTABLE_MAX_NPAGES + 1, .err = E2BIG },
			{ .what = "npages 2 * max", .va = HT_SZ_1G,
			  .npages = 2 * HTABLE_MAX_NPAGES, .err = E2BIG },
			{ .what = "unmap npages 0", .unmap = 1, .va = A_VA, .npages = 0,
			  .err = EINVAL },
			{ .what = "unmap npages max + 1", .unmap = 1, .va = A_VA,
			  .npages = HTABLE_MAX_NPAGES + 1, .err = E2BIG },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, overflow, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "last page + 1", .va = ~0ULL & ~(HT_PAGE_SIZE - 1), .npages = 2,
			  .err = EOVERFLOW },
			{ .what = "max pages wrapping",
			  .va = -(HTABLE_MAX_NPAGES / 2) * HT_PAGE_SIZE,
			  .npages = HTABLE_MAX_NPAGES, .err = EOVERFLOW },
			{ .what = "unmap wrapping", .unmap = 1,
			  .va = ~0ULL & ~(HT_PAGE_SIZE - 1), .npages = 3, .err = EOVERFLOW },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, out_of_range, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	__u64 lim;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	lim = h->limit;
	{
		const struct bad_case c[] = {
			{ .what = "va = limit", .va = lim, .npages = 1, .err = ERANGE },
			{ .what = "end crosses limit", .va = lim - HT_PAGE_SIZE, .npages = 2,
			  .err = ERANGE },
			{ .what = "end crosses limit by a lot", .va = lim - 10 * HT_PAGE_SIZE,
			  .npages = HTABLE_MAX_NPAGES, .err = ERANGE },
			{ .what = "fresh range crossing limit", .va = lim - 1000 * HT_PAGE_SIZE,
			  .npages = 1001, .err = ERANGE },
			{ .what = "256 TiB", .va = HT_SZ_256T, .npages = 1,
			  .err = h->levels == 5 ? 0 : ERANGE },
			{ .what = "non-canonical 1 << 62", .va = 1ULL << 62, .npages = 1,
			  .err = ERANGE },
			{ .what = "kernel half start", .va = 0xffff800000000000ULL, .npages = 1,
			  .err = ERANGE },
			{ .what = "5-level kernel half", .va = 0xff00000000000000ULL, .npages = 1,
			  .err = ERANGE },
			{ .what = "sign bit", .va = 1ULL << 63, .npages = 1, .err = ERANGE },
			{ .what = "unmap va = limit", .unmap = 1, .va = lim, .npages = 1,
			  .err = ERANGE },
			{ .what = "unmap last page + 1", .unmap = 1, .va = lim - HT_PAGE_SIZE,
			  .npages = 2, .err = ERANGE },
			{ .what = "unmap kernel half", .unmap = 1, .va = 0xffff800000000000ULL,
			  .npages = 1, .err = ERANGE },
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(c); i++)
			if (c[i].err)
				refused(_metadata, h, &c[i]);
		ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
	}
}

TEST_F_TIMEOUT(bad, flags_and_reserved, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "flag bit 4", .va = 3 * HT_SZ_1G, .npages = 1,
			  .flags = 1U << 4, .err = EINVAL },
			{ .what = "flag bit 31", .va = 3 * HT_SZ_1G, .npages = 1,
			  .flags = HTABLE_MAP_WRITE | 1U << 31, .err = EINVAL },
			{ .what = "all unknown flags", .va = 3 * HT_SZ_1G, .npages = 1,
			  .flags = ~HTABLE_MAP_FLAGS, .err = EINVAL },
			{ .what = "reserved0 1", .va = 3 * HT_SZ_1G, .npages = 1,
			  .reserved0 = 1, .err = EINVAL },
			{ .what = "reserved0 bit 31", .va = 3 * HT_SZ_1G, .npages = 1,
			  .flags = HTABLE_MAP_WRITE, .reserved0 = 1U << 31, .err = EINVAL },
			{ .what = "unmap flags 1", .unmap = 1, .va = A_VA, .npages = 1,
			  .flags = 1, .err = EINVAL },
			{ .what = "unmap flags bit 31", .unmap = 1, .va = A_VA, .npages = A_N,
			  .flags = 1U << 31, .err = EINVAL },
			{ .what = "unmap reserved0", .unmap = 1, .va = A_VA, .npages = 1,
			  .reserved0 = 1, .err = EINVAL },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, alias, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	const __u32 al = HTABLE_MAP_ALIAS;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "alias_npages 0", .va = 3 * HT_SZ_1G, .npages = 4,
			  .flags = al, .alias_va = A_VA, .alias_npages = 0, .err = EINVAL },
			{ .what = "alias_npages > npages", .va = 3 * HT_SZ_1G, .npages = 2,
			  .flags = al, .alias_va = A_VA, .alias_npages = 3, .err = EINVAL },
			{ .what = "alias of nothing", .va = 3 * HT_SZ_1G, .npages = 4,
			  .flags = al, .alias_va = 7 * HT_SZ_1G, .alias_npages = 1,
			  .err = ENOENT },
			{ .what = "alias starting in a hole", .va = 3 * HT_SZ_1G, .npages = 4,
			  .flags = al, .alias_va = A_VA - HT_PAGE_SIZE, .alias_npages = 2,
			  .err = ENOENT },
			{ .what = "alias ending in a hole", .va = 3 * HT_SZ_1G, .npages = 9,
			  .flags = al, .alias_va = A_VA, .alias_npages = A_N + 1,
			  .err = ENOENT },
			{ .what = "alias over the gap", .va = 3 * HT_SZ_1G, .npages = 600,
			  .flags = al | HTABLE_MAP_WRITE, .alias_va = A_VA,
			  .alias_npages = B_VA / HT_PAGE_SIZE - A_VA / HT_PAGE_SIZE + 1,
			  .err = ENOENT },
			{ .what = "alias_va without ALIAS", .va = 3 * HT_SZ_1G, .npages = 1,
			  .alias_va = A_VA, .err = EINVAL },
			{ .what = "alias_npages without ALIAS", .va = 3 * HT_SZ_1G, .npages = 1,
			  .alias_npages = 1, .err = EINVAL },
			{ .what = "both without ALIAS", .va = 3 * HT_SZ_1G, .npages = 4,
			  .flags = HTABLE_MAP_WRITE, .alias_va = A_VA, .alias_npages = 2,
			  .err = EINVAL },
			{ .what = "alias onto a mapped page", .va = B_VA, .npages = 1,
			  .flags = al, .alias_va = A_VA, .alias_npages = 1, .err = EEXIST },
			{ .what = "alias into A", .va = A_VA - 2 * HT_PAGE_SIZE, .npages = 3,
			  .flags = al, .alias_va = C_VA, .alias_npages = 3, .err = EEXIST },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, map_over_mapped, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	__u64 lim;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	lim = h->limit;
	{
		const struct bad_case c[] = {
			{ .what = "exactly A", .va = A_VA, .npages = A_N, .err = EEXIST },
			{ .what = "first page of A", .va = A_VA, .npages = 1, .err = EEXIST },
			{ .what = "overlap at the start", .va = A_VA - 2 * HT_PAGE_SIZE,
			  .npages = 3, .err = EEXIST },
			{ .what = "overlap at the end", .va = A_VA + (A_N - 1) * HT_PAGE_SIZE,
			  .npages = 2, .err = EEXIST },
			{ .what = "the gap and B", .va = A_VA + A_N * HT_PAGE_SIZE,
			  .npages = 4, .err = EEXIST },
			{ .what = "around B", .va = B_VA - 2 * HT_PAGE_SIZE, .npages = 5,
			  .flags = HTABLE_MAP_LOCK, .err = EEXIST },
			{ .what = "1024 fresh pages then C", .va = C_VA - 1024 * HT_PAGE_SIZE,
			  .npages = 1025, .flags = HTABLE_MAP_WRITE, .err = EEXIST },
			{ .what = "across C into fresh tables", .va = C_VA + HT_PAGE_SIZE,
			  .npages = 1100, .err = EEXIST },
			{ .what = "va 0 and the next 600", .va = 0, .npages = 601,
			  .err = EEXIST },
			{ .what = "fresh branch up to the last page",
			  .va = lim - 3000 * HT_PAGE_SIZE, .npages = 3000, .err = EEXIST },
			{ .what = "A, the gap, B and beyond", .va = A_VA - HT_SZ_2M,
			  .npages = 2048, .flags = HTABLE_MAP_EXEC, .err = EEXIST },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, unmap_holes, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "a page never mapped", .unmap = 1, .va = 3 * HT_SZ_1G,
			  .npages = 1, .err = ENOENT },
			{ .what = "a hole in a live table", .unmap = 1,
			  .va = A_VA - HT_PAGE_SIZE, .npages = 1, .err = ENOENT },
			{ .what = "a hole then A", .unmap = 1, .va = A_VA - HT_PAGE_SIZE,
			  .npages = A_N + 1, .err = ENOENT },
			{ .what = "A then a hole", .unmap = 1, .va = A_VA, .npages = A_N + 1,
			  .err = ENOENT },
			{ .what = "A, the gap and B", .unmap = 1, .va = A_VA,
			  .npages = B_VA / HT_PAGE_SIZE - A_VA / HT_PAGE_SIZE + 1,
			  .err = ENOENT },
			{ .what = "the gap only", .unmap = 1, .va = A_VA + A_N * HT_PAGE_SIZE,
			  .npages = 3, .err = ENOENT },
			{ .what = "C and 2 MiB of holes", .unmap = 1, .va = C_VA,
			  .npages = 512 + C_N, .err = ENOENT },
			{ .what = "everything below A", .unmap = 1, .va = 0,
			  .npages = A_VA / HT_PAGE_SIZE + A_N, .err = ENOENT },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

/* Bad argument pointers: EFAULT, and nothing changes. */
TEST_F_TIMEOUT(bad, bad_pointers, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	static const unsigned long cmds[] = {
		HTABLE_IOC_MAP, HTABLE_IOC_UNMAP, HTABLE_IOC_PROBE,
		HTABLE_IOC_INFO, HTABLE_IOC_CHECK,
	};
	static struct snap before, after;
	size_t i;

	HT_NEED_DEV(h->fd < 0, self->err);
	baseline(_metadata, h);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		void *ptrs[] = { NULL, (void *)8, (void *)0xffff800000000000ULL };
		size_t k;

		for (k = 0; k < ARRAY_SIZE(ptrs); k++) {
			ASSERT_EQ(0, take(h, NULL, &before));
			EXPECT_EQ(-1, ioctl(h->fd, cmds[i], ptrs[k]));
			EXPECT_EQ(EFAULT, errno) TH_LOG("ioctl %#lx, %p", cmds[i], ptrs[k]);
			ASSERT_EQ(0, take(h, NULL, &after));
			EXPECT_EQ(0, diff(&before, &after, 0));
		}
	}
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

TEST_HARNESS_MAIN
