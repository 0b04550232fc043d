// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's cases on one CPU (include/htable/bench.h): map+unmap
 * against vmap, vm_map_ram and raw stores, table allocation, probe against
 * lookup_address(), 2 MiB against 4 KiB pages, pinned pages, hat size and
 * the memory per table. Documentation/benchmarks.rst.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <asm/pgtable.h>

#include <htable/bench.h>
#include <htable/hat.h>
#include <htable/map.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/unmap.h>
#include <htable/x86pte.h>

/* -- map + unmap -------------------------------------------------------- */

/*
 * Map @n pages at BENCH_DST_VA in @hat, at @level, aliasing its @nsrc
 * pages at BENCH_SRC_VA (cyclically), and unmap them, @iters times: the
 * one htable operation the map, large and hat-size rows time.
 */
static int ht_map_unmap(struct hat *hat, unsigned long n, unsigned long nsrc,
			unsigned int level, unsigned int iters, u64 *ns)
{
	unsigned int i;
	u64 t0;
	int err;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		err = bench_map(hat, BENCH_DST_VA, n, level, BENCH_SRC_VA, nsrc);
		if (!err)
			err = hat_unload(hat, BENCH_DST_VA, n);
		if (err)
			return err;
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int ht_map_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return ht_map_unmap(c->hat, c->n, c->nsrc, 0, iters, ns);
}

/*
 * Linux's two ways to map @c's pages into the kernel and unmap them,
 * @iters times: vmap() with the flush vunmap() defers paid at once, as
 * htable pays its own, or vm_map_ram(), which keeps its own tables and
 * blocks. Always inlined into each peer with a constant @ram, so each
 * timed loop holds only its own calls.
 */
static __always_inline int linux_map_loop(struct bench_ctx *c, bool ram,
					  unsigned int iters, u64 *ns)
{
	unsigned int i;
	void *p;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		p = ram ? vm_map_ram(c->pages, c->n, NUMA_NO_NODE) :
			  vmap(c->pages, c->n, VM_MAP, PAGE_KERNEL);
		if (!p)
			return -ENOMEM;
		if (ram) {
			vm_unmap_ram(p, c->n);
		} else {
			vunmap(p);
			vm_unmap_aliases();
		}
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int pe_vmap_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return linux_map_loop(c, false, iters, ns);
}

static int pe_vm_map_ram_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return linux_map_loop(c, true, iters, ns);
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
		ht = htable_create_below(c->held, BENCH_DST_VA);
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

/* One part of a fresh table, or the peer's page, allocated and freed alone. */
enum alloc_part { PART_PAGE, PART_PTABLE, PART_STRUCT };

/*
 * Allocate and free @part @iters times. Always inlined into each side
 * below with a constant @part, so each side's timed loop holds only its
 * own calls (benchmarks.rst, the parts of a fresh table).
 */
static __always_inline int alloc_free_loop(enum alloc_part part, unsigned int iters,
					   u64 *ns)
{
	struct htable *ht;
	struct page *pg;
	unsigned int i;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		if (part == PART_STRUCT) {
			ht = kmem_cache_zalloc(htable_cache, GFP_KERNEL);
			if (!ht)
				return -ENOMEM;
			kmem_cache_free(htable_cache, ht);
			continue;
		}
		pg = part == PART_PAGE ? alloc_page(GFP_KERNEL | __GFP_ZERO) : ptable_alloc(0);
		if (!pg)
			return -ENOMEM;
		if (part == PART_PAGE)
			__free_page(pg);
		else
			ptable_free(pg, 0, true);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int pe_alloc_page_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return alloc_free_loop(PART_PAGE, iters, ns);
}

static int ht_ptalloc_page_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return alloc_free_loop(PART_PTABLE, iters, ns);
}

static int ht_ptalloc_struct_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return alloc_free_loop(PART_STRUCT, iters, ns);
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

/* -- large pages against 4 KiB pages --------------------------------------- */

