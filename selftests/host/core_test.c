// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the htable core (core_test.h says how they are
 * built and what they check): the geometry and every level boundary, the
 * busy and valid counts, the hash (collisions, growth, the salted
 * bucket locks), the reserve at empty and full, and the shim's own
 * lockdep, xarray and RCU, which the other tests lean on.
 */
#include "core_test.h"

/* Geometry: the shifts, the hole, va <-> entry at every level. */
TEST_F(core, geometry)
{
	unsigned int top = variant->levels - 1, l;
	struct htable *ht;

	ASSERT_EQ(top, mmu.max_level);
	EXPECT_EQ(1UL << (fake_shift(top) + 8), HTABLE_USER_END);
	EXPECT_EQ(~0UL - HTABLE_USER_END, mmu.hole_end);
	/* The top table's entry 256 is the first of the upper half. */
	ht = self->hat->hat_htable;
	EXPECT_EQ(0, htable_e2va(ht, 0));
	EXPECT_EQ(mmu.hole_end + 1, htable_e2va(ht, 256));
	EXPECT_EQ(~0UL - (1UL << fake_shift(top)) + 1, htable_e2va(ht, 511));
	for (l = 0; l < top; l++) {
		struct htable fake = { .ht_level = l, .ht_vaddr = 0 };
		unsigned long va = (1UL << fake_shift(l)) * 511;

		EXPECT_EQ(LEVEL_SIZE(l), 1UL << fake_shift(l));
		EXPECT_EQ(511, htable_va2entry(va, &fake));
		EXPECT_EQ(va, htable_e2va(&fake, 511));
		EXPECT_EQ(1, htable_va2entry(1UL << fake_shift(l), &fake));
	}
}

/* A walk that records the vas of the present page entries it is handed. */
struct test_collect {
	struct htable_walk w;
	unsigned long va[64];
	unsigned int n;
	unsigned int level[64];
};

static int test_collect_visit(struct htable_walk *w, struct htable *ht,
			      unsigned int e, unsigned int n, unsigned long va)
{
	struct test_collect *c = container_of(w, struct test_collect, w);
	unsigned int i;

	if (htable_e2va(ht, e) != (va & LEVEL_MASK(ht->ht_level)))
		TEST_BAD("run at entry %u of a level-%u table, va %#lx", e,
			 ht->ht_level, va);
	for (i = 0; i < n; i++) {
		x86pte_t pte = x86pte_get(ht, e + i);

		/* The walker hands runs of pages or slots, never a link. */
		if (ht->ht_level && PTE_ISVALID(pte) && !PTE_ISPAGE(pte, ht->ht_level))
			TEST_BAD("a link in a run, level %u entry %u", ht->ht_level, e + i);
		if (!PTE_ISPAGE(pte, ht->ht_level) || c->n == ARRAY_SIZE(c->va))
			continue;
		c->level[c->n] = ht->ht_level;
		c->va[c->n++] = htable_e2va(ht, e + i);
	}
	return 0;
}

/*
 * The two pages on each side of every level boundary, and the first and
 * last page of the user half: each maps exactly its page, the tables
 * between them are the ones the test predicts, both walkers find each
 * page once, in order, and unmapping frees all.
 */
