/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The independent checker behind HTABLE_IOC_CHECK, and the tree dump
 * (module/check.c).
 */
#ifndef _HTABLE_CHECK_H
#define _HTABLE_CHECK_H

struct hat;
struct htable_check;
struct seq_file;

int htable_check(struct hat *hat, struct htable_check *c);
void htable_dump_tree(struct hat *hat, struct seq_file *m);

#endif /* _HTABLE_CHECK_H */
