// SPDX-License-Identifier: GPL-2.0
/*
 * The independent checker behind HTABLE_IOC_CHECK, and the tree dump.
 *
 * It shares no walking code with the core: it descends from the top
 * table's page through the raw entries (read here directly, the one place
 * outside x86pte.c that does, because it must not trust that code), finds
 * each linked table's structure by its own search of the hash, and
 * compares what the memory says with what the structures claim.
 */
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/xarray.h>
#include <asm/processor.h>

#include <htable/check.h>
#include <htable/claim.h>
#include <htable/hat.h>
#include <htable/pages.h>
#include <htable/share.h>
#include <htable/x86pte.h>

struct check_ctx {
	struct hat		*hat;
	struct check_report	*c;
	struct seq_file		*dump;	/* set: print the tree instead */
	x86pte_t		rsvd;	/* bits no entry may have */
	struct hat		*busy;	/* an owner found busy, with a reference */
	int			err;	/* -EAGAIN: @busy was busy; start over */
};

static void check_fail(struct check_ctx *x, enum check_code code,
		       unsigned long va)
{
	if (!x->c->errors++) {
		x->c->first_error = code;
		x->c->first_va = va;
	}
}

/* Search bucket @h for (@base, @level). */
static struct htable *check_bucket(struct hat *hat, unsigned int h,
				   unsigned long base, unsigned int level)
{
	struct htable *ht;

	spin_lock(HTABLE_LOCK(hat, h));
	for (ht = hat->hat_ht_hash[h]; ht; ht = ht->ht_next)
		if (ht->ht_vaddr == base && ht->ht_level == level)
			break;
	spin_unlock(HTABLE_LOCK(hat, h));
	return ht;
}

/*
 * Find the hashed table of (@va, @level). The bucket the hash names comes
 * first; a table found only in another bucket is an error all the same,
 * but searching them all tells a misplaced table from a missing one.
 * Duplicates are caught by the count of hashed tables.
 */
static struct htable *check_find(struct check_ctx *x, unsigned long va,
				 unsigned int level)
{
	unsigned long base = level == mmu.max_level ? 0 :
			     va & ~((1UL << (PAGE_SHIFT + (level + 1) * 9)) - 1);
	struct hat *hat = x->hat;
	struct htable *ht;
	unsigned int h;

	ht = check_bucket(hat, HTABLE_HASH(hat, base, level), base, level);
	if (ht)
		return ht;
	for (h = 0; h < hat->hat_num_hash; h++) {
		if (check_bucket(hat, h, base, level)) {
			check_fail(x, CHECK_HASH, va);
			break;
		}
	}
	return NULL;
}

static unsigned long check_entry_va(unsigned long base, unsigned int level,
				    unsigned int e)
{
	return base + ((unsigned long)e << (PAGE_SHIFT + level * 9));
}

static void check_entries(struct check_ctx *x, struct htable *ht,
			  struct htable *parent, unsigned long base,
			  unsigned int level, struct hat *owner,
			  struct htable *counted);

/*
 * Are the @n pages @pte maps @owner's? The source is not the entry but
 * what was written apart from it: a page the hat allocated carries the
 * hat's owner tag in its folio's private field, set when it was allocated
 * (pages.c), and has references; pinned memory (PT_PINNED) has a pin
 * record in the hat, made when it was pinned. Return: the index of the
 * first page that is not, or @n.
 */
static unsigned long check_owned(struct hat *owner, x86pte_t pte,
				 unsigned long n)
{
	unsigned long pfn = PTE2PFN(pte), i = 0, len;
	struct folio *folio;

	while (i < n) {
		if (!pfn_valid(pfn + i))
			return i;
		folio = page_folio(pfn_to_page(pfn + i));
		if (pte & PT_PINNED) {
			if (!xa_load(&owner->hat_pins, folio_pfn(folio)))
				return i;
		} else if ((unsigned long)folio->private != hat_owner_tag(owner) ||
			   folio_ref_count(folio) <= 0) {
			return i;
		}
		len = folio_pfn(folio) + folio_nr_pages(folio) - (pfn + i);
		i += min(len, n - i);
		if (!(i % HTABLE_PTES_PER_TABLE))
			cond_resched();
	}
	return n;
}

