// SPDX-License-Identifier: GPL-2.0
/*
 * A model-checked fuzzer for /dev/htable.
 *
 * Several processes, each with several threads, each thread with a few
 * hats of its own, issue random ioctls of every kind (VERSION, MAP with
 * any of WRITE/EXEC/LOCK/ALIAS, UNMAP, PROBE, INFO, CHECK, RW, small RUN
 * verify windows, SYNC, RELOAD) and bad requests of every kind the device
 * must refuse. Each thread keeps a model of its hats (htable_model.h) that
 * says what every call must return, what PROBE must show, and what INFO
 * must count; CHECK runs every FZ_CHECK_EVERY operations per hat. Every
 * out structure is poisoned before the call, so a reserved field or an
 * unwritten field that comes back non-zero (leaked kernel bytes) is caught,
 * and a refused call must leave the caller's structure untouched.
 *
 * Reproducible: each thread's operations derive from the seed, which is
 * printed; HTABLE_FUZZ_SEED=<seed> replays a run, HTABLE_FUZZ_OPS=<n> sets
 * the total operations (default FZ_DEFAULT_OPS; `make soak` runs 10^7).
 * On a mismatch the thread replays its hat's operations on a fresh hat and
 * shrinks them (drop the tail after the first failure, then remove chunks,
 * delta-debugging style) and prints the shortest failing sequence found.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"
#include "htable_random.h"

#define FZ_DEFAULT_OPS	100000UL
#define FZ_PROCS	2
#define FZ_THREADS	2
#define FZ_HATS		3	/* per thread */
#define FZ_CHECK_EVERY	500	/* operations on one hat between CHECKs */
#define FZ_LOG_MAX	4096	/* operations kept per hat for the shrink */
#define FZ_SHRINK_RUNS	400	/* replays one shrink may spend */
#define FZ_POISON	0xa5
#define FZ_POISON64	0xa5a5a5a5a5a5a5a5ULL
#define FZ_SEG_PAGES	256

/* The touched bit in a model page: a window ran over it since its last SYNC CLEAR. */
#define FZ_PG_TOUCHED	0x40000000U

enum fz_kind {
	FZ_VERSION, FZ_MAP, FZ_UNMAP, FZ_PROBE, FZ_INFO, FZ_CHECK, FZ_RW,
	FZ_RUN, FZ_SYNC, FZ_RELOAD, FZ_BAD, FZ_NKIND
};

static const char * const fz_names[FZ_NKIND] = {
	"VERSION", "MAP", "UNMAP", "PROBE", "INFO", "CHECK", "RW", "RUN",
	"SYNC", "RELOAD", "BAD",
};

/* Bad requests: each must fail with its errno and change nothing. */
enum fz_bad {
	BAD_IOCTL, BAD_MAP_RESERVED, BAD_MAP_FLAGS, BAD_MAP_ZERO, BAD_MAP_HUGE,
	BAD_MAP_UNALIGNED, BAD_MAP_RANGE, BAD_MAP_WRAP, BAD_MAP_ALIASFIELDS,
	BAD_MAP_ALIASLEN, BAD_MAP_NULL, BAD_UNMAP_FLAGS, BAD_UNMAP_HUGE,
	BAD_PROBE_RANGE, BAD_RW_LEN, BAD_RW_CROSS, BAD_RW_FLAGS, BAD_RW_BUF,
	BAD_RUN_CPU, BAD_RUN_MODE, BAD_RUN_SAMPLES, BAD_RUN_DURATION,
	BAD_SYNC_FLAGS, BAD_RELOAD_FLAGS, BAD_NR
};

/* One operation: everything needed to replay it on another hat. */
struct fz_op {
	__u8 kind;
	__u8 bad;
	__u32 flags;
	__u64 va;
	__u64 npages;
	__u64 alias_va;
	__u64 alias_npages;
	__u64 arg;		/* RW: offset | len << 12 | byte << 24; RUN: seed */
};

struct fz_hat {
	struct ht_hat h;
	struct fz_op *log;
	size_t nlog;
	unsigned long since_check;
};

struct fz_thread {
	pthread_t tid;
	int proc, thr;
	__u64 seed, rng;
	unsigned long ops, ioctls, budget;
	int ncpus;
	int quiet;		/* replaying for the shrink: print nothing */
	int inject;		/* test only: a deliberate model bug */
	int probing;		/* inside a PROBE operation (where the bug is) */
	int failed;
	struct fz_hat hats[FZ_HATS];
	size_t shrunk;		/* length of the shrunk sequence (0: none) */
	unsigned long per_kind[FZ_NKIND];
};

#define fz_log(t, ...) do { if (!(t)->quiet) fprintf(stderr, __VA_ARGS__); } while (0)

/* The segments ops fall in: each straddles a level boundary, one the top. */
static void fz_segments(const struct ht_hat *h, struct ht_seg *seg)
{
	__u64 half = FZ_SEG_PAGES / 2 * HT_PAGE_SIZE;

	seg[0].va = HT_SZ_2M * 3 - half;
	seg[1].va = HT_SZ_1G * 5 - half;
	seg[2].va = HT_SZ_512G * 3 - half;
	seg[3].va = h->limit - FZ_SEG_PAGES * HT_PAGE_SIZE;
	for (int i = 0; i < 4; i++)
		seg[i].npages = FZ_SEG_PAGES;
}

static __u64 fz_rand(struct fz_thread *t, __u64 n)
{
	return ht_rand_below(&t->rng, n);
}

