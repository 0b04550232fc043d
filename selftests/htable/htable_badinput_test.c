// SPDX-License-Identifier: GPL-2.0
/*
 * Every RELOAD, SYNC, SHARE and UNSHARE the ABI refuses, and the bad
 * argument pointers and buffers of every ioctl, each checked three ways:
 * the errno, that nothing changed (INFO identical, CHECK clean and
 * visiting the same tables and entries, PROBE of the pages around the
 * request and of every page already mapped unchanged), and that
 * hs_bad_input counted it once.
 *
 * Each test starts from the same hat (baseline() in htable_badinput.h):
 * pages across a 1 GiB boundary, a locked page after a gap, pages across
 * a 2 MiB boundary, va 0 and the last page below the top of the lower
 * half.
 *
 * Every request goes through ht_ioctl(), the bad pointers included: its
 * -errno also says the syscall returned -1.
 *
 * The refusals of MAP and UNMAP are in htable_badinput_map_test.c; the
 * helpers that need no harness are in htable_badinput_snap.c (snapshots
 * of a hat) and htable_badinput_req.c (issuing requests), declared in
 * htable_badinput.h with the fixture and the starting hat.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_badinput.h"

/*
 * ---- RELOAD, SYNC, SHARE and UNSHARE refused; bad argument pointers ----
 *
 * Each request is made to matter first, so that one let through would
 * show: RELOAD runs over pages whose tables were reaped (it would map
 * them again), SYNC carries HTABLE_SYNC_CLEAR over pages a window left
 * accessed and dirty (it would clear the bits), SHARE names an owner
 * whose pages would appear in this hat. A refusal is judged as above:
 * its errno, both hats unchanged, hs_bad_input counted once, and the out
 * field that is written on success only still holding its poison.
 */

/*
 * One refused request of this hat (and, with @o, of the owner it names):
 * its errno, both hats unchanged, counted once as bad input, its out
 * field unwritten, and no SYNC or share counted.
 */
static void refused_req(struct __test_metadata *_metadata, struct ht_hat *h,
			struct ht_hat *o, const struct req_fds *f,
			const struct req_case *c)
{
	static struct snap before, after, obefore, oafter;
	static const char * const counters[] = {
		"hs_bad_input", "hs_ad_syncs", "hs_htable_shared",
		"hs_htable_unshared", "hs_enomem",
	};
	long long cnt0[ARRAY_SIZE(counters)], cnt1[ARRAY_SIZE(counters)];
	int ret, written;
	size_t i;

	ASSERT_EQ(0, bad_take_at(h, c->va, c->npages, 0, 0, 4, &before)) TH_LOG("%s", c->what);
	if (o)
		ASSERT_EQ(0, bad_take_at(o, c->va, c->npages, 0, 0, 4, &obefore));
	bad_stats(counters, ARRAY_SIZE(counters), cnt0);
	ret = bad_issue_req(h, f, c, &written);
	bad_stats(counters, ARRAY_SIZE(counters), cnt1);
	ASSERT_EQ(0, bad_take_at(h, c->va, c->npages, 0, 0, 4, &after)) TH_LOG("%s", c->what);
	if (o)
		ASSERT_EQ(0, bad_take_at(o, c->va, c->npages, 0, 0, 4, &oafter));
	EXPECT_EQ(-c->err, ret) {
		TH_LOG("%s %s: va %#llx npages %llu flags %#x: %s, expected %s",
		       bad_cmd_name(c->cmd), c->what, c->va, c->npages, c->flags,
		       ret ? strerror(-ret) : "success", strerror(c->err));
	}
	EXPECT_EQ(0, written) TH_LOG("%s: out field written on error", c->what);
	EXPECT_EQ(0, bad_diff(&before, &after, 0)) TH_LOG("%s: this hat changed", c->what);
	if (o)
		EXPECT_EQ(0, bad_diff(&obefore, &oafter, 0))
			TH_LOG("%s: the owner changed", c->what);
	EXPECT_LE(0, cnt0[0]);
	EXPECT_EQ(cnt0[0] + 1, cnt1[0]) TH_LOG("%s: hs_bad_input", c->what);
	for (i = 1; i < ARRAY_SIZE(counters); i++) {
		const char *name = counters[i];

		EXPECT_LE(0, cnt0[i]);
		EXPECT_EQ(cnt0[i], cnt1[i]) TH_LOG("%s: %s moved", c->what, name);
	}
}

