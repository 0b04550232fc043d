// SPDX-License-Identifier: GPL-2.0
/*
 * The batch of one operation's side effects, and the TLB shootdown that
 * finishes it (the seed's hat_tlb_inval, sent once per batch instead of
 * once per entry).
 */
#include <linux/smp.h>
#include <linux/spinlock.h>

#include <htable/htable.h>
#include <htable/stats.h>
#include <htable/tlb.h>
#include <htable/trace.h>
#include <htable/x86pte.h>

bool htable_tlb_skip_remote;

/**
 * htable_batch_init() - start an empty batch for @hat
 * @b:		the batch (usually on the stack)
 * @hat:	the hat whose live CPUs must see the changes
 */
void htable_batch_init(struct htable_batch *b, struct hat *hat)
{
	b->hat = hat;
	b->nva = 0;
	b->flush_all = false;
	b->free_tables = NULL;
}

/**
 * htable_batch_inval() - queue the invalidation of @va's translation
 * @b:		the batch
 * @va:		a va whose entry, or a table on whose path, changed
 *
 * INVLPG of one va also drops every paging-structure cache entry of the
 * current PCID (Intel SDM 4.10.4.1), so one va per unlinked table suffices.
 */
void htable_batch_inval(struct htable_batch *b, unsigned long va)
{
	if (b->flush_all)
		return;
	if (b->nva == HTABLE_BATCH_VAS) {
		b->flush_all = true;
		return;
	}
	b->va[b->nva++] = va;
}

/**
 * htable_batch_free_table() - queue an unlinked table for freeing
 * @b:		the batch
 * @ht:		a table already unlinked from its parent and unhashed
 */
void htable_batch_free_table(struct htable_batch *b, struct htable *ht)
{
	htable_batch_inval(b, ht->ht_vaddr);
	ht->ht_next = b->free_tables;
	b->free_tables = ht;
}

/* Runs on each CPU where the hat is live, with interrupts off. */
static void htable_tlb_func(void *arg)
{
	struct htable_batch *b = arg;
	unsigned int i;

	/*
	 * A CPU whose CR3 no longer holds the hat uses none of its
	 * translations: without PCID, the CR3 load on the way out dropped
	 * them; with PCID, the next window loads HTABLE_CR3_PCID without
	 * NOFLUSH, which drops them before any use.
	 */
	if (arch_cr3_table() != arch_page_to_phys(b->hat->hat_htable->ht_page))
		return;
	if (b->flush_all) {
		arch_flush_tlb_local();
		return;
	}
	for (i = 0; i < b->nva; i++)
		arch_invlpg(b->va[i]);
}

/*
 * The same on every CPU, whatever its CR3: a table of the hat is shared,
 * so a CPU may reach it through a sharer's top table. Dropping a
 * translation a CPU did not have costs nothing.
 */
static void htable_tlb_func_all(void *arg)
{
	struct htable_batch *b = arg;
	unsigned int i;

	if (b->flush_all) {
		arch_flush_tlb_local();
		return;
	}
	for (i = 0; i < b->nva; i++)
		arch_invlpg(b->va[i]);
}

/*
 * A hat whose tables others share: shoot down every online CPU, as
 * illumos does for shared hats, instead of tracking each sharer's set.
 */
static void htable_batch_flush_shared(struct htable_batch *b)
{
	if (READ_ONCE(htable_tlb_skip_remote)) {
		HATSTAT_INC(hs_shootdowns_skipped);
		return;
	}
	arch_call_on_cpus(cpu_online_mask, htable_tlb_func_all, b);
	trace_htable_shootdown(b->hat, num_online_cpus(), b->nva, b->flush_all, true);
	HATSTAT_INC(hs_shootdowns);
	HATSTAT_ADD(hs_shootdown_cpus, num_online_cpus());
	if (b->flush_all)
		HATSTAT_INC(hs_tlb_flush_all);
	else
		HATSTAT_ADD(hs_tlb_invals, b->nva);
}

/**
 * htable_batch_flush() - send the queued invalidations, keep the frees
 * @b:		the batch
 *
 * One IPI round to the CPUs in hat_cpus, none when the hat is live nowhere.
 * hat_switch_lock is held across the round so no CPU joins or leaves the
 * set mid-way; it is never taken with interrupts off, so a CPU spinning on
 * it still answers the IPI. Does not sleep, but waits for the other CPUs:
 * the caller must have interrupts on and hold no lock numbered 2-5. When
 * other hats share the hat's tables, the round goes to every online CPU.
 */
void htable_batch_flush(struct htable_batch *b)
{
	struct hat *hat = b->hat;

	if (!b->nva && !b->flush_all)
		return;
	if (atomic_read(&hat->hat_nsharers)) {
		htable_batch_flush_shared(b);
		b->nva = 0;
		b->flush_all = false;
		return;
	}
	spin_lock(&hat->hat_switch_lock);
	if (cpumask_empty(hat->hat_cpus)) {
		/* Live nowhere: no CPU can hold a translation of the hat. */
	} else if (READ_ONCE(htable_tlb_skip_remote)) {
		HATSTAT_INC(hs_shootdowns_skipped);
	} else {
		arch_call_on_cpus(hat->hat_cpus, htable_tlb_func, b);
		trace_htable_shootdown(hat, cpumask_weight(hat->hat_cpus), b->nva,
				       b->flush_all, false);
		HATSTAT_INC(hs_shootdowns);
		HATSTAT_ADD(hs_shootdown_cpus, cpumask_weight(hat->hat_cpus));
		if (b->flush_all)
			HATSTAT_INC(hs_tlb_flush_all);
		else
			HATSTAT_ADD(hs_tlb_invals, b->nva);
	}
	spin_unlock(&hat->hat_switch_lock);
	b->nva = 0;
	b->flush_all = false;
}

/**
 * htable_batch_finish() - flush, then free what the batch unlinked
 * @b:		the batch; empty afterwards
 */
void htable_batch_finish(struct htable_batch *b)
{
	struct htable *ht;

	htable_batch_flush(b);
	while ((ht = b->free_tables) != NULL) {
		b->free_tables = ht->ht_next;
		htable_free(ht);
	}
}
