// SPDX-License-Identifier: GPL-2.0
/*
 * A call whose result can't be written back fails with EFAULT and changes
 * nothing: each ioctl that changes a hat gets its argument in a page the
 * caller can only read, and the hat must then be as it was (INFO, PROBE,
 * the counters). Before, the change was made and only the write-back
 * failed, so the caller saw EFAULT for a map that had happened.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define VA	0x40000000ULL
#define SVA	(4 * HT_SZ_1G)

FIXTURE(result) {
	int fd, err;
	void *page;
};

FIXTURE_SETUP(result)
{
	self->page = MAP_FAILED;
	self->fd = htable_open_dev();
	self->err = errno;
	if (self->fd < 0)
		return;
	self->page = mmap(NULL, HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
}

FIXTURE_TEARDOWN(result)
{
	if (self->page != MAP_FAILED)
		munmap(self->page, HT_PAGE_SIZE);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Copy @arg (@len bytes) into the fixture's page, make it read-only, run
 * ioctl @cmd on it: returns -errno (0 when it succeeded, which fails).
 */
static int ioctl_ro(FIXTURE_DATA(result) *self, int fd, unsigned long cmd,
		    const void *arg, size_t len)
{
	int ret;

	mprotect(self->page, HT_PAGE_SIZE, PROT_READ | PROT_WRITE);
	memcpy(self->page, arg, len);
	mprotect(self->page, HT_PAGE_SIZE, PROT_READ);
	ret = ioctl(fd, cmd, self->page) ? -errno : 0;
	mprotect(self->page, HT_PAGE_SIZE, PROT_READ | PROT_WRITE);
	return ret;
}

/* Pages the hat maps, from INFO. */
static __u64 mapped(int fd)
{
	struct htable_info info;

	return ht_info(fd, &info) ? ~0ULL : info.mapped_pages;
}

TEST_F(result, map_unmap)
{
	struct htable_map m = { .va = VA, .npages = 8, .flags = HTABLE_MAP_WRITE };
	struct htable_unmap u = { .va = VA, .npages = 8 };

	HT_NEED_DEV(self->fd < 0, self->err);
	EXPECT_EQ(-EFAULT, ioctl_ro(self, self->fd, HTABLE_IOC_MAP, &m, sizeof(m)));
	EXPECT_EQ(0, mapped(self->fd));
	ASSERT_EQ(0, ht_map(self->fd, VA, 8, HTABLE_MAP_WRITE));
	EXPECT_EQ(-EFAULT, ioctl_ro(self, self->fd, HTABLE_IOC_UNMAP, &u, sizeof(u)));
	EXPECT_EQ(8, mapped(self->fd));
}

TEST_F(result, sync_clear)
{
	struct htable_sync s = { .va = VA, .npages = 4, .flags = HTABLE_SYNC_CLEAR };
	struct htable_probe p;
	struct htable_run r;

	HT_NEED_DEV(self->fd < 0, self->err);
	ASSERT_EQ(0, ht_map(self->fd, VA, 4, HTABLE_MAP_WRITE));
	/* A window sets A on every page. */
	ASSERT_EQ(0, ht_run_verify(self->fd, 0, VA, 4, 0, 1, &r));
	ASSERT_EQ(4, r.verified);
	EXPECT_EQ(-EFAULT, ioctl_ro(self, self->fd, HTABLE_IOC_SYNC, &s, sizeof(s)));
	/* Not cleared. */
	ASSERT_EQ(0, ht_probe(self->fd, VA, &p));
	EXPECT_TRUE(p.flags & HTABLE_PROBE_ACCESSED);
}

TEST_F(result, reload)
{
	struct htable_reload r = { .va = VA, .npages = 512 };
	long long cap0 = htable_knob_read(HTABLE_PTABLE_CAP_PATH);
	struct htable_probe p;
	int other;

	HT_NEED_DEV(self->fd < 0, self->err);
	ASSERT_EQ(0, ht_map(self->fd, VA, 512, HTABLE_MAP_WRITE));
	/* A second hat, capped, steals the first one's leaf table. */
	other = htable_open_dev();
	ASSERT_LE(0, other);
	ASSERT_EQ(0, htable_knob_write(HTABLE_PTABLE_CAP_PATH,
				       htable_stat("active_ptables")));
	ASSERT_EQ(0, htable_knob_write(HTABLE_STEAL_PASSES_PATH, 1));
	EXPECT_EQ(0, ht_map(other, VA, 1, HTABLE_MAP_WRITE));
	htable_knob_write(HTABLE_PTABLE_CAP_PATH, cap0 < 0 ? 0 : cap0);
	htable_knob_write(HTABLE_STEAL_PASSES_PATH, HTABLE_STEAL_PASSES_DEFAULT);
	ASSERT_EQ(0, ht_probe(self->fd, VA, &p));
	ASSERT_EQ(HTABLE_PROBE_OWNED, p.flags & (HTABLE_PROBE_OWNED | HTABLE_PROBE_PRESENT))
		TH_LOG("the steal did not take the table");
	EXPECT_EQ(-EFAULT, ioctl_ro(self, self->fd, HTABLE_IOC_RELOAD, &r, sizeof(r)));
	ASSERT_EQ(0, ht_probe(self->fd, VA, &p));
	EXPECT_FALSE(p.flags & HTABLE_PROBE_PRESENT) TH_LOG("reloaded despite EFAULT");
	close(other);
}

TEST_F(result, share_unshare)
{
	struct htable_share s = { .va = SVA, .npages = 512 };
	struct htable_probe p;
	int sharer;

	HT_NEED_DEV(self->fd < 0, self->err);
	ASSERT_EQ(0, ht_map(self->fd, SVA, 1, HTABLE_MAP_WRITE));
	sharer = htable_open_dev();
	ASSERT_LE(0, sharer);
	s.owner_fd = self->fd;
	EXPECT_EQ(-EFAULT, ioctl_ro(self, sharer, HTABLE_IOC_SHARE, &s, sizeof(s)));
	ASSERT_EQ(0, ht_probe(sharer, SVA, &p));
	EXPECT_EQ(0, p.flags) TH_LOG("shared despite EFAULT");
	ASSERT_EQ(0, ioctl(sharer, HTABLE_IOC_SHARE, &s));
	s.owner_fd = 0;
	EXPECT_EQ(-EFAULT, ioctl_ro(self, sharer, HTABLE_IOC_UNSHARE, &s, sizeof(s)));
	ASSERT_EQ(0, ht_probe(sharer, SVA, &p));
	EXPECT_TRUE(p.flags & HTABLE_PROBE_PRESENT) TH_LOG("unshared despite EFAULT");
	close(sharer);
}

TEST_F(result, run)
{
	struct htable_run r = {
		.cpu = 0, .mode = HTABLE_RUN_VERIFY, .va = VA, .npages = 4, .seed = 1,
	};
	long long windows0;

	HT_NEED_DEV(self->fd < 0, self->err);
	ASSERT_EQ(0, ht_map(self->fd, VA, 4, HTABLE_MAP_WRITE));
	windows0 = htable_stat("hs_windows");
	EXPECT_EQ(-EFAULT, ioctl_ro(self, self->fd, HTABLE_IOC_RUN, &r, sizeof(r)));
	EXPECT_EQ(windows0, htable_stat("hs_windows"));
}

TEST_HARNESS_MAIN
