// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the htable core's steal (core_test.h says how they
 * are built and what they check): a steal with every hat locked, the
 * order it takes tables in, a steal racing a mapper, and the stolen
 * records it leaves, taken back and failing.
 */
#include "core_test.h"

/* Fill the hats: @n leaf tables each with one page. */
static void fill(struct hat *hat, unsigned int n, unsigned long base)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		map_page(hat, base + i * (1UL << fake_shift(1)), 0, 0);
}

/*
 * Of the pages fill() mapped, those a steal took: each is either still in
 * its table or, exactly as mapped, in the hat's stolen records; never
 * both, never neither. Return: the stolen ones, or -1 on a mismatch.
 */
static long filled_stolen(struct hat *hat, unsigned int n, unsigned long base)
{
	unsigned long va;
	unsigned int i;
	long stolen = 0;
	x86pte_t pte, rec;

	for (i = 0; i < n; i++) {
		va = base + i * (1UL << fake_shift(1));
		pte = fake_translate(hat, va, NULL);
		rec = htable_stolen_pte(hat, va);
		if ((pte && rec) || (pte != pte_of(va, 0, 0) && rec != pte_of(va, 0, 0))) {
			TEST_BAD("va %#lx: entry %#llx, stolen %#llx", va, pte, rec);
			return -1;
		}
		stolen += !!rec;
	}
	return stolen;
}

/* With every hat's hat_seg_lock held, a steal finds nothing, changes nothing. */
TEST_F(core, steal_every_hat_locked)
{
	struct hat *a = self->hat, *b = test_hat_new();
	unsigned long before[MAX_NUM_LEVEL], after[MAX_NUM_LEVEL];
	struct htable *list, *ht;
	unsigned int got = 0;

	ASSERT_NE(NULL, b);
	fill(a, 8, 0x40000000UL);
	fill(b, 8, 0x80000000UL);
	fake_count_tables(a, before);
	down_write(&a->hat_seg_lock);
	/* Two of one lock class: lockdep wants them told apart. */
	down_write_nested(&b->hat_seg_lock, 1);
	EXPECT_EQ(NULL, htable_steal(4, false));
	up_write(&b->hat_seg_lock);
	up_write(&a->hat_seg_lock);
	fake_count_tables(a, after);
	EXPECT_EQ(0, memcmp(before, after, sizeof(before)));
	EXPECT_EQ(0, atomic_long_read(&a->hat_stolen));
	EXPECT_EQ(0, a->hat_flags & HAT_VICTIM);
	EXPECT_EQ(0, b->hat_flags & HAT_VICTIM);

	/* Hats being freed or already victims are skipped likewise. */
	spin_lock(&htable_hat_list_lock);
	a->hat_flags |= HAT_VICTIM;
	b->hat_flags |= HAT_FREEING;
	spin_unlock(&htable_hat_list_lock);
	EXPECT_EQ(NULL, htable_steal(4, false));
	spin_lock(&htable_hat_list_lock);
	a->hat_flags &= ~HAT_VICTIM;
	b->hat_flags &= ~HAT_FREEING;
	spin_unlock(&htable_hat_list_lock);

	/* Every leaf held (busy): nothing to take either. */
	{
		struct htable *held[16];
		unsigned int i;

		for (i = 0; i < 16; i++) {
			held[i] = htable_lookup(i < 8 ? a : b,
						(i < 8 ? 0x40000000UL : 0x80000000UL) +
						(i % 8) * (1UL << fake_shift(1)), 0);
			ASSERT_NE(NULL, held[i]);
		}
		EXPECT_EQ(NULL, htable_steal(4, false));
		for (i = 0; i < 16; i++)
			htable_release(held[i], NULL);
		fake_count_tables(a, after);
		EXPECT_EQ(0, memcmp(before, after, sizeof(before)));
	}

	/* Unlocked, the steal takes 4 leaves, with a shootdown to b's CPU. */
	b->hat_cpus->bits = 0x2;
	shim_machine.cr3[1] = arch_page_to_phys(b->hat_htable->ht_page);
	list = htable_steal(4, false);
	for (ht = list; ht; ht = ht->ht_next, got++) {
		EXPECT_EQ(NULL, ht->ht_hat);
		EXPECT_EQ(0, ht->ht_busy);
		EXPECT_EQ(0, fake_present(ht));
	}
	EXPECT_EQ(4, got);
	EXPECT_EQ(4, atomic_long_read(&a->hat_stolen) +
		     atomic_long_read(&b->hat_stolen));
	/* Their translations went to the stolen records, one page each. */
	EXPECT_EQ(atomic_long_read(&a->hat_stolen), filled_stolen(a, 8, 0x40000000UL));
	EXPECT_EQ(atomic_long_read(&b->hat_stolen), filled_stolen(b, 8, 0x80000000UL));
	/* No table is left with a count its entries don't match. */
	EXPECT_EQ(0, check_errors(a));
	EXPECT_EQ(0, check_errors(b));
	EXPECT_EQ(atomic_long_read(&a->hat_stolen), atomic_long_read(&a->hat_stolen_pages));
	EXPECT_EQ(atomic_long_read(&b->hat_stolen), atomic_long_read(&b->hat_stolen_pages));
	fake_count_tables(a, after);
	{
		unsigned long bc[MAX_NUM_LEVEL];

		fake_count_tables(b, bc);
		EXPECT_EQ(12, after[0] + bc[0]);
		if (atomic_long_read(&b->hat_stolen)) {
			EXPECT_GE(shim_machine.ipi_rounds, 1);
			EXPECT_TRUE(cpumask_test_cpu(1, &shim_machine.invlpg_cpus));
		}
	}
	b->hat_cpus->bits = 0;
	while ((ht = list) != NULL) {
		list = ht->ht_next;
		htable_free(ht);
	}
}

