// SPDX-License-Identifier: GPL-2.0
/*
 * The hat in CR3: HTABLE_IOC_RUN (VERIFY and RESIDENT windows),
 * HTABLE_IOC_SYNC (hardware A/D) and HTABLE_IOC_RW (a page through the
 * direct map).
 *
 * Every result is checked against something the test knows by itself:
 * the pattern VERIFY leaves in a page is computed here from the pfn PROBE
 * reports and read back with RW; words VERIFY must not touch hold a fill
 * the test wrote; A and D are compared with the raw PTE; the counters in
 * debugfs stats must move by exactly what the windows reported; a
 * RESIDENT window's samples must lie inside the time the ioctl took.
 *
 * The cases are all here; their helpers that need no harness are in
 * htable_cr3_pages.c (what a window leaves in the pages, and A and D)
 * and htable_cr3_run.c (RUN and SYNC requests and what they report),
 * declared in htable_cr3.h.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "kselftest_harness.h"
#include "htable_cr3.h"

#define CR3_TIMEOUT	120

#define CPU_ONLINE_FMT	"/sys/devices/system/cpu/cpu%d/online"

/* Where the tests map: a 1 GiB slot with nothing else in it. */
#define VA0		(5 * HT_SZ_1G)

static void window_join(struct window *w)
{
	pthread_join(w->tid, NULL);
}

FIXTURE(cr3) {
	int fd;
	int err;
	int levels;
	__u64 limit;
	int ncpus;
	int offlined;	/* a CPU this test took offline, or -1 */
};

FIXTURE_SETUP(cr3)
{
	self->offlined = -1;
	self->ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	self->fd = htable_open_dev();
	self->err = errno;
	if (self->fd < 0)
		return;
	self->levels = htable_levels(self->fd);
	ASSERT_TRUE(self->levels == 4 || self->levels == 5);
	self->limit = htable_va_limit(self->levels);
}

FIXTURE_TEARDOWN(cr3)
{
	char path[64];

	if (self->offlined >= 0) {
		snprintf(path, sizeof(path), CPU_ONLINE_FMT, self->offlined);
		htable_knob_write(path, 1);
	}
	if (self->fd >= 0)
		close(self->fd);
}

/* Map @n pages at @va with @flags, asserting success. */
static void map_ok(struct __test_metadata *_metadata, int fd, __u64 va,
		   __u64 n, __u32 flags)
{
	int ret = ht_map(fd, va, n, flags);

	ASSERT_EQ(0, ret) TH_LOG("MAP %#llx x %llu: %s", va, n, strerror(-ret));
}

static void check_clean(struct __test_metadata *_metadata, int fd)
{
	struct htable_check c;

	ASSERT_EQ(0, ht_check(fd, &c));
	EXPECT_EQ(0, c.errors) TH_LOG("CHECK: error %u at %#llx", c.first_error, c.first_va);
}

/* VERIFY reads the pattern through the hat and leaves it in the pages. */
TEST_F(cr3, verify_read)
{
	struct htable_run r;
	__u64 i, seed = 0x1234567890abcdefULL;
	int ret, bad = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 16, HTABLE_MAP_WRITE);
	ASSERT_EQ(0, cr3_fill_pages(self->fd, VA0, 16));
	EXPECT_EQ(0, live_cpus(self->fd));
	ret = cr3_run_verify(self->fd, 0, VA0, 16, 0, seed, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 16, 0, 0));
	EXPECT_EQ(0, live_cpus(self->fd));
	/* Without RUN_WRITE the pattern stays; the fill is untouched. */
	for (i = 0; i < 16; i++)
		bad += cr3_check_page(self->fd, VA0 + i * HT_PAGE_SIZE, seed, 1,
				  VA0 + i * HT_PAGE_SIZE);
	EXPECT_EQ(0, bad);
	/* A new seed: the module writes the new pattern before the window. */
	ret = cr3_run_verify(self->fd, 0, VA0 + 4 * HT_PAGE_SIZE, 4, 0, ~seed >> 3, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 4, 0, 0));
	for (i = 4, bad = 0; i < 8; i++)
		bad += cr3_check_page(self->fd, VA0 + i * HT_PAGE_SIZE, ~seed >> 3, 1,
				  VA0 + i * HT_PAGE_SIZE);
	EXPECT_EQ(0, bad);
	check_clean(_metadata, self->fd);
}

/*
 * VERIFY with RUN_WRITE: the writable pages get pattern(~seed) through
 * the hat and the direct map sees it; the read-only ones keep
 * pattern(seed) and do not fault.
 */
