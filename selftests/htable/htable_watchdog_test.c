// SPDX-License-Identifier: GPL-2.0
/*
 * The window watchdog: with window_budget_ms at 1, a verify window over
 * far more pages than 1 ms of work must be cut short at a chunk boundary,
 * report watchdog = 1, count hs_watchdog_ends, and leave the hat live
 * nowhere; with the budget restored the same window completes.
 */
#include "kselftest_harness.h"
#include "htable_test.h"

#define BUDGET	"/sys/module/htable/parameters/window_budget_ms"
#define GIB	0x40000000ULL
#define NPAGES	16384ULL

FIXTURE(watchdog) {
	int fd;
	long long budget;
};

FIXTURE_SETUP(watchdog)
{
	self->fd = htable_open_dev();
	self->budget = htable_knob_read(BUDGET);
}

FIXTURE_TEARDOWN(watchdog)
{
	if (self->budget > 0)
		htable_knob_write(BUDGET, self->budget);
	if (self->fd >= 0)
		close(self->fd);
}

static int run_verify(int fd, struct htable_run *r)
{
	memset(r, 0, sizeof(*r));
	r->cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	r->mode = HTABLE_RUN_VERIFY;
	r->va = GIB;
	r->npages = NPAGES;
	r->seed = 0x1234;
	return ht_ioctl(fd, HTABLE_IOC_RUN, r);
}

TEST_F(watchdog, cuts_a_long_window_short)
{
	struct htable_info info;
	struct htable_run r;
	long long ends;

	if (htable_dev_missing(_metadata, self->fd < 0, errno))
		return;
	ASSERT_LT(0, self->budget);
	/* One real page aliased everywhere: the window's work, not memory. */
	ASSERT_EQ(0, ht_map(self->fd, GIB, 1, 0));
	ASSERT_EQ(0, ht_map_alias(self->fd, GIB + 4096, NPAGES - 1,
				  HTABLE_MAP_ALIAS, GIB, 1));

	ends = htable_stat("hs_watchdog_ends");
	ASSERT_EQ(0, htable_knob_write(BUDGET, 1));
	ASSERT_EQ(0, run_verify(self->fd, &r));
	EXPECT_EQ(1, r.watchdog);
	EXPECT_LT(r.verified, NPAGES);
	EXPECT_EQ(0, r.mismatches);
	EXPECT_EQ(0, r.faults);
	/* Cut at a chunk boundary: whole chunks of 64 pages were verified. */
	EXPECT_EQ(0, r.verified % 64);
	EXPECT_EQ(ends + 1, htable_stat("hs_watchdog_ends"));
	ASSERT_EQ(0, ht_info(self->fd, &info));
	EXPECT_EQ(0, info.live_cpus);

	ASSERT_EQ(0, htable_knob_write(BUDGET, self->budget));
	ASSERT_EQ(0, run_verify(self->fd, &r));
	EXPECT_EQ(0, r.watchdog);
	EXPECT_EQ(NPAGES, r.verified);
	EXPECT_EQ(ends + 1, htable_stat("hs_watchdog_ends"));
}

TEST_HARNESS_MAIN
