// SPDX-License-Identifier: GPL-2.0
/*
 * Hat operations: hat_alloc/hat_free, hat_memload, hat_unload and
 * hat_probe, plus the segment layer. The seed's hat sits under segment
 * drivers that own the pages; here the hat keeps that record itself
 * (hat_pages: va -> page, one page reference per va), apart from the
 * entries, so a translation can be torn down and rebuilt without losing
 * its page.
 *
 * Changes are all or nothing: a map that fails part-way undoes what it did
 * before returning. MAP and UNMAP hold hat_seg_lock for read and claim
 * their range (hat_range_claim()), so operations on disjoint ranges of
 * one hat run at once, as the seed's page faults call hat_memload()
 * holding the address space lock only as readers: the tables are made
 * and freed under the hashed locks with ht_busy holds, entries change by
 * cmpxchg, and the counts are atomic. An ALIAS map claims its source
 * pages too, to read them. What would meet pages outside any claim takes
 * the lock for write instead: a PIN map, and an ALIAS map or an UNMAP in a
 * hat with pinned memory (the pins and their counts are the hat's, not a
 * range's), and an UNMAP that splits a large page (the rest of that page
 * lies outside its range).
 */
#include <linux/atomic.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <htable/fail.h>
#include <htable/hat.h>
#include <htable/module.h>
#include <htable/stats.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

static struct kmem_cache *hat_cache;
static atomic_t hat_next_id = ATOMIC_INIT(0);
atomic_t htable_nr_hats = ATOMIC_INIT(0);

DEFINE_SPINLOCK(htable_hat_list_lock);
LIST_HEAD(htable_hat_list);
DECLARE_WAIT_QUEUE_HEAD(htable_victim_wq);
/* Serializes SHARE, UNSHARE and the closing of hats that share (lock 0). */
static DEFINE_MUTEX(htable_share_mutex);

/**
 * struct hat_share - one leaf table of an owner hat shared into a sharer
 * @list:	on the owner's hat_shared_out (htable_share_mutex)
 * @owner:	the hat whose table it is
 * @sharer:	the hat it is linked into
 * @va:		first va of the table, the same in both hats
 *
 * Exists exactly while the table is linked into the sharer's tree, and
 * holds the owner's table busy for that long: the owner's unmaps, steals
 * and reaps can't free it under the sharer.
 */
struct hat_share {
	struct list_head	list;
	struct hat		*owner;
	struct hat		*sharer;
	unsigned long		va;
};

/*
 * A record keeps the flags its page was mapped with as xarray marks, so a
 * stolen translation can be rebuilt exactly (hat_reload()).
 */
#define HAT_MARK_WRITE	XA_MARK_0
#define HAT_MARK_EXEC	XA_MARK_1
#define HAT_MARK_LOCK	XA_MARK_2

/**
 * struct hat_upin - one large page of user memory pinned for HTABLE_MAP_PIN
 * @list:	on hat->hat_upins
 * @folio:	the folio holding it
 * @page:	the page pin_user_pages() pinned: the first of the range
 * @refs:	records of the hat that name a page of @folio through this
 *		pin; the pin goes when the last one does
 *
 * The records themselves hold ordinary page references, as every record
 * does; the pin is what keeps the user's memory from being migrated away
 * (FOLL_LONGTERM) for as long as the hat maps any of it.
 */
struct hat_upin {
	struct list_head	list;
	struct folio		*folio;
	struct page		*page;
	unsigned long		refs;
};

/* Level of the pages a map request asks for: 0, 1 (2 MiB) or 2 (1 GiB). */
static unsigned int hat_map_level(u32 flags)
{
	if (flags & HTABLE_MAP_1G)
		return 2;
	return flags & HTABLE_MAP_2M ? 1 : 0;
}

/* The pin of @hat that covers @pg's folio, or NULL. */
static struct hat_upin *hat_find_upin(struct hat *hat, struct page *pg)
{
	struct folio *folio = page_folio(pg);
	struct hat_upin *up;

	/* Pages of the module's own are never pinned: skip the search. */
	if (!folio_maybe_dma_pinned(folio))
		return NULL;
	list_for_each_entry(up, &hat->hat_upins, list)
		if (up->folio == folio && up->refs)
			return up;
	return NULL;
}

/* Take a record's reference on @pg (and count it against its pin). */
static void hat_get_page(struct hat *hat, struct page *pg)
{
	struct hat_upin *up = hat_find_upin(hat, pg);

	if (up)
		up->refs++;
	get_page(pg);
}

/* Free the pins no record names any more. */
static void hat_upin_sweep(struct hat *hat)
{
	struct hat_upin *up, *tmp;

	list_for_each_entry_safe(up, tmp, &hat->hat_upins, list) {
		if (up->refs)
			continue;
		list_del(&up->list);
		unpin_user_page(up->page);
		kfree(up);
	}
}

/* Drop a record's reference on @pg; the caller sweeps the pins after. */
static void hat_put_page(struct hat *hat, struct page *pg)
{
	struct hat_upin *up = hat_find_upin(hat, pg);

	if (up)
		up->refs--;
	put_page(pg);
}

/* Do pages [@f1, @l1] and [@f2, @l2] meet? An empty range meets none. */
static bool hat_pages_meet(unsigned long f1, unsigned long l1,
			   unsigned long f2, unsigned long l2)
{
	return f1 <= l1 && f2 <= l2 && f1 <= l2 && f2 <= l1;
}

/* Must one of @a and @b wait for the other? Readers never wait for readers. */
static bool hat_ranges_meet(const struct hat_range *a, const struct hat_range *b)
{
	return hat_pages_meet(a->first, a->last, b->first, b->last) ||
	       hat_pages_meet(a->first, a->last, b->rfirst, b->rlast) ||
	       hat_pages_meet(a->rfirst, a->rlast, b->first, b->last);
}

/* Add @c to the hat's claims if no claim meets it; true when added. */
static bool hat_range_try(struct hat *hat, struct hat_range *c)
{
	struct hat_range *r;
	bool free = true;

	spin_lock(&hat->hat_range_lock);
	list_for_each_entry(r, &hat->hat_ranges, list) {
		if (hat_ranges_meet(r, c)) {
			free = false;
			break;
		}
	}
	if (free)
		list_add(&c->list, &hat->hat_ranges);
	spin_unlock(&hat->hat_range_lock);
	return free;
}

/**
 * hat_range_claim() - claim pages of @hat: those @c changes, those it reads
 * @hat:	the hat; its hat_seg_lock is held for read
 * @c:		the claim (HAT_RANGE_CHANGES(), HAT_RANGE_READS(), or both
 *		parts set), on the caller's stack until hat_range_release()
 *
 * Waits until no other claim meets @c. With the claim, the caller is the
 * only one to change the records of the pages it changes, and the
 * entries that map them, and nobody changes the pages it reads, until it
 * releases it; a writer of hat_seg_lock excludes every claim. A task
 * holds one claim at a time, taken whole, so claims can't wait on each
 * other in a circle.
 *
 * Context: process context; sleeps, killably.
 * Return: 0, or -EINTR (no claim taken) when a fatal signal came first.
 */
int hat_range_claim(struct hat *hat, struct hat_range *c)
{
	lockdep_assert_held_read(&hat->hat_seg_lock);
	return wait_event_killable(hat->hat_range_wq, hat_range_try(hat, c)) ?
	       -EINTR : 0;
}