static void check_shared_table(struct check_ctx *x, struct htable *ht,
			       struct htable *parent, unsigned long base,
			       struct hat *owner, struct htable *counted);

/* Check one table and, recursively, everything below it. */
static void check_table(struct check_ctx *x, struct htable *ht,
			struct htable *parent, unsigned long base,
			unsigned int level)
{
	/* A shared table: its pages and counts are its owner's. */
	struct htable *counted;
	struct hat *owner;

	if (x->err)
		return;
	if (ht->ht_flags & HTABLE_SHARED) {
		owner = hat_share_owner(x->hat, base);
		counted = ht->ht_shares;
		if (!owner || !counted || counted->ht_page != ht->ht_page ||
		    counted->ht_hat != owner || counted->ht_vaddr != base) {
			check_fail(x, CHECK_PARENT, base);
			return;
		}
		check_shared_table(x, ht, parent, base, owner, counted);
		return;
	}
	check_entries(x, ht, parent, base, level, x->hat, ht);
}

/*
 * A table shared from @owner: its entries and counts are the owner's, and
 * they change under the owner's claims, not the sharer's. Read them under
 * a claim on the owner too, or a MAP of the owner half done would look
 * like an error, and a window on the sharer would be refused for it.
 *
 * The owner's lock and claim are only tried. Two hats may share each
 * other's tables: a CHECK of each that waited here, holding its own
 * hat's lock, behind a writer queued on the other's, would wait in a
 * circle. When the owner is busy, the whole check starts over, holding
 * nothing while it waits (check_hat()).
 */
static void check_shared_table(struct check_ctx *x, struct htable *ht,
			       struct htable *parent, unsigned long base,
			       struct hat *owner, struct htable *counted)
{
	struct hat_range oc = HAT_RANGE_READS(base >> PAGE_SHIFT,
					      (base >> PAGE_SHIFT) + HTABLE_PTES_PER_TABLE - 1);

	if (!down_read_trylock(&owner->hat_seg_lock))
		goto busy;
	if (!hat_range_tryclaim(owner, &oc)) {
		up_read(&owner->hat_seg_lock);
		goto busy;
	}
	check_entries(x, ht, parent, base, 0, owner, counted);
	hat_range_release(owner, &oc);
	up_read(&owner->hat_seg_lock);
	return;

busy:
	/* The owner can't go while the sharer's lock is held; keep it. */
	hat_get(owner);
	x->busy = owner;
	x->err = -EAGAIN;
}

/*
 * The entries of @ht, a table of @level at @base whose parent is @parent:
 * their pages are @owner's, their counts those of @counted.
 */
static void check_entries(struct check_ctx *x, struct htable *ht,
			  struct htable *parent, unsigned long base,
			  unsigned int level, struct hat *owner,
			  struct htable *counted)
{
	const x86pte_t *ptes = page_address(ht->ht_page);
	/* The top table's upper half is the kernel's, not the hat's. */
	unsigned int n = level == mmu.max_level ? 256 : 512;
	unsigned int e, present = 0, locked = 0;
	x86pte_t pte;

	/* A hat of millions of pages: let others run between tables. */
	cond_resched();
	x->c->tables++;
	if (ht->ht_parent != parent || ht->ht_level != level ||
	    ht->ht_vaddr != (level == mmu.max_level ? 0 : base) ||
	    ht->ht_hat != x->hat)
		check_fail(x, CHECK_PARENT, base);
	if (x->dump)
		seq_printf(x->dump, "%*sL%u %016lx valid %d locked %d busy %u\n",
			   2 * (mmu.max_level - level), "", level, base,
			   atomic_read(&ht->ht_valid_cnt),
			   atomic_read(&ht->ht_lock_cnt), ht->ht_busy);

