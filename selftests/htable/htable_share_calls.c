// SPDX-License-Identifier: GPL-2.0
/*
 * The calls htable_share_test and htable_share_smp_test both make: SHARE
 * and UNSHARE, CHECK of one hat, and the count of online CPUs.
 */
#include "htable_share.h"

/* SHARE or UNSHARE (@cmd): 0 and *@tables (if asked), or -errno. */
static int share_call(int fd, unsigned long cmd, int owner_fd, __u64 va,
		      __u64 npages, __u64 *tables)
{
	struct htable_share s = { .owner_fd = owner_fd, .va = va, .npages = npages,
				  .tables = POISON64 };
	int ret = ht_ioctl(fd, cmd, &s);

	if (!ret && tables)
		*tables = s.tables;
	return ret;
}

int ht_share(int fd, int owner_fd, __u64 va, __u64 npages, __u64 *tables)
{
	return share_call(fd, HTABLE_IOC_SHARE, owner_fd, va, npages, tables);
}

int ht_unshare(int fd, __u64 va, __u64 npages, __u64 *tables)
{
	return share_call(fd, HTABLE_IOC_UNSHARE, 0, va, npages, tables);
}

long long check_sound(int fd)
{
	struct htable_check c;

	if (ht_check(fd, &c))
		return -1;
	if (c.errors)
		printf("# CHECK fd %d: %llu errors, first %u at %#llx\n", fd,
		       (unsigned long long)c.errors, c.first_error,
		       (unsigned long long)c.first_va);
	return c.errors;
}

int ncpus(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}
