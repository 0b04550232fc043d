// SPDX-License-Identifier: GPL-2.0
/*
 * Corruption on purpose: debugfs corrupt/<id>, one file per hat. Writing
 * "CODE VA" breaks the one invariant that HTABLE_CHECK_<CODE> guards, at
 * or near VA; writing "0" puts it back. A test then shows that CHECK
 * reports that exact code and va, that a window refuses the hat
 * (EUCLEAN), and that the hat recovers (repair) or is discarded safely
 * (close repairs first). The checker is the ground truth of every other
 * test: this is the test of the checker.
 *
 * One corruption per hat at a time. Each keeps a hold on the table it
 * touched, so nothing frees that table meanwhile, and marks the hat
 * HAT_CORRUPT, which keeps stealing away from it. While it stands, the
 * hat takes CHECK, INFO, PROBE and RUN; anything that changes it may find
 * the broken invariant and refuse (debugfs.rst).
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <htable/check.h>
#include <htable/corrupt.h>
#include <htable/hat.h>
#include <htable/module.h>
#include <htable/x86pte.h>

/**
 * struct htable_corruption - what corrupt/<id> broke, to put it back
 * @code:	the CHECK_* code of the invariant
 * @va:		the va CHECK must report
 * @ht:		the table touched, held (for CACHED: in the hat's cache)
 * @pt:		the table whose entry changed (@ht or its parent), or NULL
 * @entry:	that entry's index
 * @old:	its value before
 * @new:	its value now
 */
struct htable_corruption {
	unsigned int	code;
	unsigned long	va;
	struct htable	*ht;
	struct htable	*pt;
	unsigned int	entry;
	x86pte_t	old;
	x86pte_t	new;
};

/*
 * Set entry @e of @pt, a present entry, to its bits in @keep plus
 * @new_bits, recording both values for corrupt_undo().
 */
static int corrupt_entry(struct htable_corruption *k, struct htable *pt,
			 unsigned int e, x86pte_t new_bits, x86pte_t keep)
{
	x86pte_t old = x86pte_get(pt, e);

	if (!PTE_ISVALID(old))
		return -ENOENT;
	k->pt = pt;
	k->entry = e;
	k->old = old;
	k->new = (old & keep) | new_bits;
	if (x86pte_cas(pt, e, old, k->new) != old)
		return -EAGAIN;
	return 0;
}

/*
 * Take level-0 table @ht out of @hat's hash, or put it back, under its
 * bucket's lock: the one change both the HASH corruption and its undo make.
 */
static void corrupt_hash(struct hat *hat, struct htable *ht, bool hashed)
{
	unsigned int h = HTABLE_HASH(hat, ht->ht_vaddr, 0);

	spin_lock(HTABLE_LOCK(hat, h));
	if (hashed)
		htable_hash(ht, h);
	else
		htable_unhash(ht, h);
	spin_unlock(HTABLE_LOCK(hat, h));
}

/* Break invariant @k->code of @hat at @k->va; hat_seg_lock held for write. */
static int corrupt_apply(struct hat *hat, struct htable_corruption *k)
{
	unsigned long va = k->va;
	struct htable *ht, *pt;
	int err = 0;

	if (k->code == CHECK_CACHED) {
		spin_lock(&hat->hat_cache_lock);
		for (ht = hat->hat_ht_cached; ht; ht = ht->ht_next)
			if (ht->ht_vaddr == (va & LEVEL_MASK(1)))
				break;
		if (ht)
			/* A non-present entry: no walker can follow it. */
			WRITE_ONCE(*x86pte_access_pagetable(ht, 0), PT_WRITABLE);
		spin_unlock(&hat->hat_cache_lock);
		k->ht = ht;
		k->va = va & LEVEL_MASK(1);
		return ht ? 0 : -ENOENT;
	}

	ht = htable_lookup(hat, va, 0);
	if (!ht)
		return -ENOENT;
	if (ht->ht_flags & HTABLE_SHARED) {
		htable_release(ht, NULL);
		return -EINVAL;
	}
	k->ht = ht;
	pt = ht->ht_parent;
	switch (k->code) {
	case CHECK_VALID_CNT:
		atomic_inc(&ht->ht_valid_cnt);
		k->va = ht->ht_vaddr;
		break;
	case CHECK_LOCK_CNT:
		atomic_inc(&ht->ht_lock_cnt);
		k->va = ht->ht_vaddr;
		break;
	case CHECK_PARENT:
		/* A link without the D bit that every link has; the MMU ignores D there. */
		err = corrupt_entry(k, pt, htable_va2entry(ht->ht_vaddr, pt), 0, ~PT_MOD);
		k->va = ht->ht_vaddr;
		break;
	case CHECK_HASH:
		corrupt_hash(hat, ht, false);
		k->va = ht->ht_vaddr;
		break;
	case CHECK_UNOWNED:
		/* The zero page: real memory, and never the hat's. */
		err = corrupt_entry(k, ht, htable_va2entry(va, ht),
				    arch_page_to_phys(ZERO_PAGE(0)), ~PT_PADDR);
		k->va = va & PAGE_MASK;
		break;
	case CHECK_BITS:
		err = corrupt_entry(k, ht, htable_va2entry(va, ht), PT_USER, ~0ULL);
		k->va = va & PAGE_MASK;
		break;
	case CHECK_ORPHAN:
		/* Unlinked from its parent, whose count agrees, but still hashed. */
		err = corrupt_entry(k, pt, htable_va2entry(ht->ht_vaddr, pt), 0, 0);
		if (!err)
			atomic_dec(&pt->ht_valid_cnt);
		k->va = ht->ht_vaddr;
		break;
	default:
		err = -EINVAL;
	}
	if (err) {
		htable_release(ht, NULL);
		k->ht = NULL;
	}
	return err;
}