/* Reap every unlocked leaf table: only B's (it has a locked page) stays. */
static void steal_baseline(struct __test_metadata *_metadata, struct ht_hat *h)
{
	struct htable_probe p;
	struct htable_info info;

	ASSERT_LT(0, ht_reap_all());
	ASSERT_EQ(0, ht_info(h->fd, &info));
	EXPECT_EQ(h->m.n, info.owned_pages);
	EXPECT_GT(info.owned_pages, info.mapped_pages);
	/* Stolen: owned, with no translation; the locked page kept its own. */
	ASSERT_EQ(0, ht_probe(h->fd, A_VA, &p));
	ASSERT_EQ(HTABLE_PROBE_OWNED, p.flags);
	ASSERT_EQ(0, ht_probe(h->fd, h->limit - HT_PAGE_SIZE, &p));
	ASSERT_EQ(HTABLE_PROBE_OWNED, p.flags);
	ASSERT_EQ(0, ht_probe(h->fd, B_VA, &p));
	ASSERT_EQ(ht_probe_flags(HTABLE_MAP_LOCK), p.flags & ~HT_PROBE_HW);
}

TEST_F_TIMEOUT(bad, reload_refused, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	const struct req_fds f = { .owner = -1, .devnull = -1 };
	const unsigned long R = HTABLE_IOC_RELOAD;
	__u64 lim;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	lim = h->limit;
	steal_baseline(_metadata, h);
	{
		const struct req_case c[] = {
			{ "flags 1", R, A_VA, A_N, .flags = 1, .err = EINVAL },
			{ "flags bit 31", R, A_VA, A_N, .flags = 1U << 31, .err = EINVAL },
			{ "reserved0 1", R, A_VA, A_N, .reserved0 = 1, .err = EINVAL },
			{ "reserved0 before ERANGE", R, lim, 1, .reserved0 = 1, .err = EINVAL },
			{ "flags before zero pages", R, A_VA, 0, .flags = 2, .err = EINVAL },
			{ "va + 8", R, A_VA + 8, A_N, .err = EINVAL },
			{ "va + 4095", R, C_VA + 4095, C_N, .err = EINVAL },
			{ "npages 0", R, A_VA, 0, .err = EINVAL },
			{ "npages max + 1", R, 0, HTABLE_MAX_NPAGES + 1, .err = E2BIG },
			{ "npages 2^63", R, A_VA, 1ULL << 63, .err = E2BIG },
			{ "E2BIG before alignment", R, A_VA + 1, HTABLE_MAX_NPAGES + 1,
			  .err = E2BIG },
			{ "zero before alignment", R, A_VA + 1, 0, .err = EINVAL },
			{ "last page + 1 wraps", R, ~0ULL & ~(HT_PAGE_SIZE - 1), 2,
			  .err = EOVERFLOW },
			{ "max pages wrapping", R, -(HTABLE_MAX_NPAGES / 2) * HT_PAGE_SIZE,
			  HTABLE_MAX_NPAGES, .err = EOVERFLOW },
			{ "va = limit", R, lim, 1, .err = ERANGE },
			{ "the last page and one past", R, lim - HT_PAGE_SIZE, 2, .err = ERANGE },
			{ "100 pages past the limit", R, lim - 100 * HT_PAGE_SIZE, 200,
			  .err = ERANGE },
			{ "kernel half", R, 0xffff800000000000ULL, 1, .err = ERANGE },
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(c); i++)
			refused_req(_metadata, h, NULL, &f, &c[i]);
	}
	/* Every page still waits for its RELOAD; one let through maps it. */
	ASSERT_EQ(0, bad_reload_all(h));
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

TEST_F_TIMEOUT(bad, sync_refused, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	const struct req_fds f = { .owner = -1, .devnull = -1 };
	const unsigned long S = HTABLE_IOC_SYNC;
	const __u32 CL = HTABLE_SYNC_CLEAR;
	struct htable_probe p;
	struct htable_sync sy;
	struct htable_run r;
	__u64 lim;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	/* A window writes A and the last page: their A and D bits are set. */
	ASSERT_EQ(0, ht_run_verify(h->fd, 0, A_VA, A_N, HTABLE_RUN_WRITE, 1, &r));
	ASSERT_EQ(A_N, r.verified);
	ASSERT_EQ(0, ht_run_verify(h->fd, 0, h->limit - HT_PAGE_SIZE, 1,
				   HTABLE_RUN_WRITE, 1, &r));
	ASSERT_EQ(1, r.verified);
	ASSERT_EQ(0, ht_probe(h->fd, A_VA, &p));
	ASSERT_EQ(PTE_AD, p.pte & PTE_AD);
	ASSERT_EQ(0, ht_probe(h->fd, h->limit - HT_PAGE_SIZE, &p));
	ASSERT_EQ(PTE_AD, p.pte & PTE_AD);
	lim = h->limit;
	{
		const struct req_case c[] = {
			{ "flags 2", S, A_VA, A_N, .flags = 2, .err = EINVAL },
			{ "CLEAR and bit 31", S, A_VA, A_N, .flags = CL | 1U << 31,
			  .err = EINVAL },
			{ "reserved0 1", S, A_VA, A_N, .flags = CL, .reserved0 = 1,
			  .err = EINVAL },
			{ "reserved0 before ERANGE", S, lim, 1, .flags = CL, .reserved0 = 1,
			  .err = EINVAL },
			{ "va + 8", S, A_VA + 8, A_N, .flags = CL, .err = EINVAL },
			{ "npages 0", S, A_VA, 0, .flags = CL, .err = EINVAL },
			{ "npages max + 1", S, 0, HTABLE_MAX_NPAGES + 1, .flags = CL,
			  .err = E2BIG },
			{ "E2BIG before alignment", S, A_VA + 1, HTABLE_MAX_NPAGES + 1,
			  .flags = CL, .err = E2BIG },
			{ "last page + 1 wraps", S, ~0ULL & ~(HT_PAGE_SIZE - 1), 2, .flags = CL,
			  .err = EOVERFLOW },
			{ "max pages wrapping", S, -(HTABLE_MAX_NPAGES / 2) * HT_PAGE_SIZE,
			  HTABLE_MAX_NPAGES, .flags = CL, .err = EOVERFLOW },
			{ "va = limit", S, lim, 1, .flags = CL, .err = ERANGE },
			{ "the last page and one past", S, lim - HT_PAGE_SIZE, 2, .flags = CL,
			  .err = ERANGE },
			{ "8 pages before the limit and 8 past", S, lim - 8 * HT_PAGE_SIZE, 16,
			  .flags = CL, .err = ERANGE },
			{ "kernel half", S, 0xffff800000000000ULL, 1, .flags = CL,
			  .err = ERANGE },
			{ "sign bit", S, 1ULL << 63, 1, .flags = CL, .err = ERANGE },
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(c); i++)
			refused_req(_metadata, h, NULL, &f, &c[i]);
	}
	/* The bits are still there for a SYNC let through to gather and clear. */
	memset(&sy, 0, sizeof(sy));
	sy.va = A_VA;
	sy.npages = A_N;
	sy.flags = CL;
	ASSERT_EQ(0, ht_ioctl(h->fd, HTABLE_IOC_SYNC, &sy));
	EXPECT_EQ(A_N, sy.referenced);
	EXPECT_EQ(A_N, sy.modified);
	ASSERT_EQ(0, ht_probe(h->fd, A_VA, &p));
	EXPECT_EQ(0, p.pte & PTE_AD);
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

/* The owner of the SHARE cases: pages in two of its leaf tables, and a 2 MiB page. */
static void owner_baseline(struct __test_metadata *_metadata, struct ht_hat *o)
{
	ASSERT_EQ(0, ht_map(o->fd, SVA + 3 * HT_PAGE_SIZE, 16, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_model_insert(&o->m, SVA + 3 * HT_PAGE_SIZE, 16, HTABLE_MAP_WRITE,
				     0, 0));
	ASSERT_EQ(0, ht_map(o->fd, SVA + HT_SZ_2M + 100 * HT_PAGE_SIZE, 1, 0));
	ASSERT_EQ(0, ht_model_insert(&o->m, SVA + HT_SZ_2M + 100 * HT_PAGE_SIZE, 1, 0,
				     0, 0));
	ASSERT_EQ(0, ht_verify_model(o->fd, &o->m, o->levels, 1));
	/* Not in the model, which knows 4 KiB pages only: PROBE sees it. */
	ASSERT_EQ(0, ht_map(o->fd, SVA + 2 * HT_SZ_2M, NP_2M, HTABLE_MAP_2M));
}

TEST_F_TIMEOUT(bad, share_refused, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h, o;
	const unsigned long SH = HTABLE_IOC_SHARE, UN = HTABLE_IOC_UNSHARE;
	struct htable_share sh;
	struct htable_probe p;
	struct req_fds f;
	__u64 lim;
	size_t i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	ASSERT_EQ(-1, fcntl(CLOSED_FD, F_GETFD));
	baseline(_metadata, h);
	ASSERT_EQ(0, ht_hat_open(&o));
	owner_baseline(_metadata, &o);
	f.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, f.devnull);
	f.owner = o.fd;
	lim = h->limit;
	{
		const struct req_case c[] = {
			{ "flags 1", SH, SVA, NP_2M, .flags = 1, .owner_fd = OWNER_FD,
			  .err = EINVAL },
			{ "flags bit 31", SH, SVA, 2 * NP_2M, .flags = 1U << 31,
			  .owner_fd = OWNER_FD, .err = EINVAL },
			{ "va + 4 KiB", SH, SVA + HT_PAGE_SIZE, NP_2M, .owner_fd = OWNER_FD,
			  .err = EINVAL },
			{ "va + 1 MiB", SH, SVA + HT_SZ_2M / 2, NP_2M, .owner_fd = OWNER_FD,
			  .err = EINVAL },
			{ "va + 1", SH, SVA + 1, NP_2M, .owner_fd = OWNER_FD, .err = EINVAL },
			{ "npages 0", SH, SVA, 0, .owner_fd = OWNER_FD, .err = EINVAL },
			{ "npages 1", SH, SVA, 1, .owner_fd = OWNER_FD, .err = EINVAL },
			{ "npages 511", SH, SVA, NP_2M - 1, .owner_fd = OWNER_FD,
			  .err = EINVAL },
			{ "npages 513", SH, SVA, NP_2M + 1, .owner_fd = OWNER_FD,
			  .err = EINVAL },
			{ "npages max + 512", SH, SVA, HTABLE_MAX_NPAGES + NP_2M,
			  .owner_fd = OWNER_FD, .err = E2BIG },
			{ "npages 2^63", SH, SVA, 1ULL << 63, .owner_fd = OWNER_FD,
			  .err = E2BIG },
			{ "E2BIG before the 2 MiB rule", SH, SVA + HT_PAGE_SIZE,
			  HTABLE_MAX_NPAGES + 1, .owner_fd = OWNER_FD, .err = E2BIG },
			{ "last 2 MiB + 2 MiB wraps", SH, -HT_SZ_2M, 2 * NP_2M,
			  .owner_fd = OWNER_FD, .err = EOVERFLOW },
			{ "max pages wrapping", SH, -(HTABLE_MAX_NPAGES / 2) * HT_PAGE_SIZE,
			  HTABLE_MAX_NPAGES, .owner_fd = OWNER_FD, .err = EOVERFLOW },
			{ "va = limit", SH, lim, NP_2M, .owner_fd = OWNER_FD, .err = ERANGE },
			{ "the last 2 MiB and one past", SH, lim - HT_SZ_2M, 2 * NP_2M,
			  .owner_fd = OWNER_FD, .err = ERANGE },
			{ "kernel half", SH, 0xffff800000000000ULL, NP_2M,
			  .owner_fd = OWNER_FD, .err = ERANGE },
			{ "range before flags", SH, lim, NP_2M, .flags = 1,
			  .owner_fd = OWNER_FD, .err = ERANGE },
			{ "range before the fd", SH, lim, NP_2M, .owner_fd = CLOSED_FD,
			  .err = ERANGE },
			{ "fd not open", SH, SVA, NP_2M, .owner_fd = CLOSED_FD, .err = EBADF },
			{ "fd -1", SH, SVA, NP_2M, .owner_fd = -1, .err = EBADF },
			{ "fd of /dev/null", SH, SVA, NP_2M, .owner_fd = NULL_FD,
			  .err = EINVAL },
			{ "this hat", SH, SVA, NP_2M, .owner_fd = SELF_FD, .err = EINVAL },
			{ "this hat maps there (C)", SH, 2 * HT_SZ_2M, NP_2M,
			  .owner_fd = OWNER_FD, .err = EEXIST },
			{ "this hat maps va 0", SH, 0, NP_2M, .owner_fd = OWNER_FD,
			  .err = EEXIST },
			{ "over the owner's 2 MiB page", SH, SVA + 2 * HT_SZ_2M, NP_2M,
			  .owner_fd = OWNER_FD, .err = EBUSY },
			{ "two tables, then the 2 MiB page", SH, SVA, 3 * NP_2M,
			  .owner_fd = OWNER_FD, .err = EBUSY },
			{ "unshare: owner_fd set", UN, SVA, NP_2M, .owner_fd = OWNER_FD,
			  .err = EINVAL },
			{ "unshare: flags 1", UN, SVA, NP_2M, .flags = 1, .err = EINVAL },
			{ "unshare: va + 4 KiB", UN, SVA + HT_PAGE_SIZE, NP_2M, .err = EINVAL },
			{ "unshare: npages 0", UN, SVA, 0, .err = EINVAL },
			{ "unshare: npages 256", UN, SVA, NP_2M / 2, .err = EINVAL },
			{ "unshare: npages max + 512", UN, SVA, HTABLE_MAX_NPAGES + NP_2M,
			  .err = E2BIG },
			{ "unshare: wraps", UN, -HT_SZ_2M, 2 * NP_2M, .err = EOVERFLOW },
			{ "unshare: va = limit", UN, lim, NP_2M, .err = ERANGE },
			{ "unshare: kernel half", UN, 0xffff800000000000ULL, NP_2M,
			  .err = ERANGE },
			{ "unshare: nothing shared", UN, SVA, NP_2M, .err = ENOENT },
			{ "unshare: this hat's own pages", UN, 2 * HT_SZ_2M, NP_2M,
			  .err = ENOENT },
		};

		for (i = 0; i < ARRAY_SIZE(c); i++)
			refused_req(_metadata, h, &o, &f, &c[i]);
	}
	/* A SHARE let through shows the owner's pages here. */
	memset(&sh, 0, sizeof(sh));
	sh.owner_fd = o.fd;
	sh.va = SVA;
	sh.npages = 2 * NP_2M;
	ASSERT_EQ(0, ht_ioctl(h->fd, HTABLE_IOC_SHARE, &sh));
	EXPECT_EQ(2, sh.tables);
	ASSERT_EQ(0, ht_probe(h->fd, SVA + 3 * HT_PAGE_SIZE, &p));
	EXPECT_EQ(o.m.pg[0].pfn, p.pfn);
	EXPECT_EQ(HTABLE_PROBE_PRESENT | HTABLE_PROBE_WRITE, p.flags & ~HT_PROBE_HW);
	memset(&sh, 0, sizeof(sh));
	sh.va = SVA;
	sh.npages = 2 * NP_2M;
	ASSERT_EQ(0, ht_ioctl(h->fd, HTABLE_IOC_UNSHARE, &sh));
	EXPECT_EQ(2, sh.tables);
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
	for (i = 0; i < o.m.n; i++)
		EXPECT_EQ(0, ht_verify_probe(o.fd, o.m.pg[i].va, &o.m.pg[i]));
	EXPECT_EQ(0, ht_verify_check(o.fd, NULL));
	close(f.devnull);
	ht_hat_close(&o);
}

/*
 * The order of UNSHARE's checks. uapi.rst has SHARE and UNSHARE check
 * "after the range rules of MAP" for the row that holds flags, whole
 * 2 MiB tables and, for UNSHARE, owner_fd; so a request with both a
 * range MAP refuses and owner_fd set gets the range's errno.
 */
TEST_F_TIMEOUT(bad, unshare_check_order, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h, o;
	const unsigned long UN = HTABLE_IOC_UNSHARE;
	struct req_fds f = { .devnull = -1 };
	__u64 lim;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	ASSERT_EQ(0, ht_hat_open(&o));
	owner_baseline(_metadata, &o);
	f.owner = o.fd;
	lim = h->limit;
	{
		const struct req_case c[] = {
			{ "npages 0 and owner_fd", UN, SVA, 0, .owner_fd = OWNER_FD,
			  .err = EINVAL },
			{ "E2BIG and owner_fd", UN, SVA, HTABLE_MAX_NPAGES + NP_2M,
			  .owner_fd = OWNER_FD, .err = E2BIG },
			{ "EOVERFLOW and owner_fd", UN, -HT_SZ_2M, 2 * NP_2M,
			  .owner_fd = OWNER_FD, .err = EOVERFLOW },
			{ "ERANGE and owner_fd", UN, lim, NP_2M, .owner_fd = OWNER_FD,
			  .err = ERANGE },
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(c); i++)
			refused_req(_metadata, h, &o, &f, &c[i]);
	}
	ht_hat_close(&o);
}

/*
 * Argument pointers that can't be read: EFAULT for every command, before
 * anything happens (no window runs, no share is made), nothing counted
 * as bad input, the hats unchanged.
 */
TEST_F_TIMEOUT(bad, bad_pointers_every_ioctl, BAD_TIMEOUT)
{
	static const unsigned long cmds[] = {
		HTABLE_IOC_VERSION, HTABLE_IOC_MAP, HTABLE_IOC_UNMAP,
		HTABLE_IOC_PROBE, HTABLE_IOC_INFO, HTABLE_IOC_CHECK,
		HTABLE_IOC_RW, HTABLE_IOC_RUN, HTABLE_IOC_SYNC,
		HTABLE_IOC_RELOAD, HTABLE_IOC_SHARE, HTABLE_IOC_UNSHARE,
	};
	static const char * const counters[] = {
		"hs_bad_input", "hs_windows", "hs_ad_syncs", "hs_htable_shared",
		"hs_htable_unshared", "hs_enomem",
	};
	static struct snap before, after;
	struct ht_hat *h = &self->h;
	long long cnt0[ARRAY_SIZE(counters)], cnt1[ARRAY_SIZE(counters)];
	char *hole;
	size_t i, k, j;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	hole = bad_two_pages_one_hole();
	ASSERT_NE(NULL, hole);
	ASSERT_EQ(0, bad_take(h, NULL, &before));
	/* The hat and the counters are compared after each command's six. */
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		void *ptrs[] = {
			NULL, (void *)8, hole + HT_PAGE_SIZE,
			hole + HT_PAGE_SIZE - 8, (void *)0xffff800000000000ULL,
			(void *)~0xfffULL,
		};

		bad_stats(counters, ARRAY_SIZE(counters), cnt0);
		for (k = 0; k < ARRAY_SIZE(ptrs); k++) {
			EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, cmds[i], ptrs[k]))
				TH_LOG("ioctl %#lx, %p", cmds[i], ptrs[k]);
		}
		ASSERT_EQ(0, bad_take(h, NULL, &after));
		EXPECT_EQ(0, bad_diff(&before, &after, 0))
			TH_LOG("ioctl %#lx changed the hat", cmds[i]);
		bad_stats(counters, ARRAY_SIZE(counters), cnt1);
		for (j = 0; j < ARRAY_SIZE(counters); j++) {
			const char *name = counters[j];

			EXPECT_LE(0, cnt0[j]);
			EXPECT_EQ(cnt0[j], cnt1[j]) TH_LOG("ioctl %#lx: %s moved", cmds[i], name);
		}
	}
	munmap(hole, 2 * HT_PAGE_SIZE);
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
}

