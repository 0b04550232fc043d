/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hat operations (module/hat.c): the address space of one open of
 * /dev/htable, and the segment layer's record of the pages it owns.
 */
#ifndef _HTABLE_HAT_H
#define _HTABLE_HAT_H

#include <htable/htable.h>

struct seq_file;

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

extern atomic_t htable_nr_hats;

int hat_init(void);
void hat_fini(void);
struct hat *hat_alloc(void);
void hat_free(struct hat *hat);
int hat_memload(struct hat *hat, const struct htable_map *m);
int hat_unload(struct hat *hat, struct htable_unmap *u);
int hat_probe(struct hat *hat, struct htable_probe *p);
int hat_info(struct hat *hat, struct htable_info *info);
int hat_rw(struct hat *hat, const struct htable_rw *rw);
int hat_pagesync(struct hat *hat, struct htable_sync *s);
int hat_reload(struct hat *hat, struct htable_reload *r);
int hat_share(struct hat *hat, struct hat *owner, struct htable_share *s);
int hat_unshare(struct hat *hat, struct htable_share *s);
struct hat *hat_share_owner(struct hat *hat, unsigned long va);
int hat_range_claim(struct hat *hat, struct hat_range *c);
void hat_range_release(struct hat *hat, struct hat_range *c);

/* cr3.c: windows */
extern unsigned int htable_window_budget_ms;
extern bool htable_window_lazy;
int htable_window_run(struct hat *hat, struct htable_run *r,
		      struct htable_sample *samples);

/* check.c: the independent checker and the tree dump */
int htable_check(struct hat *hat, struct htable_check *c);
void htable_dump_tree(struct hat *hat, struct seq_file *m);

#endif /* _HTABLE_HAT_H */