/**
 * hat_range_release() - give up a claim taken by hat_range_claim()
 * @hat:	the hat; its hat_seg_lock is still held for read
 * @c:		the claim
 */
void hat_range_release(struct hat *hat, struct hat_range *c)
{
	spin_lock(&hat->hat_range_lock);
	list_del(&c->list);
	spin_unlock(&hat->hat_range_lock);
	/* wq_has_sleeper() pairs with the barrier in prepare_to_wait(). */
	if (wq_has_sleeper(&hat->hat_range_wq))
		wake_up_all(&hat->hat_range_wq);
}

/*
 * Begin a call on the pages of @c: hat_seg_lock for write when @excl,
 * else for read with the claim @c. Killable: 0, or -EINTR with nothing
 * held.
 */
static int hat_range_begin(struct hat *hat, struct hat_range *c, bool excl)
{
	if (excl)
		return down_write_killable(&hat->hat_seg_lock) ? -EINTR : 0;
	if (down_read_killable(&hat->hat_seg_lock))
		return -EINTR;
	if (hat_range_claim(hat, c)) {
		up_read(&hat->hat_seg_lock);
		return -EINTR;
	}
	return 0;
}

/* End a call begun by hat_range_begin() with the same @excl. */
static void hat_range_end(struct hat *hat, struct hat_range *c, bool excl)
{
	if (excl) {
		up_write(&hat->hat_seg_lock);
		return;
	}
	hat_range_release(hat, c);
	up_read(&hat->hat_seg_lock);
}

/**
 * hat_alloc() - create an empty address space
 *
 * Context: process context; sleeps.
 * Return: the hat, or NULL when memory is short.
 */
struct hat *hat_alloc(void)
{
	struct hat *hat;

	if (htable_should_fail(HTABLE_FAIL_HAT))
		return NULL;
	hat = kmem_cache_zalloc(hat_cache, GFP_KERNEL);
	if (!hat)
		return NULL;
	refcount_set(&hat->hat_refs, 1);
	init_rwsem(&hat->hat_seg_lock);
	spin_lock_init(&hat->hat_range_lock);
	INIT_LIST_HEAD(&hat->hat_ranges);
	init_waitqueue_head(&hat->hat_range_wq);
	spin_lock_init(&hat->hat_cache_lock);
	spin_lock_init(&hat->hat_switch_lock);
	INIT_LIST_HEAD(&hat->hat_list);
	INIT_LIST_HEAD(&hat->hat_upins);
	INIT_LIST_HEAD(&hat->hat_shared_out);
	xa_init(&hat->hat_pages);
	xa_init(&hat->hat_shares);
	if (htable_should_fail(HTABLE_FAIL_CPUMASK) ||
	    !zalloc_cpumask_var(&hat->hat_cpus, GFP_KERNEL))
		goto err_free;
	if (htable_hat_init(hat))
		goto err_cpus;
	hat->hat_id = atomic_inc_return(&hat_next_id);
	hat->hat_pid = task_tgid_nr(current);

	spin_lock(&htable_hat_list_lock);
	list_add_tail(&hat->hat_list, &htable_hat_list);
	spin_unlock(&htable_hat_list_lock);
	atomic_inc(&htable_nr_hats);
	HATSTAT_INC(hs_hats_created);
	return hat;

err_cpus:
	free_cpumask_var(hat->hat_cpus);
err_free:
	kmem_cache_free(hat_cache, hat);
	return NULL;
}

/*
 * Records a walk of hat_pages handles between two breaks of its lock (or
 * RCU read section), so that a walk of a large range never holds a CPU
 * for long.
 */
#define HAT_XA_BATCH	XA_CHECK_SCHED

/*
 * Records a store or a drop handles per xa_lock round. The page references
 * are taken before the round and put after it, so the lock, which every
 * MAP and UNMAP of the hat takes, is held for the stores alone.
 */
#define HAT_XA_GATHER	32

/*
 * Drop the records of [first, last] (page numbers), putting each page, in
 * rounds of HAT_XA_GATHER records: erased under the xa_lock, put after
 * it. The caller changes the range (hat_range_begin()), or the hat is
 * being freed.
 */
static void hat_drop_records(struct hat *hat, unsigned long first,
			     unsigned long last)
{
	XA_STATE(xas, &hat->hat_pages, first);
	struct page *pv[HAT_XA_GATHER];
	unsigned long n = 0;
	unsigned int nb, j;
	struct page *pg;

	do {
		nb = 0;
		xas_lock(&xas);
		xas_for_each(&xas, pg, last) {
			/* Storing NULL clears the record's marks with it. */
			xas_store(&xas, NULL);
			pv[nb++] = pg;
			if (nb == HAT_XA_GATHER)
				break;
		}
		xas_unlock(&xas);
		for (j = 0; j < nb; j++)
			hat_put_page(hat, pv[j]);
		n += nb;
		if (nb < HAT_XA_GATHER || xas.xa_index >= last)
			break;
		xas_set(&xas, xas.xa_index + 1);
		if (!(n % HAT_XA_BATCH))
			cond_resched();
	} while (1);
	atomic_long_sub(n, &hat->hat_owned_pages);
	hat_upin_sweep(hat);
}

/* Records in [first, last] (page numbers); the caller changes the range. */
static unsigned long hat_count_records(struct hat *hat, unsigned long first,
				       unsigned long last)
{
	XA_STATE(xas, &hat->hat_pages, first);
	unsigned long n = 0;
	struct page *pg;

	rcu_read_lock();
	xas_for_each(&xas, pg, last) {
		if (++n % HAT_XA_BATCH)
			continue;
		xas_pause(&xas);
		rcu_read_unlock();
		cond_resched();
		rcu_read_lock();
	}
	rcu_read_unlock();
	return n;
}

/*
 * Detach @sh: unlink the table from the sharer, shoot down the sharer's
 * CPUs, then drop the owner's hold (which frees the owner's table if it
 * is empty). htable_share_mutex and both hats' hat_seg_lock are held.
 */
static void hat_share_drop(struct hat_share *sh)
{
	struct hat *sharer = sh->sharer;
	struct htable_batch b;
	struct htable *oht;

	lockdep_assert_held(&htable_share_mutex);
	lockdep_assert_held_write(&sharer->hat_seg_lock);
	htable_batch_init(&b, sharer);
	oht = htable_share_detach(sharer, sh->va, &b);
	htable_batch_finish(&b);
	xa_erase(&sharer->hat_shares, sh->va >> LEVEL_SHIFT(1));
	list_del(&sh->list);
	atomic_dec(&sh->owner->hat_nsharers);
	if (oht)
		htable_release(oht, NULL);
	HATSTAT_INC(hs_htable_unshared);
	kfree(sh);
}

/* Take a reference on @hat: its structure stays until hat_put(). */
static void hat_get(struct hat *hat)
{
	refcount_inc(&hat->hat_refs);
}

/* Drop a reference; the last one frees the (already torn down) structure. */
static void hat_put(struct hat *hat)
{
	if (!refcount_dec_and_test(&hat->hat_refs))
		return;
	free_cpumask_var(hat->hat_cpus);
	kmem_cache_free(hat_cache, hat);
}

/*
 * With htable_share_mutex held, take @owner's and then @sharer's
 * hat_seg_lock for write, without waiting. Return: NULL when both are
 * held; else the hat whose lock was taken, with a reference, and the
 * mutex and every lock dropped: the caller waits for it with
 * hat_share_wait() and starts over. The mutex, which every sharing hat
 * needs, is so never held across a wait on one hat.
 */
