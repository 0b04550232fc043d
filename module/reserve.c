// SPDX-License-Identifier: GPL-2.0
/*
 * The reserve of htable structures and the page-table page allocator.
 *
 * As in the seed, the reserve holds struct htable objects only, never a
 * page: it exists so that code that must not re-enter the allocator can
 * still get the structure, while the page comes from stealing. Successful
 * allocations top it up to htable_reserve_amount and frees refill it.
 */
#include <linux/atomic.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <htable/fail.h>
#include <htable/htable.h>
#include <htable/stats.h>

struct kmem_cache *htable_cache;

/* Tunables; module parameters (main.c) and debugfs files (debugfs.c). */
unsigned int htable_reserve_amount = 200;	/* HTABLE_RESERVE_AMOUNT */
unsigned long htable_throttle_pages;		/* set at load: physmem / 256 */
bool htable_force_reserve;
unsigned long htable_ptable_cap;		/* most lower tables; 0: no cap */

static DEFINE_SPINLOCK(htable_reserve_lock);
static struct htable *htable_reserve_pool;	/* htable_reserve_lock */
unsigned int htable_reserve_cnt;		/* htable_reserve_lock */

atomic_long_t active_ptables = ATOMIC_LONG_INIT(0);

/**
 * USE_HAT_RESERVES() - must this allocation avoid the allocator?
 *
 * Return: true in reclaim or atomic context (see arch_must_not_allocate()),
 * or when the force_reserve test knob is set.
 */
bool USE_HAT_RESERVES(void)
{
	return READ_ONCE(htable_force_reserve) || arch_must_not_allocate();
}

/**
 * htable_put_reserve() - put a table structure (with no page) on the reserve
 * @ht:		the structure; its page must already be freed
 */
void htable_put_reserve(struct htable *ht)
{
	WARN_ON_ONCE(ht->ht_page);
	ht->ht_hat = NULL;
	spin_lock(&htable_reserve_lock);
	ht->ht_next = htable_reserve_pool;
	htable_reserve_pool = ht;
	htable_reserve_cnt++;
	spin_unlock(&htable_reserve_lock);
	HATSTAT_INC(hs_htable_rputs);
}

/**
 * htable_get_reserve() - take a table structure from the reserve
 *
 * Return: a structure with no page, or NULL when the reserve is empty.
 */
struct htable *htable_get_reserve(void)
{
	struct htable *ht;

	spin_lock(&htable_reserve_lock);
	ht = htable_reserve_pool;
	if (ht) {
		htable_reserve_pool = ht->ht_next;
		htable_reserve_cnt--;
	}
	spin_unlock(&htable_reserve_lock);
	if (ht) {
		WARN_ON_ONCE(ht->ht_page);
		HATSTAT_INC(hs_htable_rgets);
	}
	return ht;
}

/**
 * htable_initial_reserve() - fill the reserve up to @count structures
 * @count:	target size
 *
 * Context: process context; sleeps.
 * Return: 0, or -ENOMEM when the slab allocator fails (whatever was added
 * stays in the reserve and is freed by htable_drain_reserve()).
 */
int htable_initial_reserve(unsigned int count)
{
	struct htable *ht;

	while (READ_ONCE(htable_reserve_cnt) < count) {
		ht = kmem_cache_zalloc(htable_cache, GFP_KERNEL);
		if (!ht)
			return -ENOMEM;
		htable_put_reserve(ht);
	}
	return 0;
}

/**
 * htable_adjust_reserve() - free what the reserve holds beyond its amount
 *
 * Called after the tunable shrinks and by reaping, as in the seed.
 *
 * Return: structures freed.
 */
unsigned long htable_adjust_reserve(void)
{
	unsigned long n = 0;
	struct htable *ht;

	while (READ_ONCE(htable_reserve_cnt) > READ_ONCE(htable_reserve_amount)) {
		ht = htable_get_reserve();
		if (!ht)
			break;
		kmem_cache_free(htable_cache, ht);
		n++;
	}
	return n;
}

/** htable_drain_reserve() - free the whole reserve (module unload) */
void htable_drain_reserve(void)
{
	struct htable *ht;

	while ((ht = htable_get_reserve()) != NULL)
		kmem_cache_free(htable_cache, ht);
}

/**
 * ptable_alloc() - allocate a page-table page (or an order-1 pair)
 * @order:	0, or 1 for a top table (PTI wants its 8 KiB-aligned pair)
 *
 * Refused when free memory is at or below htable_throttle_pages, the
 * seed's throttlefree check: a table is a cache of translations, so below
 * that watermark htable steals from itself rather than pushing the system
 * into reclaim. As in the seed, a thread that is itself reclaiming is
 * exempt. The page comes zeroed from the allocator (the seed zeroes it
 * in htable_alloc(); arch_alloc_table() says why htable does not).
 * active_ptables counts the page only once the allocation
 * has succeeded (modern illumos fixed the seed's count-first bug).
 *
 * Context: may sleep unless called from atomic context, where it does not.
 * Return: the page, or NULL.
 */
struct page *ptable_alloc(unsigned int order)
{
	struct page *pg;

	if (!arch_in_reclaim() &&
	    arch_free_pages() <= READ_ONCE(htable_throttle_pages))
		return NULL;
	/*
	 * The ptable_cap knob: a ceiling on active_ptables (top tables
	 * included) that makes steals happen on demand. Top tables can't be
	 * stolen, so only lower tables are refused at the cap.
	 */
	if (!order && READ_ONCE(htable_ptable_cap) &&
	    atomic_long_read(&active_ptables) >= READ_ONCE(htable_ptable_cap))
		return NULL;
	if (htable_should_fail(HTABLE_FAIL_PTABLE))
		return NULL;
	pg = arch_alloc_table(order, arch_must_not_allocate());
	if (!pg)
		return NULL;
	atomic_long_inc(&active_ptables);
	HATSTAT_INC(hs_ptable_allocs);
	return pg;
}

/* The end of a table page's grace period: back to the system. */
static void ptable_free_rcu(struct rcu_head *head)
{
	arch_free_table(container_of(head, struct page, rcu_head), 0);
}

/**
 * ptable_free() - free a page-table page from ptable_alloc()
 * @pg:		the page; no CPU may still cache a translation through it
 * @order:	the order it was allocated with
 * @now:	free at once: the hat is being destroyed, so no lockless
 *		walker can be reading the table
 *
 * Otherwise the page goes back after an RCU grace period: a lockless walk
 * (htable_lookup_lockless()) that read the link to it before it was
 * unlinked may still read it, and must read a page table, not memory
 * someone else owns. A top table (order 1) is freed only with its hat.
 */
void ptable_free(struct page *pg, unsigned int order, bool now)
{
	atomic_long_dec(&active_ptables);
	HATSTAT_INC(hs_ptable_frees);
	if (now || order)
		arch_free_table(pg, order);
	else
		call_rcu(&pg->rcu_head, ptable_free_rcu);
}
