// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots for htable_badinput_test and htable_badinput_map_test: what
 * a refused request must leave as it was (INFO, CHECK, and PROBE of the
 * model's pages, their neighbours and the ends of the request's ranges),
 * and what differs between two.
 */
#include "htable_badinput.h"

static void add_probe(struct snap *s, __u64 va)
{
	if (s->nprobe < MAX_PROBES)
		s->probe[s->nprobe++].va = va;
}

/* Up to @ends pages from each end of the range that lie in the lower half. */
static void add_range(struct snap *s, const struct ht_hat *h, __u64 va, __u64 npages,
		      __u64 ends)
{
	__u64 i, end;

	va &= ~(HT_PAGE_SIZE - 1);
	for (i = 0; i < ends && i < npages && va + i * HT_PAGE_SIZE < h->limit; i++)
		add_probe(s, va + i * HT_PAGE_SIZE);
	if (npages > HTABLE_MAX_NPAGES || va >= h->limit)
		return;
	end = va + npages * HT_PAGE_SIZE;
	if (end > h->limit)
		end = h->limit;
	for (i = 1; i <= ends && end - i * HT_PAGE_SIZE > va; i++)
		add_probe(s, end - i * HT_PAGE_SIZE);
}

/*
 * INFO, CHECK and PROBE of the model's pages (and their neighbours, with
 * @ends 32), and @ends pages at both ends of [va, +npages) and of
 * [ava, +an).
 */
int bad_take_at(const struct ht_hat *h, __u64 va, __u64 npages, __u64 ava,
		__u64 an, __u64 ends, struct snap *s)
{
	size_t i;
	int k, bad = 0;

	memset(s, 0, sizeof(*s));
	bad += !!ht_info(h->fd, &s->info);
	bad += !!ht_check(h->fd, &s->check);
	bad += !!s->check.errors;
	for (i = 0; i < h->m.n; i++) {
		if (h->m.pg[i].va && ends == 32)
			add_probe(s, h->m.pg[i].va - HT_PAGE_SIZE);
		add_probe(s, h->m.pg[i].va);
		if (h->m.pg[i].va + HT_PAGE_SIZE < h->limit && ends == 32)
			add_probe(s, h->m.pg[i].va + HT_PAGE_SIZE);
	}
	if (npages)
		add_range(s, h, va, npages, ends);
	if (an)
		add_range(s, h, ava, an, ends);
	for (k = 0; k < s->nprobe; k++)
		bad += !!ht_probe(h->fd, s->probe[k].va, &s->probe[k]);
	return bad;
}

/* The same, for the pages of a refused MAP or UNMAP @c (or none). */
int bad_take(const struct ht_hat *h, const struct bad_case *c, struct snap *s)
{
	if (!c)
		return bad_take_at(h, 0, 0, 0, 0, 32, s);
	return bad_take_at(h, c->m.va, c->m.npages, c->m.alias_va, c->m.alias_npages, 32, s);
}

/*
 * What differs between two snapshots. INFO must be identical, the cache
 * included, unless @any_cached: a request refused only once the module
 * looked at the tables (EEXIST, ENOENT) may have moved tables it built
 * for the request into the cache.
 */
int bad_diff(const struct snap *a, const struct snap *b, int any_cached)
{
	int k, bad = ht_info_diff(&a->info, &b->info, !any_cached);

	if (memcmp(&a->check, &b->check, sizeof(a->check))) {
		fprintf(stderr, "# CHECK errors/tables/entries %llu %llu %llu,",
			a->check.errors, a->check.tables, a->check.entries);
		fprintf(stderr, " then %llu %llu %llu\n",
			b->check.errors, b->check.tables, b->check.entries);
		bad++;
	}
	for (k = 0; k < a->nprobe && k < b->nprobe; k++) {
		const struct htable_probe *p = &a->probe[k], *q = &b->probe[k];

		if (memcmp(p, q, sizeof(*p))) {
			fprintf(stderr, "# PROBE %#llx flags/pfn/pte %#x %#llx %#llx,",
				p->va, p->flags, p->pfn, p->pte);
			fprintf(stderr, " then %#x %#llx %#llx\n", q->flags, q->pfn, q->pte);
			bad++;
		}
	}
	return bad;
}
