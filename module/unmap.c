// SPDX-License-Identifier: GPL-2.0
/*
 * UNMAP: hat_unload(), a visitor of the one walker (htable_walk_range()),
 * with the splits of large pages an unmap's ends cut, and hat_drop_all(),
 * which gives back what a hat being freed holds.
 *
 * UNMAP clears the entries of a range and gives back what each held
 * (design.rst, "Per-mapping state") after the shootdown; a range with a
 * hole changes nothing (ENOENT). An unmap that splits large pages gets
 * every table first. MAP (map.c) calls hat_unmap_entries() to undo a map
 * that failed part-way.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/xarray.h>

#include <htable/claim.h>
#include <htable/hat.h>
#include <htable/map.h>
#include <htable/pages.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/unmap.h>
#include <htable/x86pte.h>

/**
 * struct hat_unmap_op - one unmap (or count) of a range, as a walk
 * @w:		the walk (present leaves)
 * @g:		the drops waiting for the shootdown
 * @va:		the range's start
 * @eaddr:	its end
 * @pages:	4 KiB pages of the range found mapped (counting) or unmapped
 * @count:	only count, change nothing
 * @large:	counting: a large page was found
 * @one_run:	the range must be one run of one leaf table, holding @want
 *		pages: check, then clear (hat_unmap_one_run())
 * @want:	one_run: the pages the table must map
 * @seen:	one_run: the run was found, and cleared
 */
struct hat_unmap_op {
	struct htable_walk	w;
	struct hat_gather	g;
	unsigned long		va;
	unsigned long		eaddr;
	unsigned long		pages;
	bool			count;
	bool			large;
	bool			one_run;
	unsigned long		want;
	bool			seen;
};

/*
 * UNMAP's visitor: clear each present page entry of the run, and give back
 * what it held once no CPU can reach it. Counting only, add up the pages
 * mapped in the range. The pages of a table shared from another hat are
 * not this hat's: they are neither counted nor unmapped.
 */
static int unmap_visit(struct htable_walk *w, struct htable *ht, unsigned int e,
		       unsigned int n, unsigned long va)
{
	struct hat_unmap_op *op = container_of(w, struct hat_unmap_op, w);
	unsigned int level = ht->ht_level, i, cleared = 0, locked = 0;
	unsigned long start, end;
	x86pte_t old;

	/*
	 * A leaf table the range covers whole: its count is its pages. The
	 * claim keeps every other call out of it, and no steal runs beside
	 * hat_seg_lock held for read.
	 */
	if (op->count && !level && n == HTABLE_PTES_PER_TABLE) {
		op->pages += atomic_read(&ht->ht_valid_cnt);
		return 0;
	}
	if (op->one_run) {
		/* Not the whole range in one leaf run: the two walks do it. */
		if (level || va != op->va || va + ((unsigned long)n << PAGE_SHIFT) != op->eaddr)
			return -EAGAIN;
		for (i = 0; i < n; i++)
			cleared += PTE_ISVALID(x86pte_get(ht, e + i));
		if (cleared != op->want)
			return -ENOENT;
		op->seen = true;
		cleared = 0;
	}
	for (i = 0; i < n; i++, va = NEXT_ENTRY_VA(va, level)) {
		if (op->count) {
			if (PTE_ISPAGE(x86pte_get(ht, e + i), level)) {
				op->large |= level > 0;
				start = max(va & LEVEL_MASK(level), op->va);
				end = min(NEXT_ENTRY_VA(va, level), op->eaddr);
				op->pages += (end - start) >> PAGE_SHIFT;
			}
			continue;
		}
		old = x86pte_clear(ht, e + i, w->b);
		if (!PTE_ISVALID(old))
			continue;
		cleared++;
		locked += !!(old & PT_SOFTLOCK);
		op->pages += PTE_NPAGES(level);
		hat_gather_drop(&op->g, old, level);
	}
	if (cleared)
		htable_count(ht, -(int)cleared, -(int)locked);
	return 0;
}

/**
 * hat_unmap_entries() - unmap every present page entry of a range
 * @hat:	the hat; the caller holds what keeps the range as it is (a
 *		claim, or hat_seg_lock for write)
 * @va:		start of the range
 * @eaddr:	its end (exclusive)
 * @b:		the caller's batch: the pages' shootdown, and the tables
 *		that became empty, wait in it
 *
 * UNMAP's clearing walk, and MAP's rollback of what it mapped.
 *
 * Return: the 4 KiB pages unmapped.
 */
unsigned long hat_unmap_entries(struct hat *hat, unsigned long va,
				unsigned long eaddr, struct htable_batch *b)
{
	struct hat_unmap_op op = {
		.w = { .hat = hat, .b = b, .own_only = true, .visit = unmap_visit },
		.va = va, .eaddr = eaddr,
	};

	hat_gather_init(&op.g, hat, b);
	htable_walk_range(&op.w, va, eaddr);
	hat_gather_flush(&op.g);
	return op.pages;
}

