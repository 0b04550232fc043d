/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocation-failure injection: one knob for every place htable allocates.
 *
 * debugfs fail_nth (N) and fail_site (a mask of 1 << HTABLE_FAIL_*): every
 * Nth allocation counted at a site in the mask fails. With one site in the
 * mask, that is the Nth allocation at that site. fail_hits reports, per
 * site, the allocations counted and the failures injected, so a sweep can
 * prove it reached every failure point. See Documentation/debugfs.rst.
 */
#ifndef _HTABLE_FAIL_H
#define _HTABLE_FAIL_H

#include <linux/slab.h>
#include <linux/types.h>

struct seq_file;

enum htable_fail_site {
	HTABLE_FAIL_PTABLE,	/* page-table pages (ptable_alloc) */
	HTABLE_FAIL_HTABLE,	/* struct htable from htable_cache */
	HTABLE_FAIL_PAGE,	/* backing pages of a MAP */
	HTABLE_FAIL_XARRAY,	/* a stolen record (xa_store at a steal) */
	HTABLE_FAIL_HAT,	/* struct hat from its cache */
	HTABLE_FAIL_CPUMASK,	/* the hat's CPU set */
	HTABLE_FAIL_HASH,	/* the hat's hash of tables */
	HTABLE_FAIL_WINDOW,	/* a CR3 window's state */
	HTABLE_FAIL_SAMPLES,	/* a resident window's sample buffer */
	HTABLE_FAIL_SHARE,	/* a share's record and its slot (SHARE) */
	HTABLE_FAIL_UPIN,	/* the record of a pin of user memory */
	HTABLE_FAIL_NR
};

/* The default mask: fail_nth alone keeps its old meaning (tables only). */
#define HTABLE_FAIL_DEFAULT_SITES	BIT(HTABLE_FAIL_PTABLE)

extern u32 htable_fail_sites;

bool htable_should_fail(enum htable_fail_site site);

/* kzalloc() at failure site @site: NULL when the injector picks it. */
static inline void *htable_fail_kzalloc(enum htable_fail_site site,
					size_t size, gfp_t gfp)
{
	return htable_should_fail(site) ? NULL : kzalloc(size, gfp);
}

unsigned int htable_fail_nth_get(void);
void htable_fail_nth_set(unsigned int n);
void htable_fail_warn(void);
void htable_fail_hits_show(struct seq_file *m);

#endif /* _HTABLE_FAIL_H */