TEST_F(core, level_boundaries)
{
	unsigned int top = variant->levels - 1, l, lv, i, n = 0;
	unsigned long va[2 * MAX_NUM_LEVEL + 2], cnt[MAX_NUM_LEVEL];
	struct hat *hat = self->hat;
	unsigned long tables = 0;
	struct check_report c;

	for (l = 1; l <= top; l++) {
		unsigned long b = 1UL << fake_shift(l);

		va[n++] = b - PAGE_SIZE;
		va[n++] = b;
	}
	va[n++] = 0;
	va[n++] = HTABLE_USER_END - PAGE_SIZE;
	for (i = 0; i < n; i++)
		EXPECT_EQ(0, map_page(hat, va[i], 0, 0));
	for (i = 0; i < n; i++) {
		x86pte_t pte = fake_translate(hat, va[i], &lv);

		ASSERT_NE(FAKE_BAD_LINK, pte);
		EXPECT_EQ(0, lv);
		EXPECT_EQ(pfn_of(va[i]), PTE2PFN(pte)) TH_LOG("va %#lx", va[i]);
		/* Neighbours are not mapped. */
		EXPECT_EQ(0, fake_translate(hat, va[i] + PAGE_SIZE * 2, NULL));
	}
	/*
	 * Distinct tables: at level l (below the top) one per distinct
	 * va >> shift(l + 1). Count them the test's way and compare with
	 * the linked tree and with the core's own counters.
	 */
	fake_count_tables(hat, cnt);
	for (l = 0; l < top; l++) {
		unsigned long seen[2 * MAX_NUM_LEVEL + 2];
		unsigned int j, k, d = 0;

		for (j = 0; j < n; j++) {
			unsigned long key = va[j] >> fake_shift(l + 1);

			for (k = 0; k < d && seen[k] != key; k++)
				;
			if (k == d)
				seen[d++] = key;
		}
		EXPECT_EQ(d, cnt[l]) TH_LOG("level %u", l);
		EXPECT_EQ(d, atomic_long_read(&htable_level_tables[l]));
	}
	EXPECT_EQ(1, cnt[top]);
	/*
	 * CHECK agrees: no error, every table the test's walk counted, and
	 * an entry for each page mapped and for each link (one per table
	 * but the top).
	 */
	for (l = 0; l <= top; l++)
		tables += cnt[l];
	EXPECT_EQ(0, test_check(hat, &c));
	EXPECT_EQ(tables, c.tables);
	EXPECT_EQ(n + tables - 1, c.entries);
	/* Each table's ht_valid_cnt is what its page holds. */
	for (l = 0; l < top; l++) {
		for (i = 0; i < n; i++) {
			struct htable *ht = htable_lookup(hat, va[i], l);

			ASSERT_NE(NULL, ht);
			EXPECT_EQ(fake_present(ht), atomic_read(&ht->ht_valid_cnt));
			/* Our hold only: leaves are held by nobody else. */
			if (!l)
				EXPECT_EQ(1, ht->ht_busy);
			htable_release(ht, NULL);
		}
	}
	/* The range walker visits them in order, over the whole user half. */
	{
		struct test_collect c = {
			.w = { .hat = hat, .visit = test_collect_visit },
		};
		struct htable_batch b;

		htable_batch_init(&b, hat);
		c.w.b = &b;
		down_read(&hat->hat_seg_lock);
		EXPECT_EQ(0, htable_walk_range(&c.w, 0, HTABLE_USER_END));
		up_read(&hat->hat_seg_lock);
		htable_batch_finish(&b);
		ASSERT_EQ(n, c.n);
		/* va[] is in rising order but for the last two: 0 and the end. */
		EXPECT_EQ(0, c.va[0]);
		EXPECT_EQ(HTABLE_USER_END - PAGE_SIZE, c.va[n - 1]);
		for (i = 0; i + 2 < n; i++)
			EXPECT_EQ(va[i], c.va[i + 1]);
		for (i = 0; i < n; i++)
			EXPECT_EQ(0, c.level[i]);
	}
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, unmap_page(hat, va[i]));
	fake_count_tables(hat, cnt);
	for (l = 0; l < top; l++) {
		EXPECT_EQ(0, cnt[l]);
		EXPECT_EQ(0, atomic_long_read(&htable_level_tables[l]));
	}
	EXPECT_EQ(0, atomic_read(&hat->hat_htable->ht_valid_cnt));
	/* Emptied tables went to the hat's cache, not away. */
	EXPECT_EQ(atomic_long_read(&active_ptables) - 1, atomic_long_read(&htable_nr_cached));
	EXPECT_GE(atomic_long_read(&htable_nr_cached), 2 * top);
}

