// SPDX-License-Identifier: GPL-2.0
/*
 * Shared page tables (hat_share/hat_unshare of the seed): an owner's leaf
 * tables linked into another hat's tree, so the sharer sees every later
 * change the owner makes there. The owner's entries stay the owner's: its
 * pages, its counts, its stolen records. Documentation/design.rst,
 * "Shared tables", and locking.rst for how sharing takes two hats' locks.
 */
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <htable/fail.h>
#include <htable/hat.h>
#include <htable/share.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

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
void hat_unshare_all(struct hat *hat)
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
	    htable_stolen_count(hat, va, va + LEVEL_SIZE(1)))
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

	sh = htable_fail_kzalloc(HTABLE_FAIL_SHARE, sizeof(*sh), HTABLE_GFP);
	if (!sh)
		return -ENOMEM;
	sh->owner = owner;
	sh->sharer = hat;
	sh->va = va;
	err = htable_should_fail(HTABLE_FAIL_SHARE) ? -ENOMEM :
	      xa_err(xa_store(&hat->hat_shares, va >> LEVEL_SHIFT(1), sh, HTABLE_GFP));
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
 * @va0:	2 MiB-aligned start; the same va in both hats
 * @npages:	a multiple of 512: one leaf table each
 * @tables:	out: tables attached, set on success
 *
 * Context: sleeps, killably; never holds htable_share_mutex across a wait
 * on one hat.
 * Return: 0; -EEXIST when @hat maps or shares anything in the range;
 * -EBUSY when @owner maps a large page there; -EINVAL when @owner shares
 * the range itself from a third hat; -ENOMEM; -EINTR when a fatal signal
 * ended a wait. On error nothing changed.
 */
int hat_share(struct hat *hat, struct hat *owner, unsigned long va0,
	      unsigned long npages, unsigned long *tables)
{
	unsigned long va, end = va0 + (npages << PAGE_SHIFT);
	struct hat *busy;
	int err = 0;

	*tables = 0;
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
	for (va = va0; va < end && !err; va += LEVEL_SIZE(1))
		err = hat_share_check(hat, owner, va);
	for (va = va0; va < end && !err; va += LEVEL_SIZE(1)) {
		err = hat_share_one(hat, owner, va);
		if (!err)
			(*tables)++;
	}
	if (err) {
		/* Undo the tables attached before the failure. */
		for (va = va0; *tables; va += LEVEL_SIZE(1), (*tables)--)
			hat_share_drop(xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1)));
	}
	hat_share_unlock(owner, hat);
	mutex_unlock(&htable_share_mutex);
	return err;
}

/**
 * hat_unshare() - detach the shared tables of a range from @hat
 * @hat:	the sharer
 * @va0:	2 MiB-aligned start
 * @npages:	a multiple of 512
 * @tables:	out: tables detached
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
int hat_unshare(struct hat *hat, unsigned long va0, unsigned long npages,
		unsigned long *tables)
{
	unsigned long va, end = va0 + (npages << PAGE_SHIFT);
	struct hat *busy, *owner;
	struct hat_share *sh;

	*tables = 0;
	va = va0;
	while (va < end) {
		if (!*tables) {
			if (mutex_lock_killable(&htable_share_mutex))
				return -EINTR;
			/* Nothing is detached until the whole range is shared. */
			for (va = va0; va < end; va += LEVEL_SIZE(1)) {
				if (!xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1))) {
					mutex_unlock(&htable_share_mutex);
					return -ENOENT;
				}
			}
			va = va0;
		} else {
			mutex_lock(&htable_share_mutex);
		}
		sh = xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1));
		if (!sh) {
			/* The owner closed meanwhile: that table is detached. */
			mutex_unlock(&htable_share_mutex);
			va += LEVEL_SIZE(1);
			(*tables)++;
			continue;
		}
		owner = sh->owner;
		busy = hat_share_trylock(owner, hat);
		if (busy) {
			if (hat_share_wait(busy, !*tables) && !*tables)
				return -EINTR;
			continue;
		}
		hat_share_drop(sh);	/* frees sh */
		hat_share_unlock(owner, hat);
		mutex_unlock(&htable_share_mutex);
		va += LEVEL_SIZE(1);
		(*tables)++;
	}
	return 0;
}
