// SPDX-License-Identifier: GPL-2.0
/*
 * Table lifecycle: allocation, create/lookup/acquire/release under the
 * 128 hashed locks (the hash itself is in hash.c), and linking tables into
 * their parents.
 * The lock order and the invariants are in include/htable/htable.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/bug.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <htable/fail.h>
#include <htable/htable.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/trace.h>
#include <htable/x86pte.h>

struct htable_hashed_lock htable_mutex[NUM_HTABLE_MUTEX];	/* the hashed locks */

/*
 * Non-zero while stealing or reaping: htable_free() then returns tables to
 * the system instead of to their hat's cache.
 */
atomic_t htable_dont_cache = ATOMIC_INIT(0);
atomic_long_t htable_level_tables[MAX_NUM_LEVEL];
atomic_long_t htable_nr_cached = ATOMIC_LONG_INIT(0);
unsigned int htable_force_steal;	/* every Nth allocation steals first */
static atomic_t htable_force_steal_count = ATOMIC_INIT(0);

/**
 * htable_force_steal_set() - make every @n th table allocation steal first
 * @n:		the period; 0 turns it off. The count restarts, so the
 *		first forced steal comes @n allocations after the write.
 */
void htable_force_steal_set(unsigned int n)
{
	atomic_set(&htable_force_steal_count, 0);
	WRITE_ONCE(htable_force_steal, n);
}

/* The force_steal knob: every Nth table allocation steals first. */
static bool htable_should_force_steal(void)
{
	unsigned int n = READ_ONCE(htable_force_steal);

	return n && atomic_inc_return(&htable_force_steal_count) % n == 0;
}

/* A structure for a table: the slab (topping up the reserve) or the reserve. */
static struct htable *htable_alloc_struct(void)
{
	struct htable *ht;

	if (USE_HAT_RESERVES())
		return htable_get_reserve();
	/* Successful allocations top up the reserve first. */
	for (;;) {
		ht = htable_should_fail(HTABLE_FAIL_HTABLE) ? NULL :
		     kmem_cache_zalloc(htable_cache, HTABLE_GFP);
		if (!ht || USE_HAT_RESERVES() ||
		    READ_ONCE(htable_reserve_cnt) >= READ_ONCE(htable_reserve_amount))
			return ht;
		htable_put_reserve(ht);
	}
}

/* Give back a structure that has no page: to the reserve when it is short. */
static void htable_free_struct(struct htable *ht)
{
	if (USE_HAT_RESERVES() ||
	    READ_ONCE(htable_reserve_cnt) < READ_ONCE(htable_reserve_amount))
		htable_put_reserve(ht);
	else
		kmem_cache_free(htable_cache, ht);
}

/**
 * htable_alloc() - get a table for @level at @va of @hat, page zeroed
 * @hat:	the hat
 * @va:		first va the table will map
 * @level:	its level
 *
 * Tries, in the seed's order: the hat's cache of free tables; a fresh
 * structure (topping up the reserve first) and page; and when that fails,
 * htable_steal(). The reserve is used instead of the slab allocator only
 * under USE_HAT_RESERVES(). No lock may be held: this sleeps.
 *
 * Return: the table with ht_busy = 1 and not yet hashed, or NULL.
 */
