/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every htable selftest needs: the paths and constants, opening the
 * device (or skipping when the module is absent), reading debugfs
 * counters and tunables, and thin wrappers around the ioctls. The model
 * of a hat is in htable_model.h, the random-operation engine in
 * htable_random.h.
 *
 * The helpers never use the harness's ASSERT/EXPECT (some run in threads
 * and forked children): they print what differs, prefixed with "# ", and
 * return how many things differed, so a test asserts on that number.
 */
#ifndef _HTABLE_TEST_H
#define _HTABLE_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/const.h>

#include <uapi/htable.h>

#define HTABLE_STATS_PATH "/sys/kernel/debug/htable/stats"
#define HTABLE_FAIL_NTH_PATH "/sys/kernel/debug/htable/fail_nth"
#define HTABLE_FAIL_SITE_PATH "/sys/kernel/debug/htable/fail_site"
#define HTABLE_FAIL_HITS_PATH "/sys/kernel/debug/htable/fail_hits"
#define HTABLE_FAIL_SITE_DEFAULT 1	/* page-table pages only */
#define HTABLE_FORCE_RESERVE_PATH "/sys/kernel/debug/htable/force_reserve"
#define HTABLE_RESERVE_AMOUNT_PATH "/sys/module/htable/parameters/reserve_amount"
#define HTABLE_RESERVE_DEFAULT 200
#define HTABLE_PTABLE_CAP_PATH "/sys/kernel/debug/htable/ptable_cap"
#define HTABLE_FORCE_STEAL_PATH "/sys/kernel/debug/htable/force_steal"
#define HTABLE_STEAL_PASSES_PATH "/sys/kernel/debug/htable/steal_passes"
#define HTABLE_STEAL_PASSES_DEFAULT 8

#define HT_PAGE_SHIFT	12
#define HT_PAGE_SIZE	_BITULL(HT_PAGE_SHIFT)
#define HT_SZ_2M	_BITULL(21)
#define HT_SZ_1G	_BITULL(30)
#define HT_SZ_512G	_BITULL(39)
#define HT_SZ_256T	_BITULL(48)

/* Raw x86-64 PTE bits the tests check independently of PROBE's flags. */
#define HT_PTE_P	_BITULL(0)
#define HT_PTE_RW	_BITULL(1)
#define HT_PTE_US	_BITULL(2)
#define HT_PTE_G	_BITULL(8)
#define HT_PTE_NX	_BITULL(63)
#define HT_PTE_PFN(pte)	(((pte) >> 12) & ((1ULL << 40) - 1))

/* PROBE flags set by hardware use; the tests never depend on them. */
#define HT_PROBE_HW	(HTABLE_PROBE_ACCESSED | HTABLE_PROBE_DIRTY)

/* An ioctl succeeded or failed but its out fields say otherwise. */
#define HT_BADOUT	(-100000)

/*
 * Open /dev/htable. Returns the fd, or -1 with errno set (ENOENT when the
 * module is not loaded, which htable_dev_missing() turns into a SKIP).
 */
static inline int htable_open_dev(void)
{
	return open(HTABLE_DEV_PATH, O_RDWR | O_CLOEXEC);
}

#ifdef __KSELFTEST_HARNESS_H
/*
 * In a test body, right after opening the device: @failed says the open
 * failed and @err is its errno. Only a missing device (ENOENT: the module
 * is not loaded) is a reason to skip; any other error fails the test.
 * Skips name their need ("needs:TAG"): scripts/vm.sh fails a row that
 * skips for a need the row promises (every row promises the module).
 *
 * Return: true when the test must return now (it was skipped); an open
 * that failed otherwise ends the test through ASSERT.
 */
static inline bool htable_dev_missing(struct __test_metadata *_metadata,
				      bool failed, int err)
{
	if (!failed)
		return false;
	if (err == ENOENT)
		SKIP(return true, "needs:module %s is absent", HTABLE_DEV_PATH);
	ASSERT_EQ(0, err) {
		TH_LOG("open %s: %s", HTABLE_DEV_PATH, strerror(err));
	}
	return true;
}
#endif

