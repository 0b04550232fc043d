/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page-table entries: their bits, and the x86pte_* operations, the only
 * code that reads or writes an entry (module/x86pte.c).
 */
#ifndef _HTABLE_X86PTE_H
#define _HTABLE_X86PTE_H

#include <linux/compiler.h>

#include <htable/arch.h>
#include <htable/htable.h>
#include <htable/tlb.h>

struct htable_batch;

/* Entry bits, named as in the seed. */
#define PT_VALID	((x86pte_t)_PAGE_PRESENT)
#define PT_WRITABLE	((x86pte_t)_PAGE_RW)
#define PT_USER		((x86pte_t)_PAGE_USER)
#define PT_REF		((x86pte_t)_PAGE_ACCESSED)
#define PT_MOD		((x86pte_t)_PAGE_DIRTY)
#define PT_PAGESIZE	((x86pte_t)_PAGE_PSE)
#define PT_GLOBAL	((x86pte_t)_PAGE_GLOBAL)
#define PT_NX		((x86pte_t)_PAGE_NX)
/*
 * Bits 9, 10 and 11 are ignored by the MMU at every level. The entry is
 * the record of its mapping (design.rst, "Per-mapping state"), and these
 * bits hold what the MMU does not need:
 *
 *   PT_SOFTLOCK	(leaf) a locked mapping: the seed keeps that in the
 *			hment; here the entry says so, which lets the
 *			checker count ht_lock_cnt independently
 *   PT_PINNED		(leaf) the page is user memory pinned for
 *			HTABLE_MAP_PIN: the entry counts in the hat's pin
 *			record of its folio instead of holding a reference
 *			on the page (module/pages.c)
 *   PT_SHARELINK	(link) the link leads to a table another hat owns and
 *			shares into this one: what it maps is not this hat's
 */
#define PT_SOFTLOCK	((x86pte_t)_PAGE_SOFTW1)
#define PT_PINNED	((x86pte_t)_PAGE_SOFTW2)
#define PT_SHARELINK	((x86pte_t)_PAGE_SOFTW3)
#define PT_PADDR	((x86pte_t)PTE_PFN_MASK)

static inline bool PTE_ISVALID(x86pte_t pte)
{
	return pte & PT_VALID;
}

/* Does entry @pte of a level-@level table map a page (not link a table)? */
static inline bool PTE_ISPAGE(x86pte_t pte, unsigned int level)
{
	return PTE_ISVALID(pte) && (level == 0 || (pte & PT_PAGESIZE));
}

static inline unsigned long PTE2PFN(x86pte_t pte)
{
	return (pte & PT_PADDR) >> PAGE_SHIFT;
}

/*
 * Pointer to entry @index of @ht's table. Linux keeps every page in the
 * direct map, so unlike the seed's per-CPU window this needs no mapin or
 * mapout and no preemption control: it is the seed's kpm path.
 */
static inline x86pte_t *x86pte_access_pagetable(struct htable *ht,
						unsigned int index)
{
	return arch_table_va(ht->ht_page) + index;
}

/* One entry, read in one access (the MMU may be setting A/D meanwhile). */
static inline x86pte_t x86pte_get(struct htable *ht, unsigned int entry)
{
	return READ_ONCE(*x86pte_access_pagetable(ht, entry));
}

void htable_mmu_init(void);
x86pte_t x86pte_cas(struct htable *ht, unsigned int entry, x86pte_t old,
		    x86pte_t new);

/*
 * Fill an empty entry of a table the caller holds. Nobody else writes it:
 * the caller's claim (or hat_seg_lock) covers the va, and the MMU writes no
 * bit of an entry that is not present but a stray A, which @new replaces
 * (see link_ptp()). One store: a walker sees the old or the new entry.
 */
static inline void x86pte_install(struct htable *ht, unsigned int entry,
				  x86pte_t new)
{
	WRITE_ONCE(*x86pte_access_pagetable(ht, entry), new);
}

x86pte_t x86pte_inval(struct htable *ht, unsigned int entry, x86pte_t expect,
		      struct htable_batch *b);

/**
 * x86pte_clear() - clear an entry, whatever it maps
 * @ht:		the table; the caller holds a busy reference
 * @entry:	entry number
 * @b:		batch that receives the invalidation
 *
 * x86pte_inval() with no expected page, inline for UNMAP's loop: one
 * exchange clears a present entry and returns it with the A and D bits
 * the MMU set meanwhile, as Linux's ptep_get_and_clear() does. Only an
 * entry the MMU used (PT_REF) can be in a TLB, so only its va is queued.
 *
 * Return: the entry as it was.
 */
static inline x86pte_t x86pte_clear(struct htable *ht, unsigned int entry,
				    struct htable_batch *b)
{
	x86pte_t *ptep = x86pte_access_pagetable(ht, entry);
	x86pte_t old = READ_ONCE(*ptep);

	if (!PTE_ISVALID(old))
		return old;
	old = xchg(ptep, 0);
	if (PTE_ISVALID(old) && (old & PT_REF))
		htable_batch_inval(b, htable_e2va(ht, entry));
	return old;
}

x86pte_t x86pte_update(struct htable *ht, unsigned int entry, x86pte_t expect,
		       x86pte_t new, struct htable_batch *b);
void x86pte_copy_raw(struct htable *dest, unsigned int entry,
		     const x86pte_t *src, unsigned int count);

/* A link to a lower table: never User, never Global, never NX. */
static inline x86pte_t MAKEPTP(struct page *table)
{
	return arch_page_to_phys(table) | PT_VALID | PT_WRITABLE | PT_REF | PT_MOD;
}

/* The link that leads to @ht, marked when @ht is another hat's, shared. */
static inline x86pte_t htable_link_pte(struct htable *ht)
{
	return MAKEPTP(ht->ht_page) |
	       (ht->ht_flags & HTABLE_SHARED ? PT_SHARELINK : 0);
}

/* Pages of 4 KiB an entry of a level-@level table maps. */
static inline unsigned long PTE_NPAGES(unsigned int level)
{
	return 1UL << (level * HTABLE_PTE_SHIFT);
}

#endif /* _HTABLE_X86PTE_H */