static struct hat *hat_share_trylock(struct hat *owner, struct hat *sharer)
{
	struct hat *busy = owner;

	lockdep_assert_held(&htable_share_mutex);
	if (down_write_trylock(&owner->hat_seg_lock)) {
		if (down_write_trylock(&sharer->hat_seg_lock))
			return NULL;
		up_write(&owner->hat_seg_lock);
		busy = sharer;
	}
	hat_get(busy);
	mutex_unlock(&htable_share_mutex);
	return busy;
}

static void hat_share_unlock(struct hat *owner, struct hat *sharer)
{
	up_write(&sharer->hat_seg_lock);
	up_write(&owner->hat_seg_lock);
}

/*
 * Wait, holding nothing but a reference on @busy, until its hat_seg_lock
 * is free, then drop the reference. Return: 0, or -EINTR when @killable
 * and a fatal signal came first.
 */
static int hat_share_wait(struct hat *busy, bool killable)
{
	int err = 0;

	if (killable)
		err = down_write_killable(&busy->hat_seg_lock);
	else
		down_write(&busy->hat_seg_lock);
	if (!err)
		up_write(&busy->hat_seg_lock);
	hat_put(busy);
	return err ? -EINTR : 0;
}

/* Any share @hat takes part in, as sharer or owner; the mutex is held. */
static struct hat_share *hat_any_share(struct hat *hat)
{
	unsigned long idx = 0;
	struct hat_share *sh;

	lockdep_assert_held(&htable_share_mutex);
	sh = xa_find(&hat->hat_shares, &idx, ULONG_MAX, XA_PRESENT);
	return sh ?: list_first_entry_or_null(&hat->hat_shared_out,
					       struct hat_share, list);
}

/*
 * Closing @hat: detach every table shared into it, and every table of its
 * shared into others. Sharers of a closing owner lose those translations
 * (a window there faults; UNSHARE says ENOENT): the owner's pages go with
 * the owner, so they must first be out of every sharer's reach. Close
 * can't fail, so its waits are not killable; none holds the mutex.
 */
static void hat_unshare_all(struct hat *hat)
{
	struct hat *busy, *owner, *sharer;
	struct hat_share *sh;

	for (;;) {
		mutex_lock(&htable_share_mutex);
		sh = hat_any_share(hat);
		if (!sh)
			break;
		owner = sh->owner;
		sharer = sh->sharer;
		busy = hat_share_trylock(owner, sharer);
		if (busy) {
			hat_share_wait(busy, false);
			continue;
		}
		hat_share_drop(sh);	/* frees sh */
		hat_share_unlock(owner, sharer);
		mutex_unlock(&htable_share_mutex);
	}
	mutex_unlock(&htable_share_mutex);
}

/**
 * hat_share_owner() - the hat whose table @hat shares at @va
 * @hat:	the hat; its hat_seg_lock is held (either way)
 * @va:		any va
 *
 * The owner can't go while the lock is held: closing it detaches its
 * tables from @hat under @hat's lock held for write.
 *
 * Return: the owner, or NULL when no shared table covers @va.
 */
struct hat *hat_share_owner(struct hat *hat, unsigned long va)
{
	struct hat_share *sh = xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1));

	return sh ? sh->owner : NULL;
}

/* Can @owner's table at @va be shared into @hat? 0 or the errno. */
static int hat_share_check(struct hat *hat, struct hat *owner,
			   unsigned long va)
{
	unsigned long i = va >> PAGE_SHIFT;
	struct htable *ht;
	x86pte_t pte;
	int err = 0;

	if (xa_load(&owner->hat_shares, va >> LEVEL_SHIFT(1)))
		return -EINVAL;
	ht = htable_getpte(owner, va, NULL, &pte, mmu.max_page_level);
	if (ht) {
		if (ht->ht_level && PTE_ISPAGE(pte, ht->ht_level))
			err = -EBUSY;
		htable_release(ht, NULL);
		if (err)
			return err;
	}
	if (xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1)) ||
	    xa_find(&hat->hat_pages, &i, (va >> PAGE_SHIFT) + HTABLE_PTES_PER_TABLE - 1,
		    XA_PRESENT))
		return -EEXIST;
	/* A leaf table, or any entry on the way to one, is in the way. */
	ht = htable_getpte(hat, va, NULL, &pte, TOP_LEVEL(hat));
	if (ht) {
		if (!ht->ht_level || PTE_ISVALID(pte))
			err = -EEXIST;
		htable_release(ht, NULL);
	}
	return err;
}

/* Share @owner's table at @va into @hat: both locks and the mutex held. */
static int hat_share_one(struct hat *hat, struct hat *owner, unsigned long va)
{
	struct hat_share *sh;
	struct htable *oht;
	int err;

	sh = htable_should_fail(HTABLE_FAIL_SHARE) ? NULL :
	     kzalloc(sizeof(*sh), GFP_KERNEL);
	if (!sh)
		return -ENOMEM;
	sh->owner = owner;
	sh->sharer = hat;
	sh->va = va;
	err = htable_should_fail(HTABLE_FAIL_SHARE) ? -ENOMEM :
	      xa_err(xa_store(&hat->hat_shares, va >> LEVEL_SHIFT(1), sh, GFP_KERNEL));
	if (err)
		goto err_free;
	/* The owner's table, made if it has none yet; this hold is the share's. */
	oht = htable_create(owner, va, 0);
	if (!oht) {
		err = -ENOMEM;
		goto err_erase;
	}
	/* Before the link: from now on the owner's flushes reach all CPUs. */
	atomic_inc(&owner->hat_nsharers);
	err = htable_share_attach(hat, va, oht);
	if (err) {
		atomic_dec(&owner->hat_nsharers);
		htable_release(oht, NULL);
		goto err_erase;
	}
	list_add_tail(&sh->list, &owner->hat_shared_out);
	HATSTAT_INC(hs_htable_shared);
	return 0;

err_erase:
	xa_erase(&hat->hat_shares, va >> LEVEL_SHIFT(1));
err_free:
	kfree(sh);
	return err;
}

/**
 * hat_share() - link @owner's leaf tables for a range into @hat (hat_share)
 * @hat:	the sharer
 * @owner:	another hat, kept open by the caller
 * @s:		the validated request; @s->tables is set on success
 *
 * Context: sleeps, killably; never holds htable_share_mutex across a wait
 * on one hat.
 * Return: 0; -EEXIST when @hat maps or shares anything in the range;
 * -EBUSY when @owner maps a large page there; -EINVAL when @owner shares
 * the range itself from a third hat; -ENOMEM; -EINTR when a fatal signal
 * ended a wait. On error nothing changed.
 */
int hat_share(struct hat *hat, struct hat *owner, struct htable_share *s)
{
	unsigned long va, end = s->va + (s->npages << PAGE_SHIFT);
	struct hat *busy;
	int err = 0;

	s->tables = 0;
	/* Every wait comes before the first change: killable throughout. */
	for (;;) {
		if (mutex_lock_killable(&htable_share_mutex))
			return -EINTR;
		busy = hat_share_trylock(owner, hat);
		if (!busy)
			break;
		if (hat_share_wait(busy, true))
			return -EINTR;
	}
	for (va = s->va; va < end && !err; va += LEVEL_SIZE(1))
		err = hat_share_check(hat, owner, va);
	for (va = s->va; va < end && !err; va += LEVEL_SIZE(1)) {
		err = hat_share_one(hat, owner, va);
		if (!err)
			s->tables++;
	}
	if (err) {
		/* Undo the tables attached before the failure. */
		for (va = s->va; s->tables; va += LEVEL_SIZE(1), s->tables--)
			hat_share_drop(xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1)));
	}
	hat_share_unlock(owner, hat);
	mutex_unlock(&htable_share_mutex);
	return err;
}