TEST_F(cr3, verify_write)
{
	__u64 i, seed = 0xfeedfacecafebeefULL;
	__u32 cpu = self->ncpus - 1;
	struct htable_run r;
	int ret, bad = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 8, HTABLE_MAP_WRITE);
	map_ok(_metadata, self->fd, VA0 + 8 * HT_PAGE_SIZE, 8, 0);
	map_ok(_metadata, self->fd, VA0 + 16 * HT_PAGE_SIZE, 8,
	       HTABLE_MAP_WRITE | HTABLE_MAP_EXEC | HTABLE_MAP_LOCK);
	ASSERT_EQ(0, cr3_fill_pages(self->fd, VA0, 24));
	ret = cr3_run_verify(self->fd, cpu, VA0, 24, HTABLE_RUN_WRITE, seed, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY|WRITE on CPU %u: %s", cpu, strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 24, 0, 0));
	EXPECT_EQ(0, live_cpus(self->fd));
	for (i = 0; i < 24; i++) {
		int ro = i >= 8 && i < 16;

		bad += cr3_check_page(self->fd, VA0 + i * HT_PAGE_SIZE, ro ? seed : ~seed,
				  1, VA0 + i * HT_PAGE_SIZE);
	}
	EXPECT_EQ(0, bad);
	/* And again: the module rewrites pattern(seed) first, so all match. */
	ret = cr3_run_verify(self->fd, cpu, VA0, 24, HTABLE_RUN_WRITE, seed, &r);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0, cr3_verify_result(&r, 24, 0, 0));
	check_clean(_metadata, self->fd);
}

/* Holes in the range fault, are counted and do not stop the window. */
TEST_F(cr3, verify_holes)
{
	__u64 i, seed = 0x0f1e2d3c4b5a6978ULL;
	long long st0[NR_ST], want[NR_ST] = { 0 };
	struct htable_run r;
	int ret, bad = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	/* Pages 0-2, 4-8 and 10-15 of 18: holes at 3, 9, 16 and 17. */
	map_ok(_metadata, self->fd, VA0, 3, HTABLE_MAP_WRITE);
	map_ok(_metadata, self->fd, VA0 + 4 * HT_PAGE_SIZE, 5, HTABLE_MAP_WRITE);
	map_ok(_metadata, self->fd, VA0 + 10 * HT_PAGE_SIZE, 6, 0);
	ASSERT_EQ(0, cr3_stats_read(st0));
	ret = cr3_run_verify(self->fd, 0, VA0, 18, HTABLE_RUN_WRITE, seed, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY over holes: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 14, 4, VA0 + 3 * HT_PAGE_SIZE));
	want[ST_WINDOWS] = 1;
	want[ST_VERIFIED] = r.verified;
	want[ST_FAULTS] = r.faults;
	want[ST_CLOBBERS] = r.clobbers;
	EXPECT_EQ(0, cr3_stats_moved(st0, want));
	for (i = 0; i < 16; i++) {
		if (i == 3 || i == 9)
			continue;
		bad += cr3_check_page(self->fd, VA0 + i * HT_PAGE_SIZE,
				  i < 10 ? ~seed : seed, 0, 0);
	}
	EXPECT_EQ(0, bad);
	/* Nothing mapped at all: every page faults, the first at va. */
	ret = cr3_run_verify(self->fd, 0, VA0 + HT_SZ_2M, 8, 0, seed, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY of a hole: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 0, 8, VA0 + HT_SZ_2M));
	EXPECT_EQ(0, live_cpus(self->fd));
	check_clean(_metadata, self->fd);
}

/*
 * Hardware A/D: nothing before a window; A and not D for pages VERIFY
 * read; A and D for writable pages it wrote; nothing outside the range.
 */
TEST_F(cr3, ad_bits)
{
	const int A = HTABLE_PROBE_ACCESSED, D = HTABLE_PROBE_DIRTY;
	const __u64 ro = VA0 + 16 * HT_PAGE_SIZE;
	struct htable_run r;
	int ret;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 16, HTABLE_MAP_WRITE);
	map_ok(_metadata, self->fd, ro, 4, 0);
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0, 16, 0));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, ro, 4, 0));
	/* Read pages 4-7 only. */
	ret = cr3_run_verify(self->fd, 0, VA0 + 4 * HT_PAGE_SIZE, 4, 0, 1, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 4, 0, 0));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0, 4, 0));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0 + 4 * HT_PAGE_SIZE, 4, A));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0 + 8 * HT_PAGE_SIZE, 8, 0));
	/* Write pages 8-11 and the read-only pages. */
	ret = cr3_run_verify(self->fd, 0, VA0 + 8 * HT_PAGE_SIZE, 4, HTABLE_RUN_WRITE, 2, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY|WRITE: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 4, 0, 0));
	ret = cr3_run_verify(self->fd, 0, ro, 4, HTABLE_RUN_WRITE, 3, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY|WRITE read-only: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 4, 0, 0));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0, 4, 0));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0 + 4 * HT_PAGE_SIZE, 4, A));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0 + 8 * HT_PAGE_SIZE, 4, A | D));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0 + 12 * HT_PAGE_SIZE, 4, 0));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, ro, 4, A));
	check_clean(_metadata, self->fd);
}

