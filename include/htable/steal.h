/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stealing and reaping (module/steal.c): page tables are a cache of
 * translations, which htable_steal() takes back from hats when memory or
 * the table cap is short, behind a Linux shrinker.
 *
 * A steal clears a leaf table's entries, and each entry, the record of its
 * mapping, moves to the hat's stolen records, kept with what it held (a
 * reference, or a pin count) and its A and D bits, until RELOAD puts it
 * back or UNMAP drops it. That is the cold path paying for what the hot
 * path does not keep: design.rst, "Per-mapping state".
 */
#ifndef _HTABLE_STEAL_H
#define _HTABLE_STEAL_H

#include <htable/htable.h>

/* Tunables (debugfs): see Documentation/debugfs.rst. */
extern unsigned int htable_steal_passes;
extern unsigned int htable_force_steal;

void htable_force_steal_set(unsigned int n);
struct htable *htable_steal(unsigned int cnt, bool reap);
unsigned long htable_reap(unsigned long nr);
int htable_shrinker_init(void);
void htable_shrinker_exit(void);

x86pte_t htable_stolen_pte(struct hat *hat, unsigned long va);
unsigned long htable_stolen_count(struct hat *hat, unsigned long va,
				  unsigned long eaddr);
x86pte_t htable_stolen_next(struct hat *hat, unsigned long *vap,
			    unsigned long eaddr);
void htable_stolen_erase(struct hat *hat, unsigned long va);
unsigned long htable_stolen_take(struct hat *hat, unsigned long va,
				 unsigned long eaddr,
				 void (*drop)(struct hat *hat, x86pte_t pte));
void htable_stolen_sync(struct hat *hat, unsigned long va, unsigned long eaddr,
			bool clear, unsigned long *ref, unsigned long *mod);

#endif /* _HTABLE_STEAL_H */