static struct htable *htable_alloc(struct hat *hat, unsigned long va,
				   unsigned int level)
{
	bool top = level == TOP_LEVEL(hat);
	unsigned int order = top ? 1 : 0;
	struct htable *ht = NULL;
	int src = HTABLE_SRC_STEAL;	/* for the tracepoint */

	if (WARN_ON_ONCE(level > TOP_LEVEL(hat)))
		return NULL;

	/* A stolen table is empty, so already zero; a top pair is never stolen. */
	if (!top && htable_should_force_steal()) {
		HATSTAT_INC(hs_steals);
		ht = htable_steal(1, false);
	}

	if (!ht && !top && READ_ONCE(hat->hat_ht_cached)) {
		spin_lock(&hat->hat_cache_lock);
		ht = hat->hat_ht_cached;
		if (ht) {
			hat->hat_ht_cached = ht->ht_next;
			atomic_long_dec(&htable_nr_cached);
			src = HTABLE_SRC_CACHE;
		}
		spin_unlock(&hat->hat_cache_lock);
	}

	if (!ht) {
		src = USE_HAT_RESERVES() ? HTABLE_SRC_RESERVE : HTABLE_SRC_SLAB;
		ht = htable_alloc_struct();
		if (ht) {
			ht->ht_page = ptable_alloc(order);
			if (!ht->ht_page) {
				htable_free_struct(ht);
				ht = NULL;
			}
		}
	}

	if (!ht && !top) {
		HATSTAT_INC(hs_steals);
		ht = htable_steal(1, false);
		src = HTABLE_SRC_STEAL;
	}
	if (!ht)
		return NULL;

	ht->ht_next = NULL;
	ht->ht_prev = NULL;
	ht->ht_parent = NULL;
	ht->ht_hat = hat;
	ht->ht_vaddr = va;
	ht->ht_busy = 1;
	atomic_set(&ht->ht_valid_cnt, 0);
	atomic_set(&ht->ht_lock_cnt, 0);
	ht->ht_level = level;
	ht->ht_flags = top ? HTABLE_TOP : 0;
	ht->ht_shares = NULL;
	trace_htable_table_alloc(ht, src);
	return ht;
}

/**
 * htable_free() - give a table back: to its hat's cache, or to the system
 * @ht:		an unhashed, empty table no CPU can reach any more
 *
 * Cached unless the hat is being destroyed or tables are being stolen or
 * reaped (htable_dont_cache), as in the seed. A page that goes back to the
 * system does so after an RCU grace period, so a lockless walker that read
 * the link to it before it was unlinked never reads freed memory; a hat
 * being destroyed has no walker left. The structure then goes to the
 * reserve when it is short, else to the slab.
 */
void htable_free(struct htable *ht)
{
	struct hat *hat = ht->ht_hat;
	bool top = ht->ht_flags & HTABLE_TOP;
	bool freeing = hat && (READ_ONCE(hat->hat_flags) & HAT_FREEING);

	WARN_ON_ONCE(atomic_read(&ht->ht_valid_cnt) && hat && !freeing);
	if (hat && !top && !freeing && !atomic_read(&htable_dont_cache)) {
		trace_htable_table_free(ht, HTABLE_TO_CACHE);
		spin_lock(&hat->hat_cache_lock);
		ht->ht_next = hat->hat_ht_cached;
		hat->hat_ht_cached = ht;
		atomic_long_inc(&htable_nr_cached);
		spin_unlock(&hat->hat_cache_lock);
		return;
	}

	ptable_free(ht->ht_page, top ? 1 : 0, freeing);
	ht->ht_page = NULL;
	/* htable_free_struct()'s choice, for the tracepoint. */
	trace_htable_table_free(ht, USE_HAT_RESERVES() ||
				READ_ONCE(htable_reserve_cnt) < READ_ONCE(htable_reserve_amount) ?
				HTABLE_TO_RESERVE : HTABLE_TO_SYSTEM);
	htable_free_struct(ht);
}

/**
 * htable_count() - change a table's counts of present and locked entries
 * @ht:		a table the caller holds, or one a held table holds (the
 *		parent of a table being linked, unlinked or split)
 * @dvalid:	change of ht_valid_cnt
 * @dlocked:	change of ht_lock_cnt
 *
 * The one place the counts change, once a table is made: the operations'
 * entries, and the links the core makes and clears. So the invariants
 * hold by construction: raise them before entries appear (a table never
 * has more entries than it says, so it is never freed under a new one),
 * lower them after entries go. A count that would go negative is a bug:
 * WARNed, and kept at zero.
 */
void htable_count(struct htable *ht, int dvalid, int dlocked)
{
	/* Locked entries are present ones: up valid first, down locked first. */
	if (dvalid > 0)
		atomic_add(dvalid, &ht->ht_valid_cnt);
	if (dlocked && WARN_ON_ONCE(atomic_add_return(dlocked, &ht->ht_lock_cnt) < 0))
		atomic_set(&ht->ht_lock_cnt, 0);
	if (dvalid < 0 && WARN_ON_ONCE(atomic_add_return(dvalid, &ht->ht_valid_cnt) < 0))
		atomic_set(&ht->ht_valid_cnt, 0);
}

