// SPDX-License-Identifier: GPL-2.0
/*
 * Windows refuse isolated CPUs (isolcpus=, nohz_full=): such a CPU belongs
 * to work that asked to be left alone, and a window holds its CPU. The
 * lowmem row boots with isolcpus=1 to have one; the others have none and
 * don't run this test.
 */
#include "kselftest_harness.h"
#include "htable_test.h"

#define VA0	0x40000000ULL

/* The first CPU in /sys/devices/system/cpu/isolated, or -1. */
static int first_isolated(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/isolated", "r");
	int cpu = -1;

	if (f) {
		if (fscanf(f, "%d", &cpu) != 1)
			cpu = -1;
		fclose(f);
	}
	return cpu;
}

TEST(isolated_cpu_refused)
{
	struct htable_sample s[4];
	struct htable_run r;
	int fd, cpu;

	fd = htable_open_dev();
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	cpu = first_isolated();
	if (cpu < 0)
		SKIP(return, "needs:isolated no CPU is isolated (boot with isolcpus=)");
	ASSERT_EQ(0, ht_map(fd, VA0, 4, HTABLE_MAP_WRITE));
	EXPECT_EQ(-EBUSY, ht_run_verify(fd, cpu, VA0, 4, 0, 1, &r));
	memset(&r, 0, sizeof(r));
	r.cpu = cpu;
	r.mode = HTABLE_RUN_RESIDENT;
	r.va = VA0;
	r.npages = 1;
	r.duration_ms = 10;
	r.samples = (__u64)(unsigned long)s;
	r.max_samples = 4;
	EXPECT_EQ(-EBUSY, ht_ioctl(fd, HTABLE_IOC_RUN, &r));
	/* CPU 0 keeps the system running: never isolated, windows work there. */
	ASSERT_NE(0, cpu);
	EXPECT_EQ(0, ht_run_verify(fd, 0, VA0, 4, 0, 1, &r));
	EXPECT_EQ(4, r.verified);
	close(fd);
}

TEST_HARNESS_MAIN