/* A steal prefers cached tables, then leaves by rising threshold. */
TEST_F(core, steal_cached_first_and_reap)
{
	struct hat *hat = self->hat;
	unsigned long cnt[MAX_NUM_LEVEL], before;
	struct shrink_control sc = { .nr_to_scan = 3 };
	struct htable *list, *ht;
	unsigned int n = 0, i;

	fill(hat, 6, 0x80000000UL);
	/* Empty two leaves into the cache. */
	unmap_page(hat, 0x80000000UL);
	unmap_page(hat, 0x80000000UL + (1UL << fake_shift(1)));
	EXPECT_EQ(2, atomic_long_read(&htable_nr_cached));
	fake_count_tables(hat, cnt);
	before = cnt[0];
	list = htable_steal(2, false);
	for (ht = list; ht; ht = ht->ht_next)
		n++;
	EXPECT_EQ(2, n);
	EXPECT_EQ(0, atomic_long_read(&htable_nr_cached));
	fake_count_tables(hat, cnt);
	EXPECT_EQ(before, cnt[0]);
	while ((ht = list) != NULL) {
		list = ht->ht_next;
		htable_free(ht);
	}
	/*
	 * The shrinker counts the leaves in use and reaps them: their
	 * translations go to the stolen records, and reclaim hears of the
	 * pages freed.
	 */
	ASSERT_EQ(0, htable_shrinker_init());
	ASSERT_NE(NULL, shim_shrinker);
	EXPECT_EQ(before, shim_shrinker->count_objects(shim_shrinker, &sc));
	EXPECT_EQ(3, shim_shrinker->scan_objects(shim_shrinker, &sc));
	fake_count_tables(hat, cnt);
	EXPECT_EQ(before - 3, cnt[0]);
	for (i = 2, n = 0; i < 6; i++)
		n += !!fake_translate(hat, 0x80000000UL + i * (1UL << fake_shift(1)), NULL);
	EXPECT_EQ(1, n);
	EXPECT_EQ(3, filled_stolen(hat, 4, 0x80000000UL + 2 * (1UL << fake_shift(1))));
	EXPECT_EQ(3, stat(STAT_hs_reaped));
	EXPECT_EQ(3, shim_reclaimed);
	EXPECT_EQ(0, check_errors(hat));
	htable_shrinker_exit();
	EXPECT_EQ(NULL, shim_shrinker);
}

