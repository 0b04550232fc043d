// SPDX-License-Identifier: GPL-2.0
/*
 * The operations that add or read a hat's translations: hat_memload()
 * (MAP), hat_reload() and hat_pagesync(), each a visitor of the one walker
 * (htable_walk_range()). UNMAP is in unmap.c.
 *
 * The record of a mapping is its leaf entry (design.rst, "Per-mapping
 * state"): MAP writes entries and takes what each holds (a fresh page, a
 * reference for an alias, a pin count), UNMAP clears them and gives that
 * back after the shootdown, and nothing else is written per page. A map
 * that fails part-way unmaps what it mapped: a failed map changes
 * nothing.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <htable/claim.h>
#include <htable/hat.h>
#include <htable/map.h>
#include <htable/pages.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/unmap.h>
#include <htable/x86pte.h>

/* The entry bits of a mapping with attributes @attr, at @level. */
static x86pte_t hat_pte_bits(unsigned int attr, unsigned int level)
{
	x86pte_t bits = PT_VALID;

	if (level)
		bits |= PT_PAGESIZE;
	if (attr & HAT_WRITE)
		bits |= PT_WRITABLE;
	if (!(attr & HAT_EXEC))
		bits |= mmu.pt_nx;
	if (attr & HAT_LOCK)
		bits |= PT_SOFTLOCK;
	return bits;
}

/**
 * struct hat_cursor - where an alias reads its source, a table at a time
 * @hat:	the hat
 * @table:	the entries of the table found last, or NULL
 * @base:	the first va that table maps
 * @level:	its level
 *
 * The source is found by htable_walk_lockless(), with no hold and no
 * bucket lock: two MAPs that alias one source would otherwise meet on its
 * table's lock for every op. A table is kept only when it maps a page of
 * the source: the caller's claim keeps that page, so the table keeps an
 * entry and can't be unlinked (and no steal runs beside the claim).
 */
struct hat_cursor {
	struct hat	*hat;
	const x86pte_t	*table;
	unsigned long	base;
	unsigned int	level;
};

/* Does the cursor's table map @va? */
static bool hat_cursor_has(const struct hat_cursor *c, unsigned long va)
{
	return c->table && htable_base(va, c->level) == c->base;
}

/* The cursor's table's entry for @va, which it maps. */
static x86pte_t hat_cursor_entry(const struct hat_cursor *c, unsigned long va)
{
	return READ_ONCE(c->table[(va >> LEVEL_SHIFT(c->level)) &
				  (HTABLE_PTES_PER_TABLE - 1)]);
}

/* The 4 KiB page at @va of the page that @pte maps at @level, as an entry. */
static x86pte_t hat_page_at(x86pte_t pte, unsigned int level, unsigned long va)
{
	return (pte & ~PT_PAGESIZE) +
	       (((va & LEVEL_OFFSET(level)) >> PAGE_SHIFT) << PAGE_SHIFT);
}

/*
 * The entry that maps the 4 KiB page at @va of the cursor's hat, as an
 * entry of a 4 KiB page (a large page's page at its place in it), or 0
 * when the hat owns no page there (a table shared from another hat is not
 * the hat's). A stolen page counts. @va is in the caller's claim.
 */
static x86pte_t hat_cursor_pte(struct hat_cursor *c, unsigned long va)
{
	const x86pte_t *table;
	unsigned int level;
	x86pte_t pte;
	bool shared;

	if (hat_cursor_has(c, va)) {
		pte = hat_cursor_entry(c, va);
		if (PTE_ISPAGE(pte, c->level))
			return hat_page_at(pte, c->level, va);
		/*
		 * A hole in a leaf table. A higher table maps other vas
		 * through lower tables (a large page split since, or never
		 * there): walk again.
		 */
		if (!c->level)
			return htable_stolen_pte(c->hat, va);
	}
	rcu_read_lock();
	table = htable_walk_lockless(c->hat, va, &level, &shared, &pte);
	rcu_read_unlock();
	if (!PTE_ISPAGE(pte, level) || shared)
		return htable_stolen_pte(c->hat, va);
	c->table = table;
	c->level = level;
	c->base = htable_base(va, level);
	return hat_page_at(pte, level, va);
}