/* Put back what corrupt_apply() broke; hat_seg_lock held for write. */
static void corrupt_undo(struct hat *hat, struct htable_corruption *k)
{
	struct htable *ht = k->ht, *c;

	if (k->pt && x86pte_cas(k->pt, k->entry, k->new, k->old) != k->new)
		WARN_ONCE(1, "htable: corrupt: entry changed under the corruption\n");
	switch (k->code) {
	case CHECK_CACHED:
		/* Only while the table is still in this hat's cache. */
		spin_lock(&hat->hat_cache_lock);
		for (c = hat->hat_ht_cached; c && c != ht; c = c->ht_next)
			;
		if (c)
			WRITE_ONCE(*x86pte_access_pagetable(ht, 0), 0);
		spin_unlock(&hat->hat_cache_lock);
		return;
	case CHECK_VALID_CNT:
		atomic_dec(&ht->ht_valid_cnt);
		break;
	case CHECK_LOCK_CNT:
		atomic_dec(&ht->ht_lock_cnt);
		break;
	case CHECK_HASH:
		corrupt_hash(hat, ht, true);
		break;
	case CHECK_ORPHAN:
		atomic_inc(&k->pt->ht_valid_cnt);
		break;
	}
	htable_release(ht, NULL);
}

/* Set or clear HAT_CORRUPT. */
static void corrupt_flag(struct hat *hat, bool on)
{
	spin_lock(&htable_hat_list_lock);
	if (on)
		hat->hat_flags |= HAT_CORRUPT;
	else
		hat->hat_flags &= ~HAT_CORRUPT;
	spin_unlock(&htable_hat_list_lock);
}

/**
 * htable_corrupt_repair() - undo the corruption corrupt/<id> made, if any
 * @hat:	the hat
 *
 * The device's close calls it before the hat is freed.
 *
 * Context: process context; sleeps.
 */
void htable_corrupt_repair(struct hat *hat)
{
	struct htable_corruption *k;

	down_write(&hat->hat_seg_lock);
	k = hat->hat_corrupt;
	hat->hat_corrupt = NULL;
	if (k) {
		corrupt_undo(hat, k);
		corrupt_flag(hat, false);
	}
	up_write(&hat->hat_seg_lock);
	kfree(k);
}

static ssize_t corrupt_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	struct hat *hat = file->private_data;
	struct htable_corruption *k;
	unsigned long long va = 0;
	unsigned int code;
	char buf[64];
	int err;

	err = htable_copy_line(buf, sizeof(buf), ubuf, len);
	if (err)
		return err;
	if (sscanf(buf, "%u %lli", &code, &va) < 1)
		return -EINVAL;
	if (!code) {
		htable_corrupt_repair(hat);
		return len;
	}
	if (va >= HTABLE_USER_END)
		return -ERANGE;
	k = kzalloc(sizeof(*k), GFP_KERNEL);
	if (!k)
		return -ENOMEM;
	k->code = code;
	k->va = va;
	if (down_write_killable(&hat->hat_seg_lock)) {
		kfree(k);
		return -EINTR;
	}
	err = hat->hat_corrupt ? -EBUSY : corrupt_apply(hat, k);
	if (!err) {
		hat->hat_corrupt = k;
		corrupt_flag(hat, true);
	}
	up_write(&hat->hat_seg_lock);
	if (err) {
		kfree(k);
		return err;
	}
	return len;
}

static ssize_t corrupt_read(struct file *file, char __user *ubuf, size_t len,
			    loff_t *ppos)
{
	struct hat *hat = file->private_data;
	char buf[64];
	int n;

	if (down_read_killable(&hat->hat_seg_lock))
		return -EINTR;
	if (hat->hat_corrupt)
		n = scnprintf(buf, sizeof(buf), "%u %#lx\n", hat->hat_corrupt->code,
			      hat->hat_corrupt->va);
	else
		n = scnprintf(buf, sizeof(buf), "0\n");
	up_read(&hat->hat_seg_lock);
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

const struct file_operations htable_corrupt_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= corrupt_read,
	.write	= corrupt_write,
	.llseek	= default_llseek,
};
