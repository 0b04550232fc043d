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
 */
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
	unsigned long maps, map_eexist, map_enoent, unmaps, unmap_enoent;
	unsigned long probes, clears;
	__u64 pages_mapped, pages_unmapped;
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

/* Everything: INFO and CHECK by the model, every page, distinct pfns. */
int ht_rnd_verify(struct ht_rnd *r);

/*
 * Rebuild the model of the window from PROBE (for a hat others changed
 * concurrently, now quiet): every present page with the flags it shows.
 * Returns the number of PROBE failures and inconsistent results, plus
 * one (stopping there) when the model cannot follow.
 */
int ht_rnd_model_from_probe(struct ht_rnd *r);

#endif /* _HTABLE_RANDOM_H */
