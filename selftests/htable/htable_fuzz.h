/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of htable_fuzz_test share (the design is described at
 * the top of htable_fuzz_test.c): the fuzzer's sizes, an operation, the
 * state of a thread and of the processes, and the functions each file
 * offers the others, listed by the file that holds them.
 */
#ifndef HTABLE_FUZZ_H
#define HTABLE_FUZZ_H

#include <pthread.h>
#include <stdint.h>

#include "kselftest.h"
#include "htable_test.h"
#include "htable_model.h"
#include "htable_random.h"

#define FZ_DEFAULT_OPS	24000UL
#define FZ_PROCS	2
#define FZ_THREADS	2
#define FZ_HATS		3	/* per thread */
#define FZ_CHECK_EVERY	500	/* operations on one hat between CHECKs */
#define FZ_LOG_MAX	4096	/* operations before a thread's hats are reopened */
#define FZ_SHRINK_RUNS	400	/* replays one shrink may spend */
#define FZ_SHRINK_S	90.0	/* and seconds */
#define FZ_POISON	0xa5
#define FZ_POISON64	0xa5a5a5a5a5a5a5a5ULL
#define FZ_SEG_PAGES	256
#define FZ_SHARES	64	/* tables one hat may share from others */
#define FZ_P4K		64	/* pages of the 4 KiB pool */
#define FZ_PTHP		2	/* 2 MiB chunks of the THP pool */
#define FZ_EPISODE_EVERY 50000	/* thread operations per 1 GiB episode (one at least) */
#define FZ_EP_OPS	32	/* operations in one */
#define FZ_STEAL_EVERY	12000	/* ...per steal of each process's first thread */
#define FZ_TAGS_2M	64	/* a fresh 2 MiB page gets a tag every this many pages */

#define NP_2M		HTABLE_2M_NPAGES
#define NP_1G		HTABLE_1G_NPAGES

/* Backing page names (ht_page.bid): pinned memory by its address. */
#define FZ_BID_PIN	_BITULL(62)
#define FZ_BID_BLOCK	_BITULL(61)	/* a page of a fresh 2 MiB page */
#define FZ_BID_ADDR	((1ULL << 52) - 1)

enum fz_kind {
	FZ_VERSION, FZ_MAP, FZ_UNMAP, FZ_PROBE, FZ_INFO, FZ_CHECK, FZ_RW,
	FZ_RUN, FZ_SYNC, FZ_ADSYNC, FZ_RELOAD, FZ_SHARE, FZ_UNSHARE,
	FZ_CLEAR, FZ_STEAL, FZ_REOPEN, FZ_BAD, FZ_NKIND
};

/* Bad requests: each must fail with its errno and change nothing. */
enum fz_bad {
	BAD_IOCTL, BAD_MAP_RESERVED, BAD_MAP_FLAGS, BAD_MAP_ZERO, BAD_MAP_HUGE,
	BAD_MAP_UNALIGNED, BAD_MAP_RANGE, BAD_MAP_WRAP, BAD_MAP_ALIASFIELDS,
	BAD_MAP_ALIASLEN, BAD_MAP_NULL, BAD_MAP_SIZES, BAD_MAP_1G_FRESH,
	BAD_MAP_LP_ALIGN, BAD_MAP_PIN_FIELDS, BAD_UNMAP_FLAGS, BAD_UNMAP_HUGE,
	BAD_PROBE_RANGE, BAD_RW_LEN, BAD_RW_CROSS, BAD_RW_FLAGS, BAD_RW_BUF,
	BAD_RUN_CPU, BAD_RUN_MODE, BAD_RUN_SAMPLES, BAD_RUN_DURATION,
	BAD_SYNC_FLAGS, BAD_RELOAD_FLAGS, BAD_SHARE_FLAGS, BAD_SHARE_ALIGN,
	BAD_SHARE_FD, BAD_SHARE_NOTDEV, BAD_SHARE_SELF, BAD_UNSHARE_FD,
	BAD_NR
};

/* The deliberate model bugs of the tests that show the fuzzer can fail. */
enum fz_inject {
	FZ_INJ_NONE, FZ_INJ_PROBE, FZ_INJ_TAG, FZ_INJ_SYNC,
};

/* The va zones of every hat: four of 4 KiB pages, one of 2 MiB, one of 1 GiB. */
enum { FZ_Z4K, FZ_Z2M = 4, FZ_Z1G, FZ_NZONE };

