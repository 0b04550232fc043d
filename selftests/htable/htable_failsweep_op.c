// SPDX-License-Identifier: GPL-2.0
/*
 * What the op cases of htable_failsweep_test read and compare: fail_hits
 * of every site, the tag this test writes into word 1 of a page, the vas
 * a snapshot covers, snapshots of a hat and what differs between two, and
 * the state of the pages an operation worked on.
 */
#include "htable_failsweep.h"

int sweep_read_hits(struct hits *h)
{
	int site;

	for (site = 0; site < SITES; site++)
		if (htable_fail_hits(site, &h->calls[site], &h->failed[site]))
			return -1;
	return 0;
}

__u64 sweep_word1(int fd, __u64 va)
{
	__u64 v;
	struct htable_rw r = {
		.va = va + 8, .buf = (uintptr_t)&v, .len = 8,
	};

	return ht_ioctl(fd, HTABLE_IOC_RW, &r) ? ~0ULL : v;
}

/* Write this test's tag into word 1 of each of @n pages at @va. */
int sweep_put_tags(int fd, __u64 va, __u64 n)
{
	__u64 i, v;
	int ret;

	for (i = 0; i < n; i++) {
		struct htable_rw r = {
			.va = va + i * HT_PAGE_SIZE + 8, .buf = (uintptr_t)&v,
			.len = 8, .flags = HTABLE_RW_WRITE,
		};

		v = WTAG(va + i * HT_PAGE_SIZE);
		ret = ht_ioctl(fd, HTABLE_IOC_RW, &r);
		if (ret)
			return ret;
	}
	return 0;
}

void sweep_add_va(struct opsweep *o, int k, __u64 va)
{
	if (o->nva[k] < SNAP_MAX)
		o->va[k][o->nva[k]++] = va;
}

/* The first, second, last pages of a run and the holes around it. */
void sweep_add_run(struct opsweep *o, int k, __u64 va, __u64 n)
{
	sweep_add_va(o, k, va - HT_PAGE_SIZE);
	sweep_add_va(o, k, va);
	if (n > 1)
		sweep_add_va(o, k, va + HT_PAGE_SIZE);
	if (n > 2)
		sweep_add_va(o, k, va + (n - 1) * HT_PAGE_SIZE);
	sweep_add_va(o, k, va + n * HT_PAGE_SIZE);
}

int sweep_snap_take(int fd, const __u64 *va, int n, struct hsnap *s)
{
	int i, bad = 0;

	memset(s, 0, sizeof(*s));
	bad += !!ht_info(fd, &s->info);
	bad += !!ht_check(fd, &s->check);
	s->n = n;
	for (i = 0; i < n; i++) {
		bad += !!ht_probe(fd, va[i], &s->p[i]);
		s->word[i] = sweep_word1(fd, va[i]);
	}
	return bad;
}

/* What differs between two snapshots of one hat, printed; the count. */
int sweep_snap_diff(const struct hsnap *a, const struct hsnap *b)
{
	int i, bad = 0;
	size_t l;

	if (b->check.errors) {
		fprintf(stderr, "# CHECK: %llu errors, first %u at %#llx\n",
			b->check.errors, b->check.first_error, b->check.first_va);
		bad++;
	}
	if (a->check.tables != b->check.tables || a->check.entries != b->check.entries) {
		fprintf(stderr, "# CHECK tables/entries %llu/%llu, then %llu/%llu\n",
			a->check.tables, a->check.entries, b->check.tables,
			b->check.entries);
		bad++;
	}
	for (l = 0; l < HTABLE_MAX_LEVELS; l++) {
		if (a->info.tables[l] != b->info.tables[l] ||
		    a->info.valid[l] != b->info.valid[l]) {
			fprintf(stderr, "# INFO level %zu: tables %llu valid %llu, now %llu %llu\n",
				l, a->info.tables[l], a->info.valid[l],
				b->info.tables[l], b->info.valid[l]);
			bad++;
		}
	}
	if (a->info.locked != b->info.locked || a->info.mapped_pages != b->info.mapped_pages ||
	    a->info.owned_pages != b->info.owned_pages) {
		fprintf(stderr, "# INFO locked/mapped/owned %llu/%llu/%llu, then %llu/%llu/%llu\n",
			a->info.locked, a->info.mapped_pages, a->info.owned_pages,
			b->info.locked, b->info.mapped_pages, b->info.owned_pages);
		bad++;
	}
	for (i = 0; i < a->n && i < b->n; i++) {
		const struct htable_probe *p = &a->p[i], *q = &b->p[i];

		if (memcmp(p, q, sizeof(*p)) && bad < 12) {
			fprintf(stderr, "# PROBE %#llx flags %#x level %u pfn %#llx,",
				p->va, p->flags, p->level, p->pfn);
			fprintf(stderr, " then %#x %u %#llx\n", q->flags, q->level, q->pfn);
		}
		bad += !!memcmp(p, q, sizeof(*p));
		if (a->word[i] != b->word[i]) {
			fprintf(stderr, "# word 1 of %#llx: %#llx, then %#llx\n", p->va,
				a->word[i], b->word[i]);
			bad++;
		}
	}
	return bad;
}

long long sweep_sum(const long long *v)
{
	long long n = 0;
	int i;

	for (i = 0; i < SITES; i++)
		n += v[i];
	return n;
}

/* PROBE @va: present at @level and self-consistent; the pfn, or 0. */
__u64 sweep_pfn_level(int fd, __u64 va, __u32 level)
{
	struct htable_probe p;

	if (ht_probe(fd, va, &p) || !(p.flags & HTABLE_PROBE_PRESENT) || p.level != level ||
	    HT_PTE_PFN(p.pte) & ((1ULL << (9 * level)) - 1) ||
	    p.pfn != HT_PTE_PFN(p.pte) + ((va & ((HT_PAGE_SIZE << (9 * level)) - 1)) >> 12)) {
		fprintf(stderr, "# %#llx: flags %#x level %u (want %u) pte %#llx pfn %#llx\n",
			va, p.flags, p.level, level, p.pte, p.pfn);
		return 0;
	}
	return p.pfn;
}

int sweep_absent(int fd, __u64 va)
{
	struct htable_probe p;

	return !ht_probe(fd, va, &p) && !p.flags;
}

/*
 * The pages of [va, +n) all present at @level, their pfns @pfn0 + i,
 * their tags as sweep_put_tags() wrote them: the number that are not.
 */
int sweep_pages_intact(int fd, __u64 va, __u64 n, __u32 level, __u64 pfn0)
{
	int bad = 0;
	__u64 i;

	for (i = 0; i < n; i++) {
		__u64 v = va + i * HT_PAGE_SIZE;

		bad += sweep_pfn_level(fd, v, level) != pfn0 + i;
		bad += sweep_word1(fd, v) != WTAG(v);
	}
	return bad;
}

/* The tags of [va, +n) as sweep_put_tags() wrote them: the number that are not. */
int sweep_tags_intact(int fd, __u64 va, __u64 n)
{
	int bad = 0;
	__u64 i;

	for (i = 0; i < n; i++)
		bad += sweep_word1(fd, va + i * HT_PAGE_SIZE) != WTAG(va + i * HT_PAGE_SIZE);
	return bad;
}