struct race_arg {
	struct hat *hat;
	unsigned long base;	/* each hat its own pages: CHECK tells them apart */
	unsigned int seed;
	bool mapped[64];
	bool stop;
};

static unsigned long race_va(const struct race_arg *r, unsigned int slot)
{
	/* Slots spread over 8 leaf tables under one level-1 table. */
	return r->base + (slot / 8) * (1UL << fake_shift(1)) +
	       (slot % 8) * PAGE_SIZE;
}

static void *race_mapper(void *p)
{
	struct race_arg *r = p;
	unsigned int i, slot;

	for (i = 0; i < 4000; i++) {
		slot = rand_r(&r->seed) % 64;
		if (r->mapped[slot]) {
			/* A steal may have taken the entry: unmap takes its record. */
			if (unmap_page(r->hat, race_va(r, slot)))
				TEST_BAD("slot %u was neither mapped nor stolen", slot);
			r->mapped[slot] = false;
		} else if (!map_page(r->hat, race_va(r, slot), 0, 0)) {
			r->mapped[slot] = true;
		}
	}
	return NULL;
}

static void *race_stealer(void *p)
{
	struct race_arg *r = p;
	struct htable *list, *ht;
	unsigned long got = 0;

	/* Until told to stop, and at least once with something to take. */
	while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST) || !got) {
		list = htable_steal(2, false);
		while ((ht = list) != NULL) {
			list = ht->ht_next;
			htable_free(ht);
			got++;
		}
		htable_reap(3);
		got += stat(STAT_hs_reaped);
	}
	return NULL;
}

/*
 * Two hats mapped and unmapped by two threads while a third steals and
 * reaps: the hashed locks are shared across hats and a steal works on a
 * hat between its owner's operations. Afterwards every table's count is
 * what its page holds, each slot its thread mapped is either in its table
 * or in the stolen records (never both), and no other slot is in either.
 */
TEST_F(core, race_map_steal)
{
	struct race_arg r[2] = {
		{ .hat = self->hat, .base = 0x80000000UL, .seed = 1 },
		{ .hat = test_hat_new(), .base = 0x100000000UL, .seed = 2 },
	};
	struct race_arg st = { 0 };
	pthread_t t[3];
	unsigned int i, s, l;

	ASSERT_NE(NULL, r[1].hat);
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_stealer, &st));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_mapper, &r[i]));
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&st.stop, true, __ATOMIC_SEQ_CST);
	pthread_join(t[2], NULL);

	for (i = 0; i < 2; i++) {
		long stolen = 0;

		for (s = 0; s < 64; s++) {
			x86pte_t pte = fake_translate(r[i].hat, race_va(&r[i], s), NULL);
			x86pte_t rec = htable_stolen_pte(r[i].hat, race_va(&r[i], s));

			ASSERT_NE(FAKE_BAD_LINK, pte);
			EXPECT_FALSE(pte && rec) TH_LOG("slot %u", s);
			EXPECT_EQ(r[i].mapped[s] ? pte_of(race_va(&r[i], s), 0, 0) : 0,
				  pte ? pte : rec) TH_LOG("slot %u", s);
			stolen += !!rec;
		}
		EXPECT_EQ(stolen, atomic_long_read(&r[i].hat->hat_stolen_pages));
		for (l = 0; l < variant->levels - 1; l++) {
			for (s = 0; s < 64; s += 8) {
				struct htable *ht = htable_lookup(r[i].hat, race_va(&r[i], s), l);

				if (!ht)
					continue;
				EXPECT_EQ(fake_present(ht), atomic_read(&ht->ht_valid_cnt));
				htable_release(ht, NULL);
			}
		}
		/* Every table of the hat, counts and all, as CHECK sees it. */
		EXPECT_EQ(0, check_errors(r[i].hat)) TH_LOG("hat %u", i);
	}
	EXPECT_GT(stat(STAT_hs_reaped) + atomic_long_read(&r[0].hat->hat_stolen) +
		  atomic_long_read(&r[1].hat->hat_stolen), 0);
}

