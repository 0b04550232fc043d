/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-space kernel shim: just what the htable core (module/htable.c,
 * hash.c, walk.c, x86pte.c, reserve.c, steal.c, tlb.c, fail.c) and the
 * checker (check.c, claim.c) use, over libc and pthreads. Every linux/ and asm/ header in this directory includes this
 * one file, so a core source file sees the same definitions whatever it
 * includes. The locks are real: lockdep_assert_held() checks that the
 * calling thread owns the lock, and a WARN (counted in shim_warnings) fails
 * the test that caused it. A little of lockdep and of the kernel's
 * debugging checks comes with them: two locks of one class held at once,
 * two classes taken in both orders, a sleep (a sleeping lock, a sleeping
 * allocation, cond_resched()) under a spinlock or rcu_read_lock(), each
 * WARNs. The xarray is a real one (a sorted array), RCU defers callbacks
 * until no reader is inside rcu_read_lock(). See
 * Documentation/testing.rst, "The host build of the core".
 */
#ifndef _HTABLE_SHIM_H
#define _HTABLE_SHIM_H

#include <linux/types.h>	/* the libc's UAPI __u64 etc. (include_next) */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef long long s64;
typedef int32_t s32;
typedef unsigned int gfp_t;
typedef unsigned int slab_flags_t;

#ifndef KBUILD_MODNAME
#define KBUILD_MODNAME "htable"
#endif

/* ---- compiler ---- */
#define READ_ONCE(x)	(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) do { *(volatile __typeof__(x) *)&(x) = (v); } while (0)
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define __always_unused	__attribute__((unused))
#define __maybe_unused	__attribute__((unused))
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#define __user
#define __aligned(x)	__attribute__((aligned(x)))
#define ____cacheline_aligned_in_smp	__aligned(64)
#define barrier()	__asm__ __volatile__("" ::: "memory")
#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#define BUILD_BUG_ON(c)	_Static_assert(!(c), #c)
#define BIT(n)		(1UL << (n))
#define BIT_ULL(n)	(1ULL << (n))
#define __stringify_1(x)	#x
#define __stringify(x)	__stringify_1(x)
#define smp_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_rmb()	smp_mb()
#define smp_wmb()	smp_mb()
#define smp_mb__after_atomic()	smp_mb()
#define smp_mb__before_atomic()	smp_mb()
#define ilog2(n)	((int)(63 - __builtin_clzll((unsigned long long)(n))))

/* ---- printk and WARN: every warning is counted and fails the test ---- */
extern long shim_warnings;
void shim_warn(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif
#define pr_err(fmt, ...)  fprintf(stderr, "# " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) fprintf(stderr, "# " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...) fprintf(stderr, "# " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...) do { } while (0)
#define pr_warn_ratelimited pr_warn

#define WARN(c, fmt, ...) ({						\
	bool __c = !!(c);						\
	if (unlikely(__c))						\
		shim_warn(__FILE__, __LINE__, fmt, ##__VA_ARGS__);	\
	__c; })
#define WARN_ONCE(c, fmt, ...)	WARN(c, fmt, ##__VA_ARGS__)
#define WARN_ON(c)		WARN(c, "WARN_ON(%s)\n", #c)
#define WARN_ON_ONCE(c)		WARN_ON(c)

/* ---- min/max ---- */
#define min(a, b)	((a) < (b) ? (a) : (b))
#define max(a, b)	((a) > (b) ? (a) : (b))
#define min_t(t, a, b)	min((t)(a), (t)(b))
#define max_t(t, a, b)	max((t)(a), (t)(b))
#define clamp_val(v, lo, hi) min((__typeof__(v))max((v), (__typeof__(v))(lo)), \
				 (__typeof__(v))(hi))

