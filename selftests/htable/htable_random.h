/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A seeded RNG and a random-operation engine that drives one hat and its
 * model (htable_model.h). Every function returning int returns how many
 * things differed from what was expected, having printed each (prefixed
 * with "# ").
 */
#ifndef _HTABLE_RANDOM_H
#define _HTABLE_RANDOM_H

#include "htable_model.h"

/* xorshift64*: advance *@state and return the next value of its sequence. */
__u64 ht_rand(__u64 *state);

/* A random value in [0, @n); 0 when @n is 0. */
__u64 ht_rand_below(__u64 *state, __u64 n);

/* The seed from $HTABLE_SEED, else a fresh one; never zero. */
__u64 ht_seed(void);

/*
 * Random operations over a window of a hat: a list of disjoint segments,
 * each a run of pages. Every MAP, UNMAP and PROBE is predicted by the
 * model (when the window is this caller's alone), or only checked for
 * being one of the outcomes concurrency allows (when other callers share
 * it: "blind" mode, where the model is not used).
 *
 * The model learns no pfn from PROBE: each fresh page gets a tag of its
 * own through RW right after its MAP, an alias inherits its source's, and
 * the tags read back name the page behind every va. In blind mode a MAP
 * stays inside one zone of HT_RND_ZONE_PAGES pages and uses the zone's
 * flags (ht_rnd_zone_flags()), so whoever mapped a page, the test knows
 * its flags.
 */
#define HT_RND_ZONE_PAGES	8

/* The map flags of blind MAPs in the zone of @va. */
__u32 ht_rnd_zone_flags(__u64 va);

struct ht_seg {
	__u64 va;
	__u64 npages;
};

struct ht_rnd {
	struct ht_hat *h;
	const struct ht_seg *seg;
	int nseg;
	__u64 pages;		/* pages in the window */
	__u64 maxlen;		/* longest range to MAP or UNMAP; 0: 2048 */
	__u64 rng;
	unsigned long op;	/* operations done */
	/* Outcomes, for the log and for blind mode's page balance. */
	unsigned long maps, map_eexist, map_enoent, map_einval, unmaps, unmap_enoent;
	unsigned long probes, clears;
	__u64 pages_mapped, pages_unmapped;
	/* The tags written into fresh pages: ht_tag_make(tag_salt, n). */
	__u64 tag_salt, tag_next;
	unsigned long tags_read;
	/* ht_rnd_verify() reads every tag_stride-th tag (0 or 1: all). */
	size_t tag_stride;
};

/* Start @r over the @nseg segments @seg of @h, seeded with @seed. */
void ht_rnd_init(struct ht_rnd *r, struct ht_hat *h,
		 const struct ht_seg *seg, int nseg, __u64 seed);

/* UNMAP every run the model has in one random segment; 0, or 1 on failure. */
int ht_rnd_clear(struct ht_rnd *r);

/*
 * One random operation, predicted by the model (@blind == 0), or only
 * checked for being an outcome concurrency allows. Returns the number of
 * mismatches.
 */
int ht_rnd_op(struct ht_rnd *r, int blind);

/* PROBE every page of the window against the model (holes included). */
int ht_rnd_probe_all(struct ht_rnd *r);

/*
 * Everything: INFO and CHECK by the model, every page, and the tags
 * (every r->tag_stride-th one of each segment, the first and last).
 */
int ht_rnd_verify(struct ht_rnd *r);

/*
 * Rebuild the model of the window from RW, not from PROBE (for a hat
 * blind workers changed, now quiet): a page for every va whose tag word
 * RW can read, with its zone's flags (ht_rnd_zone_flags()) and the tag
 * it holds. Returns the number of RW failures other than ENOENT, plus
 * one (stopping there) when the model cannot follow.
 */
int ht_rnd_model_from_rw(struct ht_rnd *r);

/*
 * Rebuild the model of the window from PROBE (for a hat others changed
 * concurrently, now quiet): every present page with the flags it shows.
 * Returns the number of PROBE failures and inconsistent results, plus
 * one (stopping there) when the model cannot follow.
 */
int ht_rnd_model_from_probe(struct ht_rnd *r);

#endif /* _HTABLE_RANDOM_H */