/* One operation: everything needed to replay it on other hats. */
struct fz_op {
	__u8 kind;
	__u8 bad;
	__u8 hat;
	__u8 owner;		/* SHARE: the owner hat; RUN, ADSYNC: the CPU */
	__u32 flags;
	__u64 va;
	__u64 npages;
	__u64 alias_va;		/* ADSYNC: the window's first page */
	__u64 alias_npages;	/* ADSYNC: its length */
	__u64 arg;		/* RW: offset | len << 12 | byte << 24; RUN: seed */
};

/* A 2 MiB leaf table of another hat of the set, linked into this one. */
struct fz_share {
	__u64 va;
	int owner;
};

/* What the model knows of one fresh backing page, by its bid. */
struct fz_bent {
	__u64 bid;		/* 0: a free slot */
	__u64 pfn;		/* PROBE's, once seen: compared with later PROBEs */
	__u64 pat;		/* the verify seed its words 0, 257, 511 hold */
	int has_pat;
};

struct fz_bids {
	struct fz_bent *e;
	size_t cap, n;
};

struct fz_hat {
	struct ht_hat h;
	struct fz_share sh[FZ_SHARES];	/* sorted by va */
	int nsh;
	struct fz_bids b;
	__u64 stolen;			/* INFO's stolen, last seen */
	unsigned long since_check;
	unsigned int sweep;		/* where the next tag sweep starts */
};

struct fz_set {
	struct fz_hat hat[FZ_HATS];
	__u64 epoch;			/* the steals it has caught up with */
	int used;			/* a bit per hat an operation used */
};

/* Coverage: what the threads did, summed and judged at the end. */
enum fz_stat {
	ST_MAP4K, ST_MAP2M, ST_MAP1G, ST_PIN4K, ST_PIN2M, ST_PIN1G,
	ST_ALIAS2M, ST_ALIAS1G, ST_SPLITS, ST_SHARES, ST_UNSHARES,
	ST_SHARER_PAGES, ST_STEALS, ST_STOLEN_TABLES, ST_RELOADED,
	ST_TAGS, ST_PFN_PAGEMAP, ST_SYNC_EXACT, ST_WINDOW_SHARED,
	ST_LPERR, ST_ENOMEM2M, ST_EPISODES, ST_SHARED_OUT_LP, ST_STOLEN_FIRST,
	ST_NSTAT
};

/* What all processes share: the steal lock and epoch, and the results. */
struct fz_result {
	unsigned long ops, ioctls;
	size_t shrunk;
	int failed;
	unsigned long st[ST_NSTAT];
};

struct fz_global {
	pthread_rwlock_t lock;
	__u64 epoch;
	int stop;
	int episode;		/* a 1 GiB episode runs: no steal meanwhile */
	char *g1;		/* the 1 GiB page, mapped shared */
	int g1_state;		/* 0: being faulted in, 1: ready, -1: none */
	struct fz_result res[FZ_PROCS];
};

struct fz_pools {
	char *p4k;		/* FZ_P4K pages of 4 KiB folios, 2 MiB-aligned */
	char *thp;		/* FZ_PTHP 2 MiB chunks, THP where given */
	char *g1;		/* the 1 GiB hugetlb page, or NULL */
	char *ro;		/* 2 MiB-aligned, one read-only page */
	char *none;		/* 1 GiB-aligned, nothing mapped */
	void *maps[4];
	size_t lens[4];
};

struct fz_thread {
	pthread_t tid;
	int proc, thr;
	__u64 seed, rng;
	unsigned long ops, ioctls, budget;
	int ncpus;
	int quiet;		/* replaying for the shrink: print nothing */
	int inject;		/* test only: a deliberate model bug */
	int noshrink;
	int probing;		/* inside a PROBE operation (where one bug is) */
	int failed;
	int use1g;		/* this thread uses the 1 GiB page */
	int episodes;		/* this thread has 1 GiB episodes */
	int pdpe1gb;
	struct fz_global *g;
	struct fz_set real;
	struct fz_op *log;
	size_t nlog;
	__u64 next_bid;
	struct fz_pools pl;
	int pagemap, kpageflags;
	__u64 pm_blk;
	int pm_ok;
	__u64 pm[512];
	int ep_left, ep_hat;
	unsigned long next_ep;
	int eps;
	size_t shrunk;
	double shrink_until;
	unsigned long per_kind[FZ_NKIND];
	double secs[FZ_NKIND];
	double t_setup, t_wait, t_slowest;
	int slowest;
	unsigned long st[ST_NSTAT];
};

#define fz_log(t, ...) do { if (!(t)->quiet) fprintf(stderr, __VA_ARGS__); } while (0)

