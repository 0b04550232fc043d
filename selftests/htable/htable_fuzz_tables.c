// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's operations on whole tables: SHARE, UNSHARE and CLEAR of
 * 2 MiB leaf tables between a thread's hats, steals (the reap and
 * force_steal knobs) with what each hat must show after them, and RELOAD
 * of the translations a steal took.
 */
#include "htable_fuzz.h"

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

int fz_share(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
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

int fz_unshare(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	return fz_unshare_one(t, s, op->hat, op->va, op->npages);
}

/*
 * CLEAR a range of hat @op->hat: every table shared there, in or out, is
 * unshared, then every run of its pages there unmapped.
 */
int fz_clear(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
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
int fz_catch_up(struct fz_thread *t, struct fz_set *s)
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
int fz_steal(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	double t0 = ht_now(), t1, t2;
	int err = 0, fd, i, bad;

	pthread_rwlock_unlock(&t->g->lock);
	pthread_rwlock_wrlock(&t->g->lock);
	t1 = ht_now();
	if (op->arg & 1) {
		for (i = 0; i < 3 && !err; i++)
			err = htable_knob_write(HTABLE_REAP_PATH, 0);
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

/* ---- RELOAD ------------------------------------------------------------ */

/* RELOAD: the model's stolen pages in the range come back, A and D as they were. */
int fz_reload(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
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
