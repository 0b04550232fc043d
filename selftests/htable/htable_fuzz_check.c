// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's checks of what the device says against the model: the
 * counted ioctl and its expected result, the tag a page holds (read
 * through RW), PROBE (flags, level, A and D, pfn), INFO and CHECK, and a
 * rotating sweep of tags.
 */
#include "htable_fuzz.h"

/* ioctl returning 0 or -errno, counted. */
int fz_ioctl(struct fz_thread *t, int fd, unsigned long cmd, void *arg)
{
	t->ioctls++;
	return ht_ioctl(fd, cmd, arg);
}

/* The result differs from the model's: say so (unless replaying). */
int fz_bad_ret(struct fz_thread *t, const char *what, int got, int want)
{
	if (got == want)
		return 0;
	fz_log(t, "# %s returned %s, model says %s\n", what,
	       got ? strerror(-got) : "success", want ? strerror(-want) : "success");
	return 1;
}

/* Is every byte of [p, p + n) @b? */
int fz_all(const void *p, size_t n, int b)
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
int fz_check_tag(struct fz_thread *t, struct fz_hat *fh, const struct ht_page *pg)
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
__u64 fz_pin_pfn(struct fz_thread *t, __u64 bid)
{
	return fz_pagemap(t, (bid & FZ_BID_ADDR) << HT_PAGE_SHIFT);
}

/*
 * What the model knows of the pfn of the page @pg of hat @fh: for pinned
 * memory pagemap's; for a fresh page the pfn PROBE showed before, which
 * only other PROBEs are compared with (0 when none was seen).
 */
__u64 fz_known_pfn(struct fz_thread *t, struct fz_hat *fh, const struct ht_page *pg)
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
int fz_probe(struct fz_thread *t, struct fz_set *s, int hi, __u64 va)
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
int fz_info_check(struct fz_thread *t, struct fz_set *s, int hi, int check)
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
int fz_tag_sweep(struct fz_thread *t, struct fz_set *s, int hi, size_t n)
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
