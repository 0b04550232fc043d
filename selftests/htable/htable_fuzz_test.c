// SPDX-License-Identifier: GPL-2.0
/*
 * A model-checked fuzzer for /dev/htable.
 *
 * Several processes, each with several threads, each thread with a few
 * hats of its own, issue random ioctls of every kind: VERSION; MAP of
 * 4 KiB, 2 MiB and 1 GiB pages, fresh, ALIAS of the hat's own pages, or
 * PIN of the thread's own memory (4 KiB anonymous pages, 2 MiB THPs where
 * the kernel gives them, the row's one 1 GiB hugetlb page); UNMAP, whole
 * or in part (splitting large pages); PROBE, INFO, CHECK, RW, RUN verify
 * windows, SYNC, RELOAD; SHARE and UNSHARE of whole 2 MiB leaf tables
 * between a thread's hats; steals of the hats' tables (the reap and
 * force_steal knobs); and bad requests of every kind the device must
 * refuse. Each thread keeps a model of its hats (htable_model.h) that
 * says what every call must return, errno included, what PROBE must show
 * (flags, level, the hardware A and D bits), what INFO must count, and
 * what SYNC must gather: exactly, since every window of a hat is the
 * thread's own.
 *
 * The model learns nothing from PROBE that it then checks against:
 *  - every page the fuzzer maps carries a tag in its word 1, written
 *    through RW (fresh pages: every 4 KiB page, and a sample of each
 *    2 MiB page; the rest stay zero) or, for pinned pages, into the
 *    thread's own memory, which is then the truth; the tags are read back
 *    through RW at the va, through aliases, after steals and RELOAD;
 *  - for pinned pages the pfn PROBE reports must be the one
 *    /proc/self/pagemap gives for the memory, and a window's writes must
 *    show in that memory, in the pattern of that pfn;
 *  - a sharer's window reads the owner's pages through the shared table,
 *    where the model knows which verify pattern each page holds;
 *  - INFO's counts follow from the model's pages by the table rule, and
 *    CHECK's from INFO and the shares.
 * PROBE's pfn of a fresh page is only compared with other PROBEs (the same
 * page later, through an alias or a sharer), and used to predict whether
 * a large ALIAS finds its source physically contiguous.
 *
 * Steals change every hat at once, so a thread that steals first stops
 * the others (a lock they hold for read around each operation); each
 * thread then finds, through PROBE, which of its leaf tables went, and
 * checks that they went whole, were neither locked nor shared, kept their
 * data, and that INFO and RELOAD agree.
 *
 * The 1 GiB page is used in episodes of one thread (one per run, one per
 * FZ_EPISODE_EVERY of its operations in longer ones): a 1 GiB page of it
 * pinned in the first 1 GiB slot of a hat, an ALIAS of that in the
 * second, random operations there, then a CLEAR. Under KASAN one MAP of
 * it takes half a minute, so the debug rows leave 1 GiB pages to
 * htable_lpage_test and fuzz that zone with smaller pages.
 *
 * Every out structure is poisoned before the call, so a reserved field or
 * an unwritten field that comes back non-zero is caught, and a refused
 * call must leave the caller's structure untouched.
 *
 * Reproducible: each thread's operations derive from the seed, which is
 * printed; HTABLE_FUZZ_SEED=<seed> replays a run, HTABLE_FUZZ_OPS=<n> sets
 * the total operations (default FZ_DEFAULT_OPS; `make soak` runs 10^7).
 * On a mismatch the thread replays its operations since its hats were
 * last opened on fresh hats and shrinks them (drop the tail after the
 * first failure, then remove chunks, delta-debugging style) and prints the
 * shortest failing sequence found.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
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

#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << 26)
#endif
#define FREE_1G_PATH	"/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"
#define REAP_PATH	"/sys/kernel/debug/htable/reap"
#define THROTTLE_PATH	"/sys/kernel/debug/htable/throttle_pages"

/* Backing page names (ht_page.bid): pinned memory by its address. */
#define FZ_BID_PIN	_BITULL(62)
#define FZ_BID_BLOCK	_BITULL(61)	/* a page of a fresh 2 MiB page */
#define FZ_BID_ADDR	((1ULL << 52) - 1)

/* kpageflags bits (Documentation/admin-guide/mm/pagemap.rst). */
#define KPF_COMPOUND_HEAD	15
#define KPF_COMPOUND_TAIL	16
#define KPF_THP			22

/* The words a verify window writes, and its pattern (uapi.rst). */
static const unsigned int fz_pat_word[] = { 0, 257, 511 };

static __u64 fz_pattern(__u64 seed, __u64 pfn, unsigned int w)
{
	return seed ^ (pfn << 16) ^ (w * 0x9E3779B97F4A7C15ULL);
}

enum fz_kind {
	FZ_VERSION, FZ_MAP, FZ_UNMAP, FZ_PROBE, FZ_INFO, FZ_CHECK, FZ_RW,
	FZ_RUN, FZ_SYNC, FZ_ADSYNC, FZ_RELOAD, FZ_SHARE, FZ_UNSHARE,
	FZ_CLEAR, FZ_STEAL, FZ_REOPEN, FZ_BAD, FZ_NKIND
};

