// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark: each htable mechanism timed against the Linux mechanism
 * that does the same work, in the same boot, on the same CPU, with the same
 * page counts and the same loop structure (Documentation/benchmarks.rst).
 *
 * debugfs "bench": write "CASE N REPS [ITERS]", then read the result, one
 * "row ..." line per comparison (key=value fields) and "mem ..." lines for
 * the metadata case. A write runs the case to completion before it returns.
 *
 * Backing pages and every table a case needs outside the timed work are
 * set up before the clock starts. Each of the REPS repeats times ITERS
 * operations on each side, the two sides alternating, and the row gives
 * the median, min and max of the per-op times. IPIs are counted from the
 * kernel's per-CPU irq_stat (function-call IPIs received, any CPU), so both
 * sides are counted the same way; flushes are what htable's counters say it
 * requested, and for the bare IPI peer the INVLPGs its function ran.
 *
 * This is not a test: nothing here judges a timing.
 */
#include <linux/bits.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <asm/hardirq.h>
#include <asm/pgtable.h>

#include <htable/bench.h>
#include <htable/cr3.h>
#include <htable/hat.h>
#include <htable/module.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

#define BENCH_MAX_REPS		31
#define BENCH_OUT_SIZE		8192
/* Where a case's hat maps its backing pages, and where it maps them again. */
#define BENCH_SRC_VA		BIT(32)
#define BENCH_DST_VA		BIT(36)
/* A CPU spinning with the hat live gives up after this long, whatever. */
#define BENCH_KEEPER_MAX_NS	(300ULL * NSEC_PER_SEC)
/* ...and leaves CR3 this often for a moment, so RCU never stalls. */
#define BENCH_KEEPER_PAUSE_NS	(200ULL * NSEC_PER_MSEC)

/* The output of the last case (bench_mutex). */
struct bench_out {
	char	*buf;
	size_t	len;
};

/**
 * struct bench_ctx - what one case set up before timing
 * @hat:	the case's hat (NULL when it needs none)
 * @n:		pages per operation
 * @nsrc:	backing pages the hat owns at BENCH_SRC_VA (aliased cyclically)
 * @pages:	@n page pointers onto the same backing pages, for the peers
 * @vaddr:	a vmap() of @pages, for the probe peer
 * @tpages:	the floor's preallocated tables
 * @ntables:	how many
 * @scratch:	the floor's page to zero once per 512 entries
 * @held:	a table the case keeps held so that only one is created per op
 * @mm:		the writer's mm, borrowed by the CPU that keeps the hat live
 * @remote:	that CPU
 * @invlpgs:	INVLPGs the bare IPI peer ran
 * @sink:	keeps the probe peer's reads from being optimised away
 */
struct bench_ctx {
	struct hat		*hat;
	unsigned long		n;
	unsigned long		nsrc;
	struct page		**pages;
	void			*vaddr;
	struct page		**tpages;
	unsigned long		ntables;
	struct page		*scratch;
	struct htable		*held;
	struct mm_struct	*mm;
	int			remote;
	atomic_long_t		invlpgs;
	unsigned long		sink;
};

/* One side of a comparison: ITERS operations, timed; 0 or an errno. */
struct bench_side {
	const char *name;
	int (*run)(struct bench_ctx *c, unsigned int iters, u64 *ns);
	bool counts_invlpgs;	/* flushes come from c->invlpgs */
	bool is_htable;		/* flushes come from htable's counters */
};

struct bench_counts {
	u64 ipis;
	u64 flushes;
};

static DEFINE_MUTEX(bench_mutex);
static struct bench_out bench_out;

static __printf(1, 2) void bench_printf(const char *fmt, ...)
{
	va_list ap;

	if (!bench_out.buf)
		return;
	va_start(ap, fmt);
	bench_out.len += vscnprintf(bench_out.buf + bench_out.len,
				    BENCH_OUT_SIZE - bench_out.len, fmt, ap);
	va_end(ap);
}

static void bench_counts_read(struct bench_counts *c)
{
	int cpu;

	c->ipis = 0;
	for_each_online_cpu(cpu)
		c->ipis += per_cpu(irq_stat, cpu).irq_call_count;
	c->flushes = htable_stat_sum(STAT_hs_tlb_invals) +
		     htable_stat_sum(STAT_hs_tlb_flush_all);
}

static int bench_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* A per-op count as "I.FF", or "na" when the side can't count it. */
static void bench_fmt_rate(char *s, size_t sz, u64 count, u64 ops, bool known)
{
	u64 x100;

	if (!known || !ops) {
		scnprintf(s, sz, "na");
		return;
	}
	x100 = div64_u64(count * 100, ops);
	scnprintf(s, sz, "%llu.%02llu", x100 / 100, x100 % 100);
}

/**
 * bench_row() - print one comparison row from per-op times
 * @op:		operation name
 * @n:		pages (or tables) per operation
 * @peer:	name of the peer
 * @ht:		htable's per-op ns, one per repeat (sorted here)
 * @pe:		the peer's, likewise
 * @reps:	repeats
 * @iters:	operations per repeat and side
 * @hc:		htable's IPIs and flushes over all repeats
 * @pc:		the peer's
 * @hc_known:	htable's flushes are known
 * @pc_known:	the peer's flushes are known
 */
