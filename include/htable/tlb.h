/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Batched side effects of one operation (map, unmap, steal): the vas whose
 * translations changed and the tables unlinked on the way. Finishing the
 * batch sends one shootdown to the CPUs where the hat is live and only then
 * frees the tables, so "free only after the flush" holds by construction.
 */
#ifndef _HTABLE_TLB_H
#define _HTABLE_TLB_H

#include <htable/htable.h>

/* Past this many vas a batch flushes the whole (non-global) TLB instead. */
#define HTABLE_BATCH_VAS	32

/**
 * struct htable_batch - pending invalidations and frees of one operation
 * @hat:	the hat whose CPUs get the shootdown
 * @nva:	vas queued in @va
 * @flush_all:	more than HTABLE_BATCH_VAS changed: flush everything
 * @va:		vas whose translations or paging-structure caches changed
 * @free_tables: tables unlinked, to free after the shootdown (via ht_next)
 */
struct htable_batch {
	struct hat	*hat;
	unsigned int	nva;
	bool		flush_all;
	unsigned long	va[HTABLE_BATCH_VAS];
	struct htable	*free_tables;
};

/* Debug knob: skip the IPI round (to show the stale-TLB test can fail). */
extern bool htable_tlb_skip_remote;

void htable_batch_init(struct htable_batch *b, struct hat *hat);
void htable_batch_inval(struct htable_batch *b, unsigned long va);
void htable_batch_free_table(struct htable_batch *b, struct htable *ht);
void htable_batch_flush(struct htable_batch *b);
void htable_batch_finish(struct htable_batch *b);

#endif /* _HTABLE_TLB_H */