/* Stolen records handed to the drop callback, for the take below. */
static x86pte_t dropped[64];
static unsigned int ndropped;

static void record_drop(struct hat *hat, x86pte_t pte)
{
	test_drop(hat, pte);
	if (ndropped < ARRAY_SIZE(dropped))
		dropped[ndropped] = pte;
	ndropped++;
}

/*
 * Stealing two leaf tables keeps each translation in the hat's stolen
 * records, as it was (A, D, NX and all), charged to the hat's memcg; the
 * records are counted, listed in order, synced (A and D counted and
 * cleared), refuse a map over them, and a take of a range hands each
 * record in it to the drop callback exactly once, outside any lock, more
 * than one batch of them.
 */
TEST_F(core, stolen_records)
{
	struct hat *hat = self->hat;
	const unsigned long a = 0x40000000UL, b = a + (1UL << fake_shift(1));
	const x86pte_t ad = PT_REF | PT_MOD;
	unsigned long va_of[43], v, ref = 0, mod = 0, refs = 0, mods = 0;
	struct htable *list, *ht;
	unsigned int i, j, k, n = 0, hits;
	x86pte_t want[43], pte, extra;

	for (i = 0; i < 43; i++) {
		va_of[i] = i < 40 ? a + i * PAGE_SIZE : b + (i - 40) * 2 * PAGE_SIZE;
		extra = (i % 3 ? 0 : PT_REF) | (i % 5 ? 0 : PT_MOD) |
			(i % 7 ? 0 : mmu.pt_nx);
		refs += !!(extra & PT_REF);
		mods += !!(extra & PT_MOD);
		want[i] = pte_of(va_of[i], 0, extra);
		ASSERT_EQ(0, map_pte(hat, va_of[i], 0, want[i]));
	}
	list = htable_steal(2, false);
	while ((ht = list) != NULL) {
		list = ht->ht_next;
		htable_free(ht);
		n++;
	}
	ASSERT_EQ(2, n);
	EXPECT_EQ(2, atomic_long_read(&hat->hat_stolen));
	EXPECT_EQ(43, atomic_long_read(&hat->hat_stolen_pages));
	EXPECT_EQ(0, check_errors(hat));
	/* Written under the hat's memcg, which the steal then put back. */
	EXPECT_EQ(43, hat->hat_stolen_ptes.shim_inserts);
	EXPECT_EQ(0, hat->hat_stolen_ptes.shim_uncharged);
	EXPECT_EQ(hat->hat_memcg, hat->hat_stolen_ptes.shim_memcg);
	EXPECT_EQ(NULL, shim_active_memcg);
	for (i = 0; i < 43; i++) {
		EXPECT_EQ(0, fake_translate(hat, va_of[i], NULL));
		EXPECT_EQ(want[i], htable_stolen_pte(hat, va_of[i])) TH_LOG("page %u", i);
	}
	EXPECT_EQ(0, htable_stolen_pte(hat, a + 40 * PAGE_SIZE));
	EXPECT_EQ(0, htable_stolen_pte(hat, b + PAGE_SIZE));
	EXPECT_EQ(40, htable_stolen_count(hat, a, b));
	EXPECT_EQ(3, htable_stolen_count(hat, b, b + (1UL << fake_shift(1))));
	EXPECT_EQ(2, htable_stolen_count(hat, b, b + 3 * PAGE_SIZE));
	for (v = a, k = 0; (pte = htable_stolen_next(hat, &v, b + PAGE_SIZE * 512));
	     v += PAGE_SIZE, k++) {
		ASSERT_LT(k, 43);
		EXPECT_EQ(va_of[k], v);
		EXPECT_EQ(want[k], pte);
	}
	EXPECT_EQ(43, k);

	/* SYNC counts A and D per page and clears them, nothing else. */
	down_write(&hat->hat_seg_lock);
	htable_stolen_sync(hat, a, b + PAGE_SIZE * 512, true, &ref, &mod);
	up_write(&hat->hat_seg_lock);
	EXPECT_EQ(refs, ref);
	EXPECT_EQ(mods, mod);
	for (i = 0; i < 43; i++)
		EXPECT_EQ(want[i] & ~ad, htable_stolen_pte(hat, va_of[i]));
	ref = 0;
	mod = 0;
	down_write(&hat->hat_seg_lock);
	htable_stolen_sync(hat, a, b + PAGE_SIZE * 512, false, &ref, &mod);
	up_write(&hat->hat_seg_lock);
	EXPECT_EQ(0, ref + mod);

	/* A stolen page is still mapped: a map over it is refused. */
	EXPECT_EQ(-EEXIST, map_page(hat, va_of[3], 0, 0));

	/*
	 * Take [a + 4 pages, b + 3 pages): 36 of a's and 2 of b's, more
	 * than one batch of 32, the batch ending inside a run of records.
	 */
	ndropped = 0;
	down_write(&hat->hat_seg_lock);
	n = htable_stolen_take(hat, a + 4 * PAGE_SIZE, b + 3 * PAGE_SIZE, record_drop);
	up_write(&hat->hat_seg_lock);
	EXPECT_EQ(38, n);
	ASSERT_EQ(38, ndropped);
	for (i = 4; i < 42; i++) {
		for (j = 0, hits = 0; j < ndropped; j++)
			hits += dropped[j] == (want[i] & ~ad);
		EXPECT_EQ(1, hits) TH_LOG("page %u", i);
	}
	EXPECT_EQ(5, atomic_long_read(&hat->hat_stolen_pages));
	for (i = 0; i < 43; i++)
		EXPECT_EQ(i >= 4 && i < 42 ? 0 : want[i] & ~ad,
			  htable_stolen_pte(hat, va_of[i])) TH_LOG("page %u", i);
	/* The rest go with the hat (teardown takes and counts them). */
}