static void bench_row(const char *op, unsigned long n, const char *peer,
		      u64 *ht, u64 *pe, unsigned int reps, unsigned int iters,
		      const struct bench_counts *hc, const struct bench_counts *pc,
		      bool hc_known, bool pc_known)
{
	u64 ops = (u64)reps * iters, hm, pm, r;
	char hi[24], hf[24], pi[24], pf[24];

	sort(ht, reps, sizeof(u64), bench_cmp_u64, NULL);
	sort(pe, reps, sizeof(u64), bench_cmp_u64, NULL);
	hm = ht[reps / 2];
	pm = pe[reps / 2];
	r = pm ? div64_u64(hm * 1000, pm) : 0;
	bench_fmt_rate(hi, sizeof(hi), hc->ipis, ops, true);
	bench_fmt_rate(hf, sizeof(hf), hc->flushes, ops, hc_known);
	bench_fmt_rate(pi, sizeof(pi), pc->ipis, ops, true);
	bench_fmt_rate(pf, sizeof(pf), pc->flushes, ops, pc_known);
	bench_printf("row op=%s n=%lu reps=%u iters=%u", op, n, reps, iters);
	bench_printf(" ht_med=%llu ht_min=%llu ht_max=%llu", hm, ht[0], ht[reps - 1]);
	bench_printf(" peer=%s pe_med=%llu pe_min=%llu pe_max=%llu", peer, pm,
		     pe[0], pe[reps - 1]);
	bench_printf(" ratio=%llu.%03llu", r / 1000, r % 1000);
	bench_printf(" ht_ipis=%s ht_flushes=%s pe_ipis=%s pe_flushes=%s\n",
		     hi, hf, pi, pf);
}

/* Time @s once: ITERS ops; add its IPIs and flushes to @acc. */
static int bench_side_once(struct bench_ctx *c, const struct bench_side *s,
			   unsigned int iters, u64 *per_op,
			   struct bench_counts *acc)
{
	struct bench_counts a, b;
	long inv0 = atomic_long_read(&c->invlpgs);
	u64 ns = 0;
	int err;

	bench_counts_read(&a);
	err = s->run(c, iters, &ns);
	bench_counts_read(&b);
	if (err)
		return err;
	*per_op = div64_u64(ns, iters);
	acc->ipis += b.ipis - a.ipis;
	if (s->is_htable)
		acc->flushes += b.flushes - a.flushes;
	else if (s->counts_invlpgs)
		acc->flushes += atomic_long_read(&c->invlpgs) - inv0;
	return 0;
}

/**
 * bench_pair() - time htable and a peer in alternation and print the row
 * @c:		the case's context, set up
 * @op:		operation name
 * @ht:		htable's side
 * @pe:		the peer's side
 * @reps:	repeats, 1..BENCH_MAX_REPS
 * @iters:	operations per repeat and side
 *
 * Return: 0, or the first errno a side returned (no row is printed).
 */
static int bench_pair(struct bench_ctx *c, const char *op,
		      const struct bench_side *ht, const struct bench_side *pe,
		      unsigned int reps, unsigned int iters)
{
	u64 hs[BENCH_MAX_REPS], ps[BENCH_MAX_REPS];
	struct bench_counts hc = {}, pc = {};
	unsigned int r;
	int err;

	for (r = 0; r < reps; r++) {
		err = bench_side_once(c, ht, iters, &hs[r], &hc);
		if (!err)
			err = bench_side_once(c, pe, iters, &ps[r], &pc);
		if (err) {
			bench_printf("error op=%s peer=%s err=%d\n", op, pe->name, err);
			return err;
		}
		cond_resched();
	}
	bench_row(op, c->n, pe->name, hs, ps, reps, iters, &hc, &pc,
		  ht->is_htable, pe->is_htable || pe->counts_invlpgs);
	return 0;
}

/* -- set-up shared by the cases -------------------------------------------- */

/* hat_memload() of @n pages at @va: fresh, or aliases of @sn pages at @sva. */
static int bench_map(struct hat *hat, unsigned long va, unsigned long n,
		     unsigned int level, unsigned long sva, unsigned long sn)
{
	struct hat_map m = {
		.va = va, .npages = n, .level = level, .attr = HAT_WRITE,
		.source = sn ? HAT_SRC_ALIAS : HAT_SRC_FRESH,
		.src = sva, .src_npages = sn,
	};

	return hat_memload(hat, &m);
}

/* The page @hat maps at @va. */
static struct page *bench_page(struct hat *hat, unsigned long va)
{
	struct hat_xlat x;

	hat_probe(hat, va, &x);
	return x.present ? pfn_to_page(PTE2PFN(x.pte)) : NULL;
}

/*
 * A hat owning @nsrc fresh pages at BENCH_SRC_VA, and @n page pointers
 * cycling over them for the peers, so both sides map the same frames.
 */
static int bench_setup_hat(struct bench_ctx *c, unsigned long n,
			   unsigned long nsrc)
{
	unsigned long i;
	int err;

	c->n = n;
	c->nsrc = nsrc;
	c->hat = hat_alloc();
	if (!c->hat)
		return -ENOMEM;
	err = bench_map(c->hat, BENCH_SRC_VA, nsrc, 0, 0, 0);
	if (err)
		return err;
	c->pages = kvmalloc_array(n, sizeof(*c->pages), GFP_KERNEL);
	if (!c->pages)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		c->pages[i] = bench_page(c->hat, BENCH_SRC_VA + (i % nsrc) * PAGE_SIZE);
	return 0;
}