/*
 * UNMAP of a range that is one run of one leaf table (every small unmap
 * not at a table's edge), in one walk instead of a count and then a
 * clear: the visitor counts the run's pages, and clears them only when
 * every page of the range is there (or stolen). Needs no large page in
 * the range and no pinned memory in the hat, which need the two walks.
 * Return: 1 when it unmapped the range, -ENOENT (nothing changed) when
 * the range has a hole, 0 (nothing changed) when the range is not one
 * leaf run: the caller then takes the two walks.
 */
static int hat_unmap_one_run(struct hat *hat, unsigned long va,
			     unsigned long eaddr, unsigned long npages,
			     struct htable_batch *b)
{
	struct hat_unmap_op op = {
		.w = { .hat = hat, .b = b, .own_only = true, .visit = unmap_visit },
		.va = va, .eaddr = eaddr, .one_run = true,
		.want = npages - htable_stolen_count(hat, va, eaddr),
	};
	int err;

	hat_gather_init(&op.g, hat, b);
	err = htable_walk_range(&op.w, va, eaddr);
	hat_gather_flush(&op.g);
	if (err == -ENOENT)
		return err;
	return op.seen;
}

/*
 * The hat's own pages mapped in [@va, @eaddr), stolen ones included;
 * *@large says whether a large page maps any of them.
 */
static unsigned long hat_count_pages(struct hat *hat, unsigned long va,
				     unsigned long eaddr, bool *large)
{
	struct htable_batch b;
	struct hat_unmap_op op = {
		.w = { .hat = hat, .b = &b, .own_only = true, .visit = unmap_visit },
		.va = va, .eaddr = eaddr, .count = true,
	};

	htable_batch_init(&b, hat);
	htable_walk_range(&op.w, va, eaddr);
	htable_batch_finish(&b);
	*large = op.large;
	return op.pages + htable_stolen_count(hat, va, eaddr);
}

/*
 * The number of page levels a split at @va needs: down to the largest
 * level at which @va starts an entry, from the level of the page that
 * maps it. 0 when no large page covers @va without starting there.
 */
static unsigned int hat_edge_splits(struct hat *hat, unsigned long va)
{
	unsigned int have, want = 0;
	struct htable *ht;
	x86pte_t pte;

	ht = htable_getpte(hat, va, NULL, &pte, mmu.max_page_level);
	if (!ht)
		return 0;
	have = PTE_ISPAGE(pte, ht->ht_level) ? ht->ht_level : 0;
	htable_release(ht, NULL);
	while (want < have && !(va & LEVEL_OFFSET(want + 1)))
		want++;
	return have - want;
}

/* The entry for page @i of a split of @pte, one level down. */
static x86pte_t hat_split_child(x86pte_t pte, unsigned int level, unsigned int i)
{
	return (pte & ~(PT_PADDR | PT_PAGESIZE)) |
	       ((PTE2PFN(pte) + i * PTE_NPAGES(level - 1)) << PAGE_SHIFT);
}

/*
 * Split the large pages that cover @va without starting at it, level by
 * level, until the page that holds @va starts there (partial unmap), each
 * with the next table of @spares (*@next counts those used). Each new
 * entry holds what the large one held, taken before the split; the large
 * one's share is given back after it. hat_seg_lock is held for write: the
 * rest of the page is outside the range being unmapped.
 * Return: 0, or -EOVERFLOW when a page has too many references (that
 * split is not made).
 */
static int hat_split_edge(struct hat *hat, unsigned long va,
			  struct htable **spares, unsigned int *next,
			  struct htable_batch *b)
{
	unsigned int e, i, k, level;
	struct htable *ht;
	x86pte_t pte;
	int err;

	lockdep_assert_held_write(&hat->hat_seg_lock);
	for (;;) {
		ht = htable_getpte(hat, va, &e, &pte, mmu.max_page_level);
		if (!ht)
			return 0;
		level = ht->ht_level;
		if (!level || !PTE_ISPAGE(pte, level) || !(va & LEVEL_OFFSET(level))) {
			htable_release(ht, b);
			return 0;
		}
		/* Prepare: every new entry's share, before anything changes. */
		for (i = 0, err = 0; i < HTABLE_PTES_PER_TABLE && !err; i++)
			err = hat_hold(hat, hat_split_child(pte, level, i), level - 1);
		if (err) {
			for (k = 0; k + 1 < i; k++)
				hat_drop(hat, hat_split_child(pte, level, k), level - 1);
			htable_release(ht, b);
			return err;
		}
		err = htable_split(ht, e, &spares[(*next)++], b);
		htable_release(ht, b);
		if (WARN_ON_ONCE(err))
			return err;
		/* The large entry's own share; its PS bit is no page's. */
		hat_drop(hat, pte & ~PT_PAGESIZE, level);
	}
}

