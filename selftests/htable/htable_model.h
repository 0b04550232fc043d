/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A model of one hat's mappings that predicts what INFO, PROBE and CHECK
 * must report, and the checks that compare a hat with it.
 *
 * Like every helper (see htable_test.h), the ht_verify_*() functions
 * print what differs, prefixed with "# ", and return how many things
 * differed (0 when the hat matches).
 */
#ifndef _HTABLE_MODEL_H
#define _HTABLE_MODEL_H

#include <stddef.h>

#include "htable_test.h"

/*
 * The model: every mapped page of one hat, sorted by va. flags holds the
 * HTABLE_MAP_WRITE/EXEC/LOCK bits the page was mapped with, plus
 * HT_PG_ALIAS when it shares another page's backing page; pfn is what
 * PROBE reported (0 until learned: the model cannot know it beforehand).
 */
#define HT_PG_ALIAS	0x80000000U
#define HT_PG_MAPFLAGS	(HTABLE_MAP_WRITE | HTABLE_MAP_EXEC | HTABLE_MAP_LOCK)

struct ht_page {
	__u64 va;
	__u64 pfn;
	__u32 flags;
};

struct ht_model {
	struct ht_page *pg;
	size_t n;
	size_t cap;
};

/* One open hat and the model of its mappings. */
struct ht_hat {
	int fd;
	int levels;
	__u64 limit;
	struct ht_model m;
};

/* Free the model's pages and leave it empty. */
void ht_model_free(struct ht_model *m);

/* Open a hat: 0, or -errno (fd is then -1). */
int ht_hat_open(struct ht_hat *h);

/* Free the hat's model and close its fd. */
void ht_hat_close(struct ht_hat *h);

/* Index of the first page at or above @va (m->n when there is none). */
size_t ht_model_lower(const struct ht_model *m, __u64 va);

/* How many of the @npages pages at @va are mapped (no wrap-around). */
__u64 ht_model_count(const struct ht_model *m, __u64 va, __u64 npages);

/* The model's page holding @va (any offset in it), or NULL for a hole. */
struct ht_page *ht_model_find(const struct ht_model *m, __u64 va);

/*
 * Record a successful MAP (with HTABLE_MAP_ALIAS, aliasing the pages at
 * @alias_va). Returns 0, or -1 when the model cannot follow (out of
 * memory, or a call the model says fails).
 */
int ht_model_insert(struct ht_model *m, __u64 va, __u64 npages,
		    __u32 flags, __u64 alias_va, __u64 alias_npages);

/* Add every page of @src (disjoint from @dst's) to @dst: 0, or -1. */
int ht_model_merge(struct ht_model *dst, const struct ht_model *src);

/* Record a successful UNMAP of every mapped page in the range. */
void ht_model_remove(struct ht_model *m, __u64 va, __u64 npages);

/*
 * Fill @exp with what INFO must report for the model's pages on a hat of
 * @levels levels; cached is left 0.
 */
void ht_model_expect(const struct ht_model *m, int levels,
		     struct htable_info *exp);

/*
 * Print every field of @got that differs from @exp and return how many
 * did. cached is compared only when @with_cached.
 */
int ht_info_diff(const struct htable_info *exp,
		 const struct htable_info *got, int with_cached);

/*
 * Run CHECK: returns the number of problems (errors found, or, given
 * @info from the same quiet state, tables and entries visited that
 * differ from INFO's counts).
 */
int ht_verify_check(int fd, const struct htable_info *info);

/*
 * Compare INFO with the model (cached aside), then CHECK; returns the
 * number of differences. INFO's result is stored in @out unless NULL.
 */
int ht_verify_info(int fd, const struct ht_model *m, int levels,
		   struct htable_info *out);

/* The PROBE flags a page mapped with @mflags must show (hardware bits aside). */
__u32 ht_probe_flags(__u32 mflags);

/*
 * Check a PROBE result that claims a translation against its own raw
 * PTE; returns the number of inconsistencies.
 */
int ht_probe_selfcheck(const struct htable_probe *p);

/*
 * PROBE @va and compare with @pg, the model's page, or with a hole when
 * @pg is NULL: 0 when they match, else 1. A page whose model pfn is still
 * 0 learns it here.
 */
int ht_verify_probe(int fd, __u64 va, struct ht_page *pg);

/*
 * PROBE every page of a range the model holds, learning their pfns;
 * returns the number of differences.
 */
int ht_model_learn(int fd, struct ht_model *m, __u64 va, __u64 npages);

/*
 * The number of learned pfns shared by two pages not mapped with
 * HTABLE_MAP_ALIAS (fresh pages must each have their own backing page).
 */
int ht_model_distinct_pfns(const struct ht_model *m);

/*
 * Compare the hat with the model: INFO and CHECK, PROBE of the model's
 * pages (all of them when @stride <= 1, else a sample) and of the holes
 * around them, distinct pfns. Returns the number of differences.
 */
int ht_verify_model(int fd, struct ht_model *m, int levels, size_t stride);

#endif /* _HTABLE_MODEL_H */