/* Busy and valid counts through create, a second create, and release. */
TEST_F(core, lifecycle_counts)
{
	struct hat *hat = self->hat;
	unsigned int top = variant->levels - 1, l;
	unsigned long va = 0x40201000UL;
	struct htable *leaf, *again, *ht;

	leaf = htable_create(hat, va, 0);
	ASSERT_NE(NULL, leaf);
	EXPECT_EQ(1, leaf->ht_busy);
	EXPECT_EQ(0, atomic_read(&leaf->ht_valid_cnt));
	/* Every table above holds one link and one hold (its child's). */
	for (ht = leaf->ht_parent, l = 1; ht; ht = ht->ht_parent, l++) {
		EXPECT_EQ(l, ht->ht_level);
		EXPECT_EQ(1, atomic_read(&ht->ht_valid_cnt));
		EXPECT_EQ(1, fake_present(ht));
		/* The top also has its hat's hold. */
		EXPECT_EQ(l == top ? 2 : 1, ht->ht_busy);
	}
	EXPECT_EQ(top + 1, l);
	EXPECT_EQ(top + 2, atomic_long_read(&active_ptables) + 1);
	/* The hash holds the top and the new tables; nothing was unlinked. */
	EXPECT_EQ(top + 1, atomic_read(&hat->hat_ntables));
	EXPECT_EQ(0, atomic_long_read(&hat->hat_unlinks));
	again = htable_create(hat, va + PAGE_SIZE, 0);
	EXPECT_EQ(leaf, again);
	EXPECT_EQ(2, leaf->ht_busy);
	EXPECT_EQ(leaf, htable_lookup(hat, va + 7 * PAGE_SIZE, 0));
	EXPECT_EQ(3, leaf->ht_busy);
	htable_release(leaf, NULL);
	htable_release(leaf, NULL);
	EXPECT_EQ(1, leaf->ht_busy);
	EXPECT_EQ(0, atomic_long_read(&htable_nr_cached));
	/* The last hold on an empty leaf frees it and every empty parent. */
	shim_machine.ipi_rounds = 0;
	htable_release(leaf, NULL);
	EXPECT_EQ(top, atomic_long_read(&htable_nr_cached));
	/* Each freed table was unlinked once, for the lockless walker. */
	EXPECT_EQ(top, atomic_long_read(&hat->hat_unlinks));
	EXPECT_EQ(1, atomic_read(&hat->hat_ntables));
	EXPECT_EQ(NULL, htable_lookup(hat, va, 0));
	EXPECT_EQ(0, fake_present(hat->hat_htable));
	EXPECT_EQ(1, hat->hat_htable->ht_busy);
	/* Live on no CPU: no shootdown was needed. */
	EXPECT_EQ(0, shim_machine.ipi_rounds);
	/* A new create reuses the cached tables, zeroed. */
	leaf = htable_create(hat, va, 0);
	ASSERT_NE(NULL, leaf);
	EXPECT_EQ(0, atomic_long_read(&htable_nr_cached));
	EXPECT_EQ(0, fake_present(leaf));
	htable_release(leaf, NULL);
}

/*
 * A walk of a range inside one table of its level that exists starts at
 * that table: one lookup and one release, two bucket-lock round trips,
 * not two per level above it. Any other range descends from the top. The
 * runs handed over are the same either way.
 */
TEST_F(core, walk_starts_at_its_table)
{
	struct hat *hat = self->hat;
	unsigned int top = variant->levels - 1, i, lv;
	unsigned long va = 0x40200000UL, two_mb = 1UL << fake_shift(1);
	struct test_collect c = { .w = { .hat = hat, .visit = test_collect_visit } };
	struct test_map m = {
		.w = { .hat = hat, .create = true, .visit = test_map_visit },
		.pte = pte_of(va + 9 * PAGE_SIZE, 0, 0),
	};
	struct htable_batch b;
	long locks;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, map_page(hat, va + i * PAGE_SIZE, 0, 0));
	ASSERT_EQ(0, map_page(hat, va + two_mb, 0, 0));
	htable_batch_init(&b, hat);
	c.w.b = &b;
	m.w.b = &b;
	down_write(&hat->hat_seg_lock);
	/* Inside the first leaf: its lookup and its release. */
	locks = shim_spin_locks;
	EXPECT_EQ(0, htable_walk_range(&c.w, va + PAGE_SIZE, va + 16 * PAGE_SIZE));
	EXPECT_EQ(2, shim_spin_locks - locks);
	ASSERT_EQ(3, c.n);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(va + (i + 1) * PAGE_SIZE, c.va[i]);
	/* Creating an entry there is the same: the table is found, not made. */
	locks = shim_spin_locks;
	EXPECT_EQ(0, htable_walk_range(&m.w, va + 9 * PAGE_SIZE, va + 10 * PAGE_SIZE));
	EXPECT_EQ(2, shim_spin_locks - locks);
	EXPECT_EQ(1, m.runs);
	EXPECT_EQ(pfn_of(va + 9 * PAGE_SIZE),
		  PTE2PFN(fake_translate(hat, va + 9 * PAGE_SIZE, &lv)));
	/* Over both leaves: from the top, a lookup and a release per table. */
	c.n = 0;
	locks = shim_spin_locks;
	EXPECT_EQ(0, htable_walk_range(&c.w, va, va + two_mb + PAGE_SIZE));
	EXPECT_EQ(2 * (top - 1 + 2), shim_spin_locks - locks);
	EXPECT_EQ(6, c.n);
	EXPECT_EQ(va + two_mb, c.va[5]);
	/*
	 * In a leaf that does not exist: the lookup misses, and the walk
	 * descends to the hole in the level-1 table.
	 */
	c.n = 0;
	locks = shim_spin_locks;
	EXPECT_EQ(0, htable_walk_range(&c.w, va + 5 * two_mb, va + 5 * two_mb + PAGE_SIZE));
	EXPECT_EQ(1 + 2 * (top - 1), shim_spin_locks - locks);
	EXPECT_EQ(0, c.n);
	up_write(&hat->hat_seg_lock);
	htable_batch_finish(&b);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, unmap_page(hat, va + i * PAGE_SIZE));
	ASSERT_EQ(0, unmap_page(hat, va + 9 * PAGE_SIZE));
	ASSERT_EQ(0, unmap_page(hat, va + two_mb));
	EXPECT_EQ(0, check_errors(hat));
}

