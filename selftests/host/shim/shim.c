// SPDX-License-Identifier: GPL-2.0
/*
 * The user-space shim's out-of-line half: owner-tracking locks with a
 * little of lockdep, RCU, the xarray, the slab over calloc, fake
 * page-table pages with fake pfns, the shrinker registration, and the few
 * objects the core uses that the kernel build defines in files kept out of
 * the host build (stats.c).
 */
#include <sched.h>
#include <stdarg.h>

#include <htable/arch.h>
#include <htable/htable.h>
#include <htable/pages.h>
#include <htable/share.h>
#include <htable/stats.h>

long shim_warnings;
long shim_spin_locks;
long shim_wakeups;
long shim_reclaimed;
long shim_rcu_pending;
long shim_xa_fail_after = -1;
__thread int shim_spin_depth;
__thread int shim_rcu_depth;
__thread struct mem_cgroup *shim_active_memcg;
void (*shim_pfn_hook)(unsigned long pfn);
void *(*shim_data_page)(unsigned long pfn);
struct cpumask shim_online = { 0x3 };
__thread unsigned int shim_cpu;
struct shim_machine shim_machine;
struct shrinker *shim_shrinker;
unsigned long shim_totalram = 1UL << 18;	/* 1 GiB */

struct cpuinfo_x86 boot_cpu_data = { .x86_phys_bits = 52 };

/* Defined by stats.c in the kernel build. */
DEFINE_PER_CPU(struct htable_stats, htable_stats);

/*
 * Defined by pages.c and share.c in the kernel build. The owner tag is
 * pages.c's; a sharer's hat_shares here maps va >> LEVEL_SHIFT(1) straight
 * to the owner (the test stores it), where share.c keeps a struct
 * hat_share that names it.
 */
unsigned long hat_owner_tag(struct hat *hat)
{
	return (unsigned long)hat->hat_id << 16 | 0x4854UL;
}

struct hat *hat_share_owner(struct hat *hat, unsigned long va)
{
	return xa_load(&hat->hat_shares, va >> LEVEL_SHIFT(1));
}

/*
 * Defined by hat.c. A test's hats live until the test frees them, so a
 * reference only counts here: hat_refs is 0 while nobody holds one.
 */
void hat_get(struct hat *hat)
{
	atomic_inc(&hat->hat_refs.refs);
}

void hat_put(struct hat *hat)
{
	WARN(atomic_dec_return(&hat->hat_refs.refs) < 0, "%s: no reference\n", __func__);
}

