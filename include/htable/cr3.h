/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Windows (module/cr3.c), and the CR3 values of a window, computed in one
 * pure function so that a host unit test (selftests/host/cr3_values_test.c)
 * checks both cases, PCID on and off. Documentation/cr3.rst cites the SDM
 * for each bit.
 */
#ifndef _HTABLE_CR3_H
#define _HTABLE_CR3_H

#include <linux/types.h>
#ifndef __KERNEL__
#include <stdbool.h>
#endif

/*
 * The PCID a window uses when CR4.PCIDE is set: the highest one with bit 11
 * clear. The kernel uses PCIDs 1..TLB_NR_DYN_ASIDS (6) for its own address
 * spaces, and with PTI their user twins have bit 11 set; PTI's entry code
 * masks bits 11 and 12, so neither may be set here.
 */
#define HTABLE_CR3_PCID		0x7ffULL
#define HTABLE_CR3_PCID_MASK	0xfffULL
/* CR3 bit 63 on a load with PCIDE: keep the PCID's cached translations. */
#define HTABLE_CR3_NOFLUSH	0x8000000000000000ULL

struct htable_cr3 {
	__u64 load;	/* what the window writes to enter the hat */
	__u64 restore;	/* what it writes to leave it */
};

/**
 * htable_cr3_values() - CR3 to enter a hat's window and to leave it
 * @table_pa:	physical address of the hat's top table, 8 KiB aligned
 * @saved:	the CR3 the kernel had loaded (as read, bit 63 clear)
 * @pcide:	CR4.PCIDE is set
 * @irqs_off:	interrupts stayed off for the whole window
 *
 * Without PCID, a CR3 write flushes every non-global translation, so the
 * values are the plain table addresses. With PCID, the hat is loaded with
 * HTABLE_CR3_PCID and without NOFLUSH, so it starts with no stale entry of
 * an earlier window. The kernel's CR3 comes back with NOFLUSH, keeping its
 * translations, only when interrupts stayed off: otherwise a TLB flush IPI
 * for the kernel's PCID may have run during the window and acted on
 * HTABLE_CR3_PCID instead, and NOFLUSH would bring back what it flushed.
 *
 * Return: the two values.
 */
static inline struct htable_cr3 htable_cr3_values(__u64 table_pa, __u64 saved,
						  bool pcide, bool irqs_off)
{
	struct htable_cr3 v;

	if (pcide) {
		v.load = table_pa | HTABLE_CR3_PCID;
		v.restore = irqs_off ? saved | HTABLE_CR3_NOFLUSH : saved;
	} else {
		v.load = table_pa;
		v.restore = saved;
	}
	return v;
}

#ifdef __KERNEL__
/* Windows (module/cr3.c): a hat live in CR3 on one pinned CPU. */
struct hat;
struct htable_run;
struct htable_sample;
struct mm_struct;

/**
 * struct htable_live - one CPU's stay in a hat, for windows and the bench
 * @hat:	the hat
 * @mm:		the mm the caller borrowed (kthread_use_mm()), hidden from
 *		current while CR3 holds the hat; NULL when none was borrowed
 * @table_pa:	physical address of the hat's top table
 * @cpu:	the CPU that joined
 * @node:	on the hat's hat_stays from join to part (hat_switch_lock)
 * @v:		the values of the last load
 */
struct htable_live {
	struct hat		*hat;
	struct mm_struct	*mm;
	__u64			table_pa;
	unsigned int		cpu;
	struct list_head	node;
	struct htable_cr3	v;
};

void htable_live_join(struct htable_live *l);
void htable_live_part(struct htable_live *l);
void htable_live_enter(struct htable_live *l, bool irqs_off);
bool htable_live_reload(struct htable_live *l);
bool htable_live_leave(struct htable_live *l);

extern unsigned int htable_window_budget_ms;
extern bool htable_window_lazy;

int htable_window_run(struct hat *hat, struct htable_run *r,
		      struct htable_sample *samples);
#endif

#endif /* _HTABLE_CR3_H */
