// SPDX-License-Identifier: GPL-2.0
/*
 * What is written is not lost (issue 15.8 and 15.9).
 *
 * 15.8: pinned memory (HTABLE_MAP_PIN) that the hat wrote must be released
 * dirty, or the owner of the memory may drop the data: a clean shmem page
 * is freed by reclaim without being written to swap. The pages are a
 * memfd's (shmem), faulted in by a load only (not MADV_POPULATE_READ:
 * the debug kernel has no madvise(), CONFIG_ADVISE_SYSCALLS=n). A
 * read fault of a shared, writable shmem mapping installs a writable but
 * clean PTE, so the page's PG_dirty stays clear, and GUP-fast pins it
 * through that PTE without dirtying it. The tests check /proc/kpageflags
 * KPF_DIRTY of the pfn (from /proc/self/pagemap) before and after the
 * pin and require it clear both times, or the rest would prove nothing.
 * Then the hat writes the page, by:
 *
 * - HTABLE_IOC_RW, into a read-only pin;
 * - the pattern a VERIFY window writes into its range before it runs
 *   (uapi.rst, "Verify"), into a read-only pin;
 * - a VERIFY window with HTABLE_RUN_WRITE, through the hat, into a
 *   writable pin.
 *
 * The test sees each write in its own mapping of the memfd. After the
 * UNMAP that drops the pin, KPF_DIRTY must be set. A second page pinned
 * read-only at the same time and never written must stay clean.
 *
 * 15.9: a steal must keep the A and D bits the MMU set. A window writes
 * one page through the hat and only reads another (mapped read-only);
 * PROBE shows D on the first and A on both. After every table is reaped
 * the pages are owned but not present; SYNC still reports both
 * referenced and the first modified, and so do PROBE and SYNC after
 * RELOAD.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define DIRTY_TIMEOUT	120
#define VA		(5 * HT_SZ_1G)
#define VA2		(5 * HT_SZ_1G + HT_SZ_2M)
#define TAG		0x4449525459544147ULL	/* "DIRTYTAG" */
#define SEED		0x15d1f7ULL

FIXTURE(dirty) {
	int fd;
	int err;
	__u32 cpu;
	int mfd;
	unsigned char *mem;	/* two pages of a memfd */
	__u64 pfn[2];
};

FIXTURE_SETUP(dirty)
{
	self->mfd = -1;
	self->mem = MAP_FAILED;
	self->cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	self->fd = htable_open_dev();
	self->err = errno;
}

FIXTURE_TEARDOWN(dirty)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->mem != MAP_FAILED)
		munmap(self->mem, 2 * HT_PAGE_SIZE);
	if (self->mfd >= 0)
		close(self->mfd);
}

static int kpf_dirty(__u64 pfn)
{
	__u64 kpf = ht_kpageflags(pfn);

	return kpf == ~0ULL ? -1 : !!(kpf & _BITULL(HT_KPF_DIRTY));
}

static int page_is_zero(const unsigned char *page)
{
	size_t i;

	for (i = 0; i < HT_PAGE_SIZE; i++)
		if (page[i])
			return 0;
	return 1;
}

/*
 * Two pages of a new memfd, mapped shared and read-faulted: clean (checked
 * by the caller), with their pfns in @self->pfn. 0 or -errno.
 */
static int clean_shmem(struct _test_data_dirty *self)
{
	int i;

	self->mfd = memfd_create("htable_dirty", MFD_CLOEXEC);
	if (self->mfd < 0 || ftruncate(self->mfd, 2 * HT_PAGE_SIZE))
		return -errno;
	self->mem = mmap(NULL, 2 * HT_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->mfd, 0);
	if (self->mem == MAP_FAILED)
		return -errno;
	for (i = 0; i < 2; i++) {
		/* Loads only: a read fault, and the page comes in clean. */
		if (!page_is_zero(self->mem + i * HT_PAGE_SIZE))
			return -EINVAL;
		self->pfn[i] = ht_pagemap_pfn(self->mem + i * HT_PAGE_SIZE);
		if (!self->pfn[i])
			return -ENOENT;
	}
	return 0;
}

/*
 * Pin page @i of the memfd at @va with @flags (besides HTABLE_MAP_PIN),
 * and check that the hat maps the pfn the process has and that the page
 * is still clean.
 */
static void pin_page(struct __test_metadata *_metadata,
		     struct _test_data_dirty *self, int i, __u64 va, __u32 flags)
{
	struct htable_probe p;

