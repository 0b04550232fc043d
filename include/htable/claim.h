/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Range claims (module/claim.c): lock 1a of the order in htable.h.
 */
#ifndef _HTABLE_CLAIM_H
#define _HTABLE_CLAIM_H

#include <htable/htable.h>

/**
 * struct hat_range - a claim on pages of a hat (hat_range_claim())
 * @list:	on the hat's hat_ranges (hat_range_lock)
 * @first:	first page number the claimer may change
 * @last:	the last one, inclusive; @first > @last: none
 * @rfirst:	first page number the claimer only reads
 * @rlast:	the last one, inclusive; @rfirst > @rlast: none
 *
 * The pages a claim changes are its own: no other claim meets them. The
 * pages it reads it shares with other readers, but with no claim that
 * changes them. Lives on the claimer's stack while it holds the claim.
 */
struct hat_range {
	struct list_head	list;
	unsigned long		first;
	unsigned long		last;
	unsigned long		rfirst;
	unsigned long		rlast;
};

/* Initializers: a claim that changes, or only reads, pages [f, l]. */
#define HAT_RANGE_CHANGES(f, l)	{ .first = (f), .last = (l), .rfirst = 1, .rlast = 0 }
#define HAT_RANGE_READS(f, l)	{ .first = 1, .last = 0, .rfirst = (f), .rlast = (l) }

int hat_range_claim(struct hat *hat, struct hat_range *c);
bool hat_range_tryclaim(struct hat *hat, struct hat_range *c);
void hat_range_release(struct hat *hat, struct hat_range *c);
int hat_range_begin(struct hat *hat, struct hat_range *c, bool excl);
void hat_range_end(struct hat *hat, struct hat_range *c, bool excl);

#endif /* _HTABLE_CLAIM_H */
