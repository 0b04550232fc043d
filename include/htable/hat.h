/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hat layer: the address space of one open of /dev/htable
 * (module/hat.c): its life, PROBE, INFO and RW, with arguments of its own:
 * dev.c translates from the ABI. MAP, SYNC and RELOAD are in map.h, UNMAP
 * in unmap.h, range claims in claim.h, sharing in share.h, what a mapping
 * holds in pages.h.
 */
#ifndef _HTABLE_HAT_H
#define _HTABLE_HAT_H

#include <htable/htable.h>

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
void hat_probe(struct hat *hat, unsigned long va, struct hat_xlat *x);
int hat_info(struct hat *hat, struct hat_info *info);
int hat_rw(struct hat *hat, unsigned long va, void __user *buf,
	   unsigned int len, bool write);

#endif /* _HTABLE_HAT_H */
