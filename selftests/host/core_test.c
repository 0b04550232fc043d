// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the htable core: module/htable.c, hash.c, walk.c,
 * x86pte.c, reserve.c, steal.c, tlb.c and fail.c, and the checker behind
 * CHECK, check.c (with claim.c), compiled unchanged over the shim in
 * selftests/host/shim/ (core_test.link lists the sources). They reach
 * corners that are slow or impossible to reach in the VM: every level
 * boundary of 4- and 5-level paging, a hash bucket with 64 tables, an
 * empty and a full reserve, a steal while every hat is locked, a table
 * reused under a lockless walk.
 *
 * Each test checks the truth on its own: fake_translate() and
 * fake_count_tables() follow the fake page tables from the top page by
 * physical address, with their own shifts, and never call the walker;
 * the shim records every INVLPG and flush, and which pages each hat was
 * given; CHECK is run as a second, independent opinion. The
 * harness runs each test in a child process, so tests share no state. A
 * WARN in the core fails the test (teardown compares shim_warnings with
 * what the test expected), and teardown checks that no table page, table
 * structure or reserve entry leaked.
 */
#include "kselftest_harness.h"

#include <htable/check.h>
#include <htable/fail.h>
#include <htable/htable.h>
#include <htable/pages.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

/* ---- the test's own view of the fake page tables ---- */

/*
 * Anomalies the helpers find (a link to a freed table, a walker run of
 * the wrong shape, a stolen record handed out twice); teardown asserts
 * there were none.
 */
static long test_bad;

#define TEST_BAD(fmt, ...) do {						\
	__atomic_add_fetch(&test_bad, 1, __ATOMIC_SEQ_CST);		\
	fprintf(stderr, "# BAD %s: " fmt "\n", __func__, ##__VA_ARGS__); \
} while (0)

static unsigned int fake_shift(unsigned int level)
{
	return 12 + 9 * level;
}

static x86pte_t *fake_top(struct hat *hat)
{
	return shim_phys_to_va(arch_page_to_phys(hat->hat_htable->ht_page));
}

/* fake_entry()'s answer for a link to an unknown or freed page. */
#define FAKE_BAD_LINK	(~(x86pte_t)0)

/*
 * Follow @va from the top table down to level @stop. Return: the entry at
 * level @stop, or the page entry above it that maps @va, or 0 when none;
 * its level in *@lvl. A link to an unknown or freed page is a failure
 * (returns FAKE_BAD_LINK).
 */
static x86pte_t fake_entry(struct hat *hat, unsigned long va, unsigned int stop,
			   unsigned int *lvl)
{
	unsigned int l = shim_machine.levels - 1;
	x86pte_t *t = fake_top(hat), pte;

	for (;; l--) {
		pte = t[(va >> fake_shift(l)) & 511];
		if (!(pte & _PAGE_PRESENT))
			return 0;
		if (l == stop || (pte & _PAGE_PSE)) {
			if (lvl)
				*lvl = l;
			return pte;
		}
		t = shim_phys_to_va(pte & PTE_PFN_MASK);
		if (!t)
			return FAKE_BAD_LINK;
	}
}

/* The entry that maps @va (0 if none), its level in *@lvl. */
static x86pte_t fake_translate(struct hat *hat, unsigned long va,
			       unsigned int *lvl)
{
	return fake_entry(hat, va, 0, lvl);
}