/* A random range in one segment: mostly short, sometimes up to 64 pages. */
static void fz_range(struct fz_thread *t, const struct ht_hat *h, __u64 *va, __u64 *n)
{
	struct ht_seg seg[4];
	__u64 idx, max, room;
	int s;

	fz_segments(h, seg);
	s = fz_rand(t, 4);
	idx = fz_rand(t, FZ_SEG_PAGES);
	max = fz_rand(t, 8) ? 8 : 64;
	room = FZ_SEG_PAGES - idx;
	*va = seg[s].va + idx * HT_PAGE_SIZE;
	*n = 1 + fz_rand(t, max < room ? max : room);
}

/* A range that mostly starts at a mapped page, so UNMAP and friends succeed. */
static void fz_range_mapped(struct fz_thread *t, const struct ht_hat *h,
			    __u64 *va, __u64 *n)
{
	const struct ht_model *m = &h->m;
	size_t i, j;

	if (!m->n || !fz_rand(t, 4)) {
		fz_range(t, h, va, n);
		return;
	}
	i = fz_rand(t, m->n);
	j = i;
	while (j + 1 < m->n && j - i < 15 &&
	       m->pg[j + 1].va == m->pg[j].va + HT_PAGE_SIZE)
		j++;
	*va = m->pg[i].va;
	*n = 1 + fz_rand(t, j - i + 1);
}

static void fz_gen(struct fz_thread *t, const struct ht_hat *h, struct fz_op *op)
{
	__u64 k = fz_rand(t, 1000);

	memset(op, 0, sizeof(*op));
	/* Weights per mille: MAP/UNMAP/PROBE dominate; windows stay rare. */
	op->kind = k < 10 ? FZ_VERSION : k < 280 ? FZ_MAP : k < 480 ? FZ_UNMAP :
		   k < 700 ? FZ_PROBE : k < 730 ? FZ_INFO : k < 740 ? FZ_CHECK :
		   k < 830 ? FZ_RW : k < 838 ? FZ_RUN : k < 880 ? FZ_SYNC :
		   k < 900 ? FZ_RELOAD : FZ_BAD;
	op->flags = ht_rand(&t->rng);
	op->arg = ht_rand(&t->rng);
	switch (op->kind) {
	case FZ_MAP:
		op->flags &= HT_PG_MAPFLAGS;
		fz_range(t, h, &op->va, &op->npages);
		if (!fz_rand(t, 4)) {
			op->flags |= HTABLE_MAP_ALIAS;
			fz_range_mapped(t, h, &op->alias_va, &op->alias_npages);
			if (op->alias_npages > op->npages)
				op->alias_npages = op->npages;
		}
		break;
	case FZ_UNMAP:
	case FZ_SYNC:
	case FZ_RELOAD:
		fz_range_mapped(t, h, &op->va, &op->npages);
		op->flags &= HTABLE_SYNC_CLEAR;
		break;
	case FZ_PROBE:
	case FZ_RW:
		fz_range_mapped(t, h, &op->va, &op->npages);
		op->npages = 1;
		if (op->kind == FZ_PROBE)
			op->va += op->arg % HT_PAGE_SIZE;	/* any offset */
		break;
	case FZ_RUN:
		fz_range_mapped(t, h, &op->va, &op->npages);
		if (op->npages > 8)
			op->npages = 8;
		op->flags &= HTABLE_RUN_WRITE;
		op->alias_va = fz_rand(t, t->ncpus);	/* the CPU */
		break;
	case FZ_BAD:
		op->bad = fz_rand(t, BAD_NR);
		fz_range_mapped(t, h, &op->va, &op->npages);
		break;
	}
}

static void fz_print_op(FILE *f, const struct fz_op *op, size_t i)
{
	fprintf(f, "#   %3zu: %-7s", i, fz_names[op->kind]);
	if (op->kind == FZ_BAD)
		fprintf(f, " #%u", op->bad);
	fprintf(f, " va %#llx npages %llu flags %#x", op->va, op->npages,
		op->kind == FZ_MAP || op->kind == FZ_RUN || op->kind == FZ_SYNC ?
		op->flags : 0);
	if (op->flags & HTABLE_MAP_ALIAS && op->kind == FZ_MAP)
		fprintf(f, " alias %#llx x %llu", op->alias_va, op->alias_npages);
	if (op->kind == FZ_RUN)
		fprintf(f, " cpu %llu", op->alias_va);
	fprintf(f, "\n");
}

/* Is every byte of [p, p + n) @b? */
static int fz_all(const void *p, size_t n, int b)
{
	const unsigned char *c = p;

	while (n--)
		if (*c++ != b)
			return 0;
	return 1;
}

