// SPDX-License-Identifier: GPL-2.0
/*
 * The device and its version ioctl, checked against what the test can see
 * independently: the CPU flags for the paging depth, the page size, stat(2)
 * for the device node, and its own count of opens for the counters.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "htable_test.h"

/* The kernel runs 5-level paging iff the CPU has LA57 (and no no5lvl). */
static int expected_levels(void)
{
	char line[4096];
	int levels = 4;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "flags", 5)) {
			if (strstr(line, " la57"))
				levels = 5;
			break;
		}
	}
	fclose(f);
	f = fopen("/proc/cmdline", "r");
	if (f) {
		if (fgets(line, sizeof(line), f) && strstr(line, "no5lvl"))
			levels = 4;
		fclose(f);
	}
	return levels;
}

TEST(version)
{
	struct htable_version v;
	int fd;

	fd = htable_open_dev();
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	memset(&v, 0xa5, sizeof(v));
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_VERSION, &v));
	EXPECT_EQ(HTABLE_ABI_MAJOR, v.major);
	EXPECT_EQ(HTABLE_ABI_MINOR, v.minor);
	EXPECT_EQ(expected_levels(), (int)v.levels);
	EXPECT_EQ((unsigned long)sysconf(_SC_PAGESIZE), 1UL << v.page_shift);
	EXPECT_EQ(0, v.reserved[0]);
	EXPECT_EQ(0, v.reserved[1]);
	close(fd);
}

TEST(device_node)
{
	struct stat st;

	if (htable_dev_missing(_metadata, access(HTABLE_DEV_PATH, F_OK), errno))
		return;
	ASSERT_EQ(0, stat(HTABLE_DEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(10, major(st.st_rdev));	/* a misc device */
}

TEST(unknown_ioctl)
{
	int fd;

	fd = htable_open_dev();
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	/* A number the module doesn't define; the argument is never read. */
	EXPECT_EQ(-ENOTTY, ht_ioctl(fd, _IO(HTABLE_IOC_MAGIC, 0x7f), NULL));
	/* The right number with the wrong size is a different command. */
	EXPECT_EQ(-ENOTTY, ht_ioctl(fd, _IOR(HTABLE_IOC_MAGIC, 0x00, int), NULL));
	/* A bad user pointer is EFAULT, not a crash. */
	EXPECT_EQ(-EFAULT, ht_ioctl(fd, HTABLE_IOC_VERSION, (void *)8));
	close(fd);
}

TEST(open_close_counters)
{
	long long c0, d0, c1, d1;
	int fd[3], i;

	fd[0] = htable_open_dev();
	if (htable_dev_missing(_metadata, fd[0] < 0, errno))
		return;
	close(fd[0]);
	c0 = htable_stat("hs_hats_created");
	d0 = htable_stat("hs_hats_destroyed");
	ASSERT_LE(0, c0);
	ASSERT_LE(0, d0);
	for (i = 0; i < 3; i++)
		fd[i] = open(HTABLE_DEV_PATH, O_RDWR);
	for (i = 0; i < 3; i++)
		ASSERT_LE(0, fd[i]);
	c1 = htable_stat("hs_hats_created");
	EXPECT_EQ(c0 + 3, c1);
	for (i = 0; i < 3; i++)
		close(fd[i]);
	d1 = htable_stat("hs_hats_destroyed");
	EXPECT_EQ(d0 + 3, d1);
}

TEST(stats_format)
{
	static const char * const required[] = {
		"hs_ptable_allocs", "hs_ptable_frees", "hs_htable_rgets",
		"hs_htable_rputs", "hs_steals", "hs_reap_attempts",
		"hs_reaped", "hs_htable_shared", "hs_htable_unshared",
	};
	char line[256], name[128];
	unsigned long long val;
	FILE *f;
	int fd, lines = 0;
	size_t i;

	fd = htable_open_dev();
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	close(fd);
	f = fopen(HTABLE_STATS_PATH, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		char extra;
		int n = sscanf(line, "%127s %llu %c", name, &val, &extra);

		/* Exactly "name value" per line. */
		EXPECT_EQ(2, n);
		lines++;
	}
	fclose(f);
	EXPECT_LT(0, lines);
	for (i = 0; i < ARRAY_SIZE(required); i++) {
		long long v = htable_stat(required[i]);

		if (v < 0)
			ksft_print_msg("missing counter %s\n", required[i]);
		EXPECT_LE(0, v);
	}
}

TEST_HARNESS_MAIN
