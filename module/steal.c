// SPDX-License-Identifier: GPL-2.0
/*
 * Stealing and reaping: page-table memory is a cache of translations, so
 * when memory is short htable takes tables back from hats (htable_steal())
 * and gives free ones back to the system (htable_reap(), behind a Linux
 * shrinker). The structure follows modern illumos: passes with rising
 * thresholds, htable_steal_active() for tables in use, and victims that
 * rotate so no single hat pays for everyone. Documentation/steal-reap.rst
 * has the policy and what differs from the seed.
 *
 * The seed drops a stolen translation and lets the segment driver fault
 * it back in; here the hat is its own segment driver, so each stolen
 * entry is kept, as an xarray value, until RELOAD (the fault path) puts it
 * back: the stolen records (Documentation/design.rst, "Per-mapping
 * state").
 */
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/rwsem.h>
#include <linux/sched/mm.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include <htable/compat.h>
#include <htable/fail.h>
#include <htable/htable.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/trace.h>
#include <htable/x86pte.h>

/* Tunables (debugfs): see Documentation/debugfs.rst. */
unsigned int htable_steal_passes = 8;	/* the seed's htable_steal_passes */

/* Every hat, in the order htable_steal() visits them (the seed's hat list). */
DEFINE_SPINLOCK(htable_hat_list_lock);
LIST_HEAD(htable_hat_list);
/* Woken when a hat stops being a victim: its close waits for that. */
DECLARE_WAIT_QUEUE_HEAD(htable_victim_wq);

/* Where the next search of a hat's hash starts (the seed's h_seed). */
static atomic_t htable_steal_seed = ATOMIC_INIT(0);

static struct shrinker *htable_shrinker;

/*
 * A stolen entry as an xarray value: bit 0 (present) is always set, so
 * the rest, A, D, NX and the software bits included, fits in 63 bits.
 */
static void *stolen_value(x86pte_t pte)
{
	return xa_mk_value(pte >> 1);
}

static x86pte_t stolen_pte(void *entry)
{
	return ((x86pte_t)xa_to_value(entry) << 1) | PT_VALID;
}

/**
 * htable_stolen_pte() - the stolen entry of @va, if any
 * @hat:	the hat; the caller holds a claim on @va, hat_seg_lock, or
 *		is in an RCU read-side section
 * @va:		any va
 *
 * Return: the entry as it was when stolen (A and D included), or 0.
 */
x86pte_t htable_stolen_pte(struct hat *hat, unsigned long va)
{
	void *entry;

	if (!atomic_long_read(&hat->hat_stolen_pages))
		return 0;
	entry = xa_load(&hat->hat_stolen_ptes, va >> PAGE_SHIFT);
	return entry ? stolen_pte(entry) : 0;
}

/**
 * htable_stolen_count() - stolen translations in [@va, @eaddr)
 * @hat:	the hat; the caller keeps the range from changing
 * @va:		start, page-aligned
 * @eaddr:	end (exclusive)
 *
 * Return: how many.
 */
unsigned long htable_stolen_count(struct hat *hat, unsigned long va,
				  unsigned long eaddr)
{
	XA_STATE(xas, &hat->hat_stolen_ptes, va >> PAGE_SHIFT);
	unsigned long n = 0;
	void *entry;

	if (!atomic_long_read(&hat->hat_stolen_pages))
		return 0;
	rcu_read_lock();
	xas_for_each(&xas, entry, (eaddr >> PAGE_SHIFT) - 1) {
		if (xas_retry(&xas, entry))
			continue;
		if (++n % XA_CHECK_SCHED)
			continue;
		xas_pause(&xas);
		rcu_read_unlock();
		cond_resched();
		rcu_read_lock();
	}
	rcu_read_unlock();
	return n;
}

/**
 * htable_stolen_next() - the first stolen translation at or after *@vap
 * @hat:	the hat; the caller keeps the range from changing
 * @vap:	in: where to start; out: the va found
 * @eaddr:	end of the search (exclusive)
 *
 * Return: the entry, or 0 when none is left before @eaddr.
 */
