// SPDX-License-Identifier: GPL-2.0
/*
 * The seeded RNG and the random-operation engine (see htable_random.h).
 */
#include "htable_random.h"

/* xorshift64*: the same sequence on every libc, so a seed replays. */
__u64 ht_rand(__u64 *state)
{
	__u64 x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* A value in [0, n). */
__u64 ht_rand_below(__u64 *state, __u64 n)
{
	return n ? ht_rand(state) % n : 0;
}

/* The seed from $HTABLE_SEED, else a fresh one; never zero. */
__u64 ht_seed(void)
{
	const char *env = getenv("HTABLE_SEED");
	struct timespec ts;
	__u64 seed;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((__u64)ts.tv_sec << 32) ^ ts.tv_nsec ^ ((__u64)getpid() << 16);
	}
	return seed ? seed : 1;
}

void ht_rnd_init(struct ht_rnd *r, struct ht_hat *h,
		 const struct ht_seg *seg, int nseg, __u64 seed)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->h = h;
	r->seg = seg;
	r->nseg = nseg;
	r->rng = seed ? seed : 1;
	r->tag_salt = seed ^ 0x74616773616c74ULL;
	for (i = 0; i < nseg; i++)
		r->pages += seg[i].npages;
}

/* A random run of pages inside one segment of the window. */
static void ht_rnd_range(struct ht_rnd *r, __u64 *va, __u64 *npages)
{
	__u64 idx = ht_rand_below(&r->rng, r->pages);
	__u64 k = ht_rand_below(&r->rng, 100), max, room;
	int s = 0;

	while (idx >= r->seg[s].npages)
		idx -= r->seg[s++].npages;
	max = k < 50 ? 8 : k < 85 ? 64 : k < 97 ? 520 : 2048;
	if (r->maxlen && max > r->maxlen)
		max = r->maxlen;
	room = r->seg[s].npages - idx;
	*va = r->seg[s].va + idx * HT_PAGE_SIZE;
	*npages = 1 + ht_rand_below(&r->rng, max < room ? max : room);
}

/*
 * A random piece of a run of mapped pages (from the model), at most @max
 * pages; a random range when the model is empty.
 */
static void ht_rnd_in_run(struct ht_rnd *r, __u64 max, __u64 *va, __u64 *npages)
{
	const struct ht_model *m = &r->h->m;
	size_t i, lo, hi;
	__u64 room;

	if (!m->n) {
		ht_rnd_range(r, va, npages);
		return;
	}
	i = ht_rand_below(&r->rng, m->n);
	lo = i;
	hi = i;
	while (lo > 0 && m->pg[lo - 1].va == m->pg[lo].va - HT_PAGE_SIZE)
		lo--;
	while (hi + 1 < m->n && m->pg[hi + 1].va == m->pg[hi].va + HT_PAGE_SIZE)
		hi++;
	if (ht_rand_below(&r->rng, 4)) {
		/* Mostly: from a random page to somewhere in the run. */
		lo = lo + ht_rand_below(&r->rng, hi - lo + 1);
	} else if (!ht_rand_below(&r->rng, 2)) {
		/* Else the whole run (if short enough). */
		*va = m->pg[lo].va;
		*npages = hi - lo + 1 < max ? hi - lo + 1 : max;
		return;
	}
	room = hi - lo + 1;
	*va = m->pg[lo].va;
	*npages = 1 + ht_rand_below(&r->rng, room < max ? room : max);
}

static __u32 ht_rnd_flags(struct ht_rnd *r)
{
	return ht_rand(&r->rng) & HT_PG_MAPFLAGS;
}

__u32 ht_rnd_zone_flags(__u64 va)
{
	__u64 z = (va >> HT_PAGE_SHIFT) / HT_RND_ZONE_PAGES;

	return ht_tag_make(0x7a6f6e65, z) & HT_PG_MAPFLAGS;
}