/*
 * 64 leaf tables in one hash bucket: find each, unhash in any order. The
 * hash grows with the tables, so the vas are picked to share a bucket in
 * any hash of up to 4096 buckets (the bucket is the low bits of one sum).
 */
TEST_F(core, hash_collisions)
{
	struct hat *hat = self->hat;
	unsigned long vas[64], i, n = 0, two_mb = 1UL << fake_shift(1);
	unsigned int h0 = 0, h;
	bool ok;

	/* Level-0 tables whose 2 MiB base hashes where the first one does. */
	for (i = 1; n < 64 && i < (1UL << 24); i++) {
		unsigned long va = i * two_mb;

		if (va >= HTABLE_USER_END)
			break;
		h = htable_hash_index(hat, va, 0, 4096);
		if (!n)
			h0 = h;
		if (h == h0)
			vas[n++] = va;
	}
	ASSERT_EQ(64, n);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, map_page(hat, vas[i] + 5 * PAGE_SIZE, 0, 0));
	ASSERT_LE(hat->hat_num_hash, 4096);
	h0 = HTABLE_HASH(hat, vas[0], 0);
	EXPECT_GE(chain_len(hat, h0, &ok), 64);
	EXPECT_TRUE(ok);
	for (i = 0; i < n; i++) {
		struct htable *ht = htable_lookup(hat, vas[i], 0);

		ASSERT_NE(NULL, ht);
		EXPECT_EQ(vas[i], ht->ht_vaddr);
		EXPECT_EQ(0, ht->ht_level);
		htable_release(ht, NULL);
		EXPECT_EQ(pfn_of(vas[i] + 5 * PAGE_SIZE),
			  PTE2PFN(fake_translate(hat, vas[i] + 5 * PAGE_SIZE, NULL)));
	}
	/* Remove from the middle, the head and the tail of the chain. */
	for (i = 0; i < n; i++) {
		unsigned long k = (i * 37) % n;

		ASSERT_EQ(0, unmap_page(hat, vas[k] + 5 * PAGE_SIZE));
		EXPECT_EQ(NULL, htable_lookup(hat, vas[k], 0));
		chain_len(hat, h0, &ok);
		ASSERT_TRUE(ok);
	}
	EXPECT_EQ(0, atomic_long_read(&htable_level_tables[0]));
}

/* The reserve: drained to empty, refilled past full, trimmed back. */
TEST_F(core, reserve_empty_and_full)
{
	struct htable *got[32];
	long live = htable_cache->live.counter;
	unsigned int i;

	for (i = 0; i < 16; i++) {
		got[i] = htable_get_reserve();
		ASSERT_NE(NULL, got[i]);
		EXPECT_EQ(NULL, got[i]->ht_page);
	}
	EXPECT_EQ(0, htable_reserve_cnt);
	EXPECT_EQ(NULL, htable_get_reserve());
	EXPECT_EQ(16, stat(STAT_hs_htable_rgets));
	/* Empty reserve, must not allocate: creating a table fails cleanly. */
	shim_machine.atomic_ctx = true;
	EXPECT_EQ(NULL, htable_create(self->hat, 0x200000, 0));
	EXPECT_EQ(0, fake_present(self->hat->hat_htable));
	EXPECT_EQ(1, self->hat->hat_htable->ht_busy);
	shim_machine.atomic_ctx = false;
	EXPECT_EQ(live, htable_cache->live.counter);
	/* Over-full: every structure goes back, then the trim frees 6. */
	for (i = 0; i < 16; i++)
		htable_put_reserve(got[i]);
	for (i = 16; i < 22; i++) {
		got[i] = kmem_cache_zalloc(htable_cache, GFP_KERNEL);
		ASSERT_NE(NULL, got[i]);
		htable_put_reserve(got[i]);
	}
	EXPECT_EQ(22, htable_reserve_cnt);
	EXPECT_EQ(6, htable_adjust_reserve());
	EXPECT_EQ(16, htable_reserve_cnt);
	EXPECT_EQ(0, htable_adjust_reserve());
	/* A smaller amount trims to it. */
	htable_reserve_amount = 3;
	EXPECT_EQ(13, htable_adjust_reserve());
	EXPECT_EQ(3, htable_reserve_cnt);
	EXPECT_EQ(live - 13, htable_cache->live.counter);
	/* A successful allocation tops a short reserve up first. */
	htable_reserve_amount = 10;
	ASSERT_EQ(0, map_page(self->hat, 0x200000, 0, 0));
	EXPECT_EQ(10, htable_reserve_cnt);
	/* In atomic context, tables come from the reserve (pages still come). */
	shim_machine.atomic_ctx = true;
	ASSERT_EQ(0, map_page(self->hat, 1UL << fake_shift(2), 0, 0));
	shim_machine.atomic_ctx = false;
	EXPECT_EQ(8, htable_reserve_cnt);
	/* A full reserve sends freed structures to the slab. */
	htable_reserve_amount = 8;
	live = htable_cache->live.counter;
	atomic_inc(&htable_dont_cache);
	ASSERT_EQ(0, unmap_page(self->hat, 1UL << fake_shift(2)));
	atomic_dec(&htable_dont_cache);
	EXPECT_EQ(8, htable_reserve_cnt);
	EXPECT_EQ(live - 2, htable_cache->live.counter);
}

