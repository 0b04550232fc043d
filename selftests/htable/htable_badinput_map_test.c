// SPDX-License-Identifier: GPL-2.0
/*
 * Every MAP and UNMAP the ABI refuses (a misaligned va, a bad count, an
 * overflow, a range outside the hat, unknown flags or reserved fields, a
 * bad alias, a MAP over mapped pages, an UNMAP over holes) and the bad
 * argument pointers of MAP, UNMAP, PROBE, INFO and CHECK, each checked
 * three ways: the errno, that nothing changed (INFO identical, CHECK
 * clean and visiting the same tables and entries, PROBE of the pages
 * around the request and of every page already mapped unchanged), and
 * that hs_bad_input counted it once.
 *
 * Each test starts from the same hat (baseline() in htable_badinput.h):
 * pages across a 1 GiB boundary, a locked page after a gap, pages across
 * a 2 MiB boundary, va 0 and the last page below the top of the lower
 * half.
 *
 * Every request goes through ht_ioctl(), the bad pointers included: its
 * -errno also says the syscall returned -1.
 *
 * The refusals of the other ioctls are in htable_badinput_test.c; the
 * helpers that need no harness are in htable_badinput_snap.c (snapshots
 * of a hat) and htable_badinput_req.c (issuing requests), declared in
 * htable_badinput.h with the fixture and the starting hat.
 */
#include "kselftest_harness.h"
#include "htable_badinput.h"