x86pte_t htable_stolen_next(struct hat *hat, unsigned long *vap,
			    unsigned long eaddr)
{
	unsigned long idx = *vap >> PAGE_SHIFT;
	void *entry;

	if (!atomic_long_read(&hat->hat_stolen_pages))
		return 0;
	entry = xa_find(&hat->hat_stolen_ptes, &idx, (eaddr >> PAGE_SHIFT) - 1,
			XA_PRESENT);
	if (!entry)
		return 0;
	*vap = idx << PAGE_SHIFT;
	return stolen_pte(entry);
}

/**
 * htable_stolen_erase() - forget the stolen translation of @va
 * @hat:	the hat; the caller changes @va (a claim, or hat_seg_lock)
 * @va:		a va htable_stolen_next() found; what its entry held is
 *		the caller's now (RELOAD put it back in a table)
 */
void htable_stolen_erase(struct hat *hat, unsigned long va)
{
	if (xa_erase(&hat->hat_stolen_ptes, va >> PAGE_SHIFT))
		atomic_long_dec(&hat->hat_stolen_pages);
}

/**
 * htable_stolen_take() - forget the stolen translations of [@va, @eaddr)
 * @hat:	the hat; the caller changes the range (a claim, or
 *		hat_seg_lock for write)
 * @va:		start, page-aligned
 * @eaddr:	end (exclusive)
 * @drop:	called with each entry, outside any lock, to give back what it
 *		held (UNMAP, closing the hat)
 *
 * Return: how many there were.
 */
unsigned long htable_stolen_take(struct hat *hat, unsigned long va,
				 unsigned long eaddr,
				 void (*drop)(struct hat *hat, x86pte_t pte))
{
	XA_STATE(xas, &hat->hat_stolen_ptes, va >> PAGE_SHIFT);
	x86pte_t ptes[32];
	unsigned long n = 0;
	unsigned int k, j;
	void *entry;

	if (!atomic_long_read(&hat->hat_stolen_pages))
		return 0;
	do {
		k = 0;
		xas_lock(&xas);
		xas_for_each(&xas, entry, (eaddr >> PAGE_SHIFT) - 1) {
			xas_store(&xas, NULL);
			ptes[k++] = stolen_pte(entry);
			if (k == ARRAY_SIZE(ptes))
				break;
		}
		xas_unlock(&xas);
		atomic_long_sub(k, &hat->hat_stolen_pages);
		for (j = 0; j < k; j++)
			drop(hat, ptes[j]);
		n += k;
		xas_set(&xas, xas.xa_index + 1);
		cond_resched();
	} while (k == ARRAY_SIZE(ptes) && xas.xa_index <= (eaddr >> PAGE_SHIFT) - 1);
	return n;
}

/**
 * htable_stolen_sync() - count, and clear if asked, stolen A and D bits
 * @hat:	the hat; hat_seg_lock held for write (SYNC)
 * @va:		start, page-aligned
 * @eaddr:	end (exclusive)
 * @clear:	clear A and D in the records
 * @ref:	in/out: pages with A
 * @mod:	in/out: pages with D
 *
 * A stolen translation keeps the bits the MMU had set (the seed hands
 * them on to the page as it steals), so SYNC reports them, and RELOAD
 * puts them back.
 */
void htable_stolen_sync(struct hat *hat, unsigned long va, unsigned long eaddr,
			bool clear, unsigned long *ref, unsigned long *mod)
{
	XA_STATE(xas, &hat->hat_stolen_ptes, va >> PAGE_SHIFT);
	unsigned long n = 0;
	x86pte_t pte;
	void *entry;

	lockdep_assert_held_write(&hat->hat_seg_lock);
	if (!atomic_long_read(&hat->hat_stolen_pages))
		return;
	xas_lock(&xas);
	xas_for_each(&xas, entry, (eaddr >> PAGE_SHIFT) - 1) {
		pte = stolen_pte(entry);
		*ref += !!(pte & PT_REF);
		*mod += !!(pte & PT_MOD);
		/* Storing a value over a value needs no allocation. */
		if (clear && (pte & (PT_REF | PT_MOD)))
			xas_store(&xas, stolen_value(pte & ~(PT_REF | PT_MOD)));
		if (++n % XA_CHECK_SCHED)
			continue;
		xas_pause(&xas);
		xas_unlock(&xas);
		cond_resched();
		xas_lock(&xas);
	}
	xas_unlock(&xas);
}

