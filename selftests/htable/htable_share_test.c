// SPDX-License-Identifier: GPL-2.0
/*
 * Shared page tables (HTABLE_IOC_SHARE, UNSHARE; ABI 1.1): an owner's
 * leaf tables linked into two and three hats, data written through one
 * hat's VERIFY window and read through another's, every refusal errno,
 * the shootdown a sharer's live CPU gets when the owner changes a shared
 * table, steal and reap pressure while shared, and closing the owner or a
 * sharer while the tables are shared.
 *
 * The truth comes from outside the calls under test: PROBE's raw entries
 * in each hat, the owner's pages read through the direct map (RW), the
 * pattern a VERIFY window leaves (computed here from the pfn), samples of
 * a RESIDENT window, the hs_htable_shared/unshared counters, and CHECK in
 * every hat after every step.
 */
#include <pthread.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_window.h"

#define SH_TIMEOUT	180
#define NP_2M		HTABLE_2M_NPAGES
#define GOLDEN		0x9E3779B97F4A7C15ULL
#define KNOB_DIR	"/sys/kernel/debug/htable/"
#define FORCE_STEAL	KNOB_DIR "force_steal"
#define REAP		KNOB_DIR "reap"
#define TLB_SKIP	KNOB_DIR "tlb_skip_remote"
#define PTABLE_CAP	KNOB_DIR "ptable_cap"

/* The shared segment: two leaf tables' worth, at the same va everywhere. */
#define SVA		(12 * HT_SZ_1G)
#define OTHER_VA	(20 * HT_SZ_1G)

static const unsigned int pat_word[] = { 0, 257, 511 };

static __u64 pattern(__u64 seed, __u64 pfn, __u64 word)
{
	return seed ^ (pfn << 16) ^ (word * GOLDEN);
}

static int ht_share(int fd, int owner_fd, __u64 va, __u64 npages, __u64 *tables)
{
	struct htable_share s = { .owner_fd = owner_fd, .va = va, .npages = npages,
				  .tables = POISON64 };
	int ret;

	ret = ht_ioctl(fd, HTABLE_IOC_SHARE, &s);
	if (ret)
		return ret;
	if (tables)
		*tables = s.tables;
	return 0;
}

static int ht_unshare(int fd, __u64 va, __u64 npages, __u64 *tables)
{
	struct htable_share s = { .va = va, .npages = npages, .tables = POISON64 };
	int ret;

	ret = ht_ioctl(fd, HTABLE_IOC_UNSHARE, &s);
	if (ret)
		return ret;
	if (tables)
		*tables = s.tables;
	return 0;
}

