/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hat layer: the address space of one open of /dev/htable and its
 * operations (module/hat.c, module/map.c, module/unmap.c), with arguments
 * of its own: dev.c translates from the ABI. Range claims are in claim.h,
 * sharing in share.h, what a mapping holds in pages.h.
 */
#ifndef _HTABLE_HAT_H
#define _HTABLE_HAT_H

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

/**
 * struct hat_xlat - what hat_probe() finds at a va
 * @present:	a translation exists
 * @owned:	the hat holds a page for the va (mapped, or stolen)
 * @pte:	the entry, when present
 * @level:	its level, when present
 */
struct hat_xlat {
	bool		present;
	bool		owned;
	x86pte_t	pte;
	unsigned int	level;
};

/**
 * struct hat_info - what hat_info() counts in a hat
 * @levels:	paging levels (mmu.max_level + 1)
 * @tables:	tables in the hat's tree per level, the top included; not
 *		tables shared from another hat, which count in their owner
 * @valid:	ht_valid_cnt summed per level (links to lower tables included)
 * @locked:	ht_lock_cnt summed over all tables
 * @mapped_pages: 4 KiB pages covered by present translations
 * @owned_pages: pages recorded as the hat's (hat_owned_pages)
 * @cached:	free tables in the hat's cache
 * @live_cpus:	the first word of hat_cpus: CPUs 0..BITS_PER_LONG - 1
 * @stolen:	tables in use that htable_steal() took from the hat
 */
struct hat_info {
	unsigned int	levels;
	unsigned long	tables[MAX_NUM_LEVEL];
	unsigned long	valid[MAX_NUM_LEVEL];
	unsigned long	locked;
	unsigned long	mapped_pages;
	unsigned long	owned_pages;
	unsigned long	cached;
	unsigned long	live_cpus;
	unsigned long	stolen;
};

extern atomic_t htable_nr_hats;

int hat_init(void);
void hat_fini(void);
struct hat *hat_alloc(void);
void hat_free(struct hat *hat);
void hat_get(struct hat *hat);
void hat_put(struct hat *hat);
int hat_memload(struct hat *hat, const struct hat_map *m);
int hat_unload(struct hat *hat, unsigned long va, unsigned long npages);
/* Between MAP (map.c) and UNMAP (unmap.c). */
int hat_hash_grow(struct hat *hat, unsigned long extra);
unsigned long hat_unmap_entries(struct hat *hat, unsigned long va,
				unsigned long eaddr, struct htable_batch *b);
void hat_probe(struct hat *hat, unsigned long va, struct hat_xlat *x);
int hat_info(struct hat *hat, struct hat_info *info);
int hat_rw(struct hat *hat, unsigned long va, void __user *buf,
	   unsigned int len, bool write);
int hat_pagesync(struct hat *hat, unsigned long va, unsigned long npages,
		 bool clear, unsigned long *ref, unsigned long *mod);
int hat_reload(struct hat *hat, unsigned long va, unsigned long npages,
	       unsigned long *reloaded);
void hat_drop_all(struct hat *hat);

#endif /* _HTABLE_HAT_H */
