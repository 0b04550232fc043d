// SPDX-License-Identifier: GPL-2.0
/*
 * x86pte_*: every read and write of a page-table entry. Entries are 64-bit
 * and naturally aligned, so READ_ONCE/WRITE_ONCE are single accesses and
 * cmpxchg64 is the atomic update; the MMU may set A/D bits concurrently,
 * which is why every change of a live entry is a compare-and-swap loop.
 */
#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/string.h>

#include <htable/htable.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

/* The paging geometry of the running kernel: levels and their shifts. */
struct htable_mmu mmu;

/** htable_mmu_init() - record the running kernel's paging geometry */
void htable_mmu_init(void)
{
	unsigned int l;

	mmu.max_level = arch_paging_levels() - 1;
	mmu.max_page_level = arch_has_gbpages() ? 2 : 1;
	for (l = 0; l < MAX_NUM_LEVEL; l++)
		mmu.level_shift[l] = PAGE_SHIFT + l * HTABLE_PTE_SHIFT;
	/* The lower half ends where the top level's sign bit starts. */
	mmu.hole_start = 1UL << (LEVEL_SHIFT(mmu.max_level) + HTABLE_PTE_SHIFT - 1);
	mmu.hole_end = -mmu.hole_start - 1;
	mmu.pt_nx = arch_has_nx() ? PT_NX : 0;
}

/**
 * x86pte_cas() - compare-and-swap one entry, with no TLB work
 * @ht:		the table
 * @entry:	entry number
 * @old:	expected value
 * @new:	replacement
 *
 * For links between tables, which are created with REF and MOD already set
 * so the MMU never changes them.
 *
 * Return: the value found (equal to @old on success).
 */
x86pte_t x86pte_cas(struct htable *ht, unsigned int entry, x86pte_t old,
		    x86pte_t new)
{
	return cmpxchg64(x86pte_access_pagetable(ht, entry), old, new);
}

/**
 * x86pte_inval() - clear an entry if it maps what @expect maps
 * @ht:		the table; the caller holds a busy reference
 * @entry:	entry number
 * @expect:	0 to clear whatever is there, else an entry whose page must
 *		still be the one mapped
 * @b:		batch that receives the invalidation
 *
 * The seed cross-calls here for each entry; this queues the va so that the
 * operation sends one shootdown for all of its entries.
 *
 * Return: the entry as it was when cleared (with the final REF/MOD bits
 * the MMU set), or the non-matching entry left in place.
 */
x86pte_t x86pte_inval(struct htable *ht, unsigned int entry, x86pte_t expect,
		      struct htable_batch *b)
{
	x86pte_t *ptep = x86pte_access_pagetable(ht, entry);
	x86pte_t old = READ_ONCE(*ptep), found;

	if (!expect)
		return x86pte_clear(ht, entry, b);
	/* Only while it maps @expect's page; A or D set meanwhile: again. */
	for (;;) {
		if (!PTE_ISVALID(old) || (old & PT_PADDR) != (expect & PT_PADDR))
			return old;
		found = cmpxchg64(ptep, old, 0);
		if (found == old)
			break;
		old = found;
	}
	if (old & PT_REF)
		htable_batch_inval(b, htable_e2va(ht, entry));
	return old;
}

/**
 * x86pte_update() - change an entry if it still equals @expect
 * @ht:		the table; the caller holds a busy reference
 * @entry:	entry number
 * @expect:	the value the caller read
 * @new:	a present replacement
 * @b:		batch used to flush synchronously
 *
 * When write permission and MOD are both being cleared, a CPU may still
 * write through a stale writable TLB entry until the flush completes. So
 * the flush is done here, now, and if MOD appeared meanwhile the entry gets
 * write permission back and the update is reported as failed (as in the
 * seed).
 *
 * Return: @expect on success, else the value found.
 */
x86pte_t x86pte_update(struct htable *ht, unsigned int entry, x86pte_t expect,
		       x86pte_t new, struct htable_batch *b)
{
	x86pte_t *ptep = x86pte_access_pagetable(ht, entry);
	x86pte_t found;

	if (WARN_ON_ONCE(!PTE_ISVALID(new)))
		return READ_ONCE(*ptep);
	found = cmpxchg64(ptep, expect, new);
	if (found != expect)
		return found;

	htable_batch_inval(b, htable_e2va(ht, entry));
	if ((expect & (PT_WRITABLE | PT_MOD)) == PT_WRITABLE &&
	    !(new & (PT_WRITABLE | PT_MOD))) {
		htable_batch_flush(b);
		if (READ_ONCE(*ptep) & PT_MOD) {
			do {
				found = READ_ONCE(*ptep);
			} while (cmpxchg64(ptep, found, found | PT_WRITABLE) != found);
			return found | PT_WRITABLE;
		}
	}
	return expect;
}

/**
 * x86pte_copy_raw() - copy @count entries from @src into @dest at @entry
 * @dest:	destination table
 * @entry:	first entry
 * @src:	entries from a table htable does not own (the kernel's)
 * @count:	entries to copy
 *
 * Each entry is one 64-bit store, so a CPU walking @dest sees either the
 * old or the new entry, never a torn one. Used to give a hat's top table
 * the kernel half of the running kernel's, which never changes under it.
 */
void x86pte_copy_raw(struct htable *dest, unsigned int entry,
		     const x86pte_t *src, unsigned int count)
{
	x86pte_t *d = x86pte_access_pagetable(dest, entry);
	unsigned int i;

	for (i = 0; i < count; i++)
		WRITE_ONCE(d[i], READ_ONCE(src[i]));
}
