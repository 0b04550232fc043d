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
struct mm_struct;

/* struct window_args.mode */
#define WINDOW_VERIFY		0	/* touch every page of a range */
#define WINDOW_RESIDENT		1	/* stay live, reading one word */

/* struct window_sample.flags */
#define WINDOW_SAMPLE_FAULT	0x01	/* the read faulted (no translation) */
#define WINDOW_SAMPLE_VALID	0x02	/* CR3 held the hat around the read */

/**
 * struct window_sample - one read of a resident window
 * @t_ns:	CLOCK_MONOTONIC time at which the read started
 * @value:	the word read (0 when it faulted)
 * @flags:	WINDOW_SAMPLE_*
 */
struct window_sample {
	u64		t_ns;
	u64		value;
	unsigned int	flags;
};

/**
 * struct window_args - a window's request, and what it found
 * @cpu:	(in) the CPU to run on
 * @mode:	(in) WINDOW_VERIFY or WINDOW_RESIDENT
 * @va:		(in) page-aligned start of the range (verify) or the page
 *		whose first word is read (resident)
 * @npages:	(in) verify: pages to touch; resident: 1
 * @write:	(in) verify: also write the writable pages
 * @duration_ms: (in) resident: how long to stay live
 * @seed:	(in) verify: the pattern seed (Documentation/cr3.rst)
 * @samples:	(in) resident: room for @max_samples samples
 * @max_samples: (in) resident: at least 1
 * @nsamples:	(out) resident: samples written
 * @verified:	(out) pages whose data matched through the hat's tables
 * @mismatches:	(out) pages whose data did not
 * @faults:	(out) verify: pages whose read or write faulted (each once);
 *		resident: reads that faulted
 * @first_fault_va: (out) va of the first fault
 * @first_mismatch_va: (out) va of the first mismatch
 * @reads:	(out) resident: reads done
 * @valid_reads: (out) resident: reads with WINDOW_SAMPLE_VALID
 * @clobbers:	(out) resident: times the kernel replaced CR3 during the
 *		window, its end included
 * @elapsed_ns:	(out) time the window took
 * @watchdog:	(out) the watchdog ended the window early
 *
 * The caller validates the (in) fields and zeroes the (out) ones.
 */
struct window_args {
	unsigned int		cpu;
	unsigned int		mode;
	unsigned long		va;
	unsigned long		npages;
	bool			write;
	unsigned int		duration_ms;
	u64			seed;
	struct window_sample	*samples;
	unsigned int		max_samples;
	unsigned int		nsamples;
	u64			verified;
	u64			mismatches;
	u64			faults;
	unsigned long		first_fault_va;
	unsigned long		first_mismatch_va;
	u64			reads;
	u64			valid_reads;
	u64			clobbers;
	u64			elapsed_ns;
	bool			watchdog;
};

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

int htable_window_run(struct hat *hat, struct window_args *r);
#endif

#endif /* _HTABLE_CR3_H */
