/* SPDX-License-Identifier: GPL-2.0 */
/*
 * htable: the hat and its page tables, after the illumos i86pc hat layer
 * (see Documentation/design.rst for the mapping, function by function).
 *
 * Lock order (take them top to bottom; never two of one kind at once,
 * except where said):
 *
 *   0. htable_share_mutex	mutex; SHARE, UNSHARE and closing a hat that
 *				shares or is shared. Under it both hats'
 *				hat_seg_locks are only ever tried
 *				(hat_share_trylock()): a busy hat is waited
 *				for with the mutex dropped
 *   1. hat->hat_seg_lock	rw_semaphore (the as_lock of illumos); read
 *				for MAP, UNMAP, RW, CHECK and a verify window
 *				(each with a claim, 1a) and INFO; write for
 *				SYNC, RELOAD, SHARE, growing the hash, an
 *				UNMAP that splits a large page or meets pinned
 *				memory, and a PIN map; only ever tried by
 *				stealing. CHECK of a sharer only tries an
 *				owner's, for read, under the sharer's: two
 *				hats may share each other's tables
 *  1a. a range claim		module/claim.c: under 1 held for read, pages
 *				the claimer changes and pages it only reads;
 *				waits until no changed part meets another
 *				claim, taken whole, held across sleeps, one
 *				per task at a time
 *  1b. hat->hat_range_lock	spinlock; the hat's list of claims
 *   2. htable_hat_list_lock	spinlock; the list of hats and hat_flags
 *   3. htable_mutex[128]	spinlocks: the hashed locks. A hat's bucket h
 *				is under htable_mutex[(h + salt) % 128]
 *   4. hat->hat_cache_lock	spinlock; the hat's cache of free tables
 *   5. htable_reserve_lock	spinlock; the reserve pool
 *   6. hat->hat_switch_lock	spinlock; the hat's CPU set. Taken under 1
 *				at most, never with 2-5, never with
 *				interrupts off (it is held across an IPI
 *				round, see htable_batch_flush())
 *
 * No allocation happens under 2-6. Allocations under 1 use GFP_KERNEL.
 * Whatever direct reclaim can reach in htable (htable_steal() and the
 * shrinker) never sleeps on a hat_seg_lock, only trylocks it, so it can't
 * wait on the lock its caller holds.
 *
 * PROBE takes no lock at all: it walks the hat's tables from the top
 * under rcu_read_lock(), as Linux's lockless walkers do. Table pages go
 * back to the system only after an RCU grace period; a table reused inside
 * htable (a hat's cache, a steal) is unlinked first, and each unlink
 * counts in hat_unlinks, which the walker reads before and after its walk
 * and retries on a change.
 *
 * Invariants of a table (checked with WARN_ON_ONCE where they change):
 *
 *   - ht_busy counts holds: one for each lookup/create that has not been
 *     released, plus one for each table linked below it (a child holds its
 *     parent). The top table is held by its hat.
 *   - ht_valid_cnt is the number of present entries, links to lower tables
 *     included; ht_lock_cnt is the number of entries that map locked pages.
 *     Both change only while the changer holds a busy reference, so a table
 *     whose bucket lock is held with ht_busy == 1 by the caller and
 *     ht_valid_cnt == 0 can't gain an entry: that is when it may be
 *     unlinked and freed. ht_lock_cnt <= ht_valid_cnt always.
 *   - A free table (in a hat's cache) is all zeroes. A table in the reserve
 *     has no page at all.
 *   - A table's page is freed, or reused for another va, only after every
 *     CPU where its hat is live has dropped its cached translations (the
 *     batch in tlb.h makes that structural). Unlinking a table that still
 *     has valid entries drops every one of them there (locking.rst).
 *   - A present leaf entry of a hat's own table is the record of its
 *     mapping: it holds one reference on each folio it spans, or, with
 *     PT_PINNED, one count in the hat's pin record of that folio
 *     (module/pages.c). A stolen translation keeps that in its stolen
 *     record (module/steal.c) until RELOAD puts the entry back.
 */
#ifndef _HTABLE_HTABLE_H
#define _HTABLE_HTABLE_H

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/cpumask.h>
#include <linux/list.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include <htable/arch.h>

/*
 * Most levels any hierarchy has: 5-level paging (LA57); level 0 holds 4 KiB
 * PTEs. The ABI's HTABLE_MAX_LEVELS sizes its arrays the same (dev.c
 * asserts it).
 */