/* ioctl returning 0 or -errno, counted. */
static int fz_ioctl(struct fz_thread *t, int fd, unsigned long cmd, void *arg)
{
	t->ioctls++;
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* The result differs from the model's: say so (unless replaying). */
static int fz_bad_ret(struct fz_thread *t, const char *what, int got, int want)
{
	if (got == want)
		return 0;
	fz_log(t, "# %s returned %s, model says %s\n", what,
	       got ? strerror(-got) : "success", want ? strerror(-want) : "success");
	return 1;
}

static void fz_touch(struct ht_model *m, __u64 va, __u64 n)
{
	size_t i = ht_model_lower(m, va);

	for (; i < m->n && m->pg[i].va < va + n * HT_PAGE_SIZE; i++)
		m->pg[i].flags |= FZ_PG_TOUCHED;
}

static __u64 fz_touched(const struct ht_model *m, __u64 va, __u64 n, int clear)
{
	size_t i = ht_model_lower(m, va);
	__u64 c = 0;

	for (; i < m->n && m->pg[i].va < va + n * HT_PAGE_SIZE; i++) {
		c += !!(m->pg[i].flags & FZ_PG_TOUCHED);
		if (clear)
			m->pg[i].flags &= ~FZ_PG_TOUCHED;
	}
	return c;
}

/*
 * PROBE @va (any offset) against the model: a hole is all zero but va, a
 * page shows its flags (hardware A/D aside), level 0, its learned pfn and
 * a raw entry that agrees.
 */
static int fz_probe(struct fz_thread *t, struct ht_hat *h, __u64 va)
{
	struct ht_page *pg = ht_model_find(&h->m, va);
	struct htable_probe p;
	__u32 want;
	int ret;

	memset(&p, FZ_POISON, sizeof(p));
	p.va = va;
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_PROBE, &p);
	if (fz_bad_ret(t, "PROBE", ret, 0))
		return 1;
	if (p.va != va) {
		fz_log(t, "# PROBE changed va %#llx to %#llx\n", va, p.va);
		return 1;
	}
	if (!pg) {
		if (p.flags || p.level || p.pfn || p.pte) {
			fz_log(t, "# PROBE %#llx: hole: flags %#x level %u pfn %#llx pte %#llx\n",
			       va, p.flags, p.level, p.pfn, p.pte);
			return 1;
		}
		return 0;
	}
	want = ht_probe_flags(pg->flags & HT_PG_MAPFLAGS);
	if (t->inject && t->probing && (pg->flags & HT_PG_MAPFLAGS) ==
	    (HTABLE_MAP_WRITE | HTABLE_MAP_EXEC))
		want &= ~HTABLE_PROBE_EXEC;	/* the deliberate bug */
	if ((p.flags & ~HT_PROBE_HW) != want || p.level) {
		fz_log(t, "# PROBE %#llx: flags %#x level %u, model says %#x level 0\n",
		       va, p.flags, p.level, want);
		return 1;
	}
	if (ht_probe_selfcheck(&p))
		return 1;
	if (!pg->pfn)
		pg->pfn = p.pfn;
	if (p.pfn != pg->pfn) {
		fz_log(t, "# PROBE %#llx: pfn %#llx, model learned %#llx\n",
		       va, p.pfn, pg->pfn);
		return 1;
	}
	return 0;
}

/* INFO against the model, then CHECK against INFO; reserved fields zero. */
static int fz_info_check(struct fz_thread *t, struct ht_hat *h, int check)
{
	struct htable_info exp, got;
	struct htable_check c;
	int ret, bad = 0;

	memset(&got, FZ_POISON, sizeof(got));
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_INFO, &got);
	if (fz_bad_ret(t, "INFO", ret, 0))
		return 1;
	ht_model_expect(&h->m, h->levels, &exp);
	if (t->quiet) {
		/* ht_info_diff() prints; compare the same fields silently. */
		exp.cached = got.cached;
		exp.live_cpus = got.live_cpus;
		exp.stolen = got.stolen;
		bad = memcmp(&exp, &got, sizeof(exp)) != 0;
	} else {
		bad = ht_info_diff(&exp, &got, 0);
	}
	if (got.live_cpus || got.stolen || got.cached > 1000) {
		fz_log(t, "# INFO: live_cpus %#llx stolen %llu cached %llu\n",
		       got.live_cpus, got.stolen, got.cached);
		bad++;
	}
	if (bad || !check)
		return !!bad;
	memset(&c, FZ_POISON, sizeof(c));
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_CHECK, &c);
	if (fz_bad_ret(t, "CHECK", ret, 0))
		return 1;
	{
		__u64 tables = 0, entries = 0;

		for (int l = 0; l < HTABLE_MAX_LEVELS; l++) {
			tables += got.tables[l];
			entries += got.valid[l];
		}
		if (c.errors || c.first_error || c.first_va || c.reserved0 ||
		    c.tables != tables || c.entries != entries) {
			fz_log(t, "# CHECK: %llu errors (first %u at %#llx) reserved0 %#x\n",
			       c.errors, c.first_error, c.first_va, c.reserved0);
			fz_log(t, "# CHECK: %llu tables %llu entries; INFO: %llu %llu\n",
			       c.tables, c.entries, tables, entries);
			return 1;
		}
	}
	return 0;
}

static int fz_map(struct fz_thread *t, struct ht_hat *h, const struct fz_op *op)
{
	struct htable_map m = {
		.va = op->va, .npages = op->npages, .flags = op->flags,
		.alias_va = op->alias_va, .alias_npages = op->alias_npages,
		.mapped = FZ_POISON64,
	};
	struct htable_map orig = m;
	int want = 0, ret, bad = 0;

	if (ht_model_count(&h->m, op->va, op->npages))
		want = -EEXIST;
	else if (op->flags & HTABLE_MAP_ALIAS &&
		 ht_model_count(&h->m, op->alias_va, op->alias_npages) != op->alias_npages)
		want = -ENOENT;
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_MAP, &m);
	if (fz_bad_ret(t, "MAP", ret, want))
		return 1;
	orig.mapped = ret ? FZ_POISON64 : op->npages;
	if (memcmp(&orig, &m, sizeof(m))) {
		fz_log(t, "# MAP: out structure mapped %llu (npages %llu, ret %d)\n",
		       m.mapped, op->npages, ret);
		return 1;
	}
	if (ret)
		return 0;
	if (ht_model_insert(&h->m, op->va, op->npages, op->flags,
			    op->alias_va, op->alias_npages))
		return 1;
	/* Learn the new pfns now, so a later change of backing page shows. */
	for (__u64 i = 0; i < op->npages && !bad; i++)
		bad += fz_probe(t, h, op->va + i * HT_PAGE_SIZE);
	return bad;
}