/* ---- atomics (seq_cst __atomic builtins) ---- */
typedef struct { int counter; } atomic_t;
typedef struct { long counter; } atomic_long_t;
#define ATOMIC_INIT(i)		{ (i) }
#define ATOMIC_LONG_INIT(i)	{ (i) }
#define SHIM_ATOMIC_OPS(pfx, T, V)					\
static inline V pfx##_read(const T *a)					\
{ return __atomic_load_n(&a->counter, __ATOMIC_SEQ_CST); }		\
static inline void pfx##_set(T *a, V v)					\
{ __atomic_store_n(&a->counter, v, __ATOMIC_SEQ_CST); }			\
static inline void pfx##_add(V v, T *a)					\
{ __atomic_add_fetch(&a->counter, v, __ATOMIC_SEQ_CST); }		\
static inline void pfx##_sub(V v, T *a)					\
{ __atomic_sub_fetch(&a->counter, v, __ATOMIC_SEQ_CST); }		\
static inline void pfx##_inc(T *a) { pfx##_add(1, a); }		\
static inline void pfx##_dec(T *a) { pfx##_sub(1, a); }		\
static inline V pfx##_add_return(V v, T *a)				\
{ return __atomic_add_fetch(&a->counter, v, __ATOMIC_SEQ_CST); }	\
static inline V pfx##_inc_return(T *a) { return pfx##_add_return(1, a); } \
static inline V pfx##_dec_return(T *a) { return pfx##_add_return(-1, a); }
SHIM_ATOMIC_OPS(atomic, atomic_t, int)
SHIM_ATOMIC_OPS(atomic_long, atomic_long_t, long)

/* Returns the value found, as the kernel's does. */
#define cmpxchg64(p, o, n) ({						\
	__typeof__(*(p)) __old = (o);					\
	__atomic_compare_exchange_n((p), &__old, (n), false,		\
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
	__old; })
#define cmpxchg cmpxchg64
#define xchg(p, n)	__atomic_exchange_n((p), (n), __ATOMIC_SEQ_CST)

/* ---- lists ---- */
struct list_head { struct list_head *next, *prev; };
#define LIST_HEAD_INIT(n)	{ &(n), &(n) }
#define LIST_HEAD(n)		struct list_head n = LIST_HEAD_INIT(n)
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l->prev = l; }
static inline void __list_add(struct list_head *n, struct list_head *p,
			      struct list_head *nx)
{
	nx->prev = n; n->next = nx; n->prev = p; p->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *h)
{ __list_add(n, h, h->next); }
static inline void list_add_tail(struct list_head *n, struct list_head *h)
{ __list_add(n, h->prev, h); }
static inline void list_del(struct list_head *e)
{
	e->next->prev = e->prev; e->prev->next = e->next;
	e->next = e->prev = NULL;
}
static inline void list_move_tail(struct list_head *e, struct list_head *h)
{
	e->next->prev = e->prev; e->prev->next = e->next;
	list_add_tail(e, h);
}
static inline bool list_empty(const struct list_head *h) { return h->next == h; }
static inline bool list_is_last(const struct list_head *e,
				const struct list_head *h)
{ return e->next == h; }
#define list_entry(p, t, m)		container_of(p, t, m)
#define list_first_entry(h, t, m)	list_entry((h)->next, t, m)
#define list_first_entry_or_null(h, t, m) \
	(list_empty(h) ? NULL : list_first_entry(h, t, m))
#define list_next_entry(p, m)	list_entry((p)->m.next, __typeof__(*(p)), m)
#define list_for_each_entry(p, h, m)					\
	for (p = list_first_entry(h, __typeof__(*p), m); &p->m != (h);	\
	     p = list_next_entry(p, m))

/*
 * ---- locks: real, owner-tracking, with a little of lockdep ----
 *
 * A lock's class is where it was initialized (spin_lock_init() and
 * init_rwsem() sites, as lockdep's static keys), or its name for
 * DEFINE_SPINLOCK. Each thread keeps the locks it holds: taking a second
 * lock of a class it holds already WARNs (lockdep's "possible recursive
 * locking"; *_nested() names a subclass), and so does taking class B under
 * A after A was taken under B (a direct ABBA inversion). Trylocks are
 * recorded but not checked, as in lockdep.
 */
struct shim_lock_class {
	const char *name;
	unsigned int sub;
};

typedef struct {
	pthread_mutex_t m;
	pthread_t owner;
	bool held;
	const char *cls;
} spinlock_t;
#define __SPIN_LOCK_UNLOCKED(x)	{ PTHREAD_MUTEX_INITIALIZER, 0, false, #x }
#define DEFINE_SPINLOCK(x)	spinlock_t x = __SPIN_LOCK_UNLOCKED(x)
void shim_spin_lock_init(spinlock_t *l, const char *cls);
#define spin_lock_init(l) \
	shim_spin_lock_init((l), "spinlock@" __FILE__ ":" __stringify(__LINE__))
