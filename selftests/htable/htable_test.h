/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by htable's selftests: opening the device (or skipping
 * when the module is absent), reading debugfs counters and tunables, thin
 * wrappers around the ioctls, and a model of one hat's mappings that
 * predicts what INFO, PROBE and CHECK must report.
 *
 * The helpers never use the harness's ASSERT/EXPECT (some run in threads
 * and forked children): they print what differs, prefixed with "# ", and
 * return how many things differed, so a test asserts on that number.
 */
#ifndef _HTABLE_TEST_H
#define _HTABLE_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/const.h>

#include <uapi/htable.h>

#define HTABLE_STATS_PATH "/sys/kernel/debug/htable/stats"
#define HTABLE_FAIL_NTH_PATH "/sys/kernel/debug/htable/fail_nth"
#define HTABLE_FORCE_RESERVE_PATH "/sys/kernel/debug/htable/force_reserve"
#define HTABLE_RESERVE_AMOUNT_PATH "/sys/module/htable/parameters/reserve_amount"
#define HTABLE_RESERVE_DEFAULT 200

#define HT_PAGE_SHIFT	12
#define HT_PAGE_SIZE	_BITULL(HT_PAGE_SHIFT)
#define HT_SZ_2M	_BITULL(21)
#define HT_SZ_1G	_BITULL(30)
#define HT_SZ_512G	_BITULL(39)
#define HT_SZ_256T	_BITULL(48)

/* Raw x86-64 PTE bits the tests check independently of PROBE's flags. */
#define HT_PTE_P	_BITULL(0)
#define HT_PTE_RW	_BITULL(1)
#define HT_PTE_US	_BITULL(2)
#define HT_PTE_G	_BITULL(8)
#define HT_PTE_NX	_BITULL(63)
#define HT_PTE_PFN(pte)	(((pte) >> 12) & ((1ULL << 40) - 1))

/* PROBE flags set by hardware use; the tests never depend on them. */
#define HT_PROBE_HW	(HTABLE_PROBE_ACCESSED | HTABLE_PROBE_DIRTY)

/* An ioctl succeeded or failed but its out fields say otherwise. */
#define HT_BADOUT	(-100000)

/*
 * Open /dev/htable. Returns the fd, or -1 with errno set (ENOENT when the
 * module is not loaded, which tests turn into a SKIP).
 */
static inline int htable_open_dev(void)
{
	return open(HTABLE_DEV_PATH, O_RDWR | O_CLOEXEC);
}