static int fz_unmap(struct fz_thread *t, struct ht_hat *h, const struct fz_op *op)
{
	struct htable_unmap u = {
		.va = op->va, .npages = op->npages, .unmapped = FZ_POISON64,
	};
	int want, ret;

	want = ht_model_count(&h->m, op->va, op->npages) == op->npages ? 0 : -ENOENT;
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_UNMAP, &u);
	if (fz_bad_ret(t, "UNMAP", ret, want))
		return 1;
	if (u.unmapped != (ret ? FZ_POISON64 : op->npages) || u.va != op->va ||
	    u.npages != op->npages || u.flags || u.reserved0) {
		fz_log(t, "# UNMAP: out structure unmapped %llu\n", u.unmapped);
		return 1;
	}
	if (!ret)
		ht_model_remove(&h->m, op->va, op->npages);
	return 0;
}

/* RW: write a few bytes into an owned page and read them back. */
static int fz_rw(struct fz_thread *t, struct ht_hat *h, const struct fz_op *op)
{
	unsigned int off = op->arg & 0xfff, len = 1 + ((op->arg >> 12) & 0xff);
	unsigned char buf[256], back[256];
	struct htable_rw rw;
	int want, ret;

	if (off + len > HT_PAGE_SIZE)
		off = HT_PAGE_SIZE - len;
	memset(buf, (op->arg >> 24) & 0xff, sizeof(buf));
	want = ht_model_find(&h->m, op->va) ? 0 : -ENOENT;
	rw = (struct htable_rw){ .va = op->va + off, .buf = (uintptr_t)buf,
				 .len = len, .flags = HTABLE_RW_WRITE };
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_RW, &rw);
	if (fz_bad_ret(t, "RW write", ret, want))
		return 1;
	memset(back, ~buf[0], sizeof(back));
	rw.buf = (uintptr_t)back;
	rw.flags = 0;
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_RW, &rw);
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
	return 0;
}

/* RUN verify: every mapped page verifies, every hole faults, all else 0. */
static int fz_run(struct fz_thread *t, struct ht_hat *h, const struct fz_op *op)
{
	__u64 have = ht_model_count(&h->m, op->va, op->npages), first_hole = 0;
	struct htable_run r;
	int ret;

	for (__u64 i = 0; i < op->npages && !first_hole; i++)
		if (!ht_model_find(&h->m, op->va + i * HT_PAGE_SIZE))
			first_hole = op->va + i * HT_PAGE_SIZE;
	memset(&r, FZ_POISON, sizeof(r));
	r.cpu = op->alias_va;
	r.mode = HTABLE_RUN_VERIFY;
	r.va = op->va;
	r.npages = op->npages;
	r.flags = op->flags;
	r.duration_ms = 0;
	r.seed = op->arg;
	r.samples = 0;
	r.max_samples = 0;
	r.reserved = 0;
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_RUN, &r);
	if (fz_bad_ret(t, "RUN", ret, 0))
		return 1;
	fz_touch(&h->m, op->va, op->npages);
	if (r.verified != have || r.mismatches || r.faults != op->npages - have ||
	    r.first_fault_va != first_hole || r.first_mismatch_va ||
	    r.nsamples || r.reads || r.valid_reads || r.watchdog || r.reserved ||
	    r.elapsed_ns == FZ_POISON64 || r.clobbers == FZ_POISON64) {
		fz_log(t, "# RUN %#llx x %llu: verified %llu bad %llu faults %llu (%#llx)\n",
		       op->va, op->npages, r.verified, r.mismatches, r.faults,
		       r.first_fault_va);
		fz_log(t, "# RUN: model: %llu mapped, first hole %#llx\n", have, first_hole);
		fz_log(t, "# RUN: nsamples %u reads %llu watchdog %u reserved %#x\n",
		       r.nsamples, r.reads, r.watchdog, r.reserved);
		return 1;
	}
	return 0;
}

/*
 * SYNC: the MMU sets A/D only inside a window, so pages no window touched
 * since their last SYNC CLEAR must show neither.
 */
static int fz_sync(struct fz_thread *t, struct ht_hat *h, const struct fz_op *op)
{
	struct htable_sync s = {
		.va = op->va, .npages = op->npages, .flags = op->flags,
		.referenced = FZ_POISON64, .modified = FZ_POISON64,
	};
	__u64 touched = fz_touched(&h->m, op->va, op->npages, 0);
	int ret;

	ret = fz_ioctl(t, h->fd, HTABLE_IOC_SYNC, &s);
	if (fz_bad_ret(t, "SYNC", ret, 0))
		return 1;
	if (s.referenced > touched || s.modified > touched || s.reserved0) {
		fz_log(t, "# SYNC %#llx x %llu: referenced %llu modified %llu, touched %llu\n",
		       op->va, op->npages, s.referenced, s.modified, touched);
		return 1;
	}
	if (op->flags & HTABLE_SYNC_CLEAR)
		fz_touched(&h->m, op->va, op->npages, 1);
	return 0;
}