/**
 * hat_unshare() - detach the shared tables of a range from @hat
 * @hat:	the sharer
 * @s:		the validated request; @s->tables is set on success
 *
 * Each table is detached under htable_share_mutex and both hats' locks,
 * which are only tried under the mutex (hat_share_trylock()).
 *
 * Context: sleeps; killable until the first table is detached, after
 * which the call completes.
 * Return: 0; -ENOENT (nothing changed) when a table of the range is not
 * shared into @hat; -EINTR (nothing changed) when a fatal signal ended a
 * wait before the first detach.
 */
int hat_unshare(struct hat *hat, struct htable_share *s)
{
	unsigned long va, end = s->va + (s->npages << PAGE_SHIFT);
	struct hat *busy, *owner;
	struct hat_share *sh;

	s->tables = 0;
	va = s->va;
	while (va < end) {
		if (!s->tables) {
			if (mutex_lock_killable(&htable_share_mutex))
				return -EINTR;
			/* Nothing is detached until the whole range is shared. */
			for (va = s->va; va < end; va += LEVEL_SIZE(1)) {
				if (!xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1))) {
					mutex_unlock(&htable_share_mutex);
					return -ENOENT;
				}
			}
			va = s->va;
		} else {
			mutex_lock(&htable_share_mutex);
		}
		sh = xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1));
		if (!sh) {
			/* The owner closed meanwhile: that table is detached. */
			mutex_unlock(&htable_share_mutex);
			va += LEVEL_SIZE(1);
			s->tables++;
			continue;
		}
		owner = sh->owner;
		busy = hat_share_trylock(owner, hat);
		if (busy) {
			if (hat_share_wait(busy, !s->tables) && !s->tables)
				return -EINTR;
			continue;
		}
		hat_share_drop(sh);	/* frees sh */
		hat_share_unlock(owner, hat);
		mutex_unlock(&htable_share_mutex);
		va += LEVEL_SIZE(1);
		s->tables++;
	}
	return 0;
}

/**
 * hat_free() - destroy a hat: every table, record and page it holds
 * @hat:	a hat live on no CPU, with no operation in progress
 *
 * Drops the reference its file held. Another closing or unsharing hat may
 * still hold one, waiting for this hat's lock: the structure goes with
 * the last reference (hat_put()), everything else goes here.
 */
void hat_free(struct hat *hat)
{
	hat_unshare_all(hat);
	/*
	 * HAT_FREEING keeps new steals away; a steal already working on the
	 * hat (HAT_VICTIM) pins it until it lets go, as in the seed.
	 */
	spin_lock(&htable_hat_list_lock);
	hat->hat_flags |= HAT_FREEING;
	while (hat->hat_flags & HAT_VICTIM) {
		spin_unlock(&htable_hat_list_lock);
		wait_event(htable_victim_wq, !(READ_ONCE(hat->hat_flags) & HAT_VICTIM));
		spin_lock(&htable_hat_list_lock);
	}
	list_del_init(&hat->hat_list);
	spin_unlock(&htable_hat_list_lock);

	htable_hat_fini(hat);
	hat_drop_records(hat, 0, ULONG_MAX);
	WARN_ON_ONCE(atomic_long_read(&hat->hat_owned_pages));
	WARN_ON_ONCE(!list_empty(&hat->hat_upins));
	xa_destroy(&hat->hat_pages);
	xa_destroy(&hat->hat_shares);
	atomic_dec(&htable_nr_hats);
	HATSTAT_INC(hs_hats_destroyed);
	hat_put(hat);
}

/*
 * Clear every entry mapping a page in [va, eaddr), adjusting the tables'
 * counts and queueing invalidations and emptied tables in @b. The records
 * are left alone. Returns the number of entries cleared.
 */
static unsigned long hat_pte_unmap_range(struct hat *hat, unsigned long va,
					 unsigned long eaddr,
					 struct htable_batch *b)
{
	struct htable *ht = NULL;
	unsigned long n = 0;
	x86pte_t old;

	lockdep_assert_held(&hat->hat_seg_lock);
	while (va < eaddr) {
		htable_walk(hat, &ht, &va, eaddr, b);
		if (!ht)
			break;
		old = x86pte_inval(ht, htable_va2entry(va, ht), 0, b);
		if (PTE_ISVALID(old)) {
			if (old & PT_SOFTLOCK)
				WARN_ON_ONCE(atomic_dec_return(&ht->ht_lock_cnt) < 0);
			WARN_ON_ONCE(atomic_dec_return(&ht->ht_valid_cnt) < 0);
			n++;
		}
		va += LEVEL_SIZE(ht->ht_level);
	}
	if (ht)
		htable_release(ht, b);
	return n;
}

/* The entry hat_memload() installs for @pg, a page of @level. */
static x86pte_t hat_make_pte(struct page *pg, u32 flags, unsigned int level)
{
	x86pte_t pte = arch_page_to_phys(pg) | PT_VALID;

	if (level)
		pte |= PT_PAGESIZE;
	if (flags & HTABLE_MAP_WRITE)
		pte |= PT_WRITABLE;
	if (!(flags & HTABLE_MAP_EXEC))
		pte |= mmu.pt_nx;
	if (flags & HTABLE_MAP_LOCK)
		pte |= PT_SOFTLOCK;
	return pte;
}

/**
 * struct hat_run - a run of records to store (hat_store_run())
 * @idx:	page number of the first record
 * @n:		records
 * @flags:	the map's flags, kept as marks
 * @base:	contiguous pages: record k names nth_page(@base, k); NULL for
 *		an alias run
 * @up:		with @base: the pin the pages belong to (a reference and a
 *		pin count per record); NULL: fresh pages, whose allocation
 *		reference each record takes over
 * @alias:	without @base: page number of the alias source, whose
 *		records are repeated over the run
 * @nalias:	records at @alias
 */
struct hat_run {
	unsigned long		idx;
	unsigned long		n;
	u32			flags;
	struct page		*base;
	struct hat_upin		*up;
	unsigned long		alias;
	unsigned long		nalias;
};

/* Mark the record at @xas with the map's @flags; the xa_lock is held. */
static void hat_mark_record(struct xa_state *xas, u32 flags)
{
	if (flags & HTABLE_MAP_WRITE)
		xas_set_mark(xas, HAT_MARK_WRITE);
	if (flags & HTABLE_MAP_EXEC)
		xas_set_mark(xas, HAT_MARK_EXEC);
	if (flags & HTABLE_MAP_LOCK)
		xas_set_mark(xas, HAT_MARK_LOCK);
}

/*
 * The pages of records [@k, @k + @nb) of @r into @pv, each with the
 * reference its record will hold. An alias reads its source under RCU:
 * the caller's claim keeps those records where they are.
 */