	ASSERT_EQ(0, ht_map_alias(self->fd, va, 1, HTABLE_MAP_PIN | flags,
				  (uintptr_t)(self->mem + i * HT_PAGE_SIZE), 0));
	ASSERT_EQ(0, ht_probe(self->fd, va, &p));
	ASSERT_EQ(self->pfn[i], p.pfn);
	ASSERT_EQ(!!(flags & HTABLE_MAP_WRITE), !!(p.flags & HTABLE_PROBE_WRITE));
	ASSERT_EQ(self->pfn[i], ht_pagemap_pfn(self->mem + i * HT_PAGE_SIZE));
	ASSERT_EQ(0, kpf_dirty(self->pfn[i]))
		TH_LOG("page %d is dirty once pinned: no clean page to test", i);
}

/* Set up two clean pinned pages: page 0 at VA with @flags, page 1 at VA2. */
static void two_pins(struct __test_metadata *_metadata,
		     struct _test_data_dirty *self, __u32 flags)
{
	int ret;

	ret = clean_shmem(self);
	ASSERT_EQ(0, ret) TH_LOG("memfd: %s", strerror(-ret));
	ASSERT_EQ(0, kpf_dirty(self->pfn[0])) TH_LOG("a read-faulted shmem page is dirty");
	ASSERT_EQ(0, kpf_dirty(self->pfn[1])) TH_LOG("a read-faulted shmem page is dirty");
	pin_page(_metadata, self, 0, VA, flags);
	pin_page(_metadata, self, 1, VA2, 0);
}

/* UNMAP both pins: page 0 (written) must be dirty, page 1 clean. */
static void unpin_and_check(struct __test_metadata *_metadata,
			    struct _test_data_dirty *self)
{
	struct htable_check c;

	ASSERT_EQ(0, ht_check(self->fd, &c));
	EXPECT_EQ(0, c.errors);
	ASSERT_EQ(0, ht_unmap(self->fd, VA, 1));
	ASSERT_EQ(0, ht_unmap(self->fd, VA2, 1));
	/* The memfd still maps the same pages. */
	ASSERT_EQ(self->pfn[0], ht_pagemap_pfn(self->mem));
	ASSERT_EQ(self->pfn[1], ht_pagemap_pfn(self->mem + HT_PAGE_SIZE));
	EXPECT_EQ(1, kpf_dirty(self->pfn[0])) TH_LOG("the written page was released clean");
	EXPECT_EQ(0, kpf_dirty(self->pfn[1])) TH_LOG("the page never written was dirtied");
}

/* HTABLE_IOC_RW into a read-only pin. */
TEST_F_TIMEOUT(dirty, rw_write_dirties_pin, DIRTY_TIMEOUT)
{
	__u64 val = TAG, seen;
	struct htable_rw rw = {
		.va = VA + 8, .buf = (uintptr_t)&val, .len = sizeof(val),
		.flags = HTABLE_RW_WRITE,
	};

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	two_pins(_metadata, self, 0);
	ASSERT_EQ(0, ht_ioctl(self->fd, HTABLE_IOC_RW, &rw)) TH_LOG("RW: %s", strerror(errno));
	memcpy(&seen, self->mem + 8, sizeof(seen));
	ASSERT_EQ(TAG, seen);
	ASSERT_TRUE(page_is_zero(self->mem + HT_PAGE_SIZE));
	unpin_and_check(_metadata, self);
}

