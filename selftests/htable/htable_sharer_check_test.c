// SPDX-License-Identifier: GPL-2.0
/*
 * CHECK of a sharer while its owner changes the shared table. The entries
 * and counts of a shared table are the owner's, and an owner's MAP raises
 * a table's count before it sets the entries: CHECK of the sharer must
 * read them under a claim on the owner's range, or it finds a half-done
 * MAP and reports an error that isn't one, and a window on the sharer is
 * refused (EUCLEAN) for it. One thread of the owner maps and unmaps pages
 * of the shared table, another checks the sharer and runs windows on it;
 * every CHECK is clean and every window runs. Both run to a count, not a
 * time.
 */
#include <pthread.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define SVA		(HT_SZ_1G * 4)
#define OWNER_OPS	(ht_kernel_has_kasan() ? 100UL : 400UL)
#define SHARER_OPS	(ht_kernel_has_kasan() ? 50UL : 200UL)
/* Pages an owner's MAP sets in the shared table: a wide half-done window. */
#define OWNER_PAGES	500

struct side {
	int fd;
	unsigned long ops, bad;
	int err;
	int *stop;
};

static void *owner_fn(void *arg)
{
	struct side *o = arg;
	__u64 k;

	for (o->ops = 0; o->ops < OWNER_OPS && !o->err; o->ops++) {
		k = 1 + o->ops % (512 - OWNER_PAGES);
		o->err = ht_map(o->fd, SVA + k * HT_PAGE_SIZE, OWNER_PAGES,
				HTABLE_MAP_WRITE);
		if (!o->err)
			o->err = ht_unmap(o->fd, SVA + k * HT_PAGE_SIZE, OWNER_PAGES);
	}
	__atomic_store_n(o->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

FIXTURE(sharer) {
	int unused;
};

FIXTURE_SETUP(sharer)
{
}

FIXTURE_TEARDOWN(sharer)
{
}

TEST_F_TIMEOUT(sharer, check_under_owner_changes, 600)
{
	struct htable_share sh = { .va = SVA, .npages = 512 };
	struct side o = { 0 }, s = { 0 };
	struct htable_check c;
	struct htable_run r;
	pthread_t t;
	int stop = 0;

	o.fd = htable_open_dev();
	if (htable_dev_missing(_metadata, o.fd < 0, errno))
		return;
	s.fd = htable_open_dev();
	ASSERT_LE(0, s.fd);
	o.stop = &stop;
	/* Page 0 of the table stays mapped: the windows read it. */
	ASSERT_EQ(0, ht_map(o.fd, SVA, 1, HTABLE_MAP_WRITE));
	sh.owner_fd = o.fd;
	ASSERT_EQ(0, ht_ioctl(s.fd, HTABLE_IOC_SHARE, &sh));
	ASSERT_EQ(0, pthread_create(&t, NULL, owner_fn, &o));
	while (s.ops < SHARER_OPS || !__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		ASSERT_EQ(0, ht_check(s.fd, &c));
		if (c.errors) {
			s.bad++;
			printf("# CHECK of the sharer: %llu errors, first %u at %#llx\n",
			       c.errors, c.first_error, c.first_va);
		}
		s.err = ht_run_verify(s.fd, 0, SVA, 1, 0, s.ops, &r);
		if (s.err) {
			s.bad++;
			printf("# window on the sharer: %s\n", strerror(-s.err));
		}
		s.ops++;
	}
	pthread_join(t, NULL);
	EXPECT_EQ(0, o.err);
	EXPECT_EQ(OWNER_OPS, o.ops);
	EXPECT_EQ(0, s.bad) TH_LOG("%lu of %lu CHECKs or windows of the sharer failed",
				   s.bad, s.ops);
	close(s.fd);
	close(o.fd);
}

TEST_HARNESS_MAIN