void spin_lock(spinlock_t *l);
void spin_lock_nested(spinlock_t *l, unsigned int sub);
bool spin_trylock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool shim_spin_held(const spinlock_t *l);
/* Spinlock acquisitions, all locks and threads: what a walk costs in locks. */
extern long shim_spin_locks;

struct rw_semaphore {
	pthread_rwlock_t l;
	pthread_t writer;
	bool write_held;
	int readers;		/* atomic */
	const char *cls;
};
void shim_init_rwsem(struct rw_semaphore *s, const char *cls);
#define init_rwsem(s) \
	shim_init_rwsem((s), "rwsem@" __FILE__ ":" __stringify(__LINE__))
void down_read(struct rw_semaphore *s);
void up_read(struct rw_semaphore *s);
void down_write(struct rw_semaphore *s);
void down_write_nested(struct rw_semaphore *s, unsigned int sub);
int down_write_trylock(struct rw_semaphore *s);
int down_read_trylock(struct rw_semaphore *s);
void up_write(struct rw_semaphore *s);
bool shim_rwsem_held(const struct rw_semaphore *s);
bool shim_rwsem_held_write(const struct rw_semaphore *s);
static inline int down_write_killable(struct rw_semaphore *s)
{
	down_write(s);
	return 0;
}

static inline int down_read_killable(struct rw_semaphore *s)
{
	down_read(s);
	return 0;
}

/* A mutex sleeps: it is no atomic context, unlike a spinlock. */
struct mutex { spinlock_t s; };
#define DEFINE_MUTEX(x)	struct mutex x = { __SPIN_LOCK_UNLOCKED(x) }
#define mutex_init(x)	shim_spin_lock_init(&(x)->s, "mutex@" __FILE__ ":" __stringify(__LINE__))
void mutex_lock(struct mutex *m);
void mutex_unlock(struct mutex *m);
static inline bool shim_mutex_held(const struct mutex *m)
{ return shim_spin_held(&m->s); }

#define lockdep_assert_held(l)						\
	WARN(!_Generic((l),						\
		       spinlock_t *: shim_spin_held,			\
		       struct rw_semaphore *: shim_rwsem_held,		\
		       struct mutex *: shim_mutex_held)(l),		\
	     "lockdep_assert_held(%s) not held\n", #l)
#define lockdep_assert_held_write(l)					\
	WARN(!shim_rwsem_held_write(l),					\
	     "lockdep_assert_held_write(%s) not held\n", #l)
#define lockdep_assert_held_read(l)					\
	WARN(!shim_rwsem_held(l) || shim_rwsem_held_write(l),		\
	     "lockdep_assert_held_read(%s) not held for read\n", #l)
#define SINGLE_DEPTH_NESTING	1
void down_read_nested(struct rw_semaphore *s, unsigned int sub);
static inline int down_read_killable_nested(struct rw_semaphore *s,
					    unsigned int sub)
{
	down_read_nested(s, sub);
	return 0;
}

/*
 * Atomic context: spinlocks held by this thread, and rcu_read_lock()
 * depth. Sleeping there is a bug the kernel reports ("sleeping function
 * called from invalid context"); here might_sleep() WARNs.
 */
extern __thread int shim_spin_depth;
extern __thread int shim_rcu_depth;
#define might_sleep()							\
	WARN(shim_spin_depth || shim_rcu_depth,				\
	     "sleeping in atomic context (%d spinlocks, rcu depth %d)\n", \
	     shim_spin_depth, shim_rcu_depth)
#define cond_resched()	({ might_sleep(); 0; })

/* Wait queues: single-process tests never sleep; wakes are counted. */
typedef struct { int unused; } wait_queue_head_t;
#define DECLARE_WAIT_QUEUE_HEAD(x)	wait_queue_head_t x = { 0 }
extern long shim_wakeups;
#define wake_up_all(q)	((void)(q), __atomic_add_fetch(&shim_wakeups, 1, __ATOMIC_SEQ_CST))
/* Nobody sleeps on a queue: a waiter yields until its condition holds. */
#define wq_has_sleeper(q)	((void)(q), false)
void shim_yield(void);
#define wait_event_killable(q, cond) ({					\
	might_sleep();							\
	while (!(cond))							\
		shim_yield();						\
	0; })

/* ---- memory ---- */
#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define __GFP_DIRECT_RECLAIM	0x1u	/* the allocation may sleep */
#define GFP_KERNEL	__GFP_DIRECT_RECLAIM
#define GFP_NOWAIT	0x2u
#define GFP_ATOMIC	0x2u
#define __GFP_NOWARN	0x4u
#define __GFP_NORETRY	0x8u
#define __GFP_ZERO	0x10u
#define __GFP_ACCOUNT	0x20u
#define __GFP_RETRY_MAYFAIL	0x40u
#define GFP_KERNEL_ACCOUNT	(GFP_KERNEL | __GFP_ACCOUNT)
#define SLAB_HWCACHE_ALIGN 0x1u
#define SLAB_ACCOUNT	0x2u

/* An allocation that may sleep must not come from atomic context. */
#define might_alloc(gfp) do {						\
	if ((gfp) & __GFP_DIRECT_RECLAIM)				\
		might_sleep();						\
} while (0)

