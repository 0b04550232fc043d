// SPDX-License-Identifier: GPL-2.0
/*
 * Hat operations: hat_alloc/hat_free, hat_memload, hat_unload and
 * hat_probe, plus the segment layer. The seed's hat sits under segment
 * drivers that own the pages; here the hat keeps that record itself
 * (hat_pages: va -> page, one page reference per va), apart from the
 * entries, so a translation can be torn down and rebuilt without losing
 * its page.
 *
 * Every change runs under hat_seg_lock held for write, and is all or
 * nothing: a map that fails part-way undoes what it did before returning.
 */
#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include <htable/fail.h>
#include <htable/hat.h>
#include <htable/stats.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

static struct kmem_cache *hat_cache;
static atomic_t hat_next_id = ATOMIC_INIT(0);
atomic_t htable_nr_hats = ATOMIC_INIT(0);

DEFINE_SPINLOCK(htable_hat_list_lock);
LIST_HEAD(htable_hat_list);
DECLARE_WAIT_QUEUE_HEAD(htable_victim_wq);

/*
 * A record keeps the flags its page was mapped with as xarray marks, so a
 * stolen translation can be rebuilt exactly (hat_reload()).
 */
#define HAT_MARK_WRITE	XA_MARK_0
#define HAT_MARK_EXEC	XA_MARK_1
#define HAT_MARK_LOCK	XA_MARK_2

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
	init_rwsem(&hat->hat_seg_lock);
	spin_lock_init(&hat->hat_cache_lock);
	spin_lock_init(&hat->hat_switch_lock);
	INIT_LIST_HEAD(&hat->hat_list);
	xa_init(&hat->hat_pages);
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

/* Drop the records of [first, last] (page numbers), putting each page. */
static void hat_drop_records(struct hat *hat, unsigned long first,
			     unsigned long last)
{
	struct page *pg;
	unsigned long i;

	xa_for_each_range(&hat->hat_pages, i, pg, first, last) {
		xa_erase(&hat->hat_pages, i);
		put_page(pg);
		WRITE_ONCE(hat->hat_owned_pages, hat->hat_owned_pages - 1);
	}
}

/**
 * hat_free() - destroy a hat: every table, record and page it holds
 * @hat:	a hat live on no CPU, with no operation in progress
 */
