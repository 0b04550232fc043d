// SPDX-License-Identifier: GPL-2.0
/*
 * Shared page tables (HTABLE_IOC_SHARE, UNSHARE; ABI 1.1): an owner's
 * leaf tables linked into two and three hats, data written through one
 * hat's VERIFY window and read through another's, every refusal errno,
 * steal and reap pressure while shared, and closing the owner or a
 * sharer while the tables are shared.
 *
 * The truth comes from outside the calls under test: PROBE's raw entries
 * in each hat, the owner's pages read through the direct map (RW), the
 * pattern a VERIFY window leaves (computed here from the pfn), the
 * hs_htable_shared/unshared counters, and CHECK in every hat after every
 * step.
 *
 * The cases where a sharer's CPU is live while the owner changes the
 * table (the shootdown, and SHARE and UNSHARE racing the owner) are in
 * htable_share_smp_test.c; the fixture and the calls both make are in
 * htable_share.h and htable_share_calls.c.
 */
#include "kselftest_harness.h"
#include "htable_share.h"

#define GOLDEN		0x9E3779B97F4A7C15ULL

static const unsigned int pat_word[] = { 0, 257, 511 };

static __u64 pattern(__u64 seed, __u64 pfn, __u64 word)
{
	return seed ^ (pfn << 16) ^ (word * GOLDEN);
}

/* CHECK every open hat of @fds: the number of unsound ones. */
static int all_sound(const int *fds, int n)
{
	int i, bad = 0;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0 && check_sound(fds[i]))
			bad++;
	return bad;
}

/* PROBE @va: the pfn mapped, 0 when absent; *owned gets OWNED. */
static __u64 pfn_at(int fd, __u64 va, int *owned)
{
	struct htable_probe p;

	if (ht_probe(fd, va, &p))
		return 0;
	if (owned)
		*owned = !!(p.flags & HTABLE_PROBE_OWNED);
	return (p.flags & HTABLE_PROBE_PRESENT) ? p.pfn : 0;
}

/* The owner's pages at @va hold VERIFY's pattern for @seed (via RW). */
static int holds_pattern(int owner, __u64 va, __u64 n, __u64 seed)
{
	unsigned int w;
	__u64 i, v;

	for (i = 0; i < n; i++) {
		__u64 pfn = pfn_at(owner, va + i * HT_PAGE_SIZE, NULL);

		for (w = 0; w < ARRAY_SIZE(pat_word); w++) {
			if (ht_rw(owner, va + i * HT_PAGE_SIZE + pat_word[w] * 8, &v,
				  8, 0) || v != pattern(seed, pfn, pat_word[w]))
				return 0;
		}
	}
	return 1;
}

