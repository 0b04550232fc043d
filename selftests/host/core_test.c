// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the htable core: module/htable.c, walk.c, x86pte.c,
 * reserve.c, steal.c, tlb.c and fail.c, compiled unchanged over the shim in
 * selftests/host/shim/ (core_test.link lists the sources). They reach
 * corners that are slow or impossible to reach in the VM: every level
 * boundary of 4- and 5-level paging, a hash bucket with 64 tables, an
 * empty and a full reserve, a steal while every hat is locked.
 *
 * Each test checks the truth on its own: fake_translate() and
 * fake_count_tables() follow the fake page tables from the top page by
 * physical address, with their own shifts, and never call the walker. The
 * harness runs each test in a child process, so tests share no state. A
 * WARN in the core fails the test (teardown compares shim_warnings with
 * what the test expected), and teardown checks that no table page, table
 * structure or reserve entry leaked.
 */
#include "kselftest_harness.h"

#include <htable/fail.h>
#include <htable/htable.h>
#include <htable/stats.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

/* ---- the test's own view of the fake page tables ---- */

static unsigned int fake_shift(unsigned int level)
{
	return 12 + 9 * level;
}

static x86pte_t *fake_top(struct hat *hat)
{
	return shim_phys_to_va(arch_page_to_phys(hat->hat_htable->ht_page));
}

/*
 * Follow @va from the top table. Return: the entry that maps it (0 if
 * none), its level in *@lvl. A link to an unknown or freed page is a
 * failure (returns LPAGE_ERROR).
 */
static x86pte_t fake_translate(struct hat *hat, unsigned long va,
			       unsigned int *lvl)
{
	unsigned int l = shim_machine.levels - 1;
	x86pte_t *t = fake_top(hat), pte;

	for (;; l--) {
		pte = t[(va >> fake_shift(l)) & 511];
		if (!(pte & _PAGE_PRESENT))
			return 0;
		if (l == 0 || (pte & _PAGE_PSE)) {
			if (lvl)
				*lvl = l;
			return pte;
		}
		t = shim_phys_to_va(pte & PTE_PFN_MASK);
		if (!t)
			return LPAGE_ERROR;
	}
}

/* Tables linked below @t (a level-@l table), counted per level into @n. */
static void fake_count(x86pte_t *t, unsigned int l, unsigned int entries,
		       unsigned long *n)
{
	unsigned int e;

	n[l]++;
	if (!l)
		return;
	for (e = 0; e < entries; e++) {
		x86pte_t pte = t[e];

		if ((pte & _PAGE_PRESENT) && !(pte & _PAGE_PSE))
			fake_count(shim_phys_to_va(pte & PTE_PFN_MASK), l - 1,
				   512, n);
	}
}

/* Linked tables of @hat per level (the top counts once). */
static void fake_count_tables(struct hat *hat, unsigned long *n)
{
	memset(n, 0, sizeof(*n) * HTABLE_MAX_LEVELS);
	/* Only the lower half: the top page's upper half is the kernel's. */
	fake_count(fake_top(hat), shim_machine.levels - 1, 256, n);
}

/* Present entries of a table, counted from its page. */
static unsigned int fake_present(struct htable *ht)
{
	x86pte_t *t = shim_phys_to_va(arch_page_to_phys(ht->ht_page));
	unsigned int e, n = 0;

	for (e = 0; e < 512; e++)
		n += !!(t[e] & _PAGE_PRESENT);
	return n;
}

/* Tables in bucket @h of @hat, following ht_next, checking ht_prev. */
static unsigned int chain_len(struct hat *hat, unsigned int h, bool *ok)
{
	struct htable *ht, *prev = NULL;
	unsigned int n = 0;

	*ok = true;
	for (ht = hat->hat_ht_hash[h]; ht; prev = ht, ht = ht->ht_next, n++)
		if (ht->ht_prev != prev)
			*ok = false;
	return n;
}

/* A counter of the core (stats.c, which sums per-CPU copies, is not built). */
static u64 stat(enum htable_stat s)
{
	return htable_stats.c[s];
}

/* ---- hats and mappings, as hat.c makes them ---- */

static struct hat *test_hat_new(void)
{
	struct hat *hat = calloc(1, sizeof(*hat));

