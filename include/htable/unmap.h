/* SPDX-License-Identifier: GPL-2.0 */
/*
 * UNMAP (module/unmap.c): the hat layer's operations that take
 * translations out, and give back what they held.
 */
#ifndef _HTABLE_UNMAP_H
#define _HTABLE_UNMAP_H

#include <htable/htable.h>

struct htable_batch;

int hat_unload(struct hat *hat, unsigned long va, unsigned long npages);
/* Also for MAP (map.c), which takes back what a failed MAP put in. */
unsigned long hat_unmap_entries(struct hat *hat, unsigned long va,
				unsigned long eaddr, struct htable_batch *b);
void hat_drop_all(struct hat *hat);

#endif /* _HTABLE_UNMAP_H */