struct kmem_cache {
	const char *name;
	size_t size;
	atomic_long_t live;	/* objects allocated and not freed */
};
struct kmem_cache *kmem_cache_create(const char *name, size_t size,
				     size_t align, slab_flags_t flags,
				     void (*ctor)(void *));
#define KMEM_CACHE(s, f) kmem_cache_create(#s, sizeof(struct s), 0, f, NULL)
void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t gfp);
void kmem_cache_free(struct kmem_cache *c, void *p);
void kmem_cache_destroy(struct kmem_cache *c);
void *kzalloc(size_t n, gfp_t gfp);
void kfree(const void *p);
void *kvcalloc(size_t n, size_t size, gfp_t gfp);
void kvfree(const void *p);

/* ---- RCU: a grace period ends when no thread is inside rcu_read_lock() ---- */
struct page;
struct rcu_head {
	struct rcu_head *next;
	void (*func)(struct rcu_head *head);
	struct page *shim_page;	/* the page this head is in, if one */
};
typedef void (*rcu_callback_t)(struct rcu_head *head);
void rcu_read_lock(void);
void rcu_read_unlock(void);
static inline bool rcu_read_lock_held(void)
{
	return shim_rcu_depth > 0;
}

#define RCU_LOCKDEP_WARN(c, s)	WARN((c), "suspicious RCU usage: %s\n", (s))
/*
 * Queued; run once no reader is inside rcu_read_lock() (then, at once), or
 * at synchronize_rcu()/rcu_barrier(). A page's callback retires the page
 * first: pfn_to_page() still finds it, shim_phys_to_va() no longer does.
 */
void call_rcu(struct rcu_head *head, rcu_callback_t func);
void synchronize_rcu(void);
void rcu_barrier(void);
extern long shim_rcu_pending;	/* callbacks queued, not run */

/*
 * A page: an aligned buffer with a fake, never-reused pfn, so that an entry
 * (a physical address) can be followed back to its table by the test's own
 * walker (shim_phys_to_va()).
 */
struct page {
	void *va;
	unsigned long pfn;
	unsigned int order;
	bool retired;		/* freed through call_rcu(), not yet gone */
	unsigned long private;
	struct rcu_head rcu_head;
};
unsigned long totalram_pages(void);
/*
 * The struct page of @pfn. A table page is found until it is freed (a page
 * freed through call_rcu() until its grace period ends); any other pfn is
 * a data page, which reads as zeroes, as the kernel reads the memory of a
 * page it maps. A table page already freed WARNs: that read is a
 * use-after-free in the kernel.
 */