#define MAX_NUM_LEVEL	5

/* ht_flags */
#define HTABLE_TOP	0x01	/* the hat's top table (an order-1 page pair) */
/* A sharer's handle on another hat's leaf table (HTABLE_SHARED_PFN). */
#define HTABLE_SHARED	0x02

/**
 * struct htable - software state of one hardware page table (htable_t)
 * @ht_next:	next in the hash chain (bucket lock), the hat's cache
 *		(hat_cache_lock), the reserve (htable_reserve_lock) or a
 *		batch's free list (the batch's owner)
 * @ht_prev:	previous in the hash chain (bucket lock)
 * @ht_parent:	the table one level up; constant while hashed
 * @ht_hat:	the hat; constant while hashed
 * @ht_vaddr:	first va the table maps; constant while hashed
 * @ht_page:	the page-table page; NULL while in the reserve
 * @ht_busy:	holds (bucket lock)
 * @ht_valid_cnt: present entries (atomic; see the invariants above)
 * @ht_lock_cnt: locked entries (atomic; see the invariants above)
 * @ht_level:	0 for tables of 4 KiB PTEs, up to mmu.max_level
 * @ht_flags:	HTABLE_*
 * @ht_shares:	HTABLE_SHARED: the owner's table whose page this one is; the
 *		share holds it busy (constant while hashed)
 *
 * 72 bytes: 1.8% of the 4 KiB table it describes. A shared table's
 * counts stay zero: its entries are counted in @ht_shares.
 */
struct htable {
	struct htable	*ht_next;
	struct htable	*ht_prev;
	struct htable	*ht_parent;
	struct hat	*ht_hat;
	unsigned long	ht_vaddr;
	struct page	*ht_page;
	u32		ht_busy;
	atomic_t	ht_valid_cnt;
	atomic_t	ht_lock_cnt;
	u8		ht_level;
	u8		ht_flags;
	struct htable	*ht_shares;
};

/* hat_flags, under htable_hat_list_lock */
#define HAT_FREEING	0x01	/* being destroyed: no caching, no stealing */
#define HAT_VICTIM	0x02	/* htable_steal() is working on this hat */
#define HAT_CORRUPT	0x04	/* a test corrupted it on purpose: no stealing */

struct htable_corruption;
struct mem_cgroup;

/**
 * struct hat - one address space: the hierarchy of one open of /dev/htable
 * @hat_seg_lock: serializes changes to the hat (see the lock order)
 * @hat_htable:	the top table; constant for the hat's life
 * @hat_ht_hash: hash chains of the hat's tables; bucket h under
 *		HTABLE_LOCK(hat, h). The array is replaced, and
 *		@hat_num_hash grows, only under hat_seg_lock held for write
 * @hat_num_hash: buckets (a power of two); grown with the table count
 * @hat_ntables: tables in the hash (atomic): when to grow it
 * @hat_lock_salt: added to a bucket to pick its hashed lock, so that the
 *		small hashes of many hats spread over the 128 locks
 * @hat_unlinks: tables unlinked from the hat so far (atomic): the lockless
 *		walker retries when it changes under it
 * @hat_cache_lock: protects @hat_ht_cached
 * @hat_ht_cached: free, zeroed tables kept for reuse (hat_cache_lock)
 * @hat_flags:	HAT_* (htable_hat_list_lock)
 * @hat_list:	on htable_hat_list (htable_hat_list_lock)
 * @hat_cpus:	CPUs where the hat is live in CR3 (hat_switch_lock): a
 *		CPU is in it while any stay on @hat_stays is on it
 * @hat_stays:	the stays joined now, struct htable_live (hat_switch_lock).
 *		Two windows of the hat may share a CPU, taking turns there
 * @hat_switch_lock: protects @hat_cpus and @hat_stays
 * @hat_range_lock: protects @hat_ranges
 * @hat_ranges:	the range claims held now, struct hat_range (lock 1b)
 * @hat_range_wq: tasks waiting for a claim
 * @hat_stolen_ptes: the translations htable_steal() took: va >> PAGE_SHIFT
 *		-> the entry, with its A/D bits, as an xarray value
 *		(module/steal.c; stealing changes it under hat_seg_lock for
 *		write, the hat's operations under their claims, or for
 *		write; RCU to read)
 * @hat_stolen_pages: translations in @hat_stolen_ptes (atomic)
 * @hat_pins:	user memory pinned for HTABLE_MAP_PIN: struct hat_pin by
 *		folio pfn (module/pages.c; hat_seg_lock held for write, or
 *		for read with a claim that changes the pages, to change it)
 * @hat_owned_pages: 4 KiB pages the hat holds, mapped or stolen (atomic)
 * @hat_shares:	as a sharer: va >> LEVEL_SHIFT(1) -> struct hat_share for
 *		each table shared into this hat (htable_share_mutex and
 *		hat_seg_lock held for write to change it; either to read)
 * @hat_shared_out: as an owner: struct hat_share of each table of this
 *		hat shared into another (htable_share_mutex)
 * @hat_nsharers: entries on @hat_shared_out; while non-zero, every
 *		shootdown of this hat goes to all CPUs (atomic)
 * @hat_stolen:	tables in use htable_steal() took, with their
 *		translations, from the hat (atomic)
 * @hat_reaped:	free tables htable_steal() took from the hat's cache
 *		(atomic)
 * @hat_memcg:	the memory cgroup of the hat's opener: what the hat
 *		allocates where it can't charge the caller (a steal's
 *		records) is charged there (constant; a reference held)
 * @hat_id:	number shown in debugfs, and the owner tag of the pages the
 *		hat allocates (constant)
 * @hat_pid:	tgid of the opener (constant)
 * @hat_refs:	references: its file's, and one per task waiting for its
 *		lock to share or unshare (the structure lives until the last)
 * @hat_debugfs: the hat's debugfs tree file
 * @hat_debugfs_corrupt: its debugfs corruption knob (module/corrupt.c)
 * @hat_corrupt: the corruption that knob made, until repaired (hat_seg_lock)
 */