static void bench_teardown(struct bench_ctx *c)
{
	unsigned long i;

	if (c->vaddr)
		vunmap(c->vaddr);
	if (c->tpages) {
		for (i = 0; i < c->ntables; i++)
			if (c->tpages[i])
				__free_page(c->tpages[i]);
		kvfree(c->tpages);
	}
	if (c->scratch)
		__free_page(c->scratch);
	kvfree(c->pages);
	if (c->hat)
		hat_free(c->hat);
}

/* -- map + unmap -------------------------------------------------------- */

static int ht_map_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	unsigned int i;
	u64 t0;
	int err;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		err = bench_map(c->hat, BENCH_DST_VA, c->n, 0, BENCH_SRC_VA, c->nsrc);
		if (!err)
			err = hat_unload(c->hat, BENCH_DST_VA, c->n);
		if (err)
			return err;
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int pe_vmap_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	unsigned int i;
	void *p;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		p = vmap(c->pages, c->n, VM_MAP, PAGE_KERNEL);
		if (!p)
			return -ENOMEM;
		vunmap(p);
		/* Pay the flush vunmap() defers, as htable pays its own. */
		vm_unmap_aliases();
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int pe_vm_map_ram_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	unsigned int i;
	void *p;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		p = vm_map_ram(c->pages, c->n, NUMA_NO_NODE);
		if (!p)
			return -ENOMEM;
		vm_unmap_ram(p, c->n);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

/* The floor: what the page-table stores alone cost, in tables set up ahead. */
static int pe_floor_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	x86pte_t bits = PT_VALID | PT_WRITABLE | mmu.pt_nx;
	unsigned long j, e, cnt;
	struct page **pg;
	unsigned int i;
	x86pte_t *t;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		for (j = 0; j < c->ntables; j++) {
			t = page_address(c->tpages[j]);
			clear_page(page_address(c->scratch));
			cnt = min_t(unsigned long, HTABLE_PTES_PER_TABLE,
				    c->n - j * HTABLE_PTES_PER_TABLE);
			pg = c->pages + j * HTABLE_PTES_PER_TABLE;
			for (e = 0; e < cnt; e++)
				WRITE_ONCE(t[e], arch_page_to_phys(pg[e]) | bits);
		}
		for (j = 0; j < c->ntables; j++) {
			t = page_address(c->tpages[j]);
			cnt = min_t(unsigned long, HTABLE_PTES_PER_TABLE,
				    c->n - j * HTABLE_PTES_PER_TABLE);
			for (e = 0; e < cnt; e++)
				WRITE_ONCE(t[e], 0);
		}
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static const struct bench_side side_ht_map = {
	.name = "htable", .run = ht_map_run, .is_htable = true,
};

static const struct bench_side side_vmap = {
	.name = "vmap+vunmap+vm_unmap_aliases", .run = pe_vmap_run,
};

static const struct bench_side side_vm_map_ram = {
	.name = "vm_map_ram+vm_unmap_ram", .run = pe_vm_map_ram_run,
};

static const struct bench_side side_floor = {
	.name = "floor:raw-pte-stores", .run = pe_floor_run,
};

static unsigned int bench_iters(unsigned int iters, unsigned long work,
				unsigned long n)
{
	return iters ?: max_t(unsigned long, 1, work / n);
}

static int case_map(struct bench_ctx *c, unsigned long n, unsigned int reps,
		    unsigned int iters)
{
	const struct bench_side *peer;
	int err;

	err = bench_setup_hat(c, n, min_t(unsigned long, n, HTABLE_PTES_PER_TABLE));
	if (err)
		return err;
	iters = bench_iters(iters, 4096, n);
	peer = n <= 16 ? &side_vm_map_ram : &side_vmap;
	err = bench_pair(c, "map+unmap", &side_ht_map, &side_vmap, reps, iters);
	if (!err && n <= 16)
		err = bench_pair(c, "map+unmap", &side_ht_map, &side_vm_map_ram,
				 reps, iters);
	if (err || n > HTABLE_PTES_PER_TABLE)
		return err;
	/*
	 * Map+unmap with a page kept mapped just past the range, so that its
	 * tables are never freed (the kernel never frees vmalloc-area
	 * tables): the peer of vm_map_ram, which keeps its own.
	 */
	err = bench_map(c->hat, BENCH_DST_VA + n * PAGE_SIZE, 1, 0, BENCH_SRC_VA, 1);
	if (!err)
		err = bench_pair(c, "map+unmap:tables-kept", &side_ht_map, peer,
				 reps, iters);
	return err;
}

static int case_floor(struct bench_ctx *c, unsigned long n, unsigned int reps,
		      unsigned int iters)
{
	unsigned long j;
	int err;

	err = bench_setup_hat(c, n, min_t(unsigned long, n, HTABLE_PTES_PER_TABLE));
	if (err)
		return err;
	c->ntables = DIV_ROUND_UP(n, HTABLE_PTES_PER_TABLE);
	c->tpages = kvcalloc(c->ntables, sizeof(*c->tpages), GFP_KERNEL);
	c->scratch = alloc_page(GFP_KERNEL);
	if (!c->tpages || !c->scratch)
		return -ENOMEM;
	for (j = 0; j < c->ntables; j++) {
		c->tpages[j] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!c->tpages[j])
			return -ENOMEM;
	}
	return bench_pair(c, "map+unmap", &side_ht_map, &side_floor, reps,
			  bench_iters(iters, 4096, n));
}

/* -- page-table allocation ------------------------------------------------ */

