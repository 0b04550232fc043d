// SPDX-License-Identifier: GPL-2.0
/*
 * The workload of `make demo`: open a few hats through /dev/htable, ask for
 * the ABI version, and close them again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <uapi/htable.h>

int main(void)
{
	struct htable_version v;
	int fd[4], i;

	for (i = 0; i < 4; i++) {
		fd[i] = open(HTABLE_DEV_PATH, O_RDWR);
		if (fd[i] < 0) {
			fprintf(stderr, "open %s: %s\n", HTABLE_DEV_PATH, strerror(errno));
			return 1;
		}
	}
	if (ioctl(fd[0], HTABLE_IOC_VERSION, &v)) {
		perror("HTABLE_IOC_VERSION");
		return 1;
	}
	printf("htable ABI %u.%u, %u-level paging, %u KiB pages; 4 hats open\n",
	       v.major, v.minor, v.levels, (1u << v.page_shift) / 1024);
	for (i = 0; i < 4; i++)
		close(fd[i]);
	return 0;
}
