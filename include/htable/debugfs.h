/* SPDX-License-Identifier: GPL-2.0 */
/*
 * htable's debugfs tree (module/debugfs.c), /sys/kernel/debug/htable/: the
 * counters, the hats and their trees, and the knobs tests turn. The top
 * layer owns every file; the layers below export values and setters only.
 * Documentation/debugfs.rst documents each file.
 */
#ifndef _HTABLE_DEBUGFS_H
#define _HTABLE_DEBUGFS_H

struct hat;

int htable_debugfs_init(void);
void htable_debugfs_exit(void);
void htable_debugfs_add_hat(struct hat *hat);
void htable_debugfs_remove_hat(struct hat *hat);

#endif /* _HTABLE_DEBUGFS_H */
