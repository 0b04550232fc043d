// SPDX-License-Identifier: GPL-2.0
/*
 * Addresses and walking: va <-> entry for every level (levels are data in
 * mmu.level_shift[], never per-level code), and the one walker the
 * operations share, in place of the seed's htable_scan()/htable_walk().
 */
#include <linux/bug.h>

#include <htable/htable.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

/**
 * htable_getpte() - find the entry for @va at @level or below
 * @hat:	the hat
 * @va:		the va
 * @entry:	out: its index in the returned table (may be NULL)
 * @pte:	out: the entry (may be NULL)
 * @level:	highest level to look at
 *
 * Return: the lowest table covering @va, held, or NULL.
 */
struct htable *htable_getpte(struct hat *hat, unsigned long va,
			     unsigned int *entry, x86pte_t *pte,
			     unsigned int level)
{
	struct htable *ht;
	unsigned int l, e;

	for (l = 0; l <= level; l++) {
		ht = htable_lookup(hat, va, l);
		if (!ht)
			continue;
		e = htable_va2entry(va, ht);
		if (entry)
			*entry = e;
		if (pte)
			*pte = x86pte_get(ht, e);
		return ht;
	}
	return NULL;
}

/*
 * Visit the entries of [*@vap, @tend) in @ht (a held table), descending
 * into links and, in create mode, making missing tables down to
 * @w->level. Runs of entries that are not links are handed to the
 * visitor, whole. Sets *@vap to where it stopped.
 */
static int walk_table(struct htable_walk *w, struct htable *ht,
		      unsigned long *vap, unsigned long tend)
{
	unsigned int level = ht->ht_level, e = htable_va2entry(*vap, ht), run;
	unsigned long va = *vap, rva, next;
	long unlinks, missed = LONG_MIN;	/* hat_unlinks at the last miss */
	struct htable *child;
	x86pte_t pte;
	int err = 0;

	while (va < tend && !err) {
		pte = x86pte_get(ht, e);
		next = min(NEXT_ENTRY_VA(va, level), tend);
		if (level > w->level && PTE_ISVALID(pte) && !PTE_ISPAGE(pte, level)) {
			/* A link: its table, then on after it. */
			child = htable_lookup(w->hat, va, level - 1);
			if (!child) {
				/*
				 * Gone since the entry was read: a claim beside
				 * ours unmapped its last page, and
				 * htable_release() unlinked it under the bucket
				 * lock the lookup took. Read the entry again: it
				 * may hold a new table by now, even one made
				 * from the same page (the hat's cache), and that
				 * one may be gone again before the next lookup.
				 * So each retry must follow an unlink, which
				 * hat_unlinks counts before the unhash: a miss
				 * with no unlink since the last one is a link
				 * whose table is not in the hash, a bug.
				 */
				unlinks = atomic_long_read(&w->hat->hat_unlinks);
				if (WARN_ON_ONCE(unlinks == missed))
					return -EFAULT;
				missed = unlinks;
				continue;
			}
			err = walk_table(w, child, &va, next);
			htable_release(child, w->b);
			e++;
			continue;
		}
		if (level > w->level && !PTE_ISVALID(pte)) {
			if (!w->create) {
				/* A hole above the leaves: nothing to visit. */
				va = next;
				e++;
				continue;
			}
			child = htable_create_below(ht, va);
			if (!child)
				return -ENOMEM;
			err = walk_table(w, child, &va, next);
			htable_release(child, w->b);
			e++;
			continue;
		}
		/* A run of entries that are no links: pages, or empty slots. */
		rva = va;
		if (level == w->level) {
			/* At the walk's level every entry left is in it. */
			run = (tend - va) >> LEVEL_SHIFT(level);
			e += run;
			va = tend;
		}
		for (run = level == w->level ? run : 0; va < tend;
		     run++, e++, va = NEXT_ENTRY_VA(va, level)) {
			pte = x86pte_get(ht, e);
			if (!PTE_ISPAGE(pte, level))
				break;
		}
		if (!w->own_only || !(ht->ht_flags & HTABLE_SHARED))
			err = w->visit(w, ht, htable_va2entry(rva, ht), run, rva);
		/* A walk of millions of pages lets others run between runs. */
		cond_resched();
	}
	*vap = va;
	return err;
}

/**
 * htable_walk_range() - visit the entries of [@va, @eaddr) of @w->hat
 * @w:		the walk: its hat, batch, visitor, level and mode
 * @va:		start, aligned to @w->level's page size
 * @eaddr:	end (exclusive), at most HTABLE_USER_END
 *
 * The one walker of htable's operations (after gVisor's): it descends
 * from the top table (or, for a range within one table of @w->level
 * that exists, from that table), finding each lower table in the hash
 * once, and hands the visitor maximal runs of entries of one table that
 * are not links: in a level-0 table every entry of the range (present or
 * not); above it, runs of large-page entries, and, in create mode
 * (@w->create), runs of entries at @w->level, whose tables it makes as
 * needed. The visitor gets the table held; it may change entries and
 * counts, queueing invalidations in @w->b. Holes above the leaves are
 * skipped a whole entry at a time.
 *
 * Context: process context, may sleep (it yields between runs); the
 * caller holds what keeps the range's tables and entries as the visitor
 * expects (a claim, or hat_seg_lock).
 * Return: 0, the visitor's first error, or -ENOMEM when a table can't be
 * made in create mode (the visitor has then seen part of the range).
 */