/* RELOAD: nothing is ever stolen here, so nothing is reloaded. */
static int fz_reload(struct fz_thread *t, struct ht_hat *h, const struct fz_op *op)
{
	struct htable_reload r = {
		.va = op->va, .npages = op->npages, .reloaded = FZ_POISON64,
	};
	int ret = fz_ioctl(t, h->fd, HTABLE_IOC_RELOAD, &r);

	if (fz_bad_ret(t, "RELOAD", ret, 0))
		return 1;
	if (r.reloaded) {
		fz_log(t, "# RELOAD %#llx x %llu: reloaded %llu of nothing stolen\n",
		       op->va, op->npages, r.reloaded);
		return 1;
	}
	return 0;
}

static int fz_version(struct fz_thread *t, struct ht_hat *h)
{
	struct htable_version v;
	int ret;

	memset(&v, FZ_POISON, sizeof(v));
	ret = fz_ioctl(t, h->fd, HTABLE_IOC_VERSION, &v);
	if (fz_bad_ret(t, "VERSION", ret, 0))
		return 1;
	if (v.major != HTABLE_ABI_MAJOR || v.minor != HTABLE_ABI_MINOR ||
	    v.levels != (__u32)h->levels || v.page_shift != HT_PAGE_SHIFT ||
	    v.reserved[0] || v.reserved[1]) {
		fz_log(t, "# VERSION: %u.%u levels %u shift %u reserved %#llx %#llx\n",
		       v.major, v.minor, v.levels, v.page_shift, v.reserved[0],
		       v.reserved[1]);
		return 1;
	}
	return 0;
}

/*
 * A bad request: it must fail with the errno the ABI gives, and leave
 * the caller's structure exactly as it was (nothing copied back).
 */
static int fz_bad(struct fz_thread *t, struct ht_hat *h, const struct fz_op *op)
{
	union {
		struct htable_map m;
		struct htable_unmap u;
		struct htable_probe p;
		struct htable_rw rw;
		struct htable_run r;
		struct htable_sync s;
		struct htable_reload rl;
	} a, orig;
	unsigned long cmd;
	unsigned char buf[16];
	int want = -EINVAL, ret;
	void *arg = &a;

	memset(&a, 0, sizeof(a));
	switch (op->bad) {
	case BAD_IOCTL:
		cmd = _IOWR(HTABLE_IOC_MAGIC, 0x40 + (op->arg & 0x3f), struct htable_map);
		want = -ENOTTY;
		break;
	case BAD_MAP_RESERVED:
	case BAD_MAP_FLAGS:
	case BAD_MAP_ZERO:
	case BAD_MAP_HUGE:
	case BAD_MAP_UNALIGNED:
	case BAD_MAP_RANGE:
	case BAD_MAP_WRAP:
	case BAD_MAP_ALIASFIELDS:
	case BAD_MAP_ALIASLEN:
	case BAD_MAP_NULL:
		cmd = HTABLE_IOC_MAP;
		a.m.va = op->va;
		a.m.npages = op->npages;
		a.m.flags = op->flags & HT_PG_MAPFLAGS;
		a.m.mapped = FZ_POISON64;
		if (op->bad == BAD_MAP_RESERVED) {
			a.m.reserved0 = 1 | op->arg;
		} else if (op->bad == BAD_MAP_FLAGS) {
			/* Bits outside HTABLE_MAP_FLAGS: 0x80 and up. */
			a.m.flags |= 0x80U << (op->arg % 25);
		} else if (op->bad == BAD_MAP_ZERO) {
			a.m.npages = 0;
		} else if (op->bad == BAD_MAP_HUGE) {
			/* 2^63, 2^64-1, or just past the limit. */
			a.m.npages = op->arg % 3 == 0 ? 1ULL << 63 : op->arg % 3 == 1 ?
				     ~0ULL : HTABLE_MAX_NPAGES + 1 + (op->arg >> 40);
			want = -E2BIG;
		} else if (op->bad == BAD_MAP_UNALIGNED) {
			a.m.va += 1 + op->arg % (HT_PAGE_SIZE - 1);
		} else if (op->bad == BAD_MAP_RANGE) {
			a.m.va = h->limit - HT_PAGE_SIZE * (op->arg % 4);
			a.m.npages = 5;
			want = -ERANGE;
		} else if (op->bad == BAD_MAP_WRAP) {
			a.m.va = -(HT_PAGE_SIZE * (1 + op->arg % 4));
			a.m.npages = 5;
			want = -EOVERFLOW;
		} else if (op->bad == BAD_MAP_ALIASFIELDS) {
			a.m.alias_va = op->va;
			a.m.alias_npages = 1;
		} else if (op->bad == BAD_MAP_ALIASLEN) {
			a.m.flags |= HTABLE_MAP_ALIAS;
			a.m.alias_va = op->va;
			a.m.alias_npages = op->arg & 1 ? 0 : op->npages + 1;
		} else {
			arg = NULL;
			want = -EFAULT;
		}
		break;
	case BAD_UNMAP_FLAGS:
	case BAD_UNMAP_HUGE:
		cmd = HTABLE_IOC_UNMAP;
		a.u.va = op->va;
		a.u.npages = op->bad == BAD_UNMAP_HUGE ? 1ULL << (40 + op->arg % 24) : op->npages;
		a.u.unmapped = FZ_POISON64;
		if (op->bad == BAD_UNMAP_FLAGS)
			a.u.flags = 1 | op->arg;
		else
			want = -E2BIG;
		break;
	case BAD_PROBE_RANGE:
		cmd = HTABLE_IOC_PROBE;
		a.p.va = h->limit + (op->arg & 0xffffffffff);
		a.p.flags = FZ_POISON;
		want = -ERANGE;
		break;
	case BAD_RW_LEN:
	case BAD_RW_CROSS:
	case BAD_RW_FLAGS:
	case BAD_RW_BUF:
		cmd = HTABLE_IOC_RW;
		a.rw.va = op->va;
		a.rw.buf = (uintptr_t)buf;
		a.rw.len = 8;
		if (op->bad == BAD_RW_LEN) {
			a.rw.len = op->arg & 1 ? 0 : HT_PAGE_SIZE + 1 + (op->arg >> 33);
		} else if (op->bad == BAD_RW_CROSS) {
			a.rw.va += HT_PAGE_SIZE - 4;
		} else if (op->bad == BAD_RW_FLAGS) {
			a.rw.flags = 2 | op->arg;
		} else {
			/* An unmapped user buffer: EFAULT, or ENOENT with no page. */
			a.rw.buf = 8;
			a.rw.flags = op->arg & HTABLE_RW_WRITE;
			want = ht_model_find(&h->m, op->va) ? -EFAULT : -ENOENT;
		}
		break;
	case BAD_RUN_CPU:
	case BAD_RUN_MODE:
	case BAD_RUN_SAMPLES:
	case BAD_RUN_DURATION:
		cmd = HTABLE_IOC_RUN;
		a.r.va = op->va;
		a.r.npages = 1;
		a.r.verified = FZ_POISON64;
		if (op->bad == BAD_RUN_CPU) {
			a.r.cpu = 4096 + (op->arg & 0x7fffffff);
		} else if (op->bad == BAD_RUN_MODE) {
			a.r.mode = 2 + (op->arg & 0xffff);
		} else if (op->bad == BAD_RUN_SAMPLES) {
			/* Absurd sample counts are refused before any allocation. */
			a.r.mode = HTABLE_RUN_RESIDENT;
			a.r.duration_ms = 1;
			a.r.samples = (uintptr_t)buf;
			a.r.max_samples = HTABLE_MAX_SAMPLES + 1 + (op->arg & 0x7fffffff);
		} else {
			a.r.duration_ms = 1 + (op->arg & 0xfff);
		}
		break;
	case BAD_SYNC_FLAGS:
		cmd = HTABLE_IOC_SYNC;
		a.s.va = op->va;
		a.s.npages = op->npages;
		a.s.flags = 2 | op->arg;
		a.s.referenced = FZ_POISON64;
		break;
	default:
		cmd = HTABLE_IOC_RELOAD;
		a.rl.va = op->va;
		a.rl.npages = op->npages;
		a.rl.flags = 1 | op->arg;
		a.rl.reloaded = FZ_POISON64;
		break;
	}
	orig = a;
	ret = fz_ioctl(t, h->fd, cmd, arg);
	if (fz_bad_ret(t, "bad request", ret, want))
		return 1;
	if (memcmp(&orig, &a, sizeof(a))) {
		fz_log(t, "# bad request %u: the refused call wrote to its argument\n",
		       op->bad);
		return 1;
	}
	return 0;
}