/*
 * A PROT_READ page holding a valid request: the module can read it but
 * not write the result back, so it fails with EFAULT before it changes
 * anything (uapi.rst): MAP maps nothing, UNMAP unmaps nothing, SYNC
 * clears nothing, RELOAD rebuilds nothing, RUN runs no window (SHARE and
 * UNSHARE: share_bad_pointers). The ioctls that only report fail alike.
 * None of it is bad input.
 */
TEST_F_TIMEOUT(bad, readonly_results, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	const __u64 mva = 3 * HT_SZ_1G;
	__u32 flags[A_N];
	struct htable_probe p;
	struct htable_run r;
	long long bad0, n0;
	char *ro;
	size_t i;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	ro = mmap(NULL, HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	bad0 = htable_stat("hs_bad_input");

#define RO_CALL(cmd, type, ...)						\
	({								\
		type __a = { __VA_ARGS__ };				\
		int __r;						\
									\
		ASSERT_EQ(0, mprotect(ro, HT_PAGE_SIZE, PROT_READ | PROT_WRITE)); \
		memcpy(ro, &__a, sizeof(__a));				\
		ASSERT_EQ(0, mprotect(ro, HT_PAGE_SIZE, PROT_READ));	\
		__r = ht_ioctl(h->fd, cmd, ro);				\
		__r;							\
	})

	/* MAP: nothing mapped. */
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_MAP, struct htable_map, .va = mva,
				   .npages = 4, .flags = HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
	/* UNMAP: nothing unmapped. */
	ASSERT_EQ(0, ht_map(h->fd, mva, 4, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_model_insert(&h->m, mva, 4, HTABLE_MAP_WRITE, 0, 0));
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_UNMAP, struct htable_unmap, .va = mva,
				   .npages = 4));
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
	ASSERT_EQ(0, ht_unmap(h->fd, mva, 4));
	ht_model_remove(&h->m, mva, 4);

	/* SYNC with CLEAR: the bits a window set stay. */
	ASSERT_EQ(0, ht_run_verify(h->fd, 0, A_VA, A_N, HTABLE_RUN_WRITE, 3, &r));
	ASSERT_EQ(0, ht_probe(h->fd, A_VA + HT_PAGE_SIZE, &p));
	ASSERT_EQ(PTE_AD, p.pte & PTE_AD);
	n0 = htable_stat("hs_ad_syncs");
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_SYNC, struct htable_sync, .va = A_VA,
				   .npages = A_N, .flags = HTABLE_SYNC_CLEAR));
	EXPECT_EQ(n0, htable_stat("hs_ad_syncs"));
	for (i = 0; i < A_N; i++) {
		ASSERT_EQ(0, ht_probe(h->fd, A_VA + i * HT_PAGE_SIZE, &p));
		EXPECT_EQ(PTE_AD, p.pte & PTE_AD) TH_LOG("page %zu of A", i);
	}

	/* RELOAD: the stolen translations stay stolen. */
	steal_baseline(_metadata, h);
	for (i = 0; i < A_N; i++) {
		ASSERT_EQ(0, ht_probe(h->fd, A_VA + i * HT_PAGE_SIZE, &p));
		flags[i] = p.flags;
	}
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_RELOAD, struct htable_reload, .va = A_VA,
				   .npages = A_N));
	for (i = 0; i < A_N; i++) {
		ASSERT_EQ(0, ht_probe(h->fd, A_VA + i * HT_PAGE_SIZE, &p));
		EXPECT_EQ(flags[i], p.flags) TH_LOG("page %zu of A", i);
	}
	ASSERT_EQ(0, bad_reload_all(h));
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));

	/* RUN: no window ran. */
	n0 = htable_stat("hs_windows");
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_RUN, struct htable_run, .cpu = 0,
				   .mode = HTABLE_RUN_VERIFY, .va = A_VA, .npages = A_N,
				   .seed = 5));
	EXPECT_EQ(n0, htable_stat("hs_windows"));

	/* The reports change nothing, and fail alike. */
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_PROBE, struct htable_probe, .va = A_VA));
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_INFO, struct htable_info, .levels = 0));
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_CHECK, struct htable_check, .errors = 0));
	EXPECT_EQ(-EFAULT, RO_CALL(HTABLE_IOC_VERSION, struct htable_version, .major = 0));
