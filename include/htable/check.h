/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The independent checker behind HTABLE_IOC_CHECK, and the tree dump
 * (module/check.c).
 */
#ifndef _HTABLE_CHECK_H
#define _HTABLE_CHECK_H

struct hat;
struct seq_file;

/*
 * The inconsistency a report names first. Their values are the ABI's
 * HTABLE_CHECK_* codes (dev.c asserts it), which is also what a test
 * writes to debugfs corrupt/<id> to break one on purpose.
 */
enum check_code {
	CHECK_OK,
	CHECK_VALID_CNT,	/* ht_valid_cnt != present entries */
	CHECK_LOCK_CNT,		/* ht_lock_cnt != locked entries */
	CHECK_PARENT,		/* a link and its table disagree */
	CHECK_HASH,		/* a linked table is missing from the hash */
	CHECK_UNOWNED,		/* a present entry maps a page not the hat's */
	CHECK_BITS,		/* bad bits, page level or alignment */
	CHECK_ORPHAN,		/* a hashed table not reachable from the top */
	CHECK_CACHED,		/* a cached free table is not all zero */
};

/**
 * struct check_report - what htable_check() found
 * @errors:	inconsistencies found; 0 means the hat is sound
 * @tables:	tables visited
 * @entries:	present entries visited
 * @first_error: the first inconsistency's code (CHECK_OK when none)
 * @first_va:	the first inconsistency's va
 */
struct check_report {
	unsigned long	errors;
	unsigned long	tables;
	unsigned long	entries;
	enum check_code	first_error;
	unsigned long	first_va;
};

int htable_check(struct hat *hat, struct check_report *c);
void htable_dump_tree(struct hat *hat, struct seq_file *m);

#endif /* _HTABLE_CHECK_H */