/* Run one operation on @h: 0 when everything matched the model. */
static int fz_exec(struct fz_thread *t, struct ht_hat *h, const struct fz_op *op)
{
	switch (op->kind) {
	case FZ_VERSION:
		return fz_version(t, h);
	case FZ_MAP:
		return fz_map(t, h, op);
	case FZ_UNMAP:
		return fz_unmap(t, h, op);
	case FZ_PROBE: {
		int bad;

		t->probing = 1;
		bad = fz_probe(t, h, op->va);
		t->probing = 0;
		return bad;
	}
	case FZ_INFO:
		return fz_info_check(t, h, 0);
	case FZ_CHECK:
		return fz_info_check(t, h, 1);
	case FZ_RW:
		return fz_rw(t, h, op);
	case FZ_RUN:
		return fz_run(t, h, op);
	case FZ_SYNC:
		return fz_sync(t, h, op);
	case FZ_RELOAD:
		return fz_reload(t, h, op);
	default:
		return fz_bad(t, h, op);
	}
}

/*
 * Replay @n operations on a fresh hat. Returns the index of the first one
 * that mismatched, -1 when all matched, -2 when no hat could be opened.
 */
static long fz_replay(struct fz_thread *t, const struct fz_op *ops, size_t n)
{
	struct ht_hat h;
	long bad = -1;

	if (ht_hat_open(&h))
		return -2;
	for (size_t i = 0; i < n && bad < 0; i++)
		if (fz_exec(t, &h, &ops[i]))
			bad = i;
	if (bad < 0 && fz_info_check(t, &h, 1))
		bad = n ? n - 1 : 0;
	ht_hat_close(&h);
	return bad;
}

/*
 * Shrink a failing sequence: cut after its first failure, then try
 * removing chunks (halving their size) while it still fails on a fresh
 * hat. Prints the result; returns its length (0 when it did not fail alone).
 */
