/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a mapping holds (module/pages.c): the page references and the pins
 * behind the hat's present leaf entries and stolen records.
 *
 * A leaf entry without PT_PINNED holds one reference on each folio it
 * spans: a fresh page's allocation reference, or one taken for an alias or
 * a split. A PT_PINNED entry holds one count in the hat's pin record of
 * each folio it spans; the record holds the folio's one long-term pin
 * (FOLL_LONGTERM), charged to RLIMIT_MEMLOCK, and gives it back, marked
 * dirty when it was written, with its last count. Pages the hat allocates
 * carry its owner tag in their private field, which CHECK compares.
 */
#ifndef _HTABLE_PAGES_H
#define _HTABLE_PAGES_H

#include <linux/mm.h>

#include <htable/htable.h>
#include <htable/x86pte.h>

/* Most references a folio may have before an alias is refused. */
extern unsigned int htable_ref_limit;

/**
 * struct hat_pin - one folio of user memory pinned for HTABLE_MAP_PIN
 * @page:	the page pin_user_pages_fast() pinned: the folio's one pin
 * @mm:		the mm whose locked_vm counts it (a reference held)
 * @refs:	entries and stolen records that name the folio
 * @npages:	pages charged to @mm's locked_vm: the folio's
 * @dirty:	a mapping of it was writable, or RW wrote it: the pin is
 *		given back with the page marked dirty
 *
 * A record changes, and is made and freed, under its hat's hat_seg_lock
 * held for write, except @dirty: RW and a verify window set it with the
 * lock held for read and a claim, and two of them may set it at once
 * (hat_pin_dirty()).
 */
struct hat_pin {
	struct page		*page;
	struct mm_struct	*mm;
	unsigned long		refs;
	unsigned long		npages;
	bool			dirty;
};

/*
 * Drops of entries the MMU may have cached: they wait for the operation's
 * shootdown (hat_gather_flush()), because the page must not be freed
 * while a CPU can still reach it.
 */
#define HAT_GATHER	64

struct hat_gather {
	struct hat		*hat;
	struct htable_batch	*b;
	unsigned int		n;
	x86pte_t		pte[HAT_GATHER];
	u8			level[HAT_GATHER];
};

int __hat_hold(struct hat *hat, x86pte_t pte, unsigned int level);
void hat_drop(struct hat *hat, x86pte_t pte, unsigned int level);
void hat_drop_stolen(struct hat *hat, x86pte_t pte);
void hat_gather_init(struct hat_gather *g, struct hat *hat,
		     struct htable_batch *b);
void __hat_gather_drop(struct hat_gather *g, x86pte_t pte, unsigned int level);
void hat_gather_flush(struct hat_gather *g);

/**
 * hat_hold() - take what one more entry like @pte holds
 * @hat:	the hat; its pin records are the caller's to change (see
 *		struct hat)
 * @pte:	a leaf entry of level @level, or a stolen one
 * @level:	the entry's level
 *
 * For an alias or a split: a reference on each folio the entry spans, or,
 * with PT_PINNED, one count in each one's pin record. Inline for the
 * common case, a 4 KiB page that is not pinned, which MAP of aliases
 * takes once per page (__hat_hold() does the rest).
 *
 * Return: 0; -EOVERFLOW (nothing taken) when a folio has htable_ref_limit
 * references already; -ENOENT (WARNed) when a pinned folio has no record.
 */
static inline int hat_hold(struct hat *hat, x86pte_t pte, unsigned int level)
{
	struct folio *folio;

	if (level || (pte & PT_PINNED))
		return __hat_hold(hat, pte, level);
	folio = page_folio(pfn_to_page(PTE2PFN(pte)));
	if (folio_ref_count(folio) >= READ_ONCE(htable_ref_limit))
		return -EOVERFLOW;
	folio_get(folio);
	return 0;
}

/**
 * hat_gather_drop() - give back what a cleared entry held, when safe
 * @g:		the gather
 * @pte:	the entry as it was cleared (x86pte_inval())
 * @level:	its level
 *
 * An entry the MMU never used (PT_REF clear) is in no TLB: it is given
 * back at once. One it used waits for the shootdown, which the gather
 * forces when it is full (__hat_gather_drop()). Inline for the common
 * case, one unused 4 KiB page that is not pinned.
 */
static inline void hat_gather_drop(struct hat_gather *g, x86pte_t pte,
				   unsigned int level)
{
	if (!level && !(pte & (PT_REF | PT_PINNED)))
		folio_put(page_folio(pfn_to_page(PTE2PFN(pte))));
	else
		__hat_gather_drop(g, pte, level);
}

unsigned long hat_owner_tag(struct hat *hat);
struct page *hat_fresh_page(struct hat *hat, unsigned int level);
int hat_pin_user(struct hat *hat, unsigned long uaddr, unsigned long npages,
		 unsigned int level, bool write, unsigned long *pfns);
void hat_pin_dirty(struct hat *hat, unsigned long pfn);
struct hat_pin *hat_pin_find(struct hat *hat, unsigned long pfn);

#endif /* _HTABLE_PAGES_H */