/*
 * Does one large page of the cursor's table hold every page of [@va, +@n
 * pages)? Then they are one aligned, contiguous run of one kind by
 * construction, and need no check page by page.
 */
static bool hat_cursor_covers(struct hat_cursor *c, unsigned long va,
			      unsigned long n)
{
	unsigned long last = va + (n << PAGE_SHIFT) - 1;
	unsigned int l = c->level;

	return l && hat_cursor_has(c, va) &&
	       va >> LEVEL_SHIFT(l) == last >> LEVEL_SHIFT(l) &&
	       PTE_ISPAGE(hat_cursor_entry(c, va), l);
}

/**
 * struct hat_map_op - one hat_memload(), as a walk
 * @w:		the walk (create mode, at the page level)
 * @m:		the request
 * @bits:	the bits of every new entry, pfn and PT_PINNED aside
 * @done:	the end of what is mapped so far: a failure unmaps [va, done)
 * @src:	ALIAS: the source cursor
 * @src_off:	ALIAS: the next source page, as an index into the source
 * @pfns:	PIN: the pinned pfns of one run
 */
struct hat_map_op {
	struct htable_walk	w;
	const struct hat_map	*m;
	x86pte_t		bits;
	unsigned long		done;
	struct hat_cursor	src;
	unsigned long		src_off;
	unsigned long		*pfns;
};

/*
 * The entry for the next alias page: the source's page at @src_off, checked
 * (a large page's source must be one aligned, contiguous run of one kind)
 * and held for the new entry. Return: the entry, or 0 with *@err set.
 */
static x86pte_t map_alias_next(struct hat_map_op *op, int *err)
{
	const struct hat_map *m = op->m;
	unsigned long unit = PTE_NPAGES(m->level), k, va;
	x86pte_t first, pte;

	va = m->src + (op->src_off << PAGE_SHIFT);
	/* The source repeats; its size is a multiple of @unit (dev.c). */
	op->src_off += unit;
	if (op->src_off == m->src_npages)
		op->src_off = 0;
	first = hat_cursor_pte(&op->src, va);
	*err = -ENOENT;
	if (!first)
		return 0;
	/*
	 * A large page: every page of the run, in order, of one kind. A run
	 * inside one large page of the source is that already, so 1 GiB of
	 * 2 MiB aliases of 2 MiB pages costs 512 lookups, not 2^18.
	 */
	k = unit == 1 || hat_cursor_covers(&op->src, va, unit) ? unit : 1;
	for (; k < unit; k++) {
		pte = hat_cursor_pte(&op->src, va + (k << PAGE_SHIFT));
		if (!pte)
			return 0;
		if (PTE2PFN(pte) != PTE2PFN(first) + k ||
		    (pte & PT_PINNED) != (first & PT_PINNED)) {
			*err = -EINVAL;
			return 0;
		}
		if (!(k % HTABLE_PTES_PER_TABLE))
			cond_resched();
	}
	if (PTE2PFN(first) & (unit - 1)) {
		*err = -EINVAL;
		return 0;
	}
	pte = (first & (PT_PADDR | PT_PINNED)) | op->bits;
	*err = hat_hold(op->w.hat, pte, m->level);
	return *err ? 0 : pte;
}

/*
 * Up to @n alias entries of 4 KiB pages at @dst, copied from the source
 * table the cursor holds, for as long as its entries are pages and are
 * held: each new entry is the source's page with the map's bits. Return:
 * how many were set (0 when the cursor's table is not the source's next
 * one); map_alias_next() takes the page it stopped at, a stolen one or a
 * failure included, the slow way.
 */
static unsigned int map_alias_run(struct hat_map_op *op, x86pte_t *dst,
				  unsigned int n)
{
	const struct hat_map *m = op->m;
	unsigned long sva = m->src + (op->src_off << PAGE_SHIFT);
	const x86pte_t *from;
	unsigned int i, se;
	x86pte_t pte;

	if (op->src.level || !hat_cursor_has(&op->src, sva))
		return 0;
	se = (sva >> PAGE_SHIFT) & (HTABLE_PTES_PER_TABLE - 1);
	n = min3(n, HTABLE_PTES_PER_TABLE - se,
		 (unsigned int)(m->src_npages - op->src_off));
	from = op->src.table + se;
	for (i = 0; i < n; i++) {
		pte = READ_ONCE(from[i]);
		if (!PTE_ISVALID(pte))
			break;
		pte = (pte & (PT_PADDR | PT_PINNED)) | op->bits;
		if (hat_hold(op->w.hat, pte, 0))
			break;
		WRITE_ONCE(dst[i], pte);
	}
	op->src_off += i;
	if (op->src_off == m->src_npages)
		op->src_off = 0;
	return i;
}

