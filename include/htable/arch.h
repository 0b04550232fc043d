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
#include <linux/smp.h>
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

/*
 * Pages for page tables: 2^@order of them, zeroed, charged to the
 * caller's memory cgroup (__GFP_ACCOUNT), as Linux charges its own user
 * page tables. They never wake an OOM killer: htable steals instead.
 * The allocator clears them: with init_on_alloc (Debian's default) it
 * clears every page anyway, so a memset() of ours would be a second one.
 */
static inline struct page *arch_alloc_table(unsigned int order, bool atomic)
{
	gfp_t gfp = __GFP_ZERO | __GFP_NOWARN |
		    (atomic ? GFP_NOWAIT | __GFP_ACCOUNT :
			      GFP_KERNEL_ACCOUNT | __GFP_NORETRY);

	return alloc_pages(gfp, order);
}

static inline void arch_free_table(struct page *pg, unsigned int order)
{
	__free_pages(pg, order);
}

/* Does the CPU support no-execute (so that PT_NX may be set)? */
static inline bool arch_has_nx(void)
{
	return __supported_pte_mask & _PAGE_NX;
}

/* Does the CPU map 1 GiB pages (pdpe1gb)? */
static inline bool arch_has_gbpages(void)
{
	return boot_cpu_has(X86_FEATURE_GBPAGES);
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

/* True while the caller is reclaiming memory (the seed's NOMEMWAIT()). */
static inline bool arch_in_reclaim(void)
{
	return current->flags & PF_MEMALLOC;
}

static inline void arch_invlpg(unsigned long va)
{
	asm volatile("invlpg (%0)" : : "r" (va) : "memory");
}

/* Drop this CPU's non-global translations of the current address space. */
static inline void arch_flush_tlb_local(void)
{
	write_cr3(__read_cr3());
}

/* Run @fn(@arg) on each CPU of @cpus, this one included, and wait. */
static inline void arch_call_on_cpus(const struct cpumask *cpus,
				     smp_call_func_t fn, void *arg)
{
	on_each_cpu_mask(cpus, fn, arg, true);
}

/* Physical address of the page table that CR3 points at on this CPU. */
static inline u64 arch_cr3_table(void)
{
	return __read_cr3() & CR3_ADDR_MASK;
}

/* CR3 as loaded on this CPU (bit 63 always reads as 0). */
static inline u64 arch_read_cr3(void)
{
	return __read_cr3();
}

static inline void arch_write_cr3(u64 cr3)
{
	write_cr3(cr3);
}

/* Is CR4.PCIDE set on this CPU? (Never under QEMU TCG.) */
static inline bool arch_pcide(void)
{
	return boot_cpu_has(X86_FEATURE_PCID) && (__read_cr4() & X86_CR4_PCIDE);
}

/* The running kernel's top table, whose upper half every hat borrows. */
static inline const x86pte_t *arch_kernel_top_table(void)
{
	return __va(arch_cr3_table());
}

#endif /* _HTABLE_ARCH_H */