/* Create one level-0 table below the held level-1 one, then let it go. */
static int ht_ptalloc_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	struct htable_batch b;
	struct htable *ht;
	unsigned int i;
	int err = 0;
	u64 t0;

	down_write(&c->hat->hat_seg_lock);
	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		ht = htable_create(c->hat, BENCH_DST_VA, 0);
		if (!ht) {
			err = -ENOMEM;
			break;
		}
		htable_batch_init(&b, c->hat);
		htable_release(ht, &b);
		htable_batch_finish(&b);
	}
	*ns = ktime_get_ns() - t0;
	up_write(&c->hat->hat_seg_lock);
	return err;
}

/* Fresh: htable_dont_cache sends each freed table back to the system. */
static int ht_ptalloc_fresh_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	int err;

	atomic_inc(&htable_dont_cache);
	err = ht_ptalloc_run(c, iters, ns);
	atomic_dec(&htable_dont_cache);
	return err;
}

static int pe_alloc_page_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	struct page *pg;
	unsigned int i;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!pg)
			return -ENOMEM;
		__free_page(pg);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

/* The parts of a fresh table, each alone (benchmarks.rst). */
static int ht_ptalloc_page_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	struct page *pg;
	unsigned int i;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		pg = ptable_alloc(0);
		if (!pg)
			return -ENOMEM;
		memset(arch_table_va(pg), 0, PAGE_SIZE);
		ptable_free(pg, 0, true);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int ht_ptalloc_struct_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	struct htable *ht;
	unsigned int i;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		ht = kmem_cache_zalloc(htable_cache, GFP_KERNEL);
		if (!ht)
			return -ENOMEM;
		kmem_cache_free(htable_cache, ht);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static const struct bench_side side_ptalloc_page = {
	.name = "htable", .run = ht_ptalloc_page_run, .is_htable = true,
};

static const struct bench_side side_ptalloc_struct = {
	.name = "htable", .run = ht_ptalloc_struct_run, .is_htable = true,
};

static const struct bench_side side_ptalloc_fresh = {
	.name = "htable", .run = ht_ptalloc_fresh_run, .is_htable = true,
};

static const struct bench_side side_ptalloc_cached = {
	.name = "htable", .run = ht_ptalloc_run, .is_htable = true,
};

static const struct bench_side side_alloc_page = {
	.name = "alloc_page(__GFP_ZERO)+free", .run = pe_alloc_page_run,
};

static int case_ptalloc(struct bench_ctx *c, unsigned long n, unsigned int reps,
			unsigned int iters)
{
	int err;

	err = bench_setup_hat(c, 1, 1);
	if (err)
		return err;
	/* Hold the level-1 table, so that each op creates exactly one. */
	c->held = htable_create(c->hat, BENCH_DST_VA, 1);
	if (!c->held)
		return -ENOMEM;
	iters = iters ?: n;
	err = bench_pair(c, "ptalloc-fresh", &side_ptalloc_fresh,
			 &side_alloc_page, reps, iters);
	if (!err)
		err = bench_pair(c, "ptalloc-cached", &side_ptalloc_cached,
				 &side_alloc_page, reps, iters);
	if (!err)
		err = bench_pair(c, "ptalloc:ptable_alloc+memset+free",
				 &side_ptalloc_page, &side_alloc_page, reps, iters);
	if (!err)
		err = bench_pair(c, "ptalloc:struct-slab", &side_ptalloc_struct,
				 &side_alloc_page, reps, iters);
	down_write(&c->hat->hat_seg_lock);
	htable_release(c->held, NULL);
	up_write(&c->hat->hat_seg_lock);
	c->held = NULL;
	return err;
}

/* -- probe ------------------------------------------------------------------ */

static int ht_probe_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	struct hat_xlat x;
	unsigned int i;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		hat_probe(c->hat, BENCH_SRC_VA + (i % c->nsrc) * PAGE_SIZE, &x);
		if (!x.present)
			return -EIO;
		c->sink += PTE2PFN(x.pte);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int pe_lookup_address_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	unsigned int i, level;
	pte_t *pte;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		pte = lookup_address((unsigned long)c->vaddr + (i % c->nsrc) * PAGE_SIZE,
				     &level);
		if (!pte || !pte_present(*pte))
			return -EIO;
		c->sink += pte_pfn(*pte);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static const struct bench_side side_ht_probe = {
	.name = "htable", .run = ht_probe_run, .is_htable = true,
};

static const struct bench_side side_lookup_address = {
	.name = "lookup_address(vmap)", .run = pe_lookup_address_run,
};

static int case_probe(struct bench_ctx *c, unsigned long n, unsigned int reps,
		      unsigned int iters)
{
	int err;

	err = bench_setup_hat(c, n, n);
	if (err)
		return err;
	c->vaddr = vmap(c->pages, n, VM_MAP, PAGE_KERNEL);
	if (!c->vaddr)
		return -ENOMEM;
	iters = iters ?: 4096;
	return bench_pair(c, "probe", &side_ht_probe, &side_lookup_address,
			  reps, iters);
}

/* -- invalidate + shootdown to a CPU where the hat is live ----------------- */

/**
 * struct bench_keeper - a CPU that keeps a hat live in CR3
 * @hat:	the hat
 * @mm:		the mm it borrows, so the kernel's lazy-TLB code leaves CR3 be
 * @live:	set once CR3 holds the hat and the CPU is in hat_cpus
 * @stop:	set by the bench to end the spin
 * @clobbers:	times the kernel replaced CR3 and the keeper reloaded it
 * @pauses:	times the keeper let the CPU go for a moment
 * @done:	completed as the keeper leaves
 */