/* The physical address of the level-@l table the test's walk reaches for @va. */
static u64 fake_table(struct hat *hat, unsigned long va, unsigned int l)
{
	unsigned int lv;
	x86pte_t link;

	if (l == shim_machine.levels - 1)
		return arch_page_to_phys(hat->hat_htable->ht_page);
	link = fake_entry(hat, va, l + 1, &lv);
	if (!link || link == FAKE_BAD_LINK || lv != l + 1 || (link & _PAGE_PSE))
		return 0;
	return link & PTE_PFN_MASK;
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
		x86pte_t pte = t[e], *child;

		if (!(pte & _PAGE_PRESENT) || (pte & _PAGE_PSE))
			continue;
		child = shim_phys_to_va(pte & PTE_PFN_MASK);
		if (!child) {
			TEST_BAD("level %u entry %u links a freed page", l, e);
			continue;
		}
		fake_count(child, l - 1, 512, n);
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

/*
 * CHECK (module/check.c, the checker behind HTABLE_IOC_CHECK) of @hat.
 * Return: its error count; the report in *@c.
 */
static u64 test_check(struct hat *hat, struct htable_check *c)
{
	memset(c, 0xa5, sizeof(*c));
	if (htable_check(hat, c))
		TEST_BAD("CHECK of hat %u was interrupted", hat->hat_id);
	if (c->errors)
		fprintf(stderr, "# CHECK of hat %u: %llu errors, first %u at %#llx\n",
			hat->hat_id, c->errors, c->first_error, c->first_va);
	return c->errors;
}

/* CHECK of @hat found nothing: 0, or its error count. */
static u64 check_errors(struct hat *hat)
{
	struct htable_check c;

	return test_check(hat, &c);
}

/* ---- hats and mappings, as hat.c and map.c make them ---- */

/* The fixture variant's paging levels, for helpers outside a TEST_F. */
static unsigned int variant_levels;

static unsigned int test_hat_ids;

static struct hat *test_hat_new(void)
{
	struct hat *hat = calloc(1, sizeof(*hat));

	if (!hat)
		return NULL;
	refcount_set(&hat->hat_refs, 1);
	init_rwsem(&hat->hat_seg_lock);
	spin_lock_init(&hat->hat_range_lock);
	INIT_LIST_HEAD(&hat->hat_ranges);
	spin_lock_init(&hat->hat_cache_lock);
	spin_lock_init(&hat->hat_switch_lock);
	INIT_LIST_HEAD(&hat->hat_list);
	INIT_LIST_HEAD(&hat->hat_shared_out);
	xa_init_flags(&hat->hat_stolen_ptes, XA_FLAGS_ACCOUNT);
	xa_init_flags(&hat->hat_pins, XA_FLAGS_ACCOUNT);
	xa_init(&hat->hat_shares);
	if (htable_hat_init(hat)) {
		free(hat);
		return NULL;
	}
	/* Ids are never reused, as hat.c's: each hat's pages get its own tag. */
	hat->hat_id = ++test_hat_ids;
	/* A memcg tag of the hat's own, never dereferenced. */
	hat->hat_memcg = (struct mem_cgroup *)&hat->hat_id;
	spin_lock(&htable_hat_list_lock);
	list_add_tail(&hat->hat_list, &htable_hat_list);
	spin_unlock(&htable_hat_list_lock);
	return hat;
}

/* What a stolen record held: the page, no longer the hat's. */
static void test_drop(struct hat *hat, x86pte_t pte)
{
	/* "outside any lock", htable_stolen_take() promises. */
	if (shim_spin_depth || shim_rcu_depth)
		TEST_BAD("drop of %#llx in atomic context", pte);
	shim_disown_pages(PTE2PFN(pte), 1, hat_owner_tag(hat));
}

/* As hat_free(): the stolen records go, then the tables. */
static void test_hat_free(struct hat *hat)
{
	long stolen = atomic_long_read(&hat->hat_stolen_pages);
	unsigned long taken;

	spin_lock(&htable_hat_list_lock);
	hat->hat_flags |= HAT_FREEING;
	list_del(&hat->hat_list);
	spin_unlock(&htable_hat_list_lock);
	taken = htable_stolen_take(hat, 0, HTABLE_USER_END, test_drop);
	if (taken != stolen || !xa_empty(&hat->hat_stolen_ptes))
		TEST_BAD("hat_stolen_pages %ld, records taken %lu", stolen, taken);
	htable_hat_fini(hat);
	xa_destroy(&hat->hat_stolen_ptes);
	xa_destroy(&hat->hat_pins);
	xa_destroy(&hat->hat_shares);
	free(hat);
}

/* The pfn a test maps at @va: 40 bits, aligned as @va is, never 0. */
static u64 pfn_of(unsigned long va)
{
	return ((va >> PAGE_SHIFT) & ((1ULL << 40) - 1)) ^ (1ULL << 39);
}

/* The entry map_page() writes for a level-@level page at @va. */
static x86pte_t pte_of(unsigned long va, unsigned int level, x86pte_t extra)
{
	return ((pfn_of(va) << PAGE_SHIFT) & PTE_PFN_MASK) | PT_VALID |
	       PT_WRITABLE | extra | (level ? PT_PAGESIZE : 0);
}

/* One MAP of one page, as map.c's map_visit() does it. */
struct test_map {
	struct htable_walk w;
	x86pte_t pte;
	unsigned int runs;
};

static int test_map_visit(struct htable_walk *w, struct htable *ht,
			  unsigned int e, unsigned int n, unsigned long va)
{
	struct test_map *m = container_of(w, struct test_map, w);
	x86pte_t old;

	m->runs++;
	if (ht->ht_level != w->level)
		return -EBUSY;	/* a larger page covers the range */
	if (n != 1 || htable_e2va(ht, e) != va)
		TEST_BAD("a one-page walk handed %u entries from %u, va %#lx", n, e, va);
	old = x86pte_get(ht, e);
	if (PTE_ISVALID(old))
		return PTE_ISPAGE(old, ht->ht_level) ? -EEXIST : -ENOTEMPTY;
	/* Counts first: a table never has more entries than it says. */
	htable_count(ht, 1, (m->pte & PT_SOFTLOCK) ? 1 : 0);
	x86pte_install(ht, e, m->pte);
	return 0;
}

/*
 * Map @pte, a level-@level page, at @va, as hat_memload() does: the hash
 * grows first when due, a stolen translation in the range refuses, and
 * the walker makes the tables. Return: 0 or errno.
 */
static int map_pte(struct hat *hat, unsigned long va, unsigned int level,
		   x86pte_t pte)
{
	struct test_map m = {
		.w = { .hat = hat, .level = level, .create = true,
		       .visit = test_map_visit },
		.pte = pte,
	};
	unsigned long sva = va, eaddr = va + LEVEL_SIZE(level);
	struct htable_batch b;
	int err = 0;

	down_write(&hat->hat_seg_lock);
	if (htable_hash_wants_growth(hat, 0, false))
		err = htable_hash_grow(hat, 0);
	if (!err && htable_stolen_next(hat, &sva, eaddr))
		err = -EEXIST;
	if (!err) {
		htable_batch_init(&b, hat);
		m.w.b = &b;
		err = htable_walk_range(&m.w, va, eaddr);
		htable_batch_finish(&b);
		/* The pages are the hat's now, as pages.c tags what it allocates. */
		if (!err)
			shim_own_pages(PTE2PFN(pte), LEVEL_SIZE(level) / PAGE_SIZE,
				       hat_owner_tag(hat));
		if (m.runs > 1 || (!err && !m.runs))
			TEST_BAD("%u runs for one page at %#lx", m.runs, va);
	}
	up_write(&hat->hat_seg_lock);
	return err;
}

/* Map a level-@level page at @va (pfn derived from @va). Return: 0 or errno. */
static int map_page(struct hat *hat, unsigned long va, unsigned int level,
		    x86pte_t extra)
{
	return map_pte(hat, va, level, pte_of(va, level, extra));
}

/* One UNMAP, as map.c's unmap_visit() does it. */
struct test_unmap {
	struct htable_walk w;
	unsigned long cleared;
};

static int test_unmap_visit(struct htable_walk *w, struct htable *ht,
			    unsigned int e, unsigned int n, unsigned long va)
{
	struct test_unmap *u = container_of(w, struct test_unmap, w);
	unsigned int i, cleared = 0, locked = 0;
	x86pte_t old;

	for (i = 0; i < n; i++) {
		old = x86pte_inval(ht, e + i, 0, w->b);
		if (!PTE_ISVALID(old))
			continue;
		cleared++;
		locked += !!(old & PT_SOFTLOCK);
		/* The page goes back, as pages.c drops what the entry held. */
		shim_disown_pages(PTE2PFN(old), LEVEL_SIZE(ht->ht_level) / PAGE_SIZE,
				  hat_owner_tag(w->hat));
	}
	if (cleared)
		htable_count(ht, -(int)cleared, -(int)locked);
	u->cleared += cleared;
	return 0;
}

/*
 * Unmap the page at @va (all of a large page that starts there), and its
 * stolen translation, as hat_unload() does. Return: 0, or -ENOENT when
 * neither was there.
 */
static int unmap_page(struct hat *hat, unsigned long va)
{
	struct test_unmap u = {
		.w = { .hat = hat, .visit = test_unmap_visit },
	};
	struct htable_batch b;
	unsigned long taken;

	down_write(&hat->hat_seg_lock);
	htable_batch_init(&b, hat);
	u.w.b = &b;
	htable_walk_range(&u.w, va, va + PAGE_SIZE);
	taken = htable_stolen_take(hat, va, va + PAGE_SIZE, test_drop);
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	return u.cleared + taken ? 0 : -ENOENT;
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
	EXPECT_EQ(0, shim_rcu_pending);
	EXPECT_EQ(0, shim_machine.table_pages);
	EXPECT_EQ(0, htable_reserve_cnt);
	EXPECT_EQ(0, test_bad);
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
	unsigned long va[2 * HTABLE_MAX_LEVELS + 2], cnt[HTABLE_MAX_LEVELS];
	struct hat *hat = self->hat;
	unsigned long tables = 0;
	struct htable_check c;

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
	unsigned long before[HTABLE_MAX_LEVELS], after[HTABLE_MAX_LEVELS];
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

/*
 * Split a 2 MiB and a 1 GiB page: same translations, smaller pages. The
 * 2 MiB split allocates its table, the 1 GiB one uses a spare had first
 * (htable_spare(), for unmaps that must split several pages or none).
 */
TEST_F(core, split_large_pages)
{
	struct hat *hat = self->hat;
	unsigned long va2m = 0x40000000UL + (3UL << fake_shift(1));
	unsigned long va1g = 5UL << fake_shift(2);
	struct htable *ht, *spare, *spare0, *l1;
	unsigned int e, lv, i, cleared, locked;
	struct htable_batch b;
	long cached;
	x86pte_t pte, old;

	ASSERT_EQ(0, map_page(hat, va2m, 1, PT_SOFTLOCK | PT_REF));
	ASSERT_EQ(0, map_page(hat, va1g, 2, 0));
	ht = htable_lookup(hat, va2m, 1);
	ASSERT_NE(NULL, ht);
	/* The map counted the locked page, as map.c does. */
	EXPECT_EQ(1, atomic_read(&ht->ht_lock_cnt));
	pte = fake_translate(hat, va2m + 17 * PAGE_SIZE, &lv);
	EXPECT_EQ(1, lv);
	EXPECT_EQ(pfn_of(va2m), PTE2PFN(pte));
	/* Live on CPU 1: the split's invalidation must reach it. */
	hat->hat_cpus->bits = 0x2;
	shim_machine.cr3[1] = arch_page_to_phys(hat->hat_htable->ht_page);
	htable_batch_init(&b, hat);
	down_write(&hat->hat_seg_lock);
	e = htable_va2entry(va2m, ht);
	ASSERT_EQ(0, htable_split(ht, e, NULL, &b));
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
	/* 512 locked entries in the new table, one folio: CHECK agrees. */
	EXPECT_EQ(0, check_errors(hat));
	ht = htable_lookup(hat, va2m, 0);
	ASSERT_NE(NULL, ht);
	EXPECT_EQ(512, atomic_read(&ht->ht_valid_cnt));
	EXPECT_EQ(512, atomic_read(&ht->ht_lock_cnt));
	/* Unmap them all, as map.c does: clear, then count. */
	htable_batch_init(&b, hat);
	down_write(&hat->hat_seg_lock);
	for (i = 0, cleared = 0, locked = 0; i < 512; i++) {
		old = x86pte_inval(ht, i, 0, &b);
		cleared += PTE_ISVALID(old);
		locked += !!(old & PT_SOFTLOCK);
	}
	htable_count(ht, -(int)cleared, -(int)locked);
	htable_release(ht, &b);
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	EXPECT_EQ(512, cleared);
	EXPECT_EQ(512, locked);
	/* 512 vas overflow the batch: one full flush instead. */
	EXPECT_EQ(1, shim_machine.flushes);

	hat->hat_cpus->bits = 0;
	spare = htable_spare(hat);
	ASSERT_NE(NULL, spare);
	spare0 = spare;
	ht = htable_lookup(hat, va1g, 2);
	ASSERT_NE(NULL, ht);
	htable_batch_init(&b, hat);
	down_write(&hat->hat_seg_lock);
	ASSERT_EQ(0, htable_split(ht, htable_va2entry(va1g, ht), &spare, &b));
	htable_batch_finish(&b);
	up_write(&hat->hat_seg_lock);
	/* The spare was taken, and is the new level-1 table. */
	EXPECT_EQ(NULL, spare);
	l1 = htable_lookup(hat, va1g, 1);
	EXPECT_EQ(spare0, l1);
	ASSERT_NE(NULL, l1);
	EXPECT_EQ(arch_page_to_phys(l1->ht_page), fake_table(hat, va1g, 1));
	EXPECT_EQ(512, atomic_read(&l1->ht_valid_cnt));
	htable_release(l1, NULL);
	EXPECT_EQ(0, check_errors(hat));
	for (i = 0; i < 512; i += 73) {
		x86pte_t p = fake_translate(hat, va1g + i * (1UL << fake_shift(1)), &lv);

		EXPECT_EQ(1, lv);
		EXPECT_TRUE(p & PT_PAGESIZE);
		EXPECT_EQ(pfn_of(va1g) + i * 512, PTE2PFN(p));
	}
	/* Splitting an entry that is no large page is refused, WARNed... */
	spare = htable_spare(hat);
	ASSERT_NE(NULL, spare);
	EXPECT_EQ(-EINVAL, htable_split(ht, (htable_va2entry(va1g, ht) + 1) % 512,
					&spare, &b));
	self->warnings++;
	htable_release(ht, NULL);
	/* ...and leaves the spare to its owner, who gives it back. */
	ASSERT_NE(NULL, spare);
	cached = atomic_long_read(&htable_nr_cached);
	htable_spare_put(spare);
	EXPECT_EQ(cached + 1, atomic_long_read(&htable_nr_cached));
}

/*
 * Creating a table under a large page: link_ptp refuses, nothing leaks;
 * the walker hands a small map the large page instead of making a table
 * under it, and a large map the link instead of the table below it.
 */
TEST_F(core, link_over_large_page)
{
	struct hat *hat = self->hat;
	unsigned long va = 7UL << fake_shift(1), va2 = va + (1UL << fake_shift(1));
	long active;

	ASSERT_EQ(0, map_page(hat, va, 1, 0));
	active = atomic_long_read(&active_ptables);
	EXPECT_EQ(NULL, htable_create(hat, va, 0));
	self->warnings++;
	EXPECT_EQ(active, atomic_long_read(&active_ptables) - atomic_long_read(&htable_nr_cached));
	EXPECT_EQ(pfn_of(va), PTE2PFN(fake_translate(hat, va, NULL)));
	/* map_visit()'s -EBUSY: the walker handed it the level-1 entry. */
	EXPECT_EQ(-EBUSY, map_page(hat, va + PAGE_SIZE, 0, 0));
	EXPECT_EQ(active, atomic_long_read(&active_ptables) - atomic_long_read(&htable_nr_cached));
	EXPECT_EQ(pfn_of(va), PTE2PFN(fake_translate(hat, va + PAGE_SIZE, NULL)));

	/* map_visit()'s -ENOTEMPTY: a large page never replaces a link. */
	ASSERT_EQ(0, map_page(hat, va2 + PAGE_SIZE, 0, 0));
	EXPECT_EQ(-ENOTEMPTY, map_page(hat, va2, 1, 0));
	EXPECT_EQ(pfn_of(va2 + PAGE_SIZE), PTE2PFN(fake_translate(hat, va2 + PAGE_SIZE, NULL)));
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
 * Detach the table shared from @owner at @x into a new sharer that is live
 * on fake CPU 1, after the owner mapped the @n pages at @vas (some with
 * PT_REF, some without). Return: the sharer; its detach batch finished.
 */
static struct hat *share_and_detach(struct __test_metadata *_metadata,
				    struct hat *owner, unsigned long x,
				    const unsigned long *vas, unsigned int n)
{
	struct hat *sharer = test_hat_new();
	struct htable *oht, *got;
	struct htable_batch b;
	unsigned int i;

	if (!sharer)
		return NULL;
	for (i = 0; i < n; i++)
		if (map_page(owner, vas[i], 0, i % 2 ? PT_REF : 0))
			return NULL;
	oht = htable_create(owner, x, 0);
	if (!oht)
		return NULL;
	atomic_inc(&owner->hat_nsharers);
	EXPECT_EQ(0, htable_share_attach(sharer, x, oht));
	/* The sharer's link leads to the owner's page, marked as shared. */
	EXPECT_EQ(arch_page_to_phys(oht->ht_page), fake_table(sharer, x, 0));
	EXPECT_TRUE(fake_entry(sharer, x, 1, NULL) & PT_SHARELINK);
	EXPECT_FALSE(fake_entry(owner, x, 1, NULL) & PT_SHARELINK);
	EXPECT_EQ(pte_of(vas[0], 0, 0), fake_translate(sharer, vas[0], NULL));

	/* The sharer is live on CPU 1 and may have read through the table. */
	sharer->hat_cpus->bits = 0x2;
	shim_machine.cr3[1] = arch_page_to_phys(sharer->hat_htable->ht_page);
	shim_machine.ninv = 0;
	shim_machine.flushes = 0;
	htable_batch_init(&b, sharer);
	down_write(&sharer->hat_seg_lock);
	got = htable_share_detach(sharer, x, &b);
	up_write(&sharer->hat_seg_lock);
	htable_batch_finish(&b);
	EXPECT_EQ(oht, got);
	EXPECT_EQ(0, fake_entry(sharer, x, 1, NULL));
	/* The shared table, and each table above it that it emptied. */
	EXPECT_EQ(variant_levels - 1, atomic_long_read(&sharer->hat_unlinks));
	/* The owner's entries stay, each as it mapped them. */
	for (i = 0; i < n; i++)
		EXPECT_EQ(pte_of(vas[i], 0, i % 2 ? PT_REF : 0),
			  fake_translate(owner, vas[i], NULL));
	atomic_dec(&owner->hat_nsharers);
	sharer->hat_cpus->bits = 0;
	htable_release(got, NULL);
	return sharer;
}

/*
 * Detaching a shared table drops, on the sharer's CPUs, every translation
 * taken through it: one INVLPG of the table's va would leave every other
 * page the CPU read through it in its TLB, VALID, after the owner's
 * flushes stop reaching that CPU (an outside review found this). Not only
 * the entries still valid: an entry the owner cleared just before may be
 * flushed by the owner only after the detach, and then not on the
 * sharer's CPUs. So a full flush there, and nothing elsewhere.
 */
TEST_F(core, share_detach_drops_every_translation)
{
	const unsigned long x = 0x40000000;
	const unsigned long vas[] = { x, x + 0x1000, x + 0x7000, x + 0x9000,
				      x + 0x1ff000 };
	unsigned int i;

	variant_levels = variant->levels;
	ASSERT_NE(NULL, share_and_detach(_metadata, self->hat, x, vas,
					 ARRAY_SIZE(vas)));
	EXPECT_EQ(1, shim_machine.flushes);
	for (i = 0; i < ARRAY_SIZE(vas); i++)
		EXPECT_TRUE(shim_invalidated(1, vas[i])) TH_LOG("va %#lx", vas[i]);
	/* A page the owner no longer maps, which the CPU may still cache. */
	EXPECT_TRUE(shim_invalidated(1, x + 0x3000));
	/* Nothing ran on a CPU where the sharer was not live. */
	for (i = 0; i < ARRAY_SIZE(vas); i++)
		EXPECT_FALSE(shim_invalidated(0, vas[i]));
}

/* CHECK found exactly @n errors, the first of @code at @va. */
static bool check_found(struct hat *hat, u64 n, u32 code, unsigned long va)
{
	struct htable_check c;

	test_check(hat, &c);
	return c.errors == n && c.first_error == code && c.first_va == va;
}

/*
 * CHECK, the module's independent checker, compiled here unchanged: on a
 * sound hierarchy of 4 KiB, locked, 2 MiB and 1 GiB pages it finds
 * nothing; each inconsistency the test makes by hand (a bumped valid
 * count, a lost lock count, a User bit, a page the hat does not own, a
 * misaligned large page, a bad parent, a lost link, a dirty cached table)
 * it reports, first, at the va the test made it; repaired, it is quiet.
 */
TEST_F(core, check_catches_what_it_must)
{
	const unsigned long a = 0x40000000UL, big = a + 2 * (1UL << fake_shift(1));
	const unsigned long gone = a + 3 * (1UL << fake_shift(1));
	const unsigned long small = a + 5 * PAGE_SIZE, giant = 5UL << fake_shift(2);
	struct hat *hat = self->hat;
	struct htable *leaf, *l1, *parent;
	x86pte_t *t, *t1, save;
	unsigned int e, e1;

	ASSERT_EQ(0, map_page(hat, a, 0, 0));
	ASSERT_EQ(0, map_page(hat, a + PAGE_SIZE, 0, PT_SOFTLOCK));
	ASSERT_EQ(0, map_page(hat, small, 0, PT_REF | PT_MOD));
	ASSERT_EQ(0, map_page(hat, big, 1, 0));
	ASSERT_EQ(0, map_page(hat, giant, 2, 0));
	/* A leaf emptied into the hat's cache, zeroed. */
	ASSERT_EQ(0, map_page(hat, gone, 0, 0));
	ASSERT_EQ(0, unmap_page(hat, gone));
	ASSERT_NE(NULL, hat->hat_ht_cached);
	EXPECT_EQ(0, check_errors(hat));

	leaf = htable_lookup(hat, a, 0);
	ASSERT_NE(NULL, leaf);
	t = shim_phys_to_va(arch_page_to_phys(leaf->ht_page));
	ASSERT_NE(NULL, t);
	e = htable_va2entry(small, leaf);

	/* A valid count one too high: the table could never be freed. */
	atomic_inc(&leaf->ht_valid_cnt);
	EXPECT_TRUE(check_found(hat, 1, HTABLE_CHECK_VALID_CNT, a));
	atomic_dec(&leaf->ht_valid_cnt);
	/* A lock count one too low: a locked page could be stolen. */
	atomic_dec(&leaf->ht_lock_cnt);
	EXPECT_TRUE(check_found(hat, 1, HTABLE_CHECK_LOCK_CNT, a));
	atomic_inc(&leaf->ht_lock_cnt);
	/* A User bit: user mode could reach the page. */
	t[e] |= PT_USER;
	EXPECT_TRUE(check_found(hat, 1, HTABLE_CHECK_BITS, small));
	t[e] &= ~PT_USER;
	/* The next pfn, which no map gave the hat. */
	save = t[e];
	t[e] += PAGE_SIZE;
	EXPECT_TRUE(check_found(hat, 1, HTABLE_CHECK_UNOWNED, small));
	t[e] = save;
	/* A parent that is not the table linking it. */
	parent = leaf->ht_parent;
	leaf->ht_parent = NULL;
	EXPECT_TRUE(check_found(hat, 1, HTABLE_CHECK_PARENT, a));
	leaf->ht_parent = parent;
	EXPECT_EQ(0, check_errors(hat));

	/*
	 * A 2 MiB page one 4 KiB page off: misaligned, and its last page is
	 * no page of the hat's (the page after it was unmapped, and is no
	 * longer the hat's either).
	 */
	l1 = htable_lookup(hat, a, 1);
	ASSERT_NE(NULL, l1);
	t1 = shim_phys_to_va(arch_page_to_phys(l1->ht_page));
	ASSERT_NE(NULL, t1);
	e1 = htable_va2entry(big, l1);
	save = t1[e1];
	t1[e1] += PAGE_SIZE;
	EXPECT_TRUE(check_found(hat, 2, HTABLE_CHECK_BITS, big));
	t1[e1] = save;
	/*
	 * The leaf's link lost: the level-1 table has one entry fewer than
	 * it counts, and the leaf is hashed but out of reach.
	 */
	e1 = htable_va2entry(a, l1);
	save = t1[e1];
	t1[e1] = 0;
	EXPECT_TRUE(check_found(hat, 2, HTABLE_CHECK_VALID_CNT, a & LEVEL_MASK(2)));
	t1[e1] = save;
	htable_release(l1, NULL);
	htable_release(leaf, NULL);
	/* A cached free table that is not all zero. */
	t = shim_phys_to_va(arch_page_to_phys(hat->hat_ht_cached->ht_page));
	ASSERT_NE(NULL, t);
	t[7] = 1;
	EXPECT_TRUE(check_found(hat, 1, HTABLE_CHECK_CACHED,
				hat->hat_ht_cached->ht_vaddr));
	t[7] = 0;
	EXPECT_EQ(0, check_errors(hat));
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
		htable_fail_nth_set(n);
		if (map_page(hat, 0x7000UL << 20, 0, 0)) {
			fails++;
			EXPECT_EQ(0, fake_translate(hat, 0x7000UL << 20, NULL));
			fake_count_tables(hat, cnt);
			EXPECT_EQ(0, cnt[0]);
		} else {
			ASSERT_EQ(0, unmap_page(hat, 0x7000UL << 20));
		}
		htable_fail_nth_set(0);
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
	unsigned long cnt[HTABLE_MAX_LEVELS], total = 0, hashed = 0;
	struct htable *ht;
	bool ok;

	while (hat->hat_num_hash < 64 * n0) {
		ASSERT_LT(n, 512);
		ASSERT_EQ(0, map_page(hat, grow_va(n), 0, 0));
		n++;
	}
	fake_count_tables(hat, cnt);
	for (i = 0; i < HTABLE_MAX_LEVELS; i++)
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

/*
 * The lockless walk (PROBE's) agrees with the test's walk: 4 KiB, 2 MiB
 * and 1 GiB pages, at their start and inside; unmapped vas in a table and
 * under no table; a table shared from another hat, which it reports.
 * Outside rcu_read_lock() it is a bug, which RCU lockdep reports.
 */
TEST_F(core, lockless_lookup_agrees)
{
	struct hat *hat = self->hat, *sharer = test_hat_new();
	const unsigned long va4k = 0x40000000UL + 5 * PAGE_SIZE;
	const unsigned long va2m = 0x40000000UL + (3UL << fake_shift(1));
	const unsigned long va1g = 5UL << fake_shift(2);
	const unsigned long probe[] = {
		va4k, va4k + PAGE_SIZE, va2m, va2m + 77 * PAGE_SIZE, va1g,
		va1g + (3UL << fake_shift(1)) + 5 * PAGE_SIZE, 0,
		0x40000000UL + (9UL << fake_shift(1)), HTABLE_USER_END - PAGE_SIZE,
	};
	const unsigned int level[] = { 0, 0, 1, 1, 2, 2, 0, 0, 0 };
	const bool mapped[] = { 1, 0, 1, 1, 1, 1, 0, 0, 0 };
	unsigned int i, lvl, flvl;
	struct htable *oht;
	x86pte_t pte, want;
	bool shared;

	ASSERT_NE(NULL, sharer);
	ASSERT_EQ(0, map_page(hat, va4k, 0, PT_REF));
	ASSERT_EQ(0, map_page(hat, va2m, 1, 0));
	ASSERT_EQ(0, map_page(hat, va1g, 2, 0));
	rcu_read_lock();
	for (i = 0; i < ARRAY_SIZE(probe); i++) {
		unsigned long base = probe[i] & LEVEL_MASK(level[i]);

		want = mapped[i] ? pte_of(base, level[i], i ? 0 : PT_REF) : 0;
		/* The test's model and the test's walk say the same... */
		ASSERT_EQ(want, fake_translate(hat, probe[i], &flvl)) TH_LOG("va %#lx", probe[i]);
		/* ...and so must the lockless walk. */
		shared = true;
		pte = htable_lookup_lockless(hat, probe[i], &lvl, &shared);
		EXPECT_EQ(want, pte) TH_LOG("va %#lx", probe[i]);
		if (want)
			EXPECT_EQ(level[i], lvl) TH_LOG("va %#lx", probe[i]);
		EXPECT_FALSE(shared);
	}
	rcu_read_unlock();

	/* Through a table shared from the owner: the owner's entry, shared. */
	oht = htable_create(hat, va4k, 0);
	ASSERT_NE(NULL, oht);
	atomic_inc(&hat->hat_nsharers);
	down_write(&sharer->hat_seg_lock);
	ASSERT_EQ(0, htable_share_attach(sharer, va4k, oht));
	up_write(&sharer->hat_seg_lock);
	ASSERT_EQ(0, map_page(sharer, va2m, 1, 0));
	rcu_read_lock();
	pte = htable_lookup_lockless(sharer, va4k, &lvl, &shared);
	EXPECT_EQ(pte_of(va4k, 0, PT_REF), pte);
	EXPECT_EQ(fake_translate(sharer, va4k, NULL), pte);
	EXPECT_TRUE(shared);
	pte = htable_lookup_lockless(sharer, va4k + PAGE_SIZE, &lvl, &shared);
	EXPECT_EQ(0, pte);
	pte = htable_lookup_lockless(sharer, va2m + PAGE_SIZE, &lvl, &shared);
	EXPECT_EQ(pte_of(va2m, 1, 0), pte);
	EXPECT_EQ(1, lvl);
	EXPECT_FALSE(shared);
	rcu_read_unlock();

	/* No RCU read-side section: one WARN, and the same answer. */
	EXPECT_EQ(pte_of(va4k, 0, PT_REF), htable_lookup_lockless(hat, va4k, &lvl, &shared));
	self->warnings++;

	/* Detach the share (as share.c would) before the hats go. */
	{
		struct htable_batch b;
		struct htable *got;

		htable_batch_init(&b, sharer);
		down_write(&sharer->hat_seg_lock);
		got = htable_share_detach(sharer, va4k, &b);
		up_write(&sharer->hat_seg_lock);
		htable_batch_finish(&b);
		EXPECT_EQ(oht, got);
		atomic_dec(&hat->hat_nsharers);
		htable_release(oht, NULL);
	}
}

/*
 * A walk that read a link, then meets the table unlinked (and reused for
 * another va, or freed) before it reads the table, starts over and returns
 * the new answer: the test acts at that very point, from the walker's
 * pfn_to_page() of the table, in another thread (it may sleep).
 */
struct unlink_hook {
	struct hat *hat;
	unsigned long x, y;
	unsigned long target;	/* pfn of x's leaf table */
	bool reuse;		/* map y into the table, or free it */
	int fired;
	int err;
	long pending;		/* RCU callbacks queued after the free */
	bool page_kept;		/* pfn_to_page() still found the page */
	bool phys_gone;		/* the test's walk no longer did */
};

static struct unlink_hook *unlink_hook_arg;
static __thread bool unlink_hook_mutating;

static void *unlink_mutator(void *p)
{
	struct unlink_hook *u = p;

	unlink_hook_mutating = true;

	u->err = unmap_page(u->hat, u->x);
	if (u->reuse) {
		u->err = u->err ?: map_page(u->hat, u->y, 0, 0);
	} else {
		htable_purge_hat(u->hat);
		u->pending = shim_rcu_pending;
		u->page_kept = shim_pfn_kind(u->target) == SHIM_PFN_RETIRED;
		u->phys_gone = !shim_phys_to_va(u->target << PAGE_SHIFT);
	}
	return NULL;
}

static void unlink_hook_fn(unsigned long pfn)
{
	struct unlink_hook *u = unlink_hook_arg;
	pthread_t t;

	/* The walker's visits to the table: the first one acts. */
	if (pfn != u->target || unlink_hook_mutating || u->fired++)
		return;
	if (pthread_create(&t, NULL, unlink_mutator, u))
		abort();
	pthread_join(t, NULL);
}

static void lockless_after_unlink(struct __test_metadata *_metadata,
				  struct hat *hat, bool reuse)
{
	struct unlink_hook u = {
		.hat = hat, .reuse = reuse,
		.x = 0x40000000UL + 5 * PAGE_SIZE,
		/* The same entry of the next leaf: the reused table's. */
		.y = 0x40000000UL + (1UL << fake_shift(1)) + 5 * PAGE_SIZE,
	};
	/* Keeps the tables above x's leaf, so only the leaf goes. */
	const unsigned long z = 0x40000000UL + (2UL << fake_shift(1));
	long unlinks, pages;
	unsigned int lvl;
	x86pte_t pte;
	bool shared;

	ASSERT_EQ(0, map_page(hat, z, 0, 0));
	ASSERT_EQ(0, map_page(hat, u.x, 0, 0));
	u.target = fake_table(hat, u.x, 0) >> PAGE_SHIFT;
	ASSERT_NE(0, u.target);
	unlinks = atomic_long_read(&hat->hat_unlinks);
	pages = shim_machine.table_pages;
	unlink_hook_arg = &u;
	shim_pfn_hook = unlink_hook_fn;
	rcu_read_lock();
	pte = htable_lookup_lockless(hat, u.x, &lvl, &shared);
	rcu_read_unlock();
	shim_pfn_hook = NULL;
	ASSERT_EQ(1, u.fired);
	ASSERT_EQ(0, u.err);
	/* x's leaf was unlinked, and only it. */
	EXPECT_EQ(unlinks + 1, atomic_long_read(&hat->hat_unlinks));
	/* The new answer: x is unmapped (the old table would say y's page). */
	EXPECT_EQ(0, pte);
	EXPECT_EQ(0, fake_translate(hat, u.x, NULL));
	if (reuse) {
		/* The walk really met the table mapping y. */
		EXPECT_EQ(u.target << PAGE_SHIFT, fake_table(hat, u.y, 0));
		EXPECT_EQ(pte_of(u.y, 0, 0), fake_translate(hat, u.y, NULL));
		return;
	}
	/* Freed through RCU: kept while the walk was in its section. */
	EXPECT_GE(u.pending, 1);
	EXPECT_TRUE(u.page_kept);
	EXPECT_TRUE(u.phys_gone);
	synchronize_rcu();
	EXPECT_EQ(0, shim_rcu_pending);
	EXPECT_EQ(SHIM_PFN_FREED, shim_pfn_kind(u.target));
	EXPECT_EQ(pages - 1, shim_machine.table_pages);
}

TEST_F(core, lockless_lookup_retries_when_unlinked)
{
	lockless_after_unlink(_metadata, self->hat, true);
	lockless_after_unlink(_metadata, test_hat_new(), false);
}

/*
 * The walk read the top table's link to x's next table T; before it reads
 * T, x is unmapped (T and the tables below it go to the hat's cache) and
 * v, under another top entry, is mapped: its new tables come from the
 * cache, and T's page becomes v's leaf, whose entry at the index the walk
 * reads in T maps v's page. That entry is a data page, not a link, and
 * its content is the user's (RW writes it, or it is pinned memory): the
 * walk must not follow it as a table, let alone the entries it finds
 * there. It must start over, and answer that x is unmapped.
 */
struct reuse_hook {
	struct hat *hat;
	unsigned long x, v, target;
	int fired, err;
	unsigned long data_pfns;	/* pfns followed that are no table */
	unsigned long chosen;		/* ... of them the one v's page names */
};

static struct reuse_hook *reuse_hook_arg;
static __thread bool reuse_hook_mutating;

/* v's page, as its user wrote it: one entry that looks like a link. */
#define REUSE_CHOSEN_PFN	0xdead0UL
static x86pte_t reuse_page[512] __aligned(4096);

static void *reuse_data_page(unsigned long pfn)
{
	return pfn == pfn_of(reuse_hook_arg->v) ? reuse_page : NULL;
}

static void *reuse_mutator(void *p)
{
	struct reuse_hook *u = p;

	reuse_hook_mutating = true;
	u->err = unmap_page(u->hat, u->x) ?: map_page(u->hat, u->v, 0, 0);
	return NULL;
}

static void reuse_hook_fn(unsigned long pfn)
{
	struct reuse_hook *u = reuse_hook_arg;
	pthread_t t;

	if (reuse_hook_mutating)
		return;
	if (shim_pfn_kind(pfn) == SHIM_PFN_DATA) {
		u->data_pfns++;
		u->chosen += pfn == REUSE_CHOSEN_PFN;
		fprintf(stderr, "# lockless walk followed pfn %#lx, a data page\n", pfn);
	}
	if (pfn != u->target || u->fired++)
		return;
	if (pthread_create(&t, NULL, reuse_mutator, u))
		abort();
	pthread_join(t, NULL);
}

TEST_F(core, lockless_lookup_follows_only_tables)
{
	unsigned int top = variant->levels - 1, lvl;
	struct reuse_hook u = {
		.hat = self->hat,
		.x = 0x40000000UL + 5 * PAGE_SIZE,
	};
	x86pte_t pte;
	bool shared;

	/* v: under the next top entry, its leaf entry where T's is read. */
	u.v = (1UL << fake_shift(top)) +
	      ((u.x >> fake_shift(top - 1)) & 511) * PAGE_SIZE;
	/* Where a walk that took v's page for a table would read next. */
	memset(reuse_page, 0, sizeof(reuse_page));
	reuse_page[(u.x >> fake_shift(top - 2)) & 511] =
		(REUSE_CHOSEN_PFN << PAGE_SHIFT) | PT_VALID | PT_WRITABLE;
	shim_data_page = reuse_data_page;
	ASSERT_EQ(0, map_page(u.hat, u.x, 0, 0));
	u.target = fake_table(u.hat, u.x, top - 1) >> PAGE_SHIFT;
	ASSERT_NE(0, u.target);
	reuse_hook_arg = &u;
	shim_pfn_hook = reuse_hook_fn;
	rcu_read_lock();
	pte = htable_lookup_lockless(u.hat, u.x, &lvl, &shared);
	rcu_read_unlock();
	shim_pfn_hook = NULL;
	ASSERT_EQ(1, u.fired);
	ASSERT_EQ(0, u.err);
	/* The scenario happened: T is v's leaf now, mapping v's page. */
	EXPECT_EQ(u.target << PAGE_SHIFT, fake_table(u.hat, u.v, 0));
	EXPECT_EQ(pte_of(u.v, 0, 0), fake_translate(u.hat, u.v, NULL));
	EXPECT_EQ(0, pte);
	EXPECT_EQ(0, u.data_pfns);
	/* Worse: a pfn the page's user chose, read as a table. */
	EXPECT_EQ(0, u.chosen);
}

struct lockless_race {
	struct hat *hat;
	unsigned long x, y;
	unsigned long rounds;
	unsigned long seen;	/* reads that found x mapped */
	bool done;
};

static void *lockless_mutator(void *p)
{
	struct lockless_race *r = p;

	/* At least 1500 rounds, and on until the reader met x mapped often. */
	while (r->rounds < 1500 || __atomic_load_n(&r->seen, __ATOMIC_SEQ_CST) < 1000) {
		if (r->rounds == 200000)	/* hang guard */
			break;
		if (map_page(r->hat, r->x, 0, 0) || unmap_page(r->hat, r->x) ||
		    map_page(r->hat, r->y, 0, 0) || unmap_page(r->hat, r->y))
			break;
		/* Now and then the freed tables go back, through RCU. */
		if (!(r->rounds % 8))
			htable_purge_hat(r->hat);
		r->rounds++;
	}
	__atomic_store_n(&r->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * One thread maps and unmaps x and y (the same entry of tables that come
 * and go at every level, reused from the cache and freed through RCU)
 * while this one walks to x locklessly: each answer is what the test's
 * model allows, x's own entry or none, never y's or a table's. Under
 * ASan a page freed under the walk would be a use-after-free.
 */
TEST_F(core, lockless_lookup_race)
{
	struct lockless_race r = {
		.hat = self->hat,
		.x = 0x40000000UL + 5 * PAGE_SIZE,
		.y = 0x40000000UL + (1UL << fake_shift(1)) + 5 * PAGE_SIZE,
	};
	unsigned long reads = 0, bad = 0;
	unsigned int lvl;
	pthread_t t;
	x86pte_t pte;
	bool shared;

	ASSERT_EQ(0, pthread_create(&t, NULL, lockless_mutator, &r));
	while (!__atomic_load_n(&r.done, __ATOMIC_SEQ_CST)) {
		rcu_read_lock();
		pte = htable_lookup_lockless(r.hat, r.x, &lvl, &shared);
		rcu_read_unlock();
		reads++;
		if (!pte)
			continue;
		__atomic_add_fetch(&r.seen, 1, __ATOMIC_SEQ_CST);
		if (pte != pte_of(r.x, 0, 0) || lvl || shared)
			bad++;
	}
	pthread_join(t, NULL);
	TH_LOG("%lu rounds, %lu lockless reads, %lu found x mapped", r.rounds, reads, r.seen);
	EXPECT_GE(r.rounds, 1500);
	EXPECT_GE(r.seen, 1000);
	EXPECT_EQ(0, bad);
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
		h = HTABLE_LOCK(hats[i], 0) - htable_mutex;
		distinct += !used[h];
		used[h] = true;
	}
	/* 16 hats, 128 locks: a spread salt leaves few collisions. */
	EXPECT_GT(distinct, 8);
	/* One hat's 128 buckets use every lock once. */
	memset(used, 0, sizeof(used));
	for (h = 0, distinct = 0; h < NUM_HTABLE_MUTEX; h++) {
		i = HTABLE_LOCK(a, h) - htable_mutex;
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