/*
 * The hash grows with the hat: tables at every level, mapped until the
 * hash has doubled six times. Then every table is in the bucket its hash
 * says, htable_lookup() finds each one the test's walk reaches, the hash
 * is the size its policy gives for the test's count of tables, and a
 * growth that can't allocate fails the map and changes nothing.
 */
static unsigned long grow_va(unsigned int n)
{
	/* 4 level-2 and 32 level-1 tables; a leaf per va, each page apart. */
	return ((unsigned long)(n & 3) << fake_shift(3)) +
	       ((unsigned long)((n >> 2) & 7) << fake_shift(2)) +
	       ((unsigned long)(n >> 5) << fake_shift(1)) +
	       (unsigned long)((n * 7) % 512) * PAGE_SIZE;
}

/* Every mapped va of @n is found, at every level, where the test's walk is. */
static unsigned int grow_check(struct hat *hat, unsigned int n)
{
	unsigned int i, l, bad = 0;
	struct htable *ht;

	for (i = 0; i < n; i++) {
		unsigned long va = grow_va(i);

		if (fake_translate(hat, va, NULL) != pte_of(va, 0, 0))
			bad++;
		for (l = 0; l < mmu.max_level; l++) {
			ht = htable_lookup(hat, va, l);
			if (!ht) {
				bad++;
				continue;
			}
			if (ht->ht_level != l || ht->ht_vaddr != (va & LEVEL_MASK(l + 1)) ||
			    arch_page_to_phys(ht->ht_page) != fake_table(hat, va, l))
				bad++;
			htable_release(ht, NULL);
		}
	}
	return bad;
}

TEST_F(core, hash_grows_and_finds_every_table)
{
	struct hat *hat = self->hat;
	unsigned int n0 = hat->hat_num_hash, n = 0, h, want, i;
	unsigned long cnt[MAX_NUM_LEVEL], total = 0, hashed = 0;
	struct htable *ht;
	bool ok;

	while (hat->hat_num_hash < 64 * n0) {
		ASSERT_LT(n, 512);
		ASSERT_EQ(0, map_page(hat, grow_va(n), 0, 0));
		n++;
	}
	fake_count_tables(hat, cnt);
	for (i = 0; i < MAX_NUM_LEVEL; i++)
		total += cnt[i];
	EXPECT_EQ(total, atomic_read(&hat->hat_ntables));
	/* Each table once, in the bucket its va and level hash to. */
	for (h = 0; h < hat->hat_num_hash; h++) {
		hashed += chain_len(hat, h, &ok);
		EXPECT_TRUE(ok) TH_LOG("bucket %u", h);
		for (ht = hat->hat_ht_hash[h]; ht; ht = ht->ht_next)
			EXPECT_EQ(h, HTABLE_HASH(hat, ht->ht_vaddr, ht->ht_level));
	}
	EXPECT_EQ(total, hashed);
	EXPECT_EQ(0, grow_check(hat, n));
	EXPECT_EQ(0, check_errors(hat));
	/* The policy: the fewest buckets (a power of two) with 2 tables each. */
	for (want = n0; total > 2 * want; want *= 2)
		;
	down_write(&hat->hat_seg_lock);
	EXPECT_EQ(0, htable_hash_grow(hat, 0));
	up_write(&hat->hat_seg_lock);
	EXPECT_EQ(want, hat->hat_num_hash);

	/* Growing fails: the map that needs it fails, and nothing changed. */
	htable_fail_sites = BIT(HTABLE_FAIL_HASH);
	htable_fail_nth_set(1);
	want = hat->hat_num_hash;
	for (i = 0; i < 4 * want; i++, n++) {
		ASSERT_LT(n, 1024);
		if (map_page(hat, grow_va(n), 0, 0))
			break;
	}
	ASSERT_LT(i, 4 * want);
	EXPECT_EQ(want, hat->hat_num_hash);
	EXPECT_EQ(0, fake_translate(hat, grow_va(n), NULL));
	EXPECT_EQ(0, grow_check(hat, n));
	htable_fail_nth_set(0);
	htable_fail_sites = HTABLE_FAIL_DEFAULT_SITES;
	ASSERT_EQ(0, map_page(hat, grow_va(n), 0, 0));
	EXPECT_EQ(2 * want, hat->hat_num_hash);
	EXPECT_EQ(0, grow_check(hat, n + 1));
	EXPECT_EQ(0, check_errors(hat));

	/* What a call over a range may add: a table per level and span. */
	EXPECT_EQ(TOP_LEVEL(hat), htable_tables_spanned(hat, 0, LEVEL_SIZE(1), 0));
	EXPECT_EQ(512 + TOP_LEVEL(hat) - 1,
		  htable_tables_spanned(hat, 0, LEVEL_SIZE(2), 0));
	EXPECT_EQ(2 + TOP_LEVEL(hat) - 1,
		  htable_tables_spanned(hat, LEVEL_SIZE(1) - PAGE_SIZE,
					LEVEL_SIZE(1) + PAGE_SIZE, 0));
	EXPECT_EQ(TOP_LEVEL(hat) - 1, htable_tables_spanned(hat, 0, LEVEL_SIZE(2), 1));
	/* The hash is grown for those too: the fewest buckets, 2 tables each. */
	want = hat->hat_num_hash;
	total = atomic_read(&hat->hat_ntables) + 8UL * want;
	EXPECT_TRUE(htable_hash_wants_growth(hat, 8UL * want, false));
	down_write(&hat->hat_seg_lock);
	EXPECT_EQ(0, htable_hash_grow(hat, 8UL * want));
	up_write(&hat->hat_seg_lock);
	EXPECT_LE(total, 2UL * hat->hat_num_hash);
	EXPECT_GT(total, hat->hat_num_hash);
	EXPECT_EQ(0, grow_check(hat, n + 1));
}