struct bench_keeper {
	struct hat		*hat;
	struct mm_struct	*mm;
	bool			live;
	bool			stop;
	unsigned int		clobbers;
	unsigned int		pauses;
	struct completion	done;
};

/*
 * Like a resident window (cr3.c) without its sampling, through the same
 * protocol (htable_live_*): join hat_cpus, load the hat with interrupts on
 * and preemption off, and spin until told to stop, so that the shootdowns
 * under test have a live CPU to reach.
 */
static int bench_keeper_fn(void *arg)
{
	struct bench_keeper *k = arg;
	struct htable_live l = {
		.hat = k->hat, .mm = k->mm,
		.table_pa = arch_page_to_phys(k->hat->hat_htable->ht_page),
	};
	u64 end = ktime_get_ns() + BENCH_KEEPER_MAX_NS;
	u64 pause = ktime_get_ns() + BENCH_KEEPER_PAUSE_NS, t;

	kthread_use_mm(k->mm);
	preempt_disable();
	htable_live_join(&l);
	local_irq_disable();
	htable_live_enter(&l, false);
	local_irq_enable();
	WRITE_ONCE(k->live, true);
	while (!READ_ONCE(k->stop) && (t = ktime_get_ns()) < end) {
		if (htable_live_reload(&l))
			k->clobbers++;
		if (t >= pause) {
			/*
			 * Let RCU and the scheduler have the CPU now and then:
			 * leave CR3 (the CPU stays in hat_cpus, which only
			 * costs a shootdown that finds CR3 elsewhere).
			 */
			local_irq_disable();
			htable_live_leave(&l);
			local_irq_enable();
			preempt_enable();
			cond_resched();
			preempt_disable();
			local_irq_disable();
			htable_live_enter(&l, false);
			local_irq_enable();
			pause = ktime_get_ns() + BENCH_KEEPER_PAUSE_NS;
			k->pauses++;
		}
		cpu_relax();
	}
	local_irq_disable();
	htable_live_leave(&l);
	local_irq_enable();
	htable_live_part(&l);
	preempt_enable();
	kthread_unuse_mm(k->mm);
	kthread_complete_and_exit(&k->done, 0);
}

static int ht_shootdown_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	struct htable_batch b;
	unsigned int i, j;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		htable_batch_init(&b, c->hat);
		for (j = 0; j < c->n; j++)
			htable_batch_inval(&b, BENCH_SRC_VA + j * PAGE_SIZE);
		htable_batch_flush(&b);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static void bench_invlpg_fn(void *arg)
{
	struct bench_ctx *c = arg;
	unsigned long j;

	for (j = 0; j < c->n; j++)
		arch_invlpg(BENCH_SRC_VA + j * PAGE_SIZE);
	atomic_long_add(c->n, &c->invlpgs);
}

static int pe_ipi_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	unsigned int i;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		preempt_disable();
		smp_call_function_many(cpumask_of(c->remote), bench_invlpg_fn, c, true);
		preempt_enable();
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static const struct bench_side side_ht_shootdown = {
	.name = "htable", .run = ht_shootdown_run, .is_htable = true,
};

static const struct bench_side side_ipi = {
	.name = "smp_call_function_many+invlpg", .run = pe_ipi_run,
	.counts_invlpgs = true,
};

struct bench_call {
	struct bench_ctx	*c;
	unsigned int		reps;
	unsigned int		iters;
};

/* On the bench CPU: keep the hat live on the remote one, time, stop. */
static int bench_shootdown_on_cpu(void *arg)
{
	struct bench_call *call = arg;
	struct bench_ctx *c = call->c;
	struct bench_keeper *k;
	struct task_struct *t;
	int err;

	k = kzalloc(sizeof(*k), GFP_KERNEL);
	if (!k)
		return -ENOMEM;
	k->hat = c->hat;
	k->mm = c->mm;
	init_completion(&k->done);
	t = kthread_create(bench_keeper_fn, k, "htable-keeper/%d", c->remote);
	if (IS_ERR(t)) {
		kfree(k);
		return PTR_ERR(t);
	}
	kthread_bind(t, c->remote);
	wake_up_process(t);
	while (!READ_ONCE(k->live) && !completion_done(&k->done))
		usleep_range(100, 200);

	err = bench_pair(c, "shootdown", &side_ht_shootdown, &side_ipi,
			 call->reps, call->iters);

	WRITE_ONCE(k->stop, true);
	wait_for_completion(&k->done);
	bench_printf("note op=shootdown keeper_cr3_clobbers=%u keeper_pauses=%u\n",
		     k->clobbers, k->pauses);
	kfree(k);
	return err;
}

static int case_shootdown(struct bench_ctx *c, unsigned long n,
			  unsigned int reps, unsigned int iters)
{
	struct bench_call call = { .c = c, .reps = reps, .iters = iters ?: 256 };
	int bench_cpu, err;

	if (num_online_cpus() < 2 || !c->mm) {
		bench_printf("skip op=shootdown reason=%s\n",
			     c->mm ? "one-cpu" : "no-mm");
		return 0;
	}
	err = bench_setup_hat(c, n, n);
	if (err)
		return err;
	bench_cpu = cpumask_first(cpu_online_mask);
	c->remote = cpumask_next(bench_cpu, cpu_online_mask);
	return smp_call_on_cpu(bench_cpu, bench_shootdown_on_cpu, &call, false);
}