	for (e = 0; e < n; e++) {
		unsigned long va = check_entry_va(base, level, e);
		struct htable *child;

		pte = READ_ONCE(ptes[e]);
		if (!(pte & PT_VALID))
			continue;
		present++;
		x->c->entries++;
		if (pte & (PT_USER | PT_GLOBAL | x->rsvd))
			check_fail(x, CHECK_BITS, va);
		if (level == 0 || (pte & PT_PAGESIZE)) {
			unsigned long i, n = 1UL << (level * 9);

			/* A large page: a PS bit where allowed, its pfn aligned. */
			if (level > mmu.max_page_level || (PTE2PFN(pte) & (n - 1)))
				check_fail(x, CHECK_BITS, va);
			if (pte & PT_SOFTLOCK)
				locked++;
			i = check_owned(owner, pte, n);
			if (i < n)
				check_fail(x, CHECK_UNOWNED, va + (i << PAGE_SHIFT));
			continue;
		}
		child = check_find(x, va, level - 1);
		if (!child) {
			check_fail(x, CHECK_HASH, va);
			continue;
		}
		/* Every link is the same, marked when it leads to a shared table. */
		if ((pte & ~PT_PADDR) != (PT_VALID | PT_WRITABLE | PT_REF | PT_MOD |
					  (child->ht_flags & HTABLE_SHARED ? PT_SHARELINK : 0)))
			check_fail(x, CHECK_PARENT, va);
		if (page_to_pfn(child->ht_page) != PTE2PFN(pte)) {
			check_fail(x, CHECK_PARENT, va);
			continue;
		}
		check_table(x, child, ht, va, level - 1);
	}
	if (present != atomic_read(&counted->ht_valid_cnt))
		check_fail(x, CHECK_VALID_CNT, base);
	if (locked != atomic_read(&counted->ht_lock_cnt))
		check_fail(x, CHECK_LOCK_CNT, base);
}

/*
 * Does the hierarchy reach @ht? Follows @ht's va from the top table
 * through the raw links, as the MMU would, down to @ht's level.
 */
static bool check_reachable(struct hat *hat, struct htable *ht)
{
	struct page *pg = hat->hat_htable->ht_page;
	unsigned long va = ht->ht_vaddr;
	unsigned int l;
	x86pte_t pte;

	for (l = mmu.max_level; l > ht->ht_level; l--) {
		pte = READ_ONCE(((x86pte_t *)page_address(pg))
				[(va >> (PAGE_SHIFT + l * 9)) & 511]);
		if (!(pte & PT_VALID) || (pte & PT_PAGESIZE) ||
		    !pfn_valid(PTE2PFN(pte)))
			return false;
		pg = pfn_to_page(PTE2PFN(pte));
	}
	return pg == ht->ht_page;
}

/*
 * One pass over the whole hat. Return: 0 (the report in x->c), -EINTR,
 * or -EAGAIN with x->busy set when a shared table's owner was busy.
 */
static int check_hat_once(struct check_ctx *x)
{
	struct hat_range all = HAT_RANGE_READS(0, ULONG_MAX);
	unsigned int h, phys_bits = boot_cpu_data.x86_phys_bits;
	unsigned long hashed = 0, orphans = 0;
	struct check_report *c = x->c;
	struct hat *hat = x->hat;
	struct htable *ht;

	memset(c, 0, sizeof(*c));
	/* Bits 51..MAXPHYADDR are reserved in every entry (SDM 4.5). */
	if (phys_bits < 52)
		x->rsvd = GENMASK_ULL(51, phys_bits);

	/* The whole hat: no MAP or UNMAP is half done while it is checked. */
	if (down_read_killable(&hat->hat_seg_lock))
		return -EINTR;
	if (hat_range_claim(hat, &all)) {
		up_read(&hat->hat_seg_lock);
		return -EINTR;
	}
	ht = check_find(x, 0, mmu.max_level);
	if (!ht || ht != hat->hat_htable)
		check_fail(x, CHECK_HASH, 0);
	else
		check_table(x, ht, NULL, 0, mmu.max_level);
	if (x->err)
		goto out;

	/* Every hashed table must be reachable, once. */
	for (h = 0; h < hat->hat_num_hash; h++) {
		spin_lock(HTABLE_LOCK(hat, h));
		for (ht = hat->hat_ht_hash[h]; ht; ht = ht->ht_next) {
			hashed++;
			if (!check_reachable(hat, ht)) {
				orphans++;
				check_fail(x, CHECK_ORPHAN, ht->ht_vaddr);
			}
		}
		spin_unlock(HTABLE_LOCK(hat, h));
		cond_resched();
	}
	if (!orphans && hashed != c->tables)
		check_fail(x, CHECK_ORPHAN, 0);

	spin_lock(&hat->hat_cache_lock);
	for (ht = hat->hat_ht_cached; ht; ht = ht->ht_next)
		if (memchr_inv(page_address(ht->ht_page), 0, PAGE_SIZE))
			check_fail(x, CHECK_CACHED, ht->ht_vaddr);
	spin_unlock(&hat->hat_cache_lock);
out:
	hat_range_release(hat, &all);
	up_read(&hat->hat_seg_lock);
	return x->err;
}