	if (!hat)
		return NULL;
	init_rwsem(&hat->hat_seg_lock);
	spin_lock_init(&hat->hat_cache_lock);
	spin_lock_init(&hat->hat_switch_lock);
	INIT_LIST_HEAD(&hat->hat_list);
	if (htable_hat_init(hat)) {
		free(hat);
		return NULL;
	}
	spin_lock(&htable_hat_list_lock);
	list_add_tail(&hat->hat_list, &htable_hat_list);
	spin_unlock(&htable_hat_list_lock);
	return hat;
}

static void test_hat_free(struct hat *hat)
{
	spin_lock(&htable_hat_list_lock);
	hat->hat_flags |= HAT_FREEING;
	list_del(&hat->hat_list);
	spin_unlock(&htable_hat_list_lock);
	htable_hat_fini(hat);
	free(hat);
}

/* The pfn a test maps at @va: 40 bits, aligned as @va is, never 0. */
static u64 pfn_of(unsigned long va)
{
	return ((va >> PAGE_SHIFT) & ((1ULL << 40) - 1)) ^ (1ULL << 39);
}

/* Map a level-@level page at @va (pfn derived from @va). Return: 0 or errno. */
static int map_page(struct hat *hat, unsigned long va, unsigned int level,
		    x86pte_t extra)
{
	x86pte_t pte = ((pfn_of(va) << PAGE_SHIFT) & PTE_PFN_MASK) | PT_VALID |
		       PT_WRITABLE | PT_USER | extra | (level ? PT_PAGESIZE : 0);
	struct htable_batch b;
	struct htable *ht;
	x86pte_t old;

	htable_batch_init(&b, hat);
	down_write(&hat->hat_seg_lock);
	ht = htable_create(hat, va, level);
	if (!ht) {
		up_write(&hat->hat_seg_lock);
		return -ENOMEM;
	}
	atomic_inc(&ht->ht_valid_cnt);
	old = x86pte_set(ht, htable_va2entry(va, ht), pte, &b);
	if (old)
		atomic_dec(&ht->ht_valid_cnt);
	htable_release(ht, &b);
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	return old ? -EEXIST : 0;
}

/* Unmap the page at @va. Return: 0, or -ENOENT when none is mapped. */
static int unmap_page(struct hat *hat, unsigned long va)
{
	struct htable_batch b;
	struct htable *ht;
	unsigned int e;

	htable_batch_init(&b, hat);
	down_write(&hat->hat_seg_lock);
	ht = htable_getpage(hat, va, &e);
	if (!ht) {
		up_write(&hat->hat_seg_lock);
		return -ENOENT;
	}
	if (PTE_ISVALID(x86pte_inval(ht, e, 0, &b)))
		atomic_dec(&ht->ht_valid_cnt);
	htable_release(ht, &b);
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	return 0;
}

/* ---- the fixture: a fresh core per test, leak checks at the end ---- */

FIXTURE(core) {
	struct hat *hat;
	long warnings;		/* WARNs the test provokes on purpose */
};

FIXTURE_VARIANT(core) {
	unsigned int levels;
};

FIXTURE_VARIANT_ADD(core, l4) { .levels = 4 };
FIXTURE_VARIANT_ADD(core, l5) { .levels = 5 };

FIXTURE_SETUP(core)
{
	shim_reset(variant->levels);
	htable_reserve_amount = 16;
	ASSERT_EQ(0, htable_init());
	ASSERT_EQ(16, htable_reserve_cnt);
	self->hat = test_hat_new();
	ASSERT_NE(NULL, self->hat);
	self->warnings = 0;
}

FIXTURE_TEARDOWN(core)
{
	/* Every hat the test left goes, then the core: nothing may remain. */
	while (!list_empty(&htable_hat_list))
		test_hat_free(list_first_entry(&htable_hat_list, struct hat,
					       hat_list));
	EXPECT_EQ(0, atomic_long_read(&active_ptables));
	htable_fini();
	EXPECT_EQ(0, shim_machine.table_pages);
	EXPECT_EQ(0, htable_reserve_cnt);
	EXPECT_EQ(self->warnings, shim_warnings);
}

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

/*
 * The two pages on each side of every level boundary, and the first and
 * last page of the user half: each maps exactly its page, the tables
 * between them are the ones the test predicts, and unmapping frees all.
 */