struct page *pfn_to_page(unsigned long pfn);
enum shim_pfn_kind {
	SHIM_PFN_TABLE,		/* a table page in use */
	SHIM_PFN_RETIRED,	/* freed through call_rcu(), grace period running */
	SHIM_PFN_FREED,		/* was a table page, freed */
	SHIM_PFN_DATA,		/* never a table page */
};
enum shim_pfn_kind shim_pfn_kind(unsigned long pfn);
/* Called by pfn_to_page() when set: lets a test act mid-walk. */
extern void (*shim_pfn_hook)(unsigned long pfn);
/* When set, the content of a data page (NULL: zeroes), as a user wrote it. */
extern void *(*shim_data_page)(unsigned long pfn);
#define page_to_pfn(pg)	((pg)->pfn)
#define page_address(pg)	((pg)->va)
/* Every pfn of the fake machine's 52-bit physical space is memory. */
#define pfn_valid(pfn)		((unsigned long)(pfn) < (1UL << 40))

/*
 * Folios of data pages: what the pages a hat allocated carry (pages.c
 * writes its owner tag in folio->private). The test says which runs of
 * pages a hat owns as it maps them (shim_own_pages(), counted) and as it
 * unmaps them (shim_disown_pages(), the same run and tag); page_folio()
 * of a data page then reads that record: the folio is the owned run that
 * holds it, or a lone page with no owner and no reference. Table pages
 * have no folio here.
 */
struct folio {
	unsigned long pfn;
	unsigned long nr;
	void *private;
	int refs;
};
void shim_own_pages(unsigned long pfn, unsigned long n, unsigned long tag);
void shim_disown_pages(unsigned long pfn, unsigned long n, unsigned long tag);
struct folio *page_folio(struct page *pg);
#define folio_pfn(f)		((f)->pfn)
#define folio_nr_pages(f)	((f)->nr)
#define folio_ref_count(f)	((f)->refs)
/* References of a page in no owned run are counted on its lone record. */
static inline void folio_get(struct folio *f) { __atomic_add_fetch(&f->refs, 1, __ATOMIC_SEQ_CST); }
static inline void folio_put(struct folio *f) { __atomic_sub_fetch(&f->refs, 1, __ATOMIC_SEQ_CST); }

static inline void *memchr_inv(const void *p, int c, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != (unsigned char)c)
			return (void *)(b + i);
	return NULL;
}

#define GENMASK_ULL(h, l)	((~0ULL >> (63 - (h))) & (~0ULL << (l)))

/* The CPU: MAXPHYADDR 52, so no entry bit below 52 is reserved. */
struct cpuinfo_x86 { unsigned int x86_phys_bits; };
extern struct cpuinfo_x86 boot_cpu_data;

/* Reclaim progress a shrinker reports (6.4+): summed here. */
#define HTABLE_HAVE_ACCOUNT_RECLAIMED	/* what Kbuild finds in 6.4+ */
extern long shim_reclaimed;
static inline void mm_account_reclaimed_pages(unsigned long pages)
{
	__atomic_add_fetch(&shim_reclaimed, pages, __ATOMIC_SEQ_CST);
}

/* ---- memory cgroups: only the active one, per thread ---- */
struct mem_cgroup;
extern __thread struct mem_cgroup *shim_active_memcg;
static inline struct mem_cgroup *set_active_memcg(struct mem_cgroup *memcg)
{
	struct mem_cgroup *old = shim_active_memcg;

	shim_active_memcg = memcg;
	return old;
}

/* ---- refcount_t ---- */
typedef struct { atomic_t refs; } refcount_t;
static inline void refcount_set(refcount_t *r, int n) { atomic_set(&r->refs, n); }
static inline unsigned int refcount_read(const refcount_t *r)
{ return atomic_read(&r->refs); }
static inline void refcount_inc(refcount_t *r)
{
	WARN(atomic_inc_return(&r->refs) <= 1, "refcount_t: addition on 0\n");
}

static inline bool refcount_dec_and_test(refcount_t *r)
{
	int n = atomic_dec_return(&r->refs);

	WARN(n < 0, "refcount_t: underflow\n");
	return n == 0;
}

/* ---- linux/hash.h: the kernel's multiplicative hashes ---- */
#define GOLDEN_RATIO_32 0x61C88647
#define GOLDEN_RATIO_64 0x61C8864680B583EBull
static inline u32 hash_32(u32 val, unsigned int bits)
{
	return (u32)(val * GOLDEN_RATIO_32) >> (32 - bits);
}

static inline u32 hash_64(u64 val, unsigned int bits)
{
	return (u32)(val * GOLDEN_RATIO_64 >> (64 - bits));
}