/*
 * A record that can't be allocated (GFP_NOWAIT, in reclaim) stops the
 * steal of a table: the entries recorded so far stay stolen, the rest stay
 * in the table, which is not taken; each page is in exactly one place.
 */
TEST_F(core, steal_stops_when_a_record_fails)
{
	struct hat *hat = self->hat;
	const unsigned long a = 0x40000000UL;
	unsigned int i, intable = 0, stolen = 0;
	struct htable *ht, *list;
	x86pte_t pte, rec;

	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, map_page(hat, a + i * PAGE_SIZE, 0, 0));
	shim_xa_fail_after = 4;
	EXPECT_EQ(NULL, htable_steal(1, false));
	shim_xa_fail_after = -1;
	EXPECT_EQ(0, atomic_long_read(&hat->hat_stolen));
	EXPECT_EQ(4, atomic_long_read(&hat->hat_stolen_pages));
	for (i = 0; i < 10; i++) {
		pte = fake_translate(hat, a + i * PAGE_SIZE, NULL);
		rec = htable_stolen_pte(hat, a + i * PAGE_SIZE);
		EXPECT_FALSE(pte && rec) TH_LOG("page %u", i);
		EXPECT_EQ(pte_of(a + i * PAGE_SIZE, 0, 0), pte ? pte : rec) TH_LOG("page %u", i);
		intable += !!pte;
		stolen += !!rec;
	}
	EXPECT_EQ(6, intable);
	EXPECT_EQ(4, stolen);
	ht = htable_lookup(hat, a, 0);
	ASSERT_NE(NULL, ht);
	EXPECT_EQ(6, atomic_read(&ht->ht_valid_cnt));
	EXPECT_EQ(6, fake_present(ht));
	htable_release(ht, NULL);
	EXPECT_EQ(0, check_errors(hat));
	/* Records to be had again: the table goes, every page in a record. */
	list = htable_steal(1, false);
	ASSERT_NE(NULL, list);
	EXPECT_EQ(NULL, list->ht_next);
	htable_free(list);
	EXPECT_EQ(10, atomic_long_read(&hat->hat_stolen_pages));
	for (i = 0; i < 10; i++)
		EXPECT_EQ(pte_of(a + i * PAGE_SIZE, 0, 0),
			  htable_stolen_pte(hat, a + i * PAGE_SIZE));
}

TEST_HARNESS_MAIN