/**
 * hat_unload() - unmap @npages pages at @va (validated by dev.c)
 * @hat:	the hat
 * @va:		page-aligned start
 * @npages:	pages to unmap
 *
 * Locked mappings are unlocked and unmapped too. What each entry held is
 * given back only after the shootdown, so no CPU can reach a page that was
 * freed. A large page the range covers in part is first split
 * (htable_split()), down to 4 KiB where need be, so the rest of it stays
 * mapped to the same memory; the tables for that are all had first. A
 * range inside one leaf table is checked and cleared in one walk
 * (hat_unmap_one_run()); any other is counted first, then cleared.
 *
 * Return: 0; -ENOENT when the range has a hole; -ENOMEM when a split
 * can't get a table; -EOVERFLOW when a split page has too many references;
 * -EINTR when a fatal signal ended a wait. On error nothing changed.
 *
 * Context: sleeps. Claims the range; starts over with hat_seg_lock held
 * for write when it must split a large page or meets pinned memory.
 */
int hat_unload(struct hat *hat, unsigned long va, unsigned long npages)
{
	unsigned long first = va >> PAGE_SHIFT, last = first + npages - 1;
	unsigned long eaddr = va + (npages << PAGE_SHIFT);
	struct hat_range c = HAT_RANGE_CHANGES(first, last);
	struct htable *spares[2 * MAX_NUM_LEVEL] = { NULL };
	unsigned int nsplit = 0, next = 0, k;
	struct htable_batch b;
	bool excl = false, large;
	int err;

again:
	/* Splits add a table or two: the hash is grown for what it holds. */
	err = hat_hash_grow(hat, 0) ?: hat_range_begin(hat, &c, excl);
	if (err)
		return err;
	htable_batch_init(&b, hat);
	if (!excl && xa_empty(&hat->hat_pins)) {
		err = hat_unmap_one_run(hat, va, eaddr, npages, &b);
		if (err < 0)
			goto out;
		if (err)
			goto unmapped;
	}
	if (hat_count_pages(hat, va, eaddr, &large) != npages) {
		err = -ENOENT;
		goto out;
	}
	/* A large page that needs a split maps a page of the range. */
	nsplit = large ? hat_edge_splits(hat, va) : 0;
	if (large && eaddr < HTABLE_USER_END)
		nsplit += hat_edge_splits(hat, eaddr);
	if (!excl && (nsplit || !xa_empty(&hat->hat_pins))) {
		hat_range_end(hat, &c, excl);
		excl = true;
		goto again;
	}
	/* Prepare, then commit: every table a split needs, or nothing. */
	for (k = 0; k < nsplit; k++) {
		spares[k] = htable_spare(hat);
		if (!spares[k]) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (nsplit) {
		err = hat_split_edge(hat, va, spares, &next, &b);
		if (!err && eaddr < HTABLE_USER_END)
			err = hat_split_edge(hat, eaddr, spares, &next, &b);
	}
	if (err)
		goto out;
	hat_unmap_entries(hat, va, eaddr, &b);
unmapped:
	htable_stolen_take(hat, va, eaddr, hat_drop_stolen);
	atomic_long_sub(npages, &hat->hat_owned_pages);
	err = 0;
out:
	htable_batch_finish(&b);
	for (k = 0; k < ARRAY_SIZE(spares); k++)
		if (spares[k])
			htable_spare_put(spares[k]);
	hat_range_end(hat, &c, excl);
	return err;
}

/* Teardown's visitor: give back what each present page entry holds. */
static int drop_visit(struct htable_walk *w, struct htable *ht, unsigned int e,
		      unsigned int n, unsigned long va)
{
	unsigned int i;
	x86pte_t pte;

	for (i = 0; i < n; i++) {
		pte = x86pte_get(ht, e + i);
		if (PTE_ISPAGE(pte, ht->ht_level))
			hat_drop(w->hat, pte, ht->ht_level);
	}
	return 0;
}

/**
 * hat_drop_all() - give back every page and pin a hat being freed holds
 * @hat:	a hat with HAT_FREEING set, live nowhere, shared with nobody:
 *		its entries are left as they are, for htable_purge_hat()
 */
void hat_drop_all(struct hat *hat)
{
	struct htable_batch b;
	struct htable_walk w = {
		.hat = hat, .b = &b, .own_only = true, .visit = drop_visit,
	};

	htable_batch_init(&b, hat);
	htable_walk_range(&w, 0, HTABLE_USER_END);
	htable_batch_finish(&b);
	htable_stolen_take(hat, 0, HTABLE_USER_END, hat_drop_stolen);
	atomic_long_set(&hat->hat_owned_pages, 0);
}