/*
 * Whether a run of entries the walk found where a map of pages at @level
 * goes is free: 0, or the errno of the first conflict (uapi.rst).
 */
static int map_check_run(struct htable *ht, unsigned int e, unsigned int n,
			 unsigned int level)
{
	unsigned int i;
	x86pte_t pte;

	if (ht->ht_flags & HTABLE_SHARED)
		return -EADDRINUSE;
	if (ht->ht_level != level)
		return -EBUSY;	/* a larger page covers the range */
	for (i = 0; i < n; i++) {
		pte = x86pte_get(ht, e + i);
		if (PTE_ISVALID(pte))
			return PTE_ISPAGE(pte, level) ? -EEXIST : -ENOTEMPTY;
	}
	return 0;
}

/* A walk that only looks for what a map of the range would conflict with. */
static int map_conflict_visit(struct htable_walk *w, struct htable *ht,
			      unsigned int e, unsigned int n, unsigned long va)
{
	return map_check_run(ht, e, n, w->level);
}

/*
 * MAP's visitor: a run of slots at the page level, all empty, gets pages.
 * All or nothing per run (the slots are checked first); a failure in the
 * run leaves what is set so far to the rollback of hat_memload().
 */
static int map_visit(struct htable_walk *w, struct htable *ht, unsigned int e,
		     unsigned int n, unsigned long va)
{
	struct hat_map_op *op = container_of(w, struct hat_map_op, w);
	const struct hat_map *m = op->m;
	unsigned long size = LEVEL_SIZE(m->level);
	bool locked = m->attr & HAT_LOCK;
	unsigned int i, k;
	struct page *pg;
	x86pte_t pte;
	int err;

	err = map_check_run(ht, e, n, m->level);
	if (err)
		return err;
	if (m->source == HAT_SRC_PIN) {
		err = hat_pin_user(w->hat, m->src + (va - m->va), n * PTE_NPAGES(m->level),
				   m->level, m->attr & HAT_WRITE, op->pfns);
		if (err)
			return err;
	}
	/* Counts first: a table never has more entries than it says. */
	htable_count(ht, n, locked ? n : 0);
	for (i = 0; i < n; i++, va += size) {
		/* 4 KiB aliases: a run at a time from the source's table. */
		if (m->source == HAT_SRC_ALIAS && !m->level) {
			k = map_alias_run(op, x86pte_access_pagetable(ht, e + i), n - i);
			i += k;
			va += (unsigned long)k << PAGE_SHIFT;
			op->done = va;
			if (i == n)
				break;
		}
		switch (m->source) {
		case HAT_SRC_FRESH:
			pg = hat_fresh_page(w->hat, m->level);
			pte = pg ? arch_page_to_phys(pg) | op->bits : 0;
			err = pg ? 0 : -ENOMEM;
			break;
		case HAT_SRC_PIN:
			pte = (op->pfns[i] << PAGE_SHIFT) | op->bits | PT_PINNED;
			break;
		default:
			pte = map_alias_next(op, &err);
			break;
		}
		if (err)
			break;
		x86pte_install(ht, e + i, pte);
		op->done = va + size;
	}
	if (err) {
		htable_count(ht, -(int)(n - i), locked ? -(int)(n - i) : 0);
		/* PIN: the counts of the pages not mapped. */
		for (; m->source == HAT_SRC_PIN && i < n; i++)
			hat_drop(w->hat, (op->pfns[i] << PAGE_SHIFT) | PT_VALID | PT_PINNED,
				 m->level);
	}
	return err;
}