/* Take up to @cnt free tables from @hat's cache onto @list. */
static unsigned int steal_cached(struct hat *hat, unsigned int cnt,
				 struct htable **list)
{
	unsigned int n = 0;
	struct htable *ht;

	spin_lock(&hat->hat_cache_lock);
	while (n < cnt && (ht = hat->hat_ht_cached) != NULL) {
		hat->hat_ht_cached = ht->ht_next;
		atomic_long_dec(&htable_nr_cached);
		ht->ht_next = *list;
		*list = ht;
		n++;
	}
	spin_unlock(&hat->hat_cache_lock);
	return n;
}

/*
 * The steal's visitor, over the run of a leaf table's entries: each entry
 * is recorded, then cleared (its invalidation queued in the walk's batch
 * when the MMU has used it), and its record updated with the A and D bits
 * it ended with. Records are allocated without waiting (the caller may be
 * reclaiming). Stops at the first record it can't allocate (-ENOMEM): the
 * entries moved so far stay stolen. The table's count says when no entry
 * is left to move.
 */
static int steal_visit(struct htable_walk *w, struct htable *ht,
		       unsigned int e, unsigned int n, unsigned long va)
{
	struct xarray *stolen = &w->hat->hat_stolen_ptes;
	unsigned long idx;
	x86pte_t pte, old;
	int err;

	for (; n && atomic_read(&ht->ht_valid_cnt) > 0; n--, e++, va += PAGE_SIZE) {
		pte = x86pte_get(ht, e);
		if (!PTE_ISVALID(pte))
			continue;
		idx = va >> PAGE_SHIFT;
		/* Recorded first: a lockless PROBE sees it owned throughout. */
		err = htable_should_fail(HTABLE_FAIL_XARRAY) ? -ENOMEM :
		      xa_err(xa_store(stolen, idx, stolen_value(pte),
				      GFP_NOWAIT | __GFP_NOWARN));
		if (err)
			return err;
		atomic_long_inc(&w->hat->hat_stolen_pages);
		old = x86pte_inval(ht, e, 0, w->b);
		if (old != pte)
			xa_store(stolen, idx, stolen_value(old),
				 GFP_NOWAIT | __GFP_NOWARN);
		htable_count(ht, -1, (old & PT_SOFTLOCK) ? -1 : 0);
	}
	return 0;
}

/*
 * Move the entries of @ht, a held leaf table of @hat, to the hat's stolen
 * records, through the walker (steal_visit()), with the records charged to
 * the hat's memory cgroup.
 * Return: 0, or -ENOMEM when it stopped early.
 */
static int steal_entries(struct hat *hat, struct htable *ht,
			 struct htable_batch *b)
{
	struct htable_walk w = { .hat = hat, .b = b, .visit = steal_visit };
	struct mem_cgroup *old_memcg;
	int err;

	old_memcg = set_active_memcg(hat->hat_memcg);
	err = htable_walk_table(&w, ht, ht->ht_vaddr, HTABLE_LAST_PAGE(ht) + 1);
	set_active_memcg(old_memcg);
	return err;
}

/*
 * Take up to @cnt leaf tables in use by @hat that hold at most @threshold
 * entries and no locked one: move their entries to the hat's stolen
 * records (for hat_reload()), unlink them, and after the shootdown to the
 * hat's CPUs put them on @list. The hat is skipped when its hat_seg_lock
 * is taken: the allocating caller may hold it, and reclaim must never
 * wait for it.
 */
static unsigned int htable_steal_active(struct hat *hat, unsigned int cnt,
					unsigned int threshold, unsigned int pass,
					struct htable **list)
{
	struct htable *mine = NULL, *ht, *higher;
	unsigned int h, h_start, n = 0, valid;
	struct htable_batch b;
	spinlock_t *lock;	/* the bucket lock of the chain being searched */

