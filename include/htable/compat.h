/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place that knows kernel versions. htable builds for Debian's 6.1
 * and 6.12 kernels; what changed between them is wrapped here, keyed on
 * what the kernel's headers provide, never on version numbers. Of what
 * htable uses, only the shrinker API changed up to 6.12 (checked against
 * 6.12.118, which the lts612 matrix row boots).
 */
#ifndef _HTABLE_COMPAT_H
#define _HTABLE_COMPAT_H

#include <linux/shrinker.h>

/*
 * Shrinkers: 6.1 registers a caller-owned struct with
 * register_shrinker(s, name); 6.7 made them allocated objects
 * (shrinker_alloc(), shrinker_register(), shrinker_free()) and added the
 * SHRINKER_ALLOCATED flag with them.
 */
#ifdef SHRINKER_ALLOCATED
static inline struct shrinker *
htable_shrinker_create(unsigned long (*count)(struct shrinker *, struct shrink_control *),
		       unsigned long (*scan)(struct shrinker *, struct shrink_control *),
		       const char *name)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	shrinker_register(s);
	return s;
}

static inline void htable_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}
#else
#include <linux/slab.h>

static inline struct shrinker *
htable_shrinker_create(unsigned long (*count)(struct shrinker *, struct shrink_control *),
		       unsigned long (*scan)(struct shrinker *, struct shrink_control *),
		       const char *name)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	if (register_shrinker(s, "%s", name)) {
		kfree(s);
		return NULL;
	}
	return s;
}

static inline void htable_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(s);
}
#endif

/*
 * Pages a shrinker frees outside the slab and the LRU count as progress
 * of the reclaim that called it only when it says so: 6.4 turned
 * reclaim_state->reclaimed_slab into mm_account_reclaimed_pages(). No
 * macro marks that change (SHRINKER_ALLOCATED came in 6.7), so Kbuild
 * looks for the function in the kernel's linux/swap.h.
 */
#include <linux/sched.h>
#include <linux/swap.h>

static inline void htable_account_reclaimed(unsigned long pages)
{
#ifdef HTABLE_HAVE_ACCOUNT_RECLAIMED
	mm_account_reclaimed_pages(pages);
#else
	if (current->reclaim_state)
		current->reclaim_state->reclaimed_slab += pages;
#endif
}

#endif /* _HTABLE_COMPAT_H */
