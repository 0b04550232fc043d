// SPDX-License-Identifier: GPL-2.0
/*
 * Range claims: how operations on disjoint ranges of one hat run at once,
 * as the seed's page faults call hat_memload() holding the address space
 * lock only as readers. A claim names pages its holder changes and pages
 * it only reads; claims meet when a changed part of one meets any part of
 * another. The hat's tables are made and freed under the hashed locks
 * with ht_busy holds, entries change by cmpxchg and the counts are
 * atomic, so two claims that don't meet need nothing more between them.
 * locking.rst, "Range claims".
 */
#include <linux/lockdep.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include <htable/claim.h>

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
 * only one to change the entries and stolen records of the pages it
 * changes, and nobody changes the pages it reads, until it releases it.
 * A writer of hat_seg_lock excludes every claim. A task holds one claim
 * at a time, taken whole, so claims can't wait on each other in a circle.
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
 * hat_range_tryclaim() - hat_range_claim(), without the wait
 * @hat:	the hat; its hat_seg_lock is held for read
 * @c:		the claim, as for hat_range_claim()
 *
 * For a task that holds a claim on another hat already and so must never
 * wait for this one (check_shared_table()).
 *
 * Return: true when @c is claimed; false when another claim meets it.
 */
bool hat_range_tryclaim(struct hat *hat, struct hat_range *c)
{
	lockdep_assert_held_read(&hat->hat_seg_lock);
	return hat_range_try(hat, c);
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

/**
 * hat_range_begin() - begin a call on the pages of @c
 * @hat:	the hat
 * @c:		the claim, on the caller's stack
 * @excl:	take hat_seg_lock for write instead of a claim
 *
 * Context: process context; sleeps, killably.
 * Return: 0; -EINTR, with nothing held, when a fatal signal came first.
 */
int hat_range_begin(struct hat *hat, struct hat_range *c, bool excl)
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

/**
 * hat_range_end() - end a call begun by hat_range_begin()
 * @hat:	the hat
 * @c:		the claim
 * @excl:	as given to hat_range_begin()
 */
void hat_range_end(struct hat *hat, struct hat_range *c, bool excl)
{
	if (excl) {
		up_write(&hat->hat_seg_lock);
		return;
	}
	hat_range_release(hat, c);
	up_read(&hat->hat_seg_lock);
}