/* Two hats: the tables are the owner's, seen and written through both. */
TEST_F_TIMEOUT(sh, two_hats, SH_TIMEOUT)
{
	int o = self->fd[0], s = self->fd[1];
	long long shared0 = htable_stat("hs_htable_shared");
	long long unshared0 = htable_stat("hs_htable_unshared");
	struct htable_info info;
	struct htable_run r;
	__u64 t = 0, i;
	int owned;

	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(o, SVA, 16, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(o, SVA + HT_SZ_2M + 100 * HT_PAGE_SIZE, 8, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(s, OTHER_VA, 4, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_share(s, o, SVA, 2 * NP_2M, &t));
	ASSERT_EQ(2, t);
	ASSERT_EQ(2, htable_stat("hs_htable_shared") - shared0);
	ASSERT_EQ(0, all_sound(self->fd, 2));

	/* The same entries in both: same pfn, the sharer owns none. */
	for (i = 0; i < 16; i++) {
		__u64 pfn = pfn_at(o, SVA + i * HT_PAGE_SIZE, NULL);

		ASSERT_NE(0, pfn);
		ASSERT_EQ(pfn, pfn_at(s, SVA + i * HT_PAGE_SIZE, &owned));
		ASSERT_EQ(0, owned);
	}
	ASSERT_EQ(0, ht_info(s, &info));
	/* Its own table only: the shared ones are the owner's. */
	ASSERT_EQ(1, info.tables[0]);

	/* Written by the owner's window, read by the sharer's hardware. */
	ASSERT_EQ(0, ht_run_verify(o, 0, SVA, 16, HTABLE_RUN_WRITE, 0x1111, &r));
	ASSERT_EQ(16, r.verified);
	ASSERT_EQ(0, ht_run_verify(s, ncpus() > 1, SVA, 16, 0, ~0x1111ULL, &r));
	ASSERT_EQ(16, r.verified);
	ASSERT_EQ(0, r.mismatches + r.faults);
	/* And back: the sharer's window writes, the owner's memory shows it. */
	ASSERT_EQ(0, ht_run_verify(s, 0, SVA, 16, HTABLE_RUN_WRITE, ~0x1111ULL, &r));
	ASSERT_EQ(16, r.verified);
	ASSERT_TRUE(holds_pattern(o, SVA, 16, 0x1111));
	/* The sharer's own pages are still its own. */
	ASSERT_EQ(0, ht_run_verify(s, 0, OTHER_VA, 4, HTABLE_RUN_WRITE, 5, &r));
	ASSERT_EQ(4, r.verified);

	/* Later changes of the owner show in the sharer at once. */
	ASSERT_EQ(0, ht_map(o, SVA + 300 * HT_PAGE_SIZE, 1, 0));
	ASSERT_EQ(pfn_at(o, SVA + 300 * HT_PAGE_SIZE, NULL),
		  pfn_at(s, SVA + 300 * HT_PAGE_SIZE, NULL));
	ASSERT_EQ(0, ht_unmap(o, SVA + HT_SZ_2M + 100 * HT_PAGE_SIZE, 8));
	ASSERT_EQ(0, pfn_at(s, SVA + HT_SZ_2M + 100 * HT_PAGE_SIZE, NULL));
	/* The owner's emptied table stays: the sharer still holds it. */
	ASSERT_EQ(0, ht_info(o, &info));
	ASSERT_EQ(2, info.tables[0]);
	ASSERT_EQ(0, all_sound(self->fd, 2));

	/* Nothing of the sharer's may go into the owner's tables. */
	ASSERT_EQ(-EADDRINUSE, ht_map(s, SVA + 400 * HT_PAGE_SIZE, 1, 0));
	ASSERT_EQ(-ENOENT, ht_unmap(s, SVA, 1));
	/* Nor a large page of the owner over a shared table. */
	ASSERT_EQ(-ENOTEMPTY, ht_map(o, SVA + HT_SZ_2M, NP_2M, HTABLE_MAP_2M));
	ASSERT_EQ(0, all_sound(self->fd, 2));

	ASSERT_EQ(0, ht_unshare(s, SVA, 2 * NP_2M, &t));
	ASSERT_EQ(2, t);
	ASSERT_EQ(2, htable_stat("hs_htable_unshared") - unshared0);
	ASSERT_EQ(0, pfn_at(s, SVA, NULL));
	ASSERT_NE(0, pfn_at(o, SVA, NULL));
	ASSERT_EQ(0, ht_info(s, &info));
	ASSERT_EQ(1, info.tables[0]);
	/* The owner's empty table went with the last share. */
	ASSERT_EQ(0, ht_info(o, &info));
	ASSERT_EQ(1, info.tables[0]);
	ASSERT_EQ(-ENOENT, ht_unshare(s, SVA, NP_2M, NULL));
	ASSERT_EQ(0, all_sound(self->fd, 2));
}

/* Three hats; then a sharer closes, then the owner closes. */
TEST_F_TIMEOUT(sh, three_hats, SH_TIMEOUT)
{
	int o = self->fd[0], s1 = self->fd[1], s2 = self->fd[2];
	long long unshared0 = htable_stat("hs_htable_unshared");
	struct htable_run r;
	__u64 pfn;

	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(o, SVA + 8 * HT_PAGE_SIZE, 32, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_share(s1, o, SVA, NP_2M, NULL));
	ASSERT_EQ(0, ht_share(s2, o, SVA, NP_2M, NULL));
	ASSERT_EQ(0, all_sound(self->fd, 3));
	pfn = pfn_at(o, SVA + 9 * HT_PAGE_SIZE, NULL);
	ASSERT_NE(0, pfn);
	ASSERT_EQ(pfn, pfn_at(s1, SVA + 9 * HT_PAGE_SIZE, NULL));
	ASSERT_EQ(pfn, pfn_at(s2, SVA + 9 * HT_PAGE_SIZE, NULL));

	/* Written through s2's window, read through s1's, seen in o's memory. */
	ASSERT_EQ(0, ht_run_verify(o, 0, SVA + 8 * HT_PAGE_SIZE, 32, 0, 0x22, &r));
	ASSERT_EQ(32, r.verified);
	ASSERT_EQ(0, ht_run_verify(s2, ncpus() > 1, SVA + 8 * HT_PAGE_SIZE, 32,
				   HTABLE_RUN_WRITE, 0x22, &r));
	ASSERT_EQ(32, r.verified);
	ASSERT_EQ(0, ht_run_verify(s1, 0, SVA + 8 * HT_PAGE_SIZE, 32, 0, ~0x22ULL, &r));
	ASSERT_EQ(32, r.verified);
	ASSERT_EQ(0, r.mismatches + r.faults);
	ASSERT_TRUE(holds_pattern(o, SVA + 8 * HT_PAGE_SIZE, 32, ~0x22ULL));

	/* A sharer closes while shared: the others carry on. */
	ASSERT_EQ(0, close(s1));
	self->fd[1] = -1;
	ASSERT_EQ(1, htable_stat("hs_htable_unshared") - unshared0);
	ASSERT_EQ(0, all_sound(self->fd, 3));
	ASSERT_EQ(pfn, pfn_at(s2, SVA + 9 * HT_PAGE_SIZE, NULL));

	/* The owner closes while s2 shares: s2 loses the table, cleanly. */
	ASSERT_EQ(0, close(o));
	self->fd[0] = -1;
	ASSERT_EQ(2, htable_stat("hs_htable_unshared") - unshared0);
	ASSERT_EQ(0, pfn_at(s2, SVA + 9 * HT_PAGE_SIZE, NULL));
	ASSERT_EQ(-ENOENT, ht_unshare(s2, SVA, NP_2M, NULL));
	ASSERT_EQ(0, check_sound(s2));
	ASSERT_EQ(0, ht_run_verify(s2, 0, SVA + 8 * HT_PAGE_SIZE, 1, 0, 1, &r));
	ASSERT_EQ(1, r.faults);
	/* The range is free again for s2's own pages. */
	ASSERT_EQ(0, ht_map(s2, SVA, 1, 0));
	ASSERT_EQ(0, check_sound(s2));
}

/* Every refusal names its reason and changes nothing. */
TEST_F_TIMEOUT(sh, errors, SH_TIMEOUT)
{
	int o = self->fd[0], s = self->fd[1], t = self->fd[2];
	int devnull = open("/dev/null", O_RDWR);
	struct htable_info before[3], after;
	struct htable_share bad;
	unsigned int i, k;
	const struct {
		const char *what;
		int sharer, owner_fd;
		__u64 va, npages;
		int err;
	} c[] = {
		{ "bad fd", 1, 1000, SVA, NP_2M, EBADF },
		{ "not htable", 1, -2, SVA, NP_2M, EINVAL },
		{ "itself", 1, -3, SVA, NP_2M, EINVAL },
		{ "unaligned va", 1, -1, SVA + HT_PAGE_SIZE, NP_2M, EINVAL },
		{ "part of a table", 1, -1, SVA, NP_2M / 2, EINVAL },
		{ "zero pages", 1, -1, SVA, 0, EINVAL },
		{ "sharer maps there", 1, -1, OTHER_VA, NP_2M, EEXIST },
		{ "owner's large page", 1, -1, SVA + HT_SZ_2M, NP_2M, EBUSY },
		{ "shared twice removed", 2, -4, SVA + 2 * HT_SZ_2M, NP_2M, EINVAL },
	};

	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	ASSERT_LE(0, devnull);
	ASSERT_EQ(0, ht_map(o, SVA, 4, 0));
	ASSERT_EQ(0, ht_map(o, SVA + HT_SZ_2M, NP_2M, HTABLE_MAP_2M));
	ASSERT_EQ(0, ht_map(o, SVA + 2 * HT_SZ_2M, 1, 0));
	ASSERT_EQ(0, ht_map(o, OTHER_VA, 1, 0));
	ASSERT_EQ(0, ht_map(s, OTHER_VA + 5 * HT_PAGE_SIZE, 1, 0));
	/* s shares o's third table; t may not share it on from s. */
	ASSERT_EQ(0, ht_share(s, o, SVA + 2 * HT_SZ_2M, NP_2M, NULL));
	for (k = 0; k < 3; k++)
		ASSERT_EQ(0, ht_info(self->fd[k], &before[k]));
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		int fd = c[i].sharer == 1 ? s : t;
		int ofd = c[i].owner_fd == -1 ? o : c[i].owner_fd == -2 ? devnull :
			  c[i].owner_fd == -3 ? fd : c[i].owner_fd == -4 ? s :
			  c[i].owner_fd;
		int err = ht_share(fd, ofd, c[i].va, c[i].npages, NULL);

		EXPECT_EQ(-c[i].err, err) {
			TH_LOG("%s: got %d, want %d", c[i].what, err, -c[i].err);
		}
		for (k = 0; k < 3; k++) {
			ASSERT_EQ(0, ht_info(self->fd[k], &after));
			EXPECT_EQ(0, memcmp(before[k].tables, after.tables, sizeof(after.tables)))
				TH_LOG("%s changed hat %u", c[i].what, k);
		}
		ASSERT_EQ(0, all_sound(self->fd, 3));
	}
	ASSERT_EQ(-ENOENT, ht_unshare(s, SVA, NP_2M, NULL));
	/* A range only partly shared is refused whole. */
	ASSERT_EQ(-ENOENT, ht_unshare(s, SVA + HT_SZ_2M, 2 * NP_2M, NULL));
	memset(&bad, 0, sizeof(bad));
	bad.owner_fd = o;
	bad.va = SVA + 2 * HT_SZ_2M;
	bad.npages = NP_2M;
	ASSERT_EQ(-EINVAL, ht_ioctl(s, HTABLE_IOC_UNSHARE, &bad));
	bad.owner_fd = 0;
	bad.flags = 1;
	ASSERT_EQ(-EINVAL, ht_ioctl(s, HTABLE_IOC_UNSHARE, &bad));
	ASSERT_NE(0, pfn_at(s, SVA + 2 * HT_SZ_2M, NULL));
	ASSERT_EQ(0, all_sound(self->fd, 3));
	close(devnull);
}

/* Steal and reap take the owner's other tables, never the shared ones. */
TEST_F_TIMEOUT(sh, steal_pressure, SH_TIMEOUT)
{
	int o = self->fd[0], s = self->fd[1], p = self->fd[3];
	struct htable_info info;
	__u64 i, lost = 0;
	int owned;

	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(o, SVA, 8, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_share(s, o, SVA, NP_2M, NULL));
	/* Eight unshared tables of one page each: the easiest to steal. */
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, ht_map(o, OTHER_VA + i * HT_SZ_2M, 1, 0));
	ASSERT_EQ(0, htable_knob_write(FORCE_STEAL, 1));
	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, ht_map(p, OTHER_VA + i * HT_SZ_2M, 1, 0));
	ASSERT_EQ(0, htable_knob_write(FORCE_STEAL, 0));
	ASSERT_EQ(0, htable_knob_write(REAP, 1));
	ASSERT_EQ(0, all_sound(self->fd, 4));
	ASSERT_EQ(0, ht_info(o, &info));
	TH_LOG("owner: %llu tables stolen", (unsigned long long)info.stolen);
	/* The pressure was real: the owner's lone pages lost their tables... */
	ASSERT_LT(0, info.stolen);
	for (i = 0; i < 8; i++) {
		lost += !pfn_at(o, OTHER_VA + i * HT_SZ_2M, &owned);
		ASSERT_EQ(1, owned);
	}
	ASSERT_LT(0, lost);
	/* ...but every shared page is still mapped, in both hats. */
	for (i = 0; i < 8; i++) {
		__u64 pfn = pfn_at(o, SVA + i * HT_PAGE_SIZE, NULL);

		ASSERT_NE(0, pfn);
		ASSERT_EQ(pfn, pfn_at(s, SVA + i * HT_PAGE_SIZE, NULL));
	}
	ASSERT_EQ(0, ht_info(s, &info));
	ASSERT_EQ(0, info.stolen);
	ASSERT_EQ(0, ht_unshare(s, SVA, NP_2M, NULL));
	ASSERT_EQ(0, all_sound(self->fd, 4));
}

TEST_HARNESS_MAIN
