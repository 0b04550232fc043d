/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel benchmark (module/bench*.c): htable against Linux's own
 * mechanisms, behind debugfs "bench". It is built only into the variant
 * `make bench` loads (Kbuild, HTABLE_BENCH). Documentation/benchmarks.rst.
 *
 *   bench.c		the harness: timing, rows, the case table, the file
 *   bench_map.c	one thread: map, floor, ptalloc, probe, large pages,
 *			pinned pages, hat size, memory
 *   bench_smp.c	other CPUs: shootdowns, two threads, steal and reap
 */
#ifndef _HTABLE_BENCH_H
#define _HTABLE_BENCH_H

#ifdef HTABLE_BENCH
/* debugfs "bench", which debugfs.c creates (Documentation/benchmarks.rst). */
extern const struct file_operations htable_bench_fops;
void htable_bench_exit(void);
#else
/* The module users load has no benchmark (Kbuild, HTABLE_BENCH). */
static inline void htable_bench_exit(void) { }
#endif

#ifdef HTABLE_BENCH
#include <linux/atomic.h>
#include <linux/types.h>

struct hat;
struct htable;
struct mm_struct;
struct page;

#define BENCH_MAX_REPS		31
/* Where a case's hat maps its backing pages, and where it maps them again. */
#define BENCH_SRC_VA		BIT(32)
#define BENCH_DST_VA		BIT(36)

/**
 * struct bench_ctx - what one case set up before timing
 * @hat:	the case's hat (NULL when it needs none)
 * @other:	a second hat some cases compare with
 * @n:		pages per operation
 * @nsrc:	backing pages the hat owns at BENCH_SRC_VA (aliased cyclically)
 * @pages:	@n page pointers onto the same backing pages, for the peers
 * @vaddr:	a vmap() of @pages, for the probe peer
 * @tpages:	the floor's preallocated tables
 * @ntables:	how many
 * @scratch:	the floor's page to zero once per 512 entries
 * @held:	a table the case keeps held so that only one is created per op
 * @mm:		the writer's mm, borrowed by the CPU that keeps the hat live
 * @remote:	that CPU
 * @invlpgs:	INVLPGs the bare IPI peer ran
 * @sink:	keeps the probe peer's reads from being optimised away
 */
struct bench_ctx {
	struct hat		*hat;
	struct hat		*other;
	unsigned long		n;
	unsigned long		nsrc;
	struct page		**pages;
	void			*vaddr;
	struct page		**tpages;
	unsigned long		ntables;
	struct page		*scratch;
	struct htable		*held;
	struct mm_struct	*mm;
	int			remote;
	atomic_long_t		invlpgs;
	unsigned long		sink;
};

/* One side of a comparison: ITERS operations, timed; 0 or an errno. */
struct bench_side {
	const char *name;
	int (*run)(struct bench_ctx *c, unsigned int iters, u64 *ns);
	bool counts_invlpgs;	/* flushes come from c->invlpgs */
	bool is_htable;		/* flushes come from htable's counters */
};

struct bench_counts {
	u64 ipis;
	u64 flushes;
};

/*
 * A case sets up @c (freed by bench_teardown() whatever it returns), prints
 * its rows through bench_pair() or bench_row(), and returns 0 or an errno.
 */
typedef int bench_case_fn(struct bench_ctx *c, unsigned long n,
			  unsigned int reps, unsigned int iters);

/* The harness (bench.c). */
__printf(1, 2) void bench_printf(const char *fmt, ...);
void bench_counts_read(struct bench_counts *c);
void bench_row(const char *op, unsigned long n, const char *peer,
	       u64 *ht, u64 *pe, unsigned int reps, unsigned int iters,
	       const struct bench_counts *hc, const struct bench_counts *pc,
	       bool hc_known, bool pc_known);
int bench_pair(struct bench_ctx *c, const char *op,
	       const struct bench_side *ht, const struct bench_side *pe,
	       unsigned int reps, unsigned int iters);
unsigned int bench_iters(unsigned int iters, unsigned long work,
			 unsigned long n);
int bench_map(struct hat *hat, unsigned long va, unsigned long n,
	      unsigned int level, unsigned long sva, unsigned long sn);
struct page *bench_page(struct hat *hat, unsigned long va);
int bench_setup_src(struct bench_ctx *c, unsigned long n, unsigned long nsrc,
		    unsigned int level);
int bench_setup_hat(struct bench_ctx *c, unsigned long n, unsigned long nsrc);

/* The cases (bench_map.c, bench_smp.c). */
bench_case_fn case_map, case_floor, case_ptalloc, case_probe, case_large,
	case_pin, case_hatsize, case_memory, case_shootdown, case_threads,
	case_steal;
#endif /* HTABLE_BENCH */

#endif /* _HTABLE_BENCH_H */