static const char * const fz_names[FZ_NKIND] = {
	"VERSION", "MAP", "UNMAP", "PROBE", "INFO", "CHECK", "RW", "RUN",
	"SYNC", "ADSYNC", "RELOAD", "SHARE", "UNSHARE", "CLEAR", "STEAL",
	"REOPEN", "BAD",
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

static const char * const fz_stat_names[ST_NSTAT] = {
	"map4k", "map2m", "map1g", "pin4k", "pin2m", "pin1g", "alias2m",
	"alias1g", "splits", "shares", "unshares", "sharer_pages", "steals",
	"stolen_tables", "reloaded", "tags_read", "pagemap_pfns",
	"sync_nonzero", "sharer_windows", "large_errnos", "enomem_2m",
	"episodes", "lpage_over_shared_out", "stolen_conflict_first",
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

static __u64 fz_rand(struct fz_thread *t, __u64 n)
{
	return ht_rand_below(&t->rng, n);
}

static void fz_stat(struct fz_thread *t, enum fz_stat s, unsigned long n)
{
	if (!t->quiet)
		t->st[s] += n;
}

/* The levels' page counts and sizes. */
static __u64 fz_npg(unsigned int level)
{
	return 1ULL << (9 * level);
}

static unsigned int fz_level(__u32 flags)
{
	return flags & HTABLE_MAP_1G ? 2 : flags & HTABLE_MAP_2M ? 1 : 0;
}

/* ---- zones ---------------------------------------------------------- */

/* Zone @z of a hat: four that straddle level boundaries, the top among them. */
static void fz_zone(const struct ht_hat *h, int z, __u64 *va, __u64 *n)
{
	__u64 half = FZ_SEG_PAGES / 2 * HT_PAGE_SIZE;

	*n = FZ_SEG_PAGES;
	switch (z) {
	case 0:
		*va = HT_SZ_2M * 3 - half;
		break;
	case 1:
		*va = HT_SZ_1G * 5 - half;
		break;
	case 2:
		*va = HT_SZ_512G * 3 - half;
		break;
	case 3:
		*va = h->limit - FZ_SEG_PAGES * HT_PAGE_SIZE;
		break;
	case FZ_Z2M:
		/* Four 2 MiB regions across the 11 GiB boundary. */
		*va = 11 * HT_SZ_1G - 2 * HT_SZ_2M;
		*n = 4 * NP_2M;
		break;
	default:
		/* Two 1 GiB slots: only the 1 GiB episodes go there. */
		*va = 16 * HT_SZ_1G;
		*n = 2 * NP_1G;
		break;
	}
}

/* The zone @va is in, or -1. */
static int fz_zone_of(const struct ht_hat *h, __u64 va)
{
	__u64 zva, zn;

	for (int z = 0; z < FZ_NZONE; z++) {
		fz_zone(h, z, &zva, &zn);
		if (va - zva < zn * HT_PAGE_SIZE)
			return z;
	}
	return -1;
}

/* The 2 MiB regions SHARE picks from: all that the 4 KiB zones touch, and Z2M's. */
static __u64 fz_share_region(struct fz_thread *t, const struct ht_hat *h, int ep)
{
	__u64 va, n;
	int z;

	if (ep)
		return 16 * HT_SZ_1G + fz_rand(t, 2) * HT_SZ_1G + fz_rand(t, 4) * HT_SZ_2M;
	z = fz_rand(t, 3) ? FZ_Z2M : fz_rand(t, 4);
	fz_zone(h, z, &va, &n);
	va += fz_rand(t, n) * HT_PAGE_SIZE;
	return va & ~(HT_SZ_2M - 1);
}

/* ---- user memory: pools, pagemap, kpageflags ------------------------ */

static __u64 fz_pin_tag(__u64 uaddr)
{
	return ht_tag_make(0x50494e, uaddr >> HT_PAGE_SHIFT);
}

/* An address aligned to @align inside a fresh mapping of @len + @align. */
static char *fz_mmap_aligned(struct fz_pools *pl, int slot, size_t len, size_t align,
			     int prot, int flags)
{
	char *p = mmap(NULL, len + align, prot, flags, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	pl->maps[slot] = p;
	pl->lens[slot] = len + align;
	return (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

static int fz_pools_init(struct fz_thread *t)
{
	struct fz_pools *pl = &t->pl;
	size_t i;

	memset(pl, 0, sizeof(*pl));
	pl->p4k = fz_mmap_aligned(pl, 0, FZ_P4K * HT_PAGE_SIZE, HT_SZ_2M,
				  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	pl->thp = fz_mmap_aligned(pl, 1, FZ_PTHP * HT_SZ_2M, HT_SZ_2M,
				  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	pl->ro = fz_mmap_aligned(pl, 2, HT_PAGE_SIZE, HT_SZ_2M, PROT_READ,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
	pl->none = fz_mmap_aligned(pl, 3, HT_SZ_1G, HT_SZ_1G, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
	if (!pl->p4k || !pl->thp || !pl->ro || !pl->none)
		return -1;
	madvise(pl->p4k, FZ_P4K * HT_PAGE_SIZE, MADV_NOHUGEPAGE);
	madvise(pl->thp, FZ_PTHP * HT_SZ_2M, MADV_HUGEPAGE);
	for (i = 0; i < FZ_P4K; i++)
		*(__u64 *)(pl->p4k + i * HT_PAGE_SIZE + HT_TAG_OFF) =
			fz_pin_tag((uintptr_t)pl->p4k + i * HT_PAGE_SIZE);
	for (i = 0; i < FZ_PTHP * NP_2M; i++)
		*(__u64 *)(pl->thp + i * HT_PAGE_SIZE + HT_TAG_OFF) =
			fz_pin_tag((uintptr_t)pl->thp + i * HT_PAGE_SIZE);
	return 0;
}

/*
 * The 1 GiB page: shared anonymous hugetlb memory the parent mapped
 * before the fork and faults in meanwhile (which zeroes a GiB: seconds
 * under TCG, and the faulting process's mmap_lock all that time). The
 * thread that uses it waits for it at its first 1 GiB episode.
 */
static int fz_g1_wait(struct fz_thread *t)
{
	double end = ht_now() + 300;
	int st;

	while (!(st = __atomic_load_n(&t->g->g1_state, __ATOMIC_ACQUIRE)) && ht_now() < end)
		usleep(10000);
	if (st != 1) {
		fprintf(stderr, "# thread %d.%d: no 1 GiB page\n", t->proc, t->thr);
		return -1;
	}
	t->pl.g1 = t->g->g1;
	return 0;
}

static void fz_pools_free(struct fz_thread *t)
{
	for (int i = 0; i < 4; i++)
		if (t->pl.maps[i])
			munmap(t->pl.maps[i], t->pl.lens[i]);
	memset(&t->pl, 0, sizeof(t->pl));
}

/* Which pool @uaddr is in: 0 none of them, 1 p4k, 2 thp, 3 g1, 4 ro, 5 none. */
static int fz_pool_of(const struct fz_pools *pl, __u64 uaddr)
{
	if (uaddr - (uintptr_t)pl->p4k < FZ_P4K * HT_PAGE_SIZE)
		return 1;
	if (uaddr - (uintptr_t)pl->thp < FZ_PTHP * HT_SZ_2M)
		return 2;
	if (pl->g1 && uaddr - (uintptr_t)pl->g1 < HT_SZ_1G)
		return 3;
	if (uaddr - (uintptr_t)pl->ro < HT_SZ_2M)
		return 4;
	if (uaddr - (uintptr_t)pl->none < HT_SZ_1G)
		return 5;
	return 0;
}

/* The pfn of this process's page at @uaddr, from /proc/self/pagemap; 0: none. */
static __u64 fz_pagemap(struct fz_thread *t, __u64 uaddr)
{
	__u64 blk = (uaddr >> HT_PAGE_SHIFT) & ~511ULL, e;

	if (!t->pm_ok || t->pm_blk != blk) {
		if (pread(t->pagemap, t->pm, sizeof(t->pm), blk * 8) != sizeof(t->pm))
			return 0;
		t->pm_blk = blk;
		t->pm_ok = 1;
	}
	e = t->pm[(uaddr >> HT_PAGE_SHIFT) & 511];
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

static __u64 fz_kpageflags(struct fz_thread *t, __u64 pfn)
{
	__u64 f = 0;

	if (pread(t->kpageflags, &f, sizeof(f), pfn * 8) != sizeof(f))
		return 0;
	return f;
}

/* Is the 2 MiB at @uaddr one THP folio now (pagemap and kpageflags say)? */
static int fz_is_thp(struct fz_thread *t, __u64 uaddr)
{
	__u64 pfn0 = fz_pagemap(t, uaddr), f0, f1, k;

	if (!pfn0 || (pfn0 & 511))
		return 0;
	for (k = 1; k < NP_2M; k++)
		if (fz_pagemap(t, uaddr + k * HT_PAGE_SIZE) != pfn0 + k)
			return 0;
	f0 = fz_kpageflags(t, pfn0);
	f1 = fz_kpageflags(t, pfn0 + NP_2M - 1);
	return (f0 >> KPF_THP & 1) && (f0 >> KPF_COMPOUND_HEAD & 1) &&
	       (f1 >> KPF_THP & 1) && (f1 >> KPF_COMPOUND_TAIL & 1);
}

/* ---- the bid table: per hat, fresh backing pages -------------------- */

static __u64 fz_mix(__u64 x)
{
	x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdULL;
	return x ^ (x >> 33);
}

static struct fz_bent *fz_bid(struct fz_bids *b, __u64 bid, int create)
{
	size_t i;

	if (create && (b->n + 1) * 2 > b->cap) {
		struct fz_bids nb = { .cap = b->cap ? b->cap * 2 : 256 };

		nb.e = calloc(nb.cap, sizeof(*nb.e));
		if (!nb.e)
			return NULL;
		for (i = 0; i < b->cap; i++)
			if (b->e[i].bid)
				*fz_bid(&nb, b->e[i].bid, 1) = b->e[i];
		nb.n = b->n;
		free(b->e);
		*b = nb;
	}
	if (!b->cap)
		return NULL;
	for (i = fz_mix(bid) & (b->cap - 1); b->e[i].bid; i = (i + 1) & (b->cap - 1))
		if (b->e[i].bid == bid)
			return &b->e[i];
	if (!create)
		return NULL;
	b->e[i].bid = bid;
	b->n++;
	return &b->e[i];
}

/* ---- the set of hats ------------------------------------------------- */

static int fz_hat_open(struct fz_hat *fh)
{
	int err;

	memset(fh, 0, sizeof(*fh));
	err = ht_hat_open(&fh->h);
	return err;
}

static void fz_hat_free(struct fz_hat *fh)
{
	ht_hat_close(&fh->h);
	free(fh->b.e);
	memset(fh, 0, sizeof(*fh));
	fh->h.fd = -1;
}

/* The shared table of @fh that covers @va, or NULL. */
static struct fz_share *fz_shared(struct fz_hat *fh, __u64 va)
{
	__u64 r = va & ~(HT_SZ_2M - 1);

	for (int i = 0; i < fh->nsh; i++)
		if (fh->sh[i].va == r)
			return &fh->sh[i];
	return NULL;
}

/* Does another hat of @s share hat @hi's table at region @r? */
static int fz_shared_out(struct fz_set *s, int hi, __u64 r)
{
	for (int j = 0; j < FZ_HATS; j++) {
		struct fz_share *sh = j == hi ? NULL : fz_shared(&s->hat[j], r);

		if (sh && sh->owner == hi)
			return 1;
	}
	return 0;
}

static void fz_share_add(struct fz_hat *fh, __u64 va, int owner)
{
	int i = fh->nsh++;

	while (i > 0 && fh->sh[i - 1].va > va) {
		fh->sh[i] = fh->sh[i - 1];
		i--;
	}
	fh->sh[i].va = va;
	fh->sh[i].owner = owner;
}

static void fz_share_del(struct fz_hat *fh, __u64 va)
{
	struct fz_share *sh = fz_shared(fh, va);
	int i = sh - fh->sh;

	memmove(&fh->sh[i], &fh->sh[i + 1], (--fh->nsh - i) * sizeof(*sh));
}

/*
 * The page hat @hi's translation at @va reaches: its own (*@oh = @hi),
 * or the owner's through a shared table; NULL when none (a hole, a stolen
 * translation, or nothing at the owner's).
 */
static struct ht_page *fz_view(struct fz_set *s, int hi, __u64 va, int *oh)
{
	struct fz_share *sh = fz_shared(&s->hat[hi], va);
	struct ht_page *pg;

	*oh = sh ? sh->owner : hi;
	pg = ht_model_find(&s->hat[*oh].h.m, va);
	return pg && !pg->stolen ? pg : NULL;
}

/* ---- checks ----------------------------------------------------------- */

/* ioctl returning 0 or -errno, counted. */
static int fz_ioctl(struct fz_thread *t, int fd, unsigned long cmd, void *arg)
{
	t->ioctls++;
	return ht_ioctl(fd, cmd, arg);
}

/* The result differs from the model's: say so (unless replaying). */
static int fz_bad_ret(struct fz_thread *t, const char *what, int got, int want)
{
	if (got == want)
		return 0;
	fz_log(t, "# %s returned %s, model says %s\n", what,
	       got ? strerror(-got) : "success", want ? strerror(-want) : "success");
	return 1;
}

/* Is every byte of [p, p + n) @b? */
static int fz_all(const void *p, size_t n, int b)
{
	const unsigned char *c = p;

	while (n--)
		if (*c++ != b)
			return 0;
	return 1;
}

/* The tag the page behind @pg holds: pinned memory says it itself. */
static __u64 fz_want_tag(const struct ht_page *pg)
{
	if (pg->bid & FZ_BID_PIN)
		return *(const __u64 *)(uintptr_t)(((pg->bid & FZ_BID_ADDR) << HT_PAGE_SHIFT) +
						   HT_TAG_OFF);
	return pg->tag;
}

/* RW the tag of @pg of hat @fh: it must be the model's. */
static int fz_check_tag(struct fz_thread *t, struct fz_hat *fh, const struct ht_page *pg)
{
	__u64 tag = FZ_POISON64, want = fz_want_tag(pg);
	int ret;

	t->ioctls++;
	ret = ht_tag_read(fh->h.fd, pg->va, &tag);
	fz_stat(t, ST_TAGS, 1);
	if (!ret && tag == want)
		return 0;
	fz_log(t, "# tag of va %#llx (bid %#llx): %s %#llx, model says %#llx\n",
	       pg->va, pg->bid, ret ? strerror(-ret) : "read", tag, want);
	return 1;
}

/* The pfn of the page of bid @bid, for a pinned one: pagemap. 0: unknown. */
static __u64 fz_pin_pfn(struct fz_thread *t, __u64 bid)
{
	return fz_pagemap(t, (bid & FZ_BID_ADDR) << HT_PAGE_SHIFT);
}

/*
 * What the model knows of the pfn of the page @pg of hat @fh: for pinned
 * memory pagemap's; for a fresh page the pfn PROBE showed before, which
 * only other PROBEs are compared with (0 when none was seen).
 */
static __u64 fz_known_pfn(struct fz_thread *t, struct fz_hat *fh, const struct ht_page *pg)
{
	struct fz_bent *e;

	if (pg->bid & FZ_BID_PIN)
		return fz_pin_pfn(t, pg->bid);
	if (pg->bid & FZ_BID_BLOCK) {
		e = fz_bid(&fh->b, pg->bid & ~511ULL, 0);
		return e && e->pfn ? e->pfn + (pg->bid & 511) : 0;
	}
	e = fz_bid(&fh->b, pg->bid, 0);
	return e ? e->pfn : 0;
}

/* Remember the pfn PROBE showed for @pg (the block's base for a 2 MiB page's). */
static void fz_seen_pfn(struct fz_hat *fh, const struct ht_page *pg, __u64 pfn)
{
	struct fz_bent *e;

	if (pg->bid & FZ_BID_PIN)
		return;
	if (pg->bid & FZ_BID_BLOCK) {
		e = fz_bid(&fh->b, pg->bid & ~511ULL, 1);
		pfn -= pg->bid & 511;
	} else {
		e = fz_bid(&fh->b, pg->bid, 1);
	}
	if (e && !e->pfn)
		e->pfn = pfn;
}

/*
 * PROBE @va (any offset) of hat @hi against the model. A hole is all
 * zero but va. A stolen translation is OWNED alone. A page shows its
 * flags, the A and D bits of its entry, its level, a raw entry that
 * agrees, and a pfn: pagemap's for pinned memory; for a fresh page a
 * 2 MiB page's pfns in order, and the pfn PROBE showed before (at this va,
 * an alias or through a sharer). Through a shared table: the owner's
 * page, not OWNED.
 */
static int fz_probe(struct fz_thread *t, struct fz_set *s, int hi, __u64 va)
{
	struct fz_hat *fh = &s->hat[hi];
	struct ht_page *own = ht_model_find(&fh->h.m, va), *pg;
	struct htable_probe p;
	__u64 pfn;
	__u32 want;
	int ret, oh;

	pg = fz_view(s, hi, va, &oh);
	memset(&p, FZ_POISON, sizeof(p));
	p.va = va;
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_PROBE, &p);
	if (fz_bad_ret(t, "PROBE", ret, 0))
		return 1;
	if (p.va != va) {
		fz_log(t, "# PROBE changed va %#llx to %#llx\n", va, p.va);
		return 1;
	}
	if (!pg) {
		want = own ? HTABLE_PROBE_OWNED : 0;
		if (p.flags != want || p.level || p.pfn || p.pte) {
			fz_log(t, "# PROBE %#llx: %s: flags %#x level %u pfn %#llx pte %#llx\n",
			       va, own ? "stolen" : "hole", p.flags, p.level, p.pfn, p.pte);
			return 1;
		}
		return 0;
	}
	want = ht_probe_flags(pg->flags & HT_PG_MAPFLAGS);
	if (oh != hi)
		want &= ~HTABLE_PROBE_OWNED;
	if (pg->ad & HT_AD_A)
		want |= HTABLE_PROBE_ACCESSED;
	if (pg->ad & HT_AD_D)
		want |= HTABLE_PROBE_DIRTY;
	if (t->inject == FZ_INJ_PROBE && t->probing &&
	    (pg->flags & HT_PG_MAPFLAGS) == (HTABLE_MAP_WRITE | HTABLE_MAP_EXEC))
		want &= ~HTABLE_PROBE_EXEC;	/* the deliberate bug */
	if (p.flags != want || p.level != pg->level) {
		fz_log(t, "# PROBE %#llx: flags %#x level %u, model says %#x level %u\n",
		       va, p.flags, p.level, want, pg->level);
		return 1;
	}
	if (ht_probe_selfcheck_level(&p))
		return 1;
	if (pg->bid & FZ_BID_BLOCK && (p.pfn & 511) != (pg->bid & 511)) {
		fz_log(t, "# PROBE %#llx: pfn %#llx is not page %llu of a 2 MiB page\n",
		       va, p.pfn, pg->bid & 511);
		return 1;
	}
	pfn = fz_known_pfn(t, &s->hat[oh], pg);
	if (pg->bid & FZ_BID_PIN)
		fz_stat(t, ST_PFN_PAGEMAP, 1);
	if (pfn && p.pfn != pfn) {
		fz_log(t, "# PROBE %#llx: pfn %#llx, but %s says %#llx\n", va, p.pfn,
		       pg->bid & FZ_BID_PIN ? "pagemap" : "an earlier PROBE", pfn);
		return 1;
	}
	if (!pfn)
		fz_seen_pfn(&s->hat[oh], pg, p.pfn);
	return 0;
}

/* The extra tables of hat @hi: those it shares out, those it shares in. */
static void fz_extra(struct fz_set *s, int hi, struct ht_model_extra *x, __u64 *tab0,
		     __u64 *link0)
{
	size_t n = 0;

	for (int j = 0; j < FZ_HATS; j++) {
		if (j == hi)
			continue;
		for (int k = 0; k < s->hat[j].nsh; k++)
			if (s->hat[j].sh[k].owner == hi)
				tab0[n++] = s->hat[j].sh[k].va;
	}
	/* Sorted, without repeats (several hats may share one table). */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && tab0[k - 1] > tab0[k]; k--) {
			__u64 v = tab0[k];

			tab0[k] = tab0[k - 1];
			tab0[k - 1] = v;
		}
	for (size_t i = 1; i < n; )
		if (tab0[i] == tab0[i - 1])
			memmove(&tab0[i], &tab0[i + 1], (--n - i) * sizeof(*tab0));
		else
			i++;
	for (int k = 0; k < s->hat[hi].nsh; k++)
		link0[k] = s->hat[hi].sh[k].va;
	x->tab0 = tab0;
	x->ntab0 = n;
	x->link0 = link0;
	x->nlink0 = s->hat[hi].nsh;
}

/*
 * INFO against the model, then CHECK against INFO (and, for shared tables,
 * the owner's pages in them); reserved fields zero; stolen as last seen.
 */
static int fz_info_check(struct fz_thread *t, struct fz_set *s, int hi, int check)
{
	__u64 tab0[FZ_SHARES * FZ_HATS], link0[FZ_SHARES];
	struct fz_hat *fh = &s->hat[hi];
	struct htable_info exp, got;
	struct ht_model_extra x;
	struct htable_check c;
	__u64 tables = 0, entries = 0;
	int ret, bad = 0;

	memset(&got, FZ_POISON, sizeof(got));
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_INFO, &got);
	if (fz_bad_ret(t, "INFO", ret, 0))
		return 1;
	fz_extra(s, hi, &x, tab0, link0);
	ht_model_expect_ext(&fh->h.m, fh->h.levels, &x, &exp);
	if (t->quiet) {
		/* ht_info_diff() prints; compare the same fields silently. */
		exp.cached = got.cached;
		exp.live_cpus = got.live_cpus;
		exp.stolen = got.stolen;
		bad = memcmp(&exp, &got, sizeof(exp)) != 0;
	} else {
		bad = ht_info_diff(&exp, &got, 0);
	}
	if (got.live_cpus || got.stolen != fh->stolen || got.cached > 1000) {
		fz_log(t, "# INFO: live_cpus %#llx stolen %llu (was %llu) cached %llu\n",
		       got.live_cpus, got.stolen, fh->stolen, got.cached);
		bad++;
	}
	if (bad || !check)
		return !!bad;
	memset(&c, FZ_POISON, sizeof(c));
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_CHECK, &c);
	if (fz_bad_ret(t, "CHECK", ret, 0))
		return 1;
	for (int l = 0; l < HTABLE_MAX_LEVELS; l++) {
		tables += got.tables[l];
		entries += got.valid[l];
	}
	/* CHECK visits the shared tables too, and the owner's pages in them. */
	for (int k = 0; k < fh->nsh; k++) {
		const struct ht_model *om = &s->hat[fh->sh[k].owner].h.m;
		size_t i = ht_model_lower(om, fh->sh[k].va);

		tables++;
		for (; i < om->n && om->pg[i].va < fh->sh[k].va + HT_SZ_2M; i++)
			entries += !om->pg[i].stolen;
	}
	if (c.errors || c.first_error || c.first_va || c.reserved0 ||
	    c.tables != tables || c.entries != entries) {
		fz_log(t, "# CHECK: %llu errors (first %u at %#llx) reserved0 %#x\n",
		       c.errors, c.first_error, c.first_va, c.reserved0);
		fz_log(t, "# CHECK: %llu tables %llu entries; expected %llu %llu\n",
		       c.tables, c.entries, tables, entries);
		return 1;
	}
	return 0;
}

/*
 * Read back tags: a rotating sample of about @n pages of hat @hi, the
 * first page of each large entry among them.
 */
static int fz_tag_sweep(struct fz_thread *t, struct fz_set *s, int hi, size_t n)
{
	struct fz_hat *fh = &s->hat[hi];
	const struct ht_model *m = &fh->h.m;
	size_t i, step;
	int bad = 0;

	if (!m->n)
		return 0;
	step = m->n / n + 1;
	for (i = fh->sweep++ % step; i < m->n && !bad; i += step)
		bad += fz_check_tag(t, fh, &m->pg[i]);
	return bad;
}

/* ---- MAP ------------------------------------------------------------- */

/* The range rules every va range follows: 0 or the errno. */
static int fz_range_errno(__u64 va, __u64 n, __u64 limit)
{
	if (!n)
		return -EINVAL;
	if (n > HTABLE_MAX_NPAGES)
		return -E2BIG;
	if (va & (HT_PAGE_SIZE - 1))
		return -EINVAL;
	if (va + n * HT_PAGE_SIZE < va)
		return -EOVERFLOW;
	if (va + n * HT_PAGE_SIZE > limit)
		return -ERANGE;
	return 0;
}

/*
 * The pfn of a page of the alias source, to decide whether a large
 * ALIAS finds its runs contiguous: pagemap for pinned memory, else what
 * PROBE showed (the fuzzer PROBEs every fresh page it maps in the large
 * zones, where large ALIASes take their sources). 0: unknown.
 */
static __u64 fz_src_pfn(struct fz_thread *t, struct fz_hat *fh, const struct ht_page *pg)
{
	return fz_known_pfn(t, fh, pg);
}

/*
 * The pages a MAP may take: MemAvailable less the throttle, as the module
 * computes it (si_mem_available()). Only a MAP that allocates thousands
 * of pages is compared with it, so that the two readings agree.
 */
static __u64 fz_pages_available(void)
{
	long long kb = -1, throttle = htable_knob_read(THROTTLE_PATH), pages;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	pages = kb / 4 - (throttle > 0 ? throttle : 0);
	return pages > 0 ? pages : 0;
}

/* Does hat @hi's range [va, va + n pages) meet one of its shared tables? */
static int fz_meets_share(struct fz_hat *fh, __u64 va, __u64 n)
{
	for (int k = 0; k < fh->nsh; k++)
		if (fh->sh[k].va < va + n * HT_PAGE_SIZE && fh->sh[k].va + HT_SZ_2M > va)
			return 1;
	return 0;
}

/*
 * What MAP @op on hat @hi must return, in dev.c's order of checks and
 * then the core's. A conflict comes before any error of the source, over
 * the whole range: a table shared in (EADDRINUSE), then a stolen page
 * anywhere (ENOTEMPTY for a large page, else EEXIST), then the first
 * conflict in va order, which decides between EEXIST, EBUSY and
 * ENOTEMPTY by the level of what maps it; a table this hat shares out is
 * a table a large page would cover (ENOTEMPTY).
 */
static int fz_map_want(struct fz_thread *t, struct fz_set *s, int hi, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[hi];
	struct ht_model *m = &fh->h.m;
	__u32 f = op->flags;
	unsigned int lv = fz_level(f);
	__u64 n = fz_npg(lv), i, base = 0, pfn, cost, first, r;
	__u64 end = op->va + op->npages * HT_PAGE_SIZE;
	int err;
	size_t at;

	if (f & ~HTABLE_MAP_FLAGS)
		return -EINVAL;
	err = fz_range_errno(op->va, op->npages, fh->h.limit);
	if (err)
		return err;
	if ((f & HTABLE_MAP_SIZES) == HTABLE_MAP_SIZES)
		return -EINVAL;
	if (lv == 2 && !t->pdpe1gb)
		return -EOPNOTSUPP;
	if (lv == 2 && !(f & (HTABLE_MAP_PIN | HTABLE_MAP_ALIAS)))
		return -EINVAL;
	if (f & HTABLE_MAP_PIN &&
	    (f & HTABLE_MAP_ALIAS || op->alias_npages || !op->alias_va))
		return -EINVAL;
	if (((op->va >> HT_PAGE_SHIFT) | op->npages) & (n - 1) ||
	    (f & HTABLE_MAP_ALIAS &&
	     ((op->alias_va >> HT_PAGE_SHIFT) | op->alias_npages) & (n - 1)) ||
	    (f & HTABLE_MAP_PIN && op->alias_va & (n * HT_PAGE_SIZE - 1)))
		return -EINVAL;
	if (f & HTABLE_MAP_PIN) {
		/* The source is the caller's memory: no range rules. */
	} else if (f & HTABLE_MAP_ALIAS) {
		if (!op->alias_npages || op->alias_npages > op->npages)
			return -EINVAL;
		err = fz_range_errno(op->alias_va, op->alias_npages, fh->h.limit);
		if (err)
			return err;
	} else if (op->alias_va || op->alias_npages) {
		return -EINVAL;
	}
	/* Fresh pages, and a table per 2 MiB and per level above (dev.c). */
	cost = (f & (HTABLE_MAP_ALIAS | HTABLE_MAP_PIN) ? 0 : op->npages) +
	       (op->npages + NP_2M - 1) / NP_2M + fh->h.levels - 1;
	if (cost > NP_2M * 8 && cost > fz_pages_available())
		return -ENOMEM;
	if (fz_meets_share(fh, op->va, op->npages))
		return -EADDRINUSE;
	at = ht_model_lower(m, op->va);
	for (i = at; i < m->n && m->pg[i].va < end; i++) {
		if (!m->pg[i].stolen)
			continue;
		err = lv ? -ENOTEMPTY : -EEXIST;
		/* Where the page in front of it would have said otherwise. */
		fz_stat(t, ST_STOLEN_FIRST, !m->pg[at].stolen &&
			err != (m->pg[at].level > lv ? -EBUSY :
				m->pg[at].level < lv ? -ENOTEMPTY : -EEXIST));
		return err;
	}
	first = at < m->n && m->pg[at].va < end ? m->pg[at].va : end;
	for (r = op->va; lv && r < first; r += HT_SZ_2M) {
		if (fz_shared_out(s, hi, r)) {
			fz_stat(t, ST_SHARED_OUT_LP, 1);
			return -ENOTEMPTY;
		}
	}
	if (first < end) {
		unsigned int have = m->pg[at].level;

		return have > lv ? -EBUSY : have < lv ? -ENOTEMPTY : -EEXIST;
	}
	if (f & HTABLE_MAP_ALIAS) {
		/* The model's pages are sorted and distinct: a run is consecutive. */
		at = ht_model_lower(m, op->alias_va);
		for (i = 0; i < op->alias_npages; i++, at++) {
			const struct ht_page *pg = &m->pg[at];

			if (at >= m->n || pg->va != op->alias_va + i * HT_PAGE_SIZE)
				return -ENOENT;
			if (!lv)
				continue;
			pfn = fz_src_pfn(t, fh, pg);
			if (!pfn) {
				fz_log(t, "# model: no pfn known for alias source %#llx\n",
				       pg->va);
				return 1;
			}
			if (i % n == 0)
				base = pfn;
			if (pfn != base + i % n)
				return -EINVAL;
			/* A run's alignment is judged after all its pages. */
			if (i % n == n - 1 && (base & (n - 1)))
				return -EINVAL;
		}
	}
	if (f & HTABLE_MAP_PIN) {
		for (i = 0; i < op->npages; i += n) {
			__u64 ua = op->alias_va + i * HT_PAGE_SIZE;

			switch (fz_pool_of(&t->pl, ua)) {
			case 1:
				if (lv)
					return -EINVAL;	/* 4 KiB folios */
				break;
			case 2:
				if (lv == 2 || (lv == 1 && !fz_is_thp(t, ua)))
					return -EINVAL;
				break;
			case 3:
				break;
			default:
				return -EFAULT;	/* read-only, or nothing there */
			}
		}
	}
	return 0;
}

/* The bid of page @i of a PIN map. */
static __u64 fz_pin_bid(const struct fz_op *op, __u64 i)
{
	return FZ_BID_PIN | ((op->alias_va + i * HT_PAGE_SIZE) >> HT_PAGE_SHIFT);
}

/* After a successful MAP: the model's pages, their names and tags. */
static int fz_map_commit(struct fz_thread *t, struct fz_set *s, int hi, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[hi];
	struct ht_model *m = &fh->h.m;
	unsigned int lv = fz_level(op->flags);
	int alias = op->flags & HTABLE_MAP_ALIAS, pin = op->flags & HTABLE_MAP_PIN;
	int large_zone, bad = 0;
	__u64 i, bid0 = 0;
	size_t at;

	if (ht_model_insert(m, op->va, op->npages,
			    op->flags & (HT_PG_MAPFLAGS | HTABLE_MAP_ALIAS),
			    alias ? op->alias_va : 0, alias ? op->alias_npages : 0)) {
		fz_log(t, "# model: cannot insert MAP %#llx x %llu\n", op->va, op->npages);
		return 1;
	}
	if (!alias && !pin && lv) {
		t->next_bid = (t->next_bid + 511) & ~511ULL;
		bid0 = FZ_BID_BLOCK | t->next_bid;
		t->next_bid += op->npages;
	} else if (!alias && !pin) {
		bid0 = t->next_bid;
		t->next_bid += op->npages;
	}
	at = ht_model_lower(m, op->va);
	for (i = 0; i < op->npages; i++) {
		struct ht_page *pg = &m->pg[at + i];

		pg->level = lv;
		if (pin)
			pg->bid = fz_pin_bid(op, i);
		else if (!alias)
			pg->bid = bid0 + i;
	}
	fz_stat(t, lv == 2 ? ST_MAP1G : lv ? ST_MAP2M : ST_MAP4K, 1);
	if (pin)
		fz_stat(t, lv == 2 ? ST_PIN1G : lv ? ST_PIN2M : ST_PIN4K, 1);
	if (alias && lv)
		fz_stat(t, lv == 2 ? ST_ALIAS1G : ST_ALIAS2M, 1);
	large_zone = fz_zone_of(&fh->h, op->va) >= FZ_Z2M;

	/* Fresh pages get their tags: every 4 KiB page, a sample of a 2 MiB one. */
	if (!alias && !pin) {
		for (i = 0; i < op->npages; i++) {
			struct ht_page *pg = &m->pg[at + i];
			__u64 tag, wva = pg->va;
			int ret;

			if (lv && (i % FZ_TAGS_2M) && (i % NP_2M) != NP_2M - 1)
				continue;
			tag = ht_tag_make(t->seed ^ 0x746167, pg->bid);
			/* The deliberate bug: the first two tags swap places. */
			if (t->inject == FZ_INJ_TAG && !lv && op->npages > 1 && i < 2)
				wva = op->va + (1 - i) * HT_PAGE_SIZE;
			t->ioctls++;
			ret = ht_tag_write(fh->h.fd, wva, tag);
			if (fz_bad_ret(t, "RW (tag)", ret, 0))
				return 1;
			pg->tag = tag;
		}
	}
	/*
	 * PROBE what the MAP made: the first and last page, and in the large
	 * zones every fresh 4 KiB page and each fresh large page's first,
	 * whose pfns a large ALIAS of them is judged by.
	 */
	for (i = 0; i < op->npages && !bad; i++) {
		int fresh = !alias && !pin;

		if (i && i != op->npages - 1 &&
		    !(large_zone && fresh && !(i % fz_npg(lv))))
			continue;
		bad += fz_probe(t, s, hi, op->va + i * HT_PAGE_SIZE);
	}
	/* An alias shows its source's tags. */
	for (i = 0; alias && i < op->npages && !bad; i += op->npages / 4 + 1)
		bad += fz_check_tag(t, fh, &m->pg[at + i]);
	if (alias && !bad)
		bad += fz_check_tag(t, fh, &m->pg[at + op->npages - 1]);
	return bad;
}

static int fz_map(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	struct htable_map m = {
		.va = op->va, .npages = op->npages, .flags = op->flags,
		.alias_va = op->alias_va, .alias_npages = op->alias_npages,
		.mapped = FZ_POISON64,
	};
	struct htable_map orig = m;
	int want, ret;

	want = fz_map_want(t, s, op->hat, op);
	if (want == 1)
		return 1;
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_MAP, &m);
	/* The buddy allocator may have no free 2 MiB block: the one unknown. */
	if (ret == -ENOMEM && !want && fz_level(op->flags) == 1 &&
	    !(op->flags & (HTABLE_MAP_ALIAS | HTABLE_MAP_PIN))) {
		fz_stat(t, ST_ENOMEM2M, 1);
		want = -ENOMEM;
	}
	if (fz_bad_ret(t, "MAP", ret, want))
		return 1;
	if (ret && (op->flags & HTABLE_MAP_SIZES || op->flags & HTABLE_MAP_PIN))
		fz_stat(t, ST_LPERR, 1);
	orig.mapped = ret ? FZ_POISON64 : op->npages;
	if (memcmp(&orig, &m, sizeof(m))) {
		fz_log(t, "# MAP: out structure mapped %llu (npages %llu, ret %d)\n",
		       m.mapped, op->npages, ret);
		return 1;
	}
	if (ret)
		return 0;
	return fz_map_commit(t, s, op->hat, op);
}

/* ---- UNMAP, and the splits it makes ------------------------------------ */

/* Split the large pages that cover @edge without starting there. */
static void fz_split_edge(struct fz_thread *t, struct ht_model *m, __u64 edge)
{
	struct ht_page *pg = ht_model_find(m, edge);
	size_t i, first, n;

	while (pg && !pg->stolen && pg->level &&
	       ((edge >> HT_PAGE_SHIFT) & (fz_npg(pg->level) - 1))) {
		i = pg - m->pg;
		first = ht_model_entry(m, i, &n);
		for (i = first; i < first + n; i++)
			m->pg[i].level--;
		fz_stat(t, ST_SPLITS, 1);
	}
}

static int fz_unmap(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	struct htable_unmap u = {
		.va = op->va, .npages = op->npages, .unmapped = FZ_POISON64,
	};
	__u64 end = op->va + op->npages * HT_PAGE_SIZE;
	int want, ret;

	want = fz_range_errno(op->va, op->npages, fh->h.limit);
	if (!want && ht_model_count(&fh->h.m, op->va, op->npages) != op->npages)
		want = -ENOENT;
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_UNMAP, &u);
	if (fz_bad_ret(t, "UNMAP", ret, want))
		return 1;
	if (u.unmapped != (ret ? FZ_POISON64 : op->npages) || u.va != op->va ||
	    u.npages != op->npages || u.flags || u.reserved0) {
		fz_log(t, "# UNMAP: out structure unmapped %llu\n", u.unmapped);
		return 1;
	}
	if (ret)
		return 0;
	fz_split_edge(t, &fh->h.m, op->va);
	if (end < fh->h.limit)
		fz_split_edge(t, &fh->h.m, end);
	ht_model_remove(&fh->h.m, op->va, op->npages);
	/* What was left of a split page is still there, with its data. */
	if (op->va && ht_model_find(&fh->h.m, op->va - HT_PAGE_SIZE))
		return fz_probe(t, s, op->hat, op->va - HT_PAGE_SIZE);
	return 0;
}

/* ---- RW ----------------------------------------------------------------- */

/*
 * RW: write a few bytes into an owned page and read them back; then its
 * tag. Never word 0, 1, 257 or 511: the tag and the verify words are the
 * model's. A pinned page shows the bytes in the thread's own memory too.
 */
static int fz_rw(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	unsigned int off = 16 + (op->arg & 0x7ff), len = 1 + ((op->arg >> 12) & 0xff);
	const struct ht_page *pg = ht_model_find(&fh->h.m, op->va);
	unsigned char buf[256], back[256];
	struct htable_rw rw;
	int want, ret;

	/* Into [16, 2056) or [2064, 4088). */
	if (off + len > 2056) {
		off += 2064 - 16;
		if (off + len > 4088)
			off = 4088 - len;
	}
	memset(buf, (op->arg >> 24) & 0xff, sizeof(buf));
	want = pg ? 0 : -ENOENT;
	rw = (struct htable_rw){ .va = op->va + off, .buf = (uintptr_t)buf,
				 .len = len, .flags = HTABLE_RW_WRITE };
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_RW, &rw);
	if (fz_bad_ret(t, "RW write", ret, want))
		return 1;
	memset(back, ~buf[0], sizeof(back));
	rw.buf = (uintptr_t)back;
	rw.flags = 0;
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_RW, &rw);
	if (fz_bad_ret(t, "RW read", ret, want))
		return 1;
	if (!ret && memcmp(buf, back, len)) {
		fz_log(t, "# RW %#llx: read back differs from what was written\n", rw.va);
		return 1;
	}
	if (!fz_all(back + len, sizeof(back) - len, (unsigned char)~buf[0])) {
		fz_log(t, "# RW %#llx: read wrote past len %u\n", rw.va, len);
		return 1;
	}
	if (ret)
		return 0;
	if (pg->bid & FZ_BID_PIN &&
	    !fz_all((char *)(uintptr_t)((pg->bid & FZ_BID_ADDR) << HT_PAGE_SHIFT) + off,
		    len, buf[0])) {
		fz_log(t, "# RW %#llx: the pinned memory does not show the write\n", rw.va);
		return 1;
	}
	return fz_check_tag(t, fh, pg);
}

/* ---- RUN: the window, simulated ---------------------------------------- */

/* A backing page's verify words during one simulated window. */
struct fz_wstate {
	int hat;		/* whose model names it (fresh pages) */
	__u64 bid;
	int known;		/* holds the pattern of seed... */
	__u64 seed;
	int touched;		/* this window wrote it */
};

struct fz_wsim {
	struct fz_wstate w[64];
	int n;
};

/* The state of bid @bid of hat @hi's model, at the window's start. */
static struct fz_wstate *fz_wstate(struct fz_thread *t, struct fz_set *s, struct fz_wsim *ws,
				   int hi, __u64 bid)
{
	struct fz_wstate *st;
	struct fz_bent *e;
	__u64 pfn;
	int k;

	for (k = 0; k < ws->n; k++)
		if (ws->w[k].bid == bid && (bid & FZ_BID_PIN || ws->w[k].hat == hi))
			return &ws->w[k];
	st = &ws->w[ws->n++];
	memset(st, 0, sizeof(*st));
	st->hat = hi;
	st->bid = bid;
	if (bid & FZ_BID_PIN) {
		/* The memory itself says which pattern it holds, if any. */
		const __u64 *mem = (const __u64 *)(uintptr_t)((bid & FZ_BID_ADDR) <<
							      HT_PAGE_SHIFT);

		pfn = fz_pin_pfn(t, bid);
		st->seed = mem[0] ^ (pfn << 16);
		st->known = pfn && mem[257] == fz_pattern(st->seed, pfn, 257) &&
			    mem[511] == fz_pattern(st->seed, pfn, 511);
		return st;
	}
	e = fz_bid(&s->hat[hi].b, bid, 0);
	if (e && e->has_pat) {
		st->known = 1;
		st->seed = e->pat;
	}
	return st;
}

/* Set the A (and with @dirty D) bit of the entry that maps m->pg[@i]. */
static void fz_set_ad(struct ht_model *m, size_t i, int dirty)
{
	size_t n, k, first = ht_model_entry(m, i, &n);
	__u8 ad = HT_AD_A | (dirty ? HT_AD_D : 0);

	if ((m->pg[first].ad & ad) == ad)
		return;
	for (k = first; k < first + n; k++)
		m->pg[k].ad |= ad;
}

/*
 * A verify window on hat @hi over @op's range: the pattern of @op's seed
 * goes into every page the hat owns there (stolen ones too), then page
 * by page in va order: no translation faults; a page whose words hold the
 * pattern (or with WRITE the second one, ~seed, of an alias written
 * earlier) verifies, its entry gets A, and with WRITE on a writable entry
 * the second pattern and D; any other page is a mismatch, read all the
 * same (A). A page through a shared table is the owner's, not written
 * first: it holds what the owner's windows left.
 */
static int fz_window(struct fz_thread *t, struct fz_set *s, int hi, __u32 cpu, __u64 va,
		     __u64 npages, __u32 flags, __u64 seed)
{
	struct fz_hat *fh = &s->hat[hi];
	__u64 verified = 0, mism = 0, faults = 0, ffault = 0, fmism = 0, i;
	struct fz_wsim ws = { .n = 0 };
	struct htable_run r;
	int ret, k, bad = 0, shared = 0;

	/*
	 * The pre-write: every page the hat maps in the range (not those of
	 * a table shared in, nor a stolen translation's page).
	 */
	for (i = 0; i < npages; i++) {
		struct ht_page *pg = ht_model_find(&fh->h.m, va + i * HT_PAGE_SIZE);
		struct fz_wstate *st;

		if (!pg || pg->stolen)
			continue;
		st = fz_wstate(t, s, &ws, hi, pg->bid);
		st->known = 1;
		st->seed = seed;
		st->touched = 1;
	}
	for (i = 0; i < npages; i++) {
		__u64 pva = va + i * HT_PAGE_SIZE;
		struct ht_page *pg;
		struct fz_wstate *st;
		int oh, ok;

		pg = fz_view(s, hi, pva, &oh);
		if (!pg) {
			if (!faults++)
				ffault = pva;
			continue;
		}
		shared += oh != hi;
		st = fz_wstate(t, s, &ws, oh, pg->bid);
		ok = st->known && (st->seed == seed ||
				   (flags & HTABLE_RUN_WRITE && st->seed == ~seed));
		fz_set_ad(&s->hat[oh].h.m, pg - s->hat[oh].h.m.pg, 0);
		if (!ok) {
			if (!mism++)
				fmism = pva;
			continue;
		}
		verified++;
		if (flags & HTABLE_RUN_WRITE && pg->flags & HTABLE_MAP_WRITE) {
			st->seed = ~seed;
			st->touched = 1;
			fz_set_ad(&s->hat[oh].h.m, pg - s->hat[oh].h.m.pg, 1);
		}
	}
	memset(&r, FZ_POISON, sizeof(r));
	r.cpu = cpu;
	r.mode = HTABLE_RUN_VERIFY;
	r.va = va;
	r.npages = npages;
	r.flags = flags;
	r.duration_ms = 0;
	r.seed = seed;
	r.samples = 0;
	r.max_samples = 0;
	r.reserved = 0;
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_RUN, &r);
	if (fz_bad_ret(t, "RUN", ret, 0))
		return 1;
	if (shared)
		fz_stat(t, ST_WINDOW_SHARED, 1);
	if (r.verified != verified || r.mismatches != mism || r.faults != faults ||
	    r.first_fault_va != ffault || r.first_mismatch_va != fmism ||
	    r.nsamples || r.reads || r.valid_reads || r.watchdog || r.reserved ||
	    r.clobbers || r.elapsed_ns == FZ_POISON64 || r.cpu != cpu ||
	    r.va != va || r.npages != npages || r.seed != seed) {
		fz_log(t, "# RUN %#llx x %llu flags %#x: verified %llu\n", va, npages, flags,
		       r.verified);
		fz_log(t, "# RUN: bad %llu (%#llx) faults %llu (%#llx)\n", r.mismatches,
		       r.first_mismatch_va, r.faults, r.first_fault_va);
		fz_log(t, "# RUN: model: verified %llu bad %llu (%#llx) faults %llu (%#llx)\n",
		       verified, mism, fmism, faults, ffault);
		fz_log(t, "# RUN: nsamples %u reads %llu watchdog %u reserved %#x\n",
		       r.nsamples, r.reads, r.watchdog, r.reserved);
		return 1;
	}
	/* What the window wrote: the model's patterns; pinned memory shows them. */
	for (k = 0; k < ws.n && !bad; k++) {
		struct fz_wstate *st = &ws.w[k];
		struct fz_bent *e;

		if (!st->touched)
			continue;
		if (st->bid & FZ_BID_PIN) {
			const __u64 *mem = (const __u64 *)(uintptr_t)((st->bid & FZ_BID_ADDR) <<
								      HT_PAGE_SHIFT);
			__u64 pfn = fz_pin_pfn(t, st->bid);

			for (unsigned int w = 0; w < ARRAY_SIZE(fz_pat_word); w++) {
				if (mem[fz_pat_word[w]] == fz_pattern(st->seed, pfn,
								      fz_pat_word[w]))
					continue;
				fz_log(t, "# RUN: pinned memory %#llx word %u: %#llx\n",
				       (st->bid & FZ_BID_ADDR) << HT_PAGE_SHIFT,
				       fz_pat_word[w], mem[fz_pat_word[w]]);
				fz_log(t, "# RUN: not the pattern of pfn %#llx\n", pfn);
				bad++;
				break;
			}
			continue;
		}
		e = fz_bid(&s->hat[st->hat].b, st->bid, 1);
		if (!e)
			return bad + 1;
		e->pat = st->seed;
		e->has_pat = 1;
	}
	return bad;
}

static int fz_run(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	return fz_window(t, s, op->hat, op->owner % t->ncpus, op->va, op->npages,
			 op->flags & HTABLE_RUN_WRITE, op->arg);
}

/* ---- SYNC, RELOAD ------------------------------------------------------ */

/*
 * SYNC of hat @hi: its own present entries in the range (not those of a
 * shared table), each 4 KiB page in the range counted with the bits of
 * its entry; with CLEAR every entry that meets the range loses them.
 */
static int fz_sync_range(struct fz_thread *t, struct fz_set *s, int hi, __u64 va, __u64 n,
			 __u32 flags)
{
	struct fz_hat *fh = &s->hat[hi];
	struct ht_model *m = &fh->h.m;
	struct htable_sync sy = {
		.va = va, .npages = n, .flags = flags,
		.referenced = FZ_POISON64, .modified = FZ_POISON64,
	};
	__u64 ref = 0, mod = 0, end = va + n * HT_PAGE_SIZE;
	size_t i, lo = ht_model_lower(m, va);
	int ret;

	/* A stolen translation's record keeps its bits: they count too. */
	for (i = lo; i < m->n && m->pg[i].va < end; i++) {
		ref += !!(m->pg[i].ad & HT_AD_A);
		mod += !!(m->pg[i].ad & HT_AD_D);
	}
	if (t->inject == FZ_INJ_SYNC)
		mod = 0;	/* the deliberate bug: the model forgets D */
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_SYNC, &sy);
	if (fz_bad_ret(t, "SYNC", ret, 0))
		return 1;
	if (sy.referenced != ref || sy.modified != mod || sy.reserved0 ||
	    sy.va != va || sy.npages != n || sy.flags != flags) {
		fz_log(t, "# SYNC %#llx x %llu: referenced %llu modified %llu\n",
		       va, n, sy.referenced, sy.modified);
		fz_log(t, "# SYNC: the model says %llu %llu\n", ref, mod);
		return 1;
	}
	if (ref || mod)
		fz_stat(t, ST_SYNC_EXACT, 1);
	if (!(flags & HTABLE_SYNC_CLEAR))
		return 0;
	/* Every entry that meets the range, whole. */
	for (i = lo; i < m->n && m->pg[i].va < end; ) {
		size_t k, cnt, first = ht_model_entry(m, i, &cnt);

		for (k = first; k < first + cnt; k++)
			m->pg[k].ad = 0;
		i = first + cnt;
	}
	return 0;
}

