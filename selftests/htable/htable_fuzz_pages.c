// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's operations on pages: MAP of every kind (fresh, ALIAS, PIN;
 * 4 KiB, 2 MiB, 1 GiB) with the errno the model predicts for it, UNMAP
 * and the splits of large pages it makes, and RW.
 */
#include "htable_fuzz.h"

#define THROTTLE_PATH	"/sys/kernel/debug/htable/throttle_pages"

/* ---- MAP ------------------------------------------------------------- */

/* The range rules every va range follows: 0 or the errno. */
int fz_range_errno(__u64 va, __u64 n, __u64 limit)
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
		/* A source inside the range it maps (dev.c). */
		if (op->alias_va < end &&
		    op->va < op->alias_va + op->alias_npages * HT_PAGE_SIZE)
			return -EINVAL;
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

int fz_map(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
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

int fz_unmap(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
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
int fz_rw(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
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
