// SPDX-License-Identifier: GPL-2.0
/*
 * The hash of a hat's tables (the seed's hat_ht_hash), by (va, level): the
 * way every walk finds the structure of a lower table. Sized to the hat
 * and grown with it; each bucket is guarded by one of the 128 hashed
 * locks, HTABLE_LOCK(). Documentation/design.rst, "The hash".
 */
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include <htable/fail.h>
#include <htable/htable.h>

/*
 * The hash is sized to the hat, as illumos sizes hat_num_hash by use: one
 * bucket for a new hat, doubled whenever the tables, with those the call
 * about to run may add, outnumber the buckets twice over, so that the
 * hash costs at most a pointer per table. Growing
 * takes hat_seg_lock for write, which waits for every call in the hat: it
 * is done when the lock is free, and waited for only once the chains are
 * HAT_HASH_LOAD_WAIT long.
 */
#define HAT_HASH_MIN		1
#define HAT_HASH_MAX		BIT(20)
#define HAT_HASH_LOAD		2
#define HAT_HASH_LOAD_WAIT	16

/**
 * htable_hash_init() - give a new hat its hash: one bucket, to grow
 * @hat:	the hat
 *
 * Return: 0, or -ENOMEM.
 */
int htable_hash_init(struct hat *hat)
{
	hat->hat_num_hash = HAT_HASH_MIN;
	/* Spread the small hashes of many hats over the 128 locks. */
	hat->hat_lock_salt = hash_ptr(hat, ilog2(NUM_HTABLE_MUTEX));
	if (htable_should_fail(HTABLE_FAIL_HASH))
		return -ENOMEM;
	hat->hat_ht_hash = kvcalloc(hat->hat_num_hash, sizeof(*hat->hat_ht_hash),
				    HTABLE_GFP);
	return hat->hat_ht_hash ? 0 : -ENOMEM;
}

/**
 * htable_unhash() - remove @ht from bucket @h of its hat's hash
 * @ht:		a hashed table
 * @h:		its bucket; that bucket's lock is held
 */
void htable_unhash(struct htable *ht, unsigned int h)
{
	struct hat *hat = ht->ht_hat;

	lockdep_assert_held(HTABLE_LOCK(hat, h));
	if (ht->ht_next)
		ht->ht_next->ht_prev = ht->ht_prev;
	if (ht->ht_prev) {
		ht->ht_prev->ht_next = ht->ht_next;
	} else {
		WARN_ON_ONCE(hat->hat_ht_hash[h] != ht);
		hat->hat_ht_hash[h] = ht->ht_next;
	}
	ht->ht_next = NULL;
	ht->ht_prev = NULL;
	atomic_dec(&hat->hat_ntables);
	/* A shared table's page is counted once, in its owner. */
	if (!(ht->ht_flags & HTABLE_SHARED))
		atomic_long_dec(&htable_level_tables[ht->ht_level]);
}

/* Add @ht to @hash[@h], no counts; the caller excludes everyone else. */
static void htable_hash_insert(struct htable **hash, struct htable *ht,
			       unsigned int h)
{
	ht->ht_prev = NULL;
	ht->ht_next = hash[h];
	if (ht->ht_next)
		ht->ht_next->ht_prev = ht;
	hash[h] = ht;
}

/**
 * htable_hash() - add @ht to bucket @h of its hat's hash
 * @ht:		a table of the hat, not hashed
 * @h:		HTABLE_HASH() of its va and level; that bucket's lock is held
 */
void htable_hash(struct htable *ht, unsigned int h)
{
	struct hat *hat = ht->ht_hat;

	lockdep_assert_held(HTABLE_LOCK(hat, h));
	htable_hash_insert(hat->hat_ht_hash, ht, h);
	atomic_inc(&hat->hat_ntables);
	if (!(ht->ht_flags & HTABLE_SHARED))
		atomic_long_inc(&htable_level_tables[ht->ht_level]);
}

/**
 * htable_tables_spanned() - the most tables a call on a range can add
 * @hat:	the hat
 * @va:		first va of the range
 * @eaddr:	its end (exclusive), above @va
 * @level:	the level of the pages it maps (0 for 4 KiB)
 *
 * Return: how many tables of @level up to the level below the top cover
 * [@va, @eaddr): what a MAP or a RELOAD of the range may add to the hash.
 */