	if (!down_write_trylock(&hat->hat_seg_lock))
		return 0;
	htable_batch_init(&b, hat);
	h_start = (unsigned int)atomic_inc_return(&htable_steal_seed) &
		  (hat->hat_num_hash - 1);
	h = h_start;
	do {
		higher = NULL;
		lock = HTABLE_LOCK(hat, h);
		spin_lock(lock);
		for (ht = hat->hat_ht_hash[h]; ht; ht = ht->ht_next) {
			/* A shared table's entries are its owner's, not ours. */
			if (ht->ht_busy || ht->ht_level > 0 ||
			    (ht->ht_flags & HTABLE_SHARED) ||
			    atomic_read(&ht->ht_valid_cnt) > threshold ||
			    atomic_read(&ht->ht_lock_cnt))
				continue;
			/* Held, the table can't go while the lock is dropped. */
			ht->ht_busy++;
			spin_unlock(lock);
			valid = atomic_read(&ht->ht_valid_cnt);
			steal_entries(hat, ht, &b);
			spin_lock(lock);
			if (ht->ht_busy != 1 || atomic_read(&ht->ht_valid_cnt) ||
			    atomic_read(&ht->ht_lock_cnt)) {
				ht->ht_busy--;
				continue;
			}
			higher = ht->ht_parent;
			if (!htable_unlink(ht, h)) {
				ht->ht_busy--;
				higher = NULL;
				continue;
			}
			ht->ht_busy = 0;
			htable_batch_inval(&b, ht->ht_vaddr);
			ht->ht_next = mine;
			mine = ht;
			n++;
			trace_htable_steal_table(pass, hat, ht, valid);
			/* Release the parent now: spread the pain of faults. */
			break;
		}
		spin_unlock(lock);
		if (higher)
			htable_release(higher, &b);
		h = (h + 1) & (hat->hat_num_hash - 1);
	} while (n < cnt && h != h_start);

	/* No stolen table is reused before the hat's CPUs dropped it. */
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	while ((ht = mine) != NULL) {
		mine = ht->ht_next;
		ht->ht_next = *list;
		*list = ht;
	}
	return n;
}

static struct hat *next_hat(struct hat *hat)
{
	lockdep_assert_held(&htable_hat_list_lock);
	if (list_is_last(&hat->hat_list, &htable_hat_list))
		return NULL;
	return list_next_entry(hat, hat_list);
}

/**
 * htable_steal() - take up to @cnt tables back from hats
 * @cnt:	how many are wanted
 * @reap:	called by htable_reap(); the tables go back to the system
 *
 * Pass 0 takes only free tables from hats' caches. Pass p > 0 also takes
 * leaf tables in use with at most p * 512 / htable_steal_passes entries
 * and none locked. Each hat being worked on is marked HAT_VICTIM, which
 * keeps hat_free() waiting, and hats being freed are skipped. Following
 * the fix for illumos #4110, every table taken from a hat forgets the hat
 * (ht_hat = NULL) while HAT_VICTIM still pins it, so nothing touches the
 * hat once the flag is cleared. For an allocation's steal (not a reap),
 * the hat that gave the last table moves to the back of the list, so the
 * next steal starts elsewhere: the seed's spreading of the pain, which it
 * too applies only to the single-table steals of htable_alloc().
 *
 * Context: process context, no htable lock held; may be reclaim.
 * Return: a list of empty, zeroed tables linked through ht_next, or NULL.
 */
struct htable *htable_steal(unsigned int cnt, bool reap)
{
	unsigned int passes = clamp_val(READ_ONCE(htable_steal_passes), 1,
					HTABLE_PTES_PER_TABLE);
	unsigned int stolen = 0, pass, threshold, n, nact;
	struct htable *list = NULL, *ht;
	struct hat *hat, *next;

