/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Corruption on purpose (module/corrupt.c): a debugfs knob per hat that
 * breaks one invariant the checker guards, so a test can show that
 * HTABLE_IOC_CHECK reports it, with its code and va. Documentation/debugfs.rst.
 */
#ifndef _HTABLE_CORRUPT_H
#define _HTABLE_CORRUPT_H

struct hat;

extern const struct file_operations htable_corrupt_fops;

void htable_corrupt_repair(struct hat *hat);

#endif /* _HTABLE_CORRUPT_H */