/* SYNC counts A and D over a range; SYNC_CLEAR clears them. */
TEST_F(cr3, sync)
{
	const int A = HTABLE_PROBE_ACCESSED, D = HTABLE_PROBE_DIRTY;
	const __u64 ro = VA0 + 8 * HT_PAGE_SIZE;
	long long st0[NR_ST], want[NR_ST] = { 0 };
	struct htable_sync s;
	struct htable_run r;
	int ret;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	/* 8 writable pages, 8 read-only, then 4 unmapped, then 2 untouched. */
	map_ok(_metadata, self->fd, VA0, 8, HTABLE_MAP_WRITE);
	map_ok(_metadata, self->fd, ro, 8, 0);
	map_ok(_metadata, self->fd, VA0 + 20 * HT_PAGE_SIZE, 2, HTABLE_MAP_WRITE);
	ASSERT_EQ(0, cr3_stats_read(st0));
	ASSERT_EQ(0, ht_sync_req(self->fd, VA0, 22, 0, &s));
	EXPECT_EQ(0, s.referenced);
	EXPECT_EQ(0, s.modified);
	ret = cr3_run_verify(self->fd, 0, VA0, 16, HTABLE_RUN_WRITE, 7, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY|WRITE: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 16, 0, 0));
	want[ST_CLOBBERS] += r.clobbers;
	/* Counting leaves the bits. */
	ASSERT_EQ(0, ht_sync_req(self->fd, VA0, 22, 0, &s));
	EXPECT_EQ(16, s.referenced);
	EXPECT_EQ(8, s.modified);
	EXPECT_EQ(0, s.reserved0);
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0, 8, A | D));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, ro, 8, A));
	/* A subrange counts only its own pages. */
	ASSERT_EQ(0, ht_sync_req(self->fd, VA0 + 6 * HT_PAGE_SIZE, 4, 0, &s));
	EXPECT_EQ(4, s.referenced);
	EXPECT_EQ(2, s.modified);
	/* Clearing reports, then clears. */
	ASSERT_EQ(0, ht_sync_req(self->fd, VA0, 22, HTABLE_SYNC_CLEAR, &s));
	EXPECT_EQ(16, s.referenced);
	EXPECT_EQ(8, s.modified);
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0, 16, 0));
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0 + 20 * HT_PAGE_SIZE, 2, 0));
	ASSERT_EQ(0, ht_sync_req(self->fd, VA0, 22, 0, &s));
	EXPECT_EQ(0, s.referenced);
	EXPECT_EQ(0, s.modified);
	/* The hardware sets them again after the clear. */
	ret = cr3_run_verify(self->fd, 0, VA0, 16, 0, 8, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 16, 0, 0));
	want[ST_CLOBBERS] += r.clobbers;
	ASSERT_EQ(0, ht_sync_req(self->fd, VA0, 22, HTABLE_SYNC_CLEAR, &s));
	EXPECT_EQ(16, s.referenced);
	EXPECT_EQ(0, s.modified);
	/* A range with nothing mapped. */
	ASSERT_EQ(0, ht_sync_req(self->fd, VA0 + HT_SZ_2M, 16, HTABLE_SYNC_CLEAR, &s));
	EXPECT_EQ(0, s.referenced);
	EXPECT_EQ(0, s.modified);
	want[ST_WINDOWS] = 2;
	want[ST_VERIFIED] = 32;
	want[ST_SYNCS] = 7;
	EXPECT_EQ(0, cr3_stats_moved(st0, want));
	check_clean(_metadata, self->fd);
}

TEST_F(cr3, sync_bad_input)
{
	struct htable_sync s;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 4, HTABLE_MAP_WRITE);
	memset(&s, 0, sizeof(s));
	s.va = VA0;
	s.npages = 4;
	s.reserved0 = 1;
	EXPECT_EQ(-EINVAL, ht_ioctl(self->fd, HTABLE_IOC_SYNC, &s));
	EXPECT_EQ(-EINVAL, ht_sync_req(self->fd, VA0, 4, 0x2, &s));
	EXPECT_EQ(-EINVAL, ht_sync_req(self->fd, VA0, 4, 0x80000000U, &s));
	EXPECT_EQ(-EINVAL, ht_sync_req(self->fd, VA0, 0, 0, &s));
	EXPECT_EQ(-EINVAL, ht_sync_req(self->fd, VA0 + 8, 4, 0, &s));
	EXPECT_EQ(-EFAULT, ht_ioctl(self->fd, HTABLE_IOC_SYNC, (void *)8));
}

/* RW reads and writes a page the hat owns, within one page. */
TEST_F(cr3, rw)
{
	unsigned char page[HT_PAGE_SIZE], back[HT_PAGE_SIZE];
	unsigned char b5a = 0x5a, b12[2] = { 0x11, 0x22 };
	const __u64 alias = VA0 + HT_SZ_2M;
	unsigned int i;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 2, 0);	/* read-only: RW still works */
	ASSERT_EQ(0, ht_map_alias(self->fd, alias, 2, HTABLE_MAP_ALIAS | HTABLE_MAP_WRITE,
				  VA0, 2));
	for (i = 0; i < sizeof(page); i++)
		page[i] = i * 7 + 3;
	ASSERT_EQ(0, ht_rw(self->fd, VA0, page, sizeof(page), HTABLE_RW_WRITE));
	memset(back, 0, sizeof(back));
	ASSERT_EQ(0, ht_rw(self->fd, VA0, back, sizeof(back), 0));
	EXPECT_EQ(0, memcmp(page, back, sizeof(page)));
	/* The alias is the same page; any offset and length inside it. */
	memset(back, 0, sizeof(back));
	ASSERT_EQ(0, ht_rw(self->fd, alias + 100, back, 200, 0));
	EXPECT_EQ(0, memcmp(page + 100, back, 200));
	ASSERT_EQ(0, ht_rw(self->fd, alias + 4095, &b5a, 1, HTABLE_RW_WRITE));
	ASSERT_EQ(0, ht_rw(self->fd, VA0 + 4090, back, 6, 0));
	EXPECT_EQ(page[4090], back[0]);
	EXPECT_EQ(page[4094], back[4]);
	EXPECT_EQ(0x5a, back[5]);
	/* The second page is another page. */
	memset(back, 0xee, sizeof(back));
	ASSERT_EQ(0, ht_rw(self->fd, alias + HT_PAGE_SIZE, b12, 2, HTABLE_RW_WRITE));
	ASSERT_EQ(0, ht_rw(self->fd, VA0 + HT_PAGE_SIZE, back, 2, 0));
	EXPECT_EQ(0x11, back[0]);
	EXPECT_EQ(0x22, back[1]);
	ASSERT_EQ(0, ht_rw(self->fd, VA0, back, 1, 0));
	EXPECT_EQ(page[0], back[0]);
	/* RW goes through the direct map: no A or D in the hat. */
	EXPECT_EQ(0, cr3_ad_expect(self->fd, VA0, 2, 0));
}