static void hat_run_gather(struct hat *hat, const struct hat_run *r,
			   unsigned long k, struct page **pv, unsigned int nb)
{
	XA_STATE(src, &hat->hat_pages, r->alias + (r->base ? 0 : k % r->nalias));
	unsigned long pos = r->base ? 0 : k % r->nalias;
	unsigned int j;

	if (r->base) {
		for (j = 0; j < nb; j++) {
			pv[j] = nth_page(r->base, k + j);
			if (r->up) {
				r->up->refs++;
				get_page(pv[j]);
			}
		}
		return;
	}
	rcu_read_lock();
	for (j = 0; j < nb; j++, pos++) {
		if (pos == r->nalias) {
			pos = 0;
			xas_set(&src, r->alias);
		}
		/* After xas_set(), the entry at the index; then the next one. */
		pv[j] = xas_next(&src);
	}
	rcu_read_unlock();
	for (j = 0; j < nb; j++)
		hat_get_page(hat, pv[j]);
}

/* Give back the references hat_run_gather() took for pages not stored. */
static void hat_run_ungather(struct hat *hat, const struct hat_run *r,
			     struct page **pv, unsigned int nb)
{
	unsigned int j;

	for (j = 0; j < nb; j++) {
		if (!r->base) {
			hat_put_page(hat, pv[j]);
		} else if (r->up) {
			r->up->refs--;
			put_page(pv[j]);
		}
	}
}

/*
 * Store the records of @r, each with its marks and its page reference, in
 * rounds of HAT_XA_GATHER: the pages are gathered (and referenced) first,
 * then stored with one xas walk under one xa_lock round. A node the walk
 * can't allocate under the lock is allocated with the lock dropped
 * (xas_nomem()) and the store retried. The range is free and the caller
 * changes it (hat_range_begin()), so nothing else stores there meanwhile.
 * Returns the records stored in *@stored, and 0 or -ENOMEM; on error the
 * caller drops the stored ones, and for fresh pages puts the pages from
 * *@stored on.
 */
static int hat_store_run(struct hat *hat, const struct hat_run *r,
			 unsigned long *stored)
{
	XA_STATE(xas, &hat->hat_pages, r->idx);
	struct page *pv[HAT_XA_GATHER];
	unsigned int nb, j;
	unsigned long k = 0;
	int err = 0;

	while (k < r->n && !err) {
		nb = min_t(unsigned long, r->n - k, HAT_XA_GATHER);
		hat_run_gather(hat, r, k, pv, nb);
		j = 0;
		do {
			xas_lock(&xas);
			xas_set(&xas, r->idx + k + j);
			for (; j < nb; j++) {
				if (htable_should_fail(HTABLE_FAIL_XARRAY)) {
					err = -ENOMEM;
					break;
				}
				xas_store(&xas, pv[j]);
				if (xas_error(&xas))
					break;
				hat_mark_record(&xas, r->flags);
				xas_next(&xas);
			}
			xas_unlock(&xas);
		} while (xas_nomem(&xas, GFP_KERNEL));
		if (!err)
			err = xas_error(&xas);
		hat_run_ungather(hat, r, pv + j, nb - j);
		k += j;
		if (k < r->n && !(k % HAT_XA_BATCH))
			cond_resched();
	}
	atomic_long_add(k, &hat->hat_owned_pages);
	*stored = k;
	return err;
}

/*
 * Pin the @n pages of user memory at @uaddr (HTABLE_MAP_PIN) and add the
 * pin to the hat. They must be one physically contiguous run aligned to
 * its size, inside one folio: a hugetlb page or a THP of at least that
 * size. Returns 0 with *@upp set (no record counted yet), -EINVAL when the
 * memory is not such a run, or pin_user_pages_fast()'s error.
 */
static int hat_pin_user(struct hat *hat, unsigned long uaddr, unsigned long n,
			struct hat_upin **upp)
{
	unsigned long pfn, fpfn;
	struct hat_upin *up;
	struct folio *folio;
	struct page *pg;
	long got;

	up = htable_should_fail(HTABLE_FAIL_UPIN) ? NULL :
	     kzalloc(sizeof(*up), GFP_KERNEL);
	if (!up)
		return -ENOMEM;
	got = pin_user_pages_fast(uaddr, 1, FOLL_WRITE | FOLL_LONGTERM, &pg);
	if (got != 1) {
		kfree(up);
		htable_bad_input("map: can't pin user memory at %#lx (%ld)", uaddr, got);
		return got < 0 ? got : -EFAULT;
	}
	folio = page_folio(pg);
	pfn = page_to_pfn(pg);
	fpfn = folio_pfn(folio);
	if ((pfn & (n - 1)) || pfn + n > fpfn + folio_nr_pages(folio)) {
		unpin_user_page(pg);
		kfree(up);
		htable_bad_input("map: user memory at %#lx is not one aligned %lu KiB page",
				 uaddr, n << (PAGE_SHIFT - 10));
		return -EINVAL;
	}
	up->folio = folio;
	up->page = pg;
	list_add(&up->list, &hat->hat_upins);
	*upp = up;
	return 0;
}

/*
 * Record the pages for a map of @level pages: fresh ones (split from one
 * buddy allocation per large page), pinned user memory, or references to
 * alias pages (checked by hat_check_alias()). On error every record made
 * here is dropped again.
 */
static int hat_record_pages(struct hat *hat, const struct htable_map *m,
			    unsigned int level)
{
	unsigned long n = 1UL << (level * HTABLE_PTE_SHIFT);
	unsigned int order = level * HTABLE_PTE_SHIFT;
	struct hat_run r = {
		.idx = m->va >> PAGE_SHIFT, .flags = m->flags,
	};
	unsigned long i, k;
	struct hat_upin *up;
	struct page *pg;
	int err = 0;

	if (m->flags & HTABLE_MAP_ALIAS) {
		/* The whole range in one walk: its pages are the hat's already. */
		r.n = m->npages;
		r.alias = m->alias_va >> PAGE_SHIFT;
		r.nalias = m->alias_npages;
		err = hat_store_run(hat, &r, &k);
		goto out;
	}
	r.n = n;
	for (i = 0; i < m->npages && !err; i += n, r.idx += n) {
		if (m->flags & HTABLE_MAP_PIN) {
			err = hat_pin_user(hat, m->alias_va + (i << PAGE_SHIFT), n, &up);
			if (err)
				break;
			r.base = up->page;
			r.up = up;
			err = hat_store_run(hat, &r, &k);
		} else {
			/* Order 9 fits the buddy allocator; 1 GiB needs PIN. */
			pg = htable_should_fail(HTABLE_FAIL_PAGE) ? NULL :
			     alloc_pages(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN, order);
			if (!pg) {
				err = -ENOMEM;
				break;
			}
			/* One reference per 4 KiB page: a record is one of them. */
			if (order)
				split_page(pg, order);
			r.base = pg;
			err = hat_store_run(hat, &r, &k);
			for (; k < n; k++)
				put_page(nth_page(pg, k));
		}
	}
out:
	if (err)
		hat_drop_records(hat, m->va >> PAGE_SHIFT,
				 (m->va >> PAGE_SHIFT) + m->npages - 1);
	return err;
}

/*
 * An alias source for a map of @level pages: every page recorded, and for
 * a large page each run of its size physically contiguous and aligned.
 */