/*
 * Link @new into @higher's entry for @va. The caller holds @new's bucket
 * lock and a busy reference on @higher. Returns false, and changes
 * nothing, if the entry is not empty: that would be a bug, and the seed
 * panics on it. Empty means zero, or, as in the seed, not present with
 * only the A bit set: some CPUs have an erratum that sets A in an entry
 * that is not present.
 */
static bool link_ptp(struct htable *higher, struct htable *new,
		     unsigned long va)
{
	unsigned int entry = htable_va2entry(va, higher);
	x86pte_t link = htable_link_pte(new), expect = 0, found;

	WARN_ON_ONCE(!higher->ht_busy);
	htable_count(higher, 1, 0);
	/*
	 * cmpxchg64 is a locked instruction, a full barrier on x86: the
	 * zeroed table is visible before any CPU can walk into it.
	 */
	found = x86pte_cas(higher, entry, expect, link);
	if (found == PT_REF) {
		expect = PT_REF;
		found = x86pte_cas(higher, entry, expect, link);
	}
	if (found != expect) {
		htable_count(higher, -1, 0);
		/* Flag bits only: a physical address stays out of the log. */
		WARN_ONCE(1, "htable: link over a non-empty entry (flags %#llx) at level %u\n",
			  found & ~PT_PADDR, higher->ht_level);
		return false;
	}
	return true;
}

/*
 * Clear @higher's link to the empty table @old at @va. The caller holds
 * @old's bucket lock. Returns false, and changes nothing, if the link is
 * not the one expected (the seed panics there); the table must then stay.
 * Counts the unlink in hat_unlinks, after the clear and before the table
 * can be reused anywhere: a lockless walker that read the link retries.
 */
static bool unlink_ptp(struct htable *higher, struct htable *old,
		       unsigned long va)
{
	unsigned int entry = htable_va2entry(va, higher);
	x86pte_t expect = htable_link_pte(old);
	x86pte_t found;

	WARN_ON_ONCE(atomic_read(&old->ht_valid_cnt));
	found = x86pte_cas(higher, entry, expect, 0);
	if (found != expect) {
		WARN_ONCE(1, "htable: bad link (flags %#llx, %s address)\n",
			  found & ~PT_PADDR,
			  (found ^ expect) & PT_PADDR ? "other" : "same");
		return false;
	}
	atomic_long_inc(&old->ht_hat->hat_unlinks);
	/* Counted before the table can be reused: htable_lookup_lockless(). */
	smp_mb__after_atomic();
	htable_count(higher, -1, 0);
	return true;
}

/**
 * htable_release() - drop a hold; free empty tables upward
 * @ht:		a table the caller holds
 * @b:		batch that receives the freed tables and their
 *		invalidations, or NULL to finish a private batch here
 *
 * When the caller's hold is the last and the table is empty, it is
 * unlinked, unhashed and queued for freeing, and its parent loses the hold
 * the table had on it; the loop continues there. Every empty table below
 * the top is freed this way. That is the seed's rule minus its exception
 * for user tables at and above max_page_level, which it keeps to avoid
 * churn with large pages; htable frees them (design.rst says why).
 */
void htable_release(struct htable *ht, struct htable_batch *b)
{
	struct htable_batch local;
	struct htable *higher;
	unsigned int h;
	spinlock_t *lock;	/* the bucket lock of the table in hand */

	if (!b) {
		htable_batch_init(&local, ht->ht_hat);
		b = &local;
	}
	while (ht) {
		struct hat *hat = ht->ht_hat;
		unsigned long va = ht->ht_vaddr;

		h = HTABLE_HASH(hat, va, ht->ht_level);
		lock = HTABLE_LOCK(hat, h);
		spin_lock(lock);
		WARN_ON_ONCE(!ht->ht_busy);
		WARN_ON_ONCE(atomic_read(&ht->ht_lock_cnt) >
			     atomic_read(&ht->ht_valid_cnt));
		if (atomic_read(&ht->ht_valid_cnt) > 0 || ht->ht_busy > 1 ||
		    ht->ht_level == TOP_LEVEL(hat) ||
		    (ht->ht_flags & HTABLE_SHARED) ||
		    (READ_ONCE(hat->hat_flags) & HAT_FREEING)) {
			ht->ht_busy--;
			spin_unlock(lock);
			break;
		}
		WARN_ON_ONCE(atomic_read(&ht->ht_lock_cnt));
		higher = ht->ht_parent;
		if (!unlink_ptp(higher, ht, va)) {
			/* Leave the table in place: leaking beats corrupting. */
			ht->ht_busy--;
			spin_unlock(lock);
			break;
		}
		htable_unhash(ht, h);
		spin_unlock(lock);
		htable_batch_free_table(b, ht);
		/* The freed table's hold on its parent is dropped next. */
		ht = higher;
	}
	if (b == &local)
		htable_batch_finish(&local);
}