/**
 * hat_hash_grow() - grow the hat's hash before a call, when it is due
 * @hat:	the hat; the caller holds none of its locks
 * @extra:	tables the call may add (htable_tables_spanned())
 *
 * It needs hat_seg_lock for write, so it waits for calls in progress (an
 * RW may sleep in a user fault under its claim) only when the chains
 * would be long. A growth that can't have its memory keeps the old hash,
 * which only has longer chains: no call fails for it (an UNMAP must not
 * fail for want of a bigger hash). MAP and UNMAP (unmap.c) call it.
 *
 * Return: 0, or -EINTR when a fatal signal ended the wait.
 */
int hat_hash_grow(struct hat *hat, unsigned long extra)
{
	if (!htable_hash_wants_growth(hat, extra, false))
		return 0;
	if (!down_write_trylock(&hat->hat_seg_lock)) {
		if (!htable_hash_wants_growth(hat, extra, true))
			return 0;
		if (down_write_killable(&hat->hat_seg_lock))
			return -EINTR;
	}
	htable_hash_grow(hat, extra);
	up_write(&hat->hat_seg_lock);
	return 0;
}

static bool hat_map_conflict(int err)
{
	return err == -EEXIST || err == -EBUSY || err == -ENOTEMPTY ||
	       err == -EADDRINUSE;
}

/**
 * hat_memload() - map @m->npages pages at @m->va (validated by dev.c)
 * @hat:	the hat
 * @m:		what to map, and where its pages come from
 *
 * Return: 0; -EEXIST when the range meets a mapping of the same page size;
 * -EADDRINUSE when it meets a table shared from another hat; -EBUSY when
 * it lies inside a larger page; -ENOTEMPTY when a large page would cover
 * smaller ones; -ENOENT when an alias source page is not the hat's;
 * -EINVAL when an alias source or pinned user memory is not a run of
 * aligned, contiguous large pages; -EOVERFLOW when an alias source page
 * has htable_ref_limit references; -EFAULT (or another
 * pin_user_pages_fast() error) when user memory can't be pinned; -ENOMEM
 * when a page or a table can't be had, or at RLIMIT_MEMLOCK; -EINTR when
 * a fatal signal ended a wait. On error nothing has changed.
 *
 * Context: sleeps. Claims the range (and an alias source, to read it), or
 * holds hat_seg_lock for write for a PIN map, and for an ALIAS map in a
 * hat with pinned memory (its pin counts are the hat's, not a range's).
 */
int hat_memload(struct hat *hat, const struct hat_map *m)
{
	unsigned long first = m->va >> PAGE_SHIFT, last = first + m->npages - 1;
	unsigned long eaddr = m->va + (m->npages << PAGE_SHIFT), i, sva;
	struct hat_range c = HAT_RANGE_CHANGES(first, last);
	bool excl = m->source == HAT_SRC_PIN;
	struct hat_map_op op = {
		.w = { .hat = hat, .level = m->level, .create = true, .visit = map_visit },
		.m = m, .bits = hat_pte_bits(m->attr, m->level), .done = m->va,
		.src = { .hat = hat },
	};
	struct htable_batch b;
	int err;

	if (m->source == HAT_SRC_ALIAS) {
		/* It takes references on the source pages: read them. */
		c.rfirst = m->src >> PAGE_SHIFT;
		c.rlast = c.rfirst + m->src_npages - 1;
	}
	if (m->source == HAT_SRC_PIN) {
		op.pfns = kmalloc_array(HTABLE_PTES_PER_TABLE, sizeof(*op.pfns),
					GFP_KERNEL);
		if (!op.pfns)
			return -ENOMEM;
	}
again:
	err = hat_hash_grow(hat, htable_tables_spanned(hat, m->va, eaddr, m->level)) ?:
	      hat_range_begin(hat, &c, excl);
	if (err)
		goto out_free;
	if (!excl && m->source == HAT_SRC_ALIAS && !xa_empty(&hat->hat_pins)) {
		/* The source may be pinned memory: its pin counts are the lock's. */
		hat_range_end(hat, &c, excl);
		excl = true;
		goto again;
	}
	i = m->va >> LEVEL_SHIFT(1);
	if (xa_find(&hat->hat_shares, &i, (eaddr - 1) >> LEVEL_SHIFT(1), XA_PRESENT)) {
		/* The tables there are another hat's: map through the owner. */
		err = -EADDRINUSE;
		goto out;
	}
	sva = m->va;
	if (htable_stolen_next(hat, &sva, eaddr)) {
		err = m->level ? -ENOTEMPTY : -EEXIST;
		goto out;
	}

	htable_batch_init(&b, hat);
	op.w.b = &b;
	err = htable_walk_range(&op.w, m->va, eaddr);
	if (err && op.done > m->va)
		hat_unmap_entries(hat, m->va, op.done, &b);
	if (err && !hat_map_conflict(err)) {
		/* A page already there is the error to report (uapi.rst). */
		struct htable_walk cw = {
			.hat = hat, .b = &b, .level = m->level, .visit = map_conflict_visit,
		};
		int cerr = htable_walk_range(&cw, op.done, eaddr);

		if (cerr)
			err = cerr;
	}
	htable_batch_finish(&b);
	if (!err)
		atomic_long_add(m->npages, &hat->hat_owned_pages);
out:
	hat_range_end(hat, &c, excl);
out_free:
	kfree(op.pfns);
	return err;
}