TEST_F(cr3, rw_bad_input)
{
	unsigned char buf[2 * HT_PAGE_SIZE];
	struct htable_rw r;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 2, HTABLE_MAP_WRITE);
	memset(buf, 0, sizeof(buf));
	/* Not the hat's page. */
	EXPECT_EQ(-ENOENT, ht_rw(self->fd, VA0 + 2 * HT_PAGE_SIZE, buf, 8, 0));
	EXPECT_EQ(-ENOENT, ht_rw(self->fd, VA0 - 8, buf, 8, HTABLE_RW_WRITE));
	/* Crossing into the next page, even an owned one. */
	EXPECT_EQ(-EINVAL, ht_rw(self->fd, VA0 + 4090, buf, 7, 0));
	EXPECT_EQ(-EINVAL, ht_rw(self->fd, VA0 + 1, buf, HT_PAGE_SIZE, HTABLE_RW_WRITE));
	/* Lengths. */
	EXPECT_EQ(-EINVAL, ht_rw(self->fd, VA0, buf, 0, 0));
	EXPECT_EQ(-EINVAL, ht_rw(self->fd, VA0, buf, HT_PAGE_SIZE + 1, 0));
	/* Flags. */
	EXPECT_EQ(-EINVAL, ht_rw(self->fd, VA0, buf, 8, 0x2));
	EXPECT_EQ(-EINVAL, ht_rw(self->fd, VA0, buf, 8, HTABLE_RW_WRITE | 0x100));
	/* A bad buffer: EFAULT. */
	memset(&r, 0, sizeof(r));
	r.va = VA0;
	r.buf = 8;
	r.len = 8;
	EXPECT_EQ(-EFAULT, ht_ioctl(self->fd, HTABLE_IOC_RW, &r));
	r.flags = HTABLE_RW_WRITE;
	EXPECT_EQ(-EFAULT, ht_ioctl(self->fd, HTABLE_IOC_RW, &r));
	check_clean(_metadata, self->fd);
}

/* VERIFY of 1, 512 and 100000 pages (the last mostly aliases). */
TEST_F_TIMEOUT(cr3, sizes, CR3_TIMEOUT)
{
	const __u64 big = 100000, real = 512;
	const __u64 va1 = VA0, va512 = VA0 + HT_SZ_2M - 256 * HT_PAGE_SIZE;
	const __u64 vabig = 3 * HT_SZ_512G - 1000 * HT_PAGE_SIZE;
	struct htable_run r;
	__u64 i;
	int ret, bad = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, va1, 1, HTABLE_MAP_WRITE);
	ret = cr3_run_verify(self->fd, 0, va1, 1, HTABLE_RUN_WRITE, 11, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY 1 page: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 1, 0, 0));
	EXPECT_EQ(0, cr3_check_page(self->fd, va1, ~11ULL, 0, 0));

	/* 512 pages across a 2 MiB boundary: two PTE tables. */
	map_ok(_metadata, self->fd, va512, 512, HTABLE_MAP_WRITE);
	ret = cr3_run_verify(self->fd, self->ncpus - 1, va512, 512, HTABLE_RUN_WRITE, 12, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY 512 pages: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 512, 0, 0));
	for (i = 0; i < 512; i += 17)
		bad += cr3_check_page(self->fd, va512 + i * HT_PAGE_SIZE, ~12ULL, 0, 0);
	EXPECT_EQ(0, bad);

	/*
	 * 100000 pages across a 512 GiB boundary: 512 real pages and their
	 * aliases (read-only, as VERIFY|WRITE of a page would change what
	 * its aliases read later). Every alias of a pfn has its pattern.
	 */
	map_ok(_metadata, self->fd, vabig, real, HTABLE_MAP_WRITE);
	ret = ht_map_alias(self->fd, vabig + real * HT_PAGE_SIZE, big - real,
			   HTABLE_MAP_ALIAS, vabig, real);
	ASSERT_EQ(0, ret) TH_LOG("MAP ALIAS %llu pages: %s", big - real, strerror(-ret));
	ret = cr3_run_verify(self->fd, 0, vabig, big, 0, 13, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY %llu pages: %s", big, strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, big, 0, 0));
	TH_LOG("VERIFY of %llu pages took %llu ms", big, r.elapsed_ns / 1000000);
	for (i = 0, bad = 0; i < big; i += 997)
		bad += cr3_check_page(self->fd, vabig + i * HT_PAGE_SIZE, 13, 0, 0);
	EXPECT_EQ(0, bad);
	bad = 0;
	for (i = 0; i < big; i += 4999)
		bad += cr3_ad_of(self->fd, vabig + i * HT_PAGE_SIZE) != HTABLE_PROBE_ACCESSED;
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, live_cpus(self->fd));
	check_clean(_metadata, self->fd);
}