struct hat {
	/* Read by every operation, changed rarely: lines shared clean. */
	struct htable		*hat_htable;
	struct htable		**hat_ht_hash;
	unsigned int		hat_num_hash;
	unsigned int		hat_lock_salt;
	unsigned long		hat_flags;
	cpumask_var_t		hat_cpus;
	atomic_long_t		hat_stolen_pages;
	atomic_t		hat_nsharers;
	struct xarray		hat_stolen_ptes;
	struct xarray		hat_pins;
	struct xarray		hat_shares;
	struct mem_cgroup	*hat_memcg;
	unsigned int		hat_id;
	pid_t			hat_pid;

	/*
	 * Written by every operation, each group on a line of its own, so
	 * that operations on disjoint ranges on two CPUs don't also move
	 * the lines above between them.
	 */
	struct rw_semaphore	hat_seg_lock ____cacheline_aligned_in_smp;
	spinlock_t		hat_range_lock ____cacheline_aligned_in_smp;
	struct list_head	hat_ranges;
	wait_queue_head_t	hat_range_wq;
	spinlock_t		hat_cache_lock ____cacheline_aligned_in_smp;
	struct htable		*hat_ht_cached;
	atomic_t		hat_ntables ____cacheline_aligned_in_smp;
	atomic_long_t		hat_unlinks;
	atomic_long_t		hat_owned_pages;
	spinlock_t		hat_switch_lock ____cacheline_aligned_in_smp;
	struct list_head	hat_stays;

	/* Cold. */
	struct list_head	hat_list ____cacheline_aligned_in_smp;
	struct list_head	hat_shared_out;
	atomic_long_t		hat_stolen;
	atomic_long_t		hat_reaped;
	refcount_t		hat_refs;
	struct dentry		*hat_debugfs;
	struct dentry		*hat_debugfs_corrupt;
	struct htable_corruption *hat_corrupt;
};

/* The paging geometry of the running kernel, set once at load (mmu_t). */
struct htable_mmu {
	unsigned int	max_level;	/* top level: 3 or 4 */
	unsigned int	max_page_level;	/* largest page level: 2 with pdpe1gb */
	unsigned int	level_shift[MAX_NUM_LEVEL];
	unsigned long	hole_start;	/* first non-canonical va */
	unsigned long	hole_end;	/* last non-canonical va */
	x86pte_t	pt_nx;		/* PT_NX when the CPU has NX, else 0 */
};

extern struct htable_mmu mmu;

#define TOP_LEVEL(hat)		(mmu.max_level)
#define LEVEL_SHIFT(l)		(mmu.level_shift[l])
#define LEVEL_SIZE(l)		(1UL << LEVEL_SHIFT(l))

static inline unsigned long LEVEL_OFFSET(unsigned int level)
{
	return LEVEL_SIZE(level) - 1;
}