	trace_htable_steal_enter(cnt, reap);
	atomic_inc(&htable_dont_cache);
	for (pass = 0; pass <= passes && stolen < cnt; pass++) {
		threshold = pass * HTABLE_PTES_PER_TABLE / passes;
		spin_lock(&htable_hat_list_lock);
		hat = list_first_entry_or_null(&htable_hat_list, struct hat, hat_list);
		while (hat && stolen < cnt) {
			if (hat->hat_flags & (HAT_VICTIM | HAT_FREEING | HAT_CORRUPT)) {
				hat = next_hat(hat);
				continue;
			}
			hat->hat_flags |= HAT_VICTIM;
			spin_unlock(&htable_hat_list_lock);

			n = steal_cached(hat, cnt - stolen, &list);
			trace_htable_steal_cached(pass, hat, n);
			nact = 0;
			if (pass && stolen + n < cnt)
				nact = htable_steal_active(hat, cnt - stolen - n,
							   threshold, pass, &list);
			/* Translations lost, apart from free tables taken. */
			atomic_long_add(nact, &hat->hat_stolen);
			atomic_long_add(n, &hat->hat_reaped);
			n += nact;
			stolen += n;
			for (ht = list; ht; ht = ht->ht_next)
				if (ht->ht_hat == hat)
					ht->ht_hat = NULL;

			spin_lock(&htable_hat_list_lock);
			hat->hat_flags &= ~HAT_VICTIM;
			next = next_hat(hat);
			if (!reap && n && stolen == cnt)
				list_move_tail(&hat->hat_list, &htable_hat_list);
			wake_up_all(&htable_victim_wq);
			hat = next;
		}
		spin_unlock(&htable_hat_list_lock);
	}
	atomic_dec(&htable_dont_cache);
	trace_htable_steal_exit(cnt, reap, stolen);
	return list;
}

/**
 * htable_reap() - give page-table memory back to the system
 * @nr:		most tables the caller (the shrinker) asks for; 0: no limit
 *
 * Reaps MAX(MIN(physmem / 20, active / 20), 10) tables (modern illumos
 * fixed the seed's MIN/MAX inversion, which capped every reap at 10),
 * bounded by @nr, through htable_steal(); they go to the system, not to a
 * hat's cache. Then trims the reserve to its amount.
 *
 * Return: tables and reserve structures freed.
 */
unsigned long htable_reap(unsigned long nr)
{
	unsigned long active = atomic_long_read(&active_ptables);
	unsigned long cnt = max(min(totalram_pages() / 20, active / 20), 10UL);
	unsigned long freed = 0;
	struct htable *list, *ht;

	HATSTAT_INC(hs_reap_attempts);
	if (nr)
		cnt = min(cnt, nr);
	list = htable_steal(cnt, true);
	while ((ht = list) != NULL) {
		list = ht->ht_next;
		WARN_ON_ONCE(ht->ht_hat);
		htable_free(ht);
		HATSTAT_INC(hs_reaped);
		freed++;
	}
	/*
	 * Reclaim counts only slab and LRU pages as its progress: a reclaim
	 * that freed only page tables would give up, and call the OOM
	 * killer, although the pages are free.
	 */
	htable_account_reclaimed(freed);
	trace_htable_reap(nr, cnt, freed);
	return freed + htable_adjust_reserve();
}

/*
 * What reclaim could take: free tables in caches, the reserve's surplus,
 * and the leaf tables in use, which htable_steal() can take from hats
 * (their translations are kept for RELOAD). A leaf table that turns out
 * locked, busy or in a hat being used is skipped by the scan: the count
 * is what reclaim may ask for, not a promise. Page tables are a cache of
 * translations: an idle hat's leaf tables give way under pressure before
 * the OOM killer picks a process.
 */
static unsigned long htable_shrink_count(struct shrinker *s,
					 struct shrink_control *sc)
{
	long surplus = (long)READ_ONCE(htable_reserve_cnt) -
		       (long)READ_ONCE(htable_reserve_amount);
	unsigned long n = atomic_long_read(&htable_nr_cached) + max(surplus, 0L) +
			  atomic_long_read(&htable_level_tables[0]);

	return n ? n : SHRINK_EMPTY;
}

static unsigned long htable_shrink_scan(struct shrinker *s,
					struct shrink_control *sc)
{
	unsigned long freed = htable_reap(sc->nr_to_scan);

	return freed ? freed : SHRINK_STOP;
}

/** htable_shrinker_init() - register htable_reap() with the kernel */
int htable_shrinker_init(void)
{
	htable_shrinker = htable_shrinker_create(htable_shrink_count,
						 htable_shrink_scan, "htable");
	return htable_shrinker ? 0 : -ENOMEM;
}

/** htable_shrinker_exit() - unregister the shrinker */
void htable_shrinker_exit(void)
{
	htable_shrinker_destroy(htable_shrinker);
	htable_shrinker = NULL;
}