/* Every online CPU by number, called from CPU 0. */
TEST_F(cr3, every_cpu)
{
	struct htable_run r;
	int cpu, ret, bad;
	__u64 i, seed;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_LE(1, self->ncpus);
	ASSERT_EQ(0, pin_to(0));
	map_ok(_metadata, self->fd, VA0, 4, HTABLE_MAP_WRITE);
	map_ok(_metadata, self->fd, VA0 + 4 * HT_PAGE_SIZE, 1, 0);
	for (cpu = 0; cpu < self->ncpus; cpu++) {
		seed = 0x5eed0000ULL + cpu;
		ret = cr3_run_verify(self->fd, cpu, VA0, 5, HTABLE_RUN_WRITE, seed, &r);
		EXPECT_EQ(0, ret) TH_LOG("RUN VERIFY on CPU %d: %s", cpu, strerror(-ret));
		if (ret)
			continue;
		EXPECT_EQ(0, cr3_verify_result(&r, 5, 0, 0)) TH_LOG("on CPU %d", cpu);
		EXPECT_EQ(0, live_cpus(self->fd)) TH_LOG("after CPU %d", cpu);
		for (i = 0, bad = 0; i < 5; i++)
			bad += cr3_check_page(self->fd, VA0 + i * HT_PAGE_SIZE,
					  i < 4 ? ~seed : seed, 0, 0);
		EXPECT_EQ(0, bad) TH_LOG("on CPU %d", cpu);
	}
	TH_LOG("%d CPUs", self->ncpus);
}

/* A CPU that is not possible is EINVAL, for both modes. */
TEST_F(cr3, bad_cpu)
{
	struct htable_sample smp[4];
	int possible = cr3_possible_cpus();
	__u32 cpus[2] = { 4096, possible };
	struct htable_run r;
	int i, n = 1;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 1, HTABLE_MAP_WRITE);
	ASSERT_LT(0, possible);
	if (possible < 4096)
		n = 2;
	for (i = 0; i < n; i++) {
		EXPECT_EQ(-EINVAL, cr3_run_verify(self->fd, cpus[i], VA0, 1, 0, 1, &r))
			TH_LOG("VERIFY on CPU %u (%d possible)", cpus[i], possible);
		memset(&r, 0, sizeof(r));
		r.cpu = cpus[i];
		r.mode = HTABLE_RUN_RESIDENT;
		r.va = VA0;
		r.npages = 1;
		r.duration_ms = 10;
		r.samples = (uintptr_t)smp;
		r.max_samples = 4;
		EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r))
			TH_LOG("RESIDENT on CPU %u (%d possible)", cpus[i], possible);
	}
	EXPECT_EQ(-EINVAL, cr3_run_verify(self->fd, -1U, VA0, 1, 0, 1, &r));
}

/* An offline CPU is ENXIO; once back online it works again. */
TEST_F_TIMEOUT(cr3, offline_cpu, CR3_TIMEOUT)
{
	int cpu = self->ncpus - 1;
	struct htable_run r;
	char path[64];
	double end;
	int ret;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 2, HTABLE_MAP_WRITE);
	snprintf(path, sizeof(path), CPU_ONLINE_FMT, cpu);
	/* Two-CPU cases fail on one CPU: the matrix has no such row. */
	ASSERT_LE(1, cpu);
	if (access(path, W_OK))
		SKIP(return, "needs:hotplug CPU %d cannot be taken offline (%s)", cpu, path);
	ret = htable_knob_write(path, 0);
	if (ret)
		SKIP(return, "needs:hotplug offlining CPU %d: %s", cpu, strerror(-ret));
	self->offlined = cpu;
	EXPECT_EQ(0, htable_knob_read(path));
	ret = cr3_run_verify(self->fd, cpu, VA0, 2, 0, 1, &r);
	EXPECT_EQ(-ENXIO, ret) TH_LOG("VERIFY on offline CPU %d: %s", cpu, strerror(-ret));
	EXPECT_EQ(0, live_cpus(self->fd));
	ASSERT_EQ(0, htable_knob_write(path, 1));
	end = ht_now() + 30;
	while (htable_knob_read(path) != 1 && ht_now() < end)
		usleep(10000);
	ASSERT_EQ(1, htable_knob_read(path));
	self->offlined = -1;
	ret = cr3_run_verify(self->fd, cpu, VA0, 2, HTABLE_RUN_WRITE, 2, &r);
	ASSERT_EQ(0, ret) TH_LOG("VERIFY on CPU %d back online: %s", cpu, strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 2, 0, 0));
}