/**
 * struct hat_sync_op - one hat_pagesync(), as a walk
 * @w:		the walk (present leaves)
 * @va:		the range's start
 * @eaddr:	its end
 * @clear:	clear A and D
 * @ref:	pages with A
 * @mod:	pages with D
 */
struct hat_sync_op {
	struct htable_walk	w;
	unsigned long		va;
	unsigned long		eaddr;
	bool			clear;
	unsigned long		ref;
	unsigned long		mod;
};

/*
 * SYNC's visitor: count A and D per 4 KiB page (a large entry speaks for
 * each of its pages in the range), clearing them through x86pte_update(),
 * retried when the MMU sets a bit meanwhile. A table shared from another
 * hat is the owner's to SYNC.
 */
static int sync_visit(struct htable_walk *w, struct htable *ht, unsigned int e,
		      unsigned int n, unsigned long va)
{
	struct hat_sync_op *op = container_of(w, struct hat_sync_op, w);
	unsigned int level = ht->ht_level, i;
	unsigned long pages;
	x86pte_t pte, found;

	for (i = 0; i < n; i++, va = NEXT_ENTRY_VA(va, level)) {
		pte = x86pte_get(ht, e + i);
		if (!PTE_ISPAGE(pte, level))
			continue;
		/* Count what is cleared: the MMU may set a bit until the swap. */
		while (op->clear && (pte & (PT_REF | PT_MOD))) {
			/* Pinned memory written: its owner must hear of it. */
			if ((pte & (PT_MOD | PT_PINNED)) == (PT_MOD | PT_PINNED))
				hat_pin_dirty(w->hat, PTE2PFN(pte));
			found = x86pte_update(ht, e + i, pte, pte & ~(PT_REF | PT_MOD), w->b);
			if (found == pte)
				break;
			pte = found;
		}
		pages = (min(NEXT_ENTRY_VA(va, level), op->eaddr) -
			 max(va & LEVEL_MASK(level), op->va)) >> PAGE_SHIFT;
		if (pte & PT_REF)
			op->ref += pages;
		if (pte & PT_MOD)
			op->mod += pages;
	}
	return 0;
}

/**
 * hat_pagesync() - gather the A/D bits of a range (hat_pagesync)
 * @hat:	the hat
 * @va:		page-aligned start
 * @npages:	pages
 * @clear:	clear A and D after reading them: each cleared va is
 *		invalidated on every CPU where the hat is live, so the next
 *		access sets the bits again
 * @ref:	out: 4 KiB pages with A set
 * @mod:	out: 4 KiB pages with D set
 *
 * Stolen translations keep the bits they had and count too.
 *
 * Return: 0, or -EINTR when a fatal signal ended the wait for the lock.
 */
int hat_pagesync(struct hat *hat, unsigned long va, unsigned long npages,
		 bool clear, unsigned long *ref, unsigned long *mod)
{
	unsigned long eaddr = va + (npages << PAGE_SHIFT);
	struct hat_sync_op op = {
		.w = { .hat = hat, .own_only = true, .visit = sync_visit },
		.va = va, .eaddr = eaddr, .clear = clear,
	};
	struct htable_batch b;

	if (down_write_killable(&hat->hat_seg_lock))
		return -EINTR;
	htable_batch_init(&b, hat);
	op.w.b = &b;
	htable_walk_range(&op.w, va, eaddr);
	htable_stolen_sync(hat, va, eaddr, clear, &op.ref, &op.mod);
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	*ref = op.ref;
	*mod = op.mod;
	HATSTAT_INC(hs_ad_syncs);
	return 0;
}