/* One refused request: its errno, nothing changed, counted once. */
static void refused(struct __test_metadata *_metadata, struct ht_hat *h,
		    const struct bad_case *c)
{
	static struct snap before, after;
	long long bad0, bad1;
	int ret;

	ASSERT_EQ(0, bad_take(h, c, &before)) TH_LOG("%s: snapshot", c->what);
	bad0 = htable_stat("hs_bad_input");
	ret = bad_issue(h, c);
	bad1 = htable_stat("hs_bad_input");
	ASSERT_EQ(0, bad_take(h, c, &after)) TH_LOG("%s: snapshot", c->what);
	EXPECT_EQ(-c->err, ret) {
		TH_LOG("%s %s va %#llx npages %llu flags %#x: %s, expected %s",
		       c->unmap ? "UNMAP" : "MAP", c->what, c->m.va, c->m.npages,
		       c->m.flags, ret ? strerror(-ret) : "success", strerror(c->err));
	}
	EXPECT_EQ(0, bad_diff(&before, &after, c->err == EEXIST || c->err == ENOENT)) {
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

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "va + 1", .m.va = 3 * HT_SZ_1G + 1, .m.npages = 1,
			  .err = EINVAL },
			{ .what = "va + 2048", .m.va = 3 * HT_SZ_1G + 2048, .m.npages = 4,
			  .err = EINVAL },
			{ .what = "va + 4095", .m.va = 3 * HT_SZ_1G + 4095, .m.npages = 1,
			  .err = EINVAL },
			{ .what = "mapped va + 8", .m.va = A_VA + 8, .m.npages = 1, .err = EINVAL },
			{ .what = "va 1", .m.va = 1, .m.npages = 1, .err = EINVAL },
			{ .what = "unmap mapped va + 1", .unmap = 1, .m.va = A_VA + 1,
			  .m.npages = 1, .err = EINVAL },
			{ .what = "unmap va + 4095", .unmap = 1, .m.va = C_VA + 4095,
			  .m.npages = 1, .err = EINVAL },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, npages, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "npages 0", .m.va = 3 * HT_SZ_1G, .m.npages = 0, .err = EINVAL },
			{ .what = "npages 0 at a mapped va", .m.va = A_VA, .m.npages = 0,
			  .err = EINVAL },
			{ .what = "npages max + 1", .m.va = 3 * HT_SZ_1G,
			  .m.npages = HTABLE_MAX_NPAGES + 1, .err = E2BIG },
			{ .what = "npages 2 * max", .m.va = HT_SZ_1G,
			  .m.npages = 2 * HTABLE_MAX_NPAGES, .err = E2BIG },
			{ .what = "unmap npages 0", .unmap = 1, .m.va = A_VA, .m.npages = 0,
			  .err = EINVAL },
			{ .what = "unmap npages max + 1", .unmap = 1, .m.va = A_VA,
			  .m.npages = HTABLE_MAX_NPAGES + 1, .err = E2BIG },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, overflow, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "last page + 1", .m.va = ~0ULL & ~(HT_PAGE_SIZE - 1),
			  .m.npages = 2, .err = EOVERFLOW },
			{ .what = "max pages wrapping",
			  .m.va = -(HTABLE_MAX_NPAGES / 2) * HT_PAGE_SIZE,
			  .m.npages = HTABLE_MAX_NPAGES, .err = EOVERFLOW },
			{ .what = "unmap wrapping", .unmap = 1,
			  .m.va = ~0ULL & ~(HT_PAGE_SIZE - 1), .m.npages = 3, .err = EOVERFLOW },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, out_of_range, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	__u64 lim;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	lim = h->limit;
	{
		const struct bad_case c[] = {
			{ .what = "va = limit", .m.va = lim, .m.npages = 1, .err = ERANGE },
			{ .what = "end crosses limit", .m.va = lim - HT_PAGE_SIZE, .m.npages = 2,
			  .err = ERANGE },
			{ .what = "end crosses limit by a lot", .m.va = lim - 10 * HT_PAGE_SIZE,
			  .m.npages = HTABLE_MAX_NPAGES, .err = ERANGE },
			{ .what = "fresh range crossing limit", .m.va = lim - 1000 * HT_PAGE_SIZE,
			  .m.npages = 1001, .err = ERANGE },
			{ .what = "256 TiB", .m.va = HT_SZ_256T, .m.npages = 1,
			  .err = h->levels == 5 ? 0 : ERANGE },
			{ .what = "non-canonical 1 << 62", .m.va = 1ULL << 62, .m.npages = 1,
			  .err = ERANGE },
			{ .what = "kernel half start", .m.va = 0xffff800000000000ULL, .m.npages = 1,
			  .err = ERANGE },
			{ .what = "5-level kernel half", .m.va = 0xff00000000000000ULL,
			  .m.npages = 1, .err = ERANGE },
			{ .what = "sign bit", .m.va = 1ULL << 63, .m.npages = 1, .err = ERANGE },
			{ .what = "unmap va = limit", .unmap = 1, .m.va = lim, .m.npages = 1,
			  .err = ERANGE },
			{ .what = "unmap last page + 1", .unmap = 1, .m.va = lim - HT_PAGE_SIZE,
			  .m.npages = 2, .err = ERANGE },
			{ .what = "unmap kernel half", .unmap = 1, .m.va = 0xffff800000000000ULL,
			  .m.npages = 1, .err = ERANGE },
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

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "flag bit 4", .m.va = 3 * HT_SZ_1G, .m.npages = 1,
			  .m.flags = 1U << 4, .err = EINVAL },
			{ .what = "flag bit 31", .m.va = 3 * HT_SZ_1G, .m.npages = 1,
			  .m.flags = HTABLE_MAP_WRITE | 1U << 31, .err = EINVAL },
			{ .what = "all unknown flags", .m.va = 3 * HT_SZ_1G, .m.npages = 1,
			  .m.flags = ~HTABLE_MAP_FLAGS, .err = EINVAL },
			{ .what = "reserved0 1", .m.va = 3 * HT_SZ_1G, .m.npages = 1,
			  .m.reserved0 = 1, .err = EINVAL },
			{ .what = "reserved0 bit 31", .m.va = 3 * HT_SZ_1G, .m.npages = 1,
			  .m.flags = HTABLE_MAP_WRITE, .m.reserved0 = 1U << 31, .err = EINVAL },
			{ .what = "unmap flags 1", .unmap = 1, .m.va = A_VA, .m.npages = 1,
			  .m.flags = 1, .err = EINVAL },
			{ .what = "unmap flags bit 31", .unmap = 1, .m.va = A_VA, .m.npages = A_N,
			  .m.flags = 1U << 31, .err = EINVAL },
			{ .what = "unmap reserved0", .unmap = 1, .m.va = A_VA, .m.npages = 1,
			  .m.reserved0 = 1, .err = EINVAL },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, alias, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	const __u32 al = HTABLE_MAP_ALIAS;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "alias_npages 0", .m.va = 3 * HT_SZ_1G, .m.npages = 4,
			  .m.flags = al, .m.alias_va = A_VA, .m.alias_npages = 0, .err = EINVAL },
			{ .what = "alias_npages > npages", .m.va = 3 * HT_SZ_1G, .m.npages = 2,
			  .m.flags = al, .m.alias_va = A_VA, .m.alias_npages = 3, .err = EINVAL },
			{ .what = "alias of nothing", .m.va = 3 * HT_SZ_1G, .m.npages = 4,
			  .m.flags = al, .m.alias_va = 7 * HT_SZ_1G, .m.alias_npages = 1,
			  .err = ENOENT },
			{ .what = "alias starting in a hole", .m.va = 3 * HT_SZ_1G, .m.npages = 4,
			  .m.flags = al, .m.alias_va = A_VA - HT_PAGE_SIZE, .m.alias_npages = 2,
			  .err = ENOENT },
			{ .what = "alias ending in a hole", .m.va = 3 * HT_SZ_1G, .m.npages = 9,
			  .m.flags = al, .m.alias_va = A_VA, .m.alias_npages = A_N + 1,
			  .err = ENOENT },
			{ .what = "alias over the gap", .m.va = 3 * HT_SZ_1G, .m.npages = 600,
			  .m.flags = al | HTABLE_MAP_WRITE, .m.alias_va = A_VA,
			  .m.alias_npages = B_VA / HT_PAGE_SIZE - A_VA / HT_PAGE_SIZE + 1,
			  .err = ENOENT },
			{ .what = "alias_va without ALIAS", .m.va = 3 * HT_SZ_1G, .m.npages = 1,
			  .m.alias_va = A_VA, .err = EINVAL },
			{ .what = "alias_npages without ALIAS", .m.va = 3 * HT_SZ_1G, .m.npages = 1,
			  .m.alias_npages = 1, .err = EINVAL },
			{ .what = "both without ALIAS", .m.va = 3 * HT_SZ_1G, .m.npages = 4,
			  .m.flags = HTABLE_MAP_WRITE, .m.alias_va = A_VA, .m.alias_npages = 2,
			  .err = EINVAL },
			{ .what = "alias onto a mapped page", .m.va = B_VA, .m.npages = 1,
			  .m.flags = al, .m.alias_va = A_VA, .m.alias_npages = 1, .err = EEXIST },
			{ .what = "alias into A", .m.va = A_VA - 2 * HT_PAGE_SIZE, .m.npages = 3,
			  .m.flags = al, .m.alias_va = C_VA, .m.alias_npages = 3, .err = EEXIST },
			/*
			 * A's last page, then two pages of the range being mapped:
			 * read as the MAP fills them, they would let it succeed.
			 */
			{ .what = "alias source inside the range it maps",
			  .m.va = A_VA + A_N * HT_PAGE_SIZE, .m.npages = 4, .m.flags = al,
			  .m.alias_va = A_VA + (A_N - 1) * HT_PAGE_SIZE, .m.alias_npages = 3,
			  .err = EINVAL },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, map_over_mapped, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	__u64 lim;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	lim = h->limit;
	{
		const struct bad_case c[] = {
			{ .what = "exactly A", .m.va = A_VA, .m.npages = A_N, .err = EEXIST },
			{ .what = "first page of A", .m.va = A_VA, .m.npages = 1, .err = EEXIST },
			{ .what = "overlap at the start", .m.va = A_VA - 2 * HT_PAGE_SIZE,
			  .m.npages = 3, .err = EEXIST },
			{ .what = "overlap at the end", .m.va = A_VA + (A_N - 1) * HT_PAGE_SIZE,
			  .m.npages = 2, .err = EEXIST },
			{ .what = "the gap and B", .m.va = A_VA + A_N * HT_PAGE_SIZE,
			  .m.npages = 4, .err = EEXIST },
			{ .what = "around B", .m.va = B_VA - 2 * HT_PAGE_SIZE, .m.npages = 5,
			  .m.flags = HTABLE_MAP_LOCK, .err = EEXIST },
			{ .what = "1024 fresh pages then C", .m.va = C_VA - 1024 * HT_PAGE_SIZE,
			  .m.npages = 1025, .m.flags = HTABLE_MAP_WRITE, .err = EEXIST },
			{ .what = "across C into fresh tables", .m.va = C_VA + HT_PAGE_SIZE,
			  .m.npages = 1100, .err = EEXIST },
			{ .what = "va 0 and the next 600", .m.va = 0, .m.npages = 601,
			  .err = EEXIST },
			{ .what = "fresh branch up to the last page",
			  .m.va = lim - 3000 * HT_PAGE_SIZE, .m.npages = 3000, .err = EEXIST },
			{ .what = "A, the gap, B and beyond", .m.va = A_VA - HT_SZ_2M,
			  .m.npages = 2048, .m.flags = HTABLE_MAP_EXEC, .err = EEXIST },
		};

		refuse_all(_metadata, h, c, ARRAY_SIZE(c));
	}
}