static size_t fz_shrink(struct fz_thread *t, const struct fz_op *ops, size_t n)
{
	struct fz_op *cur = calloc(n, sizeof(*cur)), *cand = calloc(n, sizeof(*cand));
	size_t len = n, chunk, runs = 0;
	long f;

	if (!cur || !cand)
		goto out;
	memcpy(cur, ops, n * sizeof(*cur));
	t->quiet = 1;
	f = fz_replay(t, cur, len);
	if (f < 0) {
		t->quiet = 0;
		fprintf(stderr, "# shrink: the %zu operations pass alone on a fresh hat\n", n);
		fprintf(stderr, "# shrink: the failure needs the other threads\n");
		len = 0;
		goto out;
	}
	len = f + 1;
	for (chunk = len / 2 ? len / 2 : 1; chunk && runs < FZ_SHRINK_RUNS; ) {
		int removed = 0;

		for (size_t i = 0; i + chunk <= len && runs < FZ_SHRINK_RUNS; ) {
			memcpy(cand, cur, i * sizeof(*cand));
			memcpy(cand + i, cur + i + chunk, (len - i - chunk) * sizeof(*cand));
			runs++;
			f = fz_replay(t, cand, len - chunk);
			if (f >= 0) {
				len = f + 1;
				memcpy(cur, cand, len * sizeof(*cur));
				removed = 1;
			} else {
				i += chunk;
			}
		}
		if (!removed)
			chunk /= 2;
		if (chunk > len / 2 && len > 1)
			chunk = len / 2;
	}
	t->quiet = 0;
	fprintf(stderr, "# seed %#llx process %d thread %d: shortest failing sequence found\n",
		(unsigned long long)t->seed, t->proc, t->thr);
	fprintf(stderr, "# (%zu of %zu operations, %zu replays):\n", len, n, runs);
	for (size_t i = 0; i < len; i++)
		fz_print_op(stderr, &cur[i], i);
	fprintf(stderr, "# replaying it:\n");
	fz_replay(t, cur, len);
out:
	t->quiet = 0;
	free(cur);
	free(cand);
	return len;
}

static int fz_hat_open(struct fz_thread *t, struct fz_hat *fh)
{
	fh->nlog = 0;
	fh->since_check = 0;
	return ht_hat_open(&fh->h);
}

static void *fz_thread_fn(void *arg)
{
	struct fz_thread *t = arg;
	int i;

	for (i = 0; i < FZ_HATS; i++) {
		t->hats[i].log = calloc(FZ_LOG_MAX, sizeof(struct fz_op));
		if (!t->hats[i].log || fz_hat_open(t, &t->hats[i])) {
			fprintf(stderr, "# thread %d.%d: cannot open a hat\n", t->proc, t->thr);
			t->failed = 1;
			return NULL;
		}
	}
	while (t->ops < t->budget && !t->failed) {
		struct fz_hat *fh = &t->hats[fz_rand(t, FZ_HATS)];
		struct fz_op op;

		/* Now and then a hat is closed and a new one opened. */
		if (fh->nlog == FZ_LOG_MAX || !fz_rand(t, 2000)) {
			if (fz_info_check(t, &fh->h, 1)) {
				t->failed = 1;
				break;
			}
			ht_hat_close(&fh->h);
			if (fz_hat_open(t, fh)) {
				t->failed = 1;
				break;
			}
		}
		fz_gen(t, &fh->h, &op);
		fh->log[fh->nlog++] = op;
		t->ops++;
		t->per_kind[op.kind]++;
		if (fz_exec(t, &fh->h, &op) ||
		    (++fh->since_check >= FZ_CHECK_EVERY && fz_info_check(t, &fh->h, 1))) {
			fprintf(stderr, "# seed %#llx proc %d thread %d: mismatch\n",
				(unsigned long long)t->seed, t->proc, t->thr);
			fprintf(stderr, "# at op %lu (hat op %zu):\n", t->ops, fh->nlog - 1);
			fz_print_op(stderr, &op, fh->nlog - 1);
			t->failed = 1;
			t->shrunk = fz_shrink(t, fh->log, fh->nlog);
			break;
		}
		if (fh->since_check >= FZ_CHECK_EVERY)
			fh->since_check = 0;
	}
	for (i = 0; i < FZ_HATS; i++) {
		if (!t->failed && fz_info_check(t, &t->hats[i].h, 1))
			t->failed = 1;
		ht_hat_close(&t->hats[i].h);
		free(t->hats[i].log);
	}
	return NULL;
}

static __u64 fz_env(const char *name, __u64 dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* One process's threads; returns the number that failed. */
static int fz_process(__u64 seed, int proc, unsigned long budget, int inject,
		      unsigned long *ops, unsigned long *ioctls, size_t *shrunk)
{
	struct fz_thread *t = calloc(FZ_THREADS, sizeof(*t));
	int i, failed = 0, ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!t)
		return FZ_THREADS;
	for (i = 0; i < FZ_THREADS; i++) {
		t[i].proc = proc;
		t[i].thr = i;
		t[i].seed = seed;
		/* Each thread's stream is its own, and the same on every replay. */
		t[i].rng = seed ^ (0x9E3779B97F4A7C15ULL * (proc * FZ_THREADS + i + 1));
		t[i].rng = t[i].rng ? t[i].rng : 1;
		t[i].budget = budget / FZ_THREADS;
		t[i].ncpus = ncpus > 0 ? ncpus : 1;
		t[i].inject = inject;
		if (pthread_create(&t[i].tid, NULL, fz_thread_fn, &t[i]))
			t[i].failed = 1;
	}
	for (i = 0; i < FZ_THREADS; i++) {
		if (t[i].tid)
			pthread_join(t[i].tid, NULL);
		failed += t[i].failed;
		*ops += t[i].ops;
		*ioctls += t[i].ioctls;
		if (t[i].shrunk && (!*shrunk || t[i].shrunk < *shrunk))
			*shrunk = t[i].shrunk;
	}
	if (!inject) {
		fprintf(stderr, "# process %d:", proc);
		for (int k = 0; k < FZ_NKIND; k++) {
			unsigned long n = 0;

			for (i = 0; i < FZ_THREADS; i++)
				n += t[i].per_kind[k];
			fprintf(stderr, " %s %lu", fz_names[k], n);
		}
		fprintf(stderr, "\n");
	}
	free(t);
	return failed;
}