static int hat_check_alias(struct hat *hat, const struct htable_map *m,
			   unsigned int level)
{
	unsigned long a = m->alias_va >> PAGE_SHIFT, n = 1UL << (level * 9);
	unsigned long i, base = 0, pfn;
	XA_STATE(xas, &hat->hat_pages, a);
	struct page *pg;
	int err = 0;

	rcu_read_lock();
	for (i = 0; i < m->alias_npages; i++) {
		/* Every index in turn: a hole reads as NULL. */
		pg = xas_next(&xas);
		if (!pg) {
			err = -ENOENT;
			break;
		}
		if (level) {
			pfn = page_to_pfn(pg);
			if (i % n == 0)
				base = pfn;
			if ((base & (n - 1)) || pfn != base + i % n) {
				err = -EINVAL;
				break;
			}
		}
		if ((i + 1) % HAT_XA_BATCH)
			continue;
		xas_pause(&xas);
		rcu_read_unlock();
		cond_resched();
		rcu_read_lock();
	}
	rcu_read_unlock();
	if (err == -EINVAL)
		htable_bad_input("map: alias %#llx: not aligned %lu KiB runs",
				 m->alias_va, n << (PAGE_SHIFT - 10));
	return err;
}

/*
 * The errno for a map of @level pages whose range meets the page recorded
 * at @va: EBUSY inside a larger page, ENOTEMPTY over smaller ones, EEXIST
 * for the same size. A record without a translation (stolen) is a 4 KiB
 * page: only leaf tables are ever stolen.
 */
static int hat_conflict(struct hat *hat, unsigned long va, unsigned int level)
{
	unsigned int have = 0;
	struct htable *ht;
	x86pte_t pte;

	ht = htable_getpte(hat, va, NULL, &pte, mmu.max_page_level);
	if (ht) {
		if (PTE_ISPAGE(pte, ht->ht_level))
			have = ht->ht_level;
		htable_release(ht, NULL);
	}
	if (have > level)
		return -EBUSY;
	return have < level ? -ENOTEMPTY : -EEXIST;
}

/*
 * Fill the entries of [va, eaddr) with @level pages from the records,
 * read with one xas walk per table. The counts of a table are raised for
 * all its new entries before the first is set (a table never has more
 * entries than it says) and lowered for those that could not be.
 */
static int hat_map_ptes(struct hat *hat, unsigned long va, unsigned long eaddr,
			u32 flags, unsigned int level, unsigned long *done,
			struct htable_batch *b)
{
	XA_STATE(xas, &hat->hat_pages, va >> PAGE_SHIFT);
	unsigned long tend, left;
	struct htable *ht;
	unsigned int e;
	struct page *pg;
	x86pte_t old;

	*done = va;
	while (va < eaddr) {
		ht = htable_create(hat, va, level);
		if (!ht)
			return -ENOMEM;
		tend = min(eaddr, HTABLE_LAST_PAGE(ht) + 1);
		left = (tend - va) >> LEVEL_SHIFT(level);
		atomic_add(left, &ht->ht_valid_cnt);
		if (flags & HTABLE_MAP_LOCK)
			atomic_add(left, &ht->ht_lock_cnt);
		/* htable_create() may sleep: restart the walk under RCU. */
		rcu_read_lock();
		xas_set(&xas, va >> PAGE_SHIFT);
		for (e = htable_va2entry(va, ht); va < tend;
		     va += LEVEL_SIZE(level), e++, left--) {
			/* A large page's record is at its first 4 KiB page. */
			if (level)
				xas_set(&xas, va >> PAGE_SHIFT);
			pg = xas_next(&xas);
			old = x86pte_set(ht, e, hat_make_pte(pg, flags, level), b);
			if (old == LPAGE_ERROR) {
				/* A large page over a table: the seed's LPAGE panic. */
				rcu_read_unlock();
				if (flags & HTABLE_MAP_LOCK)
					atomic_sub(left, &ht->ht_lock_cnt);
				atomic_sub(left, &ht->ht_valid_cnt);
				htable_release(ht, b);
				return -ENOTEMPTY;
			}
			if (WARN_ON_ONCE(old)) {
				/* The record said empty: the entry was not. */
				if (flags & HTABLE_MAP_LOCK)
					atomic_dec(&ht->ht_lock_cnt);
				atomic_dec(&ht->ht_valid_cnt);
			}
			*done = va + LEVEL_SIZE(level);
		}
		rcu_read_unlock();
		htable_release(ht, b);
	}
	return 0;
}

/**
 * hat_memload() - map @m->npages pages at @m->va (validated by dev.c)
 * @hat:	the hat
 * @m:		the request; its page size, alignment and flags are valid
 *
 * Return: 0; -EEXIST when the range meets a mapping of the same page size;
 * -EADDRINUSE when it meets a table shared from another hat; -EBUSY when
 * it lies inside a larger page; -ENOTEMPTY when a large page would cover
 * smaller ones; -ENOENT when an alias source page is not the
 * hat's; -EINVAL when an alias source or pinned user memory is not a run
 * of aligned, contiguous large pages; -EFAULT (or another
 * pin_user_pages_fast() error) when user memory can't be pinned; -ENOMEM
 * when a page, a table or a record can't be had; -EINTR when a fatal
 * signal ended a wait. On error nothing has changed.
 *
 * Context: sleeps. Claims the range (and an alias source, to read it), or
 * holds hat_seg_lock for write for a PIN map, and for an ALIAS map in a
 * hat with pinned memory (see the top of this file).
 */