TEST_F_TIMEOUT(bad, unmap_holes, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	{
		const struct bad_case c[] = {
			{ .what = "a page never mapped", .unmap = 1, .m.va = 3 * HT_SZ_1G,
			  .m.npages = 1, .err = ENOENT },
			{ .what = "a hole in a live table", .unmap = 1,
			  .m.va = A_VA - HT_PAGE_SIZE, .m.npages = 1, .err = ENOENT },
			{ .what = "a hole then A", .unmap = 1, .m.va = A_VA - HT_PAGE_SIZE,
			  .m.npages = A_N + 1, .err = ENOENT },
			{ .what = "A then a hole", .unmap = 1, .m.va = A_VA, .m.npages = A_N + 1,
			  .err = ENOENT },
			{ .what = "A, the gap and B", .unmap = 1, .m.va = A_VA,
			  .m.npages = B_VA / HT_PAGE_SIZE - A_VA / HT_PAGE_SIZE + 1,
			  .err = ENOENT },
			{ .what = "the gap only", .unmap = 1, .m.va = A_VA + A_N * HT_PAGE_SIZE,
			  .m.npages = 3, .err = ENOENT },
			/* One leaf table: UNMAP's one-walk path, pages on both sides. */
			{ .what = "A's upper half, the gap and B", .unmap = 1,
			  .m.va = A_VA + A_N / 2 * HT_PAGE_SIZE,
			  .m.npages = B_VA / HT_PAGE_SIZE - A_VA / HT_PAGE_SIZE - A_N / 2 + 1,
			  .err = ENOENT },
			{ .what = "C and 2 MiB of holes", .unmap = 1, .m.va = C_VA,
			  .m.npages = 512 + C_N, .err = ENOENT },
			{ .what = "everything below A", .unmap = 1, .m.va = 0,
			  .m.npages = A_VA / HT_PAGE_SIZE + A_N, .err = ENOENT },
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

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		void *ptrs[] = { NULL, (void *)8, (void *)0xffff800000000000ULL };
		size_t k;

		for (k = 0; k < ARRAY_SIZE(ptrs); k++) {
			ASSERT_EQ(0, bad_take(h, NULL, &before));
			EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, cmds[i], ptrs[k]))
				TH_LOG("ioctl %#lx, %p", cmds[i], ptrs[k]);
			ASSERT_EQ(0, bad_take(h, NULL, &after));
			EXPECT_EQ(0, bad_diff(&before, &after, 0));
		}
	}
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

TEST_HARNESS_MAIN
