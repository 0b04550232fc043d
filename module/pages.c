// SPDX-License-Identifier: GPL-2.0
/*
 * What a mapping holds: page references, pins of user memory, and the
 * owner tag of the pages a hat allocates (include/htable/pages.h).
 *
 * The seed's hat sits under segment drivers that own the pages. Here the
 * hat is its own segment driver, and the record of a mapping is its leaf
 * entry: no per-page structure is written on the hot path, only what
 * Linux itself keeps for a page (its reference count). Pins are kept per
 * folio, in an xarray, so that mapping or unmapping pinned memory costs a
 * lookup per page, not a walk of every pin.
 */
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <htable/fail.h>
#include <htable/module.h>
#include <htable/pages.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

/*
 * References a folio may have before an alias of it is refused with
 * EOVERFLOW: far below the 2^31 that wraps a page's count, even with
 * concurrent aliases racing past the check. A debugfs knob lowers it, so
 * that a test reaches the limit.
 */
unsigned int htable_ref_limit = 1U << 30;

/* The low bits of the owner tag a hat's pages carry in their private field. */
#define HAT_TAG_MAGIC	0x4854UL

/**
 * hat_owner_tag() - what the pages @hat allocates carry in folio->private
 * @hat:	the hat
 *
 * Written when the page is allocated, never derived from an entry: CHECK
 * compares it (check.c). Ids are never reused, so neither are tags.
 *
 * Return: the tag.
 */
unsigned long hat_owner_tag(struct hat *hat)
{
	return (unsigned long)hat->hat_id << 16 | HAT_TAG_MAGIC;
}

/* The folio of @pfn and the pfn after it. */
static struct folio *pfn_folio_next(unsigned long pfn, unsigned long *next)
{
	struct folio *folio = page_folio(pfn_to_page(pfn));

	*next = folio_pfn(folio) + folio_nr_pages(folio);
	return folio;
}

/**
 * hat_pin_find() - the pin record of the folio of @pfn
 * @hat:	the hat
 * @pfn:	any pfn of the folio
 *
 * Return: the record, or NULL.
 */
struct hat_pin *hat_pin_find(struct hat *hat, unsigned long pfn)
{
	unsigned long next;

	return xa_load(&hat->hat_pins, folio_pfn(pfn_folio_next(pfn, &next)));
}

/* Give back the pin of @pin's folio, and its charge; @pin is gone. */
static void hat_unpin(struct hat *hat, struct hat_pin *pin)
{
	xa_erase(&hat->hat_pins, folio_pfn(page_folio(pin->page)));
	unpin_user_pages_dirty_lock(&pin->page, 1, pin->dirty);
	account_locked_vm(pin->mm, pin->npages, false);
	mmdrop(pin->mm);
	kfree(pin);
}

/*
 * hat_hold()'s work for a large page or pinned memory (include/htable/pages.h
 * has the contract): all or nothing over the folios the entry spans.
 */
int __hat_hold(struct hat *hat, x86pte_t pte, unsigned int level)
{
	unsigned long pfn = PTE2PFN(pte), end = pfn + PTE_NPAGES(level), next;
	unsigned int limit = READ_ONCE(htable_ref_limit);
	struct hat_pin *pin;
	struct folio *folio;

	/* A large page in one folio: one reference, looked up once. */
	if (!(pte & PT_PINNED)) {
		folio = pfn_folio_next(pfn, &next);
		if (next >= end) {
			if (folio_ref_count(folio) >= limit)
				return -EOVERFLOW;
			folio_get(folio);
			return 0;
		}
	}
	/* Check every folio first: all or nothing. */
	for (next = pfn; next < end;) {
		folio = pfn_folio_next(next, &next);
		if (pte & PT_PINNED) {
			if (WARN_ON_ONCE(!xa_load(&hat->hat_pins, folio_pfn(folio))))
				return -ENOENT;
		} else if (folio_ref_count(folio) >= limit) {
			return -EOVERFLOW;
		}
	}
	for (next = pfn; next < end;) {
		folio = pfn_folio_next(next, &next);
		if (pte & PT_PINNED) {
			pin = xa_load(&hat->hat_pins, folio_pfn(folio));
			pin->refs++;
			if (pte & PT_WRITABLE)
				pin->dirty = true;
		} else {
			folio_get(folio);
		}
	}
	return 0;
}

