/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared page tables (module/share.c).
 */
#ifndef _HTABLE_SHARE_H
#define _HTABLE_SHARE_H

#include <htable/htable.h>

int hat_share(struct hat *hat, struct hat *owner, unsigned long va,
	      unsigned long npages, unsigned long *tables);
int hat_unshare(struct hat *hat, unsigned long va, unsigned long npages,
		unsigned long *tables);
void hat_unshare_all(struct hat *hat);
struct hat *hat_share_owner(struct hat *hat, unsigned long va);

#endif /* _HTABLE_SHARE_H */