/* The index in htable_mutex[] of the hashed lock @l. */
static unsigned int lock_index(spinlock_t *l)
{
	return container_of(l, struct htable_hashed_lock, lock) - htable_mutex;
}

/*
 * The hashed locks: bucket h of a hat is under htable_mutex[(h + salt) %
 * 128], the salt the hat's own, so that the one-bucket hashes of many hats
 * don't all share lock 0; and lockdep tells another hat's lock for the
 * same bucket from the right one.
 */
TEST_F(core, hashed_locks_salted_per_hat)
{
	struct hat *hats[16], *a = self->hat, *b = NULL;
	bool used[NUM_HTABLE_MUTEX] = { false };
	unsigned int i, distinct = 0, h;
	struct htable *ht;

	hats[0] = a;
	for (i = 1; i < ARRAY_SIZE(hats); i++) {
		hats[i] = test_hat_new();
		ASSERT_NE(NULL, hats[i]);
	}
	for (i = 0; i < ARRAY_SIZE(hats); i++) {
		h = lock_index(HTABLE_LOCK(hats[i], 0));
		distinct += !used[h];
		used[h] = true;
	}
	/* 16 hats, 128 locks: a spread salt leaves few collisions. */
	EXPECT_GT(distinct, 8);
	/* One hat's 128 buckets use every lock once. */
	memset(used, 0, sizeof(used));
	for (h = 0, distinct = 0; h < NUM_HTABLE_MUTEX; h++) {
		i = lock_index(HTABLE_LOCK(a, h));
		distinct += !used[i];
		used[i] = true;
	}
	EXPECT_EQ(NUM_HTABLE_MUTEX, distinct);

	ht = htable_create(a, 0x200000, 0);
	ASSERT_NE(NULL, ht);
	h = HTABLE_HASH(a, ht->ht_vaddr, 0);
	for (i = 1; i < ARRAY_SIZE(hats) && !b; i++)
		if (HTABLE_LOCK(hats[i], h) != HTABLE_LOCK(a, h))
			b = hats[i];
	ASSERT_NE(NULL, b);
	/* b's lock for the same bucket is no lock of a's bucket: two WARNs. */
	spin_lock(HTABLE_LOCK(b, h));
	EXPECT_TRUE(htable_unlink(ht, h));
	spin_unlock(HTABLE_LOCK(b, h));
	EXPECT_EQ(2, shim_warnings);	/* htable_unlink's and htable_unhash's */
	self->warnings = 2;
	ht->ht_busy = 0;
	htable_free(ht);
	/* The level-1 table kept the leaf's hold: drop it. */
	ht = htable_lookup(a, 0x200000, 1);
	ASSERT_NE(NULL, ht);
	htable_release(ht, NULL);
	htable_release(ht, NULL);
}

