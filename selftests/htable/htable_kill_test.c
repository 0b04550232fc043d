// SPDX-License-Identifier: GPL-2.0
/*
 * Waits a user can end. An RW that copies from a userfaultfd page stops
 * inside the kernel, holding its claim on one page of a hat (and so that
 * hat's lock for read) until the test resolves the fault. Behind it:
 *
 * - an UNMAP of that page waits; SIGKILL must end it at once, with the
 *   page still mapped and CHECK clean once the RW is let go;
 * - a SHARE from that hat waits for its lock; it must not hold the global
 *   share lock meanwhile (a SHARE between two other hats completes), and
 *   SIGKILL must end it with nothing shared.
 *
 * "At once" is an event, not a time: the killed process is reaped while
 * the RW is still stopped, which an uninterruptible wait can't allow; a
 * generous limit only keeps a broken module from hanging the run.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define VA		(HT_SZ_1G + 3 * HT_SZ_2M)
#define SVA		(HT_SZ_1G * 4)
#define HANG_GUARD_S	30.0
#define KILL_TIMEOUT	300

FIXTURE(kill) {
	int fd, err, uffd;
	void *page;
	pthread_t rw;
	int rw_err;
};

static void *rw_fn(void *arg)
{
	struct _test_data_kill *self = arg;
	struct htable_rw rw = {
		.va = VA, .buf = (uintptr_t)self->page, .len = 8,
		.flags = HTABLE_RW_WRITE,
	};

	self->rw_err = ht_ioctl(self->fd, HTABLE_IOC_RW, &rw);
	return NULL;
}

FIXTURE_SETUP(kill)
{
	self->uffd = -1;
	self->fd = htable_open_dev();
	self->err = errno;
	if (self->fd < 0)
		return;
	self->uffd = ht_uffd_page(&self->page);
	ASSERT_LE(0, self->uffd) TH_LOG("userfaultfd: %s", strerror(-self->uffd));
}

FIXTURE_TEARDOWN(kill)
{
	if (self->uffd >= 0)
		close(self->uffd);
	if (self->fd >= 0)
		close(self->fd);
}

/* Start the RW and wait until it is stopped on the missing page. */
static void stop_rw(struct __test_metadata *_metadata, struct _test_data_kill *self)
{
	struct pollfd pfd = { .fd = self->uffd, .events = POLLIN };
	struct uffd_msg msg;

	ASSERT_EQ(0, ht_map(self->fd, VA, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, pthread_create(&self->rw, NULL, rw_fn, self));
	ASSERT_EQ(1, poll(&pfd, 1, HANG_GUARD_S * 1000));
	ASSERT_EQ(sizeof(msg), read(self->uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
}

/* Let the RW go on: it copies and returns. */
static void release_rw(struct __test_metadata *_metadata, struct _test_data_kill *self)
{
	static __u64 src[HT_PAGE_SIZE / sizeof(__u64)] = { 0x4b494c4c };
	struct uffdio_copy copy = {
		.dst = (uintptr_t)self->page, .src = (uintptr_t)src,
		.len = HT_PAGE_SIZE,
	};

	ASSERT_EQ(0, ioctl(self->uffd, UFFDIO_COPY, &copy));
	pthread_join(self->rw, NULL);
	EXPECT_EQ(0, self->rw_err);
}

/* The state letter of @pid in /proc, or 0. */
static char proc_state(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Wait until @pid sleeps in the kernel (D: uninterruptible or killable). */
static int wait_blocked(pid_t pid)
{
	double end = ht_now() + HANG_GUARD_S;

	while (ht_now() < end) {
		if (proc_state(pid) == 'D')
			return 0;
		usleep(1000);
	}
	return -1;
}

/* Reap @pid if it ends before the guard: 1 when it did, *@status set. */
static int reap(pid_t pid, int *status)
{
	double end = ht_now() + HANG_GUARD_S;

	while (ht_now() < end) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 1;
		usleep(1000);
	}
	return 0;
}

TEST_F_TIMEOUT(kill, unmap_behind_stalled_rw_dies, KILL_TIMEOUT)
{
	struct htable_check c;
	struct htable_probe p;
	int status, reaped;
	pid_t pid;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	stop_rw(_metadata, self);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(ht_unmap(self->fd, VA, 1) ? 1 : 0);
	ASSERT_EQ(0, wait_blocked(pid)) TH_LOG("the UNMAP never waited");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	reaped = reap(pid, &status);
	EXPECT_TRUE(reaped) TH_LOG("SIGKILL did not end an UNMAP waiting for a claim");
	/* Reaped before the RW was let go: the wait was killable. */
	release_rw(_metadata, self);
	if (!reaped)
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	/* Nothing changed: the page is still mapped, and the hat is sound. */
	ASSERT_EQ(0, ht_probe(self->fd, VA, &p));
	EXPECT_TRUE(p.flags & HTABLE_PROBE_PRESENT);
	ASSERT_EQ(0, ht_check(self->fd, &c));
	EXPECT_EQ(0, c.errors);
	EXPECT_EQ(0, ht_unmap(self->fd, VA, 1));
}

/* SHARE the 2 MiB of @ofd at SVA into @sfd: 0 or -errno. */
static int share(int sfd, int ofd)
{
	struct htable_share s = { .owner_fd = ofd, .va = SVA, .npages = 512 };

	return ht_ioctl(sfd, HTABLE_IOC_SHARE, &s);
}

TEST_F_TIMEOUT(kill, share_waits_alone_and_dies, KILL_TIMEOUT)
{
	int sharer, other_owner, other_sharer, status, reaped;
	struct htable_info info;
	struct htable_check c;
	pid_t waiter, bystander;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	sharer = htable_open_dev();
	other_owner = htable_open_dev();
	other_sharer = htable_open_dev();
	ASSERT_LE(0, sharer);
	ASSERT_LE(0, other_owner);
	ASSERT_LE(0, other_sharer);
	ASSERT_EQ(0, ht_map(self->fd, SVA, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(other_owner, SVA, 1, HTABLE_MAP_WRITE));
	stop_rw(_metadata, self);

	/* A SHARE from the hat whose lock the stopped RW holds waits. */
	waiter = fork();
	ASSERT_LE(0, waiter);
	if (!waiter)
		_exit(share(sharer, self->fd) ? 1 : 0);
	ASSERT_EQ(0, wait_blocked(waiter)) TH_LOG("the SHARE never waited");

	/* Meanwhile a SHARE between two other hats is not held up. */
	bystander = fork();
	ASSERT_LE(0, bystander);
	if (!bystander)
		_exit(share(other_sharer, other_owner) ? 1 : 0);
	reaped = reap(bystander, &status);
	EXPECT_TRUE(reaped) TH_LOG("a SHARE of other hats waited behind one hat");
	if (reaped)
		EXPECT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(0, kill(waiter, SIGKILL));
	EXPECT_TRUE(reap(waiter, &status)) TH_LOG("SIGKILL did not end a waiting SHARE");
	release_rw(_metadata, self);
	if (!reaped)
		waitpid(bystander, &status, 0);
	waitpid(waiter, &status, 0);
	/* Nothing was shared into the sharer. */
	ASSERT_EQ(0, ht_info(sharer, &info));
	EXPECT_EQ(0, info.valid[0] + info.tables[0]);
	ASSERT_EQ(0, ht_check(sharer, &c));
	EXPECT_EQ(0, c.errors);
	ASSERT_EQ(0, ht_check(self->fd, &c));
	EXPECT_EQ(0, c.errors);
	close(other_sharer);
	close(other_owner);
	close(sharer);
}

TEST_HARNESS_MAIN
