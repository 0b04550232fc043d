/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module-wide declarations: the device, the log helper for bad input, and
 * the tunables (module parameters, documented in Documentation/debugfs.rst).
 */
#ifndef _HTABLE_MODULE_H
#define _HTABLE_MODULE_H

#include <linux/printk.h>

#include <htable/stats.h>

/*
 * One rate-limited line per refused request, and a counter: bad input must
 * never be able to flood the log.
 */
#define htable_bad_input(fmt, ...)					\
	do {								\
		HATSTAT_INC(hs_bad_input);				\
		pr_warn_ratelimited("htable: " fmt "\n", ##__VA_ARGS__); \
	} while (0)

struct hat;

int htable_dev_init(void);
void htable_dev_exit(void);
void htable_debugfs_add_hat(struct hat *hat);
void htable_debugfs_remove_hat(struct hat *hat);

#endif /* _HTABLE_MODULE_H */