static int fz_sync(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	return fz_sync_range(t, s, op->hat, op->va, op->npages, op->flags & HTABLE_SYNC_CLEAR);
}

/*
 * SYNC with exact expectations where the test made every access: clear
 * the range, run one window over part of it, SYNC again: exactly the
 * pages that window read (and wrote) count, once per 4 KiB page of a
 * large entry in the range.
 */
static int fz_adsync(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	int bad = fz_sync_range(t, s, op->hat, op->va, op->npages, HTABLE_SYNC_CLEAR);

	if (!bad)
		bad = fz_window(t, s, op->hat, op->owner % t->ncpus, op->alias_va,
				op->alias_npages, op->flags & HTABLE_RUN_WRITE, op->arg);
	if (!bad)
		bad = fz_sync_range(t, s, op->hat, op->va, op->npages, 0);
	return bad;
}

/* RELOAD: the model's stolen pages in the range come back, A and D as they were. */
static int fz_reload(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	struct ht_model *m = &fh->h.m;
	struct htable_reload r = {
		.va = op->va, .npages = op->npages, .reloaded = FZ_POISON64,
	};
	__u64 end = op->va + op->npages * HT_PAGE_SIZE, want = 0, first = 0;
	size_t i, lo = ht_model_lower(m, op->va);
	int ret, err = fz_range_errno(op->va, op->npages, fh->h.limit);

	for (i = lo; i < m->n && m->pg[i].va < end; i++)
		if (m->pg[i].stolen && !want++)
			first = m->pg[i].va;
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_RELOAD, &r);
	if (fz_bad_ret(t, "RELOAD", ret, err))
		return 1;
	if (ret)
		return r.reloaded != FZ_POISON64;	/* nothing copied back */
	if (r.reloaded != want || r.va != op->va || r.npages != op->npages ||
	    r.flags || r.reserved0) {
		fz_log(t, "# RELOAD %#llx x %llu: reloaded %llu, model has %llu stolen\n",
		       op->va, op->npages, r.reloaded, want);
		return 1;
	}
	/* The entries come back as they were, A and D included. */
	for (i = lo; i < m->n && m->pg[i].va < end; i++)
		m->pg[i].stolen = 0;
	fz_stat(t, ST_RELOADED, want);
	if (!want)
		return 0;
	/* The same page, the same flags, the same data. */
	return fz_probe(t, s, op->hat, first) ||
	       fz_check_tag(t, fh, ht_model_find(m, first));
}

