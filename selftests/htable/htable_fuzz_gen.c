// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's generator: each thread's random operations, weighted,
 * over ranges that mostly meet what its hats map, the fixed operations of
 * a 1 GiB episode, and how an operation is printed.
 */
#include "htable_fuzz.h"

/* The kinds of operation, as printed. */
const char * const fz_names[FZ_NKIND] = {
	"VERSION", "MAP", "UNMAP", "PROBE", "INFO", "CHECK", "RW", "RUN",
	"SYNC", "ADSYNC", "RELOAD", "SHARE", "UNSHARE", "CLEAR", "STEAL",
	"REOPEN", "BAD",
};

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

void fz_gen(struct fz_thread *t, struct fz_set *s, struct fz_op *op)
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
void fz_gen_episode(struct fz_thread *t, struct fz_set *s, struct fz_op *op, int left)
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

void fz_print_op(FILE *f, const struct fz_op *op, size_t i)
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