static inline unsigned long LEVEL_MASK(unsigned int level)
{
	return ~LEVEL_OFFSET(level);
}

/* Start of the next level-@level entry after @va. */
static inline unsigned long NEXT_ENTRY_VA(unsigned long va, unsigned int level)
{
	return (va & LEVEL_MASK(level)) + LEVEL_SIZE(level);
}

/* Top of the lower canonical half: the end of what a hat may map. */
#define HTABLE_USER_END		(mmu.hole_start)

/* The hashed locks, and the hash: (bucket + salt) mod 128 is the lock. */
#define NUM_HTABLE_MUTEX	128

/*
 * One hashed lock to a cache line: two CPUs on different buckets don't
 * move one line between them (the debug kernel's locks are that big).
 */
struct htable_hashed_lock {
	spinlock_t	lock;	/* buckets of hats' hashes (HTABLE_LOCK()) */
} ____cacheline_aligned_in_smp;

extern struct htable_hashed_lock htable_mutex[NUM_HTABLE_MUTEX];

/* The bucket of (@va, @level) in a hash of @n buckets of @hat. */
static inline unsigned int htable_hash_index(struct hat *hat, unsigned long va,
					     unsigned int level, unsigned int n)
{
	return ((va >> LEVEL_SHIFT(1)) + (va >> 28) + level +
		((unsigned long)hat >> 6)) & (n - 1);
}

static inline unsigned int HTABLE_HASH(struct hat *hat, unsigned long va,
				       unsigned int level)
{
	return htable_hash_index(hat, va, level, hat->hat_num_hash);
}

static inline spinlock_t *HTABLE_LOCK(struct hat *hat, unsigned int h)
{
	return &htable_mutex[(h + hat->hat_lock_salt) & (NUM_HTABLE_MUTEX - 1)].lock;
}

static inline unsigned int HTABLE_NUM_PTES(struct htable *ht)
{
	return HTABLE_PTES_PER_TABLE;
}

/* Last va the table maps (inclusive). */
static inline unsigned long HTABLE_LAST_PAGE(struct htable *ht)
{
	if (ht->ht_level == mmu.max_level)
		return ~0UL;
	return ht->ht_vaddr + LEVEL_SIZE(ht->ht_level + 1) - 1;
}

/* Protects htable_hat_list and each hat's hat_flags. */
extern spinlock_t htable_hat_list_lock;
/* hat_free() waits here for a steal to let go of its hat (HAT_VICTIM). */
extern wait_queue_head_t htable_victim_wq;
/* Free tables in all hats' caches (what the shrinker can reap at once). */
extern atomic_long_t htable_nr_cached;
extern struct list_head htable_hat_list;
extern atomic_long_t active_ptables;
extern atomic_t htable_dont_cache;
/* Hashed tables of all hats, per level (shown in debugfs stats). */
extern atomic_long_t htable_level_tables[MAX_NUM_LEVEL];

/* htable.c: table lifecycle */
int htable_init(void);
void htable_fini(void);
struct htable *htable_create_below(struct htable *higher, unsigned long va);
struct htable *htable_create(struct hat *hat, unsigned long va,
			     unsigned int level);
struct htable *htable_lookup(struct hat *hat, unsigned long va,
			     unsigned int level);
void htable_acquire(struct htable *ht);
struct htable_batch;
void htable_release(struct htable *ht, struct htable_batch *b);
void htable_count(struct htable *ht, int dvalid, int dlocked);
void htable_free(struct htable *ht);
bool htable_unlink(struct htable *ht, unsigned int h);
void htable_hash(struct htable *ht, unsigned int h);
void htable_unhash(struct htable *ht, unsigned int h);
int htable_hash_grow(struct hat *hat, unsigned long extra);
int htable_hash_init(struct hat *hat);
struct htable *htable_find(struct hat *hat, unsigned int h,
			   unsigned long va, unsigned int level);
bool htable_hash_wants_growth(struct hat *hat, unsigned long extra, bool wait);
unsigned long htable_tables_spanned(struct hat *hat, unsigned long va,
				    unsigned long eaddr, unsigned int level);
struct htable *htable_spare(struct hat *hat);
void htable_spare_put(struct htable *ht);
int htable_split(struct htable *higher, unsigned int entry,
		 struct htable **spare, struct htable_batch *b);