/* c->n pages aliasing the 2 MiB source page, mapped as 2 MiB pages. */
static int ht_large_2m_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return ht_map_unmap(c->hat, c->n, c->nsrc, 1, iters, ns);
}

/* -- the size of the hat ---------------------------------------------------- */

#define BENCH_HATSIZE_OP	16

static int ht_hatsize_big_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return ht_map_unmap(c->hat, BENCH_HATSIZE_OP, BENCH_HATSIZE_OP, 0, iters, ns);
}

static int ht_hatsize_small_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	return ht_map_unmap(c->other, BENCH_HATSIZE_OP, BENCH_HATSIZE_OP, 0, iters, ns);
}

/* -- the sides -------------------------------------------------------------- */

/* The sides the one-CPU cases time, as the cases name them. */
enum {
	SIDE_HT_MAP,
	SIDE_VMAP,
	SIDE_VM_MAP_RAM,
	SIDE_FLOOR,
	SIDE_PTALLOC_FRESH,
	SIDE_PTALLOC_CACHED,
	SIDE_PTALLOC_PAGE,
	SIDE_PTALLOC_STRUCT,
	SIDE_ALLOC_PAGE,
	SIDE_HT_PROBE,
	SIDE_LOOKUP_ADDRESS,
	SIDE_LARGE_2M,
	SIDE_LARGE_4K,
	SIDE_HATSIZE_BIG,
	SIDE_HATSIZE_SMALL,
};

/*
 * One table, so that every name a row can give as peer= (which
 * scripts/bench/report.py keys on) stands in one place. An htable side's
 * flushes come from htable's counters; a Linux peer's are not known.
 */
static const struct bench_side sides[] = {
	[SIDE_HT_MAP]		= { "htable", ht_map_run, .is_htable = true },
	[SIDE_VMAP]		= { "vmap+vunmap+vm_unmap_aliases", pe_vmap_run },
	[SIDE_VM_MAP_RAM]	= { "vm_map_ram+vm_unmap_ram", pe_vm_map_ram_run },
	[SIDE_FLOOR]		= { "floor:raw-pte-stores", pe_floor_run },
	[SIDE_PTALLOC_FRESH]	= { "htable", ht_ptalloc_fresh_run, .is_htable = true },
	[SIDE_PTALLOC_CACHED]	= { "htable", ht_ptalloc_run, .is_htable = true },
	[SIDE_PTALLOC_PAGE]	= { "htable", ht_ptalloc_page_run, .is_htable = true },
	[SIDE_PTALLOC_STRUCT]	= { "htable", ht_ptalloc_struct_run, .is_htable = true },
	[SIDE_ALLOC_PAGE]	= { "alloc_page(__GFP_ZERO)+free", pe_alloc_page_run },
	[SIDE_HT_PROBE]		= { "htable", ht_probe_run, .is_htable = true },
	[SIDE_LOOKUP_ADDRESS]	= { "lookup_address(vmap)", pe_lookup_address_run },
	[SIDE_LARGE_2M]		= { "htable-2M", ht_large_2m_run, .is_htable = true },
	[SIDE_LARGE_4K]		= { "htable-4K", ht_map_run, .is_htable = true },
	[SIDE_HATSIZE_BIG]	= { "htable", ht_hatsize_big_run, .is_htable = true },
	[SIDE_HATSIZE_SMALL]	= { "self@16", ht_hatsize_small_run, .is_htable = true },
};

/* -- the cases --------------------------------------------------------------- */

