/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by htable's selftests: opening the device (or skipping
 * when the module is absent) and reading debugfs counters.
 */
#ifndef _HTABLE_TEST_H
#define _HTABLE_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <uapi/htable.h>

#define HTABLE_STATS_PATH "/sys/kernel/debug/htable/stats"

/*
 * Open /dev/htable. Returns the fd, or -1 with errno set (ENOENT when the
 * module is not loaded, which tests turn into a SKIP).
 */
static inline int htable_open_dev(void)
{
	return open(HTABLE_DEV_PATH, O_RDWR | O_CLOEXEC);
}

/* Read one counter from debugfs stats; -1 when it is missing. */
static inline long long htable_stat(const char *name)
{
	char key[128];
	long long val, found = -1;
	FILE *f = fopen(HTABLE_STATS_PATH, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			found = val;
			break;
		}
	}
	fclose(f);
	return found;
}

#endif /* _HTABLE_TEST_H */
