/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hat operations (module/hat.c): the address space of one open of
 * /dev/htable, and the segment layer's record of the pages it owns.
 */
#ifndef _HTABLE_HAT_H
#define _HTABLE_HAT_H

#include <htable/htable.h>

struct seq_file;

extern atomic_t htable_nr_hats;

int hat_init(void);
void hat_fini(void);
struct hat *hat_alloc(void);
void hat_free(struct hat *hat);
int hat_memload(struct hat *hat, const struct htable_map *m);
int hat_unload(struct hat *hat, struct htable_unmap *u);
void hat_probe(struct hat *hat, struct htable_probe *p);
void hat_info(struct hat *hat, struct htable_info *info);
int hat_rw(struct hat *hat, const struct htable_rw *rw);
void hat_pagesync(struct hat *hat, struct htable_sync *s);
int hat_reload(struct hat *hat, struct htable_reload *r);
int hat_share(struct hat *hat, struct hat *owner, struct htable_share *s);
int hat_unshare(struct hat *hat, struct htable_share *s);
struct hat *hat_share_owner(struct hat *hat, unsigned long va);

/* cr3.c: windows */
extern unsigned int htable_window_budget_ms;
extern bool htable_window_lazy;
int htable_window_run(struct hat *hat, struct htable_run *r,
		      struct htable_sample *samples);

/* check.c: the independent checker and the tree dump */
void htable_check(struct hat *hat, struct htable_check *c);
void htable_dump_tree(struct hat *hat, struct seq_file *m);

#endif /* _HTABLE_HAT_H */
