/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * htable: the ioctl ABI of /dev/htable.
 *
 * Each open of /dev/htable is one address space (a hat). Every argument
 * structure is fixed-size; each field is marked (in) when user space fills it
 * and (out) when the kernel does. Reserved fields must be zero on the way in
 * and are zero on the way out. See Documentation/uapi.rst.
 */
#ifndef _UAPI_HTABLE_H
#define _UAPI_HTABLE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HTABLE_DEV_PATH		"/dev/htable"

#define HTABLE_ABI_MAJOR	1
#define HTABLE_ABI_MINOR	0

/**
 * struct htable_version - HTABLE_IOC_VERSION
 * @major:	(out) ABI major version; a change breaks old callers
 * @minor:	(out) ABI minor version; grows with compatible additions
 * @levels:	(out) paging levels of the running kernel: 4 or 5
 * @page_shift:	(out) log2 of the base page size (12)
 * @reserved:	(out) zero
 */
struct htable_version {
	__u32 major;
	__u32 minor;
	__u32 levels;
	__u32 page_shift;
	__u64 reserved[2];
};

#define HTABLE_IOC_MAGIC	0xB7
#define HTABLE_IOC_VERSION	_IOR(HTABLE_IOC_MAGIC, 0x00, struct htable_version)

#endif /* _UAPI_HTABLE_H */