int hat_memload(struct hat *hat, const struct htable_map *m)
{
	unsigned long first = m->va >> PAGE_SHIFT, last = first + m->npages - 1;
	unsigned long eaddr = m->va + (m->npages << PAGE_SHIFT), done, i;
	struct hat_range c = HAT_RANGE_CHANGES(first, last);
	unsigned int level = hat_map_level(m->flags);
	bool excl = m->flags & HTABLE_MAP_PIN;
	struct htable_batch b;
	int err;

	if (m->flags & HTABLE_MAP_ALIAS) {
		/* It takes references on the source pages: read them. */
		c.rfirst = m->alias_va >> PAGE_SHIFT;
		c.rlast = c.rfirst + m->alias_npages - 1;
	}
again:
	err = hat_range_begin(hat, &c, excl);
	if (err)
		return err;
	if (!excl && (m->flags & HTABLE_MAP_ALIAS) && !list_empty(&hat->hat_upins)) {
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
	i = first;
	if (xa_find(&hat->hat_pages, &i, last, XA_PRESENT)) {
		err = hat_conflict(hat, i << PAGE_SHIFT, level);
		goto out;
	}
	if (m->flags & HTABLE_MAP_ALIAS) {
		err = hat_check_alias(hat, m, level);
		if (err)
			goto out;
	}
	err = hat_record_pages(hat, m, level);
	if (err)
		goto out;

	htable_batch_init(&b, hat);
	err = hat_map_ptes(hat, m->va, eaddr, m->flags, level, &done, &b);
	if (err)
		hat_pte_unmap_range(hat, m->va, done, &b);
	htable_batch_finish(&b);
	if (err)
		hat_drop_records(hat, first, last);
out:
	hat_range_end(hat, &c, excl);
	return err;
}

/*
 * Does the page that maps @va, a va of the claimed range, also cover the
 * @edge of the range without starting there? Only pages inside the claim
 * are looked at: a hold on a table outside it could keep an empty table
 * in the way of another claimer's large page.
 */
static bool hat_edge_splits(struct hat *hat, unsigned long va,
			    unsigned long edge)
{
	struct htable *ht;
	bool splits;
	x86pte_t pte;

	ht = htable_getpte(hat, va, NULL, &pte, mmu.max_page_level);
	if (!ht)
		return false;
	splits = ht->ht_level && PTE_ISPAGE(pte, ht->ht_level) &&
		 (edge & LEVEL_OFFSET(ht->ht_level));
	htable_release(ht, NULL);
	return splits;
}

/*
 * Split the large pages that cover @va without starting at it, level by
 * level, until the page that holds @va starts there (partial unmap).
 * hat_seg_lock is held for write: the rest of the page is outside the
 * range being unmapped.
 */
static int hat_split_edge(struct hat *hat, unsigned long va,
			  struct htable_batch *b)
{
	struct htable *ht;
	unsigned int e;
	x86pte_t pte;
	int err;

	lockdep_assert_held_write(&hat->hat_seg_lock);
	for (;;) {
		ht = htable_getpte(hat, va, &e, &pte, mmu.max_page_level);
		if (!ht)
			return 0;
		if (!ht->ht_level || !PTE_ISPAGE(pte, ht->ht_level) ||
		    !(va & LEVEL_OFFSET(ht->ht_level))) {
			htable_release(ht, b);
			return 0;
		}
		err = htable_split(ht, e, b);
		htable_release(ht, b);
		if (err)
			return err;
	}
}

/**
 * hat_unload() - unmap @u->npages pages at @u->va (validated by dev.c)
 * @hat:	the hat
 * @u:		the request; @u->unmapped is set on success
 *
 * Locked mappings are unlocked and unmapped too. The pages are put only
 * after the shootdown, so no CPU can reach a page that was freed. A large
 * page the range covers in part is first split (htable_split()), down to
 * 4 KiB where need be, so the rest of it stays mapped to the same memory.
 *
 * Return: 0; -ENOENT when the range has a hole; -ENOMEM when a split
 * can't get a table; -EINTR when a fatal signal ended a wait. On error no
 * page was unmapped (a split that succeeded before the error stays: it
 * changed no translation).
 *
 * Context: sleeps. Claims the range; starts over with hat_seg_lock held
 * for write when it must split a large page or meets pinned memory.
 */
int hat_unload(struct hat *hat, struct htable_unmap *u)
{
	unsigned long first = u->va >> PAGE_SHIFT, last = first + u->npages - 1;
	unsigned long eaddr = u->va + (u->npages << PAGE_SHIFT);
	struct hat_range c = HAT_RANGE_CHANGES(first, last);
	struct htable_batch b;
	bool excl = false;
	unsigned long n;
	int err = 0;

again:
	err = hat_range_begin(hat, &c, excl);
	if (err)
		return err;
	n = hat_count_records(hat, first, last);
	if (n != u->npages) {
		err = -ENOENT;
		goto out;
	}
	if (!excl && (!list_empty(&hat->hat_upins) ||
		      hat_edge_splits(hat, u->va, u->va) ||
		      hat_edge_splits(hat, eaddr - PAGE_SIZE, eaddr))) {
		hat_range_end(hat, &c, excl);
		excl = true;
		goto again;
	}
	htable_batch_init(&b, hat);
	if (excl) {
		err = hat_split_edge(hat, u->va, &b);
		if (!err && eaddr < HTABLE_USER_END)
			err = hat_split_edge(hat, eaddr, &b);
	}
	if (!err)
		hat_pte_unmap_range(hat, u->va, eaddr, &b);
	htable_batch_finish(&b);
	if (!err) {
		hat_drop_records(hat, first, last);
		u->unmapped = n;
	}
out:
	hat_range_end(hat, &c, excl);
	return err;
}

/**
 * hat_probe() - translate @p->va (hat_probe and hat_getpfnum in one)
 * @hat:	the hat
 * @p:		in: va; out: the rest of the fields
 *
 * Return: 0, or -EINTR when a fatal signal ended the wait for the claim.
 */
int hat_probe(struct hat *hat, struct htable_probe *p)
{
	unsigned long va = p->va & PAGE_MASK;
	struct hat_range c = HAT_RANGE_CHANGES(va >> PAGE_SHIFT, va >> PAGE_SHIFT);
	struct htable *ht;
	unsigned int e;
	x86pte_t pte;

	p->flags = 0;
	p->level = 0;
	p->pfn = 0;
	p->pte = 0;
	/*
	 * The walk holds the tables on the way to the page, and its release
	 * frees one an UNMAP emptied meanwhile. So the claim changes the page:
	 * it keeps out a MAP of a large page over it, which would find such a
	 * table in its way, and every claim that reads the whole hat (CHECK,
	 * a verify window), which walks the tables without holds.
	 */
	if (hat_range_begin(hat, &c, false))
		return -EINTR;
	ht = htable_getpte(hat, va, &e, &pte, mmu.max_page_level);
	if (ht) {
		if (PTE_ISPAGE(pte, ht->ht_level)) {
			p->flags |= HTABLE_PROBE_PRESENT;
			if (pte & PT_WRITABLE)
				p->flags |= HTABLE_PROBE_WRITE;
			if (!(pte & PT_NX))
				p->flags |= HTABLE_PROBE_EXEC;
			if (pte & PT_SOFTLOCK)
				p->flags |= HTABLE_PROBE_LOCKED;
			if (pte & PT_REF)
				p->flags |= HTABLE_PROBE_ACCESSED;
			if (pte & PT_MOD)
				p->flags |= HTABLE_PROBE_DIRTY;
			p->level = ht->ht_level;
			p->pfn = PTE2PFN(pte) +
				 ((va & LEVEL_OFFSET(ht->ht_level)) >> PAGE_SHIFT);
			p->pte = pte;
		}
		htable_release(ht, NULL);
	}
	if (xa_load(&hat->hat_pages, va >> PAGE_SHIFT))
		p->flags |= HTABLE_PROBE_OWNED;
	hat_range_end(hat, &c, false);
	return 0;
}

/* Entries of @ht that map large pages (not links). */
static unsigned int hat_count_lpages(struct htable *ht)
{
	unsigned int e, n = 0;

	for (e = 0; e < HTABLE_NUM_PTES(ht); e++)
		if (PTE_ISPAGE(x86pte_get(ht, e), ht->ht_level))
			n++;
	return n;
}

/**
 * hat_info() - count a hat's tables and entries, from its hash
 * @hat:	the hat
 * @info:	out: every field
 *
 * Return: 0, or -EINTR when a fatal signal ended the wait for the lock.
 */
int hat_info(struct hat *hat, struct htable_info *info)
{
	struct htable *ht;
	unsigned int h;

	memset(info, 0, sizeof(*info));
	info->levels = mmu.max_level + 1;
	if (down_read_killable(&hat->hat_seg_lock))
		return -EINTR;
	for (h = 0; h < hat->hat_num_hash; h++) {
		spin_lock(HTABLE_LOCK(h));
		for (ht = hat->hat_ht_hash[h]; ht; ht = ht->ht_next) {
			unsigned int valid = atomic_read(&ht->ht_valid_cnt);

			/* A shared table is its owner's, and counted there. */
			if (ht->ht_flags & HTABLE_SHARED)
				continue;
			info->tables[ht->ht_level]++;
			info->valid[ht->ht_level] += valid;
			info->locked += atomic_read(&ht->ht_lock_cnt);
			if (ht->ht_level == 0)
				info->mapped_pages += valid;
			else if (ht->ht_level <= mmu.max_page_level)
				info->mapped_pages += hat_count_lpages(ht) <<
						      (ht->ht_level * HTABLE_PTE_SHIFT);
		}
		spin_unlock(HTABLE_LOCK(h));
	}
	info->owned_pages = atomic_long_read(&hat->hat_owned_pages);
	info->stolen = atomic_long_read(&hat->hat_stolen);
	spin_lock(&hat->hat_switch_lock);
	info->live_cpus = cpumask_bits(hat->hat_cpus)[0];
	spin_unlock(&hat->hat_switch_lock);
	spin_lock(&hat->hat_cache_lock);
	for (ht = hat->hat_ht_cached; ht; ht = ht->ht_next)
		info->cached++;
	spin_unlock(&hat->hat_cache_lock);
	up_read(&hat->hat_seg_lock);
	return 0;
}

/**
 * hat_rw() - copy between user memory and a page the hat owns
 * @hat:	the hat
 * @rw:		the validated request (within one page)
 *
 * Goes through the kernel's direct map of the recorded page, never through
 * the hat's tables, so tests can check what a window did independently.
 *
 * Return: 0; -ENOENT when the hat owns no page at @rw->va; -EFAULT;
 * -EINTR when a fatal signal ended the wait for the claim.
 */
int hat_rw(struct hat *hat, const struct htable_rw *rw)
{
	void __user *buf = u64_to_user_ptr(rw->buf);
	struct page *pg;
	struct hat_range c = HAT_RANGE_READS(rw->va >> PAGE_SHIFT, rw->va >> PAGE_SHIFT);
	void *kva;
	int err = 0;

	/* The claim keeps an UNMAP from putting the page under the copy. */
	if (hat_range_begin(hat, &c, false))
		return -EINTR;
	pg = xa_load(&hat->hat_pages, rw->va >> PAGE_SHIFT);
	if (!pg) {
		err = -ENOENT;
		goto out;
	}
	kva = page_address(pg) + offset_in_page(rw->va);
	if (rw->flags & HTABLE_RW_WRITE)
		err = copy_from_user(kva, buf, rw->len) ? -EFAULT : 0;
	else
		err = copy_to_user(buf, kva, rw->len) ? -EFAULT : 0;
out:
	hat_range_end(hat, &c, false);
	return err;
}

/**
 * hat_pagesync() - gather the hardware A/D bits of a range (hat_pagesync)
 * @hat:	the hat
 * @s:		the validated request; referenced and modified are set
 *
 * With HTABLE_SYNC_CLEAR, each entry loses A and D through
 * x86pte_update(), retried when the MMU sets a bit meanwhile, and the
 * cleared vas are invalidated on every CPU where the hat is live, so the
 * next access sets the bits again.
 *
 * Return: 0, or -EINTR when a fatal signal ended the wait for the lock.
 */
int hat_pagesync(struct hat *hat, struct htable_sync *s)
{
	unsigned long va = s->va, eaddr = s->va + (s->npages << PAGE_SHIFT), n;
	struct htable *ht = NULL;
	struct htable_batch b;
	x86pte_t pte, found;
	unsigned int e;

	s->referenced = 0;
	s->modified = 0;
	if (down_write_killable(&hat->hat_seg_lock))
		return -EINTR;
	htable_batch_init(&b, hat);
	while (va < eaddr) {
		pte = htable_walk(hat, &ht, &va, eaddr, &b);
		if (!ht)
			break;
		if (ht->ht_flags & HTABLE_SHARED) {
			/* The owner's entries: SYNC them through the owner. */
			va = HTABLE_LAST_PAGE(ht) + 1;
			continue;
		}
		e = htable_va2entry(va, ht);
		/* Count what is cleared: the MMU may set a bit until the swap. */
		while ((s->flags & HTABLE_SYNC_CLEAR) && (pte & (PT_REF | PT_MOD))) {
			found = x86pte_update(ht, e, pte, pte & ~(PT_REF | PT_MOD), &b);
			if (found == pte)
				break;
			pte = found;
		}
		/* A large entry speaks for each of its pages in the range. */
		n = (min(va + LEVEL_SIZE(ht->ht_level), eaddr) - max(va, s->va)) >>
		    PAGE_SHIFT;
		if (pte & PT_REF)
			s->referenced += n;
		if (pte & PT_MOD)
			s->modified += n;
		va += LEVEL_SIZE(ht->ht_level);
	}
	if (ht)
		htable_release(ht, &b);
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	HATSTAT_INC(hs_ad_syncs);
	return 0;
}

/* The map flags recorded for page number @idx. */
static u32 hat_record_flags(struct hat *hat, unsigned long idx)
{
	u32 flags = 0;

	if (xa_get_mark(&hat->hat_pages, idx, HAT_MARK_WRITE))
		flags |= HTABLE_MAP_WRITE;
	if (xa_get_mark(&hat->hat_pages, idx, HAT_MARK_EXEC))
		flags |= HTABLE_MAP_EXEC;
	if (xa_get_mark(&hat->hat_pages, idx, HAT_MARK_LOCK))
		flags |= HTABLE_MAP_LOCK;
	return flags;
}

/**
 * hat_reload() - rebuild the translations of a range that were stolen
 * @hat:	the hat
 * @r:		the validated request; @r->reloaded is set
 *
 * The seed's fault path, hat_memload() again from the segment's record:
 * each owned page without a translation gets one, with the flags it was
 * first mapped with. The page itself never left the hat, so neither did
 * its data.
 *
 * Return: 0; -ENOMEM when a table can't be had (the pages rebuilt so
 * far stay mapped: a reload only ever adds what the record already says);
 * -EINTR (nothing done) when a fatal signal ended the wait for the lock.
 */
int hat_reload(struct hat *hat, struct htable_reload *r)
{
	unsigned long first = r->va >> PAGE_SHIFT, i;
	struct htable_batch b;
	struct htable *ht;
	struct page *pg;
	unsigned int e;
	u32 flags;
	int err = 0;

	r->reloaded = 0;
	if (down_write_killable(&hat->hat_seg_lock))
		return -EINTR;
	htable_batch_init(&b, hat);
	xa_for_each_range(&hat->hat_pages, i, pg, first, first + r->npages - 1) {
		unsigned long va = i << PAGE_SHIFT;
		x86pte_t pte;

		/* A large page is never stolen: leave what is mapped alone. */
		ht = htable_getpte(hat, va, NULL, &pte, mmu.max_page_level);
		if (ht) {
			bool mapped = PTE_ISPAGE(pte, ht->ht_level);

			htable_release(ht, &b);
			if (mapped)
				continue;
		}
		ht = htable_create(hat, va, 0);
		if (!ht) {
			err = -ENOMEM;
			break;
		}
		e = htable_va2entry(va, ht);
		if (!PTE_ISVALID(x86pte_get(ht, e))) {
			flags = hat_record_flags(hat, i);
			atomic_inc(&ht->ht_valid_cnt);
			if (flags & HTABLE_MAP_LOCK)
				atomic_inc(&ht->ht_lock_cnt);
			x86pte_set(ht, e, hat_make_pte(pg, flags, 0), &b);
			r->reloaded++;
		}
		htable_release(ht, &b);
	}
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	return err;
}

/** hat_init() - create the hat slab cache */
int hat_init(void)
{
	hat_cache = KMEM_CACHE(hat, 0);
	return hat_cache ? 0 : -ENOMEM;
}

/** hat_fini() - destroy the hat slab cache; every hat is gone */
void hat_fini(void)
{
	kmem_cache_destroy(hat_cache);
}