/* Cut [*va, *va + *n pages) at the end of the zone of *va (blind mode). */
static void ht_rnd_in_zone(__u64 va, __u64 *n)
{
	__u64 room = HT_RND_ZONE_PAGES - (va >> HT_PAGE_SHIFT) % HT_RND_ZONE_PAGES;

	if (*n > room)
		*n = room;
}

/* Choose an alias source: mostly mapped pages, sometimes any pages. */
static void ht_rnd_alias_src(struct ht_rnd *r, __u64 *ava, __u64 *an)
{
	if (!r->h->m.n || !ht_rand_below(&r->rng, 4)) {
		ht_rnd_range(r, ava, an);
		if (*an > 16)
			*an = 1 + *an % 16;
	} else {
		ht_rnd_in_run(r, 64, ava, an);
	}
}

/* One MAP; with @alias, an ALIAS MAP. Returns mismatches with the model. */
static int ht_rnd_map(struct ht_rnd *r, int alias, int blind)
{
	struct ht_hat *h = r->h;
	__u64 va, n, ava = 0, an = 0;
	__u32 flags = ht_rnd_flags(r);
	int exist = 0, missing = 0, overlap, ret, ok, bad;

	if (alias) {
		ht_rnd_alias_src(r, &ava, &an);
		ht_rnd_range(r, &va, &n);
		flags |= HTABLE_MAP_ALIAS;
	} else {
		ht_rnd_range(r, &va, &n);
	}
	if (blind) {
		ht_rnd_in_zone(va, &n);
		flags = ht_rnd_zone_flags(va) | (flags & HTABLE_MAP_ALIAS);
	}
	if (alias && n < an)
		an = n;
	ret = ht_map_alias(h->fd, va, n, flags, ava, an);
	/* A source inside the range it maps is refused first (dev.c). */
	overlap = alias && ava < va + n * HT_PAGE_SIZE && va < ava + an * HT_PAGE_SIZE;
	if (!blind) {
		exist = ht_model_count(&h->m, va, n) != 0;
		missing = alias && ht_model_count(&h->m, ava, an) != an;
	}
	switch (ret) {
	case 0:
		ok = !overlap && (blind || (!exist && !missing));
		r->maps++;
		r->pages_mapped += n;
		break;
	case -EINVAL:
		ok = overlap;
		r->map_einval++;
		break;
	case -EEXIST:
		ok = !overlap && (blind || exist);
		r->map_eexist++;
		break;
	case -ENOENT:
		ok = !overlap && alias && (blind || missing);
		r->map_enoent++;
		break;
	default:
		ok = 0;
	}
	if (!ok) {
		fprintf(stderr, "# op %lu: MAP va %#llx npages %llu flags %#x",
			r->op, va, n, flags);
		fprintf(stderr, " alias %#llx x %llu: %s; model: %s%s\n",
			ava, an, ret ? strerror(-ret) : "ok",
			exist ? "overlaps " : "", missing ? "alias missing" : "");
		if (overlap)
			fprintf(stderr, "# (the alias source overlaps the range)\n");
		return 1;
	}
	if (ret || blind)
		return 0;
	if (ht_model_insert(&h->m, va, n, flags, ava, an))
		return 1;
	/* A fresh page gets a tag; an alias must show its source's. */
	if (alias) {
		bad = ht_verify_tags(h->fd, &h->m, va, n, n > 16 ? 8 : 1);
		r->tags_read += n > 16 ? n / 8 + 1 : n;
	} else {
		bad = ht_model_write_tags(h->fd, &h->m, va, n, r->tag_salt, &r->tag_next);
	}
	bad += ht_verify_probe_flags(h->fd, va, ht_model_find(&h->m, va));
	va += (n - 1) * HT_PAGE_SIZE;
	return bad + ht_verify_probe_flags(h->fd, va, ht_model_find(&h->m, va));
}