/* ---- SHARE, UNSHARE ---------------------------------------------------- */

static int fz_share_want(struct fz_thread *t, struct fz_set *s, int hi, int oi, __u64 va,
			 __u64 n)
{
	struct fz_hat *fh = &s->hat[hi], *oh = &s->hat[oi];
	int err = fz_range_errno(va, n, fh->h.limit);
	__u64 r;

	if (err)
		return err;
	if (((va >> HT_PAGE_SHIFT) | n) & (NP_2M - 1))
		return -EINVAL;
	if (hi == oi)
		return -EINVAL;
	for (r = va; r < va + n * HT_PAGE_SIZE; r += HT_SZ_2M) {
		struct ht_page *opg = ht_model_find(&oh->h.m, r);

		if (fz_shared(oh, r))
			return -EINVAL;	/* the owner shares it from a third */
		if (opg && !opg->stolen && opg->level)
			return -EBUSY;
		if (fz_shared(fh, r) || ht_model_count(&fh->h.m, r, NP_2M))
			return -EEXIST;
		if (fz_shared_out(s, hi, r))
			return -EEXIST;	/* its own table there, kept for a sharer */
	}
	return 0;
}

static int fz_share(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	int oi = op->owner % FZ_HATS, want, ret, bad = 0;
	struct htable_share sh = {
		.owner_fd = s->hat[oi].h.fd, .va = op->va, .npages = op->npages,
		.tables = FZ_POISON64,
	};
	__u64 r;

	want = fz_share_want(t, s, op->hat, oi, op->va, op->npages);
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_SHARE, &sh);
	if (fz_bad_ret(t, "SHARE", ret, want))
		return 1;
	if (sh.tables != (ret ? FZ_POISON64 : op->npages / NP_2M) || sh.flags ||
	    sh.va != op->va || sh.npages != op->npages) {
		fz_log(t, "# SHARE: out structure tables %llu\n", sh.tables);
		return 1;
	}
	if (ret)
		return 0;
	if (fh->nsh + op->npages / NP_2M > FZ_SHARES) {
		fz_log(t, "# model: more than %d shared tables\n", FZ_SHARES);
		return 1;
	}
	for (r = op->va; r < op->va + op->npages * HT_PAGE_SIZE; r += HT_SZ_2M)
		fz_share_add(fh, r, oi);
	fz_stat(t, ST_SHARES, op->npages / NP_2M);
	fz_stat(t, ST_SHARER_PAGES, ht_model_count(&s->hat[oi].h.m, op->va, op->npages));
	/* The sharer sees the owner's first page there, as the owner does. */
	r = ht_model_lower(&s->hat[oi].h.m, op->va);
	if (r < s->hat[oi].h.m.n &&
	    s->hat[oi].h.m.pg[r].va < op->va + op->npages * HT_PAGE_SIZE) {
		bad += fz_probe(t, s, oi, s->hat[oi].h.m.pg[r].va);
		bad += fz_probe(t, s, op->hat, s->hat[oi].h.m.pg[r].va);
	}
	return bad;
}

static int fz_unshare_one(struct fz_thread *t, struct fz_set *s, int hi, __u64 va, __u64 n)
{
	struct fz_hat *fh = &s->hat[hi];
	struct htable_share sh = { .va = va, .npages = n, .tables = FZ_POISON64 };
	int want, ret;
	__u64 r;

	want = fz_range_errno(va, n, fh->h.limit);
	if (!want && ((va >> HT_PAGE_SHIFT) | n) & (NP_2M - 1))
		want = -EINVAL;
	for (r = va; !want && r < va + n * HT_PAGE_SIZE; r += HT_SZ_2M)
		if (!fz_shared(fh, r))
			want = -ENOENT;
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_UNSHARE, &sh);
	if (fz_bad_ret(t, "UNSHARE", ret, want))
		return 1;
	if (sh.tables != (ret ? FZ_POISON64 : n / NP_2M) || sh.owner_fd || sh.flags) {
		fz_log(t, "# UNSHARE: out structure tables %llu\n", sh.tables);
		return 1;
	}
	if (ret)
		return 0;
	for (r = va; r < va + n * HT_PAGE_SIZE; r += HT_SZ_2M)
		fz_share_del(fh, r);
	fz_stat(t, ST_UNSHARES, n / NP_2M);
	/* Nothing there now: a hole. */
	return fz_probe(t, s, hi, va + (n - 1) * HT_PAGE_SIZE);
}

static int fz_unshare(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	return fz_unshare_one(t, s, op->hat, op->va, op->npages);
}