/* The pattern a VERIFY window writes first, into a read-only pin. */
TEST_F_TIMEOUT(dirty, window_pattern_dirties_pin, DIRTY_TIMEOUT)
{
	struct htable_run r;
	int ret;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	two_pins(_metadata, self, 0);
	ret = ht_run_verify(self->fd, self->cpu, VA, 1, 0, SEED, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
	ASSERT_EQ(1, r.verified);
	ASSERT_FALSE(page_is_zero(self->mem)) TH_LOG("the window wrote no pattern");
	ASSERT_TRUE(page_is_zero(self->mem + HT_PAGE_SIZE));
	unpin_and_check(_metadata, self);
}

/* A VERIFY window with HTABLE_RUN_WRITE, through the hat, into a writable pin. */
TEST_F_TIMEOUT(dirty, window_write_dirties_pin, DIRTY_TIMEOUT)
{
	unsigned char before[HT_PAGE_SIZE];
	struct htable_probe p;
	struct htable_run r;
	int ret;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	two_pins(_metadata, self, HTABLE_MAP_WRITE);
	/* A window without WRITE leaves the pattern; one with WRITE changes it. */
	ret = ht_run_verify(self->fd, self->cpu, VA, 1, 0, SEED, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
	ASSERT_EQ(1, r.verified);
	memcpy(before, self->mem, sizeof(before));
	ret = ht_run_verify(self->fd, self->cpu, VA, 1, HTABLE_RUN_WRITE, SEED, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
	ASSERT_EQ(1, r.verified);
	ASSERT_EQ(0, r.faults);
	ASSERT_EQ(0, ht_probe(self->fd, VA, &p));
	ASSERT_TRUE(p.flags & HTABLE_PROBE_DIRTY) TH_LOG("the MMU set no D bit");
	ASSERT_NE(0, memcmp(before, self->mem, sizeof(before)));
	unpin_and_check(_metadata, self);
}

/*
 * 15.9: A and D survive a steal. Page VA is written through the hat, page
 * VA + 4 KiB (read-only) only read.
 */
TEST_F_TIMEOUT(dirty, steal_keeps_ad_bits, DIRTY_TIMEOUT)
{
	__u64 ref, mod, reloaded, stolen;
	struct htable_info info;
	struct htable_probe p;
	struct htable_run r;
	long long reaped;
	int ret, i;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(self->fd, VA, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(self->fd, VA + HT_PAGE_SIZE, 1, 0));
	ret = ht_run_verify(self->fd, self->cpu, VA, 2, HTABLE_RUN_WRITE, SEED, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
	ASSERT_EQ(2, r.verified);
	ASSERT_EQ(0, r.faults);
	/* What the MMU did, before the steal. */
	ASSERT_EQ(0, ht_probe(self->fd, VA, &p));
	ASSERT_EQ(HTABLE_PROBE_ACCESSED | HTABLE_PROBE_DIRTY, p.flags & HT_PROBE_HW);
	ASSERT_EQ(0, ht_probe(self->fd, VA + HT_PAGE_SIZE, &p));
	ASSERT_EQ(HTABLE_PROBE_ACCESSED, p.flags & HT_PROBE_HW);
	ASSERT_EQ(0, ht_sync(self->fd, VA, 2, 0, &ref, &mod));
	ASSERT_EQ(2, ref);
	ASSERT_EQ(1, mod);

	ASSERT_EQ(0, ht_info(self->fd, &info));
	stolen = info.stolen;
	reaped = ht_reap_all();
	ASSERT_LT(0, reaped);
	/* htable_steal() took the leaf table from this hat. */
	ASSERT_EQ(0, ht_info(self->fd, &info));
	ASSERT_LT(stolen, info.stolen);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, ht_probe(self->fd, VA + i * HT_PAGE_SIZE, &p));
		ASSERT_EQ(HTABLE_PROBE_OWNED, p.flags & (HTABLE_PROBE_OWNED |
							  HTABLE_PROBE_PRESENT));
	}
	/* The stolen records report them... */
	ASSERT_EQ(0, ht_sync(self->fd, VA, 2, 0, &ref, &mod));
	EXPECT_EQ(2, ref) TH_LOG("stolen: referenced");
	EXPECT_EQ(1, mod) TH_LOG("stolen: modified");

	/* ...and RELOAD puts them back in the entries. */
	ASSERT_EQ(0, ht_reload(self->fd, VA, 2, &reloaded));
	ASSERT_EQ(2, reloaded);
	ASSERT_EQ(0, ht_probe(self->fd, VA, &p));
	ASSERT_TRUE(p.flags & HTABLE_PROBE_PRESENT);
	EXPECT_EQ(HTABLE_PROBE_ACCESSED | HTABLE_PROBE_DIRTY, p.flags & HT_PROBE_HW);
	ASSERT_EQ(0, ht_probe(self->fd, VA + HT_PAGE_SIZE, &p));
	ASSERT_TRUE(p.flags & HTABLE_PROBE_PRESENT);
	EXPECT_EQ(HTABLE_PROBE_ACCESSED, p.flags & HT_PROBE_HW);
	ASSERT_EQ(0, ht_sync(self->fd, VA, 2, 0, &ref, &mod));
	EXPECT_EQ(2, ref) TH_LOG("reloaded: referenced");
	EXPECT_EQ(1, mod) TH_LOG("reloaded: modified");
	/* Cleared, they stay clear until the MMU sets them again. */
	ASSERT_EQ(0, ht_sync(self->fd, VA, 2, HTABLE_SYNC_CLEAR, &ref, &mod));
	EXPECT_EQ(2, ref);
	EXPECT_EQ(1, mod);
	ASSERT_EQ(0, ht_sync(self->fd, VA, 2, 0, &ref, &mod));
	EXPECT_EQ(0, ref);
	EXPECT_EQ(0, mod);
}

TEST_HARNESS_MAIN
