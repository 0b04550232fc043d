/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of htable_badinput_map_test (MAP and UNMAP refused) and
 * htable_badinput_test (the other ioctls refused) share: the starting
 * hat, a refused request of each kind and the snapshot of what it must
 * not change, the helpers of htable_badinput_snap.c and
 * htable_badinput_req.c, and, for the files of cases (which include
 * kselftest_harness.h first), the fixture and baseline().
 */
#ifndef HTABLE_BADINPUT_H
#define HTABLE_BADINPUT_H

#include "kselftest.h"
#include "htable_test.h"
#include "htable_model.h"

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
	struct htable_map m;	/* the request; UNMAP takes its first fields */
	int err;		/* the errno the ABI gives */
};

/* What must not change. */
struct snap {
	struct htable_info info;
	struct htable_check check;
	int nprobe;
	struct htable_probe probe[MAX_PROBES];
};

/* The RELOAD, SYNC, SHARE and UNSHARE cases (see htable_badinput_test.c). */

#define SVA		(12 * HT_SZ_1G)	/* the owner's pages, for SHARE */
#define NP_2M		HTABLE_2M_NPAGES
#define POISON		0xa5a5a5a5a5a5a5a5ULL
#define PTE_AD		(_BITULL(5) | _BITULL(6))
#define OWNER_FD	(-1000)		/* in a case: the owner's fd */
#define SELF_FD		(-1001)		/* this hat's own fd */
#define NULL_FD		(-1002)		/* /dev/null */
#define CLOSED_FD	1000		/* an fd number no file has here */

struct req_case {
	const char *what;
	unsigned long cmd;
	__u64 va;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	int owner_fd;
	int err;
};

struct req_fds {
	int owner;
	int devnull;
};

/* htable_badinput_snap.c: snapshots of a hat */
int bad_take_at(const struct ht_hat *h, __u64 va, __u64 npages, __u64 ava,
		__u64 an, __u64 ends, struct snap *s);
int bad_take(const struct ht_hat *h, const struct bad_case *c, struct snap *s);
int bad_diff(const struct snap *a, const struct snap *b, int any_cached);

/* htable_badinput_req.c: issuing requests */
int bad_issue(const struct ht_hat *h, const struct bad_case *c);
void bad_stats(const char * const *names, size_t n, long long *v);
int bad_issue_req(const struct ht_hat *h, const struct req_fds *f,
		  const struct req_case *c, int *written);
const char *bad_cmd_name(unsigned long cmd);
int bad_reload_all(const struct ht_hat *h);
char *bad_two_pages_one_hole(void);

#ifdef __KSELFTEST_HARNESS_H
/*
 * The fixture of both programs, and baseline(), which maps the starting
 * hat and records it in the model. Only the file of cases of each
 * program includes the harness, so each has them once.
 */
#define BAD_TIMEOUT	120

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

static inline void baseline(struct __test_metadata *_metadata, struct ht_hat *h)
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
#endif /* __KSELFTEST_HARNESS_H */

#endif /* HTABLE_BADINPUT_H */