/*
 * CLEAR a range of hat @op->hat: every table shared there, in or out, is
 * unshared, then every run of its pages there unmapped.
 */
static int fz_clear(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	struct ht_model *m = &fh->h.m;
	__u64 end = op->va + op->npages * HT_PAGE_SIZE;
	struct fz_op u = { .kind = FZ_UNMAP, .hat = op->hat };
	int bad = 0, j, k;
	size_t i, e;

	for (j = 0; j < FZ_HATS && !bad; j++) {
		for (k = s->hat[j].nsh - 1; k >= 0 && !bad; k--) {
			struct fz_share *sh = &s->hat[j].sh[k];

			if (sh->va < op->va || sh->va >= end ||
			    (j != op->hat && sh->owner != op->hat))
				continue;
			bad += fz_unshare_one(t, s, j, sh->va, NP_2M);
		}
	}
	while (!bad) {
		i = ht_model_lower(m, op->va);
		if (i >= m->n || m->pg[i].va >= end)
			break;
		for (e = i; e + 1 < m->n && m->pg[e + 1].va == m->pg[e].va + HT_PAGE_SIZE &&
		     m->pg[e + 1].va < end; e++)
			;
		u.va = m->pg[i].va;
		u.npages = e - i + 1;
		bad += fz_unmap(t, s, &u);
	}
	return bad;
}

/* ---- steals ------------------------------------------------------------ */

/*
 * After a steal: find, through PROBE, which leaf tables of hat @hi went.
 * A table goes whole, and never one with a locked entry or one another
 * hat shares; its pages stay the hat's with their data. Then INFO must
 * agree (owned less mapped, stolen grown by at least the tables).
 */
static int fz_after_steal(struct fz_thread *t, struct fz_set *s, int hi)
{
	struct fz_hat *fh = &s->hat[hi];
	struct ht_model *m = &fh->h.m;
	struct htable_info info;
	__u64 tables = 0;
	size_t i = 0, j, first, last;
	int bad = 0, ret;

	while (i < m->n && !bad) {
		__u64 r = m->pg[i].va & ~(HT_SZ_2M - 1);
		int locked = 0, stolen;
		struct htable_probe p;

		/* The present 4 KiB pages of region r: one leaf table. */
		first = m->n;
		last = m->n;
		for (j = i; j < m->n && m->pg[j].va < r + HT_SZ_2M; j++) {
			if (m->pg[j].stolen || m->pg[j].level)
				continue;
			if (first == m->n)
				first = j;
			last = j;
			locked |= !!(m->pg[j].flags & HTABLE_MAP_LOCK);
		}
		i = j;
		if (first == m->n)
			continue;
		ret = ht_probe(fh->h.fd, m->pg[first].va, &p);
		t->ioctls++;
		if (ret) {
			fz_log(t, "# PROBE after a steal: %s\n", strerror(-ret));
			return 1;
		}
		stolen = p.flags == HTABLE_PROBE_OWNED;
		if (stolen && (locked || fz_shared_out(s, hi, r))) {
			fz_log(t, "# steal took the table at %#llx: %s\n", r,
			       locked ? "it has a locked entry" : "another hat shares it");
			return 1;
		}
		if (stolen) {
			for (j = first; j <= last; j++) {
				if (m->pg[j].level)
					continue;
				m->pg[j].stolen = 1;
			}
			tables++;
			bad += fz_check_tag(t, fh, &m->pg[first]);
		}
		/* The whole table, or none of it. */
		bad += fz_probe(t, s, hi, m->pg[first].va);
		bad += fz_probe(t, s, hi, m->pg[last].va);
	}
	if (bad)
		return bad;
	memset(&info, FZ_POISON, sizeof(info));
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_INFO, &info);
	if (fz_bad_ret(t, "INFO", ret, 0))
		return 1;
	if (info.stolen < fh->stolen + tables) {
		fz_log(t, "# INFO: stolen %llu, was %llu, and %llu tables went\n",
		       info.stolen, fh->stolen, tables);
		return 1;
	}
	fh->stolen = info.stolen;
	fz_stat(t, ST_STOLEN_TABLES, tables);
	return fz_info_check(t, s, hi, 1);
}

/* Catch up with the steals of any thread since the set last looked. */
static int fz_catch_up(struct fz_thread *t, struct fz_set *s)
{
	__u64 epoch = __atomic_load_n(&t->g->epoch, __ATOMIC_ACQUIRE);
	int bad = 0;

	if (s->epoch == epoch)
		return 0;
	for (int i = 0; i < FZ_HATS && !bad; i++)
		if (s->hat[i].h.fd >= 0)
			bad += fz_after_steal(t, s, i);
	s->epoch = epoch;
	return bad;
}

/*
 * STEAL: with every other thread stopped between operations, make the
 * module take tables: a reap, or force_steal while a hat of no model
 * maps 4 pages a GiB apart (8 tables). Every hat of every thread may
 * lose some.
 */
static int fz_steal(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	double t0 = ht_now(), t1, t2;
	int err = 0, fd, i, bad;

	pthread_rwlock_unlock(&t->g->lock);
	pthread_rwlock_wrlock(&t->g->lock);
	t1 = ht_now();
	if (op->arg & 1) {
		for (i = 0; i < 3 && !err; i++)
			err = htable_knob_write(REAP_PATH, 0);
	} else {
		err = htable_knob_write(HTABLE_FORCE_STEAL_PATH, 1);
		fd = htable_open_dev();
		/* Each page in a GiB of its own: two tables, two steals. */
		for (i = 0; i < 4 && fd >= 0 && !err; i++)
			err = ht_map(fd, (__u64)(i + 1) * HT_SZ_1G + i * HT_SZ_2M, 1, 0);
		if (fd >= 0)
			close(fd);
		if (!err)
			err = htable_knob_write(HTABLE_FORCE_STEAL_PATH, 0);
		else
			htable_knob_write(HTABLE_FORCE_STEAL_PATH, 0);
	}
	__atomic_add_fetch(&t->g->epoch, 1, __ATOMIC_RELEASE);
	t2 = ht_now();
	pthread_rwlock_unlock(&t->g->lock);
	pthread_rwlock_rdlock(&t->g->lock);
	fz_stat(t, ST_STEALS, 1);
	if (fz_bad_ret(t, "steal knob", err, 0))
		return 1;
	bad = fz_catch_up(t, s);
	fz_log(t, "# steal by %d.%d (%s): %.1f s to stop the others, %.1f s to steal,\n",
	       t->proc, t->thr, op->arg & 1 ? "reap" : "force_steal", t1 - t0, t2 - t1);
	fz_log(t, "# steal by %d.%d: %.1f s to check its hats\n", t->proc, t->thr, ht_now() - t2);
	return bad;
}

/* ---- VERSION, REOPEN, bad requests ------------------------------------- */

static int fz_version(struct fz_thread *t, struct fz_hat *fh)
{
	struct htable_version v;
	int ret;

	memset(&v, FZ_POISON, sizeof(v));
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_VERSION, &v);
	if (fz_bad_ret(t, "VERSION", ret, 0))
		return 1;
	if (v.major != HTABLE_ABI_MAJOR || v.minor != HTABLE_ABI_MINOR ||
	    v.levels != (__u32)fh->h.levels || v.page_shift != HT_PAGE_SHIFT ||
	    v.reserved[0] || v.reserved[1]) {
		fz_log(t, "# VERSION: %u.%u levels %u shift %u reserved %#llx %#llx\n",
		       v.major, v.minor, v.levels, v.page_shift, v.reserved[0],
		       v.reserved[1]);
		return 1;
	}
	return 0;
}

/*
 * Close hat @hi (after checking it) and open a fresh one. Its sharers
 * lose its tables: what they showed there is gone.
 */
static int fz_reopen(struct fz_thread *t, struct fz_set *s, int hi, __u64 arg)
{
	__u64 lost[FZ_SHARES * FZ_HATS];
	int nlost = 0, who[FZ_SHARES * FZ_HATS], bad;

	bad = fz_info_check(t, s, hi, 1) + fz_tag_sweep(t, s, hi, 32);
	if (bad)
		return bad;
	for (int j = 0; j < FZ_HATS; j++) {
		struct fz_hat *fj = &s->hat[j];

		for (int k = fj->nsh - 1; k >= 0 && j != hi; k--) {
			if (fj->sh[k].owner != hi)
				continue;
			who[nlost] = j;
			lost[nlost++] = fj->sh[k].va;
			fz_share_del(fj, fj->sh[k].va);
		}
	}
	fz_hat_free(&s->hat[hi]);
	if (fz_hat_open(&s->hat[hi])) {
		fz_log(t, "# cannot open a hat: %s\n", strerror(errno));
		return 1;
	}
	for (int k = 0; k < nlost && !bad; k++)
		bad += fz_probe(t, s, who[k], lost[k] + (arg >> k % 32) % NP_2M * HT_PAGE_SIZE);
	return bad;
}

/*
 * A bad request: it must fail with the errno the ABI gives, and leave
 * the caller's structure exactly as it was (nothing copied back).
 */
static int fz_bad(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	union {
		struct htable_map m;
		struct htable_unmap u;
		struct htable_probe p;
		struct htable_rw rw;
		struct htable_run r;
		struct htable_sync s;
		struct htable_reload rl;
		struct htable_share sh;
	} a, orig;
	unsigned long cmd;
	unsigned char buf[16];
	int want = -EINVAL, ret;
	void *arg = &a;

	memset(&a, 0, sizeof(a));
	switch (op->bad) {
	case BAD_IOCTL:
		cmd = _IOWR(HTABLE_IOC_MAGIC, 0x40 + (op->arg & 0x3f), struct htable_map);
		want = -ENOTTY;
		break;
	case BAD_MAP_RESERVED:
	case BAD_MAP_FLAGS:
	case BAD_MAP_ZERO:
	case BAD_MAP_HUGE:
	case BAD_MAP_UNALIGNED:
	case BAD_MAP_RANGE:
	case BAD_MAP_WRAP:
	case BAD_MAP_ALIASFIELDS:
	case BAD_MAP_ALIASLEN:
	case BAD_MAP_NULL:
	case BAD_MAP_SIZES:
	case BAD_MAP_1G_FRESH:
	case BAD_MAP_LP_ALIGN:
	case BAD_MAP_PIN_FIELDS:
		cmd = HTABLE_IOC_MAP;
		a.m.va = op->va;
		a.m.npages = op->npages;
		a.m.flags = op->flags & HT_PG_MAPFLAGS;
		a.m.mapped = FZ_POISON64;
		if (op->bad == BAD_MAP_RESERVED) {
			a.m.reserved0 = 1 | op->arg;
		} else if (op->bad == BAD_MAP_FLAGS) {
			/* Bits outside HTABLE_MAP_FLAGS: 0x80 and up. */
			a.m.flags |= 0x80U << (op->arg % 25);
		} else if (op->bad == BAD_MAP_ZERO) {
			a.m.npages = 0;
		} else if (op->bad == BAD_MAP_HUGE) {
			/* 2^63, 2^64-1, or just past the limit. */
			a.m.npages = op->arg % 3 == 0 ? 1ULL << 63 : op->arg % 3 == 1 ?
				     ~0ULL : HTABLE_MAX_NPAGES + 1 + (op->arg >> 40);
			want = -E2BIG;
		} else if (op->bad == BAD_MAP_UNALIGNED) {
			a.m.va += 1 + op->arg % (HT_PAGE_SIZE - 1);
		} else if (op->bad == BAD_MAP_RANGE) {
			a.m.va = fh->h.limit - HT_PAGE_SIZE * (op->arg % 4);
			a.m.npages = 5;
			want = -ERANGE;
		} else if (op->bad == BAD_MAP_WRAP) {
			a.m.va = -(HT_PAGE_SIZE * (1 + op->arg % 4));
			a.m.npages = 5;
			want = -EOVERFLOW;
		} else if (op->bad == BAD_MAP_ALIASFIELDS) {
			a.m.alias_va = op->va;
			a.m.alias_npages = 1;
		} else if (op->bad == BAD_MAP_ALIASLEN) {
			a.m.flags |= HTABLE_MAP_ALIAS;
			a.m.alias_va = op->va;
			a.m.alias_npages = op->arg & 1 ? 0 : op->npages + 1;
		} else if (op->bad == BAD_MAP_SIZES) {
			a.m.flags |= HTABLE_MAP_SIZES;
		} else if (op->bad == BAD_MAP_1G_FRESH) {
			a.m.flags |= HTABLE_MAP_1G;
			a.m.va = 16 * HT_SZ_1G;
			a.m.npages = NP_1G;
			if (!t->pdpe1gb)
				want = -EOPNOTSUPP;
		} else if (op->bad == BAD_MAP_LP_ALIGN) {
			/* 2 MiB pages at an unaligned va, or an odd count. */
			a.m.flags |= HTABLE_MAP_2M;
			a.m.va = 11 * HT_SZ_1G;
			if (op->arg & 1)
				a.m.va += HT_PAGE_SIZE * (1 + op->arg % 511);
			a.m.npages = op->arg & 1 ? NP_2M : 1 + op->arg % (NP_2M - 1);
		} else if (op->bad == BAD_MAP_PIN_FIELDS) {
			/* PIN with ALIAS, with alias_npages, or with no address. */
			a.m.flags |= HTABLE_MAP_PIN;
			a.m.alias_va = (uintptr_t)t->pl.p4k;
			if (op->arg % 3 == 0)
				a.m.flags |= HTABLE_MAP_ALIAS;
			else if (op->arg % 3 == 1)
				a.m.alias_npages = 1;
			else
				a.m.alias_va = 0;
		} else {
			arg = NULL;
			want = -EFAULT;
		}
		break;
	case BAD_UNMAP_FLAGS:
	case BAD_UNMAP_HUGE:
		cmd = HTABLE_IOC_UNMAP;
		a.u.va = op->va;
		a.u.npages = op->bad == BAD_UNMAP_HUGE ? 1ULL << (40 + op->arg % 24) : op->npages;
		a.u.unmapped = FZ_POISON64;
		if (op->bad == BAD_UNMAP_FLAGS)
			a.u.flags = 1 | op->arg;
		else
			want = -E2BIG;
		break;
	case BAD_PROBE_RANGE:
		cmd = HTABLE_IOC_PROBE;
		a.p.va = fh->h.limit + (op->arg & 0xffffffffff);
		a.p.flags = FZ_POISON;
		want = -ERANGE;
		break;
	case BAD_RW_LEN:
	case BAD_RW_CROSS:
	case BAD_RW_FLAGS:
	case BAD_RW_BUF:
		cmd = HTABLE_IOC_RW;
		a.rw.va = op->va;
		a.rw.buf = (uintptr_t)buf;
		a.rw.len = 8;
		if (op->bad == BAD_RW_LEN) {
			a.rw.len = op->arg & 1 ? 0 : HT_PAGE_SIZE + 1 + (op->arg >> 33);
		} else if (op->bad == BAD_RW_CROSS) {
			a.rw.va += HT_PAGE_SIZE - 4;
		} else if (op->bad == BAD_RW_FLAGS) {
			a.rw.flags = 2 | op->arg;
		} else {
			/* An unmapped user buffer: EFAULT, or ENOENT with no page. */
			a.rw.buf = 8;
			a.rw.flags = op->arg & HTABLE_RW_WRITE;
			want = ht_model_find(&fh->h.m, op->va) ? -EFAULT : -ENOENT;
		}
		break;
	case BAD_RUN_CPU:
	case BAD_RUN_MODE:
	case BAD_RUN_SAMPLES:
	case BAD_RUN_DURATION:
		cmd = HTABLE_IOC_RUN;
		a.r.va = op->va;
		a.r.npages = 1;
		a.r.verified = FZ_POISON64;
		if (op->bad == BAD_RUN_CPU) {
			a.r.cpu = 4096 + (op->arg & 0x7fffffff);
		} else if (op->bad == BAD_RUN_MODE) {
			a.r.mode = 2 + (op->arg & 0xffff);
		} else if (op->bad == BAD_RUN_SAMPLES) {
			/* Absurd sample counts are refused before any allocation. */
			a.r.mode = HTABLE_RUN_RESIDENT;
			a.r.duration_ms = 1;
			a.r.samples = (uintptr_t)buf;
			a.r.max_samples = HTABLE_MAX_SAMPLES + 1 + (op->arg & 0x7fffffff);
		} else {
			a.r.duration_ms = 1 + (op->arg & 0xfff);
		}
		break;
	case BAD_SYNC_FLAGS:
		cmd = HTABLE_IOC_SYNC;
		a.s.va = op->va;
		a.s.npages = op->npages;
		a.s.flags = 2 | op->arg;
		a.s.referenced = FZ_POISON64;
		break;
	case BAD_RELOAD_FLAGS:
		cmd = HTABLE_IOC_RELOAD;
		a.rl.va = op->va;
		a.rl.npages = op->npages;
		a.rl.flags = 1 | op->arg;
		a.rl.reloaded = FZ_POISON64;
		break;
	default:
		/* SHARE and UNSHARE, of a valid 2 MiB range but for the fault. */
		cmd = op->bad == BAD_UNSHARE_FD ? HTABLE_IOC_UNSHARE : HTABLE_IOC_SHARE;
		a.sh.owner_fd = s->hat[(op->hat + 1) % FZ_HATS].h.fd;
		a.sh.va = op->va & ~(HT_SZ_2M - 1);
		a.sh.npages = NP_2M;
		a.sh.tables = FZ_POISON64;
		if (op->bad == BAD_SHARE_FLAGS) {
			a.sh.flags = 1 | op->arg;
		} else if (op->bad == BAD_SHARE_ALIGN) {
			if (op->arg & 1)
				a.sh.va += HT_PAGE_SIZE * (1 + op->arg % 511);
			else
				a.sh.npages = 1 + op->arg % (NP_2M - 1);
		} else if (op->bad == BAD_SHARE_FD) {
			/* No such descriptor: negative, or past any limit. */
			a.sh.owner_fd = op->arg & 1 ? -1 : 1 << 24;
			want = -EBADF;
		} else if (op->bad == BAD_SHARE_NOTDEV) {
			a.sh.owner_fd = t->pagemap;
		} else if (op->bad == BAD_SHARE_SELF) {
			a.sh.owner_fd = fh->h.fd;
		} else {
			a.sh.owner_fd = 1 + (op->arg & 0xff);
		}
		/* The range rules come first (the top region may end past the limit). */
		if (op->bad != BAD_UNSHARE_FD)
			want = fz_range_errno(a.sh.va, a.sh.npages, fh->h.limit) ?: want;
		break;
	}
	orig = a;
	ret = fz_ioctl(t, fh->h.fd, cmd, arg);
	if (fz_bad_ret(t, "bad request", ret, want)) {
		fz_log(t, "# (bad request %u)\n", op->bad);
		return 1;
	}
	if (memcmp(&orig, &a, sizeof(a))) {
		fz_log(t, "# bad request %u: the refused call wrote to its argument\n",
		       op->bad);
		return 1;
	}
	return 0;
}

