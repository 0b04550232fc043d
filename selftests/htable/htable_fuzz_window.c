// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's RUN verify windows, simulated on the model page by page
 * (what each page must hold, which must fault, the A and D bits the
 * window sets), and SYNC of those bits, exact where the test made every
 * access.
 */
#include "htable_fuzz.h"

/* The words a verify window writes, and its pattern (uapi.rst). */
static const unsigned int fz_pat_word[] = { 0, 257, 511 };

static __u64 fz_pattern(__u64 seed, __u64 pfn, unsigned int w)
{
	return seed ^ (pfn << 16) ^ (w * 0x9E3779B97F4A7C15ULL);
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

int fz_run(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	return fz_window(t, s, op->hat, op->owner % t->ncpus, op->va, op->npages,
			 op->flags & HTABLE_RUN_WRITE, op->arg);
}

/* ---- SYNC --------------------------------------------------------------- */

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

int fz_sync(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	return fz_sync_range(t, s, op->hat, op->va, op->npages, op->flags & HTABLE_SYNC_CLEAR);
}

/*
 * SYNC with exact expectations where the test made every access: clear
 * the range, run one window over part of it, SYNC again: exactly the
 * pages that window read (and wrote) count, once per 4 KiB page of a
 * large entry in the range.
 */
int fz_adsync(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	int bad = fz_sync_range(t, s, op->hat, op->va, op->npages, HTABLE_SYNC_CLEAR);

	if (!bad)
		bad = fz_window(t, s, op->hat, op->owner % t->ncpus, op->alias_va,
				op->alias_npages, op->flags & HTABLE_RUN_WRITE, op->arg);
	if (!bad)
		bad = fz_sync_range(t, s, op->hat, op->va, op->npages, 0);
	return bad;
}