/* Read one counter from debugfs stats; -1 when it is missing. */
long long htable_stat(const char *name);

/* Write a decimal value to a debugfs or sysfs tunable: 0 or -errno. */
int htable_knob_write(const char *path, long long val);

/*
 * Read the start of the text file @path into @buf of @size bytes, NUL
 * terminated: the bytes read, or -1 when it can't be opened or read or is
 * empty.
 */
ssize_t ht_read_text(const char *path, char *buf, size_t size);

/* Read a decimal tunable; -1 when it cannot be read. */
long long htable_knob_read(const char *path);

/*
 * The id of this process's newest hat, from debugfs "hats" (ids grow), or
 * -1: call it right after opening the hat it should name.
 */
long ht_newest_hat_id(void);

/* Put every tunable the tests change back to its default: 0 or an error. */
int htable_knobs_reset(void);

/*
 * One allocation site's line of debugfs fail_hits (HTABLE_FAIL_* of the
 * module's fail.h): the allocations made there and the failures injected,
 * since the module loaded. 0, or -1 when the file or the site is missing.
 */
int htable_fail_hits(int site, long long *calls, long long *failed);

/*
 * An htable ioctl as every helper here reports: 0 on success, -errno when
 * the syscall returned -1, and HT_BADOUT for any other return value (no
 * htable ioctl returns one). Every test issues its requests through it,
 * the bad ones included: @arg goes to the kernel as it is, so NULL or an
 * unmapped pointer checks the module's EFAULT, and @cmd may be a number
 * the module doesn't know (ENOTTY). A -errno from here therefore also
 * says the syscall returned exactly -1.
 */
static inline int ht_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	if (ret == -1)
		return -errno;
	return ret ? HT_BADOUT : 0;
}

/* The paging levels of the hat behind @fd (VERSION), or -errno. */
static inline int htable_levels(int fd)
{
	struct htable_version v;
	int ret;

	memset(&v, 0, sizeof(v));
	ret = ht_ioctl(fd, HTABLE_IOC_VERSION, &v);
	if (ret)
		return ret;
	return v.levels;
}

/* The end of the mappable lower canonical half for @levels. */
static inline __u64 htable_va_limit(int levels)
{
	return 1ULL << (levels == 5 ? 56 : 47);
}

/*
 * ioctl wrappers: 0 on success, -errno on failure, HT_BADOUT when the
 * result and the out fields disagree (mapped must be npages on success
 * and 0 on error; unmapped must be npages on success).
 */
int ht_map_req(int fd, struct htable_map *m);
int ht_unmap_req(int fd, struct htable_unmap *u);
int ht_run_verify(int fd, __u32 cpu, __u64 va, __u64 npages, __u32 flags,
		  __u64 seed, struct htable_run *r);
/* Fill @r as ht_run_verify() issues it (zeroed, then the in fields). */
void ht_verify_fill(struct htable_run *r, __u32 cpu, __u64 va, __u64 npages,
		    __u32 flags, __u64 seed);
int ht_has_pdpe1gb(void);
int ht_kernel_has_kasan(void);

static inline int ht_map_alias(int fd, __u64 va, __u64 npages, __u32 flags,
			       __u64 alias_va, __u64 alias_npages)
{
	struct htable_map m = {
		.va = va,
		.npages = npages,
		.flags = flags,
		.alias_va = alias_va,
		.alias_npages = alias_npages,
	};

	return ht_map_req(fd, &m);
}

static inline int ht_map(int fd, __u64 va, __u64 npages, __u32 flags)
{
	return ht_map_alias(fd, va, npages, flags, 0, 0);
}

static inline int ht_unmap(int fd, __u64 va, __u64 npages)
{
	struct htable_unmap u = { .va = va, .npages = npages };

	return ht_unmap_req(fd, &u);
}

