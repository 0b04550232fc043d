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
 * One line per refused request, and a counter. The lines of every site
 * share one rate limit (htable_log_bad_input()), so no test and no caller
 * can flood the log, however many kinds of bad input it sends.
 */
#define htable_bad_input(fmt, ...)					\
	htable_log_bad_input(KERN_WARNING "htable: " fmt "\n", ##__VA_ARGS__)

int htable_dev_init(void);
void htable_dev_exit(void);

#endif /* _HTABLE_MODULE_H */