/* ---- one operation ------------------------------------------------------ */

static int fz_exec(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	int bad;

	t->pm_ok = 0;	/* pagemap can change between operations */
	switch (op->kind) {
	case FZ_VERSION:
		return fz_version(t, fh);
	case FZ_MAP:
		return fz_map(t, s, op);
	case FZ_UNMAP:
		return fz_unmap(t, s, op);
	case FZ_PROBE: {
		struct ht_page *pg = ht_model_find(&fh->h.m, op->va);

		t->probing = 1;
		bad = fz_probe(t, s, op->hat, op->va);
		t->probing = 0;
		/* And what the page holds: its tag, read through RW. */
		if (!bad && pg)
			bad = fz_check_tag(t, fh, pg);
		return bad;
	}
	case FZ_INFO:
		return fz_info_check(t, s, op->hat, 0);
	case FZ_CHECK:
		return fz_info_check(t, s, op->hat, 1);
	case FZ_RW:
		return fz_rw(t, s, op);
	case FZ_RUN:
		return fz_run(t, s, op);
	case FZ_SYNC:
		return fz_sync(t, s, op);
	case FZ_ADSYNC:
		return fz_adsync(t, s, op);
	case FZ_RELOAD:
		return fz_reload(t, s, op);
	case FZ_SHARE:
		return fz_share(t, s, op);
	case FZ_UNSHARE:
		return fz_unshare(t, s, op);
	case FZ_CLEAR:
		return fz_clear(t, s, op);
	case FZ_STEAL:
		return fz_steal(t, s, op);
	case FZ_REOPEN:
		return fz_reopen(t, s, op->hat, op->arg);
	default:
		return fz_bad(t, s, op);
	}
}

/* One operation with the steal lock held for read, after catching up. */
static int fz_step(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	double t0 = ht_now();
	int bad;

	pthread_rwlock_rdlock(&t->g->lock);
	t->t_wait += ht_now() - t0;
	s->used |= 1 << op->hat;
	if (op->kind == FZ_SHARE)
		s->used |= 1 << op->owner % FZ_HATS;
	bad = fz_catch_up(t, s);
	if (!bad)
		bad = fz_exec(t, s, op);
	if (!bad && ++s->hat[op->hat].since_check >= FZ_CHECK_EVERY) {
		s->hat[op->hat].since_check = 0;
		bad = fz_info_check(t, s, op->hat, 1) + fz_tag_sweep(t, s, op->hat, 24);
	}
	pthread_rwlock_unlock(&t->g->lock);
	return bad;
}

/* ---- the generator ------------------------------------------------------ */

/* A random range in zone @z: mostly short, sometimes up to 64 pages. */
static void fz_range(struct fz_thread *t, const struct ht_hat *h, int z, __u64 *va, __u64 *n)
{
	__u64 zva, zn, idx, max, room;

	fz_zone(h, z, &zva, &zn);
	idx = fz_rand(t, zn);
	max = fz_rand(t, 12) ? 8 : 64;
	if (z >= FZ_Z2M && !fz_rand(t, 4))
		max = 1100;	/* across 2 MiB boundaries: splits */
	room = zn - idx;
	*va = zva + idx * HT_PAGE_SIZE;
	*n = 1 + fz_rand(t, max < room ? max : room);
}

/* A range that mostly starts at a mapped page of zone @z, so UNMAP and friends succeed. */
static void fz_range_mapped(struct fz_thread *t, const struct ht_hat *h, int z,
			    __u64 *va, __u64 *n)
{
	const struct ht_model *m = &h->m;
	__u64 zva, zn;
	size_t lo, hi, i, j, cap;

	fz_zone(h, z, &zva, &zn);
	lo = ht_model_lower(m, zva);
	hi = ht_model_lower(m, zva + zn * HT_PAGE_SIZE);
	if (lo == hi || !fz_rand(t, 4)) {
		fz_range(t, h, z, va, n);
		return;
	}
	i = lo + fz_rand(t, hi - lo);
	cap = z >= FZ_Z2M && !fz_rand(t, 3) ? 1100 : 15;
	for (j = i; j + 1 < hi && j - i < cap &&
	     m->pg[j + 1].va == m->pg[j].va + HT_PAGE_SIZE; j++)
		;
	*va = m->pg[i].va;
	*n = 1 + fz_rand(t, j - i + 1);
}

/*
 * A va of hat @hi in a table another hat shares with it: mostly one
 * where the owner maps a page.
 */
static __u64 fz_shared_va(struct fz_thread *t, struct fz_set *s, int hi)
{
	const struct fz_share *sh = &s->hat[hi].sh[fz_rand(t, s->hat[hi].nsh)];
	const struct ht_model *om = &s->hat[sh->owner].h.m;
	size_t lo = ht_model_lower(om, sh->va), n;

	n = ht_model_lower(om, sh->va + HT_SZ_2M) - lo;
	if (!n || !fz_rand(t, 4))
		return sh->va + fz_rand(t, NP_2M) * HT_PAGE_SIZE;
	return om->pg[lo + fz_rand(t, n)].va;
}

/* The va of the @k-th (modulo their number) stolen page of @h: 0 when none. */
static int fz_stolen_va(const struct ht_hat *h, __u64 k, __u64 *va)
{
	size_t i, n = 0;

	for (i = 0; i < h->m.n; i++)
		n += h->m.pg[i].stolen;
	for (i = 0, k %= n ? n : 1; n && i < h->m.n; i++)
		if (h->m.pg[i].stolen && !k--)
			break;
	if (!n)
		return 0;
	*va = h->m.pg[i].va;
	return 1;
}

/* A zone: the 4 KiB ones or the 2 MiB one; in an episode mostly the 1 GiB one. */
static int fz_pick_zone(struct fz_thread *t)
{
	if (t->ep_left && fz_rand(t, 8))
		return FZ_Z1G;
	return fz_rand(t, 3) ? fz_rand(t, 4) : FZ_Z2M;
}

/*
 * A 2 MiB alias source in the zone at @zva: mostly one the model maps
 * whole (a large entry, where the ALIAS can succeed, or 4 KiB pages,
 * where it must find them not contiguous), else any.
 */
static __u64 fz_large_src(struct fz_thread *t, const struct ht_hat *h, __u64 zva, __u64 zn)
{
	__u64 nreg = zn / NP_2M, r0 = fz_rand(t, nreg), r, va;

	for (r = 0; r < nreg && fz_rand(t, 4); r++) {
		va = zva + (r0 + r) % nreg * HT_SZ_2M;
		if (ht_model_count(&h->m, va, NP_2M) == NP_2M)
			return va;
	}
	return zva + r0 * HT_SZ_2M;
}

/* A 2 MiB region of the zone at @zva: mostly one the model has nothing in. */
static __u64 fz_free_region(struct fz_thread *t, const struct ht_hat *h, __u64 zva, __u64 zn)
{
	__u64 nreg = zn / NP_2M, r0 = fz_rand(t, nreg), r, va;

	for (r = 0; r < nreg && fz_rand(t, 4); r++) {
		va = zva + (r0 + r) % nreg * HT_SZ_2M;
		if (!ht_model_count(&h->m, va, NP_2M))
			return va;
	}
	return zva + r0 * HT_SZ_2M;
}

/*
 * A 2 MiB region of the zone at @zva that hat @hi shares out to another
 * hat, picked at random; 0 when there is none.
 */
static __u64 fz_shared_out_region(struct fz_thread *t, struct fz_set *s, int hi,
				  __u64 zva, __u64 zn)
{
	__u64 pick = 0;
	unsigned int seen = 0;

	for (int j = 0; j < FZ_HATS; j++)
		for (int k = 0; k < s->hat[j].nsh && j != hi; k++) {
			const struct fz_share *sh = &s->hat[j].sh[k];

			if (sh->owner != hi || sh->va - zva >= zn * HT_PAGE_SIZE)
				continue;
			if (!fz_rand(t, ++seen))
				pick = sh->va;
		}
	return pick;
}

/* MAP: 4 KiB fresh, ALIAS or PIN; 2 MiB fresh, ALIAS or PIN; 1 GiB PIN or ALIAS. */
static void fz_gen_map(struct fz_thread *t, struct fz_set *s, const struct ht_hat *h, int z,
		       struct fz_op *op)
{
	__u64 k = fz_rand(t, 100), zva, zn, out;

	op->flags &= HT_PG_MAPFLAGS;
	fz_zone(h, z, &zva, &zn);
	if (z < FZ_Z2M || k < 40) {
		fz_range(t, h, z, &op->va, &op->npages);
		k = fz_rand(t, 8);
		if (k < 2) {
			/*
			 * From the same zone: the large zones' pages are those
			 * whose pfns a large ALIAS of them is judged by.
			 */
			op->flags |= HTABLE_MAP_ALIAS;
			fz_range_mapped(t, h, z >= FZ_Z2M || fz_rand(t, 2) ? z : fz_rand(t, 4),
					&op->alias_va, &op->alias_npages);
			if (op->alias_npages > op->npages)
				op->alias_npages = op->npages;
		} else if (k < 3) {
			/* 4 KiB pages of the thread's own memory. */
			op->flags |= HTABLE_MAP_PIN;
			if (op->npages > 16)
				op->npages = 1 + op->npages % 16;
			k = fz_rand(t, 10);
			if (k < 6 || (k < 9 && !t->pl.g1))
				op->alias_va = (uintptr_t)t->pl.p4k +
					       fz_rand(t, FZ_P4K - op->npages + 1) * HT_PAGE_SIZE;
			else if (k < 8)
				op->alias_va = (uintptr_t)t->pl.thp +
					       fz_rand(t, FZ_PTHP * NP_2M - 16) * HT_PAGE_SIZE;
			else if (k < 9)
				op->alias_va = (uintptr_t)t->pl.g1 +
					       fz_rand(t, NP_1G - 16) * HT_PAGE_SIZE;
			else
				op->alias_va = k & 1 ? (uintptr_t)t->pl.ro : (uintptr_t)t->pl.none;
		}
		if (op->npages > 64 && !(op->flags & HTABLE_MAP_ALIAS))
			op->npages = 1 + op->npages % 64;
		return;
	}
	/* Large pages, at aligned vas of the zone. */
	if (z == FZ_Z1G && k < 55) {
		/* At the first slot, which the episode's own 1 GiB page holds: refusals. */
		op->flags |= HTABLE_MAP_1G;
		op->va = zva;
		op->npages = NP_1G;
		if (k < 48 && t->pl.g1) {
			op->flags |= HTABLE_MAP_PIN;
			op->alias_va = (uintptr_t)t->pl.g1;
		} else if (k < 52) {
			op->flags |= HTABLE_MAP_ALIAS;
			op->alias_va = zva + HT_SZ_1G;
			op->alias_npages = NP_1G;
		} else {
			/* Fresh (EINVAL), or PIN of memory that is no 1 GiB page. */
			if (k & 1) {
				op->flags |= HTABLE_MAP_PIN;
				op->alias_va = (uintptr_t)t->pl.none;
			}
		}
		return;
	}
	op->flags |= HTABLE_MAP_2M;
	op->va = fz_free_region(t, h, zva, zn);
	/*
	 * Sometimes over a table this hat shares out: ENOTEMPTY, even where
	 * it maps nothing in it (the shared table stays).
	 */
	out = fz_shared_out_region(t, s, op->hat, zva, zn);
	if (out && !fz_rand(t, 4))
		op->va = out;
	op->npages = NP_2M * (1 + !fz_rand(t, 4));
	if (op->va + op->npages * HT_PAGE_SIZE > zva + zn * HT_PAGE_SIZE)
		op->npages = NP_2M;
	k = fz_rand(t, 10);
	if (k < 4) {
		return;		/* fresh */
	} else if (k < 5) {
		/* 4 KiB aliases of a few pages that fill a 2 MiB region. */
		op->flags &= ~HTABLE_MAP_2M;
		op->flags |= HTABLE_MAP_ALIAS;
		op->npages = NP_2M;
		fz_range_mapped(t, h, z, &op->alias_va, &op->alias_npages);
		if (op->alias_npages > 8)
			op->alias_npages = 8;
	} else if (k < 7) {
		op->flags |= HTABLE_MAP_ALIAS;
		op->alias_va = fz_large_src(t, h, zva, zn);
		op->alias_npages = NP_2M;
	} else {
		op->flags |= HTABLE_MAP_PIN;
		k = fz_rand(t, 8);
		if (k < 5 || (k < 7 && !t->pl.g1))
			op->alias_va = (uintptr_t)t->pl.thp + fz_rand(t, FZ_PTHP) * HT_SZ_2M;
		else if (k < 7)
			op->alias_va = (uintptr_t)t->pl.g1 + fz_rand(t, 8) * HT_SZ_2M;
		else
			op->alias_va = fz_rand(t, 2) ? (uintptr_t)t->pl.p4k : (uintptr_t)t->pl.none;
		if (op->npages > NP_2M && fz_pool_of(&t->pl, op->alias_va + HT_SZ_2M) !=
		    fz_pool_of(&t->pl, op->alias_va))
			op->npages = NP_2M;
	}
}