/*
 * Run the fuzzer: FZ_PROCS processes of FZ_THREADS threads share @total
 * operations. Returns the number of threads that failed; *shrunk gets
 * the shortest shrunk sequence (0: none).
 */
static int fz_run_all(__u64 seed, unsigned long total, int inject, size_t *shrunk)
{
	struct { unsigned long ops, ioctls; size_t shrunk; int failed; } *res;
	unsigned long ops = 0, ioctls = 0;
	pid_t pid[FZ_PROCS];
	int p, failed = 0;
	double t0 = ht_now(), dt;

	res = mmap(NULL, sizeof(*res) * FZ_PROCS, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return 1;
	memset(res, 0, sizeof(*res) * FZ_PROCS);
	for (p = 0; p < FZ_PROCS; p++) {
		pid[p] = fork();
		if (pid[p] == 0) {
			res[p].failed = fz_process(seed, p, total / FZ_PROCS, inject,
						   &res[p].ops, &res[p].ioctls,
						   &res[p].shrunk);
			_exit(0);
		}
	}
	*shrunk = 0;
	for (p = 0; p < FZ_PROCS; p++) {
		int st = 0;

		if (pid[p] < 0 || waitpid(pid[p], &st, 0) != pid[p] ||
		    !WIFEXITED(st) || WEXITSTATUS(st)) {
			failed++;
			continue;
		}
		failed += res[p].failed;
		ops += res[p].ops;
		ioctls += res[p].ioctls;
		if (res[p].shrunk && (!*shrunk || res[p].shrunk < *shrunk))
			*shrunk = res[p].shrunk;
	}
	dt = ht_now() - t0;
	if (!inject) {
		fprintf(stderr, "# fuzz: seed %#llx: %lu operations in %.1f s: %.0f/s\n",
			(unsigned long long)seed, ops, dt, ops / dt);
		fprintf(stderr, "# fuzz: %lu ioctls, %.0f/s; %d procs x %d threads; %d failed\n",
			ioctls, ioctls / dt, FZ_PROCS, FZ_THREADS, failed);
	}
	munmap(res, sizeof(*res) * FZ_PROCS);
	return failed;
}

static __u64 fz_seed(void)
{
	__u64 seed = fz_env("HTABLE_FUZZ_SEED", 0);

	return seed ? seed : ht_seed();
}

FIXTURE(fz) {
	int unused;
};

FIXTURE_SETUP(fz)
{
}

FIXTURE_TEARDOWN(fz)
{
}

/* The fuzzer itself: HTABLE_FUZZ_OPS operations from HTABLE_FUZZ_SEED. */
TEST_F_TIMEOUT(fz, fuzz, 400)
{
	unsigned long total = fz_env("HTABLE_FUZZ_OPS", FZ_DEFAULT_OPS);
	long long active0 = htable_stat("active_ptables");
	__u64 seed = fz_seed();
	size_t shrunk;
	int fd = htable_open_dev();

	HT_NEED_DEV(fd < 0, errno);
	close(fd);
	ASSERT_EQ(0, htable_knobs_reset());
	TH_LOG("seed %#llx (replay with HTABLE_FUZZ_SEED=%#llx), %lu operations",
	       (unsigned long long)seed, (unsigned long long)seed, total);
	EXPECT_EQ(0, fz_run_all(seed, total, 0, &shrunk))
		TH_LOG("replay with HTABLE_FUZZ_SEED=%#llx", (unsigned long long)seed);
	/* Every hat is closed: every table it had went back. */
	EXPECT_EQ(active0, htable_stat("active_ptables"));
}

/*
 * The fuzzer must be able to fail, and shrink what it finds: with a
 * deliberate model bug (PROBE of a WRITE|EXEC page expects no EXEC) it
 * must report a mismatch and shrink it to the two operations that show
 * it, a MAP of such a page and a PROBE of it.
 */
TEST_F_TIMEOUT(fz, finds_and_shrinks_a_planted_bug, 120)
{
	size_t shrunk = 0;
	int fd = htable_open_dev();

	HT_NEED_DEV(fd < 0, errno);
	close(fd);
	EXPECT_NE(0, fz_run_all(fz_seed(), 20000, 1, &shrunk));
	EXPECT_EQ(2, shrunk);
}

/*
 * "htable_fuzz_test run [OPS [SEED]]" runs the fuzzer outside the harness
 * (no time limit: the soak); anything else runs the tests above.
 */
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	size_t shrunk;
	__u64 seed;

	if (argc < 2 || strcmp(argv[1], "run"))
		return test_harness_run(argc, argv);
	if (argc > 2)
		setenv("HTABLE_FUZZ_OPS", argv[2], 1);
	if (argc > 3)
		setenv("HTABLE_FUZZ_SEED", argv[3], 1);
	seed = fz_seed();
	printf("# fuzz: seed %#llx (replay: htable_fuzz_test run OPS %#llx)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	if (htable_knobs_reset())
		return 1;
	return fz_run_all(seed, fz_env("HTABLE_FUZZ_OPS", FZ_DEFAULT_OPS), 0,
			  &shrunk) ? 1 : 0;
}