/* -- large pages against 4 KiB pages --------------------------------------- */

/* Map and unmap c->n pages at BENCH_DST_VA aliasing the 2 MiB source page. */
static int ht_large_run(struct bench_ctx *c, unsigned int iters, u64 *ns,
			unsigned int level)
{
	unsigned int i;
	u64 t0;
	int err;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		err = bench_map(c->hat, BENCH_DST_VA, c->n, level, BENCH_SRC_VA, c->nsrc);
		if (!err)
			err = hat_unload(c->hat, BENCH_DST_VA, c->n);
		if (err)
			return err;
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int ht_large_2m_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return ht_large_run(c, iters, ns, 1);
}

static int ht_large_4k_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return ht_large_run(c, iters, ns, 0);
}

static const struct bench_side side_ht_large_2m = {
	.name = "htable-2M", .run = ht_large_2m_run, .is_htable = true,
};

static const struct bench_side side_ht_large_4k = {
	.name = "htable-4K", .run = ht_large_4k_run, .is_htable = true,
};

/*
 * N pages (a multiple of 512; 262144 is 1 GiB) mapped as 2 MiB pages
 * against the same range as 4 KiB pages, both aliasing one fresh 2 MiB
 * page, so no backing page is allocated in the timed loop.
 */
static int case_large(struct bench_ctx *c, unsigned long n, unsigned int reps,
		      unsigned int iters)
{
	int err;

	if (n % HTABLE_PTES_PER_TABLE)
		return -EINVAL;
	c->n = n;
	c->nsrc = HTABLE_PTES_PER_TABLE;
	c->hat = hat_alloc();
	if (!c->hat)
		return -ENOMEM;
	err = bench_map(c->hat, BENCH_SRC_VA, HTABLE_PTES_PER_TABLE, 1, 0, 0);
	if (err)
		return err;
	return bench_pair(c, "large", &side_ht_large_2m, &side_ht_large_4k, reps,
			  bench_iters(iters, 4096, n));
}

/* -- two threads on disjoint ranges -------------------------------------- */

/**
 * struct bench_thr - one thread of the scaling case
 * @hat:	its hat (maybe shared with the other thread)
 * @va:		its destination range
 * @src:	the hat's backing pages it aliases
 * @n:		pages per op
 * @nsrc:	backing pages at @src
 * @pages:	page pointers for the vm_map_ram control
 * @iters:	operations
 * @vmram:	run the vm_map_ram control instead of htable
 * @ready:	threads still to start; all spin until it reaches 0
 * @ns:		(out) the thread's elapsed time
 * @err:	(out) the first errno
 * @done:	completed as the thread leaves
 */
struct bench_thr {
	struct hat		*hat;
	unsigned long		va;
	unsigned long		src;
	unsigned long		n;
	unsigned long		nsrc;
	struct page		**pages;
	unsigned int		iters;
	bool			vmram;
	atomic_t		*ready;
	u64			ns;
	int			err;
	struct completion	done;
};

static int bench_thr_fn(void *arg)
{
	struct bench_thr *t = arg;
	unsigned int i;
	void *p;
	u64 t0;

	atomic_dec(t->ready);
	while (atomic_read(t->ready) > 0)
		cpu_relax();
	t0 = ktime_get_ns();
	for (i = 0; i < t->iters && !t->err; i++) {
		if (t->vmram) {
			p = vm_map_ram(t->pages, t->n, NUMA_NO_NODE);
			if (!p)
				t->err = -ENOMEM;
			else
				vm_unmap_ram(p, t->n);
			continue;
		}
		t->err = bench_map(t->hat, t->va, t->n, 0, t->src, t->nsrc);
		if (!t->err)
			t->err = hat_unload(t->hat, t->va, t->n);
	}
	t->ns = ktime_get_ns() - t0;
	kthread_complete_and_exit(&t->done, 0);
}

/*
 * Run @nthr of @thr at once, thread i bound to the i-th online CPU. Return
 * the mean per-op time in @per_op, or an errno.
 */
static int bench_threads(struct bench_thr *thr, unsigned int nthr, u64 *per_op)
{
	struct task_struct *task;
	atomic_t ready;
	unsigned int i, started = 0;
	int cpu = -1, err = 0;
	u64 sum = 0;

	atomic_set(&ready, nthr);
	for (i = 0; i < nthr; i++) {
		cpu = cpumask_next(cpu, cpu_online_mask);
		thr[i].ready = &ready;
		thr[i].err = 0;
		init_completion(&thr[i].done);
		task = kthread_create(bench_thr_fn, &thr[i], "htable-bench/%d", cpu);
		if (IS_ERR(task)) {
			err = PTR_ERR(task);
			/* Let the started ones run. */
			atomic_sub(nthr - i, &ready);
			break;
		}
		kthread_bind(task, cpu);
		wake_up_process(task);
		started++;
	}
	for (i = 0; i < started; i++) {
		wait_for_completion(&thr[i].done);
		err = err ?: thr[i].err;
		sum += div64_u64(thr[i].ns, thr[i].iters);
	}
	*per_op = started ? div64_u64(sum, started) : 0;
	return err;
}

