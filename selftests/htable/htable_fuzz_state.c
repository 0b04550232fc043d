// SPDX-License-Identifier: GPL-2.0
/*
 * The state a fuzzer thread keeps besides the models of its hats: the va
 * zones every hat is fuzzed in, the thread's own memory that PIN maps
 * (its pools, and what /proc/self/pagemap and /proc/kpageflags say of
 * it), the names of fresh backing pages with what PROBE and windows showed
 * of them, and the set of hats with the tables they share.
 */
#include <sys/mman.h>

#include "htable_fuzz.h"

/* kpageflags bits (Documentation/admin-guide/mm/pagemap.rst). */
#define KPF_COMPOUND_HEAD	15
#define KPF_COMPOUND_TAIL	16
#define KPF_THP			22

/* ---- zones ---------------------------------------------------------- */

/* Zone @z of a hat: four that straddle level boundaries, the top among them. */
void fz_zone(const struct ht_hat *h, int z, __u64 *va, __u64 *n)
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
int fz_zone_of(const struct ht_hat *h, __u64 va)
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
__u64 fz_share_region(struct fz_thread *t, const struct ht_hat *h, int ep)
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

__u64 fz_pin_tag(__u64 uaddr)
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

int fz_pools_init(struct fz_thread *t)
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
int fz_g1_wait(struct fz_thread *t)
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

void fz_pools_free(struct fz_thread *t)
{
	for (int i = 0; i < 4; i++)
		if (t->pl.maps[i])
			munmap(t->pl.maps[i], t->pl.lens[i]);
	memset(&t->pl, 0, sizeof(t->pl));
}

/* Which pool @uaddr is in: 0 none of them, 1 p4k, 2 thp, 3 g1, 4 ro, 5 none. */
int fz_pool_of(const struct fz_pools *pl, __u64 uaddr)
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
__u64 fz_pagemap(struct fz_thread *t, __u64 uaddr)
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
int fz_is_thp(struct fz_thread *t, __u64 uaddr)
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

struct fz_bent *fz_bid(struct fz_bids *b, __u64 bid, int create)
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

int fz_hat_open(struct fz_hat *fh)
{
	int err;

	memset(fh, 0, sizeof(*fh));
	err = ht_hat_open(&fh->h);
	return err;
}

void fz_hat_free(struct fz_hat *fh)
{
	ht_hat_close(&fh->h);
	free(fh->b.e);
	memset(fh, 0, sizeof(*fh));
	fh->h.fd = -1;
}

/* The shared table of @fh that covers @va, or NULL. */
struct fz_share *fz_shared(struct fz_hat *fh, __u64 va)
{
	__u64 r = va & ~(HT_SZ_2M - 1);

	for (int i = 0; i < fh->nsh; i++)
		if (fh->sh[i].va == r)
			return &fh->sh[i];
	return NULL;
}

/* Does another hat of @s share hat @hi's table at region @r? */
int fz_shared_out(struct fz_set *s, int hi, __u64 r)
{
	for (int j = 0; j < FZ_HATS; j++) {
		struct fz_share *sh = j == hi ? NULL : fz_shared(&s->hat[j], r);

		if (sh && sh->owner == hi)
			return 1;
	}
	return 0;
}

void fz_share_add(struct fz_hat *fh, __u64 va, int owner)
{
	int i = fh->nsh++;

	while (i > 0 && fh->sh[i - 1].va > va) {
		fh->sh[i] = fh->sh[i - 1];
		i--;
	}
	fh->sh[i].va = va;
	fh->sh[i].owner = owner;
}

void fz_share_del(struct fz_hat *fh, __u64 va)
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
struct ht_page *fz_view(struct fz_set *s, int hi, __u64 va, int *oh)
{
	struct fz_share *sh = fz_shared(&s->hat[hi], va);
	struct ht_page *pg;

	*oh = sh ? sh->owner : hi;
	pg = ht_model_find(&s->hat[*oh].h.m, va);
	return pg && !pg->stolen ? pg : NULL;
}

int fz_set_open(struct fz_thread *t, struct fz_set *s)
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
int fz_set_close(struct fz_thread *t, struct fz_set *s, int check)
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
