/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-space kernel shim: just what the htable core (module/htable.c,
 * walk.c, x86pte.c, reserve.c, steal.c, tlb.c, fail.c) uses, over libc and
 * pthreads. Every linux/ and asm/ header in this directory includes this
 * one file, so a core source file sees the same definitions whatever it
 * includes. The locks are real: lockdep_assert_held() checks that the
 * calling thread owns the lock, and a WARN (counted in shim_warnings) fails
 * the test that caused it. See Documentation/testing.rst, "The host build
 * of the core".
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
#define barrier()	__asm__ __volatile__("" ::: "memory")
#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#define BUILD_BUG_ON(c)	_Static_assert(!(c), #c)
#define BIT(n)		(1UL << (n))
#define BIT_ULL(n)	(1ULL << (n))

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

/* ---- locks: real, owner-tracking ---- */
typedef struct {
	pthread_mutex_t m;
	pthread_t owner;
	bool held;
} spinlock_t;
#define __SPIN_LOCK_UNLOCKED(x)	{ PTHREAD_MUTEX_INITIALIZER, 0, false }
#define DEFINE_SPINLOCK(x)	spinlock_t x = __SPIN_LOCK_UNLOCKED(x)
void spin_lock_init(spinlock_t *l);
void spin_lock(spinlock_t *l);
bool spin_trylock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool shim_spin_held(const spinlock_t *l);

struct rw_semaphore {
	pthread_rwlock_t l;
	pthread_t writer;
	bool write_held;
	int readers;		/* atomic */
};
void init_rwsem(struct rw_semaphore *s);
void down_read(struct rw_semaphore *s);
void up_read(struct rw_semaphore *s);
void down_write(struct rw_semaphore *s);
int down_write_trylock(struct rw_semaphore *s);
int down_read_trylock(struct rw_semaphore *s);
void up_write(struct rw_semaphore *s);
bool shim_rwsem_held(const struct rw_semaphore *s);

struct mutex { spinlock_t s; };
#define DEFINE_MUTEX(x)	struct mutex x = { __SPIN_LOCK_UNLOCKED(x) }
#define mutex_init(x)	spin_lock_init(&(x)->s)
#define mutex_lock(x)	spin_lock(&(x)->s)
#define mutex_unlock(x)	spin_unlock(&(x)->s)
static inline bool shim_mutex_held(const struct mutex *m)
{ return shim_spin_held(&m->s); }

#define lockdep_assert_held(l)						\
	WARN(!_Generic((l),						\
		       spinlock_t *: shim_spin_held,			\
		       struct rw_semaphore *: shim_rwsem_held,		\
		       struct mutex *: shim_mutex_held)(l),		\
	     "lockdep_assert_held(%s) not held\n", #l)
#define lockdep_assert_held_write(l)	lockdep_assert_held(l)
#define might_sleep()	do { } while (0)

/* Wait queues: single-process tests never sleep; wakes are counted. */
typedef struct { int unused; } wait_queue_head_t;
#define DECLARE_WAIT_QUEUE_HEAD(x)	wait_queue_head_t x = { 0 }
extern long shim_wakeups;
#define wake_up_all(q)	((void)(q), __atomic_add_fetch(&shim_wakeups, 1, __ATOMIC_SEQ_CST))

/* ---- memory ---- */
#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define GFP_KERNEL	0x1u
#define GFP_NOWAIT	0x2u
#define __GFP_NOWARN	0x4u
#define __GFP_NORETRY	0x8u
#define __GFP_ZERO	0x10u
#define SLAB_HWCACHE_ALIGN 0x1u

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

/*
 * A page: an aligned buffer with a fake, never-reused pfn, so that an entry
 * (a physical address) can be followed back to its table by the test's own
 * walker (shim_phys_to_va()).
 */
struct page {
	void *va;
	unsigned long pfn;
	unsigned int order;
};
unsigned long totalram_pages(void);

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

/* ---- the rest: types the core's headers name but the core never uses ---- */
struct xarray { void *unused; };
struct dentry;
struct seq_file;
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