/**
 * hat_drop() - give back what an entry like @pte held
 * @hat:	the hat; its pin records are the caller's to change
 * @pte:	a leaf entry of level @level, no longer in any table, that no
 *		CPU can still reach (its shootdown is done, or it was never
 *		used: PT_REF clear)
 * @level:	the entry's level
 *
 * The page goes back to the system with its last reference; a pinned
 * folio's pin with its record's last count.
 */
void hat_drop(struct hat *hat, x86pte_t pte, unsigned int level)
{
	unsigned long pfn = PTE2PFN(pte), end = pfn + PTE_NPAGES(level), next;
	struct hat_pin *pin;
	struct folio *folio;

	for (next = pfn; next < end;) {
		folio = pfn_folio_next(next, &next);
		if (!(pte & PT_PINNED)) {
			folio_put(folio);
			continue;
		}
		pin = xa_load(&hat->hat_pins, folio_pfn(folio));
		if (WARN_ON_ONCE(!pin))
			continue;
		/* Written through the hat: the owner of the memory must know. */
		if (pte & PT_MOD)
			pin->dirty = true;
		if (!--pin->refs)
			hat_unpin(hat, pin);
	}
}

/**
 * hat_drop_stolen() - give back what a stolen entry held (UNMAP, close)
 * @hat:	the hat
 * @pte:	the stolen entry (a 4 KiB page; no CPU has it since its steal)
 */
void hat_drop_stolen(struct hat *hat, x86pte_t pte)
{
	hat_drop(hat, pte, 0);
}

/**
 * hat_gather_init() - start gathering the drops of one operation
 * @g:		the gather, on the caller's stack
 * @hat:	the hat
 * @b:		the operation's batch, whose shootdown the drops wait for
 */
void hat_gather_init(struct hat_gather *g, struct hat *hat,
		     struct htable_batch *b)
{
	g->hat = hat;
	g->b = b;
	g->n = 0;
}

/**
 * hat_gather_flush() - shoot down, then give back what was gathered
 * @g:		the gather; empty afterwards
 */
void hat_gather_flush(struct hat_gather *g)
{
	unsigned int i;

	if (!g->n)
		return;
	htable_batch_flush(g->b);
	for (i = 0; i < g->n; i++)
		hat_drop(g->hat, g->pte[i], g->level[i]);
	g->n = 0;
}

/* hat_gather_drop()'s work when the entry was used, is large or pinned. */
void __hat_gather_drop(struct hat_gather *g, x86pte_t pte, unsigned int level)
{
	if (!(pte & PT_REF)) {
		hat_drop(g->hat, pte, level);
		return;
	}
	if (g->n == HAT_GATHER)
		hat_gather_flush(g);
	g->pte[g->n] = pte;
	g->level[g->n++] = level;
}

/**
 * hat_fresh_page() - a zeroed page of @level's size for @hat
 * @hat:	the hat
 * @level:	0, or 1 for a 2 MiB compound page (1 GiB pages come only
 *		from pinned memory)
 *
 * Charged to the caller's memory cgroup. The page carries the hat's owner
 * tag; its allocation reference is the entry's.
 *
 * Return: the (head) page, or NULL.
 */
struct page *hat_fresh_page(struct hat *hat, unsigned int level)
{
	unsigned int order = level * HTABLE_PTE_SHIFT;
	struct page *pg;

	if (htable_should_fail(HTABLE_FAIL_PAGE))
		return NULL;
	/*
	 * Charged to the caller's memory cgroup; at its limit, or when
	 * memory is short, the MAP fails with ENOMEM instead of waking an
	 * OOM killer (__GFP_RETRY_MAYFAIL), which would kill the caller.
	 */
	pg = alloc_pages(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_ZERO |
			 __GFP_NOWARN | (order ? __GFP_COMP : 0), order);
	if (pg)
		page_folio(pg)->private = (void *)hat_owner_tag(hat);
	return pg;
}

/*
 * Count one more entry in the pin record of @page's folio, making the
 * record (with @page's pin, charged to the caller's locked_vm) or giving
 * back @page's pin when the record has one. @write: the entry is writable.
 */