static inline __u64 fz_rand(struct fz_thread *t, __u64 n)
{
	return ht_rand_below(&t->rng, n);
}

static inline void fz_stat(struct fz_thread *t, enum fz_stat s, unsigned long n)
{
	if (!t->quiet)
		t->st[s] += n;
}

/* The levels' page counts and sizes. */
static inline __u64 fz_npg(unsigned int level)
{
	return 1ULL << (9 * level);
}

static inline unsigned int fz_level(__u32 flags)
{
	return flags & HTABLE_MAP_1G ? 2 : flags & HTABLE_MAP_2M ? 1 : 0;
}

/* htable_fuzz_state.c: zones, the thread's memory, backing pages, hats */
void fz_zone(const struct ht_hat *h, int z, __u64 *va, __u64 *n);
int fz_zone_of(const struct ht_hat *h, __u64 va);
__u64 fz_share_region(struct fz_thread *t, const struct ht_hat *h, int ep);
__u64 fz_pin_tag(__u64 uaddr);
int fz_pools_init(struct fz_thread *t);
int fz_g1_wait(struct fz_thread *t);
void fz_pools_free(struct fz_thread *t);
int fz_pool_of(const struct fz_pools *pl, __u64 uaddr);
__u64 fz_pagemap(struct fz_thread *t, __u64 uaddr);
int fz_is_thp(struct fz_thread *t, __u64 uaddr);
struct fz_bent *fz_bid(struct fz_bids *b, __u64 bid, int create);
int fz_hat_open(struct fz_hat *fh);
void fz_hat_free(struct fz_hat *fh);
struct fz_share *fz_shared(struct fz_hat *fh, __u64 va);
int fz_shared_out(struct fz_set *s, int hi, __u64 r);
void fz_share_add(struct fz_hat *fh, __u64 va, int owner);
void fz_share_del(struct fz_hat *fh, __u64 va);
struct ht_page *fz_view(struct fz_set *s, int hi, __u64 va, int *oh);
int fz_set_open(struct fz_thread *t, struct fz_set *s);
int fz_set_close(struct fz_thread *t, struct fz_set *s, int check);

/* htable_fuzz_check.c: what the device says, against the model */
int fz_ioctl(struct fz_thread *t, int fd, unsigned long cmd, void *arg);
int fz_bad_ret(struct fz_thread *t, const char *what, int got, int want);
int fz_all(const void *p, size_t n, int b);
int fz_check_tag(struct fz_thread *t, struct fz_hat *fh, const struct ht_page *pg);
__u64 fz_pin_pfn(struct fz_thread *t, __u64 bid);
__u64 fz_known_pfn(struct fz_thread *t, struct fz_hat *fh, const struct ht_page *pg);
int fz_probe(struct fz_thread *t, struct fz_set *s, int hi, __u64 va);
int fz_info_check(struct fz_thread *t, struct fz_set *s, int hi, int check);
int fz_tag_sweep(struct fz_thread *t, struct fz_set *s, int hi, size_t n);

/* htable_fuzz_pages.c: MAP, UNMAP, RW */
int fz_range_errno(__u64 va, __u64 n, __u64 limit);
int fz_map(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_unmap(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_rw(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);

/* htable_fuzz_window.c: RUN verify windows, SYNC */
int fz_run(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_sync(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_adsync(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);

/* htable_fuzz_tables.c: SHARE, UNSHARE, CLEAR, steals, RELOAD */
int fz_reload(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_share(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_unshare(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_clear(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_catch_up(struct fz_thread *t, struct fz_set *s);
int fz_steal(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);

/* htable_fuzz_bad.c: requests the device must refuse */
int fz_bad(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);

/* htable_fuzz_gen.c: the random operations */
extern const char * const fz_names[FZ_NKIND];
void fz_gen(struct fz_thread *t, struct fz_set *s, struct fz_op *op);
void fz_gen_episode(struct fz_thread *t, struct fz_set *s, struct fz_op *op, int left);
void fz_print_op(FILE *f, const struct fz_op *op, size_t i);

/* htable_fuzz_shrink.c: replay and shrink a failing sequence */
size_t fz_shrink(struct fz_thread *t, const struct fz_op *ops, size_t n);

/* htable_fuzz_run.c: operations, threads, processes */
int fz_step(struct fz_thread *t, struct fz_set *s, const struct fz_op *op);
int fz_run_all(__u64 seed, unsigned long total, int inject, int use1g,
	       size_t *shrunk, unsigned long *st);

#endif /* HTABLE_FUZZ_H */