int htable_walk_range(struct htable_walk *w, unsigned long va,
		      unsigned long eaddr)
{
	struct htable *ht;
	unsigned int l = w->level;

	if (WARN_ON_ONCE(va >= eaddr || eaddr > HTABLE_USER_END))
		return -EINVAL;
	/*
	 * A range within one table of @w->level (every small MAP and UNMAP)
	 * starts at that table, found in the hash by one lookup, as the
	 * seed's htable_create() first looks for the table it wants: not
	 * a lookup and a release per level above it. A table is in the
	 * hash exactly while it is linked (both change under its bucket
	 * lock), so the path above it is links, and the hold the lookup
	 * takes keeps it linked. Without it, the walk descends as below.
	 */
	if (l < TOP_LEVEL(w->hat) &&
	    htable_base(va, l) == htable_base(eaddr - 1, l)) {
		ht = htable_lookup(w->hat, va, l);
		if (ht) {
			w->err = walk_table(w, ht, &va, eaddr);
			htable_release(ht, w->b);
			return w->err;
		}
	}
	/*
	 * The top table lives as long as the hat, on the hat's own hold
	 * (htable_hat_init()): the walk needs none of its own there.
	 */
	w->err = walk_table(w, w->hat->hat_htable, &va, eaddr);
	return w->err;
}

/**
 * htable_walk_table() - visit the entries of [@va, @eaddr) below @ht
 * @w:		the walk, as for htable_walk_range()
 * @ht:		a table of @w->hat the caller holds, at or above @w->level
 * @va:		start, within @ht and aligned to @w->level's page size
 * @eaddr:	end (exclusive), within @ht, at most HTABLE_USER_END
 *
 * htable_walk_range() from a table the caller already holds, for an
 * operation that found its table some other way (a steal finds its
 * victims in the hash): the same descent and the same runs, from @ht
 * rather than from the top.
 *
 * Context: as htable_walk_range(); @ht stays held by the caller.
 * Return: as htable_walk_range(); -EINVAL (WARNed) when the range is not
 * within @ht.
 */
int htable_walk_table(struct htable_walk *w, struct htable *ht,
		      unsigned long va, unsigned long eaddr)
{
	if (WARN_ON_ONCE(va >= eaddr || eaddr > HTABLE_USER_END ||
			 va < ht->ht_vaddr || eaddr - 1 > HTABLE_LAST_PAGE(ht) ||
			 w->level > ht->ht_level))
		return -EINVAL;
	w->err = walk_table(w, ht, &va, eaddr);
	return w->err;
}

/* htable_walk_lockless()'s body, inlined in both of its forms: one call each. */
static __always_inline const x86pte_t *
walk_lockless(struct hat *hat, unsigned long va, unsigned int *level,
	      bool *shared, x86pte_t *pte)
{
	const x86pte_t *table;
	unsigned long seq;
	unsigned int l;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "htable lockless walk outside RCU");
again:
	seq = atomic_long_read(&hat->hat_unlinks);
	/* The counter before the links: pairs with unlink_ptp(). */
	smp_rmb();
	*shared = false;
	table = x86pte_access_pagetable(hat->hat_htable, 0);
	for (l = mmu.max_level; ; l--) {
		*pte = READ_ONCE(table[(va >> LEVEL_SHIFT(l)) &
				       (HTABLE_PTES_PER_TABLE - 1)]);
		/*
		 * The entry before the counter again: pairs with unlink_ptp().
		 * Checked before each step down, not only at the end: a table
		 * unlinked meanwhile may be reused, even as a leaf of this hat,
		 * and one of its page entries taken for a link would lead the
		 * walk into a data page, or to a pfn that is not RAM.
		 */
		smp_rmb();
		if (atomic_long_read(&hat->hat_unlinks) != seq)
			goto again;
		if (!PTE_ISVALID(*pte) || PTE_ISPAGE(*pte, l))
			break;
		*shared |= !!(*pte & PT_SHARELINK);
		table = arch_table_va(pfn_to_page(PTE2PFN(*pte)));
	}
	*level = l;
	return table;
}

/**
 * htable_walk_lockless() - walk to @va with no lock held
 * @hat:	the hat; the caller is in an RCU read-side section
 * @va:		any va of the lower half
 * @level:	out: the level of the last table of the walk
 * @shared:	out: whether the walk went through a table shared from
 *		another hat (PT_SHARELINK)
 * @pte:	out: that table's entry for @va: a page, or not present
 *
 * Follows the raw links from the top table, as the MMU does and as
 * Linux's lookup_address() does: no hash, no hold, no lock. A table on
 * the way may be unlinked and reused meanwhile (its page goes back to the
 * system only after a grace period, so the memory stays readable):
 * hat_unlinks counts each unlink, and the walk starts over when it moved.
 * The table returned stays readable only inside the RCU section, unless
 * something else keeps it (a present entry of it that the caller's claim
 * keeps, as for an alias source).
 *
 * Return: the entries of the last table of the walk.
 */
const x86pte_t *htable_walk_lockless(struct hat *hat, unsigned long va,
				     unsigned int *level, bool *shared,
				     x86pte_t *pte)
{
	return walk_lockless(hat, va, level, shared, pte);
}

/**
 * htable_lookup_lockless() - the entry that maps @va, with no lock held
 * @hat:	the hat; the caller is in an RCU read-side section
 * @va:		any va of the lower half
 * @level:	out: the level of the entry (when one maps @va)
 * @shared:	out: whether the walk went through a table shared from
 *		another hat (PT_SHARELINK)
 *
 * htable_walk_lockless(), for the entry alone.
 *
 * Return: the entry that maps @va (a page at *@level), or 0.
 */
x86pte_t htable_lookup_lockless(struct hat *hat, unsigned long va,
				unsigned int *level, bool *shared)
{
	x86pte_t pte;

	walk_lockless(hat, va, level, shared, &pte);
	return PTE_ISPAGE(pte, *level) ? pte : 0;
}