void shim_warn(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(&shim_warnings, 1, __ATOMIC_SEQ_CST);
	fprintf(stderr, "# WARNING at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void shim_reset(unsigned int levels)
{
	memset(&shim_machine, 0, sizeof(shim_machine));
	shim_machine.levels = levels;
	shim_machine.nx = true;
	shim_machine.gbpages = true;
	shim_machine.free_pages = ULONG_MAX / 2;
	shim_machine.table_pages_left = -1;
	shim_online.bits = 0x3;
	shim_cpu = 0;
	shim_warnings = 0;
	shim_reclaimed = 0;
	shim_xa_fail_after = -1;
	shim_pfn_hook = NULL;
	shim_data_page = NULL;
}

/* ---- locks ---- */

/* What a thread holds, innermost last: for the class checks. */
#define SHIM_HELD_MAX	16
struct shim_held {
	const void *lock;
	const char *cls;
	unsigned int sub;
};

static __thread struct shim_held shim_held[SHIM_HELD_MAX];
static __thread unsigned int shim_nheld;

/* Lock order seen so far: (outer class, inner class) pairs. */
#define SHIM_ORDER_MAX	256
static struct {
	const char *outer, *inner;
	unsigned int osub, isub;
} shim_order[SHIM_ORDER_MAX];
static unsigned int shim_norder;
static pthread_mutex_t shim_order_lock = PTHREAD_MUTEX_INITIALIZER;

static bool shim_same_class(const char *a, unsigned int asub,
			    const char *b, unsigned int bsub)
{
	return asub == bsub && a && b && !strcmp(a, b);
}

/*
 * Before waiting for @lock of class @cls: no lock of the same class may be
 * held (recursive locking), and no held class may have been taken under
 * @cls before (inversion). Then record that each held class comes first.
 */
static void shim_lock_check(const void *lock, const char *cls, unsigned int sub)
{
	unsigned int i, j;

	if (!cls)
		return;
	for (i = 0; i < shim_nheld; i++)
		if (shim_same_class(shim_held[i].cls, shim_held[i].sub, cls, sub))
			shim_warn(__FILE__, __LINE__,
				  "possible recursive locking: %s/%u while holding %s/%u\n",
				  cls, sub, shim_held[i].cls, shim_held[i].sub);
	pthread_mutex_lock(&shim_order_lock);
	for (i = 0; i < shim_nheld; i++) {
		const char *held = shim_held[i].cls;
		unsigned int hsub = shim_held[i].sub;
		bool known = false;

		if (!held || shim_same_class(held, hsub, cls, sub))
			continue;
		for (j = 0; j < shim_norder; j++) {
			if (shim_same_class(shim_order[j].outer, shim_order[j].osub, cls, sub) &&
			    shim_same_class(shim_order[j].inner, shim_order[j].isub, held, hsub))
				shim_warn(__FILE__, __LINE__,
					  "lock inversion: %s/%u under %s/%u, the other way before\n",
					  cls, sub, held, hsub);
			if (shim_same_class(shim_order[j].outer, shim_order[j].osub, held, hsub) &&
			    shim_same_class(shim_order[j].inner, shim_order[j].isub, cls, sub))
				known = true;
		}
		if (!known && shim_norder < SHIM_ORDER_MAX) {
			shim_order[shim_norder].outer = held;
			shim_order[shim_norder].osub = hsub;
			shim_order[shim_norder].inner = cls;
			shim_order[shim_norder++].isub = sub;
		}
	}
	pthread_mutex_unlock(&shim_order_lock);
}

static void shim_held_push(const void *lock, const char *cls, unsigned int sub)
{
	if (shim_nheld == SHIM_HELD_MAX) {
		shim_warn(__FILE__, __LINE__, "more than %d locks held\n", SHIM_HELD_MAX);
		abort();
	}
	shim_held[shim_nheld].lock = lock;
	shim_held[shim_nheld].cls = cls;
	shim_held[shim_nheld++].sub = sub;
}

static void shim_held_pop(const void *lock)
{
	unsigned int i;

	for (i = shim_nheld; i-- > 0;) {
		if (shim_held[i].lock != lock)
			continue;
		memmove(&shim_held[i], &shim_held[i + 1],
			(shim_nheld - i - 1) * sizeof(shim_held[0]));
		shim_nheld--;
		return;
	}
}

void shim_spin_lock_init(spinlock_t *l, const char *cls)
{
	pthread_mutex_init(&l->m, NULL);
	l->held = false;
	l->cls = cls;
}

bool shim_spin_held(const spinlock_t *l)
{
	return __atomic_load_n(&l->held, __ATOMIC_SEQ_CST) &&
	       pthread_equal(l->owner, pthread_self());
}

static void shim_spin_acquire(spinlock_t *l, unsigned int sub, bool atomic_ctx)
{
	/* The kernel would deadlock here; a test must not hang. */
	if (shim_spin_held(l)) {
		shim_warn(__FILE__, __LINE__, "%s: recursive lock %p\n", __func__, (void *)l);
		abort();
	}
	shim_lock_check(l, l->cls, sub);
	pthread_mutex_lock(&l->m);
	__atomic_add_fetch(&shim_spin_locks, 1, __ATOMIC_RELAXED);
	l->owner = pthread_self();
	__atomic_store_n(&l->held, true, __ATOMIC_SEQ_CST);
	shim_held_push(l, l->cls, sub);
	shim_spin_depth += atomic_ctx;
}

static void shim_spin_release(spinlock_t *l, bool atomic_ctx)
{
	if (!shim_spin_held(l)) {
		shim_warn(__FILE__, __LINE__, "%s: lock not held\n", __func__);
		return;
	}
	shim_held_pop(l);
	shim_spin_depth -= atomic_ctx;
	__atomic_store_n(&l->held, false, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&l->m);
}

void spin_lock(spinlock_t *l)
{
	shim_spin_acquire(l, 0, true);
}

void spin_lock_nested(spinlock_t *l, unsigned int sub)
{
	shim_spin_acquire(l, sub, true);
}

bool spin_trylock(spinlock_t *l)
{
	if (pthread_mutex_trylock(&l->m))
		return false;
	__atomic_add_fetch(&shim_spin_locks, 1, __ATOMIC_RELAXED);
	l->owner = pthread_self();
	__atomic_store_n(&l->held, true, __ATOMIC_SEQ_CST);
	shim_held_push(l, l->cls, 0);
	shim_spin_depth++;
	return true;
}

void spin_unlock(spinlock_t *l)
{
	shim_spin_release(l, true);
}

void mutex_lock(struct mutex *m)
{
	might_sleep();
	shim_spin_acquire(&m->s, 0, false);
}

void mutex_unlock(struct mutex *m)
{
	shim_spin_release(&m->s, false);
}

void shim_init_rwsem(struct rw_semaphore *s, const char *cls)
{
	pthread_rwlock_init(&s->l, NULL);
	s->write_held = false;
	s->readers = 0;
	s->cls = cls;
}

bool shim_rwsem_held_write(const struct rw_semaphore *s)
{
	return __atomic_load_n(&s->write_held, __ATOMIC_SEQ_CST) &&
	       pthread_equal(s->writer, pthread_self());
}

/* Held for write by this thread, or for read by anyone (as lockdep would). */
bool shim_rwsem_held(const struct rw_semaphore *s)
{
	return shim_rwsem_held_write(s) ||
	       __atomic_load_n(&s->readers, __ATOMIC_SEQ_CST) > 0;
}

void down_read_nested(struct rw_semaphore *s, unsigned int sub)
{
	might_sleep();
	shim_lock_check(s, s->cls, sub);
	pthread_rwlock_rdlock(&s->l);
	__atomic_add_fetch(&s->readers, 1, __ATOMIC_SEQ_CST);
	shim_held_push(s, s->cls, sub);
}

void down_read(struct rw_semaphore *s)
{
	down_read_nested(s, 0);
}

void shim_yield(void)
{
	sched_yield();
}

int down_read_trylock(struct rw_semaphore *s)
{
	if (pthread_rwlock_tryrdlock(&s->l))
		return 0;
	__atomic_add_fetch(&s->readers, 1, __ATOMIC_SEQ_CST);
	shim_held_push(s, s->cls, 0);
	return 1;
}

void up_read(struct rw_semaphore *s)
{
	shim_held_pop(s);
	__atomic_sub_fetch(&s->readers, 1, __ATOMIC_SEQ_CST);
	pthread_rwlock_unlock(&s->l);
}

static void shim_down_write(struct rw_semaphore *s, unsigned int sub)
{
	might_sleep();
	if (shim_rwsem_held_write(s)) {
		shim_warn(__FILE__, __LINE__, "%s: recursive down_write %p\n",
			  __func__, (void *)s);
		abort();
	}
	shim_lock_check(s, s->cls, sub);
	pthread_rwlock_wrlock(&s->l);
	s->writer = pthread_self();
	__atomic_store_n(&s->write_held, true, __ATOMIC_SEQ_CST);
	shim_held_push(s, s->cls, sub);
}

void down_write(struct rw_semaphore *s)
{
	shim_down_write(s, 0);
}

void down_write_nested(struct rw_semaphore *s, unsigned int sub)
{
	shim_down_write(s, sub);
}

int down_write_trylock(struct rw_semaphore *s)
{
	if (pthread_rwlock_trywrlock(&s->l))
		return 0;
	s->writer = pthread_self();
	__atomic_store_n(&s->write_held, true, __ATOMIC_SEQ_CST);
	shim_held_push(s, s->cls, 0);
	return 1;
}

void up_write(struct rw_semaphore *s)
{
	if (!shim_rwsem_held_write(s))
		shim_warn(__FILE__, __LINE__, "%s: rwsem not held\n", __func__);
	shim_held_pop(s);
	__atomic_store_n(&s->write_held, false, __ATOMIC_SEQ_CST);
	pthread_rwlock_unlock(&s->l);
}

/* ---- RCU ---- */

/* Threads inside rcu_read_lock(): a grace period ends when there are none. */
static int shim_rcu_readers;
static pthread_mutex_t shim_rcu_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rcu_head *shim_rcu_queue;

void rcu_read_lock(void)
{
	if (!shim_rcu_depth++)
		__atomic_add_fetch(&shim_rcu_readers, 1, __ATOMIC_SEQ_CST);
}

void rcu_read_unlock(void)
{
	if (shim_rcu_depth <= 0) {
		shim_warn(__FILE__, __LINE__, "%s() without a lock\n", __func__);
		return;
	}
	if (!--shim_rcu_depth)
		__atomic_sub_fetch(&shim_rcu_readers, 1, __ATOMIC_SEQ_CST);
}

/* Take every queued callback; run them once a grace period has passed. */
static void shim_rcu_run(bool wait)
{
	struct rcu_head *list, *h, *rev = NULL;

	pthread_mutex_lock(&shim_rcu_lock);
	list = shim_rcu_queue;
	shim_rcu_queue = NULL;
	pthread_mutex_unlock(&shim_rcu_lock);
	if (!list)
		return;
	/*
	 * Every callback taken was queued before this check: a reader that
	 * could still see what it frees entered before it too. No reader
	 * now means each of those has left.
	 */
	while (__atomic_load_n(&shim_rcu_readers, __ATOMIC_SEQ_CST)) {
		if (!wait) {
			pthread_mutex_lock(&shim_rcu_lock);
			for (h = list; h->next; h = h->next)
				;
			h->next = shim_rcu_queue;
			shim_rcu_queue = list;
			pthread_mutex_unlock(&shim_rcu_lock);
			return;
		}
		sched_yield();
	}
	/* Oldest first, as the kernel runs them. */
	while ((h = list) != NULL) {
		list = h->next;
		h->next = rev;
		rev = h;
	}
	while ((h = rev) != NULL) {
		rev = h->next;
		__atomic_sub_fetch(&shim_rcu_pending, 1, __ATOMIC_SEQ_CST);
		h->func(h);
	}
}

void call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	struct page *pg = container_of(head, struct page, rcu_head);

	/* A table page is no table once it is freed: the test's walker says so. */
	if (head->shim_page == pg)
		__atomic_store_n(&pg->retired, true, __ATOMIC_SEQ_CST);
	head->func = func;
	pthread_mutex_lock(&shim_rcu_lock);
	head->next = shim_rcu_queue;
	shim_rcu_queue = head;
	pthread_mutex_unlock(&shim_rcu_lock);
	__atomic_add_fetch(&shim_rcu_pending, 1, __ATOMIC_SEQ_CST);
	shim_rcu_run(false);
}

void synchronize_rcu(void)
{
	might_sleep();
	shim_rcu_run(true);
}

void rcu_barrier(void)
{
	might_sleep();
	shim_rcu_run(true);
	WARN(__atomic_load_n(&shim_rcu_pending, __ATOMIC_SEQ_CST),
	     "%s: %ld callbacks left\n", __func__, shim_rcu_pending);
}

/* ---- xarray ---- */

void shim_xa_init(struct xarray *xa, unsigned int flags, const char *cls)
{
	memset(xa, 0, sizeof(*xa));
	shim_spin_lock_init(&xa->xa_lock, cls);
	xa->xa_flags = flags;
}

void xa_destroy(struct xarray *xa)
{
	spin_lock(&xa->xa_lock);
	free(xa->slots);
	xa->slots = NULL;
	xa->n = 0;
	xa->cap = 0;
	spin_unlock(&xa->xa_lock);
}

/* First slot whose index is >= @index (xa_lock held). */
static unsigned long shim_xa_pos(const struct xarray *xa, unsigned long index)
{
	unsigned long lo = 0, hi = xa->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (xa->slots[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Store @entry at @index (NULL erases), xa_lock held. Return: the old entry. */
static void *shim_xa_set(struct xarray *xa, unsigned long index, void *entry)
{
	unsigned long pos = shim_xa_pos(xa, index);
	bool found = pos < xa->n && xa->slots[pos].index == index;
	void *old = found ? xa->slots[pos].entry : NULL;

	lockdep_assert_held(&xa->xa_lock);
	if (WARN(xa_is_internal(entry), "xarray: storing internal entry %p\n", entry))
		return xa_mk_internal(-EINVAL);
	if (found && entry) {
		xa->slots[pos].entry = entry;
	} else if (found) {
		memmove(&xa->slots[pos], &xa->slots[pos + 1],
			(xa->n - pos - 1) * sizeof(xa->slots[0]));
		__atomic_store_n(&xa->n, xa->n - 1, __ATOMIC_SEQ_CST);
	} else if (entry) {
		/* A new index: an allocation, which may fail. */
		if (!shim_xa_fail_after)
			return xa_mk_internal(-ENOMEM);
		if (shim_xa_fail_after > 0)
			shim_xa_fail_after--;
		if (xa->n == xa->cap) {
			unsigned long cap = xa->cap ? 2 * xa->cap : 16;
			struct shim_xa_slot *s = realloc(xa->slots, cap * sizeof(*s));

			if (!s)
				return xa_mk_internal(-ENOMEM);
			xa->slots = s;
			xa->cap = cap;
		}
		memmove(&xa->slots[pos + 1], &xa->slots[pos],
			(xa->n - pos) * sizeof(xa->slots[0]));
		xa->slots[pos].index = index;
		xa->slots[pos].entry = entry;
		__atomic_store_n(&xa->n, xa->n + 1, __ATOMIC_SEQ_CST);
		xa->shim_inserts++;
		xa->shim_memcg = shim_active_memcg;
		if (!shim_active_memcg)
			xa->shim_uncharged++;
	}
	return old;
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	unsigned long pos;
	void *entry = NULL;

	spin_lock(&xa->xa_lock);
	pos = shim_xa_pos(xa, index);
	if (pos < xa->n && xa->slots[pos].index == index)
		entry = xa->slots[pos].entry;
	spin_unlock(&xa->xa_lock);
	return entry;
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	void *old;

	might_alloc(gfp);
	spin_lock(&xa->xa_lock);
	old = shim_xa_set(xa, index, entry);
	spin_unlock(&xa->xa_lock);
	return old;
}

void *xa_erase(struct xarray *xa, unsigned long index)
{
	void *old;

	spin_lock(&xa->xa_lock);
	old = shim_xa_set(xa, index, NULL);
	spin_unlock(&xa->xa_lock);
	return old;
}

void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max,
	      unsigned int filter)
{
	unsigned long pos;
	void *entry = NULL;

	spin_lock(&xa->xa_lock);
	pos = shim_xa_pos(xa, *index);
	if (pos < xa->n && xa->slots[pos].index <= max) {
		*index = xa->slots[pos].index;
		entry = xa->slots[pos].entry;
	}
	spin_unlock(&xa->xa_lock);
	return entry;
}

/* The kernel's walk reads the tree under xa_lock or RCU: one of them. */
void *xas_find(struct xa_state *xas, unsigned long max)
{
	struct xarray *xa = xas->xa;
	bool locked = shim_spin_held(&xa->xa_lock);
	unsigned long start, pos;
	void *entry = NULL;

	WARN(!locked && !rcu_read_lock_held(),
	     "suspicious RCU usage: xas walk with neither xa_lock nor RCU\n");
	if (xas->bounds)
		return NULL;
	if (!xas->restart && xas->xa_index == ULONG_MAX) {
		xas->bounds = true;
		return NULL;
	}
	start = xas->restart ? xas->xa_index : xas->xa_index + 1;
	if (!locked)
		spin_lock(&xa->xa_lock);
	pos = shim_xa_pos(xa, start);
	if (start <= max && pos < xa->n && xa->slots[pos].index <= max) {
		xas->xa_index = xa->slots[pos].index;
		xas->restart = false;
		entry = xa->slots[pos].entry;
	} else {
		xas->bounds = true;
	}
	if (!locked)
		spin_unlock(&xa->xa_lock);
	return entry;
}

void *xas_store(struct xa_state *xas, void *entry)
{
	lockdep_assert_held(&xas->xa->xa_lock);
	return shim_xa_set(xas->xa, xas->xa_index, entry);
}

/* ---- slab ---- */
struct kmem_cache *kmem_cache_create(const char *name, size_t size,
				     size_t align, slab_flags_t flags,
				     void (*ctor)(void *))
{
	struct kmem_cache *c = calloc(1, sizeof(*c));

	if (c) {
		c->name = name;
		c->size = size;
	}
	return c;
}

void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t gfp)
{
	void *p;

	might_alloc(gfp);
	p = calloc(1, c->size);

	if (p)
		atomic_long_inc(&c->live);
	return p;
}

void kmem_cache_free(struct kmem_cache *c, void *p)
{
	if (!p)
		return;
	atomic_long_dec(&c->live);
	free(p);
}

/* Destroying a cache with live objects is a leak: the kernel warns too. */
void kmem_cache_destroy(struct kmem_cache *c)
{
	if (!c)
		return;
	WARN(atomic_long_read(&c->live), "kmem_cache %s: %ld objects leaked\n",
	     c->name, atomic_long_read(&c->live));
	free(c);
}

void *kzalloc(size_t n, gfp_t gfp)
{
	might_alloc(gfp);
	return calloc(1, n);
}

void kfree(const void *p)
{
	free((void *)p);
}

void *kvcalloc(size_t n, size_t size, gfp_t gfp)
{
	might_alloc(gfp);
	return calloc(n, size);
}

void kvfree(const void *p)
{
	free((void *)p);
}

unsigned long totalram_pages(void)
{
	return shim_totalram;
}

/* ---- fake page-table pages ---- */

/*
 * pfn -> page, for shim_phys_to_va(). pfns are handed out once and never
 * reused, so a stale link to a freed table can't alias a newer table.
 */
static pthread_mutex_t shim_pfn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct page **shim_pfns;
static unsigned long shim_next_pfn = 0x100, shim_pfn_cap;

struct page *shim_alloc_pages(unsigned int order)
{
	unsigned long n = 1UL << order, i;
	struct page *pg;

	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return NULL;
	/* Garbage, not zeroes: a caller that wants zeroes clears them. */
	pg->va = aligned_alloc(PAGE_SIZE << order, PAGE_SIZE << order);
	if (!pg->va) {
		free(pg);
		return NULL;
	}
	memset(pg->va, 0xa5, PAGE_SIZE << order);
	pthread_mutex_lock(&shim_pfn_lock);
	if (shim_machine.table_pages_left >= 0) {
		if (shim_machine.table_pages_left < (long)n) {
			pthread_mutex_unlock(&shim_pfn_lock);
			free(pg->va);
			free(pg);
			return NULL;
		}
		shim_machine.table_pages_left -= n;
	}
	shim_next_pfn = (shim_next_pfn + n - 1) & ~(n - 1);
	if (shim_next_pfn + n > shim_pfn_cap) {
		unsigned long cap = (shim_next_pfn + n) * 2;

		shim_pfns = realloc(shim_pfns, cap * sizeof(*shim_pfns));
		if (!shim_pfns)
			abort();
		memset(shim_pfns + shim_pfn_cap, 0,
		       (cap - shim_pfn_cap) * sizeof(*shim_pfns));
		shim_pfn_cap = cap;
	}
	pg->pfn = shim_next_pfn;
	pg->order = order;
	pg->rcu_head.shim_page = pg;
	for (i = 0; i < n; i++)
		shim_pfns[pg->pfn + i] = pg;
	shim_next_pfn += n;
	shim_machine.table_pages += n;
	pthread_mutex_unlock(&shim_pfn_lock);
	return pg;
}

void shim_free_pages(struct page *pg, unsigned int order)
{
	unsigned long i;

	WARN(pg->order != order, "free of an order-%u page as order %u\n",
	     pg->order, order);
	pthread_mutex_lock(&shim_pfn_lock);
	for (i = 0; i < (1UL << pg->order); i++)
		shim_pfns[pg->pfn + i] = NULL;
	shim_machine.table_pages -= 1L << pg->order;
	if (shim_machine.table_pages_left >= 0)
		shim_machine.table_pages_left += 1L << pg->order;
	pthread_mutex_unlock(&shim_pfn_lock);
	free(pg->va);
	free(pg);
}

x86pte_t *shim_phys_to_va(u64 phys)
{
	unsigned long pfn = phys >> PAGE_SHIFT;
	x86pte_t *t = NULL;
	struct page *pg;

	pthread_mutex_lock(&shim_pfn_lock);
	pg = pfn < shim_pfn_cap ? shim_pfns[pfn] : NULL;
	if (pg && !__atomic_load_n(&pg->retired, __ATOMIC_SEQ_CST))
		t = (x86pte_t *)((char *)pg->va + ((pfn - pg->pfn) << PAGE_SHIFT));
	pthread_mutex_unlock(&shim_pfn_lock);
	return t;
}

enum shim_pfn_kind shim_pfn_kind(unsigned long pfn)
{
	enum shim_pfn_kind k = SHIM_PFN_DATA;
	struct page *pg;

	pthread_mutex_lock(&shim_pfn_lock);
	pg = pfn < shim_pfn_cap ? shim_pfns[pfn] : NULL;
	if (pg)
		k = __atomic_load_n(&pg->retired, __ATOMIC_SEQ_CST) ?
		    SHIM_PFN_RETIRED : SHIM_PFN_TABLE;
	else if (pfn >= 0x100 && pfn < shim_next_pfn)
		k = SHIM_PFN_FREED;
	pthread_mutex_unlock(&shim_pfn_lock);
	return k;
}

struct page *pfn_to_page(unsigned long pfn)
{
	static unsigned char zeroes[PAGE_SIZE] __aligned(PAGE_SIZE);
	static __thread struct page data;
	void *(*content)(unsigned long pfn) = shim_data_page;
	void (*hook)(unsigned long pfn) = shim_pfn_hook;
	struct page *pg;
	bool tail;

	if (hook)
		hook(pfn);
	pthread_mutex_lock(&shim_pfn_lock);
	pg = pfn < shim_pfn_cap ? shim_pfns[pfn] : NULL;
	tail = pg && pg->pfn != pfn;
	pthread_mutex_unlock(&shim_pfn_lock);
	if (pg) {
		WARN(tail, "%s(%#lx): a tail page\n", __func__, pfn);
		return pg;
	}
	WARN(pfn >= 0x100 && pfn < shim_next_pfn,
	     "%s(%#lx): a freed table page\n", __func__, pfn);
	data.pfn = pfn;
	data.va = content ? content(pfn) : NULL;
	if (!data.va)
		data.va = zeroes;
	return &data;
}

/* ---- shrinker ---- */
struct shrinker *shrinker_alloc(unsigned int flags, const char *fmt, ...)
{
	return calloc(1, sizeof(struct shrinker));
}

void shrinker_register(struct shrinker *s)
{
	shim_shrinker = s;
}

void shrinker_free(struct shrinker *s)
{
	if (s == shim_shrinker)
		shim_shrinker = NULL;
	free(s);
}

/* ---- folios of data pages: the runs a test says a hat owns ---- */
static pthread_mutex_t shim_own_lock = PTHREAD_MUTEX_INITIALIZER;
static struct folio *shim_owned;
static unsigned long shim_nowned, shim_owned_cap;

void shim_own_pages(unsigned long pfn, unsigned long n, unsigned long tag)
{
	unsigned long i;

	pthread_mutex_lock(&shim_own_lock);
	for (i = 0; i < shim_nowned; i++) {
		if (shim_owned[i].pfn == pfn && shim_owned[i].nr == n &&
		    shim_owned[i].private == (void *)tag) {
			shim_owned[i].refs++;
			pthread_mutex_unlock(&shim_own_lock);
			return;
		}
	}
	if (shim_nowned == shim_owned_cap) {
		shim_owned_cap = shim_owned_cap ? 2 * shim_owned_cap : 64;
		shim_owned = realloc(shim_owned, shim_owned_cap * sizeof(*shim_owned));
		if (!shim_owned)
			abort();
	}
	shim_owned[shim_nowned].pfn = pfn;
	shim_owned[shim_nowned].nr = n;
	shim_owned[shim_nowned].private = (void *)tag;
	shim_owned[shim_nowned++].refs = 1;
	pthread_mutex_unlock(&shim_own_lock);
}

void shim_disown_pages(unsigned long pfn, unsigned long n, unsigned long tag)
{
	unsigned long i;

	pthread_mutex_lock(&shim_own_lock);
	for (i = 0; i < shim_nowned; i++) {
		if (shim_owned[i].pfn != pfn || shim_owned[i].nr != n ||
		    shim_owned[i].private != (void *)tag)
			continue;
		if (!--shim_owned[i].refs)
			shim_owned[i] = shim_owned[--shim_nowned];
		break;
	}
	pthread_mutex_unlock(&shim_own_lock);
}

struct folio *page_folio(struct page *pg)
{
	static __thread struct folio f;
	unsigned long i;

	WARN(shim_pfn_kind(pg->pfn) != SHIM_PFN_DATA,
	     "%s(%#lx): a table page\n", __func__, pg->pfn);
	f.pfn = pg->pfn;
	f.nr = 1;
	f.private = NULL;
	f.refs = 0;
	pthread_mutex_lock(&shim_own_lock);
	for (i = 0; i < shim_nowned; i++) {
		if (pg->pfn >= shim_owned[i].pfn &&
		    pg->pfn < shim_owned[i].pfn + shim_owned[i].nr) {
			f = shim_owned[i];
			break;
		}
	}
	pthread_mutex_unlock(&shim_own_lock);
	return &f;
}