unsigned long htable_tables_spanned(struct hat *hat, unsigned long va,
				    unsigned long eaddr, unsigned int level)
{
	unsigned long n = 0;
	unsigned int l;

	/* A table of level l spans LEVEL_SIZE(l + 1). */
	for (l = level; l < TOP_LEVEL(hat); l++)
		n += ((eaddr - 1) >> LEVEL_SHIFT(l + 1)) - (va >> LEVEL_SHIFT(l + 1)) + 1;
	return n;
}

/**
 * htable_hash_wants_growth() - will @hat's tables outnumber its buckets?
 * @hat:	the hat
 * @extra:	tables the caller is about to add (htable_tables_spanned())
 * @wait:	ask whether growth is worth waiting for hat_seg_lock
 *
 * Return: true when htable_hash_grow() would grow the hash (and, with
 * @wait, the chains would be long). Read without a lock: a hint for
 * callers that are about to add tables.
 */
bool htable_hash_wants_growth(struct hat *hat, unsigned long extra, bool wait)
{
	unsigned int n = READ_ONCE(hat->hat_num_hash);

	return atomic_read(&hat->hat_ntables) + extra >
	       (wait ? HAT_HASH_LOAD_WAIT : HAT_HASH_LOAD) * (unsigned long)n &&
	       n < HAT_HASH_MAX;
}

/**
 * htable_hash_grow() - double @hat's hash until it fits its tables
 * @hat:	the hat; its hat_seg_lock is held for write, which keeps every
 *		other user of the hash out (stealing only tries that lock,
 *		and PROBE does not use the hash)
 * @extra:	tables the caller is about to add: sized for them now, one
 *		large MAP never builds thousands of tables into a hash sized
 *		for the few it had (each lookup would walk a long chain, and
 *		a steal, which takes one table per bucket, would take few)
 *
 * Return: 0, or -ENOMEM (the old hash stays, as good as it was).
 */
int htable_hash_grow(struct hat *hat, unsigned long extra)
{
	unsigned long want = atomic_read(&hat->hat_ntables) + extra;
	unsigned int n = hat->hat_num_hash, h, nh;
	struct htable **hash, *ht, *next;

	lockdep_assert_held_write(&hat->hat_seg_lock);
	while (want > HAT_HASH_LOAD * (unsigned long)n && n < HAT_HASH_MAX)
		n *= 2;
	if (n == hat->hat_num_hash)
		return 0;
	if (htable_should_fail(HTABLE_FAIL_HASH))
		return -ENOMEM;
	hash = kvcalloc(n, sizeof(*hash), HTABLE_GFP);
	if (!hash)
		return -ENOMEM;
	for (h = 0; h < hat->hat_num_hash; h++) {
		for (ht = hat->hat_ht_hash[h]; ht; ht = next) {
			next = ht->ht_next;
			nh = htable_hash_index(hat, ht->ht_vaddr, ht->ht_level, n);
			htable_hash_insert(hash, ht, nh);
		}
	}
	kvfree(hat->hat_ht_hash);
	hat->hat_ht_hash = hash;
	WRITE_ONCE(hat->hat_num_hash, n);
	return 0;
}

/**
 * htable_find() - the table of (@va, @level) in bucket @h, or NULL
 * @hat:	the hat
 * @h:		HTABLE_HASH() of @va and @level; that bucket's lock is held
 * @va:		the table's first va
 * @level:	its level
 */
struct htable *htable_find(struct hat *hat, unsigned int h,
			   unsigned long va, unsigned int level)
{
	struct htable *ht;

	lockdep_assert_held(HTABLE_LOCK(hat, h));
	for (ht = hat->hat_ht_hash[h]; ht; ht = ht->ht_next)
		if (ht->ht_vaddr == va && ht->ht_level == level)
			return ht;
	return NULL;
}

/**
 * htable_lookup() - find the table of @level covering @va, and hold it
 * @hat:	the hat
 * @va:		any va the table would map
 * @level:	0..TOP_LEVEL
 *
 * Return: the table with a hold the caller must release, or NULL.
 */
struct htable *htable_lookup(struct hat *hat, unsigned long va,
			     unsigned int level)
{
	unsigned long base = htable_base(va, level);
	unsigned int h = HTABLE_HASH(hat, base, level);
	struct htable *ht;

	spin_lock(HTABLE_LOCK(hat, h));
	ht = htable_find(hat, h, base, level);
	if (ht)
		ht->ht_busy++;
	spin_unlock(HTABLE_LOCK(hat, h));
	return ht;
}