static long long check_sound(int fd)
{
	struct htable_check c;

	if (ht_check(fd, &c))
		return -1;
	if (c.errors)
		printf("# CHECK fd %d: %llu errors, first %u at %#llx\n", fd,
		       (unsigned long long)c.errors, c.first_error,
		       (unsigned long long)c.first_va);
	return c.errors;
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

static int ncpus(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* tlb_skip_remote, a debugfs bool read back as N or Y: 0, 1, or -1. */
static int skip_knob(void)
{
	char c = 0;
	int fd = open(TLB_SKIP, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' ? 1 : c == 'N' ? 0 : -1;
}

FIXTURE(sh) {
	int fd[4];	/* the owner, then three other hats */
	int err;
};

FIXTURE_SETUP(sh)
{
	int i;

	for (i = 0; i < 4; i++)
		self->fd[i] = htable_open_dev();
	self->err = errno;
}

FIXTURE_TEARDOWN(sh)
{
	int i;

	for (i = 0; i < 4; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	htable_knob_write(FORCE_STEAL, 0);
	htable_knob_write(TLB_SKIP, 0);
	htable_knob_write(PTABLE_CAP, 0);
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

/*
 * The owner unmaps a page a sharer's RESIDENT window is reading on
 * another CPU: once UNMAP returns, that CPU must fault there, so the
 * owner's change shot down a CPU that only the sharer had live. The page
 * is also mapped at OTHER_VA in the owner, so it stays the owner's after
 * the UNMAP and a stale read would read its word. @skip runs the same
 * with tlb_skip_remote set: the module skips its IPI round, and the
 * stale reads must show, or the test could not tell.
 */
static void shootdown_case(struct __test_metadata *_metadata, int o, int s, int skip)
{
	const __u64 word = 0x5ad0c0de;
	__u64 t_unmap = 0, nvalid, i, before = 0, after = 0, stale = 0, stale_word = 0;
	long long sent0, skipped0, sent, skipped;
	int waited, knob, ret_unmap = -1;
	struct window w;

	/* One CPU for the window, one for the owner. */
	ASSERT_LE(2, ncpus());
	ASSERT_EQ(0, ht_map(o, SVA, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map_alias(o, OTHER_VA, 1, HTABLE_MAP_ALIAS, SVA, 1));
	ASSERT_EQ(0, ht_rw(o, SVA, (void *)&word, 8, HTABLE_RW_WRITE));
	ASSERT_EQ(0, ht_share(s, o, SVA, NP_2M, NULL));
	ASSERT_EQ(0, pin_to(0));
	ASSERT_EQ(0, skip_knob());
	sent0 = htable_stat("hs_shootdowns");
	skipped0 = htable_stat("hs_shootdowns_skipped");
	ASSERT_EQ(0, window_start(&w, s, 1, SVA, 1500, 65536));
	/* No ASSERT until the window is joined and the knob is back at 0. */
	knob = htable_knob_write(TLB_SKIP, skip);
	waited = wait_live(s, &w, 10);
	/* The owner is live nowhere: only the sharer's CPU has the entry. */
	if (!waited && !knob && !live_cpus(o)) {
		usleep(300 * 1000);
		ret_unmap = ht_unmap(o, SVA, 1);
		t_unmap = now_ns();
	}
	pthread_join(w.tid, NULL);
	sent = htable_stat("hs_shootdowns") - sent0;
	skipped = htable_stat("hs_shootdowns_skipped") - skipped0;
	ASSERT_EQ(0, htable_knob_write(TLB_SKIP, 0));
	ASSERT_EQ(0, knob);
	ASSERT_EQ(0, waited);
	ASSERT_EQ(0, ret_unmap);
	ASSERT_EQ(0, w.err);
	ASSERT_EQ(0, window_sane(&w, &nvalid));
	for (i = 0; i < w.r.nsamples; i++) {
		const struct htable_sample *x = &w.s[i];

		if (!(x->flags & HTABLE_SAMPLE_VALID))
			continue;
		if (x->t_ns < t_unmap) {
			before += !(x->flags & HTABLE_SAMPLE_FAULT) && x->value == word;
			continue;
		}
		after++;
		stale += !(x->flags & HTABLE_SAMPLE_FAULT);
		stale_word += !(x->flags & HTABLE_SAMPLE_FAULT) && x->value == word;
	}
	free(w.s);
	TH_LOG("tlb_skip_remote %d: %llu samples read the word before UNMAP, %llu after",
	       skip, before, after);
	TH_LOG("%llu stale (%llu the word); %lld IPI rounds sent, %lld skipped",
	       stale, stale_word, sent, skipped);
	ASSERT_LT(0, before);
	ASSERT_LT(0, after);
	if (skip) {
		EXPECT_LT(0, skipped);
		EXPECT_EQ(0, sent);
		EXPECT_LT(0, stale) TH_LOG("tlb_skip_remote set, yet no stale read seen");
		EXPECT_EQ(stale, stale_word);
	} else {
		EXPECT_LT(0, sent);
		EXPECT_EQ(0, skipped);
		EXPECT_EQ(0, stale) TH_LOG("stale reads after the owner's UNMAP returned");
	}
	ASSERT_EQ(0, check_sound(o));
	ASSERT_EQ(0, check_sound(s));
}

TEST_F_TIMEOUT(sh, shootdown, SH_TIMEOUT)
{
	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	shootdown_case(_metadata, self->fd[0], self->fd[1], 0);
}

/* The control: without the IPI round, the sharer's CPU reads stale. */
TEST_F_TIMEOUT(sh, shootdown_skip_remote, SH_TIMEOUT)
{
	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	shootdown_case(_metadata, self->fd[0], self->fd[1], 1);
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

/*
 * SHARE and UNSHARE against the owner's MAP, UNMAP, steals and close.
 *
 * The sharer S shares the owner O's leaf table at SVA, and a RESIDENT
 * window of S on CPU 1 reads RVA, the sixth page of that table (not its
 * first). On CPU 0, at once:
 *
 *   the owner thread maps a fresh page at one of eight source vas, writes
 *   a unique tag into it through RW, maps it at RVA as an ALIAS (so the
 *   tag is there before RVA maps it, and the page outlives RVA's UNMAP: a
 *   stale read reads the tag), churns other pages of the shared table and
 *   pages of eight leaf tables of its own, unmaps RVA, then the source;
 *
 *   the sharer thread UNSHAREs and SHAREs the table again, over and over,
 *   each UNSHARE once RVA maps a tag (the owner holds it mapped until that
 *   UNSHARE is done, or for 8 ms at most);
 *
 *   the stealer thread maps and unmaps pages of a third hat P, each in
 *   its own leaf table, with ptable_cap at the count of tables, so every
 *   new table, any hat's, must be stolen from another (hs_steals grows):
 *   the owner's churned tables and P's go back and forth;
 *
 *   and once each has done enough, the main thread closes O (dup2() of
 *   /dev/null over its fd, so the number is not reused) while they run,
 *   at a moment S shares the table and RVA maps a tag.
 *
 * Locked pages keep the tables of the shared range, of the sources and
 * of S's level-1 table in place (no steal takes a table with a locked
 * entry), so SHARE and the tagged cycle never need a table under the cap
 * and run every time.
 *
 * Afterwards every VALID sample of the window that read something (no
 * fault) must be one S could see then. It is stale when taken after an
 * UNSHARE of S returned and before the next SHARE began, after O was
 * destroyed, after the UNMAP of the tag's page at RVA returned, or when
 * it read a value no page at RVA held. t_ns is taken before a read, so a
 * sample after such a point was read after it. For the test to have
 * looked, the samples must show at least one UNSHARE (or the close) made
 * while S's CPU had RVA cached: a tag read just before it, still mapped
 * after it, and a sample after it. CHECK is clean on S and P, S is left
 * with no table of O's, the count of shared tables is back, and once all
 * is closed active_ptables and hats are where they started.
 *
 * The module must invalidate, on every CPU that may hold them, all the
 * translations of a table it unlinks from a sharer (UNSHARE, and the
 * owner's close). It queues one INVLPG, of the table's first va, which
 * drops the paging-structure caches but not RVA's TLB entry: on today's
 * module this test finds stale reads after UNSHARE and after the close,
 * and it passes once every valid entry of the unlinked table goes.
 */
#define RVA		(SVA + 5 * HT_PAGE_SIZE)
#define KEEP_VA		(SVA + 200 * HT_PAGE_SIZE)	/* O's locked page there */
#define S_KEEP_VA	(SVA + 2 * HT_SZ_2M)		/* S's own, locked */
#define SRC_VA(k)	(OTHER_VA + ((k) % 8) * HT_SZ_2M)
#define CHURN_VA(k)	(OTHER_VA + HT_SZ_1G + ((k) % 8) * HT_SZ_2M)
#define PVA		(40 * HT_SZ_1G)
#define TAG(k)		(0x7a90000000000000ULL | (k))
#define RACE_MAX	4096
#define RACE_MIN_OPS	12	/* each worker, before the owner is closed */
#define RACE_WINDOW_MS	4000
#define RACE_TRIES	3
#define NEVER		(~0ULL)

struct race_tag {
	__u64 tag;
	__u64 t_unmap;		/* RVA's UNMAP returned; NEVER: still mapped */
};

struct race_share {
	__u64 t_start;		/* before the SHARE call */
	__u64 t_unshare;	/* before the UNSHARE call; NEVER: none */
	__u64 t_end;		/* UNSHARE returned; NEVER: until O went */
};

struct race {
	int o, s, p;
	int stop, closed;	/* __atomic flags */
	int owner_ops, share_ops, steal_ops;	/* __atomic counts */
	int rva_live, s_shared, unshares;	/* __atomic: the handshake */
	int bad;		/* errnos the ABI does not allow there */
	struct race_tag tag[RACE_MAX];
	int ntag;
	struct race_share sh[RACE_MAX];
	int nsh;
	__u64 t_close;		/* before the dup2() */
	__u64 t_gone;		/* O seen destroyed */
};

static int race_flag(int *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static void race_inc(int *f)
{
	__atomic_add_fetch(f, 1, __ATOMIC_RELEASE);
}

/* An errno a worker may see: 0, ENOMEM if @nomem, or what a closed owner gives. */
static int race_ok(struct race *r, const char *what, int ret, int nomem)
{
	if (!ret || (nomem && ret == -ENOMEM))
		return !ret;
	if (race_flag(&r->closed) && (ret == -ENOTTY || ret == -EINVAL))
		return 0;
	printf("# race: %s: %s\n", what, strerror(-ret));
	__atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Wait, 8 ms at most, until *@f differs from @old: 0, or -1 on timeout. */
static int race_wait(int *f, int old)
{
	int i;

	for (i = 0; i < 80; i++) {
		if (race_flag(f) != old)
			return 0;
		usleep(100);
	}
	return -1;
}

static void *race_owner(void *arg)
{
	struct race *r = arg;
	int churned[8] = { 0 };
	__u64 k, tag;

	pin_to(0);
	for (k = 1; !race_flag(&r->stop) && !race_flag(&r->closed) &&
	     r->ntag < RACE_MAX; k++) {
		race_inc(&r->owner_ops);
		/* Tables of its own that steals take and give back. */
		if (churned[k % 8])
			churned[k % 8] = !race_ok(r, "owner UNMAP churn",
						  ht_unmap(r->o, CHURN_VA(k), 1), 0);
		else
			churned[k % 8] = race_ok(r, "owner MAP churn",
						 ht_map(r->o, CHURN_VA(k), 1, 0), 1);
		if (!race_ok(r, "owner MAP", ht_map(r->o, SRC_VA(k), 1, HTABLE_MAP_WRITE), 0))
			continue;
		tag = TAG(k);
		if (race_ok(r, "owner RW", ht_rw(r->o, SRC_VA(k), &tag, 8, HTABLE_RW_WRITE), 0) &&
		    race_ok(r, "owner ALIAS at RVA",
			    ht_map_alias(r->o, RVA, 1, HTABLE_MAP_ALIAS, SRC_VA(k), 1), 0)) {
			struct race_tag *t = &r->tag[r->ntag++];
			int unshares = race_flag(&r->unshares);

			t->tag = tag;
			t->t_unmap = NEVER;
			__atomic_store_n(&r->rva_live, 1, __ATOMIC_RELEASE);
			/* Other pages of the shared table come and go. */
			if (race_ok(r, "owner MAP in the table",
				    ht_map(r->o, SVA + 100 * HT_PAGE_SIZE, 8, 0), 0))
				race_ok(r, "owner UNMAP in the table",
					ht_unmap(r->o, SVA + 100 * HT_PAGE_SIZE, 8), 0);
			/* Mapped until an UNSHARE is done, or 8 ms; or O is closed. */
			race_wait(&r->unshares, unshares);
			if (race_flag(&r->closed))
				break;
			__atomic_store_n(&r->rva_live, 0, __ATOMIC_RELEASE);
			if (race_ok(r, "owner UNMAP RVA", ht_unmap(r->o, RVA, 1), 0))
				t->t_unmap = now_ns();
			/* RVA stays unmapped a while: reads there must fault. */
			usleep(1000);
		}
		race_ok(r, "owner UNMAP source", ht_unmap(r->o, SRC_VA(k), 1), 0);
	}
	return NULL;
}

static int race_share_call(struct race *r, int share)
{
	struct htable_share a = {
		.owner_fd = share ? r->o : 0, .va = SVA, .npages = NP_2M,
	};

	return ht_ioctl(r->s, share ? HTABLE_IOC_SHARE : HTABLE_IOC_UNSHARE, &a);
}

static void *race_sharer(void *arg)
{
	struct race *r = arg;
	int shared = 1, ret;
	__u64 t;

	pin_to(0);
	while (!race_flag(&r->stop) && r->nsh < RACE_MAX) {
		race_inc(&r->share_ops);
		if (shared) {
			/* Once RVA maps a tag, and the window had a moment to read it. */
			race_wait(&r->rva_live, 0);
			usleep(1000);
			__atomic_store_n(&r->s_shared, 0, __ATOMIC_RELEASE);
			r->sh[r->nsh - 1].t_unshare = now_ns();
			ret = race_share_call(r, 0);
			t = now_ns();
			/* ENOENT: O's close detached it before this returned. */
			if (ret == -ENOENT && race_flag(&r->closed)) {
				r->sh[r->nsh - 1].t_end = t;
				break;
			}
			/* UNSHARE allocates nothing: never ENOMEM. */
			if (race_ok(r, "UNSHARE", ret, 0)) {
				r->sh[r->nsh - 1].t_end = t;
				shared = 0;
			}
			race_inc(&r->unshares);
			continue;
		}
		usleep(1000);
		t = now_ns();
		ret = race_share_call(r, 1);
		if (ret == -EINVAL && race_flag(&r->closed))
			break;
		shared = race_ok(r, "SHARE", ret, 0);
		if (shared) {
			r->sh[r->nsh++] = (struct race_share){
				.t_start = t, .t_unshare = NEVER, .t_end = NEVER,
			};
			__atomic_store_n(&r->s_shared, 1, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

static void *race_stealer(void *arg)
{
	struct race *r = arg;
	int mapped[64] = { 0 }, i;

	pin_to(0);
	for (i = 0; !race_flag(&r->stop); i++) {
		__u64 va = PVA + (i % 64) * HT_SZ_2M;

		if (mapped[i % 64])
			mapped[i % 64] = !race_ok(r, "P UNMAP", ht_unmap(r->p, va, 1), 0);
		else
			mapped[i % 64] = race_ok(r, "P MAP",
						 ht_map(r->p, va, 1, HTABLE_MAP_WRITE), 1);
		race_inc(&r->steal_ops);
	}
	return NULL;
}

/* Was S sharing at @t (between a SHARE's call and its UNSHARE's return)? */
static int race_shared_at(const struct race *r, __u64 t)
{
	int i;

	for (i = 0; i < r->nsh; i++)
		if (t >= r->sh[i].t_start && (r->sh[i].t_end == NEVER || t <= r->sh[i].t_end))
			return 1;
	return 0;
}

/* Was S sharing at any time in [@t0, @t1]? */
static int race_shared_during(const struct race *r, __u64 t0, __u64 t1)
{
	int i;

	for (i = 0; i < r->nsh; i++)
		if (r->sh[i].t_start <= t1 && (r->sh[i].t_end == NEVER || r->sh[i].t_end >= t0))
			return 1;
	return 0;
}

static const char * const race_why[] = {
	"after the owner was destroyed", "after UNSHARE returned",
	"after the UNMAP of its page returned", "a value no page at RVA held",
};

/*
 * What makes a VALID read of @v (@fault: it faulted) stale, or NULL. A
 * sample's time is when its read started (uapi); the read ended before
 * the window's next sample was taken, at @t_next. So the read happened
 * in [@t, @t_next], and only what holds over all of it is stale: a vCPU
 * the host leaves waiting between the clock and the read may read after
 * the next SHARE began.
 */
static const char *race_stale(const struct race *r, __u64 t, __u64 t_next, __u64 v,
			      int fault)
{
	int i;

	if (fault)
		return NULL;
	if (t > r->t_gone)
		return race_why[0];
	if (!race_shared_during(r, t, t_next))
		return race_why[1];
	for (i = 0; i < r->ntag; i++)
		if (r->tag[i].tag == v)
			return r->tag[i].t_unmap != NEVER && t > r->tag[i].t_unmap ?
			       race_why[2] : NULL;
	return race_why[3];
}

/* The tag @v still mapped at RVA at @t? */
static int race_tag_live(const struct race *r, __u64 v, __u64 t)
{
	int i;

	for (i = 0; i < r->ntag; i++)
		if (r->tag[i].tag == v)
			return r->tag[i].t_unmap == NEVER || r->tag[i].t_unmap > t;
	return 0;
}

/*
 * Did the window test the unlink that began at @t0 and returned at @t1:
 * a VALID read of a tag before @t0, the last one, with that tag still
 * mapped at @t1 (so RVA was cached), and a VALID sample after @t1?
 */
static int race_tested(const struct race *r, const struct window *w, __u64 t0, __u64 t1)
{
	const struct htable_sample *last = NULL;
	__u32 i;

	for (i = 0; i < w->r.nsamples; i++) {
		const struct htable_sample *x = &w->s[i];

		if (!(x->flags & HTABLE_SAMPLE_VALID))
			continue;
		if (x->t_ns < t0) {
			last = x;
			continue;
		}
		if (x->t_ns <= t1)
			continue;
		return last && !(last->flags & HTABLE_SAMPLE_FAULT) &&
		       race_tag_live(r, last->value, t1);
	}
	return 0;
}

/*
 * One round; returns the stale samples (printing the first few), and in
 * *@tested the unlinks (UNSHAREs, the close) made while RVA was cached.
 */
static int race_round(struct __test_metadata *_metadata, struct race *r, int *tested)
{
	int devnull, stale = 0, waited, ret, j, nwhy[ARRAY_SIZE(race_why)] = { 0 };
	long long hats0, steals0, shared0, cap;
	struct htable_info info;
	pthread_t th[3];
	__u64 t0, i, nvalid;
	struct window w;

	memset(r, 0, sizeof(*r));
	*tested = 0;
	r->t_gone = NEVER;
	r->o = htable_open_dev();
	r->s = htable_open_dev();
	r->p = htable_open_dev();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, r->o);
	ASSERT_LE(0, r->s);
	ASSERT_LE(0, r->p);
	ASSERT_LE(0, devnull);
	ASSERT_EQ(0, pin_to(0));
	hats0 = htable_stat("hats");
	shared0 = htable_stat("hs_htable_shared") - htable_stat("hs_htable_unshared");
	ASSERT_EQ(0, ht_map(r->o, KEEP_VA, 1, HTABLE_MAP_LOCK));
	ASSERT_EQ(0, ht_map(r->s, S_KEEP_VA, 1, HTABLE_MAP_LOCK));
	for (j = 0; j < 8; j++) {
		ASSERT_EQ(0, ht_map(r->o, SRC_VA(j) + HT_PAGE_SIZE, 1, HTABLE_MAP_LOCK));
		ASSERT_EQ(0, ht_map(r->p, PVA + (64 + j) * HT_SZ_2M, 1, 0));
	}
	ASSERT_EQ(0, race_share_call(r, 1));
	r->sh[r->nsh++] = (struct race_share){
		.t_start = 0, .t_unshare = NEVER, .t_end = NEVER,
	};
	r->s_shared = 1;
	cap = htable_stat("active_ptables");
	steals0 = htable_stat("hs_steals");
	ASSERT_EQ(0, window_start(&w, r->s, 1, RVA, RACE_WINDOW_MS, HTABLE_MAX_SAMPLES));
	/* No ASSERT until the window and the workers are joined. */
	waited = wait_live(r->s, &w, 10);
	ret = htable_knob_write(PTABLE_CAP, cap);
	if (!waited && !ret) {
		pthread_create(&th[0], NULL, race_owner, r);
		pthread_create(&th[1], NULL, race_sharer, r);
		pthread_create(&th[2], NULL, race_stealer, r);
		t0 = now_ns();
		/* CHECK the survivors meanwhile, leaving CPU 0 to the workers. */
		for (j = 0; now_ns() - t0 < 60000000000ULL &&
		     (race_flag(&r->owner_ops) < RACE_MIN_OPS ||
		      race_flag(&r->share_ops) < RACE_MIN_OPS ||
		      race_flag(&r->steal_ops) < RACE_MIN_OPS); j++) {
			if (!(j % 10) && (check_sound(r->s) || check_sound(r->p)))
				r->bad++;
			usleep(2000);
		}
		/* Close the owner while they run, S sharing and RVA mapped. */
		while (now_ns() - t0 < 60000000000ULL &&
		       !(race_flag(&r->s_shared) && race_flag(&r->rva_live)))
			usleep(100);
		__atomic_store_n(&r->closed, 1, __ATOMIC_RELEASE);
		r->t_close = now_ns();
		dup2(devnull, r->o);
		while (now_ns() - t0 < 60000000000ULL && htable_stat("hats") != hats0 - 1)
			usleep(500);
		r->t_gone = now_ns();
		while (now_ns() - t0 < 60000000000ULL && !race_flag(&w.done))
			usleep(5000);
		__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
		for (j = 0; j < 3; j++)
			pthread_join(th[j], NULL);
	}
	pthread_join(w.tid, NULL);
	htable_knob_write(PTABLE_CAP, 0);
	close(devnull);
	ASSERT_EQ(0, waited);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, w.err);
	EXPECT_EQ(0, window_sane(&w, &nvalid));
	TH_LOG("%d owner cycles (%d tags), %d SHARE/UNSHARE calls (%d shares)",
	       r->owner_ops, r->ntag, r->share_ops, r->nsh);
	TH_LOG("%d MAP/UNMAP calls of P, %lld steals", r->steal_ops,
	       htable_stat("hs_steals") - steals0);
	EXPECT_EQ(0, r->bad);
	EXPECT_LE(RACE_MIN_OPS, r->owner_ops);
	EXPECT_LE(RACE_MIN_OPS, r->share_ops);
	EXPECT_LE(RACE_MIN_OPS, r->steal_ops);
	EXPECT_LT(steals0, htable_stat("hs_steals"));
	EXPECT_EQ(hats0 - 1, htable_stat("hats"));

	for (i = 0; i < w.r.nsamples; i++) {
		const struct htable_sample *x = &w.s[i];
		const char *why;

		if (!(x->flags & HTABLE_SAMPLE_VALID))
			continue;
		why = race_stale(r, x->t_ns, i + 1 < w.r.nsamples ? w.s[i + 1].t_ns : NEVER,
				 x->value, !!(x->flags & HTABLE_SAMPLE_FAULT));
		if (!why)
			continue;
		for (j = 0; j < (int)ARRAY_SIZE(race_why); j++)
			nwhy[j] += why == race_why[j];
		if (stale++ < 3)
			TH_LOG("stale: sample %llu, %+.3f ms from O's end, read %#llx, %s",
			       i, ((double)x->t_ns - (double)r->t_gone) / 1e6,
			       x->value, why);
	}
	for (j = 0; j < r->nsh; j++)
		if (r->sh[j].t_unshare != NEVER && r->sh[j].t_end != NEVER &&
		    r->sh[j].t_end < r->t_close)
			*tested += race_tested(r, &w, r->sh[j].t_unshare, r->sh[j].t_end);
	j = race_shared_at(r, r->t_close) && race_tested(r, &w, r->t_close, r->t_gone);
	*tested += j;
	TH_LOG("%u samples (%llu valid); %d stale; %d unlinks made with RVA cached%s",
	       w.r.nsamples, nvalid, stale, *tested, j ? ", the close one of them" : "");
	for (j = 0; j < (int)ARRAY_SIZE(race_why); j++)
		if (nwhy[j])
			TH_LOG("%d stale: %s", nwhy[j], race_why[j]);
	free(w.s);

	/* Both survivors are sound, and S holds nothing of O's. */
	EXPECT_EQ(0, check_sound(r->s));
	EXPECT_EQ(0, check_sound(r->p));
	ASSERT_EQ(0, ht_info(r->s, &info));
	EXPECT_EQ(1, info.tables[0]);
	EXPECT_EQ(1, info.mapped_pages);
	EXPECT_EQ(shared0, htable_stat("hs_htable_shared") - htable_stat("hs_htable_unshared"));
	close(r->o);
	close(r->s);
	close(r->p);
	return stale;
}

TEST_F_TIMEOUT(sh, share_races_owner, SH_TIMEOUT)
{
	static struct race r;
	long long active0, hats0;
	int try, stale = 0, tested = 0;

	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	ASSERT_LE(2, ncpus());
	/* The fixture's hats stay out of it: only the race's own count. */
	active0 = htable_stat("active_ptables");
	hats0 = htable_stat("hats");
	for (try = 1; try <= RACE_TRIES && !stale && !tested; try++)
		stale = race_round(_metadata, &r, &tested);
	EXPECT_EQ(0, stale) TH_LOG("the sharer's CPU read pages it could no longer reach");
	/* Stale reads already show the test looked; without, it must have. */
	if (!stale)
		EXPECT_LT(0, tested)
			TH_LOG("%d rounds, and no UNSHARE or close made while RVA was cached",
			       RACE_TRIES);
	EXPECT_EQ(active0, htable_stat("active_ptables"));
	EXPECT_EQ(hats0, htable_stat("hats"));
}

TEST_HARNESS_MAIN