#undef RO_CALL
	/* None of it was bad input. */
	EXPECT_EQ(bad0, htable_stat("hs_bad_input"));
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
	munmap(ro, HT_PAGE_SIZE);
}

/*
 * RW's buffer: one it can't write (PROT_READ) or that is not mapped, for
 * a read, then one it can't read, for a write: EFAULT, and not bad input.
 * A read changes nothing; a write may have changed part of the range
 * (uapi.rst), so after it only RW itself is checked.
 */
TEST_F_TIMEOUT(bad, rw_bad_buffers, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h;
	const __u64 tag = 0x7a6b5c4d3e2f1001ULL;
	char good[64], *ro, *hole;
	struct htable_rw rw;
	long long bad0;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	ro = mmap(NULL, HT_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	hole = bad_two_pages_one_hole();
	ASSERT_NE(NULL, hole);
	memset(good, 0x11, sizeof(good));
	memcpy(good, &tag, sizeof(tag));
	rw = (struct htable_rw){ .va = A_VA + 64, .buf = (uintptr_t)good, .len = 64,
				 .flags = HTABLE_RW_WRITE };
	ASSERT_EQ(0, ht_ioctl(h->fd, HTABLE_IOC_RW, &rw));
	bad0 = htable_stat("hs_bad_input");

	rw = (struct htable_rw){ .va = A_VA + 64, .buf = (uintptr_t)ro, .len = 64 };
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_RW, &rw));
	rw = (struct htable_rw){ .va = A_VA + 64, .buf = 8, .len = 64 };
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_RW, &rw));
	rw = (struct htable_rw){ .va = A_VA + 64, .buf = (uintptr_t)(hole + HT_PAGE_SIZE - 8),
				 .len = 64 };
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_RW, &rw));
	/* The page is as the first write left it. */
	memset(good, 0xee, sizeof(good));
	rw = (struct htable_rw){ .va = A_VA + 64, .buf = (uintptr_t)good, .len = 64 };
	ASSERT_EQ(0, ht_ioctl(h->fd, HTABLE_IOC_RW, &rw));
	EXPECT_EQ(0, memcmp(good, &tag, sizeof(tag)));
	EXPECT_EQ(0x11, good[63]);

	rw = (struct htable_rw){ .va = A_VA + 64, .buf = (uintptr_t)(hole + HT_PAGE_SIZE),
				 .len = 64, .flags = HTABLE_RW_WRITE };
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_RW, &rw));
	EXPECT_EQ(bad0, htable_stat("hs_bad_input"));
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
	munmap(ro, HT_PAGE_SIZE);
	munmap(hole, 2 * HT_PAGE_SIZE);
}