TEST_F(core, level_boundaries)
{
	unsigned int top = variant->levels - 1, l, lv, i, n = 0;
	unsigned long va[2 * HTABLE_MAX_LEVELS + 2], cnt[HTABLE_MAX_LEVELS];
	struct hat *hat = self->hat;

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

		ASSERT_NE(LPAGE_ERROR, pte);
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
		unsigned long seen[2 * HTABLE_MAX_LEVELS + 2];
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
	/* The walker visits them in order. */
	{
		struct htable *ht = NULL;
		unsigned long v = 0, found[2 * HTABLE_MAX_LEVELS + 2];
		unsigned int m = 0;

		while (htable_walk(hat, &ht, &v, HTABLE_USER_END, NULL)) {
			found[m++] = v;
			v += PAGE_SIZE;
			if (m == n)
				break;
		}
		if (ht)
			htable_release(ht, NULL);
		ASSERT_EQ(n, m);
		for (i = 1; i < m; i++)
			EXPECT_LT(found[i - 1], found[i]);
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

/* 64 leaf tables in one hash bucket: find each, unhash in any order. */
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
		h = HTABLE_HASH(hat, va, 0);
		if (!n)
			h0 = h;
		if (h == h0)
			vas[n++] = va;
	}
	ASSERT_EQ(64, n);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, map_page(hat, vas[i] + 5 * PAGE_SIZE, 0, 0));
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

/* Fill the hats: @n leaf tables each with one page. */
static void fill(struct hat *hat, unsigned int n, unsigned long base)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		map_page(hat, base + i * (1UL << fake_shift(1)), 0, 0);
}