/* One UNMAP: of a random range, or (@in_run) of part of a mapped run. */
static int ht_rnd_unmap(struct ht_rnd *r, int in_run, int blind)
{
	struct ht_hat *h = r->h;
	__u64 va, n, have = 0;
	int ret, ok;

	if (in_run && !blind)
		ht_rnd_in_run(r, 2048, &va, &n);
	else
		ht_rnd_range(r, &va, &n);
	ret = ht_unmap(h->fd, va, n);
	if (!blind)
		have = ht_model_count(&h->m, va, n);
	switch (ret) {
	case 0:
		ok = blind || have == n;
		r->unmaps++;
		r->pages_unmapped += n;
		break;
	case -ENOENT:
		ok = blind || have != n;
		r->unmap_enoent++;
		break;
	default:
		ok = 0;
	}
	if (!ok) {
		fprintf(stderr, "# op %lu: UNMAP va %#llx npages %llu: %s; model has %llu mapped\n",
			r->op, va, n, ret ? strerror(-ret) : "ok", have);
		return 1;
	}
	if (!ret && !blind)
		ht_model_remove(&h->m, va, n);
	return 0;
}

/* One PROBE of a random page of the window at a random offset. */
static int ht_rnd_probe(struct ht_rnd *r, int blind)
{
	struct htable_probe p;
	__u64 va, n;
	int ret;

	ht_rnd_range(r, &va, &n);
	va += ht_rand_below(&r->rng, HT_PAGE_SIZE);
	r->probes++;
	if (!blind) {
		const struct ht_page *pg = ht_model_find(&r->h->m, va);
		int bad = ht_verify_probe_flags(r->h->fd, va, pg);

		if (pg && !bad) {
			r->tags_read++;
			bad = ht_verify_tags(r->h->fd, &r->h->m, pg->va, 1, 1);
		}
		return bad;
	}
	ret = ht_probe(r->h->fd, va, &p);
	if (ret) {
		fprintf(stderr, "# op %lu: PROBE va %#llx: %s\n", r->op, va, strerror(-ret));
		return 1;
	}
	if (!p.flags)
		return 0;
	/* Whoever mapped it, it has its zone's flags. */
	if ((p.flags & ~HT_PROBE_HW) != ht_probe_flags(ht_rnd_zone_flags(va))) {
		fprintf(stderr, "# op %lu: PROBE va %#llx: flags %#x, zone flags %#x\n",
			r->op, va, p.flags, ht_rnd_zone_flags(va));
		return 1;
	}
	return ht_probe_selfcheck(&p);
}

/* UNMAP every run the model has in one random segment. */
int ht_rnd_clear(struct ht_rnd *r)
{
	const struct ht_seg *s = &r->seg[ht_rand_below(&r->rng, r->nseg)];
	struct ht_model *m = &r->h->m;
	__u64 end = s->va + s->npages * HT_PAGE_SIZE;
	size_t i, j;
	int ret;

	r->clears++;
	for (;;) {
		i = ht_model_lower(m, s->va);
		if (i >= m->n || m->pg[i].va >= end)
			return 0;
		for (j = i; j + 1 < m->n && m->pg[j + 1].va == m->pg[j].va + HT_PAGE_SIZE &&
		     m->pg[j + 1].va < end; j++)
			;
		ret = ht_unmap(r->h->fd, m->pg[i].va, j - i + 1);
		if (ret) {
			fprintf(stderr, "# op %lu: UNMAP (clear) va %#llx npages %zu: %s\n",
				r->op, m->pg[i].va, j - i + 1, strerror(-ret));
			return 1;
		}
		r->unmaps++;
		ht_model_remove(m, m->pg[i].va, j - i + 1);
	}
}

/*
 * One random operation, predicted by the model (@blind == 0), or only
 * checked for being an outcome concurrency allows.
 */