static void fz_gen(struct fz_thread *t, struct fz_set *s, struct fz_op *op)
{
	__u64 k = fz_rand(t, 10000);
	const struct ht_hat *h;
	int z;

	memset(op, 0, sizeof(*op));
	op->hat = t->ep_left ? t->ep_hat : fz_rand(t, FZ_HATS);
	h = &s->hat[op->hat].h;
	z = fz_pick_zone(t);
	/*
	 * Weights per 10000: MAP/UNMAP/PROBE dominate; windows stay rare
	 * (each is a CR3 switch on another CPU). Steals come at fixed times.
	 */
	op->kind = k < 50 ? FZ_VERSION : k < 2850 ? FZ_MAP : k < 4550 ? FZ_UNMAP :
		   k < 6450 ? FZ_PROBE : k < 6650 ? FZ_INFO : k < 6730 ? FZ_CHECK :
		   k < 7500 ? FZ_RW : k < 7550 ? FZ_RUN : k < 7850 ? FZ_SYNC :
		   k < 7920 ? FZ_ADSYNC : k < 8170 ? FZ_RELOAD : k < 8470 ? FZ_SHARE :
		   k < 8620 ? FZ_UNSHARE : k < 8640 ? FZ_CLEAR : k < 8660 ? FZ_REOPEN :
		   FZ_BAD;
	if (t->ep_left && op->kind == FZ_REOPEN)
		op->kind = FZ_PROBE;
	op->flags = ht_rand(&t->rng);
	op->arg = ht_rand(&t->rng);
	op->owner = fz_rand(t, 256);
	switch (op->kind) {
	case FZ_MAP:
		fz_gen_map(t, s, h, z, op);
		break;
	case FZ_RELOAD:
		fz_range_mapped(t, h, z, &op->va, &op->npages);
		/* Mostly from a page whose translation was stolen. */
		if (fz_rand(t, 4) && fz_stolen_va(h, fz_rand(t, 1 << 30), &op->va))
			op->npages = 1 + fz_rand(t, 64);
		break;
	case FZ_UNMAP:
	case FZ_SYNC:
		fz_range_mapped(t, h, z, &op->va, &op->npages);
		op->flags &= HTABLE_SYNC_CLEAR;
		break;
	case FZ_PROBE:
	case FZ_RW:
		fz_range_mapped(t, h, z, &op->va, &op->npages);
		op->npages = 1;
		if (op->kind == FZ_PROBE)
			op->va += op->arg % HT_PAGE_SIZE;	/* any offset */
		/* Sometimes a page another hat shares with this one. */
		if (s->hat[op->hat].nsh && !fz_rand(t, 4))
			op->va = fz_shared_va(t, s, op->hat) + (op->arg & (HT_PAGE_SIZE - 1)) *
				 (op->kind == FZ_PROBE);
		break;
	case FZ_RUN:
	case FZ_ADSYNC:
		fz_range_mapped(t, h, z, &op->va, &op->npages);
		if (s->hat[op->hat].nsh && !fz_rand(t, 3)) {
			/* Through a shared table: the owner's pages there. */
			op->va = fz_shared_va(t, s, op->hat);
			if (op->va & (HT_SZ_2M - 1))
				op->va -= HT_PAGE_SIZE * fz_rand(t, 2);
			op->npages = 8;
			if ((op->va & (HT_SZ_2M - 1)) > HT_SZ_2M - 8 * HT_PAGE_SIZE)
				op->va = (op->va | (HT_SZ_2M - 1)) + 1 - 8 * HT_PAGE_SIZE;
		}
		if (op->npages > 16)
			op->npages = 16;
		op->flags &= HTABLE_RUN_WRITE;
		/* ADSYNC: SYNC around the window, which covers part of the range. */
		op->alias_va = op->va + fz_rand(t, op->npages) * HT_PAGE_SIZE;
		op->alias_npages = 1 + fz_rand(t, (op->va + op->npages * HT_PAGE_SIZE -
						   op->alias_va) / HT_PAGE_SIZE);
		if (op->kind == FZ_RUN) {
			op->alias_va = 0;
			op->alias_npages = 0;
			if (op->npages > 8)
				op->npages = 8;
		}
		break;
	case FZ_SHARE:
		op->owner = fz_rand(t, FZ_HATS);
		if (t->ep_left) {
			/* Another hat shares from the episode's. */
			op->owner = op->hat;
			op->hat = (op->hat + 1 + fz_rand(t, FZ_HATS - 1)) % FZ_HATS;
		}
		op->va = fz_share_region(t, h, t->ep_left && z == FZ_Z1G);
		op->npages = NP_2M;
		if (!fz_rand(t, 6) && (op->va >> 21) % 2 == 0)
			op->npages = 2 * NP_2M;
		break;
	case FZ_UNSHARE:
		if (s->hat[op->hat].nsh && fz_rand(t, 4))
			op->va = s->hat[op->hat].sh[fz_rand(t, s->hat[op->hat].nsh)].va;
		else
			op->va = fz_share_region(t, h, 0);
		op->npages = NP_2M;
		break;
	case FZ_CLEAR:
		fz_zone(h, z, &op->va, &op->npages);
		break;
	case FZ_REOPEN:
		/* Mostly a hat that others share tables of: they lose them. */
		for (int j = 0; j < FZ_HATS && fz_rand(t, 4); j++)
			if (s->hat[j].nsh && fz_rand(t, 2))
				op->hat = s->hat[j].sh[0].owner;
		break;
	case FZ_BAD:
		op->bad = fz_rand(t, BAD_NR);
		fz_range_mapped(t, h, z, &op->va, &op->npages);
		if (op->npages > 64)
			op->npages = 64;
		break;
	}
}

/*
 * The fixed operations of a 1 GiB episode (@left operations before its
 * end): first a 1 GiB page of the thread's pinned memory at the first
 * slot, then an ALIAS of it at the second, and at the end a CLEAR of the
 * zone, shares and all.
 */
static void fz_gen_episode(struct fz_thread *t, struct fz_set *s, struct fz_op *op, int left)
{
	__u64 zn;

	memset(op, 0, sizeof(*op));
	op->hat = t->ep_hat;
	fz_zone(&s->hat[op->hat].h, FZ_Z1G, &op->va, &zn);
	if (left == 1) {
		op->kind = FZ_CLEAR;
		op->npages = zn;
		return;
	}
	op->kind = FZ_MAP;
	op->flags = (ht_rand(&t->rng) & HT_PG_MAPFLAGS) | HTABLE_MAP_1G;
	op->npages = NP_1G;
	if (left == FZ_EP_OPS - 1) {
		op->flags |= HTABLE_MAP_ALIAS;
		op->alias_va = op->va;
		op->alias_npages = NP_1G;
		op->va += HT_SZ_1G;
		return;
	}
	op->flags |= HTABLE_MAP_PIN;
	op->alias_va = t->pl.g1 ? (uintptr_t)t->pl.g1 : (uintptr_t)t->pl.none;
}

static void fz_print_op(FILE *f, const struct fz_op *op, size_t i)
{
	fprintf(f, "#   %3zu: hat %u %-7s", i, op->hat, fz_names[op->kind]);
	if (op->kind == FZ_BAD)
		fprintf(f, " #%u", op->bad);
	fprintf(f, " va %#llx npages %llu flags %#x", op->va, op->npages,
		op->kind == FZ_MAP || op->kind == FZ_RUN || op->kind == FZ_SYNC ||
		op->kind == FZ_ADSYNC ? op->flags : 0);
	if (op->kind == FZ_MAP && op->flags & (HTABLE_MAP_ALIAS | HTABLE_MAP_PIN))
		fprintf(f, " %s %#llx x %llu", op->flags & HTABLE_MAP_PIN ? "pin" : "alias",
			op->alias_va, op->alias_npages);
	if (op->kind == FZ_ADSYNC)
		fprintf(f, " window %#llx x %llu", op->alias_va, op->alias_npages);
	if (op->kind == FZ_SHARE)
		fprintf(f, " owner hat %u", op->owner % FZ_HATS);
	fprintf(f, "\n");
}

/* ---- sets, replay and shrink ------------------------------------------- */

static int fz_set_open(struct fz_thread *t, struct fz_set *s)
{
	memset(s, 0, sizeof(*s));
	s->epoch = __atomic_load_n(&t->g->epoch, __ATOMIC_ACQUIRE);
	for (int i = 0; i < FZ_HATS; i++)
		s->hat[i].h.fd = -1;
	for (int i = 0; i < FZ_HATS; i++)
		if (fz_hat_open(&s->hat[i]))
			return -1;
	return 0;
}

/* Check every hat of @s (with @check), then close them all. */
static int fz_set_close(struct fz_thread *t, struct fz_set *s, int check)
{
	int bad = 0;

	if (check) {
		pthread_rwlock_rdlock(&t->g->lock);
		bad = fz_catch_up(t, s);
		for (int i = 0; i < FZ_HATS && !bad; i++)
			if (s->used & 1 << i)
				bad += fz_info_check(t, s, i, 1) + fz_tag_sweep(t, s, i, 32);
		pthread_rwlock_unlock(&t->g->lock);
	}
	for (int i = 0; i < FZ_HATS; i++)
		fz_hat_free(&s->hat[i]);
	return bad;
}

/*
 * Replay @n operations on fresh hats. Returns the index of the first one
 * that mismatched, -1 when all matched, -2 when no hat could be opened.
 */
static long fz_replay(struct fz_thread *t, const struct fz_op *ops, size_t n)
{
	struct fz_set *rs = calloc(1, sizeof(*rs));
	long bad = -1;

	if (!rs || fz_set_open(t, rs)) {
		if (rs)
			fz_set_close(t, rs, 0);
		free(rs);
		return -2;
	}
	for (size_t i = 0; i < n && bad < 0; i++)
		if (fz_step(t, rs, &ops[i]))
			bad = i;
	if (fz_set_close(t, rs, bad < 0) && bad < 0)
		bad = n ? n - 1 : 0;
	free(rs);
	return bad;
}

/*
 * Shrink a failing sequence: cut after its first failure, then try
 * removing chunks (halving their size) while it still fails on fresh
 * hats. Prints the result; returns its length (0 when it did not fail
 * again).
 */
static size_t fz_shrink(struct fz_thread *t, const struct fz_op *ops, size_t n)
{
	struct fz_op *cur = calloc(n, sizeof(*cur)), *cand = calloc(n, sizeof(*cand));
	size_t len = n, chunk, runs = 0;
	long f;

	if (!cur || !cand)
		goto out;
	memcpy(cur, ops, n * sizeof(*cur));
	t->quiet = 1;
	t->shrink_until = ht_now() + FZ_SHRINK_S;
	f = fz_replay(t, cur, len);
	if (f < 0) {
		t->quiet = 0;
		fprintf(stderr, "# shrink: the %zu operations pass alone on fresh hats\n", n);
		fprintf(stderr, "# shrink: the failure needs the other threads\n");
		len = 0;
		goto out;
	}
	len = f + 1;
	chunk = len / 2 ? len / 2 : 1;
	while (chunk && runs < FZ_SHRINK_RUNS && ht_now() < t->shrink_until) {
		size_t i = 0;
		int removed = 0;

		while (i + chunk <= len && runs < FZ_SHRINK_RUNS && ht_now() < t->shrink_until) {
			memcpy(cand, cur, i * sizeof(*cand));
			memcpy(cand + i, cur + i + chunk, (len - i - chunk) * sizeof(*cand));
			runs++;
			f = fz_replay(t, cand, len - chunk);
			if (f >= 0) {
				len = f + 1;
				memcpy(cur, cand, len * sizeof(*cur));
				removed = 1;
			} else {
				i += chunk;
			}
		}
		if (!removed)
			chunk /= 2;
		if (chunk > len / 2 && len > 1)
			chunk = len / 2;
	}
	t->quiet = 0;
	fprintf(stderr, "# seed %#llx process %d thread %d: shortest failing sequence found\n",
		(unsigned long long)t->seed, t->proc, t->thr);
	fprintf(stderr, "# (%zu of %zu operations, %zu replays):\n", len, n, runs);
	for (size_t i = 0; i < len; i++)
		fz_print_op(stderr, &cur[i], i);
	fprintf(stderr, "# replaying it:\n");
	fz_replay(t, cur, len);
out:
	t->quiet = 0;
	free(cur);
	free(cand);
	return len;
}

/* ---- threads and processes --------------------------------------------- */

static void fz_fail(struct fz_thread *t, const struct fz_op *op)
{
	fprintf(stderr, "# seed %#llx proc %d thread %d: mismatch\n",
		(unsigned long long)t->seed, t->proc, t->thr);
	fprintf(stderr, "# at op %lu (op %zu since the hats were opened):\n",
		t->ops, t->nlog - 1);
	fz_print_op(stderr, op, t->nlog - 1);
	t->failed = 1;
	if (t->inject)
		__atomic_store_n(&t->g->stop, 1, __ATOMIC_RELEASE);
	if (!t->noshrink)
		t->shrunk = fz_shrink(t, t->log, t->nlog);
}

static void *fz_thread_fn(void *arg)
{
	struct fz_thread *t = arg;
	unsigned long ep_every, steal_every, next_steal;
	double t0 = ht_now();

	t->log = calloc(FZ_LOG_MAX + 2 * FZ_EP_OPS, sizeof(*t->log));
	t->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	t->kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (!t->log || t->pagemap < 0 || t->kpageflags < 0 || fz_pools_init(t) ||
	    fz_set_open(t, &t->real)) {
		fprintf(stderr, "# thread %d.%d: cannot set up: %s\n", t->proc, t->thr,
			strerror(errno));
		t->failed = 1;
		goto out;
	}
	t->t_setup = ht_now() - t0;
	t->next_bid = 1;
	ep_every = t->budget / (t->budget / FZ_EPISODE_EVERY + 2);
	t->next_ep = t->episodes ? ep_every : ~0UL;
	steal_every = t->budget / (t->budget / FZ_STEAL_EVERY + 1);
	/* The processes' steals fall at different times; other threads' not at all. */
	next_steal = t->thr ? ~0UL : steal_every * (2 * t->proc + 1) / (2 * FZ_PROCS);
	while (t->ops < t->budget && !t->failed &&
	       !__atomic_load_n(&t->g->stop, __ATOMIC_ACQUIRE)) {
		struct fz_op op;

		/* The hats are reopened now and then, so that a replay stays short. */
		if (t->nlog >= FZ_LOG_MAX && !t->ep_left) {
			if (fz_set_close(t, &t->real, 1) || fz_set_open(t, &t->real)) {
				fprintf(stderr, "# thread %d.%d: hats unsound at reopening\n",
					t->proc, t->thr);
				t->failed = 1;
				break;
			}
			t->nlog = 0;
		}
		if (t->ops >= t->next_ep && !t->ep_left && t->nlog + FZ_EP_OPS < FZ_LOG_MAX) {
			if (t->use1g && !t->pl.g1 && fz_g1_wait(t)) {
				t->failed = 1;
				break;
			}
			t->ep_left = FZ_EP_OPS;
			t->ep_hat = fz_rand(t, FZ_HATS);
			__atomic_store_n(&t->g->episode, 1, __ATOMIC_RELEASE);
			t->next_ep += ep_every;
			fz_stat(t, ST_EPISODES, 1);
			fz_gen_episode(t, &t->real, &op, FZ_EP_OPS);
		} else if (t->ep_left == FZ_EP_OPS - 1 || t->ep_left == 1) {
			fz_gen_episode(t, &t->real, &op, t->ep_left);
		} else if (t->ops >= next_steal && !t->ep_left &&
			   !__atomic_load_n(&t->g->episode, __ATOMIC_ACQUIRE)) {
			/* Not while a 1 GiB episode runs: all would wait for its slow calls. */
			memset(&op, 0, sizeof(op));
			op.kind = FZ_STEAL;
			/* A reap and a force_steal in turn, the processes starting apart. */
			op.arg = ht_rand(&t->rng) & ~1ULL;
			op.arg |= (t->proc + next_steal / steal_every) & 1;
			next_steal += steal_every;
		} else {
			fz_gen(t, &t->real, &op);
		}
		if (t->ep_left)
			t->ep_left--;
		t->log[t->nlog++] = op;
		t->ops++;
		t->per_kind[op.kind]++;
		t0 = ht_now();
		if (fz_step(t, &t->real, &op)) {
			fz_fail(t, &op);
			break;
		}
		t->secs[op.kind] += ht_now() - t0;
		/* The episode's CLEAR is done: steals may come again. */
		if (t->episodes && !t->ep_left)
			__atomic_store_n(&t->g->episode, 0, __ATOMIC_RELEASE);
		if (ht_now() - t0 > t->t_slowest) {
			t->t_slowest = ht_now() - t0;
			t->slowest = op.kind;
		}
	}
	if (fz_set_close(t, &t->real, !t->failed) && !t->failed) {
		fprintf(stderr, "# thread %d.%d: hats unsound at the end\n", t->proc, t->thr);
		t->failed = 1;
	}
out:
	fz_pools_free(t);
	if (t->pagemap >= 0)
		close(t->pagemap);
	if (t->kpageflags >= 0)
		close(t->kpageflags);
	free(t->log);
	return NULL;
}