/*
 * SHARE and UNSHARE with bad pointers: unreadable ones, and PROT_READ
 * ones whose result can't be written back, refuse before anything
 * happens (EFAULT).
 */
TEST_F_TIMEOUT(bad, share_bad_pointers, BAD_TIMEOUT)
{
	struct ht_hat *h = &self->h, o;
	struct htable_share *sh;
	struct htable_probe p;
	long long shared0, unshared0, bad0;
	char *hole, *ro;

	if (htable_dev_missing(_metadata, h->fd < 0, self->err))
		return;
	baseline(_metadata, h);
	ASSERT_EQ(0, ht_hat_open(&o));
	owner_baseline(_metadata, &o);
	hole = bad_two_pages_one_hole();
	ASSERT_NE(NULL, hole);
	ro = mmap(NULL, HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	shared0 = htable_stat("hs_htable_shared");
	unshared0 = htable_stat("hs_htable_unshared");
	bad0 = htable_stat("hs_bad_input");

	/* A valid SHARE whose last 8 bytes lie in the hole. */
	sh = (struct htable_share *)(hole + HT_PAGE_SIZE - sizeof(*sh) + 8);
	sh->owner_fd = o.fd;
	sh->va = SVA;
	sh->npages = NP_2M;
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_SHARE, sh));
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_SHARE, hole + HT_PAGE_SIZE));
	EXPECT_EQ(shared0, htable_stat("hs_htable_shared"));
	ASSERT_EQ(0, ht_probe(h->fd, SVA + 3 * HT_PAGE_SIZE, &p));
	EXPECT_EQ(0, p.flags);

	/* From a PROT_READ page: EFAULT, nothing shared. */
	sh = (struct htable_share *)ro;
	sh->owner_fd = o.fd;
	sh->va = SVA;
	sh->npages = NP_2M;
	ASSERT_EQ(0, mprotect(ro, HT_PAGE_SIZE, PROT_READ));
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_SHARE, ro));
	EXPECT_EQ(shared0, htable_stat("hs_htable_shared"));
	ASSERT_EQ(0, ht_probe(h->fd, SVA + 3 * HT_PAGE_SIZE, &p));
	EXPECT_EQ(0, p.flags);
	/* Shared for the UNSHARE cases, from a struct it can write. */
	ASSERT_EQ(0, mprotect(ro, HT_PAGE_SIZE, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, ht_ioctl(h->fd, HTABLE_IOC_SHARE, ro));
	EXPECT_EQ(shared0 + 1, htable_stat("hs_htable_shared"));
	ASSERT_EQ(0, ht_probe(h->fd, SVA + 3 * HT_PAGE_SIZE, &p));
	EXPECT_EQ(o.m.pg[0].pfn, p.pfn);
	EXPECT_EQ(0, ht_verify_check(h->fd, NULL));

	/* UNSHARE unreadable: still shared. */
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_UNSHARE, NULL));
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_UNSHARE, hole + HT_PAGE_SIZE - 8));
	EXPECT_EQ(unshared0, htable_stat("hs_htable_unshared"));
	ASSERT_EQ(0, ht_probe(h->fd, SVA + 3 * HT_PAGE_SIZE, &p));
	EXPECT_EQ(o.m.pg[0].pfn, p.pfn);

	/* UNSHARE from a PROT_READ page: EFAULT, still shared. */
	sh->owner_fd = 0;
	ASSERT_EQ(0, mprotect(ro, HT_PAGE_SIZE, PROT_READ));
	EXPECT_EQ(-EFAULT, ht_ioctl(h->fd, HTABLE_IOC_UNSHARE, ro));
	EXPECT_EQ(unshared0, htable_stat("hs_htable_unshared"));
	ASSERT_EQ(0, ht_probe(h->fd, SVA + 3 * HT_PAGE_SIZE, &p));
	EXPECT_EQ(o.m.pg[0].pfn, p.pfn);
	ASSERT_EQ(0, mprotect(ro, HT_PAGE_SIZE, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, ht_ioctl(h->fd, HTABLE_IOC_UNSHARE, ro));
	ASSERT_EQ(0, ht_probe(h->fd, SVA + 3 * HT_PAGE_SIZE, &p));
	EXPECT_EQ(0, p.flags);
	EXPECT_EQ(bad0, htable_stat("hs_bad_input"));
	EXPECT_EQ(0, ht_verify_check(h->fd, NULL));
	EXPECT_EQ(0, ht_verify_check(o.fd, NULL));
	ASSERT_EQ(0, ht_verify_model(h->fd, &h->m, h->levels, 1));
	munmap(ro, HT_PAGE_SIZE);
	munmap(hole, 2 * HT_PAGE_SIZE);
	ht_hat_close(&o);
}

TEST_HARNESS_MAIN
