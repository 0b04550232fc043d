// SPDX-License-Identifier: GPL-2.0
/*
 * The user-space shim's out-of-line half: owner-tracking locks, the slab
 * over calloc, fake page-table pages with fake pfns, the shrinker
 * registration, and the few objects the core uses that the kernel build
 * defines in files kept out of the host build (hat.c, stats.c).
 */
#include <stdarg.h>

#include <htable/arch.h>
#include <htable/htable.h>
#include <htable/stats.h>

long shim_warnings;
long shim_wakeups;
struct cpumask shim_online = { 0x3 };
__thread unsigned int shim_cpu;
struct shim_machine shim_machine;
struct shrinker *shim_shrinker;
unsigned long shim_totalram = 1UL << 18;	/* 1 GiB */

/* Defined by hat.c and stats.c in the kernel build. */
DEFINE_SPINLOCK(htable_hat_list_lock);
LIST_HEAD(htable_hat_list);
DECLARE_WAIT_QUEUE_HEAD(htable_victim_wq);
DEFINE_PER_CPU(struct htable_stats, htable_stats);

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
}

/* ---- locks ---- */
void spin_lock_init(spinlock_t *l)
{
	pthread_mutex_init(&l->m, NULL);
	l->held = false;
}

bool shim_spin_held(const spinlock_t *l)
{
	return __atomic_load_n(&l->held, __ATOMIC_SEQ_CST) &&
	       pthread_equal(l->owner, pthread_self());
}

void spin_lock(spinlock_t *l)
{
	/* The kernel would deadlock here; a test must not hang. */
	if (shim_spin_held(l)) {
		shim_warn(__FILE__, __LINE__, "%s: recursive lock %p\n", __func__, (void *)l);
		abort();
	}
	pthread_mutex_lock(&l->m);
	l->owner = pthread_self();
	__atomic_store_n(&l->held, true, __ATOMIC_SEQ_CST);
}

bool spin_trylock(spinlock_t *l)
{
	if (pthread_mutex_trylock(&l->m))
		return false;
	l->owner = pthread_self();
	__atomic_store_n(&l->held, true, __ATOMIC_SEQ_CST);
	return true;
}

void spin_unlock(spinlock_t *l)
{
	if (!shim_spin_held(l)) {
		shim_warn(__FILE__, __LINE__, "%s: lock not held\n", __func__);
		return;
	}
	__atomic_store_n(&l->held, false, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&l->m);
}

void init_rwsem(struct rw_semaphore *s)
{
	pthread_rwlock_init(&s->l, NULL);
	s->write_held = false;
	s->readers = 0;
}

/* Held for write by this thread, or for read by anyone (as lockdep would). */
bool shim_rwsem_held(const struct rw_semaphore *s)
{
	return (__atomic_load_n(&s->write_held, __ATOMIC_SEQ_CST) &&
		pthread_equal(s->writer, pthread_self())) ||
	       __atomic_load_n(&s->readers, __ATOMIC_SEQ_CST) > 0;
}

void down_read(struct rw_semaphore *s)
{
	pthread_rwlock_rdlock(&s->l);
	__atomic_add_fetch(&s->readers, 1, __ATOMIC_SEQ_CST);
}

int down_read_trylock(struct rw_semaphore *s)
{
	if (pthread_rwlock_tryrdlock(&s->l))
		return 0;
	__atomic_add_fetch(&s->readers, 1, __ATOMIC_SEQ_CST);
	return 1;
}

void up_read(struct rw_semaphore *s)
{
	__atomic_sub_fetch(&s->readers, 1, __ATOMIC_SEQ_CST);
	pthread_rwlock_unlock(&s->l);
}

void down_write(struct rw_semaphore *s)
{
	pthread_rwlock_wrlock(&s->l);
	s->writer = pthread_self();
	__atomic_store_n(&s->write_held, true, __ATOMIC_SEQ_CST);
}

int down_write_trylock(struct rw_semaphore *s)
{
	if (pthread_rwlock_trywrlock(&s->l))
		return 0;
	s->writer = pthread_self();
	__atomic_store_n(&s->write_held, true, __ATOMIC_SEQ_CST);
	return 1;
}

void up_write(struct rw_semaphore *s)
{
	if (!shim_rwsem_held(s))
		shim_warn(__FILE__, __LINE__, "%s: rwsem not held\n", __func__);
	__atomic_store_n(&s->write_held, false, __ATOMIC_SEQ_CST);
	pthread_rwlock_unlock(&s->l);
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
	void *p = calloc(1, c->size);

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
	return calloc(1, n);
}

void kfree(const void *p)
{
	free((void *)p);
}

void *kvcalloc(size_t n, size_t size, gfp_t gfp)
{
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
	/* Garbage, not zeroes: ptable_alloc() promises no zeroing. */
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
	if (pg)
		t = (x86pte_t *)((char *)pg->va + ((pfn - pg->pfn) << PAGE_SHIFT));
	pthread_mutex_unlock(&shim_pfn_lock);
	return t;
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