static int bench_scaling(struct bench_ctx *c, const char *op, struct hat *h2,
			 bool vmram, unsigned int reps, unsigned int iters)
{
	u64 two[BENCH_MAX_REPS], one[BENCH_MAX_REPS];
	struct bench_counts a, b, hc = {}, pc = {};
	struct bench_thr thr[2];
	unsigned int r, i;
	int err;

	memset(thr, 0, sizeof(thr));
	for (i = 0; i < 2; i++) {
		thr[i].hat = i && h2 ? h2 : c->hat;
		thr[i].va = BENCH_DST_VA + i * (1UL << 30);
		thr[i].src = BENCH_SRC_VA;
		thr[i].n = c->n;
		thr[i].nsrc = c->nsrc;
		thr[i].pages = c->pages;
		thr[i].iters = iters;
		thr[i].vmram = vmram;
	}
	for (r = 0; r < reps; r++) {
		bench_counts_read(&a);
		err = bench_threads(thr, 2, &two[r]);
		bench_counts_read(&b);
		hc.ipis += b.ipis - a.ipis;
		hc.flushes += b.flushes - a.flushes;
		if (!err) {
			bench_counts_read(&a);
			err = bench_threads(thr, 1, &one[r]);
			bench_counts_read(&b);
			pc.ipis += b.ipis - a.ipis;
			pc.flushes += b.flushes - a.flushes;
		}
		if (err) {
			bench_printf("error op=%s err=%d\n", op, err);
			return err;
		}
	}
	bench_row(op, c->n, "1-thread", two, one, reps, iters, &hc, &pc,
		  !vmram, !vmram);
	return 0;
}

static int case_threads(struct bench_ctx *c, unsigned long n, unsigned int reps,
			unsigned int iters)
{
	struct hat *h2;
	int err;

	if (num_online_cpus() < 2) {
		bench_printf("skip op=2threads reason=one-cpu\n");
		return 0;
	}
	err = bench_setup_hat(c, n, n);
	if (err)
		return err;
	iters = bench_iters(iters, 4096, n);
	err = bench_scaling(c, "2threads-1hat", NULL, false, reps, iters);
	if (err)
		return err;
	/* A/B: the same work with no hat shared, so no hat_seg_lock shared. */
	h2 = hat_alloc();
	if (!h2)
		return -ENOMEM;
	err = bench_map(h2, BENCH_SRC_VA, n, 0, 0, 0);
	if (!err)
		err = bench_scaling(c, "2threads-2hats", h2, false, reps, iters);
	hat_free(h2);
	if (err)
		return err;
	/* Control: how well this machine scales a Linux mapping path. */
	return bench_scaling(c, "2threads-vm_map_ram", NULL, true, reps, iters);
}

/* -- stealing and reaping ------------------------------------------------- */

/* A hat with @ntables level-0 tables, one page in each; then reap. */
static int bench_reap_once(unsigned long ntables, unsigned long nreap,
			   u64 *per_table, struct bench_counts *acc)
{
	struct bench_counts a, b;
	unsigned long i, freed;
	struct hat *hat;
	int err;
	u64 t0, ns;

	hat = hat_alloc();
	if (!hat)
		return -ENOMEM;
	err = bench_map(hat, BENCH_SRC_VA, 1, 0, 0, 0);
	for (i = 0; i < ntables && !err; i++) {
		err = bench_map(hat, BENCH_DST_VA + i * LEVEL_SIZE(1), 1, 0, BENCH_SRC_VA, 1);
		if (!(i & 255))
			cond_resched();
	}
	if (!err) {
		bench_counts_read(&a);
		t0 = ktime_get_ns();
		freed = htable_reap(nreap);
		ns = ktime_get_ns() - t0;
		bench_counts_read(&b);
		acc->ipis += b.ipis - a.ipis;
		acc->flushes += b.flushes - a.flushes;
		*per_table = freed ? div64_u64(ns, freed) : ns;
		if (!freed)
			err = -EAGAIN;
	}
	hat_free(hat);
	return err;
}

static int case_steal(struct bench_ctx *c, unsigned long n, unsigned int reps,
		      unsigned int iters)
{
	u64 big[BENCH_MAX_REPS], small[BENCH_MAX_REPS];
	struct bench_counts hc = {}, pc = {};
	unsigned long base = max(n / 16, 16UL);
	unsigned int r;
	int err = 0;

	iters = iters ?: 64;
	c->n = n;
	for (r = 0; r < reps && !err; r++) {
		err = bench_reap_once(n, iters, &big[r], &hc);
		if (!err)
			err = bench_reap_once(base, iters, &small[r], &pc);
		cond_resched();
	}
	if (err) {
		bench_printf("error op=reap-per-table err=%d\n", err);
		return err;
	}
	/* iters 1: a row's times are per table already. */
	bench_row("reap-per-table", n, base == 1024 ? "self@1K" : "self@n/16",
		  big, small, reps, 1, &hc, &pc, true, true);
	return 0;
}

/* -- memory ------------------------------------------------------------- */