/**
 * htable_unlink() - unlink an empty, held table from its parent and hash
 * @ht:		the table; its bucket lock is held and it has no entry
 * @h:		its bucket
 *
 * The parent keeps the hold the table had on it: the caller releases it.
 *
 * Return: false, changing nothing, when the parent's link is not the one
 * expected (a bug, WARNed).
 */
bool htable_unlink(struct htable *ht, unsigned int h)
{
	lockdep_assert_held(HTABLE_LOCK(ht->ht_hat, h));
	if (!unlink_ptp(ht->ht_parent, ht, ht->ht_vaddr))
		return false;
	htable_unhash(ht, h);
	return true;
}

/**
 * htable_spare() - a table for a later htable_split(), allocated now
 * @hat:	the hat it will belong to
 *
 * Prepare, then commit: a caller that must split several large pages, and
 * must change nothing if it can't, gets every table first.
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: a zeroed table with no va yet, or NULL.
 */
struct htable *htable_spare(struct hat *hat)
{
	return htable_alloc(hat, 0, 0);
}

/**
 * htable_spare_put() - give back a spare htable_split() did not use
 * @ht:		the spare, never hashed or linked
 */
void htable_spare_put(struct htable *ht)
{
	ht->ht_busy = 0;
	htable_free(ht);
}

/**
 * htable_split() - replace a large page by a table of pages one level down
 * @higher:	a held table of level 1 or more
 * @entry:	its entry that maps a large page
 * @spare:	a table from htable_spare(), taken (set to NULL) when used;
 *		or NULL to allocate one here
 * @b:		batch that receives the invalidation of the large page
 *
 * The new table maps the same memory with the same bits (PS kept below
 * level 1, dropped at level 0), so every va keeps its translation and its
 * data: only the page size changes. What the large entry held (a
 * reference, or a count in a pin record) is now held once by each new
 * entry: the caller adjusts that (module/pages.c). The caller holds
 * hat_seg_lock for write, so no other thread changes @higher's entries
 * meanwhile; the MMU may still set A or D on the large entry, which is
 * why it is replaced with a compare-and-swap and the new table is
 * refilled when it lost.
 *
 * Context: process context, may sleep (allocates) unless given a spare; no
 * spinlock held.
 * Return: 0; -ENOMEM when no table can be had; -EINVAL (WARNed) when
 * @entry does not map a large page. On error nothing changed.
 */
int htable_split(struct htable *higher, unsigned int entry,
		 struct htable **spare, struct htable_batch *b)
{
	struct hat *hat = higher->ht_hat;
	unsigned int level = higher->ht_level - 1, i, h;
	unsigned long va = htable_e2va(higher, entry), step;
	struct htable *new;
	x86pte_t *ptes, old, sub, found;

