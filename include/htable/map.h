/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MAP, SYNC and RELOAD (module/map.c): the hat layer's operations that put
 * translations in, and read their A and D bits back.
 */
#ifndef _HTABLE_MAP_H
#define _HTABLE_MAP_H

#include <htable/htable.h>

/* A mapping's attributes (dev.c translates HTABLE_MAP_*). */
#define HAT_WRITE	0x01	/* writable */
#define HAT_EXEC	0x02	/* executable */
#define HAT_LOCK	0x04	/* locked: counted in ht_lock_cnt, never stolen */

/* Where the pages of a map come from. */
enum hat_source {
	HAT_SRC_FRESH,		/* pages the hat allocates */
	HAT_SRC_ALIAS,		/* pages the hat already maps at @src */
	HAT_SRC_PIN,		/* the caller's own memory at @src, pinned */
};

/**
 * struct hat_map - what hat_memload() maps
 * @va:		page-aligned start, aligned to the page size
 * @npages:	4 KiB pages, a multiple of the page size's
 * @level:	page level: 0 (4 KiB), 1 (2 MiB) or 2 (1 GiB)
 * @attr:	HAT_*
 * @source:	where the pages come from
 * @src:	ALIAS: the va of the source in the hat; PIN: the caller's
 *		address of its memory
 * @src_npages:	ALIAS: pages at @src, repeated over the range
 */
struct hat_map {
	unsigned long		va;
	unsigned long		npages;
	unsigned int		level;
	unsigned int		attr;
	enum hat_source		source;
	unsigned long		src;
	unsigned long		src_npages;
};

int hat_memload(struct hat *hat, const struct hat_map *m);
/* Also for UNMAP (unmap.c), which grows the hash before its walk. */
int hat_hash_grow(struct hat *hat, unsigned long extra);
int hat_pagesync(struct hat *hat, unsigned long va, unsigned long npages,
		 bool clear, unsigned long *ref, unsigned long *mod);
int hat_reload(struct hat *hat, unsigned long va, unsigned long npages,
	       unsigned long *reloaded);

#endif /* _HTABLE_MAP_H */