void hat_free(struct hat *hat)
{
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
	WARN_ON_ONCE(hat->hat_owned_pages);
	xa_destroy(&hat->hat_pages);
	free_cpumask_var(hat->hat_cpus);
	atomic_dec(&htable_nr_hats);
	HATSTAT_INC(hs_hats_destroyed);
	kmem_cache_free(hat_cache, hat);
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

	lockdep_assert_held_write(&hat->hat_seg_lock);
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

/* The leaf entry hat_memload() installs for @pg. */
static x86pte_t hat_make_pte(struct page *pg, u32 flags)
{
	x86pte_t pte = arch_page_to_phys(pg) | PT_VALID;

	if (flags & HTABLE_MAP_WRITE)
		pte |= PT_WRITABLE;
	if (!(flags & HTABLE_MAP_EXEC))
		pte |= mmu.pt_nx;
	if (flags & HTABLE_MAP_LOCK)
		pte |= PT_SOFTLOCK;
	return pte;
}

/* Record the pages for a map: fresh ones, or references to alias pages. */
static int hat_record_pages(struct hat *hat, const struct htable_map *m)
{
	unsigned long first = m->va >> PAGE_SHIFT;
	unsigned long alias = m->alias_va >> PAGE_SHIFT;
	struct page *pg;
	unsigned long i;
	int err;

	for (i = 0; i < m->npages; i++) {
		if (m->flags & HTABLE_MAP_ALIAS) {
			pg = xa_load(&hat->hat_pages, alias + i % m->alias_npages);
			get_page(pg);
		} else {
			pg = htable_should_fail(HTABLE_FAIL_PAGE) ? NULL :
			     alloc_page(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
			if (!pg) {
				err = -ENOMEM;
				goto undo;
			}
		}
		err = htable_should_fail(HTABLE_FAIL_XARRAY) ? -ENOMEM :
		      xa_err(xa_store(&hat->hat_pages, first + i, pg, GFP_KERNEL));
		if (err) {
			put_page(pg);
			goto undo;
		}
		if (m->flags & HTABLE_MAP_WRITE)
			xa_set_mark(&hat->hat_pages, first + i, HAT_MARK_WRITE);
		if (m->flags & HTABLE_MAP_EXEC)
			xa_set_mark(&hat->hat_pages, first + i, HAT_MARK_EXEC);
		if (m->flags & HTABLE_MAP_LOCK)
			xa_set_mark(&hat->hat_pages, first + i, HAT_MARK_LOCK);
		WRITE_ONCE(hat->hat_owned_pages, hat->hat_owned_pages + 1);
	}
	return 0;
undo:
	if (i)
		hat_drop_records(hat, first, first + i - 1);
	return err;
}

/* Fill the entries of [va, eaddr) from the records, table by table. */
static int hat_map_ptes(struct hat *hat, unsigned long va, unsigned long eaddr,
			u32 flags, unsigned long *done, struct htable_batch *b)
{
	unsigned long tend;
	struct htable *ht;
	unsigned int e;
	struct page *pg;
	x86pte_t old;

	*done = va;
	while (va < eaddr) {
		ht = htable_create(hat, va, 0);
		if (!ht)
			return -ENOMEM;
		tend = min(eaddr, HTABLE_LAST_PAGE(ht) + 1);
		for (e = htable_va2entry(va, ht); va < tend; va += PAGE_SIZE, e++) {
			pg = xa_load(&hat->hat_pages, va >> PAGE_SHIFT);
			/* Counts first: a table never has more entries than it says. */
			atomic_inc(&ht->ht_valid_cnt);
			if (flags & HTABLE_MAP_LOCK)
				atomic_inc(&ht->ht_lock_cnt);
			old = x86pte_set(ht, e, hat_make_pte(pg, flags), b);
			if (WARN_ON_ONCE(old)) {
				/* The record said empty: the entry was not. */
				if (flags & HTABLE_MAP_LOCK)
					atomic_dec(&ht->ht_lock_cnt);
				atomic_dec(&ht->ht_valid_cnt);
			}
			*done = va + PAGE_SIZE;
		}
		htable_release(ht, b);
	}
	return 0;
}

/**
 * hat_memload() - map @m->npages pages at @m->va (validated by dev.c)
 * @hat:	the hat
 * @m:		the request
 *
 * Return: 0; -EEXIST when any page of the range is already the hat's;
 * -ENOENT when an alias source page is not; -ENOMEM when a page, a table
 * or a record can't be had. On error nothing has changed.
 */
int hat_memload(struct hat *hat, const struct htable_map *m)
{
	unsigned long first = m->va >> PAGE_SHIFT, last = first + m->npages - 1;
	unsigned long eaddr = m->va + (m->npages << PAGE_SHIFT), done, i;
	struct htable_batch b;
	int err;

	down_write(&hat->hat_seg_lock);
	i = first;
	if (xa_find(&hat->hat_pages, &i, last, XA_PRESENT)) {
		err = -EEXIST;
		goto out;
	}
	if (m->flags & HTABLE_MAP_ALIAS) {
		unsigned long a = m->alias_va >> PAGE_SHIFT;

		for (i = a; i < a + m->alias_npages; i++) {
			if (!xa_load(&hat->hat_pages, i)) {
				err = -ENOENT;
				goto out;
			}
		}
	}
	err = hat_record_pages(hat, m);
	if (err)
		goto out;

	htable_batch_init(&b, hat);
	err = hat_map_ptes(hat, m->va, eaddr, m->flags, &done, &b);
	if (err)
		hat_pte_unmap_range(hat, m->va, done, &b);
	htable_batch_finish(&b);
	if (err)
		hat_drop_records(hat, first, last);
out:
	up_write(&hat->hat_seg_lock);
	return err;
}

/**
 * hat_unload() - unmap @u->npages pages at @u->va (validated by dev.c)
 * @hat:	the hat
 * @u:		the request; @u->unmapped is set on success
 *
 * Locked mappings are unlocked and unmapped too. The pages are put only
 * after the shootdown, so no CPU can reach a page that was freed.
 *
 * Return: 0, or -ENOENT when the range has a hole (nothing changed).
 */
int hat_unload(struct hat *hat, struct htable_unmap *u)
{
	unsigned long first = u->va >> PAGE_SHIFT, last = first + u->npages - 1;
	unsigned long n = 0, i;
	struct htable_batch b;
	struct page *pg;

	down_write(&hat->hat_seg_lock);
	xa_for_each_range(&hat->hat_pages, i, pg, first, last)
		n++;
	if (n != u->npages) {
		up_write(&hat->hat_seg_lock);
		return -ENOENT;
	}
	htable_batch_init(&b, hat);
	hat_pte_unmap_range(hat, u->va, u->va + (u->npages << PAGE_SHIFT), &b);
	htable_batch_finish(&b);
	hat_drop_records(hat, first, last);
	up_write(&hat->hat_seg_lock);
	u->unmapped = n;
	return 0;
}

/**
 * hat_probe() - translate @p->va (hat_probe and hat_getpfnum in one)
 * @hat:	the hat
 * @p:		in: va; out: the rest of the fields
 */
void hat_probe(struct hat *hat, struct htable_probe *p)
{
	unsigned long va = p->va & PAGE_MASK;
	struct htable *ht;
	unsigned int e;
	x86pte_t pte;

	p->flags = 0;
	p->level = 0;
	p->pfn = 0;
	p->pte = 0;
	down_read(&hat->hat_seg_lock);
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
	up_read(&hat->hat_seg_lock);
}

/**
 * hat_info() - count a hat's tables and entries, from its hash
 * @hat:	the hat
 * @info:	out: every field
 */
void hat_info(struct hat *hat, struct htable_info *info)
{
	struct htable *ht;
	unsigned int h;

	memset(info, 0, sizeof(*info));
	info->levels = mmu.max_level + 1;
	down_read(&hat->hat_seg_lock);
	for (h = 0; h < hat->hat_num_hash; h++) {
		spin_lock(HTABLE_LOCK(h));
		for (ht = hat->hat_ht_hash[h]; ht; ht = ht->ht_next) {
			unsigned int valid = atomic_read(&ht->ht_valid_cnt);

			info->tables[ht->ht_level]++;
			info->valid[ht->ht_level] += valid;
			info->locked += atomic_read(&ht->ht_lock_cnt);
			if (ht->ht_level == 0)
				info->mapped_pages += valid;
		}
		spin_unlock(HTABLE_LOCK(h));
	}
	info->owned_pages = hat->hat_owned_pages;
	info->stolen = atomic_long_read(&hat->hat_stolen);
	spin_lock(&hat->hat_switch_lock);
	info->live_cpus = cpumask_bits(hat->hat_cpus)[0];
	spin_unlock(&hat->hat_switch_lock);
	spin_lock(&hat->hat_cache_lock);
	for (ht = hat->hat_ht_cached; ht; ht = ht->ht_next)
		info->cached++;
	spin_unlock(&hat->hat_cache_lock);
	up_read(&hat->hat_seg_lock);
}

/**
 * hat_rw() - copy between user memory and a page the hat owns
 * @hat:	the hat
 * @rw:		the validated request (within one page)
 *
 * Goes through the kernel's direct map of the recorded page, never through
 * the hat's tables, so tests can check what a window did independently.
 *
 * Return: 0; -ENOENT when the hat owns no page at @rw->va; -EFAULT.
 */
int hat_rw(struct hat *hat, const struct htable_rw *rw)
{
	void __user *buf = u64_to_user_ptr(rw->buf);
	struct page *pg;
	void *kva;
	int err = 0;

	down_read(&hat->hat_seg_lock);
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
	up_read(&hat->hat_seg_lock);
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
 */
void hat_pagesync(struct hat *hat, struct htable_sync *s)
{
	unsigned long va = s->va, eaddr = s->va + (s->npages << PAGE_SHIFT);
	struct htable *ht = NULL;
	struct htable_batch b;
	x86pte_t pte, found;
	unsigned int e;

	s->referenced = 0;
	s->modified = 0;
	htable_batch_init(&b, hat);
	down_write(&hat->hat_seg_lock);
	while (va < eaddr) {
		pte = htable_walk(hat, &ht, &va, eaddr, &b);
		if (!ht)
			break;
		e = htable_va2entry(va, ht);
		/* Count what is cleared: the MMU may set a bit until the swap. */
		while ((s->flags & HTABLE_SYNC_CLEAR) && (pte & (PT_REF | PT_MOD))) {
			found = x86pte_update(ht, e, pte, pte & ~(PT_REF | PT_MOD), &b);
			if (found == pte)
				break;
			pte = found;
		}
		if (pte & PT_REF)
			s->referenced++;
		if (pte & PT_MOD)
			s->modified++;
		va += LEVEL_SIZE(ht->ht_level);
	}
	if (ht)
		htable_release(ht, &b);
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	HATSTAT_INC(hs_ad_syncs);
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
 * Return: 0, or -ENOMEM when a table can't be had (the pages rebuilt so
 * far stay mapped: a reload only ever adds what the record already says).
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
	htable_batch_init(&b, hat);
	down_write(&hat->hat_seg_lock);
	xa_for_each_range(&hat->hat_pages, i, pg, first, first + r->npages - 1) {
		unsigned long va = i << PAGE_SHIFT;

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
			x86pte_set(ht, e, hat_make_pte(pg, flags), &b);
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
