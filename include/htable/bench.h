/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel benchmark (module/bench.c): htable against Linux's own
 * mechanisms, behind debugfs "bench". Documentation/benchmarks.rst.
 */
#ifndef _HTABLE_BENCH_H
#define _HTABLE_BENCH_H

struct dentry;

#ifdef HTABLE_BENCH
void htable_bench_debugfs_init(struct dentry *dir);
void htable_bench_exit(void);
#else
/* The module users load has no benchmark (Kbuild, HTABLE_BENCH). */
static inline void htable_bench_debugfs_init(struct dentry *dir) { }
static inline void htable_bench_exit(void) { }
#endif

#endif /* _HTABLE_BENCH_H */