/* What RUN refuses, each with nothing counted as a window. */
TEST_F(cr3, run_bad_input)
{
	struct htable_sample smp[4];
	long long st0[NR_ST], want[NR_ST] = { 0 };
	struct htable_run r;
	int ret;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 4, HTABLE_MAP_WRITE);
	map_ok(_metadata, self->fd, self->limit - HT_PAGE_SIZE, 1, HTABLE_MAP_WRITE);
	ASSERT_EQ(0, cr3_stats_read(st0));

	ht_verify_fill(&r, 0, VA0, 4, 0, 1);
	r.mode = 2;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("mode 2");
	ht_verify_fill(&r, 0, VA0, 4, 0, 1);
	r.mode = -1U;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("mode ~0");
	ht_verify_fill(&r, 0, VA0, 4, 0x2, 1);
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("flags 0x2");
	ht_verify_fill(&r, 0, VA0, 4, HTABLE_RUN_WRITE | 0x80000000U, 1);
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("flags 0x80000001");
	ht_verify_fill(&r, 0, VA0, 4, 0, 1);
	r.reserved = 1;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("reserved 1");
	EXPECT_EQ(-EINVAL, cr3_run_verify(self->fd, 0, VA0, 0, 0, 1, &r)) TH_LOG("npages 0");
	EXPECT_EQ(-EINVAL, cr3_run_verify(self->fd, 0, VA0 + 8, 1, 0, 1, &r)) TH_LOG("misaligned");
	EXPECT_EQ(-EINVAL, cr3_run_verify(self->fd, 0, VA0 + HT_PAGE_SIZE - 1, 1, 0, 1, &r))
		TH_LOG("misaligned");
	ret = cr3_run_verify(self->fd, 0, VA0, HTABLE_MAX_NPAGES + 1, 0, 1, &r);
	EXPECT_TRUE(ret == -EINVAL || ret == -E2BIG) TH_LOG("npages max + 1: %s",
							    strerror(-ret));
	/* Leaving the lower half. */
	EXPECT_EQ(-ERANGE, cr3_run_verify(self->fd, 0, self->limit - HT_PAGE_SIZE, 2, 0, 1, &r));
	EXPECT_EQ(-ERANGE, cr3_run_verify(self->fd, 0, self->limit, 1, 0, 1, &r));
	EXPECT_EQ(-ERANGE, cr3_run_verify(self->fd, 0, self->limit - 16 * HT_PAGE_SIZE,
					  HTABLE_MAX_NPAGES, 0, 1, &r));
	/* VERIFY takes no resident fields. */
	ht_verify_fill(&r, 0, VA0, 4, 0, 1);
	r.duration_ms = 10;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("VERIFY with duration_ms");
	ht_verify_fill(&r, 0, VA0, 4, 0, 1);
	r.samples = (uintptr_t)smp;
	r.max_samples = 4;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("VERIFY with samples");
	/* RESIDENT: one page, 1..5000 ms, 1..HTABLE_MAX_SAMPLES samples. */
	memset(&r, 0, sizeof(r));
	r.mode = HTABLE_RUN_RESIDENT;
	r.va = VA0;
	r.npages = 2;
	r.duration_ms = 10;
	r.samples = (uintptr_t)smp;
	r.max_samples = 4;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("RESIDENT npages 2");
	r.npages = 1;
	r.duration_ms = 0;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("RESIDENT 0 ms");
	r.duration_ms = 5001;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("RESIDENT 5001 ms");
	r.duration_ms = 10;
	r.max_samples = 0;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("RESIDENT 0 samples");
	r.max_samples = HTABLE_MAX_SAMPLES + 1;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("RESIDENT too many samples");
	r.max_samples = 4;
	r.va = VA0 + 8;
	EXPECT_EQ(-EINVAL, cr3_run_req(self->fd, &r)) TH_LOG("RESIDENT misaligned");
	r.va = self->limit;
	EXPECT_EQ(-ERANGE, cr3_run_req(self->fd, &r)) TH_LOG("RESIDENT beyond the lower half");
	/* A bad argument pointer: EFAULT. */
	EXPECT_EQ(-EFAULT, ht_ioctl(self->fd, HTABLE_IOC_RUN, (void *)8));
	EXPECT_EQ(0, cr3_stats_moved(st0, want));
	EXPECT_EQ(0, live_cpus(self->fd));

	/* A range that ends exactly at the top of the lower half is fine. */
	ret = cr3_run_verify(self->fd, 0, self->limit - HT_PAGE_SIZE, 1, HTABLE_RUN_WRITE, 9, &r);
	ASSERT_EQ(0, ret) TH_LOG("VERIFY of the last page: %s", strerror(-ret));
	EXPECT_EQ(0, cr3_verify_result(&r, 1, 0, 0));
	EXPECT_EQ(0, cr3_check_page(self->fd, self->limit - HT_PAGE_SIZE, ~9ULL, 0, 0));
	check_clean(_metadata, self->fd);
}

/* One poll of INFO.live_cpus, and when it was taken. */
struct live_poll {
	__u64 t0, t1;
	__u64 live;
};

#define MAX_POLLS	4096
/*
 * The resident windows here last long enough for the test to witness
 * their reads one by one (some 50 ms each on the debug kernel).
 */
#define LIVE_MS		1500
/* Reads resident_live_cpus witnesses, by SYNC_CLEAR and the A bit. */
#define WITNESS		4
#define TRIES		3

/*
 * One run of resident_live_cpus. Returns 1 when judged, 0 when the window
 * ended before the test saw what it needs (the host stalled the guest for
 * most of the window): such a run says nothing.
 */
