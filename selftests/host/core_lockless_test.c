// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of htable_lookup_lockless() (core_test.h says how they
 * are built and what they check): it agrees with the locked lookup,
 * retries when a table is unlinked under it, follows only tables when a
 * page is reused under it, and survives a racing mutator.
 */
#include "core_test.h"

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

TEST_HARNESS_MAIN
