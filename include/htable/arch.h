/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The arch seam: the only kernel services the htable core (htable.c,
 * walk.c, reserve.c, x86pte.c, tlb.c) uses, as small inlines. A user-space
 * twin of this header over fake page-table memory lets the same core build
 * on the host.
 */
#ifndef _HTABLE_ARCH_H
#define _HTABLE_ARCH_H

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/vmstat.h>
#include <asm/io.h>
#include <asm/pgtable.h>
#include <asm/tlbflush.h>

/* x86-64: every table, at every level, holds 512 eight-byte entries. */
#define HTABLE_PTES_PER_TABLE	512
#define HTABLE_PTE_SHIFT	9

typedef u64 x86pte_t;

/* Paging depth of the running kernel: 5 with LA57, else 4. */
static inline unsigned int arch_paging_levels(void)
{
	return pgtable_l5_enabled() ? 5 : 4;
}

/* The kernel's direct-map address of a page-table page. */
static inline x86pte_t *arch_table_va(struct page *pg)
{
	return page_address(pg);
}

static inline u64 arch_page_to_phys(struct page *pg)
{
	return page_to_phys(pg);
}

static inline struct page *arch_pfn_to_page(unsigned long pfn)
{
	return pfn_valid(pfn) ? pfn_to_page(pfn) : NULL;
}

/* Free pages now, for ptable_alloc()'s throttle. */
static inline unsigned long arch_free_pages(void)
{
	return global_zone_page_state(NR_FREE_PAGES);
}

/*
 * True when the caller must not re-enter the page allocator: it is
 * reclaiming (PF_MEMALLOC, so a shrinker of ours may be what called it),
 * or not in task context, or has interrupts off. This is the Linux reading
 * of the seed's USE_HAT_RESERVES(). Holding a spinlock is not tested for:
 * the lock rules forbid allocating under one, and might_sleep() in the
 * allocator catches a breach.
 */
static inline bool arch_must_not_allocate(void)
{
	return (current->flags & PF_MEMALLOC) || !in_task() || irqs_disabled();
}

static inline void arch_invlpg(unsigned long va)
{
	asm volatile("invlpg (%0)" : : "r" (va) : "memory");
}

/* Physical address of the page table that CR3 points at on this CPU. */
static inline u64 arch_cr3_table(void)
{
	return __read_cr3() & CR3_ADDR_MASK;
}

#endif /* _HTABLE_ARCH_H */