/* With every hat's hat_seg_lock held, a steal finds nothing, changes nothing. */
TEST_F(core, steal_every_hat_locked)
{
	struct hat *a = self->hat, *b = test_hat_new();
	unsigned long before[HTABLE_MAX_LEVELS], after[HTABLE_MAX_LEVELS];
	struct htable *list, *ht;
	unsigned int got = 0;

	ASSERT_NE(NULL, b);
	fill(a, 8, 0x40000000UL);
	fill(b, 8, 0x40000000UL);
	fake_count_tables(a, before);
	down_write(&a->hat_seg_lock);
	down_write(&b->hat_seg_lock);
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
			held[i] = htable_lookup(i < 8 ? a : b, 0x40000000UL +
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
	fake_count_tables(a, after);
	{
		unsigned long bc[HTABLE_MAX_LEVELS];

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
	unsigned long cnt[HTABLE_MAX_LEVELS], before;
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
	/* The shrinker reaps in-use leaves; the pages stay findable as gone. */
	ASSERT_EQ(0, htable_shrinker_init());
	ASSERT_NE(NULL, shim_shrinker);
	EXPECT_EQ(3, shim_shrinker->scan_objects(shim_shrinker, &sc));
	fake_count_tables(hat, cnt);
	EXPECT_EQ(before - 3, cnt[0]);
	for (i = 2, n = 0; i < 6; i++)
		n += !!fake_translate(hat, 0x80000000UL + i * (1UL << fake_shift(1)), NULL);
	EXPECT_EQ(1, n);
	EXPECT_EQ(3, stat(STAT_hs_reaped));
	htable_shrinker_exit();
	EXPECT_EQ(NULL, shim_shrinker);
}

/* Split a 2 MiB and a 1 GiB page: same translations, smaller pages. */
TEST_F(core, split_large_pages)
{
	struct hat *hat = self->hat;
	unsigned long va2m = 0x40000000UL + (3UL << fake_shift(1));
	unsigned long va1g = 5UL << fake_shift(2);
	struct htable_batch b;
	struct htable *ht;
	unsigned int e, lv, i;
	x86pte_t pte;

	ASSERT_EQ(0, map_page(hat, va2m, 1, PT_SOFTLOCK | PT_REF));
	ASSERT_EQ(0, map_page(hat, va1g, 2, 0));
	ht = htable_lookup(hat, va2m, 1);
	ASSERT_NE(NULL, ht);
	atomic_inc(&ht->ht_lock_cnt);	/* hat.c counts the locked page */
	pte = fake_translate(hat, va2m + 17 * PAGE_SIZE, &lv);
	EXPECT_EQ(1, lv);
	EXPECT_EQ(pfn_of(va2m), PTE2PFN(pte));
	/* Live on CPU 1: the split's invalidation must reach it. */
	hat->hat_cpus->bits = 0x2;
	shim_machine.cr3[1] = arch_page_to_phys(hat->hat_htable->ht_page);
	htable_batch_init(&b, hat);
	down_write(&hat->hat_seg_lock);
	e = htable_va2entry(va2m, ht);
	ASSERT_EQ(0, htable_split(ht, e, &b));
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	EXPECT_EQ(1, shim_machine.ipi_rounds);
	EXPECT_EQ(va2m, shim_machine.last_invlpg);
	EXPECT_TRUE(cpumask_test_cpu(1, &shim_machine.invlpg_cpus));
	EXPECT_EQ(0, atomic_read(&ht->ht_lock_cnt));
	htable_release(ht, NULL);
	for (i = 0; i < 512; i++) {
		x86pte_t p = fake_translate(hat, va2m + i * PAGE_SIZE, &lv);

		ASSERT_EQ(0, lv);
		ASSERT_EQ(pfn_of(va2m) + i, PTE2PFN(p));
		ASSERT_TRUE(p & PT_SOFTLOCK);
		ASSERT_FALSE(p & PT_PAGESIZE);
	}
	ht = htable_lookup(hat, va2m, 0);
	ASSERT_NE(NULL, ht);
	EXPECT_EQ(512, atomic_read(&ht->ht_valid_cnt));
	EXPECT_EQ(512, atomic_read(&ht->ht_lock_cnt));
	/* Pretend hat.c unlocked and unmapped them all. */
	atomic_set(&ht->ht_lock_cnt, 0);
	htable_batch_init(&b, hat);
	for (i = 0; i < 512; i++)
		if (PTE_ISVALID(x86pte_inval(ht, i, 0, &b)))
			atomic_dec(&ht->ht_valid_cnt);
	htable_release(ht, &b);
	htable_batch_finish(&b);
	/* 512 vas overflow the batch: one full flush instead. */
	EXPECT_EQ(1, shim_machine.flushes);

	ht = htable_lookup(hat, va1g, 2);
	ASSERT_NE(NULL, ht);
	hat->hat_cpus->bits = 0;
	htable_batch_init(&b, hat);
	ASSERT_EQ(0, htable_split(ht, htable_va2entry(va1g, ht), &b));
	htable_batch_finish(&b);
	for (i = 0; i < 512; i += 73) {
		x86pte_t p = fake_translate(hat, va1g + i * (1UL << fake_shift(1)), &lv);

		EXPECT_EQ(1, lv);
		EXPECT_TRUE(p & PT_PAGESIZE);
		EXPECT_EQ(pfn_of(va1g) + i * 512, PTE2PFN(p));
	}
	/* Splitting an entry that is no large page is refused, WARNed. */
	EXPECT_EQ(-EINVAL, htable_split(ht, (htable_va2entry(va1g, ht) + 1) % 512, &b));
	self->warnings++;
	htable_release(ht, NULL);
}

/* Creating a table under a large page: link_ptp refuses, nothing leaks. */
TEST_F(core, link_over_large_page)
{
	struct hat *hat = self->hat;
	unsigned long va = 7UL << fake_shift(1);
	long active;

	ASSERT_EQ(0, map_page(hat, va, 1, 0));
	active = atomic_long_read(&active_ptables);
	EXPECT_EQ(NULL, htable_create(hat, va, 0));
	self->warnings++;
	EXPECT_EQ(active, atomic_long_read(&active_ptables) - atomic_long_read(&htable_nr_cached));
	EXPECT_EQ(pfn_of(va), PTE2PFN(fake_translate(hat, va, NULL)));
	/* x86pte_set refuses a large page over a link. */
	ASSERT_EQ(0, map_page(hat, va + (1UL << fake_shift(1)) + PAGE_SIZE, 0, 0));
	EXPECT_EQ(-EEXIST, map_page(hat, va + (1UL << fake_shift(1)), 1, 0));
}

/* The batch: shootdowns only where the hat is live, full flush past 32. */
TEST_F(core, batch_shootdowns)
{
	struct hat *hat = self->hat;
	struct htable_batch b;
	unsigned int i;

	htable_batch_init(&b, hat);
	htable_batch_inval(&b, 0x1000);
	htable_batch_finish(&b);
	EXPECT_EQ(0, shim_machine.ipi_rounds);

	/* CPU 0 runs the hat, CPU 1 is in the set but runs something else. */
	hat->hat_cpus->bits = 0x3;
	shim_machine.cr3[0] = arch_page_to_phys(hat->hat_htable->ht_page);
	shim_machine.cr3[1] = 0x1234000;
	htable_batch_init(&b, hat);
	for (i = 0; i < HTABLE_BATCH_VAS; i++)
		htable_batch_inval(&b, i * PAGE_SIZE);
	htable_batch_finish(&b);
	EXPECT_EQ(1, shim_machine.ipi_rounds);
	EXPECT_EQ(2, shim_machine.ipi_cpus);
	EXPECT_EQ(HTABLE_BATCH_VAS, shim_machine.invlpgs);
	EXPECT_EQ(0x1, shim_machine.invlpg_cpus.bits);
	EXPECT_EQ(0, shim_machine.flushes);

	htable_batch_init(&b, hat);
	for (i = 0; i <= HTABLE_BATCH_VAS; i++)
		htable_batch_inval(&b, i * PAGE_SIZE);
	htable_batch_finish(&b);
	EXPECT_EQ(2, shim_machine.ipi_rounds);
	EXPECT_EQ(1, shim_machine.flushes);

	/* Shared tables: every online CPU, whatever it runs. */
	shim_online.bits = 0xf;
	atomic_set(&hat->hat_nsharers, 1);
	shim_machine.invlpg_cpus.bits = 0;
	htable_batch_init(&b, hat);
	htable_batch_inval(&b, 0x5000);
	htable_batch_finish(&b);
	EXPECT_EQ(0xf, shim_machine.invlpg_cpus.bits);
	atomic_set(&hat->hat_nsharers, 0);
	hat->hat_cpus->bits = 0;
}

/*
 * Detaching a shared table whose entries the sharer's CPU used drops each
 * of those translations there: one INVLPG of the table's va would leave
 * every other page the CPU read through it in its TLB, VALID, after the
 * owner's flushes stop reaching that CPU (an outside review found this).
 */
TEST_F(core, share_detach_drops_every_translation)
{
	const unsigned long x = 0x40000000, used[] = { x + 0x1000, x + 0x7000 };
	struct hat *owner = self->hat, *sharer = test_hat_new();
	struct htable *oht, *got;
	struct htable_batch b;
	unsigned int i;

	ASSERT_NE(NULL, sharer);
	ASSERT_EQ(0, map_page(owner, x, 0, PT_REF));
	for (i = 0; i < ARRAY_SIZE(used); i++)
		ASSERT_EQ(0, map_page(owner, used[i], 0, PT_REF));
	/* An entry the MMU never used can't be cached: no INVLPG due. */
	ASSERT_EQ(0, map_page(owner, x + 0x9000, 0, 0));
	oht = htable_create(owner, x, 0);
	ASSERT_NE(NULL, oht);
	atomic_inc(&owner->hat_nsharers);
	ASSERT_EQ(0, htable_share_attach(sharer, x, oht));

	/* The sharer is live on CPU 1 and has read through the table. */
	sharer->hat_cpus->bits = 0x2;
	shim_machine.cr3[1] = arch_page_to_phys(sharer->hat_htable->ht_page);
	shim_machine.ninv = 0;
	htable_batch_init(&b, sharer);
	down_write(&sharer->hat_seg_lock);
	got = htable_share_detach(sharer, x, &b);
	up_write(&sharer->hat_seg_lock);
	htable_batch_finish(&b);
	EXPECT_EQ(oht, got);
	EXPECT_TRUE(shim_invalidated(1, x));
	for (i = 0; i < ARRAY_SIZE(used); i++)
		EXPECT_TRUE(shim_invalidated(1, used[i])) TH_LOG("va %#lx", used[i]);
	/* Nothing ran on a CPU where the sharer was not live. */
	EXPECT_FALSE(shim_invalidated(0, x + 0x1000));
	atomic_dec(&owner->hat_nsharers);
	sharer->hat_cpus->bits = 0;
	htable_release(got, NULL);
}

/*
 * A non-present entry with only A set is empty, as in the seed (some CPUs
 * set A in entries that are not present): a table links over it.
 */
TEST_F(core, link_over_stray_accessed_bit)
{
	const unsigned long va = 0x40000000, va2 = va + (1UL << 21);
	struct hat *hat = self->hat;
	struct htable *l1;
	x86pte_t *t;

	ASSERT_EQ(0, map_page(hat, va, 0, 0));
	l1 = htable_lookup(hat, va, 1);
	ASSERT_NE(NULL, l1);
	t = shim_phys_to_va(arch_page_to_phys(l1->ht_page));
	t[htable_va2entry(va2, l1)] = PT_REF;
	htable_release(l1, NULL);
	EXPECT_EQ(0, map_page(hat, va2, 0, 0));
	EXPECT_EQ(pfn_of(va2), PTE2PFN(fake_translate(hat, va2, NULL)));
}

/* The failure knob on page-table pages: every failure leaves no trace. */
TEST_F(core, fail_nth_ptable)
{
	struct hat *hat = self->hat;
	unsigned int top = variant->levels - 1, n, fails = 0;
	unsigned long cnt[HTABLE_MAX_LEVELS];

	for (n = 1; n <= top + 1; n++) {
		htable_fail_reset();
		htable_fail_nth = n;
		if (map_page(hat, 0x7000UL << 20, 0, 0)) {
			fails++;
			EXPECT_EQ(0, fake_translate(hat, 0x7000UL << 20, NULL));
			fake_count_tables(hat, cnt);
			EXPECT_EQ(0, cnt[0]);
		} else {
			ASSERT_EQ(0, unmap_page(hat, 0x7000UL << 20));
		}
		htable_fail_nth = 0;
		/* Don't let the cache hide the allocations. */
		htable_purge_hat(hat);
	}
	/* The steal on failure finds nothing to take: each n up to top fails. */
	EXPECT_EQ(top, fails);
	EXPECT_EQ(0, atomic_long_read(&htable_nr_cached));
}

/* The shim's lockdep catches a missing lock (so the core's asserts bite). */
TEST_F(core, lockdep_catches_missing_lock)
{
	struct hat *hat = self->hat;
	struct htable *ht = htable_create(hat, 0x200000, 0);
	unsigned int h;

	ASSERT_NE(NULL, ht);
	h = HTABLE_HASH(hat, ht->ht_vaddr, 0);
	spin_lock(HTABLE_LOCK(h));
	EXPECT_TRUE(htable_unlink(ht, h));
	spin_unlock(HTABLE_LOCK(h));
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

struct race_arg {
	struct hat *hat;
	unsigned int seed;
	bool mapped[64];
	bool stop;
};

static unsigned long race_va(unsigned int slot)
{
	/* Slots spread over 8 leaf tables under 2 level-1 tables. */
	return 0x80000000UL + (slot / 8) * (1UL << fake_shift(1)) +
	       (slot % 8) * PAGE_SIZE;
}

static void *race_mapper(void *p)
{
	struct race_arg *r = p;
	unsigned int i, slot;

	for (i = 0; i < 4000; i++) {
		slot = rand_r(&r->seed) % 64;
		if (r->mapped[slot]) {
			/* A steal may have taken the entry: then it is gone. */
			unmap_page(r->hat, race_va(slot));
			r->mapped[slot] = false;
		} else if (!map_page(r->hat, race_va(slot), 0, 0)) {
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
 * what its page holds, and nothing maps a slot its thread left unmapped.
 */
TEST_F(core, race_map_steal)
{
	struct race_arg r[2] = {
		{ .hat = self->hat, .seed = 1 },
		{ .hat = test_hat_new(), .seed = 2 },
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
		for (s = 0; s < 64; s++) {
			x86pte_t pte = fake_translate(r[i].hat, race_va(s), NULL);

			ASSERT_NE(LPAGE_ERROR, pte);
			/*
			 * An unmapped slot maps nothing (pfn_of() is never
			 * 0); a mapped one its page, unless a steal took it.
			 */
			EXPECT_EQ(r[i].mapped[s] && pte ? pfn_of(race_va(s)) : 0,
				  PTE2PFN(pte));
		}
		for (l = 0; l < variant->levels - 1; l++) {
			for (s = 0; s < 64; s += 8) {
				struct htable *ht = htable_lookup(r[i].hat, race_va(s), l);

				if (!ht)
					continue;
				EXPECT_EQ(fake_present(ht), atomic_read(&ht->ht_valid_cnt));
				htable_release(ht, NULL);
			}
		}
	}
	EXPECT_GT(stat(STAT_hs_reaped) + atomic_long_read(&r[0].hat->hat_stolen) +
		  atomic_long_read(&r[1].hat->hat_stolen), 0);
}

TEST_HARNESS_MAIN