/**
 * struct hat_reload_op - one hat_reload(), as walks
 * @w:		the walk (create mode, leaves)
 * @reloaded:	translations put back so far
 */
struct hat_reload_op {
	struct htable_walk	w;
	unsigned long		reloaded;
};

/*
 * RELOAD's visitor: put back the stolen translations of a run of a leaf
 * table, each counted before it appears, as every operation counts (a
 * table never has more entries than it says). A record over an entry in
 * use, or over a large page, is a bug: WARNed, and the reload ends there
 * (-EEXIST, which hat_reload() does not report) with what came before it
 * put back.
 */
static int reload_visit(struct htable_walk *w, struct htable *ht,
			unsigned int e, unsigned int n, unsigned long va)
{
	struct hat_reload_op *op = container_of(w, struct hat_reload_op, w);
	unsigned long end = va + ((unsigned long)n << PAGE_SHIFT), at;
	unsigned int i;
	x86pte_t pte;

	if (WARN_ON_ONCE(ht->ht_level))
		return -EEXIST;
	for (at = va; (pte = htable_stolen_next(w->hat, &at, end)); at += PAGE_SIZE) {
		i = e + ((at - va) >> PAGE_SHIFT);
		if (WARN_ON_ONCE(PTE_ISVALID(x86pte_get(ht, i))))
			return -EEXIST;
		htable_count(ht, 1, (pte & PT_SOFTLOCK) ? 1 : 0);
		x86pte_install(ht, i, pte);
		htable_stolen_erase(w->hat, at);
		op->reloaded++;
	}
	return 0;
}

/**
 * hat_reload() - rebuild the translations of a range that were stolen
 * @hat:	the hat
 * @va:		page-aligned start
 * @npages:	pages
 * @reloaded:	out: translations rebuilt
 *
 * The seed's fault path: each stolen entry goes back into its table as it
 * was, with its page, its WRITE/EXEC/LOCK bits and the A and D bits the
 * MMU had set; what it held (a reference, or a pin count) comes back with
 * it. The page itself never left the hat, so neither did its data. Each
 * leaf table's span that holds a stolen translation is one walk, which
 * finds or makes the table (reload_visit() fills it); a span with none
 * is skipped, so a sparse reload makes no table for its holes.
 *
 * Return: 0; -ENOMEM when a table can't be had (the translations rebuilt
 * so far stay: a reload only ever puts back what the steal took); -EINTR
 * (nothing done) when a fatal signal ended the wait for the lock.
 */
int hat_reload(struct hat *hat, unsigned long va, unsigned long npages,
	       unsigned long *reloaded)
{
	unsigned long eaddr = va + (npages << PAGE_SHIFT), end;
	struct hat_reload_op op = {
		.w = { .hat = hat, .create = true, .visit = reload_visit },
	};
	struct htable_batch b;
	int err = 0;

	*reloaded = 0;
	if (down_write_killable(&hat->hat_seg_lock))
		return -EINTR;
	/*
	 * Sized for the tables the stolen pages may need, at most one leaf
	 * table each (a failure keeps the old hash: no call fails for it).
	 */
	htable_hash_grow(hat, min_t(unsigned long,
				    htable_tables_spanned(hat, va, eaddr, 0),
				    atomic_long_read(&hat->hat_stolen_pages)));
	htable_batch_init(&b, hat);
	op.w.b = &b;
	/* The walker yields between runs: a leaf table at a time. */
	while (!err && htable_stolen_next(hat, &va, eaddr)) {
		end = min(htable_base(va, 0) + LEVEL_SIZE(1), eaddr);
		err = htable_walk_range(&op.w, va, end);
		va = end;
	}
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	*reloaded = op.reloaded;
	/* A record over a live entry was WARNed: what came before it stays. */
	return err == -EEXIST ? 0 : err;
}