static __u64 fz_env(const char *name, __u64 dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* One process's threads; returns the number that failed. */
static int fz_process(struct fz_global *g, __u64 seed, int proc, unsigned long budget,
		      int inject, int use1g)
{
	struct fz_thread *t = calloc(FZ_THREADS, sizeof(*t));
	struct fz_result *res = &g->res[proc];
	int i, failed = 0, ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!t)
		return FZ_THREADS;
	for (i = 0; i < FZ_THREADS; i++) {
		t[i].proc = proc;
		t[i].thr = i;
		t[i].seed = seed;
		t[i].g = g;
		/* Each thread's stream is its own, and the same on every replay. */
		t[i].rng = seed ^ (0x9E3779B97F4A7C15ULL * (proc * FZ_THREADS + i + 1));
		t[i].rng = t[i].rng ? t[i].rng : 1;
		t[i].budget = budget / FZ_THREADS;
		t[i].ncpus = ncpus > 0 ? ncpus : 1;
		t[i].inject = inject;
		t[i].noshrink = inject == FZ_INJ_TAG || inject == FZ_INJ_SYNC;
		t[i].use1g = use1g && i == 0;
		t[i].episodes = proc == 0 && i == 0 && !inject;
		t[i].pdpe1gb = ht_has_pdpe1gb();
		t[i].pagemap = -1;
		t[i].kpageflags = -1;
		if (pthread_create(&t[i].tid, NULL, fz_thread_fn, &t[i]))
			t[i].failed = 1;
	}
	for (i = 0; i < FZ_THREADS; i++) {
		if (t[i].tid)
			pthread_join(t[i].tid, NULL);
		failed += t[i].failed;
		res->ops += t[i].ops;
		res->ioctls += t[i].ioctls;
		if (t[i].shrunk && (!res->shrunk || t[i].shrunk < res->shrunk))
			res->shrunk = t[i].shrunk;
		for (int k = 0; k < ST_NSTAT; k++)
			res->st[k] += t[i].st[k];
	}
	if (!inject) {
		fprintf(stderr, "# process %d:", proc);
		for (int k = 0; k < FZ_NKIND; k++) {
			unsigned long n = 0;

			for (i = 0; i < FZ_THREADS; i++)
				n += t[i].per_kind[k];
			fprintf(stderr, " %s %lu", fz_names[k], n);
		}
		fprintf(stderr, "\n# process %d: seconds:", proc);
		for (int k = 0; k < FZ_NKIND; k++) {
			double d = 0;

			for (i = 0; i < FZ_THREADS; i++)
				d += t[i].secs[k];
			fprintf(stderr, " %s %.1f", fz_names[k], d);
		}
		fprintf(stderr, "; setup %.1f\n", t[0].t_setup);
		for (i = 0; i < FZ_THREADS; i++)
			fprintf(stderr, "# thread %d.%d: %.1f s behind steals, slowest %s %.1f s\n",
				proc, i, t[i].t_wait, fz_names[t[i].slowest], t[i].t_slowest);
	}
	free(t);
	return failed;
}

/* Fault the 1 GiB page in (the parent, beside the children) and tag it. */
static void *fz_g1_fault(void *arg)
{
	struct fz_global *g = arg;
	size_t i;

	for (i = 0; i < NP_1G; i++)
		if (!(i % FZ_TAGS_2M) || i % NP_2M == NP_2M - 1)
			*(__u64 *)(g->g1 + i * HT_PAGE_SIZE + HT_TAG_OFF) =
				fz_pin_tag((uintptr_t)g->g1 + i * HT_PAGE_SIZE);
	__atomic_store_n(&g->g1_state, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Run the fuzzer: FZ_PROCS processes of FZ_THREADS threads share @total
 * operations; with @use1g the first thread uses the 1 GiB page. Returns
 * the number of threads that failed; *shrunk gets the shortest shrunk
 * sequence (0: none), @st the coverage counts (may be NULL).
 */
static int fz_run_all(__u64 seed, unsigned long total, int inject, int use1g,
		      size_t *shrunk, unsigned long *st)
{
	pthread_rwlockattr_t ra;
	struct fz_global *g;
	pthread_t g1_tid;
	int g1_thread = 0;
	unsigned long ops = 0, ioctls = 0, sum[ST_NSTAT] = { 0 };
	pid_t pid[FZ_PROCS];
	int p, failed = 0;
	double t0 = ht_now(), dt;

	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		return 1;
	memset(g, 0, sizeof(*g));
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
	/* A steal must not wait behind an endless stream of operations. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&g->lock, &ra);
	g->g1_state = -1;
	if (use1g) {
		/* Shared, so that the children use the page the parent faults in. */
		g->g1 = mmap(NULL, HT_SZ_1G, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0);
		if (g->g1 == MAP_FAILED) {
			fprintf(stderr, "# fuzz: no 1 GiB page: %s\n", strerror(errno));
			g->g1 = NULL;
			failed++;
		} else {
			g->g1_state = 0;
		}
	}
	fflush(stderr);
	for (p = 0; p < FZ_PROCS; p++) {
		pid[p] = fork();
		if (pid[p] == 0) {
			g->res[p].failed = fz_process(g, seed, p, total / FZ_PROCS, inject,
						      use1g && p == 0);
			_exit(0);
		}
	}
	if (g->g1 && !pthread_create(&g1_tid, NULL, fz_g1_fault, g))
		g1_thread = 1;
	else if (g->g1)
		__atomic_store_n(&g->g1_state, -1, __ATOMIC_RELEASE);
	*shrunk = 0;
	for (p = 0; p < FZ_PROCS; p++) {
		int ws = 0;

		if (pid[p] < 0 || waitpid(pid[p], &ws, 0) != pid[p] ||
		    !WIFEXITED(ws) || WEXITSTATUS(ws)) {
			failed++;
			continue;
		}
		failed += g->res[p].failed;
		ops += g->res[p].ops;
		ioctls += g->res[p].ioctls;
		if (g->res[p].shrunk && (!*shrunk || g->res[p].shrunk < *shrunk))
			*shrunk = g->res[p].shrunk;
		for (int k = 0; k < ST_NSTAT; k++)
			sum[k] += g->res[p].st[k];
	}
	dt = ht_now() - t0;
	if (!inject) {
		fprintf(stderr, "# fuzz: seed %#llx: %lu operations in %.1f s: %.0f/s\n",
			(unsigned long long)seed, ops, dt, ops / dt);
		fprintf(stderr, "# fuzz: %lu ioctls, %.0f/s; %d procs x %d threads; %d failed\n",
			ioctls, ioctls / dt, FZ_PROCS, FZ_THREADS, failed);
		fprintf(stderr, "# fuzz: covered:");
		for (int k = 0; k < ST_NSTAT; k++)
			fprintf(stderr, "%s %s %lu", k % 8 ? "," : "\n# fuzz:  ",
				fz_stat_names[k], sum[k]);
		fprintf(stderr, "\n");
	}
	if (st)
		memcpy(st, sum, sizeof(sum));
	if (g1_thread)
		pthread_join(g1_tid, NULL);
	if (g->g1)
		munmap(g->g1, HT_SZ_1G);
	pthread_rwlock_destroy(&g->lock);
	munmap(g, sizeof(*g));
	return failed;
}

static __u64 fz_seed(void)
{
	__u64 seed = fz_env("HTABLE_FUZZ_SEED", 0);

	return seed ? seed : ht_seed();
}

/* Can this run have the 1 GiB page: pdpe1gb and a free hugetlb page? */
static int fz_have_1g(void)
{
	return ht_has_pdpe1gb() && htable_knob_read(FREE_1G_PATH) >= 1;
}

FIXTURE(fz) {
	int unused;
};

FIXTURE_SETUP(fz)
{
}

FIXTURE_TEARDOWN(fz)
{
}

/*
 * The fuzzer itself: HTABLE_FUZZ_OPS operations from HTABLE_FUZZ_SEED.
 * It must have done a bit of everything, the row's 1 GiB page comes back
 * free, and every table goes back.
 */
TEST_F_TIMEOUT(fz, fuzz, 500)
{
	unsigned long total = fz_env("HTABLE_FUZZ_OPS", FZ_DEFAULT_OPS), st[ST_NSTAT];
	long long active0 = htable_stat("active_ptables"), free1g;
	int fd = htable_open_dev(), has1g, use1g;
	__u64 seed = fz_seed();
	size_t shrunk;

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	close(fd);
	ASSERT_EQ(0, htable_knobs_reset());
	has1g = fz_have_1g();
	/*
	 * Under KASAN one MAP of the 1 GiB page takes half a minute (a record
	 * per 4 KiB page), and so does its UNMAP: the debug rows leave 1 GiB
	 * pages to htable_lpage_test, and fuzz 2 MiB and 4 KiB in that zone.
	 */
	use1g = has1g && !ht_kernel_has_kasan();
	free1g = htable_knob_read(FREE_1G_PATH);
	TH_LOG("seed %#llx (replay with HTABLE_FUZZ_SEED=%#llx), %lu operations%s",
	       (unsigned long long)seed, (unsigned long long)seed, total,
	       use1g ? "" : has1g ? ", not the 1 GiB page under KASAN" : ", no 1 GiB page");
	EXPECT_EQ(0, fz_run_all(seed, total, 0, use1g, &shrunk, st))
		TH_LOG("replay with HTABLE_FUZZ_SEED=%#llx", (unsigned long long)seed);
	EXPECT_EQ(0, htable_knobs_reset());
	/* Every hat is closed: every table it had went back, the page too. */
	EXPECT_EQ(active0, htable_stat("active_ptables"));
	EXPECT_EQ(free1g, htable_knob_read(FREE_1G_PATH));
	/* It did what it is for. */
	if (total >= FZ_DEFAULT_OPS) {
		EXPECT_LT(0, st[ST_MAP2M]);
		EXPECT_LT(0, st[ST_PIN4K]);
		EXPECT_LT(0, st[ST_ALIAS2M]);
		EXPECT_LT(0, st[ST_SPLITS]);
		EXPECT_LT(0, st[ST_SHARES]);
		EXPECT_LT(0, st[ST_SHARER_PAGES]);
		EXPECT_LT(0, st[ST_UNSHARES]);
		EXPECT_LT(0, st[ST_STEALS]);
		EXPECT_LT(0, st[ST_STOLEN_TABLES]);
		EXPECT_LT(0, st[ST_RELOADED]);
		EXPECT_LT(0, st[ST_PFN_PAGEMAP]);
		EXPECT_LT(0, st[ST_SYNC_EXACT]);
		EXPECT_LT(0, st[ST_WINDOW_SHARED]);
		EXPECT_LT(0, st[ST_SHARED_OUT_LP]);
		if (use1g) {
			EXPECT_LT(0, st[ST_PIN1G]);
			EXPECT_LT(0, st[ST_ALIAS1G]);
		}
	}
	if (!has1g && _metadata->passed)
		SKIP(return, "needs:1g %s", ht_has_pdpe1gb() ?
		     "no free 1 GiB hugetlb page (hugepagesz=1G hugepages=1, 4 GiB)" :
		     "no pdpe1gb: 1 GiB pages were refused, as they must be");
}

/*
 * The fuzzer must be able to fail, and shrink what it finds: with a
 * deliberate model bug (PROBE of a WRITE|EXEC page expects no EXEC) it
 * must report a mismatch and shrink it to the operations that show it: a
 * MAP of such a page and a PROBE of it, and the source's MAP when the
 * page it found is an alias (which can't be dropped without the alias
 * failing): two or three.
 */
TEST_F_TIMEOUT(fz, finds_and_shrinks_a_planted_bug, 200)
{
	size_t shrunk = 0;
	int fd = htable_open_dev();

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	close(fd);
	EXPECT_NE(0, fz_run_all(fz_seed(), 20000, FZ_INJ_PROBE, 0, &shrunk, NULL));
	EXPECT_LE(2, shrunk);
	EXPECT_GE(3, shrunk);
}

/* A tag written to the wrong va (the first two of a MAP swap places) is caught. */
TEST_F_TIMEOUT(fz, finds_a_wrong_tag, 200)
{
	size_t shrunk = 0;
	int fd = htable_open_dev();

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	close(fd);
	EXPECT_NE(0, fz_run_all(fz_seed(), 20000, FZ_INJ_TAG, 0, &shrunk, NULL));
}

/* A model that forgets what a window's writes do to D is caught by SYNC. */
TEST_F_TIMEOUT(fz, finds_a_wrong_sync, 200)
{
	size_t shrunk = 0;
	int fd = htable_open_dev();

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	close(fd);
	EXPECT_NE(0, fz_run_all(fz_seed(), 20000, FZ_INJ_SYNC, 0, &shrunk, NULL));
}

/*
 * "htable_fuzz_test run [OPS [SEED]]" runs the fuzzer outside the harness
 * (no time limit: the soak); anything else runs the tests above.
 */
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	size_t shrunk;
	__u64 seed;
	int has1g;

	if (argc < 2 || strcmp(argv[1], "run"))
		return test_harness_run(argc, argv);
	if (argc > 2)
		setenv("HTABLE_FUZZ_OPS", argv[2], 1);
	if (argc > 3)
		setenv("HTABLE_FUZZ_SEED", argv[3], 1);
	seed = fz_seed();
	has1g = fz_have_1g();
	printf("# fuzz: seed %#llx (replay: htable_fuzz_test run OPS %#llx)%s\n",
	       (unsigned long long)seed, (unsigned long long)seed,
	       has1g ? "" : "; no 1 GiB page, so no 1 GiB maps");
	fflush(stdout);
	if (htable_knobs_reset())
		return 1;
	return fz_run_all(seed, fz_env("HTABLE_FUZZ_OPS", FZ_DEFAULT_OPS), 0, has1g,
			  &shrunk, NULL) ? 1 : 0;
}