int htable_share_attach(struct hat *hat, unsigned long va, struct htable *oht);
struct htable *htable_share_detach(struct hat *hat, unsigned long va,
				   struct htable_batch *b);
int htable_hat_init(struct hat *hat);
void htable_purge_hat(struct hat *hat);
void htable_hat_fini(struct hat *hat);

/**
 * struct htable_walk - one walk of the walker (walk.c), and its visitor
 * @hat:	the hat walked
 * @b:		the operation's batch: invalidations, and tables freed
 * @level:	the level of the entries visited in create mode (the page
 *		size being mapped); 0 otherwise
 * @create:	make missing tables down to @level
 * @own_only:	skip the entries of tables shared from another hat: those
 *		are the owner's pages, which only the owner changes or counts
 * @visit:	called with each run of @n entries of @ht from @e (va @va)
 *		that are not links; returns 0 to go on, or an errno to stop
 * @err:	the walk's result
 *
 * An operation embeds it in its own state and finds that with
 * container_of() in the visitor.
 */
struct htable_walk {
	struct hat		*hat;
	struct htable_batch	*b;
	unsigned int		level;
	bool			create;
	bool			own_only;
	int			(*visit)(struct htable_walk *w, struct htable *ht,
					 unsigned int e, unsigned int n,
					 unsigned long va);
	int			err;
};

/**
 * htable_va2entry() - index of @va's entry in @ht
 * @va:		a va @ht maps
 * @ht:		the table
 *
 * Return: 0..511.
 */
static inline unsigned int htable_va2entry(unsigned long va, struct htable *ht)
{
	WARN_ON_ONCE(va < ht->ht_vaddr || va > HTABLE_LAST_PAGE(ht));
	return (va >> LEVEL_SHIFT(ht->ht_level)) & (HTABLE_NUM_PTES(ht) - 1);
}

/**
 * htable_e2va() - first va mapped by entry @entry of @ht
 * @ht:		the table
 * @entry:	0..511
 *
 * The top table's upper half maps the upper canonical half, so those
 * entries skip the non-canonical hole.
 *
 * Return: the va.
 */
static inline unsigned long htable_e2va(struct htable *ht, unsigned int entry)
{
	unsigned int l = ht->ht_level;
	unsigned long va;

	WARN_ON_ONCE(entry >= HTABLE_NUM_PTES(ht));
	va = ht->ht_vaddr + ((unsigned long)entry << LEVEL_SHIFT(l));
	if (l == mmu.max_level && va >= mmu.hole_start)
		va += mmu.hole_end - mmu.hole_start + 1;
	return va;
}

/* The first va of the table of @level that covers @va. */
static inline unsigned long htable_base(unsigned long va, unsigned int level)
{
	return level == mmu.max_level ? 0 : va & LEVEL_MASK(level + 1);
}

/*
 * Memory a call makes the module allocate for its hat: charged to the
 * caller's memory cgroup, and, at the group's limit or when memory is
 * short, a failure (ENOMEM) rather than a call to an OOM killer, which
 * would pick the caller or an unrelated process.
 */
#define HTABLE_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* walk.c: walking */
int htable_walk_range(struct htable_walk *w, unsigned long va,
		      unsigned long eaddr);
int htable_walk_table(struct htable_walk *w, struct htable *ht,
		      unsigned long va, unsigned long eaddr);
struct htable *htable_getpte(struct hat *hat, unsigned long va,
			     unsigned int *entry, x86pte_t *pte,
			     unsigned int level);
const x86pte_t *htable_walk_lockless(struct hat *hat, unsigned long va,
				     unsigned int *level, bool *shared,
				     x86pte_t *pte);
x86pte_t htable_lookup_lockless(struct hat *hat, unsigned long va,
				unsigned int *level, bool *shared);

/* reserve.c: the reserve pool and page-table pages */
extern unsigned int htable_reserve_amount;
extern unsigned int htable_reserve_cnt;
extern unsigned long htable_throttle_pages;
extern bool htable_force_reserve;
extern unsigned long htable_ptable_cap;
extern struct kmem_cache *htable_cache;
bool USE_HAT_RESERVES(void);
void htable_put_reserve(struct htable *ht);
struct htable *htable_get_reserve(void);
int htable_initial_reserve(unsigned int count);
unsigned long htable_adjust_reserve(void);
void htable_drain_reserve(void);
struct page *ptable_alloc(unsigned int order);
void ptable_free(struct page *pg, unsigned int order, bool now);

#endif /* _HTABLE_HTABLE_H */