	old = x86pte_get(higher, entry);
	if (WARN_ON_ONCE(!higher->ht_level || !PTE_ISPAGE(old, higher->ht_level)))
		return -EINVAL;
	if (spare && *spare) {
		new = *spare;
		*spare = NULL;
		new->ht_vaddr = va;
		new->ht_level = level;
	} else {
		new = htable_alloc(hat, va, level);
		if (!new)
			return -ENOMEM;
	}
	step = PTE_NPAGES(level);
	ptes = x86pte_access_pagetable(new, 0);
	/* The new table holds its parent, like any linked table. */
	htable_acquire(higher);
	h = HTABLE_HASH(hat, va, level);
	/* Counts first: a table never has more entries than it says. */
	htable_count(new, HTABLE_PTES_PER_TABLE,
		     (old & PT_SOFTLOCK) ? HTABLE_PTES_PER_TABLE : 0);
	for (;;) {
		/* Nothing walks @new yet: plain stores are enough. */
		sub = old & ~(PT_PADDR | PT_PAGESIZE);
		if (level)
			sub |= PT_PAGESIZE;
		for (i = 0; i < HTABLE_PTES_PER_TABLE; i++)
			ptes[i] = sub | ((PTE2PFN(old) + i * step) << PAGE_SHIFT);
		spin_lock(HTABLE_LOCK(hat, h));
		found = x86pte_cas(higher, entry, old, MAKEPTP(new->ht_page));
		if (found == old)
			break;
		spin_unlock(HTABLE_LOCK(hat, h));
		/* The MMU set A or D meanwhile: copy them too and retry. */
		old = found;
	}
	new->ht_parent = higher;
	htable_hash(new, h);
	spin_unlock(HTABLE_LOCK(hat, h));
	/* The link is no locked page; the new table counts the locks now. */
	if (old & PT_SOFTLOCK)
		htable_count(higher, 0, -1);
	/* The page size changed: drop the large translation everywhere. */
	htable_batch_inval(b, va);
	/* Drop the hold the allocation gave: the table is linked and full. */
	htable_release(new, b);
	return 0;
}

/**
 * htable_share_attach() - link another hat's leaf table into @hat at @va
 * @hat:	the sharer; its hat_seg_lock is held for write
 * @va:		2 MiB-aligned; the caller checked that @hat maps nothing
 *		in [va, va + 2 MiB) and has no large page over it
 * @oht:	the owner's level-0 table for @va; the caller holds it, and
 *		that hold stays with the share until htable_share_detach()
 *
 * @hat gets a table structure of its own, flagged HTABLE_SHARED, whose
 * page is @oht's: the link in @hat's level-1 table points at the owner's
 * page, which is what the seed's HTABLE_SHARED_PFN tables do. The link
 * carries PT_SHARELINK, so a lockless walk knows the pages it leads to are
 * not @hat's.
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: 0; -ENOMEM; -EEXIST (WARNed) when the entry was not empty.
 */
int htable_share_attach(struct hat *hat, unsigned long va, struct htable *oht)
{
	struct htable *higher, *sht;
	unsigned int h;

	sht = kmem_cache_zalloc(htable_cache, HTABLE_GFP);
	if (!sht)
		return -ENOMEM;
	higher = htable_create(hat, va, 1);
	if (!higher) {
		kmem_cache_free(htable_cache, sht);
		return -ENOMEM;
	}
	sht->ht_hat = hat;
	sht->ht_vaddr = va;
	sht->ht_level = 0;
	sht->ht_flags = HTABLE_SHARED;
	sht->ht_page = oht->ht_page;
	sht->ht_shares = oht;
	h = HTABLE_HASH(hat, va, 0);
	spin_lock(HTABLE_LOCK(hat, h));
	if (htable_find(hat, h, va, 0) || !link_ptp(higher, sht, va)) {
		spin_unlock(HTABLE_LOCK(hat, h));
		htable_release(higher, NULL);
		kmem_cache_free(htable_cache, sht);
		return -EEXIST;
	}
	/* The shared table keeps the hold on @higher that create took. */
	sht->ht_parent = higher;
	htable_hash(sht, h);
	spin_unlock(HTABLE_LOCK(hat, h));
	return 0;
}

/**
 * htable_share_detach() - unlink the shared table at @va from @hat
 * @hat:	the sharer; its hat_seg_lock is held for write
 * @va:		the va htable_share_attach() linked
 * @b:		batch of @hat: the invalidation of every translation the
 *		table held and of any parent table emptied on the way
 *
 * Frees only @hat's own structure, never the page, which is the owner's.
 * The caller must finish @b, so that no CPU of @hat can still reach the
 * owner's table, before it drops the owner's hold.
 *
 * Return: the owner's table, whose hold passes to the caller; NULL
 * (WARNed) when @va holds no shared table.
 */
struct htable *htable_share_detach(struct hat *hat, unsigned long va,
				   struct htable_batch *b)
{
	unsigned int h = HTABLE_HASH(hat, va, 0);
	struct htable *sht, *higher, *oht;