/*
 * PROBE, INFO and CHECK: 0 or -errno. The out structure is poisoned
 * first, so a field the module leaves unwritten shows up.
 */
static inline int ht_probe(int fd, __u64 va, struct htable_probe *p)
{
	memset(p, 0xa5, sizeof(*p));
	p->va = va;
	return ht_ioctl(fd, HTABLE_IOC_PROBE, p);
}

static inline int ht_info(int fd, struct htable_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return ht_ioctl(fd, HTABLE_IOC_INFO, info);
}

static inline int ht_check(int fd, struct htable_check *c)
{
	memset(c, 0xa5, sizeof(*c));
	return ht_ioctl(fd, HTABLE_IOC_CHECK, c);
}

/* RW of @len bytes at @va from or into @buf: 0 or -errno. */
static inline int ht_rw(int fd, __u64 va, void *buf, __u32 len, __u32 flags)
{
	struct htable_rw r = {
		.va = va,
		.buf = (uintptr_t)buf,
		.len = len,
		.flags = flags,
	};

	return ht_ioctl(fd, HTABLE_IOC_RW, &r);
}

/* Seconds on the monotonic clock, for time-bounded loops. */
static inline double ht_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- Rare paths: stealing and caches on demand ---- */
#define HTABLE_REAP_PATH "/sys/kernel/debug/htable/reap"

/*
 * Reap (debugfs reap) until a reap takes nothing: every cached table and
 * every idle, unlocked leaf table of every hat is gone, their pages owned
 * but not mapped until RELOAD. Returns the tables reaped, or -1.
 */
long long ht_reap_all(void);

/*
 * Empty every hat's cache of free tables, and take nothing else: each
 * reap asks for at most the cached count, which its first pass (free
 * tables only) satisfies. Returns 0, or -1 when the caches don't empty.
 */
int ht_drain_caches(void);

/*
 * ---- Issue 15: the ref_limit knob, the kernel's view of a page
 * (/proc/self/pagemap, /proc/kpageflags, /proc/kpagecount), SYNC and
 * RELOAD ----
 */
#define HTABLE_REF_LIMIT_PATH "/sys/kernel/debug/htable/ref_limit"
#define HTABLE_REF_LIMIT_DEFAULT ((long long)_BITULL(30))
#define HTABLE_HAT_DUMP_DIR "/sys/kernel/debug/htable/hat/"

/* /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
#define HT_KPF_DIRTY	4
#define HT_KPF_LRU	5
#define HT_KPF_SLAB	7
#define HT_KPF_BUDDY	10

/*
 * The pfn backing the calling process's page at @addr, from
 * /proc/self/pagemap (root sees pfns): 0 when it is not present or the
 * file can't be read.
 */
__u64 ht_pagemap_pfn(const void *addr);

/* The /proc/kpageflags word of @pfn; ~0 when it can't be read. */
__u64 ht_kpageflags(__u64 pfn);

/* /proc/kpagecount of @pfn (the page's map count); ~0 when unreadable. */
__u64 ht_kpagecount(__u64 pfn);

/*
 * SYNC of @npages at @va with @flags into @s, zeroed and with its out
 * fields poisoned first: 0 or -errno.
 */
int ht_sync_req(int fd, __u64 va, __u64 npages, __u32 flags,
		struct htable_sync *s);

/* SYNC of @npages at @va with @flags: 0 or -errno; the counts in @ref, @mod. */
int ht_sync(int fd, __u64 va, __u64 npages, __u32 flags, __u64 *ref, __u64 *mod);

/* RELOAD of @npages at @va: 0 or -errno; *@reloaded is what it rebuilt. */
int ht_reload(int fd, __u64 va, __u64 npages, __u64 *reloaded);

/*
 * A userfaultfd watching one missing anonymous page, mapped at *@page:
 * the fd, or -errno.
 */
int ht_uffd_page(void **page);

#endif /* _HTABLE_TEST_H */