int case_map(struct bench_ctx *c, unsigned long n, unsigned int reps,
	     unsigned int iters)
{
	const struct bench_side *peer;
	int err;

	err = bench_setup_hat(c, n, min_t(unsigned long, n, HTABLE_PTES_PER_TABLE));
	if (err)
		return err;
	iters = bench_iters(iters, 4096, n);
	peer = n <= 16 ? &sides[SIDE_VM_MAP_RAM] : &sides[SIDE_VMAP];
	err = bench_pair(c, "map+unmap", &sides[SIDE_HT_MAP], &sides[SIDE_VMAP],
			 reps, iters);
	if (!err && n <= 16)
		err = bench_pair(c, "map+unmap", &sides[SIDE_HT_MAP],
				 &sides[SIDE_VM_MAP_RAM], reps, iters);
	if (err || n > HTABLE_PTES_PER_TABLE)
		return err;
	/*
	 * Map+unmap with a page kept mapped just past the range, so that its
	 * tables are never freed (the kernel never frees vmalloc-area
	 * tables): the peer of vm_map_ram, which keeps its own.
	 */
	err = bench_map(c->hat, BENCH_DST_VA + n * PAGE_SIZE, 1, 0, BENCH_SRC_VA, 1);
	if (!err)
		err = bench_pair(c, "map+unmap:tables-kept", &sides[SIDE_HT_MAP], peer,
				 reps, iters);
	return err;
}

int case_floor(struct bench_ctx *c, unsigned long n, unsigned int reps,
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
	return bench_pair(c, "map+unmap", &sides[SIDE_HT_MAP], &sides[SIDE_FLOOR], reps,
			  bench_iters(iters, 4096, n));
}

int case_ptalloc(struct bench_ctx *c, unsigned long n, unsigned int reps,
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
	err = bench_pair(c, "ptalloc-fresh", &sides[SIDE_PTALLOC_FRESH],
			 &sides[SIDE_ALLOC_PAGE], reps, iters);
	if (!err)
		err = bench_pair(c, "ptalloc-cached", &sides[SIDE_PTALLOC_CACHED],
				 &sides[SIDE_ALLOC_PAGE], reps, iters);
	if (!err)
		err = bench_pair(c, "ptalloc:ptable_alloc+free",
				 &sides[SIDE_PTALLOC_PAGE], &sides[SIDE_ALLOC_PAGE],
				 reps, iters);
	if (!err)
		err = bench_pair(c, "ptalloc:struct-slab", &sides[SIDE_PTALLOC_STRUCT],
				 &sides[SIDE_ALLOC_PAGE], reps, iters);
	down_write(&c->hat->hat_seg_lock);
	htable_release(c->held, NULL);
	up_write(&c->hat->hat_seg_lock);
	c->held = NULL;
	return err;
}

int case_probe(struct bench_ctx *c, unsigned long n, unsigned int reps,
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
	return bench_pair(c, "probe", &sides[SIDE_HT_PROBE], &sides[SIDE_LOOKUP_ADDRESS],
			  reps, iters);
}

/*
 * N pages (a multiple of 512; 262144 is 1 GiB) mapped as 2 MiB pages
 * against the same range as 4 KiB pages, both aliasing one fresh 2 MiB
 * page, so no backing page is allocated in the timed loop.
 */
int case_large(struct bench_ctx *c, unsigned long n, unsigned int reps,
	       unsigned int iters)
{
	int err;

	if (n % HTABLE_PTES_PER_TABLE)
		return -EINVAL;
	/* The source: one 2 MiB page. */
	err = bench_setup_src(c, n, HTABLE_PTES_PER_TABLE, 1);
	if (err)
		return err;
	return bench_pair(c, "large", &sides[SIDE_LARGE_2M], &sides[SIDE_LARGE_4K],
			  reps, bench_iters(iters, 4096, n));
}

/* -- pinned pages: cost per page against the number of pages --------------- */

/*
 * Map @n pages of the caller's memory at @uaddr pinned, and unmap them,
 * @iters times; the time per page. A pin is kept per folio, so the cost
 * per page must not grow with @n (issue: "Pinning 4 KiB pages is
 * quadratic").
 */