/*
 * Wait, holding nothing but a reference on @owner, until no writer and no
 * claim that changes pages holds it; then drop the reference.
 * Return: 0, or -EINTR when a fatal signal came first.
 */
static int check_wait_owner(struct hat *owner)
{
	struct hat_range all = HAT_RANGE_READS(0, ULONG_MAX);
	int err = -EINTR;

	if (!down_read_killable(&owner->hat_seg_lock)) {
		if (!hat_range_claim(owner, &all)) {
			hat_range_release(owner, &all);
			err = 0;
		}
		up_read(&owner->hat_seg_lock);
	}
	hat_put(owner);
	return err;
}

/*
 * Check @hat, or print its tree into @dump. A pass that found a shared
 * table's owner busy is thrown away (and what it printed with it): wait
 * for the owner, then check the whole hat again.
 */
static int check_hat(struct hat *hat, struct check_report *c,
		     struct seq_file *dump)
{
	size_t printed = dump ? dump->count : 0;
	struct check_ctx x;
	int err;

	for (;;) {
		x = (struct check_ctx){ .hat = hat, .c = c, .dump = dump };
		err = check_hat_once(&x);
		if (err != -EAGAIN)
			return err;
		if (dump)
			dump->count = printed;
		err = check_wait_owner(x.busy);
		if (err)
			return err;
	}
}

/**
 * htable_check() - verify every table of @hat against its entries
 * @hat:	the hat
 * @c:		out: the report (errors == 0 when sound)
 *
 * Checks, per table: ht_valid_cnt and ht_lock_cnt against the entries;
 * parent, level, va and hat fields against the link that leads to it;
 * that the table is hashed exactly once; that every present page entry
 * maps a page the hat owns, by what was written apart from the entry: the
 * owner tag and references of a page it allocated, or a pin record (for a
 * large page: each of its 4 KiB pages, and its pfn aligned to its size; in
 * a table shared from another hat, the owner's pages, against the owner's
 * counts);
 * that no entry has User, Global or reserved bits; that no hashed table
 * is unreachable; and that cached free tables are all zero.
 *
 * Context: sleeps, killably.
 * Return: 0, or -EINTR when a fatal signal ended a wait for the hat or
 * for the owner of a table it shares.
 */
int htable_check(struct hat *hat, struct check_report *c)
{
	return check_hat(hat, c, NULL);
}

/**
 * htable_dump_tree() - print @hat's hierarchy, one table per line
 * @hat:	the hat
 * @m:		where to print
 */
void htable_dump_tree(struct hat *hat, struct seq_file *m)
{
	struct check_report c;

	seq_printf(m, "hat %u pid %d, %u levels, %ld pages owned\n",
		   hat->hat_id, hat->hat_pid, mmu.max_level + 1,
		   atomic_long_read(&hat->hat_owned_pages));
	if (check_hat(hat, &c, m)) {
		seq_puts(m, "interrupted\n");
		return;
	}
	seq_printf(m, "check: %lu errors, %lu tables, %lu entries\n",
		   c.errors, c.tables, c.entries);
}
