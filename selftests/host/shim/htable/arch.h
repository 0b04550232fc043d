/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-space twin of include/htable/arch.h: the same seam over fake
 * page-table memory (selftests/host/shim/shim.c). Found first on the host
 * build's include path, so the core's #include <htable/arch.h> lands here.
 * The fake machine is steered through the shim_* knobs below, and it
 * records every TLB operation, so a test can assert what was flushed where.
 */
#ifndef _HTABLE_ARCH_H
#define _HTABLE_ARCH_H

#include "../shim.h"

/* x86-64: every table, at every level, holds 512 eight-byte entries. */
#define HTABLE_PTES_PER_TABLE	512
#define HTABLE_PTE_SHIFT	9

typedef u64 x86pte_t;

/* The x86 entry bits (arch/x86/include/asm/pgtable_types.h). */
#define _PAGE_PRESENT	0x001ULL
#define _PAGE_RW	0x002ULL
#define _PAGE_USER	0x004ULL
#define _PAGE_ACCESSED	0x020ULL
#define _PAGE_DIRTY	0x040ULL
#define _PAGE_PSE	0x080ULL
#define _PAGE_GLOBAL	0x100ULL
#define _PAGE_SOFTW1	0x200ULL
#define _PAGE_SOFTW2	0x400ULL
#define _PAGE_SOFTW3	0x800ULL
#define _PAGE_NX	(1ULL << 63)
#define PTE_PFN_MASK	0x000ffffffffff000ULL

/* Invalidations the shim remembers, in order (each CPU's INVLPG or flush). */
#define SHIM_INV_LOG	1024
#define SHIM_FLUSH_ALL	(~0UL)

/* The fake machine: knobs a test sets (shim_reset() restores them). */
struct shim_machine {
	unsigned int levels;		/* 4 or 5 */
	bool nx, gbpages;
	bool atomic_ctx;		/* arch_must_not_allocate() */
	bool reclaim;			/* arch_in_reclaim() */
	unsigned long free_pages;	/* arch_free_pages() */
	long table_pages_left;		/* < 0: unlimited; else pages allowed */
	long table_pages;		/* table pages allocated, not freed */
	u64 cr3[SHIM_NR_CPUS];		/* the table each fake CPU runs on */
	/* TLB record */
	unsigned long ipi_rounds;	/* arch_call_on_cpus() calls */
	unsigned long ipi_cpus;		/* CPUs called, summed */
	unsigned long invlpgs;		/* arch_invlpg() calls */
	unsigned long flushes;		/* arch_flush_tlb_local() calls */
	unsigned long last_invlpg;	/* va of the last arch_invlpg() */
	struct cpumask invlpg_cpus;	/* CPUs that ran an invlpg or flush */
	struct {
		unsigned int cpu;
		unsigned long va;	/* SHIM_FLUSH_ALL for a full flush */
	} inv_log[SHIM_INV_LOG];
	unsigned int ninv;		/* entries used in inv_log */
};
extern struct shim_machine shim_machine;

/* A fresh machine with @levels paging levels, NX and 1 GiB pages. */
void shim_reset(unsigned int levels);
struct page *shim_alloc_pages(unsigned int order);
void shim_free_pages(struct page *pg, unsigned int order);
/* The table page at fake physical address @phys, or NULL (freed/unknown). */
x86pte_t *shim_phys_to_va(u64 phys);

static inline unsigned int arch_paging_levels(void)
{
	return shim_machine.levels;
}

static inline x86pte_t *arch_table_va(struct page *pg)
{
	return pg->va;
}

static inline u64 arch_page_to_phys(struct page *pg)
{
	return (u64)pg->pfn << PAGE_SHIFT;
}

/* Zeroed, as the kernel's (__GFP_ZERO) is: over the shim's garbage. */
static inline struct page *arch_alloc_table(unsigned int order, bool atomic)
{
	struct page *pg = shim_alloc_pages(order);

	if (pg)
		memset(pg->va, 0, PAGE_SIZE << order);
	return pg;
}

static inline void arch_free_table(struct page *pg, unsigned int order)
{
	shim_free_pages(pg, order);
}

static inline bool arch_has_nx(void)
{
	return shim_machine.nx;
}

static inline bool arch_has_gbpages(void)
{
	return shim_machine.gbpages;
}

static inline unsigned long arch_free_pages(void)
{
	return shim_machine.free_pages;
}

static inline bool arch_must_not_allocate(void)
{
	return shim_machine.atomic_ctx;
}

static inline bool arch_in_reclaim(void)
{
	return shim_machine.reclaim;
}

static inline void shim_log_inval(unsigned long va)
{
	if (shim_machine.ninv < SHIM_INV_LOG) {
		shim_machine.inv_log[shim_machine.ninv].cpu = shim_cpu;
		shim_machine.inv_log[shim_machine.ninv++].va = va;
	}
}

static inline void arch_invlpg(unsigned long va)
{
	shim_machine.invlpgs++;
	shim_machine.last_invlpg = va;
	cpumask_set_cpu(shim_cpu, &shim_machine.invlpg_cpus);
	shim_log_inval(va);
}

static inline void arch_flush_tlb_local(void)
{
	shim_machine.flushes++;
	cpumask_set_cpu(shim_cpu, &shim_machine.invlpg_cpus);
	shim_log_inval(SHIM_FLUSH_ALL);
}

/* Did fake CPU @cpu drop its translation of @va (INVLPG or full flush)? */
static inline bool shim_invalidated(unsigned int cpu, unsigned long va)
{
	unsigned int i;

	for (i = 0; i < shim_machine.ninv; i++)
		if (shim_machine.inv_log[i].cpu == cpu &&
		    (shim_machine.inv_log[i].va == va ||
		     shim_machine.inv_log[i].va == SHIM_FLUSH_ALL))
			return true;
	return false;
}

/* Runs @fn on each fake CPU of @cpus in turn, as that CPU. */
static inline void arch_call_on_cpus(const struct cpumask *cpus,
				     smp_call_func_t fn, void *arg)
{
	unsigned int c, self = shim_cpu;

	shim_machine.ipi_rounds++;
	for (c = 0; c < SHIM_NR_CPUS; c++) {
		if (!cpumask_test_cpu(c, cpus))
			continue;
		shim_machine.ipi_cpus++;
		shim_cpu = c;
		fn(arg);
	}
	shim_cpu = self;
}

static inline u64 arch_cr3_table(void)
{
	return shim_machine.cr3[shim_cpu];
}

static inline u64 arch_read_cr3(void)
{
	return shim_machine.cr3[shim_cpu];
}

static inline void arch_write_cr3(u64 cr3)
{
	shim_machine.cr3[shim_cpu] = cr3;
}

static inline bool arch_pcide(void)
{
	return false;
}

#endif /* _HTABLE_ARCH_H */