static int bench_pin_once(struct hat *hat, unsigned long uaddr, unsigned long n,
			  unsigned int iters, u64 *per_page, struct bench_counts *acc)
{
	struct hat_map m = {
		.va = BENCH_DST_VA, .npages = n, .attr = HAT_WRITE,
		.source = HAT_SRC_PIN, .src = uaddr,
	};
	struct bench_counts a, b;
	unsigned int i;
	int err = 0;
	u64 t0;

	bench_counts_read(&a);
	t0 = ktime_get_ns();
	for (i = 0; i < iters && !err; i++) {
		err = hat_memload(hat, &m);
		if (!err)
			err = hat_unload(hat, BENCH_DST_VA, n);
	}
	*per_page = div64_u64(ktime_get_ns() - t0, (u64)iters * n);
	bench_counts_read(&b);
	acc->ipis += b.ipis - a.ipis;
	acc->flushes += b.flushes - a.flushes;
	return err;
}

/*
 * N pages of the writer's memory (an anonymous mapping made here, in its
 * mm, and populated) pinned and unpinned, per page, against 1024 pages.
 */
int case_pin(struct bench_ctx *c, unsigned long n, unsigned int reps,
	     unsigned int iters)
{
	u64 big[BENCH_MAX_REPS], small[BENCH_MAX_REPS];
	struct bench_counts hc = {}, pc = {};
	unsigned long uaddr, base = min(n, 1024UL);
	unsigned int r;
	int err = 0;

	if (!current->mm)
		return -EINVAL;
	c->n = n;
	c->hat = hat_alloc();
	if (!c->hat)
		return -ENOMEM;
	uaddr = vm_mmap(NULL, 0, n << PAGE_SHIFT, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, 0);
	if (IS_ERR_VALUE(uaddr))
		return (int)uaddr;
	for (r = 0; r < reps && !err; r++) {
		err = bench_pin_once(c->hat, uaddr, n, bench_iters(iters, 65536, n),
				     &big[r], &hc);
		if (!err)
			err = bench_pin_once(c->hat, uaddr, base,
					     bench_iters(iters, 65536, base), &small[r], &pc);
		cond_resched();
	}
	vm_munmap(uaddr, n << PAGE_SHIFT);
	if (err) {
		bench_printf("error op=pin-per-page err=%d\n", err);
		return err;
	}
	/* iters 1: a row's times are per page already. */
	bench_row("pin-map+unmap-per-page", n, "self@1K", big, small, reps, 1,
		  &hc, &pc, true, true);
	return 0;
}

/*
 * Map+unmap of 16 pages in a hat that holds N pages (aliases of its 16,
 * 1 GiB above them), against the same in a hat that holds only the 16:
 * the cost of an operation must not grow with the hat.
 */
int case_hatsize(struct bench_ctx *c, unsigned long n, unsigned int reps,
		 unsigned int iters)
{
	int err;

	if (n < BENCH_HATSIZE_OP)
		return -EINVAL;
	c->n = n;
	c->hat = hat_alloc();
	c->other = hat_alloc();
	if (!c->hat || !c->other)
		return -ENOMEM;
	err = bench_map(c->hat, BENCH_SRC_VA, BENCH_HATSIZE_OP, 0, 0, 0);
	if (!err)
		err = bench_map(c->other, BENCH_SRC_VA, BENCH_HATSIZE_OP, 0, 0, 0);
	if (!err && n > BENCH_HATSIZE_OP)
		err = bench_map(c->hat, BENCH_SRC_VA + LEVEL_SIZE(2), n - BENCH_HATSIZE_OP,
				0, BENCH_SRC_VA, BENCH_HATSIZE_OP);
	if (err)
		return err;
	return bench_pair(c, "map+unmap:hat-size", &sides[SIDE_HATSIZE_BIG],
			  &sides[SIDE_HATSIZE_SMALL], reps, bench_iters(iters, 4096, 16));
}

/* -- memory ------------------------------------------------------------- */

int case_memory(struct bench_ctx *c, unsigned long n, unsigned int reps,
		unsigned int iters)
{
	unsigned long tables = 0, hash, slab, per_table_x100, l, idx, pins = 0;
	struct hat_info info;
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

