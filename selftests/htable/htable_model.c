// SPDX-License-Identifier: GPL-2.0
/*
 * The model of a hat (see htable_model.h): what its mappings are, what
 * INFO, PROBE and CHECK must therefore report, and the comparisons.
 */
#include <stdint.h>

#include "htable_model.h"

void ht_model_free(struct ht_model *m)
{
	free(m->pg);
	memset(m, 0, sizeof(*m));
}

/* Open a hat: 0, or -errno (fd is then -1). */
int ht_hat_open(struct ht_hat *h)
{
	memset(h, 0, sizeof(*h));
	h->fd = htable_open_dev();
	if (h->fd < 0)
		return -errno;
	h->levels = htable_levels(h->fd);
	h->limit = htable_va_limit(h->levels);
	return 0;
}

void ht_hat_close(struct ht_hat *h)
{
	ht_model_free(&h->m);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static int ht_cmp_page(const void *a, const void *b)
{
	__u64 x = ((const struct ht_page *)a)->va, y = ((const struct ht_page *)b)->va;

	return x < y ? -1 : x > y;
}

/* Index of the first page at or above @va. */
size_t ht_model_lower(const struct ht_model *m, __u64 va)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->pg[mid].va < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* How many of the @npages pages at @va are mapped (no wrap-around). */
__u64 ht_model_count(const struct ht_model *m, __u64 va, __u64 npages)
{
	__u64 end = va + npages * HT_PAGE_SIZE;

	if (end < va)
		end = ~0ULL;
	return ht_model_lower(m, end) - ht_model_lower(m, va);
}

struct ht_page *ht_model_find(const struct ht_model *m, __u64 va)
{
	size_t i = ht_model_lower(m, va & ~(HT_PAGE_SIZE - 1));

	if (i < m->n && m->pg[i].va == (va & ~(HT_PAGE_SIZE - 1)))
		return &m->pg[i];
	return NULL;
}

/*
 * Record a successful MAP. The range must be unmapped in the model and,
 * with HTABLE_MAP_ALIAS, the alias range mapped: page i takes the pfn of
 * the page at alias_va + (i % alias_npages) pages. Returns 0, or -1 when
 * the model cannot follow (out of memory, or a call the model says fails).
 */
int ht_model_insert(struct ht_model *m, __u64 va, __u64 npages,
		    __u32 flags, __u64 alias_va, __u64 alias_npages)
{
	struct ht_page *asrc = NULL;
	size_t at, i;

	if (ht_model_count(m, va, npages))
		return -1;
	if (flags & HTABLE_MAP_ALIAS) {
		if (!alias_npages || alias_npages > npages)
			return -1;
		/* A copy: the array moves when it grows below. */
		asrc = malloc(alias_npages * sizeof(*asrc));
		if (!asrc)
			return -1;
		/* The pages are sorted and distinct: a run is consecutive. */
		at = ht_model_lower(m, alias_va);
		for (i = 0; i < alias_npages; i++, at++) {
			if (at >= m->n || m->pg[at].va != alias_va + i * HT_PAGE_SIZE) {
				free(asrc);
				return -1;
			}
			asrc[i] = m->pg[at];
		}
	}
	if (m->n + npages > m->cap) {
		size_t cap = m->cap ? m->cap : 64;
		struct ht_page *pg;

		while (cap < m->n + npages)
			cap *= 2;
		pg = realloc(m->pg, cap * sizeof(*pg));
		if (!pg) {
			free(asrc);
			return -1;
		}
		m->pg = pg;
		m->cap = cap;
	}
	at = ht_model_lower(m, va);
	memmove(&m->pg[at + npages], &m->pg[at], (m->n - at) * sizeof(*m->pg));
	for (i = 0; i < npages; i++) {
		struct ht_page *p = &m->pg[at + i];

		memset(p, 0, sizeof(*p));
		p->va = va + i * HT_PAGE_SIZE;
		p->flags = flags & HT_PG_MAPFLAGS;
		if (asrc) {
			const struct ht_page *src = &asrc[i % alias_npages];

			p->flags |= HT_PG_ALIAS;
			p->pfn = src->pfn;
			p->bid = src->bid;
			p->tag = src->tag;
		}
	}
	m->n += npages;
	free(asrc);
	return 0;
}

/* Add every page of @src (disjoint from @dst's) to @dst: 0, or -1. */
int ht_model_merge(struct ht_model *dst, const struct ht_model *src)
{
	size_t i;

	if (dst->n + src->n > dst->cap) {
		struct ht_page *pg = realloc(dst->pg, (dst->n + src->n) * sizeof(*pg));

		if (!pg)
			return -1;
		dst->pg = pg;
		dst->cap = dst->n + src->n;
	}
	memcpy(&dst->pg[dst->n], src->pg, src->n * sizeof(*src->pg));
	dst->n += src->n;
	qsort(dst->pg, dst->n, sizeof(*dst->pg), ht_cmp_page);
	for (i = 1; i < dst->n; i++)
		if (dst->pg[i].va == dst->pg[i - 1].va)
			return -1;
	return 0;
}

/* Record a successful UNMAP of every mapped page in the range. */
void ht_model_remove(struct ht_model *m, __u64 va, __u64 npages)
{
	size_t lo = ht_model_lower(m, va);
	size_t cnt = ht_model_count(m, va, npages);

	memmove(&m->pg[lo], &m->pg[lo + cnt], (m->n - lo - cnt) * sizeof(*m->pg));
	m->n -= cnt;
}

/*
 * What INFO must report for the model's pages, by the table rule:
 *
 *   The top table always exists (tables[levels - 1] == 1). Every other
 *   table exists iff some mapped page lies under it: an empty non-top
 *   table is unlinked (and moved to the hat's cache) when its last page
 *   is unmapped. A level-L table covers 1 << (12 + 9 * (L + 1)) bytes, so
 *   the tables at level L < top are the distinct values of
 *   va >> (12 + 9 * (L + 1)) over the mapped pages.
 *
 *   valid[0] is the number of mapped pages; valid[L] for L >= 1 is the
 *   number of present links to level L - 1 tables, i.e. tables[L - 1].
 *   Every mapped va is recorded as the hat's (owned_pages), aliases too.
 *
 * cached is left 0: what the cache holds is the module's policy.
 */
void ht_model_expect(const struct ht_model *m, int levels,
		     struct htable_info *exp)
{
	ht_model_expect_ext(m, levels, NULL, exp);
}

/* The number of 4 KiB pages in an entry of @level. */
static __u64 ht_level_pages(unsigned int level)
{
	return 1ULL << (9 * level);
}

static int ht_cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * The tables of level @l: the distinct keys va >> shift of the present
 * pages of level <= @l (the pages are sorted, so their keys come in
 * order) merged with the sorted, distinct keys @xk of the extra regions.
 */
static __u64 ht_count_tables(const struct ht_model *m, unsigned int l,
			     const __u64 *xk, size_t nx)
{
	int shift = HT_PAGE_SHIFT + 9 * (l + 1);
	__u64 n = 0, key, last = 0;
	size_t i, j = 0;
	int have = 0;

	for (i = 0; i < m->n; i++) {
		const struct ht_page *p = &m->pg[i];

		if (p->stolen || p->level > l)
			continue;
		key = p->va >> shift;
		if (have && key == last)
			continue;
		for (; j < nx && xk[j] < key; j++)
			n++;
		if (j < nx && xk[j] == key)
			j++;
		n++;
		last = key;
		have = 1;
	}
	return n + (nx - j);
}

void ht_model_expect_ext(const struct ht_model *m, int levels,
			 const struct ht_model_extra *x,
			 struct htable_info *exp)
{
	size_t ntab0 = x ? x->ntab0 : 0, nlink0 = x ? x->nlink0 : 0;
	int top = levels - 1, l;
	__u64 *xk;
	size_t i, nx;

	memset(exp, 0, sizeof(*exp));
	exp->levels = levels;
	exp->tables[top] = 1;
	for (i = 0; i < m->n; i++) {
		const struct ht_page *p = &m->pg[i];
		__u64 npg = ht_level_pages(p->level);

		if (p->stolen)
			continue;
		exp->mapped_pages++;
		/* A large entry counts once, at the first page of its block. */
		if ((p->va >> HT_PAGE_SHIFT) & (npg - 1))
			continue;
		exp->valid[p->level]++;
		if (p->flags & HTABLE_MAP_LOCK)
			exp->locked++;
	}
	exp->owned_pages = m->n;
	xk = malloc((ntab0 + nlink0 + 1) * sizeof(*xk));
	for (l = 0; l < top; l++) {
		int shift = HT_PAGE_SHIFT + 9 * (l + 1);

		nx = 0;
		for (i = 0; xk && i < ntab0; i++)
			xk[nx++] = x->tab0[i] >> shift;
		for (i = 0; xk && l >= 1 && i < nlink0; i++)
			xk[nx++] = x->link0[i] >> shift;
		if (nx)
			qsort(xk, nx, sizeof(*xk), ht_cmp_u64);
		for (i = 1; i < nx; ) {
			if (xk[i] == xk[i - 1])
				memmove(&xk[i], &xk[i + 1], (--nx - i) * sizeof(*xk));
			else
				i++;
		}
		exp->tables[l] = ht_count_tables(m, l, xk, nx);
	}
	free(xk);
	for (l = 1; l <= top; l++)
		exp->valid[l] += exp->tables[l - 1] + (l == 1 ? nlink0 : 0);
}

size_t ht_model_entry(const struct ht_model *m, size_t i, size_t *n)
{
	__u64 npg = ht_level_pages(m->pg[i].level);
	size_t off = (m->pg[i].va >> HT_PAGE_SHIFT) & (npg - 1);

	/* The pages of one entry are all in the model, one after another. */
	*n = npg;
	return i - off;
}

static int ht_field_diff(const char *name, __u64 exp, __u64 got)
{
	if (exp == got)
		return 0;
	fprintf(stderr, "# INFO %s: expected %llu, got %llu\n", name, exp, got);
	return 1;
}

/*
 * Print every field of @got that differs from @exp and return how many
 * did. cached is compared only when @with_cached.
 */
int ht_info_diff(const struct htable_info *exp,
		 const struct htable_info *got, int with_cached)
{
	int l, bad = 0;

	bad += ht_field_diff("levels", exp->levels, got->levels);
	bad += ht_field_diff("reserved0", 0, got->reserved0);
	for (l = 0; l < HTABLE_MAX_LEVELS; l++) {
		char name[16];

		snprintf(name, sizeof(name), "tables[%d]", l);
		bad += ht_field_diff(name, exp->tables[l], got->tables[l]);
		snprintf(name, sizeof(name), "valid[%d]", l);
		bad += ht_field_diff(name, exp->valid[l], got->valid[l]);
	}
	bad += ht_field_diff("locked", exp->locked, got->locked);
	bad += ht_field_diff("mapped_pages", exp->mapped_pages, got->mapped_pages);
	bad += ht_field_diff("owned_pages", exp->owned_pages, got->owned_pages);
	if (with_cached)
		bad += ht_field_diff("cached", exp->cached, got->cached);
	return bad;
}

/*
 * Run CHECK: it must find no error, and (given the INFO taken in the same
 * quiet state) visit exactly the tables and entries INFO counts.
 */
int ht_verify_check(int fd, const struct htable_info *info)
{
	struct htable_check c;
	__u64 tables = 0, entries = 0;
	int l, err, bad = 0;

	err = ht_check(fd, &c);
	if (err) {
		fprintf(stderr, "# CHECK failed: %s\n", strerror(-err));
		return 1;
	}
	if (c.errors || c.first_error != HTABLE_CHECK_OK) {
		fprintf(stderr, "# CHECK: %llu errors, first %u at va %#llx\n",
			c.errors, c.first_error, c.first_va);
		bad++;
	}
	if (c.reserved0) {
		fprintf(stderr, "# CHECK: reserved0 %u\n", c.reserved0);
		bad++;
	}
	if (!info)
		return bad;
	for (l = 0; l < HTABLE_MAX_LEVELS; l++) {
		tables += info->tables[l];
		entries += info->valid[l];
	}
	if (c.tables != tables || c.entries != entries) {
		fprintf(stderr, "# CHECK visited %llu tables, %llu entries; INFO has %llu, %llu\n",
			c.tables, c.entries, tables, entries);
		bad++;
	}
	return bad;
}

/* Compare INFO with the model (cached aside), then CHECK. */
int ht_verify_info(int fd, const struct ht_model *m, int levels,
		   struct htable_info *out)
{
	struct htable_info exp, got;
	int err, bad;

	err = ht_info(fd, &got);
	if (err) {
		fprintf(stderr, "# INFO failed: %s\n", strerror(-err));
		return 1;
	}
	ht_model_expect(m, levels, &exp);
	bad = ht_info_diff(&exp, &got, 0);
	bad += ht_verify_check(fd, &got);
	if (out)
		*out = got;
	return bad;
}

/* The PROBE flags a page mapped with @mflags must show (hardware bits aside). */
__u32 ht_probe_flags(__u32 mflags)
{
	__u32 f = HTABLE_PROBE_PRESENT | HTABLE_PROBE_OWNED;

	if (mflags & HTABLE_MAP_WRITE)
		f |= HTABLE_PROBE_WRITE;
	if (mflags & HTABLE_MAP_EXEC)
		f |= HTABLE_PROBE_EXEC;
	if (mflags & HTABLE_MAP_LOCK)
		f |= HTABLE_PROBE_LOCKED;
	return f;
}

/*
 * Check a PROBE result that claims a translation against its own raw PTE:
 * present, RW as WRITE, NX as !EXEC, never User or Global, the pfn field
 * equal to pfn, and level 0.
 */
int ht_probe_selfcheck(const struct htable_probe *p)
{
	__u64 pte = p->pte;
	int bad = 0;

	if (p->level != 0)
		bad++;
	if (!(pte & HT_PTE_P))
		bad++;
	if (!!(pte & HT_PTE_RW) != !!(p->flags & HTABLE_PROBE_WRITE))
		bad++;
	if (!!(pte & HT_PTE_NX) != !(p->flags & HTABLE_PROBE_EXEC))
		bad++;
	if (pte & (HT_PTE_US | HT_PTE_G))
		bad++;
	if (HT_PTE_PFN(pte) != p->pfn || !p->pfn)
		bad++;
	if (bad)
		fprintf(stderr, "# PROBE va %#llx: flags %#x level %u pfn %#llx pte %#llx wrong\n",
			p->va, p->flags, p->level, p->pfn, pte);
	return bad;
}

int ht_probe_selfcheck_level(const struct htable_probe *p)
{
	__u64 pte = p->pte, npg, base;
	int bad = 0;

	if (p->level > 2)
		bad++;
	npg = ht_level_pages(p->level > 2 ? 0 : p->level);
	base = HT_PTE_PFN(pte);
	if (!(pte & HT_PTE_P))
		bad++;
	if (!!(pte & HT_PTE_RW) != !!(p->flags & HTABLE_PROBE_WRITE))
		bad++;
	if (!!(pte & HT_PTE_NX) != !(p->flags & HTABLE_PROBE_EXEC))
		bad++;
	if (!!(pte & HT_PTE_LOCK) != !!(p->flags & HTABLE_PROBE_LOCKED))
		bad++;
	if (!!(pte & HT_PTE_A) != !!(p->flags & HTABLE_PROBE_ACCESSED))
		bad++;
	if (!!(pte & HT_PTE_D) != !!(p->flags & HTABLE_PROBE_DIRTY))
		bad++;
	if (pte & (HT_PTE_US | HT_PTE_G))
		bad++;
	if (!!(pte & HT_PTE_PS) != !!p->level)
		bad++;
	if ((base & (npg - 1)) || !p->pfn ||
	    p->pfn != base + ((p->va >> HT_PAGE_SHIFT) & (npg - 1)))
		bad++;
	if (bad)
		fprintf(stderr, "# PROBE va %#llx: flags %#x level %u pfn %#llx pte %#llx wrong\n",
			p->va, p->flags, p->level, p->pfn, pte);
	return bad;
}

int ht_verify_probe_flags(int fd, __u64 va, const struct ht_page *pg)
{
	struct htable_probe p;
	__u32 want;
	int err;

	err = ht_probe(fd, va, &p);
	if (err) {
		fprintf(stderr, "# PROBE va %#llx failed: %s\n", va, strerror(-err));
		return 1;
	}
	if (!pg) {
		if (p.flags || p.level || p.pfn || p.pte) {
			fprintf(stderr, "# PROBE va %#llx: hole shows flags %#x pfn %#llx\n",
				va, p.flags, p.pfn);
			return 1;
		}
		return 0;
	}
	want = ht_probe_flags(pg->flags);
	if ((p.flags & ~HT_PROBE_HW) != want || p.level != pg->level) {
		fprintf(stderr, "# PROBE va %#llx: flags %#x level %u, expected %#x level %u\n",
			va, p.flags, p.level, want, pg->level);
		return 1;
	}
	return ht_probe_selfcheck_level(&p) ? 1 : 0;
}

int ht_tag_read(int fd, __u64 va, __u64 *tag)
{
	return ht_rw(fd, (va & ~(HT_PAGE_SIZE - 1)) + HT_TAG_OFF, tag,
		     sizeof(*tag), 0);
}

int ht_tag_write(int fd, __u64 va, __u64 tag)
{
	return ht_rw(fd, (va & ~(HT_PAGE_SIZE - 1)) + HT_TAG_OFF, &tag,
		     sizeof(tag), HTABLE_RW_WRITE);
}

/* splitmix64 of a distinct input per @n: a bijection, so distinct tags. */
__u64 ht_tag_make(__u64 salt, __u64 n)
{
	__u64 x = salt + n * 0x9E3779B97F4A7C15ULL;

	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	x ^= x >> 31;
	return x ? x : 0x5441470a5441470aULL;
}

int ht_model_write_tags(int fd, struct ht_model *m, __u64 va, __u64 npages,
			__u64 salt, __u64 *next)
{
	size_t i = ht_model_lower(m, va);
	__u64 end = va + npages * HT_PAGE_SIZE, tag;
	int err, bad = 0;

	for (; i < m->n && m->pg[i].va < end; i++) {
		if (m->pg[i].flags & HT_PG_ALIAS)
			continue;
		tag = ht_tag_make(salt, (*next)++);
		err = ht_tag_write(fd, m->pg[i].va, tag);
		if (err) {
			fprintf(stderr, "# RW tag into va %#llx: %s\n", m->pg[i].va,
				strerror(-err));
			bad++;
			continue;
		}
		m->pg[i].tag = tag;
	}
	return bad;
}

int ht_verify_tags(int fd, const struct ht_model *m, __u64 va, __u64 npages,
		   size_t stride)
{
	size_t i = ht_model_lower(m, va), j;
	__u64 end = va + npages * HT_PAGE_SIZE, tag;
	int err, bad = 0;

	for (j = 0; i < m->n && m->pg[i].va < end && bad < 20; i++, j++) {
		const struct ht_page *p = &m->pg[i];
		int last = i + 1 == m->n || m->pg[i + 1].va >= end;

		if (stride > 1 && j % stride && !last)
			continue;
		tag = ~p->tag;
		err = ht_tag_read(fd, p->va, &tag);
		if (err || tag != p->tag) {
			fprintf(stderr, "# tag of va %#llx: %s %#llx, expected %#llx%s\n",
				p->va, err ? strerror(-err) : "read", tag, p->tag,
				p->flags & HT_PG_ALIAS ? " (alias)" : "");
			bad++;
		}
	}
	return bad;
}

/*
 * PROBE @va (any offset in its page) and compare with @pg, the model's
 * page, or with a hole when @pg is NULL. A page whose model pfn is still 0
 * learns it here.
 */
int ht_verify_probe(int fd, __u64 va, struct ht_page *pg)
{
	struct htable_probe p;
	__u32 want;
	int err;

	err = ht_probe(fd, va, &p);
	if (err) {
		fprintf(stderr, "# PROBE va %#llx failed: %s\n", va, strerror(-err));
		return 1;
	}
	if (!pg) {
		if (p.flags) {
			fprintf(stderr, "# PROBE va %#llx: hole shows flags %#x pfn %#llx\n",
				va, p.flags, p.pfn);
			return 1;
		}
		return 0;
	}
	want = ht_probe_flags(pg->flags);
	if ((p.flags & ~HT_PROBE_HW) != want) {
		fprintf(stderr, "# PROBE va %#llx: flags %#x, expected %#x\n",
			va, p.flags, want);
		return 1;
	}
	if (ht_probe_selfcheck(&p))
		return 1;
	if (!pg->pfn)
		pg->pfn = p.pfn;
	if (p.pfn != pg->pfn) {
		fprintf(stderr, "# PROBE va %#llx: pfn %#llx, expected %#llx%s\n",
			va, p.pfn, pg->pfn,
			pg->flags & HT_PG_ALIAS ? " (alias)" : "");
		return 1;
	}
	return 0;
}

/* PROBE every page of a range the model holds, learning their pfns. */
int ht_model_learn(int fd, struct ht_model *m, __u64 va, __u64 npages)
{
	size_t i = ht_model_lower(m, va);
	__u64 end = va + npages * HT_PAGE_SIZE;
	int bad = 0;

	for (; i < m->n && m->pg[i].va < end; i++)
		bad += ht_verify_probe(fd, m->pg[i].va, &m->pg[i]);
	return bad;
}

/*
 * Fresh pages must each have their own backing page: the learned pfns of
 * the pages not mapped with HTABLE_MAP_ALIAS are distinct.
 */
int ht_model_distinct_pfns(const struct ht_model *m)
{
	__u64 *pfn;
	size_t i, n = 0;
	int bad = 0;

	pfn = malloc((m->n + 1) * sizeof(*pfn));
	if (!pfn)
		return 1;
	for (i = 0; i < m->n; i++)
		if (!(m->pg[i].flags & HT_PG_ALIAS) && m->pg[i].pfn)
			pfn[n++] = m->pg[i].pfn;
	qsort(pfn, n, sizeof(*pfn), ht_cmp_u64);
	for (i = 1; i < n; i++) {
		if (pfn[i] == pfn[i - 1]) {
			fprintf(stderr, "# pfn %#llx backs two fresh pages\n", pfn[i]);
			bad++;
		}
	}
	free(pfn);
	return bad;
}

/*
 * Compare the hat with the model: INFO and CHECK, PROBE of the model's
 * pages (every page when @stride <= 1, else the first and last, every
 * @stride-th and those at or just below a 2 MiB boundary), and PROBE of
 * the hole just before and just after every run of mapped pages.
 */
int ht_verify_model(int fd, struct ht_model *m, int levels, size_t stride)
{
	__u64 limit = htable_va_limit(levels);
	int bad;
	size_t i;

	bad = ht_verify_info(fd, m, levels, NULL);
	for (i = 0; i < m->n; i++) {
		struct ht_page *p = &m->pg[i];
		__u64 in2m = p->va & (HT_SZ_2M - 1);
		int run_start = !i || m->pg[i - 1].va != p->va - HT_PAGE_SIZE;
		int run_end = i == m->n - 1 || m->pg[i + 1].va != p->va + HT_PAGE_SIZE;

		if (stride <= 1 || !(i % stride) || i == m->n - 1 || run_start ||
		    run_end || !in2m || in2m == HT_SZ_2M - HT_PAGE_SIZE)
			bad += ht_verify_probe(fd, p->va + (i % 7) * 0x231, p);
		if (run_start && p->va)
			bad += ht_verify_probe(fd, p->va - HT_PAGE_SIZE, NULL);
		if (run_end && p->va + HT_PAGE_SIZE < limit)
			bad += ht_verify_probe(fd, p->va + HT_PAGE_SIZE, NULL);
		if (bad > 20) {
			fprintf(stderr, "# too many differences, stopping\n");
			break;
		}
	}
	return bad + ht_model_distinct_pfns(m);
}