/* The shim's lockdep catches a missing lock (so the core's asserts bite). */
TEST_F(core, lockdep_catches_missing_lock)
{
	struct hat *hat = self->hat;
	struct htable *ht = htable_create(hat, 0x200000, 0);
	unsigned int h;

	ASSERT_NE(NULL, ht);
	h = HTABLE_HASH(hat, ht->ht_vaddr, 0);
	spin_lock(HTABLE_LOCK(hat, h));
	EXPECT_TRUE(htable_unlink(ht, h));
	spin_unlock(HTABLE_LOCK(hat, h));
	EXPECT_EQ(0, shim_warnings);
	/* Put it back, then unlink without the bucket lock: one WARN. */
	ht->ht_busy = 0;
	htable_free(ht);
	ht = htable_create(hat, 0x200000, 0);
	ASSERT_NE(NULL, ht);
	EXPECT_TRUE(htable_unlink(ht, h));
	EXPECT_EQ(2, shim_warnings);	/* htable_unlink's and htable_unhash's */
	self->warnings = 2;
	ht->ht_busy = 0;
	htable_free(ht);
	/* The level-1 table kept the leaf's hold: drop it. */
	ht = htable_lookup(hat, 0x200000, 1);
	ASSERT_NE(NULL, ht);
	htable_release(ht, NULL);
	htable_release(ht, NULL);
}

/* ---- the shim's own checks: the tests above lean on them ---- */

/*
 * The shim's xarray against a plain array: random stores, erases and
 * replacements over sparse indices, then every load, xa_find, and an xas
 * walk that pauses (as the core's do every XA_CHECK_SCHED entries) and
 * erases as it goes.
 */
TEST(shim_xarray_matches_a_model)
{
	static void *model[2048];
	struct xarray xa;
	unsigned long i, idx, n = 0, seen;
	unsigned int seed = 7;
	void *entry, *old;

	xa_init(&xa);
	for (i = 0; i < 20000; i++) {
		idx = rand_r(&seed) % 2048;
		entry = rand_r(&seed) % 3 ? xa_mk_value(rand_r(&seed)) : NULL;
		old = xa_store(&xa, idx * 4099, entry, GFP_KERNEL);
		ASSERT_EQ(model[idx], old);
		n += !model[idx] - !entry;
		model[idx] = entry;
	}
	EXPECT_EQ(n, xa.n);
	for (idx = 0; idx < 2048; idx++) {
		EXPECT_EQ(model[idx], xa_load(&xa, idx * 4099));
		EXPECT_EQ(NULL, xa_load(&xa, idx * 4099 + 1));
		i = idx * 4099;
		entry = xa_find(&xa, &i, ULONG_MAX, XA_PRESENT);
		for (seen = idx; seen < 2048 && !model[seen]; seen++)
			;
		EXPECT_EQ(seen < 2048 ? model[seen] : NULL, entry);
		if (entry)
			EXPECT_EQ(seen * 4099, i);
	}
	/* Walk [100, 1900] of the model's indices, pausing, erasing the odd. */
	{
		XA_STATE(xas, &xa, 100 * 4099);

		seen = 0;
		idx = 100;
		xas_lock(&xas);
		xas_for_each(&xas, entry, 1900 * 4099) {
			while (!model[idx])
				idx++;
			ASSERT_EQ(idx * 4099, xas.xa_index);
			ASSERT_EQ(model[idx], entry);
			if (idx & 1) {
				xas_store(&xas, NULL);
				model[idx] = NULL;
			}
			idx++;
			if (++seen % 7)
				continue;
			xas_pause(&xas);
			xas_unlock(&xas);
			xas_lock(&xas);
		}
		xas_unlock(&xas);
		while (idx <= 1900 && !model[idx])
			idx++;
		EXPECT_GT(idx, 1900);
	}
	for (idx = 0; idx < 2048; idx++)
		EXPECT_EQ(model[idx], xa_load(&xa, idx * 4099));
	/* Errors come back as errors; internal entries are refused. */
	shim_xa_fail_after = 0;
	EXPECT_EQ(-ENOMEM, xa_err(xa_store(&xa, 5, xa_mk_value(1), GFP_NOWAIT)));
	shim_xa_fail_after = -1;
	EXPECT_EQ(-EINVAL, xa_err(xa_store(&xa, 5, xa_mk_internal(1), GFP_NOWAIT)));
	EXPECT_EQ(1, shim_warnings);
	/* The value encoding keeps 63 bits, as the stolen records need. */
	EXPECT_EQ(~0UL >> 1, xa_to_value(xa_mk_value(~0UL >> 1)));
	EXPECT_TRUE(xa_is_value(xa_mk_value(0)));
	xa_destroy(&xa);
	EXPECT_TRUE(xa_empty(&xa));
}