#define hash_long(val, bits)	hash_64((val), (bits))
static inline u32 hash_ptr(const void *ptr, unsigned int bits)
{
	return hash_long((unsigned long)ptr, bits);
}

/* ---- per-CPU counters: one copy, atomically updated ---- */
#define DECLARE_PER_CPU(t, n)	extern __typeof__(t) n
#define DEFINE_PER_CPU(t, n)	__typeof__(t) n
#define this_cpu_add(x, n)	__atomic_add_fetch(&(x), (n), __ATOMIC_RELAXED)
#define this_cpu_inc(x)		this_cpu_add(x, 1)

/* ---- CPUs ---- */
#define SHIM_NR_CPUS	64
struct cpumask { unsigned long bits; };
typedef struct cpumask cpumask_var_t[1];
extern struct cpumask shim_online;
#define cpu_online_mask	((const struct cpumask *)&shim_online)
static inline bool cpumask_empty(const struct cpumask *m) { return !m->bits; }
static inline unsigned int cpumask_weight(const struct cpumask *m)
{ return __builtin_popcountl(m->bits); }
static inline void cpumask_set_cpu(unsigned int c, struct cpumask *m)
{ m->bits |= 1UL << c; }
static inline void cpumask_clear_cpu(unsigned int c, struct cpumask *m)
{ m->bits &= ~(1UL << c); }
static inline bool cpumask_test_cpu(unsigned int c, const struct cpumask *m)
{ return m->bits & (1UL << c); }
static inline void cpumask_clear(struct cpumask *m) { m->bits = 0; }
static inline unsigned int num_online_cpus(void)
{ return cpumask_weight(cpu_online_mask); }
typedef void (*smp_call_func_t)(void *info);
extern __thread unsigned int shim_cpu;	/* the "current" CPU */
#define smp_processor_id()	shim_cpu

/* ---- shrinker (the 6.7+ API, which compat.h keys on) ---- */
struct shrink_control { unsigned long nr_to_scan; };
struct shrinker {
	unsigned long (*count_objects)(struct shrinker *, struct shrink_control *);
	unsigned long (*scan_objects)(struct shrinker *, struct shrink_control *);
	int seeks;
	unsigned int flags;
};
#define SHRINKER_ALLOCATED	(1 << 2)
#define SHRINK_STOP		(~0UL)
#define SHRINK_EMPTY		(~0UL - 1)
#define DEFAULT_SEEKS		2
extern struct shrinker *shim_shrinker;	/* the registered one, if any */
struct shrinker *shrinker_alloc(unsigned int flags, const char *fmt, ...);
void shrinker_register(struct shrinker *s);
void shrinker_free(struct shrinker *s);

/*
 * ---- xarray: a real one, a sorted array of (index, entry) ----
 *
 * The calls the core makes, with the kernel's rules checked: xa_* take
 * xa_lock themselves (a caller that holds it deadlocks, as in the kernel:
 * here the shim aborts), xas_store() needs it held, an xas walk needs it
 * or rcu_read_lock(), an allocation that may sleep needs no spinlock
 * held, and internal entries can't be stored. An insertion counts as an
 * allocation: it records the thread's active memcg, and fails with
 * -ENOMEM when shim_xa_fail_after says so.
 */
struct shim_xa_slot {
	unsigned long index;
	void *entry;
};

struct xarray {
	spinlock_t xa_lock;
	unsigned int xa_flags;
	unsigned long n, cap;
	struct shim_xa_slot *slots;
	struct mem_cgroup *shim_memcg;	/* active memcg of the last insertion */
	unsigned long shim_inserts;	/* insertions */
	unsigned long shim_uncharged;	/* ... made with no active memcg */
};
/* Insertions that succeed before every later one fails (< 0: no limit). */
extern long shim_xa_fail_after;

#define XA_FLAGS_ACCOUNT	0x1u
#define XA_PRESENT		((unsigned int)-1)
#define XA_CHECK_SCHED		4096
#define MAX_ERRNO		4095

static inline void *xa_mk_value(unsigned long v)
{
	return (void *)((v << 1) | 1);
}

static inline unsigned long xa_to_value(const void *entry)
{
	return (unsigned long)entry >> 1;
}