static int case_memory(struct bench_ctx *c, unsigned long n, unsigned int reps,
		       unsigned int iters)
{
	unsigned long tables = 0, hash, slab, per_table_x100, l, idx, pins = 0;
	struct htable_info info;
	void *pin;
	int err;

	err = bench_setup_hat(c, n, n);
	if (!err)
		err = hat_info(c->hat, &info);
	if (err)
		return err;
	for (l = 0; l < info.levels; l++)
		tables += info.tables[l];
	hash = c->hat->hat_num_hash * sizeof(*c->hat->hat_ht_hash);
	slab = kmem_cache_size(htable_cache);
	/* Bytes per table, x100: the struct's slab object plus its hash share. */
	per_table_x100 = slab * 100 + hash * 100 / tables;
	bench_printf("mem pages=%lu tables=%lu struct_htable=%zu slab_object=%lu",
		     n, tables, sizeof(struct htable), slab);
	bench_printf(" hash_bytes=%lu per_table=%lu.%02lu pct_of_4k=%lu.%02lu",
		     hash, per_table_x100 / 100, per_table_x100 % 100,
		     per_table_x100 / 4096, (per_table_x100 * 100 / 4096) % 100);
	/*
	 * State per mapping, beyond its entry: stolen records and pin
	 * records (none here, for fresh pages that stay mapped).
	 */
	xa_for_each(&c->hat->hat_pins, idx, pin)
		pins++;
	bench_printf(" stolen_records=%ld pin_records=%lu\n",
		     atomic_long_read(&c->hat->hat_stolen_pages), pins);
	return 0;
}

/* -- the table of cases ------------------------------------------------- */

/*
 * A case sets up @c (freed by bench_teardown() whatever it returns), prints
 * its rows through bench_pair() or bench_row(), and returns 0 or an errno.
 */
struct bench_case {
	const char *name;
	int (*run)(struct bench_ctx *c, unsigned long n, unsigned int reps,
		   unsigned int iters);
};

static const struct bench_case bench_cases[] = {
	{ "map", case_map },
	{ "floor", case_floor },
	{ "ptalloc", case_ptalloc },
	{ "probe", case_probe },
	{ "shootdown", case_shootdown },
	{ "threads", case_threads },
	{ "steal", case_steal },
	{ "memory", case_memory },
	{ "large", case_large },
};

/**
 * bench_run() - run case @name and leave its lines in bench_out
 * @name:	the case
 * @n:		its N (pages per op; tables for steal)
 * @reps:	repeats, 1..BENCH_MAX_REPS
 * @iters:	operations per repeat and side; 0: the case's default
 *
 * Context: process context, bench_mutex held; sleeps. Every hat, page and
 * thread the case made is gone when it returns.
 * Return: 0; -EINVAL for an unknown case; else the case's errno (-ENOMEM
 * when its set-up could not allocate, -EIO when a probe found no page,
 * -EAGAIN when a reap freed nothing), also printed as an "error" line.
 */
static int bench_run(const char *name, unsigned long n, unsigned int reps,
		     unsigned int iters)
{
	struct bench_ctx *c;
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(bench_cases); i++)
		if (!strcmp(bench_cases[i].name, name))
			break;
	if (i == ARRAY_SIZE(bench_cases))
		return -EINVAL;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	if (current->mm && mmget_not_zero(current->mm))
		c->mm = current->mm;
	err = bench_cases[i].run(c, n, reps, iters);
	bench_teardown(c);
	if (c->mm)
		mmput(c->mm);
	kfree(c);
	if (err)
		bench_printf("error op=%s err=%d\n", name, err);
	return err;
}

/*
 * Write "CASE N REPS [ITERS]": run it now. Returns @len, -EINVAL for a
 * malformed spec or unknown case, -EFAULT, -ENOMEM, or the case's errno.
 */
static ssize_t bench_write(struct file *f, const char __user *ubuf,
			   size_t len, loff_t *ppos)
{
	unsigned int reps = 0, iters = 0;
	unsigned long n = 0;
	char buf[64], name[16];
	int err;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%15s %lu %u %u", name, &n, &reps, &iters) < 3 ||
	    !n || n > HTABLE_MAX_NPAGES / 16 || !reps || reps > BENCH_MAX_REPS ||
	    iters > 1000000) {
		htable_bad_input("bench: bad spec (want CASE N REPS [ITERS])");
		return -EINVAL;
	}
	mutex_lock(&bench_mutex);
	if (!bench_out.buf)
		bench_out.buf = kvmalloc(BENCH_OUT_SIZE, GFP_KERNEL);
	if (!bench_out.buf) {
		mutex_unlock(&bench_mutex);
		return -ENOMEM;
	}
	bench_out.len = 0;
	bench_out.buf[0] = '\0';
	err = bench_run(name, n, reps, iters);
	mutex_unlock(&bench_mutex);
	if (err == -EINVAL)
		htable_bad_input("bench: no case %s", name);
	return err ?: len;
}

static ssize_t bench_read(struct file *f, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&bench_mutex);
	ret = simple_read_from_buffer(ubuf, len, ppos, bench_out.buf ?: "",
				      bench_out.buf ? bench_out.len : 0);
	mutex_unlock(&bench_mutex);
	return ret;
}

static const struct file_operations bench_fops = {
	.owner	= THIS_MODULE,
	.read	= bench_read,
	.write	= bench_write,
	.llseek	= default_llseek,
};

/**
 * htable_bench_debugfs_init() - create debugfs "bench" in @dir
 * @dir:	htable's debugfs directory, removed recursively at unload
 *
 * The result buffer is allocated at the first write and kept until
 * htable_bench_exit().
 */
void htable_bench_debugfs_init(struct dentry *dir)
{
	debugfs_create_file("bench", 0600, dir, NULL, &bench_fops);
}

/**
 * htable_bench_exit() - free the result buffer; debugfs "bench" is gone
 */
void htable_bench_exit(void)
{
	kvfree(bench_out.buf);
	bench_out.buf = NULL;
}
