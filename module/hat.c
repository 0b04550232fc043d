// SPDX-License-Identifier: GPL-2.0
/*
 * The hat: one open of /dev/htable, its life (hat_alloc/hat_free), and the
 * operations that only read it: hat_probe() (lock-free), hat_info() and
 * hat_rw(). The operations that change translations are in map.c and
 * unmap.c, range claims in claim.c, sharing in share.c, what a mapping holds in pages.c.
 */
#include <linux/atomic.h>
#include <linux/lockdep.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <htable/claim.h>
#include <htable/fail.h>
#include <htable/hat.h>
#include <htable/pages.h>
#include <htable/share.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/unmap.h>
#include <htable/x86pte.h>

static struct kmem_cache *hat_cache;
static atomic_t hat_next_id = ATOMIC_INIT(0);
atomic_t htable_nr_hats = ATOMIC_INIT(0);

/**
 * hat_alloc() - create an empty address space
 *
 * Its structures are charged to the caller's memory cgroup, and the hat
 * keeps a reference on that cgroup for what it must charge later, outside
 * the caller's context (a steal's records).
 *
 * Context: process context; sleeps.
 * Return: the hat, or NULL when memory is short.
 */
struct hat *hat_alloc(void)
{
	struct hat *hat;

	if (htable_should_fail(HTABLE_FAIL_HAT))
		return NULL;
	hat = kmem_cache_zalloc(hat_cache, HTABLE_GFP);
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
	INIT_LIST_HEAD(&hat->hat_shared_out);
	INIT_LIST_HEAD(&hat->hat_stays);
	xa_init_flags(&hat->hat_stolen_ptes, XA_FLAGS_ACCOUNT);
	xa_init_flags(&hat->hat_pins, XA_FLAGS_ACCOUNT);
	xa_init(&hat->hat_shares);
	hat->hat_id = atomic_inc_return(&hat_next_id);
	hat->hat_pid = task_tgid_nr(current);
	if (htable_should_fail(HTABLE_FAIL_CPUMASK) ||
	    !zalloc_cpumask_var(&hat->hat_cpus, HTABLE_GFP))
		goto err_free;
	if (htable_hat_init(hat))
		goto err_cpus;
	hat->hat_memcg = get_mem_cgroup_from_mm(current->mm);

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

/**
 * hat_get() - take a reference on @hat: its structure stays until hat_put()
 * @hat:	a hat the caller knows is alive (its file, the share mutex, or
 *		the hat_seg_lock of a hat that shares its tables)
 */
void hat_get(struct hat *hat)
{
	refcount_inc(&hat->hat_refs);
}

/**
 * hat_put() - drop a reference; the last one frees the structure
 * @hat:	the hat, torn down already by hat_free() when it is the last
 */
void hat_put(struct hat *hat)
{
	if (!refcount_dec_and_test(&hat->hat_refs))
		return;
	free_cpumask_var(hat->hat_cpus);
	kmem_cache_free(hat_cache, hat);
}

/**
 * hat_free() - destroy a hat: every table, page and pin it holds
 * @hat:	a hat live on no CPU, with no operation in progress
 *
 * Drops the reference its file held. Another closing or unsharing hat may
 * still hold one, waiting for this hat's lock: the structure goes with
 * the last reference (hat_put()), everything else goes here.
 */
void hat_free(struct hat *hat)
{
	/* No new sharer can come: the owner's file can no longer be had. */
	bool had_sharers = atomic_read(&hat->hat_nsharers);

	hat_unshare_all(hat);
	/*
	 * A sharer's lockless PROBE that read its link to one of our tables
	 * before the detach may still be reading that table: the tables
	 * below are freed at once, so let such walks end first.
	 */
	if (had_sharers)
		synchronize_rcu();
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

	/* What the entries and stolen records hold, then the tables. */
	hat_drop_all(hat);
	WARN_ON_ONCE(!xa_empty(&hat->hat_pins));
	htable_hat_fini(hat);
	xa_destroy(&hat->hat_stolen_ptes);
	xa_destroy(&hat->hat_pins);
	xa_destroy(&hat->hat_shares);
	mem_cgroup_put(hat->hat_memcg);
	atomic_dec(&htable_nr_hats);
	HATSTAT_INC(hs_hats_destroyed);
	hat_put(hat);
}

/**
 * hat_probe() - translate @va (hat_probe and hat_getpfnum in one)
 * @hat:	the hat
 * @va:		any va of the lower half
 * @x:		out: what maps it
 *
 * No lock, no claim, no hash: a walk of the raw tables from the top under
 * RCU (htable_lookup_lockless()), as Linux's lookup_address() walks, and
 * for a page with no translation, one look in the stolen records. A page
 * reached through a table shared from another hat is not this hat's.
 * Against a concurrent MAP or UNMAP of @va, it sees the entry before or
 * after, as the MMU would.
 */
void hat_probe(struct hat *hat, unsigned long va, struct hat_xlat *x)
{
	bool shared, stolen = false;

	rcu_read_lock();
	x->pte = htable_lookup_lockless(hat, va, &x->level, &shared);
	if (!x->pte) {
		/* A steal records the entry before it clears it. */
		smp_rmb();
		stolen = htable_stolen_pte(hat, va);
		if (!stolen) {
			/*
			 * RELOAD goes the other way: it sets the entry, then
			 * erases the record. Having missed both, look at the
			 * entry again: a RELOAD that erased the record has set
			 * it by now.
			 */
			smp_rmb();
			x->pte = htable_lookup_lockless(hat, va, &x->level, &shared);
		}
	}
	x->present = x->pte;
	x->owned = x->present ? !shared : stolen;
	rcu_read_unlock();
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
int hat_info(struct hat *hat, struct hat_info *info)
{
	struct htable *ht;
	unsigned int h;

	memset(info, 0, sizeof(*info));
	info->levels = mmu.max_level + 1;
	if (down_read_killable(&hat->hat_seg_lock))
		return -EINTR;
	for (h = 0; h < hat->hat_num_hash; h++) {
		spin_lock(HTABLE_LOCK(hat, h));
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
				info->mapped_pages += hat_count_lpages(ht) *
						      PTE_NPAGES(ht->ht_level);
		}
		spin_unlock(HTABLE_LOCK(hat, h));
		cond_resched();
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
 * @va:		any va; [va, va + len) lies in one page
 * @buf:	the user buffer
 * @len:	bytes, 1..4096
 * @write:	copy from @buf into the page
 *
 * Goes through the kernel's direct map of the page the entry (or the
 * stolen record) names, never through the hat's tables, so tests can
 * check what a window did independently. Writing pinned memory marks its
 * pin dirty.
 *
 * Return: 0; -ENOENT when the hat owns no page at @va; -EFAULT; -EINTR
 * when a fatal signal ended the wait for the claim.
 */
int hat_rw(struct hat *hat, unsigned long va, void __user *buf,
	   unsigned int len, bool write)
{
	struct hat_range c = HAT_RANGE_READS(va >> PAGE_SHIFT, va >> PAGE_SHIFT);
	struct hat_xlat x;
	x86pte_t pte;
	void *kva;
	int err;

	/*
	 * The claim keeps an UNMAP from giving back the page under the copy;
	 * hat_seg_lock, held for read, keeps steals and pin changes out.
	 */
	if (hat_range_begin(hat, &c, false))
		return -EINTR;
	hat_probe(hat, va, &x);
	pte = x.present ? x.pte : htable_stolen_pte(hat, va);
	if (!x.owned || !pte) {
		err = -ENOENT;
		goto out;
	}
	kva = page_address(pfn_to_page(PTE2PFN(pte) +
				       ((va & LEVEL_OFFSET(x.present ? x.level : 0)) >>
					PAGE_SHIFT))) + offset_in_page(va);
	if (write) {
		err = copy_from_user(kva, buf, len) ? -EFAULT : 0;
		if (pte & PT_PINNED)
			hat_pin_dirty(hat, PTE2PFN(pte));
	} else {
		err = copy_to_user(buf, kva, len) ? -EFAULT : 0;
	}
out:
	hat_range_end(hat, &c, false);
	return err;
}

/** hat_init() - create the hat slab cache */
int hat_init(void)
{
	hat_cache = KMEM_CACHE(hat, SLAB_ACCOUNT);
	return hat_cache ? 0 : -ENOMEM;
}

/** hat_fini() - destroy the hat slab cache; every hat is gone */
void hat_fini(void)
{
	kmem_cache_destroy(hat_cache);
}