static int resident_live_try(struct __test_metadata *_metadata, int fd, int ncpus,
			     __u64 marker, struct live_poll *poll, int try)
{
	long long st0[NR_ST], want[NR_ST] = { 0 };
	__u64 i, nvalid = 0, nbad = 0, seen[WITNESS + 1], first = 0, last = 0;
	__u64 inside = 0, missed = 0, outside = 0, other = 0;
	int ret, running, witnessed = 0, n = 0, m;
	struct window w;

	ASSERT_EQ(0, clear_accessed(fd, VA0));
	ASSERT_EQ(0, cr3_stats_read(st0));
	EXPECT_EQ(0, live_cpus(fd));
	ret = window_start(&w, fd, ncpus - 1, VA0, LIVE_MS, HTABLE_MAX_SAMPLES);
	ASSERT_EQ(0, ret);
	/* No ASSERT until the window is joined. */
	running = wait_running(fd, &w, WINDOW_WAIT_S);
	if (!running) {
		seen[0] = now_ns();
		witnessed = witness_reads(fd, &w, WITNESS, seen + 1);
	}
	/* Watch INFO for the rest of the window. */
	while (!window_done(&w)) {
		struct live_poll *p = &poll[n < MAX_POLLS ? n++ : n - 1];

		p->t0 = now_ns();
		p->live = live_cpus(fd);
		p->t1 = now_ns();
		usleep(2000);
	}
	window_join(&w);
	ASSERT_EQ(0, w.err) TH_LOG("RUN RESIDENT on CPU %u: %s", w.cpu, strerror(-w.err));
	ASSERT_NE(WAIT_TIMEOUT, running)
		TH_LOG("window on CPU %u not seen running in %.0f s", w.cpu, WINDOW_WAIT_S);
	if (running || witnessed < WITNESS) {
		TH_LOG("try %d: the window ended before %d reads were witnessed (%d); again",
		       try, WITNESS + 1, running ? 0 : witnessed + 1);
		free(w.s);
		return 0;
	}
	EXPECT_EQ(0, live_cpus(fd));
	EXPECT_EQ(0, window_sane(&w, &nvalid));
	for (i = 0; i < w.r.nsamples; i++) {
		const struct htable_sample *s = &w.s[i];

		if (!(s->flags & HTABLE_SAMPLE_VALID))
			continue;
		if (!first)
			first = s->t_ns;
		last = s->t_ns;
		if ((s->flags & HTABLE_SAMPLE_FAULT) || s->value != marker) {
			if (nbad < 3)
				TH_LOG("sample %llu: value %#llx flags %#x", i, s->value, s->flags);
			nbad++;
		}
	}
	EXPECT_EQ(0, nbad);
	EXPECT_LE(1, nvalid);
	/*
	 * INFO shows exactly the window's CPU from before its first read to
	 * after its last, and nothing before the RUN or after it returned.
	 */
	for (i = 0; i < (__u64)n; i++) {
		const struct live_poll *p = &poll[i];

		if (p->live && p->live != _BITULL(w.cpu))
			other = p->live;
		if (p->t0 >= first && p->t1 <= last) {
			inside++;
			missed += p->live != _BITULL(w.cpu);
		} else if (p->t1 < w.t_start || p->t0 > w.t_end) {
			outside += !!p->live;
		}
	}
	EXPECT_EQ(0, other) TH_LOG("INFO showed live_cpus %#llx", other);
	EXPECT_EQ(0, missed) TH_LOG("%llu polls inside the window missed CPU %u", missed, w.cpu);
	EXPECT_EQ(0, outside);
	/*
	 * The value never changes, so only the periodic samples ("at least
	 * every 1 ms") fill the log. Every two witnessed reads one more
	 * sample must precede the later one's sighting (witness_reads()):
	 * a floor that follows from what the test saw, not from how fast
	 * the host ran the window.
	 */
	for (m = 1; m <= WITNESS / 2; m++) {
		__u64 upto = samples_upto(&w, seen[2 * m]);

		EXPECT_LE((__u64)m + 1, upto)
			TH_LOG("%llu samples before read %d was witnessed", upto, 2 * m);
	}
	EXPECT_EQ(0, sample_gaps(&w));
	TH_LOG("try %d: %u samples (%llu valid), %llu reads (%llu valid), %llu clobbers",
	       try, w.r.nsamples, nvalid, w.r.reads, w.r.valid_reads, w.r.clobbers);
	TH_LOG("try %d: %d polls, %llu inside the window; %d reads witnessed in %llu ms",
	       try, n, inside, WITNESS + 1, (seen[WITNESS] - w.t_start) / 1000000);
	want[ST_WINDOWS] = 1;
	want[ST_CLOBBERS] = w.r.clobbers;
	/* Each witnessed read needed one SYNC_CLEAR. */
	want[ST_SYNCS] = WITNESS;
	EXPECT_EQ(0, cr3_stats_moved(st0, want));
	free(w.s);
	return 1;
}

/*
 * A RESIDENT window: INFO shows exactly its CPU while it runs and none
 * before or after; every valid sample read the marker; and the window
 * logs its periodic samples, as many as the reads the test witnessed
 * imply.
 */
