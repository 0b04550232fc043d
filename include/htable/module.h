/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module-wide declarations: the device, the log helper for bad input, and
 * the tunables (module parameters, documented in Documentation/debugfs.rst).
 */
#ifndef _HTABLE_MODULE_H
#define _HTABLE_MODULE_H

#include <linux/kstrtox.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/uaccess.h>

#include <htable/stats.h>

/*
 * One line per refused request, and a counter. The lines of every site
 * share one rate limit (htable_log_bad_input()), so no test and no caller
 * can flood the log, however many kinds of bad input it sends.
 */
#define htable_bad_input(fmt, ...)					\
	htable_log_bad_input(KERN_WARNING "htable: " fmt "\n", ##__VA_ARGS__)

/**
 * htable_parse_uint() - a tunable's new value, from what was written to it
 * @val:	the text written
 * @min:	the least value allowed
 * @max:	the most
 * @n:		where the value goes
 *
 * Unlike param_set_uint_minmax(), a value out of range is ERANGE, as the
 * debugfs knobs answer (Documentation/debugfs.rst).
 *
 * Return: 0, kstrtouint()'s errno, or -ERANGE outside [@min, @max].
 */
static inline int htable_parse_uint(const char *val, unsigned int min,
				    unsigned int max, unsigned int *n)
{
	int err = kstrtouint(val, 0, n);

	if (err)
		return err;
	return *n < min || *n > max ? -ERANGE : 0;
}

/*
 * The kernel_param_ops @name of an unsigned int module parameter whose
 * writes go through @setter (which checks them with htable_parse_uint()) and
 * whose reads print the value.
 */
#define HTABLE_UINT_PARAM_OPS(name, setter)				\
	static const struct kernel_param_ops name = { .set = setter, .get = param_get_uint }

/**
 * htable_copy_line() - a command written to a debugfs file, as a string
 * @buf:	where it goes
 * @size:	sizeof(@buf): the command must be shorter
 * @ubuf:	the user's buffer
 * @len:	its length
 *
 * Return: 0, -EINVAL for a command too long, or -EFAULT.
 */
static inline int htable_copy_line(char *buf, size_t size,
				   const char __user *ubuf, size_t len)
{
	if (len >= size)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	return 0;
}

int htable_dev_init(void);
void htable_dev_exit(void);

#endif /* _HTABLE_MODULE_H */
