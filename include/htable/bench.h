/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel benchmark (module/bench.c): htable against Linux's own
 * mechanisms, behind debugfs "bench". Documentation/benchmarks.rst.
 */
#ifndef _HTABLE_BENCH_H
#define _HTABLE_BENCH_H

struct dentry;

void htable_bench_debugfs_init(struct dentry *dir);
void htable_bench_exit(void);

#endif /* _HTABLE_BENCH_H */
