/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host shim: the libc's UAPI linux/types.h (for __u64 and friends, which
 * include/uapi/htable.h uses); shim.h adds the kernel-internal types.
 */
#include_next <linux/types.h>