struct rcu_test {
	bool in, out;
	int ran;
	struct rcu_head head;
};

static void rcu_test_cb(struct rcu_head *head)
{
	container_of(head, struct rcu_test, head)->ran++;
}

static void *rcu_test_reader(void *p)
{
	struct rcu_test *r = p;

	rcu_read_lock();
	__atomic_store_n(&r->in, true, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&r->out, __ATOMIC_SEQ_CST))
		sched_yield();
	/* Still inside: the callback queued meanwhile has not run. */
	if (__atomic_load_n(&r->ran, __ATOMIC_SEQ_CST) != 1)
		TEST_BAD("call_rcu ran under a reader");
	rcu_read_unlock();
	return NULL;
}

/* call_rcu() waits for a reader inside rcu_read_lock(), and only for it. */
TEST(shim_rcu_waits_for_readers)
{
	struct rcu_test r = { 0 };
	pthread_t t;

	call_rcu(&r.head, rcu_test_cb);
	EXPECT_EQ(1, r.ran);		/* no reader: at once */
	ASSERT_EQ(0, pthread_create(&t, NULL, rcu_test_reader, &r));
	while (!__atomic_load_n(&r.in, __ATOMIC_SEQ_CST))
		sched_yield();
	call_rcu(&r.head, rcu_test_cb);
	EXPECT_EQ(1, r.ran);
	EXPECT_EQ(1, shim_rcu_pending);
	__atomic_store_n(&r.out, true, __ATOMIC_SEQ_CST);
	synchronize_rcu();		/* waits for the reader to leave */
	EXPECT_EQ(2, r.ran);
	EXPECT_EQ(0, shim_rcu_pending);
	pthread_join(t, NULL);
	EXPECT_FALSE(rcu_read_lock_held());
	EXPECT_EQ(0, test_bad);
	EXPECT_EQ(0, shim_warnings);
}

/*
 * The shim's lockdep and atomic-context checks WARN where the kernel's
 * would: two locks of one class, an ABBA order, a sleep under a spinlock
 * or in an RCU read-side section; and not for a named subclass.
 */
TEST(shim_lockdep_catches_misuse)
{
	spinlock_t l[2], m, n;
	struct rw_semaphore s[2];
	unsigned int i;
	void *p;

	for (i = 0; i < 2; i++)
		spin_lock_init(&l[i]);	/* one site: one class */
	spin_lock_init(&m);
	spin_lock_init(&n);
	for (i = 0; i < 2; i++)
		init_rwsem(&s[i]);
	spin_lock(&l[0]);
	spin_lock(&l[1]);
	spin_unlock(&l[1]);
	spin_unlock(&l[0]);
	EXPECT_EQ(1, shim_warnings);
	spin_lock(&l[0]);
	spin_lock_nested(&l[1], 1);
	spin_unlock(&l[1]);
	spin_unlock(&l[0]);
	EXPECT_EQ(1, shim_warnings);
	spin_lock(&m);
	spin_lock(&n);
	spin_unlock(&n);
	spin_unlock(&m);
	EXPECT_EQ(1, shim_warnings);
	spin_lock(&n);
	spin_lock(&m);
	spin_unlock(&m);
	spin_unlock(&n);
	EXPECT_EQ(2, shim_warnings);
	/* rwsems of one class: the nested annotation tells them apart. */
	down_write(&s[0]);
	down_write_nested(&s[1], 1);
	up_write(&s[1]);
	up_write(&s[0]);
	EXPECT_EQ(2, shim_warnings);
	/* Sleeping under a spinlock, or in an RCU read-side section. */
	spin_lock(&m);
	p = kzalloc(8, GFP_KERNEL);
	kfree(p);
	p = kzalloc(8, GFP_NOWAIT);
	kfree(p);
	spin_unlock(&m);
	EXPECT_EQ(3, shim_warnings);
	rcu_read_lock();
	cond_resched();
	rcu_read_unlock();
	EXPECT_EQ(4, shim_warnings);
	cond_resched();
	EXPECT_EQ(4, shim_warnings);
	/* lockdep_assert_held_write() wants the write side, by this thread. */
	down_read(&s[0]);
	lockdep_assert_held(&s[0]);
	EXPECT_EQ(4, shim_warnings);
	lockdep_assert_held_write(&s[0]);
	EXPECT_EQ(5, shim_warnings);
	up_read(&s[0]);
}

TEST_HARNESS_MAIN