/* Read one counter from debugfs stats; -1 when it is missing. */
static inline long long htable_stat(const char *name)
{
	char key[128];
	long long val, found = -1;
	FILE *f = fopen(HTABLE_STATS_PATH, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			found = val;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Write a decimal value to a debugfs or sysfs tunable: 0 or -errno. */
static inline int htable_knob_write(const char *path, long long val)
{
	char buf[32];
	int fd, len, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%lld\n", val);
	if (write(fd, buf, len) != len)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

/* Read a decimal tunable; -1 when it cannot be read. */
static inline long long htable_knob_read(const char *path)
{
	char buf[32];
	char *end;
	long long val;
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	val = strtoll(buf, &end, 0);
	if (end == buf)
		return -1;
	return val;
}

/* The paging levels of the hat behind @fd (VERSION), or -errno. */
static inline int htable_levels(int fd)
{
	struct htable_version v;

	memset(&v, 0, sizeof(v));
	if (ioctl(fd, HTABLE_IOC_VERSION, &v))
		return -errno;
	return v.levels;
}

/* The end of the mappable lower canonical half for @levels. */
static inline __u64 htable_va_limit(int levels)
{
	return 1ULL << (levels == 5 ? 56 : 47);
}

/*
 * ioctl wrappers: 0 on success, -errno on failure, HT_BADOUT when the
 * result and the out fields disagree (mapped must be npages on success
 * and 0 on error; unmapped must be npages on success).
 */
static inline int ht_map_req(int fd, struct htable_map *m)
{
	__u64 want = m->npages;
	int err;

	m->mapped = 0;
	if (ioctl(fd, HTABLE_IOC_MAP, m)) {
		err = errno;
		if (m->mapped) {
			fprintf(stderr, "# MAP va %#llx failed (%s) but mapped %llu\n",
				m->va, strerror(err), m->mapped);
			return HT_BADOUT;
		}
		return -err;
	}
	if (m->mapped != want) {
		fprintf(stderr, "# MAP va %#llx npages %llu: mapped %llu\n",
			m->va, want, m->mapped);
		return HT_BADOUT;
	}
	return 0;
}

static inline int ht_map_alias(int fd, __u64 va, __u64 npages, __u32 flags,
			       __u64 alias_va, __u64 alias_npages)
{
	struct htable_map m = {
		.va = va,
		.npages = npages,
		.flags = flags,
		.alias_va = alias_va,
		.alias_npages = alias_npages,
	};

	return ht_map_req(fd, &m);
}

static inline int ht_map(int fd, __u64 va, __u64 npages, __u32 flags)
{
	return ht_map_alias(fd, va, npages, flags, 0, 0);
}

static inline int ht_unmap_req(int fd, struct htable_unmap *u)
{
	__u64 want = u->npages;

	u->unmapped = 0;
	if (ioctl(fd, HTABLE_IOC_UNMAP, u))
		return -errno;
	if (u->unmapped != want) {
		fprintf(stderr, "# UNMAP va %#llx npages %llu: unmapped %llu\n",
			u->va, want, u->unmapped);
		return HT_BADOUT;
	}
	return 0;
}

static inline int ht_unmap(int fd, __u64 va, __u64 npages)
{
	struct htable_unmap u = { .va = va, .npages = npages };

	return ht_unmap_req(fd, &u);
}

static inline int ht_probe(int fd, __u64 va, struct htable_probe *p)
{
	memset(p, 0xa5, sizeof(*p));
	p->va = va;
	if (ioctl(fd, HTABLE_IOC_PROBE, p))
		return -errno;
	return 0;
}

static inline int ht_info(int fd, struct htable_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	if (ioctl(fd, HTABLE_IOC_INFO, info))
		return -errno;
	return 0;
}

static inline int ht_check(int fd, struct htable_check *c)
{
	memset(c, 0xa5, sizeof(*c));
	if (ioctl(fd, HTABLE_IOC_CHECK, c))
		return -errno;
	return 0;
}

/* xorshift64*: the same sequence on every libc, so a seed replays. */
static inline __u64 ht_rand(__u64 *state)
{
	__u64 x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* A value in [0, n). */
static inline __u64 ht_rand_below(__u64 *state, __u64 n)
{
	return n ? ht_rand(state) % n : 0;
}

/* The seed from $HTABLE_SEED, else a fresh one; never zero. */
static inline __u64 ht_seed(void)
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

/* Seconds on the monotonic clock, for time-bounded loops. */
static inline double ht_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The model: every mapped page of one hat, sorted by va. flags holds the
 * HTABLE_MAP_WRITE/EXEC/LOCK bits the page was mapped with, plus
 * HT_PG_ALIAS when it shares another page's backing page; pfn is what
 * PROBE reported (0 until learned: the model cannot know it beforehand).
 */
#define HT_PG_ALIAS	0x80000000U
#define HT_PG_MAPFLAGS	(HTABLE_MAP_WRITE | HTABLE_MAP_EXEC | HTABLE_MAP_LOCK)

struct ht_page {
	__u64 va;
	__u64 pfn;
	__u32 flags;
};

struct ht_model {
	struct ht_page *pg;
	size_t n;
	size_t cap;
};

static inline void ht_model_free(struct ht_model *m)
{
	free(m->pg);
	memset(m, 0, sizeof(*m));
}

/* One open hat and the model of its mappings. */
struct ht_hat {
	int fd;
	int levels;
	__u64 limit;
	struct ht_model m;
};

/* Open a hat: 0, or -errno (fd is then -1). */
static inline int ht_hat_open(struct ht_hat *h)
{
	memset(h, 0, sizeof(*h));
	h->fd = htable_open_dev();
	if (h->fd < 0)
		return -errno;
	h->levels = htable_levels(h->fd);
	h->limit = htable_va_limit(h->levels);
	return 0;
}

static inline void ht_hat_close(struct ht_hat *h)
{
	ht_model_free(&h->m);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static inline int ht_cmp_page(const void *a, const void *b)
{
	__u64 x = ((const struct ht_page *)a)->va, y = ((const struct ht_page *)b)->va;

	return x < y ? -1 : x > y;
}

/* Index of the first page at or above @va. */
static inline size_t ht_model_lower(const struct ht_model *m, __u64 va)
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
static inline __u64 ht_model_count(const struct ht_model *m, __u64 va, __u64 npages)
{
	__u64 end = va + npages * HT_PAGE_SIZE;

	if (end < va)
		end = ~0ULL;
	return ht_model_lower(m, end) - ht_model_lower(m, va);
}

static inline struct ht_page *ht_model_find(const struct ht_model *m, __u64 va)
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
static inline int ht_model_insert(struct ht_model *m, __u64 va, __u64 npages,
				  __u32 flags, __u64 alias_va, __u64 alias_npages)
{
	__u64 *apfn = NULL;
	size_t at, i;

	if (ht_model_count(m, va, npages))
		return -1;
	if (flags & HTABLE_MAP_ALIAS) {
		if (!alias_npages || alias_npages > npages)
			return -1;
		apfn = malloc(alias_npages * sizeof(*apfn));
		if (!apfn)
			return -1;
		for (i = 0; i < alias_npages; i++) {
			struct ht_page *src = ht_model_find(m, alias_va + i * HT_PAGE_SIZE);

			if (!src) {
				free(apfn);
				return -1;
			}
			apfn[i] = src->pfn;
		}
	}
	if (m->n + npages > m->cap) {
		size_t cap = m->cap ? m->cap : 64;
		struct ht_page *pg;

		while (cap < m->n + npages)
			cap *= 2;
		pg = realloc(m->pg, cap * sizeof(*pg));
		if (!pg) {
			free(apfn);
			return -1;
		}
		m->pg = pg;
		m->cap = cap;
	}
	at = ht_model_lower(m, va);
	memmove(&m->pg[at + npages], &m->pg[at], (m->n - at) * sizeof(*m->pg));
	for (i = 0; i < npages; i++) {
		struct ht_page *p = &m->pg[at + i];

		p->va = va + i * HT_PAGE_SIZE;
		p->flags = flags & HT_PG_MAPFLAGS;
		p->pfn = 0;
		if (apfn) {
			p->flags |= HT_PG_ALIAS;
			p->pfn = apfn[i % alias_npages];
		}
	}
	m->n += npages;
	free(apfn);
	return 0;
}

/* Add every page of @src (disjoint from @dst's) to @dst: 0, or -1. */
static inline int ht_model_merge(struct ht_model *dst, const struct ht_model *src)
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
static inline void ht_model_remove(struct ht_model *m, __u64 va, __u64 npages)
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
static inline void ht_model_expect(const struct ht_model *m, int levels,
				   struct htable_info *exp)
{
	int top = levels - 1, l;
	size_t i;

	memset(exp, 0, sizeof(*exp));
	exp->levels = levels;
	exp->tables[top] = 1;
	for (l = 0; l < top; l++) {
		int shift = HT_PAGE_SHIFT + 9 * (l + 1);

		for (i = 0; i < m->n; i++)
			if (!i || (m->pg[i].va >> shift) != (m->pg[i - 1].va >> shift))
				exp->tables[l]++;
	}
	exp->valid[0] = m->n;
	for (l = 1; l <= top; l++)
		exp->valid[l] = exp->tables[l - 1];
	for (i = 0; i < m->n; i++)
		if (m->pg[i].flags & HTABLE_MAP_LOCK)
			exp->locked++;
	exp->mapped_pages = m->n;
	exp->owned_pages = m->n;
}

static inline int ht_field_diff(const char *name, __u64 exp, __u64 got)
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
static inline int ht_info_diff(const struct htable_info *exp,
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
static inline int ht_verify_check(int fd, const struct htable_info *info)
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
static inline int ht_verify_info(int fd, const struct ht_model *m, int levels,
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
static inline __u32 ht_probe_flags(__u32 mflags)
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
static inline int ht_probe_selfcheck(const struct htable_probe *p)
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

/*
 * PROBE @va (any offset in its page) and compare with @pg, the model's
 * page, or with a hole when @pg is NULL. A page whose model pfn is still 0
 * learns it here.
 */
static inline int ht_verify_probe(int fd, __u64 va, struct ht_page *pg)
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
static inline int ht_model_learn(int fd, struct ht_model *m, __u64 va, __u64 npages)
{
	size_t i = ht_model_lower(m, va);
	__u64 end = va + npages * HT_PAGE_SIZE;
	int bad = 0;

	for (; i < m->n && m->pg[i].va < end; i++)
		bad += ht_verify_probe(fd, m->pg[i].va, &m->pg[i]);
	return bad;
}

static inline int ht_cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Fresh pages must each have their own backing page: the learned pfns of
 * the pages not mapped with HTABLE_MAP_ALIAS are distinct.
 */
static inline int ht_model_distinct_pfns(const struct ht_model *m)
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
static inline int ht_verify_model(int fd, struct ht_model *m, int levels,
				  size_t stride)
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

/*
 * Random operations over a window of a hat: a list of disjoint segments,
 * each a run of pages. Every MAP, UNMAP and PROBE is predicted by the
 * model (when the window is this caller's alone), or only checked for
 * being one of the outcomes concurrency allows (when other callers share
 * it: "blind" mode, where the model is not used).
 */
struct ht_seg {
	__u64 va;
	__u64 npages;
};

struct ht_rnd {
	struct ht_hat *h;
	const struct ht_seg *seg;
	int nseg;
	__u64 pages;		/* pages in the window */
	__u64 maxlen;		/* longest range to MAP or UNMAP; 0: 2048 */
	__u64 rng;
	unsigned long op;	/* operations done */
	/* Outcomes, for the log and for blind mode's page balance. */
	unsigned long maps, map_eexist, map_enoent, unmaps, unmap_enoent;
	unsigned long probes, clears;
	__u64 pages_mapped, pages_unmapped;
};

static inline void ht_rnd_init(struct ht_rnd *r, struct ht_hat *h,
			       const struct ht_seg *seg, int nseg, __u64 seed)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->h = h;
	r->seg = seg;
	r->nseg = nseg;
	r->rng = seed ? seed : 1;
	for (i = 0; i < nseg; i++)
		r->pages += seg[i].npages;
}

/* A random run of pages inside one segment of the window. */
static inline void ht_rnd_range(struct ht_rnd *r, __u64 *va, __u64 *npages)
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
static inline void ht_rnd_in_run(struct ht_rnd *r, __u64 max, __u64 *va, __u64 *npages)
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

static inline __u32 ht_rnd_flags(struct ht_rnd *r)
{
	return ht_rand(&r->rng) & HT_PG_MAPFLAGS;
}

/* Is @va inside the window? */
static inline int ht_rnd_owns(const struct ht_rnd *r, __u64 va)
{
	int s;

	for (s = 0; s < r->nseg; s++)
		if (va >= r->seg[s].va && va < r->seg[s].va + r->seg[s].npages * HT_PAGE_SIZE)
			return 1;
	return 0;
}

/* Choose an alias source: mostly mapped pages, sometimes any pages. */
static inline void ht_rnd_alias_src(struct ht_rnd *r, __u64 *ava, __u64 *an)
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
static inline int ht_rnd_map(struct ht_rnd *r, int alias, int blind)
{
	struct ht_hat *h = r->h;
	__u64 va, n, ava = 0, an = 0;
	__u32 flags = ht_rnd_flags(r);
	int exist = 0, missing = 0, ret, ok;

	if (alias) {
		ht_rnd_alias_src(r, &ava, &an);
		ht_rnd_range(r, &va, &n);
		if (n < an)
			an = n;
		flags |= HTABLE_MAP_ALIAS;
	} else {
		ht_rnd_range(r, &va, &n);
	}
	ret = ht_map_alias(h->fd, va, n, flags, ava, an);
	if (!blind) {
		exist = ht_model_count(&h->m, va, n) != 0;
		missing = alias && ht_model_count(&h->m, ava, an) != an;
	}
	switch (ret) {
	case 0:
		ok = blind || (!exist && !missing);
		r->maps++;
		r->pages_mapped += n;
		break;
	case -EEXIST:
		ok = blind || exist;
		r->map_eexist++;
		break;
	case -ENOENT:
		ok = alias && (blind || missing);
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
		return 1;
	}
	if (ret || blind)
		return 0;
	if (ht_model_insert(&h->m, va, n, flags, ava, an))
		return 1;
	return ht_model_learn(h->fd, &h->m, va, n);
}

/* One UNMAP: of a random range, or (@in_run) of part of a mapped run. */
static inline int ht_rnd_unmap(struct ht_rnd *r, int in_run, int blind)
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
static inline int ht_rnd_probe(struct ht_rnd *r, int blind)
{
	struct htable_probe p;
	__u64 va, n;
	int ret;

	ht_rnd_range(r, &va, &n);
	va += ht_rand_below(&r->rng, HT_PAGE_SIZE);
	r->probes++;
	if (!blind)
		return ht_verify_probe(r->h->fd, va, ht_model_find(&r->h->m, va));
	ret = ht_probe(r->h->fd, va, &p);
	if (ret) {
		fprintf(stderr, "# op %lu: PROBE va %#llx: %s\n", r->op, va, strerror(-ret));
		return 1;
	}
	if (!p.flags)
		return 0;
	if (!(p.flags & HTABLE_PROBE_PRESENT) || !(p.flags & HTABLE_PROBE_OWNED) ||
	    (p.flags & ~(ht_probe_flags(HT_PG_MAPFLAGS) | HT_PROBE_HW))) {
		fprintf(stderr, "# op %lu: PROBE va %#llx: flags %#x\n", r->op, va, p.flags);
		return 1;
	}
	return ht_probe_selfcheck(&p);
}

/* UNMAP every run the model has in one random segment. */
static inline int ht_rnd_clear(struct ht_rnd *r)
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
static inline int ht_rnd_op(struct ht_rnd *r, int blind)
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
static inline int ht_rnd_probe_all(struct ht_rnd *r)
{
	int s, bad = 0;
	__u64 i;

	for (s = 0; s < r->nseg; s++) {
		for (i = 0; i < r->seg[s].npages && bad < 20; i++) {
			__u64 va = r->seg[s].va + i * HT_PAGE_SIZE;

			bad += ht_verify_probe(r->h->fd, va + (i % 5) * 0x333,
					       ht_model_find(&r->h->m, va));
		}
	}
	return bad;
}

/* Everything: INFO and CHECK by the model, every page, distinct pfns. */
static inline int ht_rnd_verify(struct ht_rnd *r)
{
	int bad = ht_verify_info(r->h->fd, &r->h->m, r->h->levels, NULL);

	bad += ht_rnd_probe_all(r);
	return bad + ht_model_distinct_pfns(&r->h->m);
}

/*
 * Rebuild the model of the window from PROBE (for a hat others changed
 * concurrently, now quiet): every present page with the flags it shows.
 */
static inline int ht_rnd_model_from_probe(struct ht_rnd *r)
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

#endif /* _HTABLE_TEST_H */
