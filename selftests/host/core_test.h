/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The shared part of the host unit tests of the htable core:
 * module/htable.c, hash.c, walk.c, x86pte.c, reserve.c, steal.c, tlb.c
 * and fail.c, and the checker behind CHECK, check.c (with claim.c),
 * compiled unchanged over the shim in selftests/host/shim/ (each test's
 * .link file lists the sources; they are all the same list). They reach
 * corners that are slow or impossible to reach in the VM: every level
 * boundary of 4- and 5-level paging, a hash bucket with 64 tables, an
 * empty and a full reserve, a steal while every hat is locked, a table
 * reused under a lockless walk.
 *
 * The tests are split by topic, each file its own binary, all over this
 * header: core_test.c (geometry, walks, counts, the hash, the reserve, and
 * the shim's own checks), core_steal_test.c (the steal and its stolen
 * records), core_map_test.c (large pages, links, the batch, share, CHECK,
 * failure injection) and core_lockless_test.c (htable_lookup_lockless()).
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
 *
 * The helpers are static inline: each file uses only some of them.
 */
#ifndef HTABLE_HOST_CORE_TEST_H
#define HTABLE_HOST_CORE_TEST_H

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

static inline unsigned int fake_shift(unsigned int level)
{
	return 12 + 9 * level;
}

static inline x86pte_t *fake_top(struct hat *hat)
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
static inline x86pte_t fake_entry(struct hat *hat, unsigned long va,
				  unsigned int stop, unsigned int *lvl)
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
static inline x86pte_t fake_translate(struct hat *hat, unsigned long va,
				      unsigned int *lvl)
{
	return fake_entry(hat, va, 0, lvl);
}

/* The physical address of the level-@l table the test's walk reaches for @va. */
static inline u64 fake_table(struct hat *hat, unsigned long va,
			     unsigned int l)
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
static inline void fake_count(x86pte_t *t, unsigned int l,
			      unsigned int entries, unsigned long *n)
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
static inline void fake_count_tables(struct hat *hat, unsigned long *n)
{
	memset(n, 0, sizeof(*n) * MAX_NUM_LEVEL);
	/* Only the lower half: the top page's upper half is the kernel's. */
	fake_count(fake_top(hat), shim_machine.levels - 1, 256, n);
}

/* Present entries of a table, counted from its page. */
static inline unsigned int fake_present(struct htable *ht)
{
	x86pte_t *t = shim_phys_to_va(arch_page_to_phys(ht->ht_page));
	unsigned int e, n = 0;

	for (e = 0; e < 512; e++)
		n += !!(t[e] & _PAGE_PRESENT);
	return n;
}

/* Tables in bucket @h of @hat, following ht_next, checking ht_prev. */
static inline unsigned int chain_len(struct hat *hat, unsigned int h, bool *ok)
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
static inline u64 stat(enum htable_stat s)
{
	return htable_stats.c[s];
}

/*
 * CHECK (module/check.c, the checker behind HTABLE_IOC_CHECK) of @hat.
 * Return: its error count; the report in *@c.
 */
static inline u64 test_check(struct hat *hat, struct check_report *c)
{
	memset(c, 0xa5, sizeof(*c));
	if (htable_check(hat, c))
		TEST_BAD("CHECK of hat %u was interrupted", hat->hat_id);
	if (c->errors)
		fprintf(stderr, "# CHECK of hat %u: %lu errors, first %u at %#lx\n",
			hat->hat_id, c->errors, c->first_error, c->first_va);
	return c->errors;
}

/* CHECK of @hat found nothing: 0, or its error count. */
static inline u64 check_errors(struct hat *hat)
{
	struct check_report c;

	return test_check(hat, &c);
}

/* ---- hats and mappings, as hat.c and map.c make them ---- */

static unsigned int test_hat_ids;

static inline struct hat *test_hat_new(void)
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
static inline void test_drop(struct hat *hat, x86pte_t pte)
{
	/* "outside any lock", htable_stolen_take() promises. */
	if (shim_spin_depth || shim_rcu_depth)
		TEST_BAD("drop of %#llx in atomic context", pte);
	shim_disown_pages(PTE2PFN(pte), 1, hat_owner_tag(hat));
}

/* As hat_free(): the stolen records go, then the tables. */
static inline void test_hat_free(struct hat *hat)
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
static inline u64 pfn_of(unsigned long va)
{
	return ((va >> PAGE_SHIFT) & ((1ULL << 40) - 1)) ^ (1ULL << 39);
}

/* The entry map_page() writes for a level-@level page at @va. */
static inline x86pte_t pte_of(unsigned long va, unsigned int level,
			      x86pte_t extra)
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

static inline int test_map_visit(struct htable_walk *w, struct htable *ht,
				 unsigned int e, unsigned int n,
				 unsigned long va)
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
static inline int map_pte(struct hat *hat, unsigned long va,
			  unsigned int level, x86pte_t pte)
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
static inline int map_page(struct hat *hat, unsigned long va,
			   unsigned int level, x86pte_t extra)
{
	return map_pte(hat, va, level, pte_of(va, level, extra));
}

/* One UNMAP, as unmap.c's unmap_visit() does it. */
struct test_unmap {
	struct htable_walk w;
	unsigned long cleared;
};

static inline int test_unmap_visit(struct htable_walk *w, struct htable *ht,
				   unsigned int e, unsigned int n,
				   unsigned long va)
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
static inline int unmap_page(struct hat *hat, unsigned long va)
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

#endif /* HTABLE_HOST_CORE_TEST_H */