static inline bool xa_is_value(const void *entry)
{
	return (unsigned long)entry & 1;
}

static inline void *xa_mk_internal(unsigned long v)
{
	return (void *)((v << 2) | 2);
}

static inline bool xa_is_internal(const void *entry)
{
	return ((unsigned long)entry & 3) == 2;
}

static inline bool xa_is_err(const void *entry)
{
	return xa_is_internal(entry) &&
	       (unsigned long)entry >= (unsigned long)xa_mk_internal(-MAX_ERRNO);
}

static inline int xa_err(void *entry)
{
	return xa_is_err(entry) ? (int)((long)entry >> 2) : 0;
}

void shim_xa_init(struct xarray *xa, unsigned int flags, const char *cls);
#define xa_init_flags(xa, f) \
	shim_xa_init((xa), (f), "xa_lock@" __FILE__ ":" __stringify(__LINE__))
#define xa_init(xa)	xa_init_flags((xa), 0)
void xa_destroy(struct xarray *xa);
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
void *xa_erase(struct xarray *xa, unsigned long index);
void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max,
	      unsigned int filter);
static inline bool xa_empty(const struct xarray *xa)
{
	return !__atomic_load_n(&xa->n, __ATOMIC_SEQ_CST);
}

/* The advanced API: a cursor over the sorted array. */
struct xa_state {
	struct xarray *xa;
	unsigned long xa_index;
	bool restart;	/* the next find starts at xa_index, not after it */
	bool bounds;	/* ran off the end: nothing more until xas_set() */
};
#define XA_STATE(name, array, index)					\
	struct xa_state name = { .xa = (array), .xa_index = (index),	\
				 .restart = true }
#define xas_lock(xas)	spin_lock(&(xas)->xa->xa_lock)
#define xas_unlock(xas)	spin_unlock(&(xas)->xa->xa_lock)
void *xas_find(struct xa_state *xas, unsigned long max);
void *xas_store(struct xa_state *xas, void *entry);
static inline void *xas_next_entry(struct xa_state *xas, unsigned long max)
{
	return xas_find(xas, max);
}

#define xas_for_each(xas, entry, max)					\
	for (entry = xas_find(xas, max); entry; entry = xas_next_entry(xas, max))
static inline bool xas_retry(struct xa_state *xas, const void *entry)
{
	return false;	/* no retry entries: the array never moves under a walk */
}

static inline void xas_set(struct xa_state *xas, unsigned long index)
{
	xas->xa_index = index;
	xas->restart = true;
	xas->bounds = false;
}

static inline void xas_pause(struct xa_state *xas)
{
	if (xas->restart || xas->bounds)
		return;
	xas_set(xas, xas->xa_index + 1);
	if (!xas->xa_index)
		xas->bounds = true;
}

/* ---- the rest: types the core's headers name but the core never uses ---- */
struct dentry;
struct seq_file { size_t count; };	/* what check_hat() rewinds */
struct file;
struct inode;
struct file_operations { int (*open)(struct inode *, struct file *); };
#define DEFINE_SHOW_ATTRIBUTE(n)					\
	static __maybe_unused const struct file_operations n##_fops = { NULL }; \
	static __maybe_unused int (*n##_shim_show)(struct seq_file *, void *) = n##_show
static inline void seq_puts(struct seq_file *m, const char *s) { }
static inline __attribute__((format(printf, 2, 3)))
void seq_printf(struct seq_file *m, const char *fmt, ...) { }
static inline void debugfs_create_x32(const char *n, unsigned int mode,
				      struct dentry *d, u32 *v) { }
static inline struct dentry *
debugfs_create_file(const char *n, unsigned int mode, struct dentry *d,
		    void *p, const struct file_operations *f)
{ return NULL; }
#define DEFINE_DEBUGFS_ATTRIBUTE(n, get, set, fmt)			\
	static __maybe_unused const struct file_operations n = { NULL }; \
	static __maybe_unused int (*n##_shim_set)(void *, u64) = set
static inline struct dentry *
debugfs_create_file_unsafe(const char *n, unsigned int mode, struct dentry *d,
			   void *p, const struct file_operations *f)
{ return NULL; }

#endif /* _HTABLE_SHIM_H */
