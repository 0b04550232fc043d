/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host shim: the libc's UAPI linux/types.h (for __u64 and friends, which
 * include/htable/cr3.h uses), then shim.h for the kernel-internal types
 * (u32 and friends), which a core header may take from linux/types.h
 * alone (include/htable/fail.h does).
 */
#include_next <linux/types.h>
#include "../shim.h"
