/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of htable_failsweep_test share: the allocation sites,
 * the workload's state, the snapshot of a hat and the description of one
 * operation swept, and the helpers of htable_failsweep_workload.c and
 * htable_failsweep_op.c.
 */
#ifndef HTABLE_FAILSWEEP_H
#define HTABLE_FAILSWEEP_H

#include <stdint.h>

#include "kselftest.h"
#include "htable_test.h"
#include "htable_model.h"

/* The allocation sites (fail_site bits), named in htable_failsweep_test.c. */

#define SITES		11

/* One run of the workload. */

struct sweep {
	struct ht_hat h;
	int opened;
	int fd2;		/* the owner of the shared range, or -1 */
	unsigned long enomem;	/* ENOMEM returns seen */
	int bad;		/* outcomes the ABI does not allow */
};

/* The vas one snapshot of a hat covers, at most. */

#define SNAP_MAX	160

/* The tag this test writes into word 1 of the page at @va. */

#define WTAG(va)	(0x7a60000000000000ULL ^ (va))

/* fail_hits for every site. */
struct hits {
	long long calls[SITES], failed[SITES];
};

/* What must not change in one hat. */
struct hsnap {
	struct htable_info info;
	struct htable_check check;
	int n;
	struct htable_probe p[SNAP_MAX];
	__u64 word[SNAP_MAX];	/* word 1 through RW; ~0 when RW fails */
};

struct opsweep {
	const char *name;
	__u32 mask;		/* fail_site */
	int nfd;
	int fd[2];
	int nva[2];
	__u64 va[2][SNAP_MAX];	/* per hat: the vas snapshotted */
	int (*run)(struct opsweep *o);
	int (*reset)(struct opsweep *o);
	/* A failed RELOAD: problems between @b and @a, or NULL for none allowed. */
	int (*partial)(struct opsweep *o, int k, const struct hsnap *b,
		       const struct hsnap *a);
	int enomem;		/* its ENOMEM moves hs_enomem by this; -1: unchecked */
	void *arg;
	__u64 a[4];		/* the operation's own arguments */
	long long injected[SITES];
	int attempts;
};

/* htable_failsweep_workload.c: the workload of every_allocation_site */
void sweep_workload(struct sweep *s);
void sweep_settle_and_verify(struct sweep *s);
long long sweep_free_kb(void);

/* htable_failsweep_op.c: what the op cases read and compare */
int sweep_read_hits(struct hits *h);
__u64 sweep_word1(int fd, __u64 va);
int sweep_put_tags(int fd, __u64 va, __u64 n);
void sweep_add_va(struct opsweep *o, int k, __u64 va);
void sweep_add_run(struct opsweep *o, int k, __u64 va, __u64 n);
int sweep_snap_take(int fd, const __u64 *va, int n, struct hsnap *s);
int sweep_snap_diff(const struct hsnap *a, const struct hsnap *b);
long long sweep_sum(const long long *v);
__u64 sweep_pfn_level(int fd, __u64 va, __u32 level);
int sweep_absent(int fd, __u64 va);
int sweep_pages_intact(int fd, __u64 va, __u64 n, __u32 level, __u64 pfn0);
int sweep_tags_intact(int fd, __u64 va, __u64 n);

#endif /* HTABLE_FAILSWEEP_H */
