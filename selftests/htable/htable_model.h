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
 * PROBE reported (0 until learned: the model cannot know it beforehand,
 * so it is only ever compared with later PROBEs, never used as the truth).
 *
 * The fields after flags are zero for a plain 4 KiB mapping, which is
 * what ht_model_insert() makes (an alias copies bid and tag from its
 * source); the random engine and the fuzzer set them:
 *   level	the size of the entry that maps the page: 0 (4 KiB), 1 (2 MiB),
 *		2 (1 GiB); the pages of one large entry are its aligned block
 *   stolen	the page is recorded but its translation was stolen
 *   ad		HT_AD_A and HT_AD_D of the entry that maps it
 *   bid	a name for the backing page: pages with one bid share it
 *		(0: not named)
 *   tag	the word at HT_TAG_OFF the backing page holds, as the test
 *		wrote it (fresh pages start zeroed); aliases copy it
 */
#define HT_PG_ALIAS	0x80000000U
#define HT_PG_MAPFLAGS	(HTABLE_MAP_WRITE | HTABLE_MAP_EXEC | HTABLE_MAP_LOCK)
#define HT_AD_A		0x01
#define HT_AD_D		0x02

/* Raw entry bits the model checks besides those of htable_test.h. */
#define HT_PTE_A	_BITULL(5)
#define HT_PTE_D	_BITULL(6)
#define HT_PTE_PS	_BITULL(7)
#define HT_PTE_LOCK	_BITULL(9)

/* The tag word: word 1 of a page, which no verify window writes. */
#define HT_TAG_OFF	8

struct ht_page {
	__u64 va;
	__u64 pfn;
	__u32 flags;
	__u8 level;
	__u8 stolen;
	__u8 ad;
	__u8 pad;
	__u64 bid;
	__u64 tag;
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
 * Tables a hat has besides those its own pages need (HTABLE_IOC_SHARE):
 * @tab0 lists the 2 MiB regions (their first va) where the hat keeps a
 * leaf table of its own that another hat shares, with or without pages;
 * @link0 those where the hat links another hat's leaf table. Each list
 * is sorted and without repeats.
 */
struct ht_model_extra {
	const __u64 *tab0;
	size_t ntab0;
	const __u64 *link0;
	size_t nlink0;
};

/*
 * ht_model_expect() for a model with large pages, stolen translations
 * and shared tables (@x may be NULL). The table rule, generalized:
 * a present page is an entry at its level; a table of level L below the
 * top exists iff an entry of level <= L lies under it, or a @tab0
 * region (level 0 and up) or a @link0 region (level 1 and up) does.
 * valid[0] counts present 4 KiB entries; valid[L] the tables of level
 * L - 1, the large entries of level L and, at level 1, the links of
 * @link0. locked counts locked entries (a large page once);
 * mapped_pages the present pages; owned_pages every page.
 */
void ht_model_expect_ext(const struct ht_model *m, int levels,
			 const struct ht_model_extra *x,
			 struct htable_info *exp);

/*
 * The index of the first page of the entry that maps m->pg[@i] (its
 * aligned block for a large page), and the number of pages in it.
 */
size_t ht_model_entry(const struct ht_model *m, size_t i, size_t *n);

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
 * ht_probe_selfcheck() for an entry of any level: the PS bit set exactly
 * for a large page, the entry's frame aligned to its size and pfn that
 * frame plus the page's offset in it, LOCKED, ACCESSED and DIRTY as bits
 * 9, 5 and 6 say.
 */
int ht_probe_selfcheck_level(const struct htable_probe *p);

/*
 * PROBE @va and compare with @pg as ht_verify_probe() does, but learning
 * and comparing no pfn: flags (hardware bits aside) and the entry's own
 * consistency. Identity is for the tags (ht_verify_tags()).
 */
int ht_verify_probe_flags(int fd, __u64 va, const struct ht_page *pg);

/* RW of the tag word of the page at @va: 0 or -errno. */
int ht_tag_read(int fd, __u64 va, __u64 *tag);
int ht_tag_write(int fd, __u64 va, __u64 tag);

/* The @n-th tag of a sequence named by @salt: distinct, never zero. */
__u64 ht_tag_make(__u64 salt, __u64 n);

/*
 * Write a fresh tag into every page of the range the model holds that
 * is not an alias (the @salt sequence, from *@next on) and remember it
 * in the model; the aliases of those pages are not touched. Returns the
 * number of RW failures.
 */
int ht_model_write_tags(int fd, struct ht_model *m, __u64 va, __u64 npages,
			__u64 salt, __u64 *next);

/*
 * Read the tag of the pages of the range the model holds (every
 * @stride-th one, the first and the last; all when @stride <= 1) through
 * RW and compare it with the model's. Returns the number that differ.
 */
int ht_verify_tags(int fd, const struct ht_model *m, __u64 va, __u64 npages,
		   size_t stride);

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