int ht_rnd_op(struct ht_rnd *r, int blind)
{
	__u64 k = ht_rand_below(&r->rng, 100);
	int bad;

	if (k < 35)
		bad = ht_rnd_map(r, 0, blind);
	else if (k < 45)
		bad = ht_rnd_map(r, 1, blind);
	else if (k < 65)
		bad = ht_rnd_unmap(r, 0, blind);
	else if (k < 85)
		bad = ht_rnd_unmap(r, 1, blind);
	else if (k < 99 || blind)
		bad = ht_rnd_probe(r, blind);
	else
		bad = ht_rnd_clear(r);
	r->op++;
	return bad;
}

/* PROBE every page of the window against the model (holes included). */
int ht_rnd_probe_all(struct ht_rnd *r)
{
	int s, bad = 0;
	__u64 i;

	for (s = 0; s < r->nseg; s++) {
		for (i = 0; i < r->seg[s].npages && bad < 20; i++) {
			__u64 va = r->seg[s].va + i * HT_PAGE_SIZE;

			bad += ht_verify_probe_flags(r->h->fd, va + (i % 5) * 0x333,
						     ht_model_find(&r->h->m, va));
		}
	}
	return bad;
}

/* Everything: INFO and CHECK by the model, every page, the tags. */
int ht_rnd_verify(struct ht_rnd *r)
{
	int s, bad = ht_verify_info(r->h->fd, &r->h->m, r->h->levels, NULL);
	size_t stride = r->tag_stride > 1 ? r->tag_stride : 1;

	bad += ht_rnd_probe_all(r);
	for (s = 0; s < r->nseg; s++) {
		bad += ht_verify_tags(r->h->fd, &r->h->m, r->seg[s].va,
				      r->seg[s].npages, stride);
		r->tags_read += ht_model_count(&r->h->m, r->seg[s].va,
					       r->seg[s].npages) / stride;
	}
	return bad;
}

int ht_rnd_model_from_rw(struct ht_rnd *r)
{
	struct ht_model *m = &r->h->m;
	int s, err, bad = 0;
	__u64 i, tag;

	ht_model_free(m);
	for (s = 0; s < r->nseg; s++) {
		for (i = 0; i < r->seg[s].npages; i++) {
			__u64 va = r->seg[s].va + i * HT_PAGE_SIZE;

			err = ht_tag_read(r->h->fd, va, &tag);
			if (err == -ENOENT)
				continue;
			if (err) {
				fprintf(stderr, "# RW va %#llx: %s\n", va, strerror(-err));
				bad++;
				continue;
			}
			if (ht_model_insert(m, va, 1, ht_rnd_zone_flags(va), 0, 0))
				return bad + 1;
			m->pg[ht_model_lower(m, va)].tag = tag;
		}
	}
	return bad;
}

/*
 * Rebuild the model of the window from PROBE (for a hat others changed
 * concurrently, now quiet): every present page with the flags it shows.
 */
int ht_rnd_model_from_probe(struct ht_rnd *r)
{
	struct ht_model *m = &r->h->m;
	struct htable_probe p;
	int s, bad = 0;
	__u64 i;

	ht_model_free(m);
	for (s = 0; s < r->nseg; s++) {
		for (i = 0; i < r->seg[s].npages; i++) {
			__u64 va = r->seg[s].va + i * HT_PAGE_SIZE;
			__u32 f = 0;

			if (ht_probe(r->h->fd, va, &p)) {
				bad++;
				continue;
			}
			if (!p.flags)
				continue;
			if (ht_probe_selfcheck(&p))
				bad++;
			if (p.flags & HTABLE_PROBE_WRITE)
				f |= HTABLE_MAP_WRITE;
			if (p.flags & HTABLE_PROBE_EXEC)
				f |= HTABLE_MAP_EXEC;
			if (p.flags & HTABLE_PROBE_LOCKED)
				f |= HTABLE_MAP_LOCK;
			if (ht_model_insert(m, va, 1, f, 0, 0))
				return bad + 1;
			m->pg[ht_model_lower(m, va)].pfn = p.pfn;
		}
	}
	return bad;
}
