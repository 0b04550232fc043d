// SPDX-License-Identifier: GPL-2.0
/*
 * The reap count. The 2007 seed computed MIN(MAX(physmem / 20,
 * active / 20), 10), which caps every reap at 10 tables; modern illumos
 * fixed it to MAX(MIN(physmem / 20, active / 20), 10). The two differ only
 * when active / 20 > 10, so this test builds over 500 tables, leaves them
 * all in the hat's cache, and has one reap take exactly what the fixed
 * formula says, computed here from /proc/meminfo and the debugfs gauge.
 *
 * A reap takes at most one table in use per bucket of a hat's hash and
 * pass, so it takes its whole count from a hat only when the hash was
 * sized for the hat's tables. The second test builds them in one MAP
 * (the hash must be grown for what a call will add, not only for what it
 * found) and has one reap take the same count from tables in use.
 */
#include "kselftest_harness.h"
#include "htable_test.h"

#define REAP_KNOB	"/sys/kernel/debug/htable/reap"
#define TABLES		512ULL
#define GIB		0x40000000ULL

static unsigned long long total_pages(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb / 4;
}

static unsigned long long min_ull(unsigned long long a, unsigned long long b)
{
	return a < b ? a : b;
}

static unsigned long long max_ull(unsigned long long a, unsigned long long b)
{
	return a > b ? a : b;
}

/* One real page at 4 GiB, aliased over TABLES full leaf tables (1 GiB). */
static int map_alias_tables(int fd)
{
	return ht_map(fd, 4 * GIB, 1, 0) ?:
	       ht_map_alias(fd, 4 * GIB + 4096, TABLES * 512 - 1, HTABLE_MAP_ALIAS,
			    4 * GIB, 1);
}

/* The fixed formula's count for @active tables and @physmem pages. */
static unsigned long long reap_count(unsigned long long physmem, long long active)
{
	return max_ull(min_ull(physmem / 20, active / 20), 10);
}

TEST(reap_count_is_max_of_min)
{
	long long cached, active, reaped, attempts;
	unsigned long long want, physmem = total_pages();
	int fd;

	fd = htable_open_dev();
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	ASSERT_LT(0, physmem);

	ASSERT_EQ(0, map_alias_tables(fd));
	/* Unmapping leaves every emptied table in the hat's cache. */
	ASSERT_EQ(0, ht_unmap(fd, 4 * GIB, TABLES * 512));

	cached = htable_stat("cached_tables");
	active = htable_stat("active_ptables");
	reaped = htable_stat("hs_reaped");
	attempts = htable_stat("hs_reap_attempts");
	ASSERT_LE((long long)TABLES, cached);
	ASSERT_LT(220, active) TH_LOG("too few tables to tell the formulas apart");

	want = reap_count(physmem, active);
	/* The seed's inverted count would be 10 here; make sure it isn't. */
	ASSERT_LT(10, want);
	ASSERT_LE(want, (unsigned long long)cached);

	/* Writing 0 runs htable_reap() with no bound from a shrinker. */
	ASSERT_EQ(0, htable_knob_write(REAP_KNOB, 0));
	EXPECT_EQ(attempts + 1, htable_stat("hs_reap_attempts"));
	EXPECT_EQ(reaped + (long long)want, htable_stat("hs_reaped"))
		TH_LOG("active %lld, physmem %llu pages: wanted %llu",
		       active, physmem, want);
	/* Every reaped table came from the cache and went to the system. */
	EXPECT_EQ(cached - (long long)want, htable_stat("cached_tables"));
	EXPECT_EQ(active - (long long)want, htable_stat("active_ptables"));
	close(fd);
}

TEST(reap_count_from_tables_in_use)
{
	long long active, reaped;
	unsigned long long want, physmem = total_pages();
	struct htable_info info;
	int fd;

	fd = htable_open_dev();
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	ASSERT_LT(0, physmem);

	/* A new hat: one MAP builds 512 full leaf tables in a 1-bucket hash. */
	ASSERT_EQ(0, map_alias_tables(fd));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(TABLES, info.tables[0]);
	ASSERT_EQ(0, htable_stat("cached_tables")) TH_LOG("a cached table would be reaped first");

	active = htable_stat("active_ptables");
	reaped = htable_stat("hs_reaped");
	want = reap_count(physmem, active);
	ASSERT_LT(10, want);

	ASSERT_EQ(0, htable_knob_write(REAP_KNOB, 0));
	EXPECT_EQ(reaped + (long long)want, htable_stat("hs_reaped"))
		TH_LOG("one reap took %lld of %llu tables in use",
		       htable_stat("hs_reaped") - reaped, want);
	ASSERT_EQ(0, ht_info(fd, &info));
	EXPECT_EQ(TABLES - want, info.tables[0]);
	close(fd);
}

TEST_HARNESS_MAIN