static int hat_pin_count(struct hat *hat, struct page *page, bool write)
{
	struct folio *folio = page_folio(page);
	struct hat_pin *pin = xa_load(&hat->hat_pins, folio_pfn(folio));
	int err;

	if (pin) {
		pin->refs++;
		pin->dirty |= write;
		unpin_user_page(page);
		return 0;
	}
	pin = htable_fail_kzalloc(HTABLE_FAIL_UPIN, sizeof(*pin), HTABLE_GFP);
	if (!pin) {
		err = -ENOMEM;
		goto err_unpin;
	}
	/* RLIMIT_MEMLOCK, as for any driver that pins for long. */
	err = account_locked_vm(current->mm, folio_nr_pages(folio), true);
	if (err) {
		htable_bad_input("map: pinning %lu pages passes RLIMIT_MEMLOCK",
				 folio_nr_pages(folio));
		goto err_free;
	}
	pin->page = page;
	pin->mm = current->mm;
	pin->refs = 1;
	pin->npages = folio_nr_pages(folio);
	pin->dirty = write;
	err = htable_should_fail(HTABLE_FAIL_UPIN) ? -ENOMEM :
	      xa_err(xa_store(&hat->hat_pins, folio_pfn(folio), pin, HTABLE_GFP));
	if (err)
		goto err_account;
	mmgrab(pin->mm);
	return 0;

err_account:
	account_locked_vm(current->mm, folio_nr_pages(folio), false);
err_free:
	kfree(pin);
err_unpin:
	unpin_user_page(page);
	return err;
}

/**
 * hat_pin_user() - pin the caller's memory for the entries of a PIN map
 * @hat:	the hat; hat_seg_lock held for write
 * @uaddr:	the caller's address of the memory, aligned to @level's size
 * @npages:	4 KiB pages, a multiple of @level's
 * @level:	the page level of the entries
 * @write:	the entries are writable
 * @pfns:	out: the first pfn of each entry's memory
 *
 * Each entry gets a count in its folio's pin record. A large page must be
 * one physically contiguous run aligned to its size inside one folio (a
 * hugetlb page or a THP of at least that size).
 *
 * Return: 0; -EINVAL when the memory is not such a run; -ENOMEM (also at
 * RLIMIT_MEMLOCK); or pin_user_pages_fast()'s error. On error no count
 * was taken and no pin is held.
 */
int hat_pin_user(struct hat *hat, unsigned long uaddr, unsigned long npages,
		 unsigned int level, bool write, unsigned long *pfns)
{
	unsigned long unit = PTE_NPAGES(level), n = npages / unit, k, done = 0;
	struct page *pages[64];
	struct folio *folio;
	unsigned long pfn, end;
	long got, i;
	int err = 0;

	lockdep_assert_held_write(&hat->hat_seg_lock);
	while (done < n && !err) {
		/* 4 KiB entries in batches; a large one pins its first page. */
		k = level ? 1 : min_t(unsigned long, n - done, ARRAY_SIZE(pages));
		got = pin_user_pages_fast(uaddr + ((done * unit) << PAGE_SHIFT), k,
					  FOLL_WRITE | FOLL_LONGTERM, pages);
		if (got <= 0) {
			err = got ? got : -EFAULT;
			htable_bad_input("map: can't pin user memory at %#lx (%d)",
					 uaddr + ((done * unit) << PAGE_SHIFT), err);
			break;
		}
		for (i = 0; i < got; i++) {
			pfn = page_to_pfn(pages[i]);
			folio = page_folio(pages[i]);
			end = folio_pfn(folio) + folio_nr_pages(folio);
			if (level && ((pfn & (unit - 1)) || pfn + unit > end)) {
				htable_bad_input("map: %#lx is not one aligned %lu KiB user page",
						 uaddr, unit << (PAGE_SHIFT - 10));
				err = -EINVAL;
			}
			if (!err)
				err = hat_pin_count(hat, pages[i], write);
			else
				unpin_user_page(pages[i]);
			if (!err)
				pfns[done++] = pfn;
		}
		cond_resched();
	}
	if (err) {
		/* Undo the counts taken: drop them as an entry would. */
		for (k = 0; k < done; k++)
			hat_drop(hat, (pfns[k] << PAGE_SHIFT) | PT_VALID | PT_PINNED,
				 level);
	}
	return err;
}

/**
 * hat_pin_dirty() - note that pinned memory was written (RW, a window)
 * @hat:	the hat; its hat_seg_lock is held, for read at least
 * @pfn:	a pfn of a pinned folio
 *
 * Callers with the lock held for read may race here: each stores true.
 */
void hat_pin_dirty(struct hat *hat, unsigned long pfn)
{
	struct hat_pin *pin = hat_pin_find(hat, pfn);

	lockdep_assert_held(&hat->hat_seg_lock);
	if (pin)
		WRITE_ONCE(pin->dirty, true);
}
