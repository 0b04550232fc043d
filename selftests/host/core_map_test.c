// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the htable core's mappings (core_test.h says how
 * they are built and what they check): large pages split and linked
 * over, the batch's shootdowns, a shared table's detach, what CHECK
 * must catch, and the failure knob on page-table pages.
 */
#include "core_test.h"

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
	/* Unmap them all, as unmap.c does: clear, then count. */
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

/* The fixture variant's paging levels, for helpers outside a TEST_F. */
static unsigned int variant_levels;

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
	struct check_report c;

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
	EXPECT_TRUE(check_found(hat, 1, CHECK_VALID_CNT, a));
	atomic_dec(&leaf->ht_valid_cnt);
	/* A lock count one too low: a locked page could be stolen. */
	atomic_dec(&leaf->ht_lock_cnt);
	EXPECT_TRUE(check_found(hat, 1, CHECK_LOCK_CNT, a));
	atomic_inc(&leaf->ht_lock_cnt);
	/* A User bit: user mode could reach the page. */
	t[e] |= PT_USER;
	EXPECT_TRUE(check_found(hat, 1, CHECK_BITS, small));
	t[e] &= ~PT_USER;
	/* The next pfn, which no map gave the hat. */
	save = t[e];
	t[e] += PAGE_SIZE;
	EXPECT_TRUE(check_found(hat, 1, CHECK_UNOWNED, small));
	t[e] = save;
	/* A parent that is not the table linking it. */
	parent = leaf->ht_parent;
	leaf->ht_parent = NULL;
	EXPECT_TRUE(check_found(hat, 1, CHECK_PARENT, a));
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
	EXPECT_TRUE(check_found(hat, 2, CHECK_BITS, big));
	t1[e1] = save;
	/*
	 * The leaf's link lost: the level-1 table has one entry fewer than
	 * it counts, and the leaf is hashed but out of reach.
	 */
	e1 = htable_va2entry(a, l1);
	save = t1[e1];
	t1[e1] = 0;
	EXPECT_TRUE(check_found(hat, 2, CHECK_VALID_CNT, a & LEVEL_MASK(2)));
	t1[e1] = save;
	htable_release(l1, NULL);
	htable_release(leaf, NULL);
	/* A cached free table that is not all zero. */
	t = shim_phys_to_va(arch_page_to_phys(hat->hat_ht_cached->ht_page));
	ASSERT_NE(NULL, t);
	t[7] = 1;
	EXPECT_TRUE(check_found(hat, 1, CHECK_CACHED,
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
	unsigned long cnt[MAX_NUM_LEVEL];

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

TEST_HARNESS_MAIN