TEST_F_TIMEOUT(cr3, resident_live_cpus, CR3_TIMEOUT)
{
	__u64 marker = 0x6d61726b65720001ULL;
	struct live_poll *poll;
	int try, judged = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_LE(2, self->ncpus);
	ASSERT_EQ(0, pin_to(0));
	map_ok(_metadata, self->fd, VA0, 1, HTABLE_MAP_WRITE);
	ASSERT_EQ(0, ht_rw(self->fd, VA0, &marker, sizeof(marker), HTABLE_RW_WRITE));
	poll = calloc(MAX_POLLS, sizeof(*poll));
	ASSERT_NE(NULL, poll);
	for (try = 1; try <= TRIES && !judged; try++)
		judged = resident_live_try(_metadata, self->fd, self->ncpus, marker, poll, try);
	ASSERT_TRUE(judged) TH_LOG("in %d tries every window ended too soon", TRIES);
	free(poll);
}

#define FEW		4
/* Reads to witness so that the window must have logged FEW + 1 samples. */
#define FEW_WITNESS	(2 * FEW)

/*
 * One run of resident_few_samples: 1 when judged, 0 when the window ended
 * before the test witnessed enough reads to know it wanted more than FEW
 * samples.
 */
static int few_samples_try(struct __test_metadata *_metadata, int fd, int ncpus,
			   int try)
{
	__u64 seen[FEW_WITNESS];
	int running, witnessed = 0;
	struct window w;
	__u64 nvalid;

	ASSERT_EQ(0, clear_accessed(fd, VA0));
	ASSERT_EQ(0, window_start(&w, fd, ncpus - 1, VA0, LIVE_MS, FEW));
	running = wait_running(fd, &w, WINDOW_WAIT_S);
	if (!running)
		witnessed = witness_reads(fd, &w, FEW_WITNESS, seen);
	window_join(&w);
	ASSERT_EQ(0, w.err) TH_LOG("RUN RESIDENT: %s", strerror(-w.err));
	ASSERT_NE(WAIT_TIMEOUT, running)
		TH_LOG("window on CPU %u not seen running in %.0f s", w.cpu, WINDOW_WAIT_S);
	if (running || witnessed < FEW_WITNESS) {
		TH_LOG("try %d: the window ended before %d reads were witnessed (%d); again",
		       try, FEW_WITNESS + 1, running ? 0 : witnessed + 1);
		free(w.s);
		return 0;
	}
	TH_LOG("try %d: %d reads witnessed in %llu ms of the window's %u", try,
	       FEW_WITNESS + 1, (seen[FEW_WITNESS - 1] - w.t_start) / 1000000, w.duration_ms);
	/*
	 * The witnessed reads imply FEW + 1 samples' worth of periodic
	 * logging (witness_reads()): the log must have stopped at FEW.
	 */
	EXPECT_EQ(0, window_sane(&w, &nvalid));
	EXPECT_EQ(FEW, w.r.nsamples);
	EXPECT_LE(w.r.nsamples, w.r.reads);
	EXPECT_EQ(0, sample_gaps(&w));
	EXPECT_EQ(0, live_cpus(fd));
	free(w.s);
	return 1;
}

/* A window with room for a few samples writes no more than that. */
TEST_F_TIMEOUT(cr3, resident_few_samples, CR3_TIMEOUT)
{
	__u64 marker = 0x6d61726b65720002ULL;
	int try, judged = 0;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_LE(2, self->ncpus);
	ASSERT_EQ(0, pin_to(0));
	map_ok(_metadata, self->fd, VA0, 1, 0);
	ASSERT_EQ(0, ht_rw(self->fd, VA0, &marker, sizeof(marker), HTABLE_RW_WRITE));
	for (try = 1; try <= TRIES && !judged; try++)
		judged = few_samples_try(_metadata, self->fd, self->ncpus, try);
	ASSERT_TRUE(judged) TH_LOG("in %d tries every window ended too soon", TRIES);
}

/* The counters move by exactly what the windows and SYNCs reported. */
TEST_F(cr3, stats)
{
	long long st0[NR_ST], want[NR_ST] = { 0 };
	struct htable_sync s;
	struct htable_run r;
	int i, ret;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	map_ok(_metadata, self->fd, VA0, 6, HTABLE_MAP_WRITE);
	ASSERT_EQ(0, cr3_stats_read(st0));
	for (i = 0; i < 5; i++) {
		/* Ranges of 8 at steps of 2 pages: some past the end, faulting. */
		ret = cr3_run_verify(self->fd, i % self->ncpus, VA0 + 2 * i * HT_PAGE_SIZE, 8,
				     i & 1 ? HTABLE_RUN_WRITE : 0, i, &r);
		ASSERT_EQ(0, ret) TH_LOG("RUN VERIFY %d: %s", i, strerror(-ret));
		EXPECT_EQ(0, cr3_verify_result(&r, i < 3 ? 6 - 2 * i : 0, i < 3 ? 2 + 2 * i : 8,
					       VA0 + (i < 3 ? 6 : 2 * i) * HT_PAGE_SIZE));
		want[ST_WINDOWS]++;
		want[ST_VERIFIED] += r.verified;
		want[ST_FAULTS] += r.faults;
		want[ST_CLOBBERS] += r.clobbers;
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, ht_sync_req(self->fd, VA0, 6, i == 1 ? HTABLE_SYNC_CLEAR : 0, &s));
		want[ST_SYNCS]++;
	}
	EXPECT_EQ(0, cr3_stats_moved(st0, want));
	EXPECT_EQ(0, s.referenced);
	EXPECT_EQ(0, s.modified);
}

TEST_HARNESS_MAIN