	spin_lock(HTABLE_LOCK(hat, h));
	sht = htable_find(hat, h, va, 0);
	if (WARN_ON_ONCE(!sht || !(sht->ht_flags & HTABLE_SHARED) || sht->ht_busy)) {
		spin_unlock(HTABLE_LOCK(hat, h));
		return NULL;
	}
	higher = sht->ht_parent;
	if (!htable_unlink(sht, h)) {
		spin_unlock(HTABLE_LOCK(hat, h));
		return NULL;
	}
	spin_unlock(HTABLE_LOCK(hat, h));
	/*
	 * Every translation @hat's CPUs took through the table must go, or
	 * they would keep reading the owner's pages after the owner's own
	 * flushes stop reaching them. Not only the entries still valid: an
	 * owner's UNMAP that cleared an entry just before may flush after
	 * this detach, when the owner has no sharer left and its flush no
	 * longer goes to every CPU. So a full flush.
	 */
	b->flush_all = true;
	htable_release(higher, b);
	oht = sht->ht_shares;
	/* The MMU never used the structure, only the owner's page. */
	kmem_cache_free(htable_cache, sht);
	return oht;
}

/**
 * htable_acquire() - add a hold on a table the caller knows is hashed
 * @ht:		the table (the caller already holds it, or its lock)
 */
void htable_acquire(struct htable *ht)
{
	struct hat *hat = ht->ht_hat;
	unsigned int h = HTABLE_HASH(hat, ht->ht_vaddr, ht->ht_level);

	spin_lock(HTABLE_LOCK(hat, h));
	WARN_ON_ONCE(htable_find(hat, h, ht->ht_vaddr, ht->ht_level) != ht);
	ht->ht_busy++;
	spin_unlock(HTABLE_LOCK(hat, h));
}

/**
 * htable_create_below() - find or build the table one level below @higher
 * @higher:	a table the caller holds, above the leaves
 * @va:		the va to cover, within @higher
 *
 * The table is searched for under its bucket lock; if it is missing the
 * lock is dropped, a table allocated, and the search made again, because
 * a hashed lock is never held across an allocation. If another thread
 * linked the table meanwhile, the new one goes back. A table made here
 * takes a hold on @higher, which htable_release() drops when the table
 * goes. One level at a time: the walker, which holds each table on its
 * way down, pays one lookup per level, not one per level above too.
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: the table, held, or NULL when none could be allocated.
 */
struct htable *htable_create_below(struct htable *higher, unsigned long va)
{
	struct hat *hat = higher->ht_hat;
	unsigned int level = higher->ht_level - 1;
	unsigned long base = htable_base(va, level);
	unsigned int h = HTABLE_HASH(hat, base, level);
	struct htable *ht, *new = NULL;

	for (;;) {
		spin_lock(HTABLE_LOCK(hat, h));
		ht = htable_find(hat, h, base, level);
		if (ht || new)
			break;
		spin_unlock(HTABLE_LOCK(hat, h));
		new = htable_alloc(hat, base, level);
		if (!new)
			return NULL;
	}
	if (ht) {
		ht->ht_busy++;
		spin_unlock(HTABLE_LOCK(hat, h));
		if (new)
			htable_free(new);
		return ht;
	}
	if (!link_ptp(higher, new, base)) {
		spin_unlock(HTABLE_LOCK(hat, h));
		htable_free(new);
		return NULL;
	}
	new->ht_parent = higher;
	htable_hash(new, h);
	spin_unlock(HTABLE_LOCK(hat, h));
	/* Our hold keeps @new, so its parent's hold can come after the link. */
	htable_acquire(higher);
	return new;
}

/**
 * htable_create() - find or build the tables down to @level for @va
 * @hat:	the hat
 * @va:		the va to cover
 * @level:	the lowest table wanted
 *
 * Works top-down, a level at a time (htable_create_below()), holding each
 * table until the one below it is held.
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: the table of @level, held, or NULL when a table could not be
 * allocated (nothing then stays held).
 */
struct htable *htable_create(struct hat *hat, unsigned long va,
			     unsigned int level)
{
	struct htable *ht = hat->hat_htable, *lower;

	if (WARN_ON_ONCE(level > TOP_LEVEL(hat)))
		return NULL;
	htable_acquire(ht);
	while (ht->ht_level > level) {
		lower = htable_create_below(ht, va);
		htable_release(ht, NULL);
		if (!lower)
			return NULL;
		ht = lower;
	}
	return ht;
}

/**
 * htable_hat_init() - give a new hat its hash and top table
 * @hat:	the hat, zeroed except for its locks
 *
 * Return: 0, or -ENOMEM.
 */
int htable_hat_init(struct hat *hat)
{
	struct htable *top;
	unsigned int h;

	if (htable_hash_init(hat))
		return -ENOMEM;
	top = htable_alloc(hat, 0, TOP_LEVEL(hat));
	if (!top) {
		kvfree(hat->hat_ht_hash);
		hat->hat_ht_hash = NULL;
		return -ENOMEM;
	}
	h = HTABLE_HASH(hat, 0, TOP_LEVEL(hat));
	spin_lock(HTABLE_LOCK(hat, h));
	htable_hash(top, h);
	spin_unlock(HTABLE_LOCK(hat, h));
	/* The top table keeps the hold its allocation gave: the hat's own. */
	hat->hat_htable = top;
	return 0;
}

/**
 * htable_purge_hat() - free a hat's tables
 * @hat:	the hat
 *
 * Without HAT_FREEING, only the cache of free tables is returned to the
 * system (reaping). With it, every table goes, without clearing entries or
 * unlinking: the hat is live nowhere and nobody else can reach it, and
 * what the entries held was given back before (hat_free()).
 */
void htable_purge_hat(struct hat *hat)
{
	struct htable *ht;
	unsigned int h;

	atomic_inc(&htable_dont_cache);
	for (;;) {
		spin_lock(&hat->hat_cache_lock);
		ht = hat->hat_ht_cached;
		if (ht) {
			hat->hat_ht_cached = ht->ht_next;
			atomic_long_dec(&htable_nr_cached);
		}
		spin_unlock(&hat->hat_cache_lock);
		if (!ht)
			break;
		htable_free(ht);
	}
	atomic_dec(&htable_dont_cache);

	if (!(READ_ONCE(hat->hat_flags) & HAT_FREEING))
		return;
	WARN_ON_ONCE(!cpumask_empty(hat->hat_cpus));
	for (h = 0; h < hat->hat_num_hash; h++) {
		spin_lock(HTABLE_LOCK(hat, h));
		while ((ht = hat->hat_ht_hash[h]) != NULL) {
			htable_unhash(ht, h);
			spin_unlock(HTABLE_LOCK(hat, h));
			/* Shares go before this; never free an owner's page. */
			if (WARN_ON_ONCE(ht->ht_flags & HTABLE_SHARED))
				kmem_cache_free(htable_cache, ht);
			else
				htable_free(ht);
			spin_lock(HTABLE_LOCK(hat, h));
		}
		spin_unlock(HTABLE_LOCK(hat, h));
	}
	hat->hat_htable = NULL;
}

/**
 * htable_hat_fini() - free everything htable_hat_init() and later use built
 * @hat:	a hat with HAT_FREEING set
 */
void htable_hat_fini(struct hat *hat)
{
	htable_purge_hat(hat);
	kvfree(hat->hat_ht_hash);
	hat->hat_ht_hash = NULL;
}

/**
 * htable_init() - set up the hashed locks, the slab cache and the reserve
 *
 * Return: 0, or -ENOMEM.
 */
int htable_init(void)
{
	unsigned int i;
	int err;

	/*
	 * At most 2% of the 4 KiB table it describes (the benchmark reports
	 * it). No SLAB_HWCACHE_ALIGN: that would round 72 bytes up to 128.
	 */
	BUILD_BUG_ON(sizeof(struct htable) > 80);
	htable_mmu_init();
	for (i = 0; i < NUM_HTABLE_MUTEX; i++)
		spin_lock_init(&htable_mutex[i].lock);
	htable_cache = KMEM_CACHE(htable, SLAB_ACCOUNT);
	if (!htable_cache)
		return -ENOMEM;
	err = htable_initial_reserve(READ_ONCE(htable_reserve_amount));
	if (err) {
		htable_drain_reserve();
		kmem_cache_destroy(htable_cache);
		htable_cache = NULL;
	}
	return err;
}

/** htable_fini() - undo htable_init(); every hat is gone */
void htable_fini(void)
{
	/* Pages freed after a grace period: their callbacks are this module's. */
	rcu_barrier();
	htable_drain_reserve();
	kmem_cache_destroy(htable_cache);
	htable_cache = NULL;
}
