// SPDX-License-Identifier: GPL-2.0
/*
 * A window's life as the rest of the system sees it: it runs in a thread
 * of its own on its CPU, so per-CPU work queued behind it is not held up;
 * its CPU can go offline while it starts, and then it fails cleanly or
 * completes, never running elsewhere; the caller can be killed while it
 * waits; its budget has a ceiling; a resident window counts the reads
 * that faulted; and two windows of one hat on one CPU both count there.
 * Every case waits for events (INFO's live_cpus, the window's return),
 * never for a time.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_window.h"

#define VA0		0x40000000ULL
#define BUDGET_PATH	"/sys/module/htable/parameters/window_budget_ms"
#define CPU_ONLINE_FMT	"/sys/devices/system/cpu/cpu%d/online"
/* A long verify window: this many pages, aliases of a few (fewer on KASAN). */
#define LONG_NPAGES	(ht_kernel_has_kasan() ? 1ULL << 17 : 1ULL << 19)
#define HANG_GUARD_S	300
#define WIN_TIMEOUT	600

FIXTURE(win) {
	int fd, err, ncpus, offlined;
};

FIXTURE_SETUP(win)
{
	self->ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	self->offlined = -1;
	self->fd = htable_open_dev();
	self->err = errno;
}

FIXTURE_TEARDOWN(win)
{
	char path[64];

	if (self->offlined >= 0) {
		snprintf(path, sizeof(path), CPU_ONLINE_FMT, self->offlined);
		htable_knob_write(path, 1);
	}
	if (self->fd >= 0)
		close(self->fd);
}

/* A verify window run by a thread, so the test can watch it. */
struct long_run {
	pthread_t tid;
	int fd;
	__u32 cpu;
	__u64 npages;
	struct htable_run r;
	int err;
	int done;
};

static void *long_run_fn(void *arg)
{
	struct long_run *l = arg;

	l->err = ht_run_verify(l->fd, l->cpu, VA0, l->npages, 0, 3, &l->r);
	__atomic_store_n(&l->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Map @n pages at VA0 as aliases of 16, cheaply: a long window for nothing. */
static int map_long(int fd, __u64 n)
{
	int err = ht_map(fd, VA0 + n * HT_PAGE_SIZE, 16, HTABLE_MAP_WRITE);

	return err ? err : ht_map_alias(fd, VA0, n, HTABLE_MAP_WRITE | HTABLE_MAP_ALIAS,
					VA0 + n * HT_PAGE_SIZE, 16);
}

/* Wait until the hat is live on @cpu, or @l ended; 0 when live. */
static int wait_live_on(int fd, __u32 cpu, struct long_run *l)
{
	double end = ht_now() + HANG_GUARD_S;

	while (ht_now() < end) {
		if (live_cpus(fd) & (1ULL << cpu))
			return 0;
		if (__atomic_load_n(&l->done, __ATOMIC_SEQ_CST))
			return -1;
		usleep(1000);
	}
	return -1;
}

/*
 * From a thread pinned to CPU 0, start @l: a verify window of @fd's hat
 * over LONG_NPAGES aliases on the last CPU, and wait until it is live.
 */
static void long_run_start(struct __test_metadata *_metadata, struct long_run *l,
			   int fd, int ncpus)
{
	ASSERT_LE(2, ncpus);
	*l = (struct long_run){ .fd = fd, .cpu = ncpus - 1, .npages = LONG_NPAGES };
	ASSERT_EQ(0, map_long(fd, l->npages));
	ASSERT_EQ(0, pin_to(0));
	ASSERT_EQ(0, pthread_create(&l->tid, NULL, long_run_fn, l));
	ASSERT_EQ(0, wait_live_on(fd, l->cpu, l)) TH_LOG("the window never went live");
}

/*
 * A resident window on a va with no translation: every read faults, and
 * the window says so: resident mode counts faults as verify mode does.
 */
TEST_F_TIMEOUT(win, resident_counts_faults, WIN_TIMEOUT)
{
	struct htable_sample s[64];
	struct htable_run r;
	__u32 i;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	memset(&r, 0, sizeof(r));
	r.cpu = 0;
	r.mode = HTABLE_RUN_RESIDENT;
	r.va = VA0;
	r.npages = 1;
	r.duration_ms = 20;
	r.samples = (__u64)(unsigned long)s;
	r.max_samples = 64;
	ASSERT_EQ(0, ht_ioctl(self->fd, HTABLE_IOC_RUN, &r));
	ASSERT_LE(1, r.reads);
	EXPECT_EQ(r.reads, r.faults);
	EXPECT_EQ(VA0, r.first_fault_va);
	ASSERT_LE(1, r.nsamples);
	for (i = 0; i < r.nsamples; i++)
		EXPECT_TRUE(s[i].flags & HTABLE_SAMPLE_FAULT);
}

/*
 * Per-CPU work queued behind a verify window runs while the window does:
 * the window has a thread of its own, not a shared worker. Reading
 * /proc/sys/vm/stat_refresh queues work on every CPU and waits for it.
 */
TEST_F_TIMEOUT(win, window_does_not_hold_per_cpu_work, WIN_TIMEOUT)
{
	struct long_run l;
	char buf[16];
	int fd;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	long_run_start(_metadata, &l, self->fd, self->ncpus);
	fd = open("/proc/sys/vm/stat_refresh", O_RDONLY);
	ASSERT_LE(0, fd);
	/* Returns once every CPU ran the work: the window's CPU too. */
	EXPECT_LE(0, read(fd, buf, sizeof(buf)));
	close(fd);
	/* ...while the window was still there. */
	EXPECT_TRUE(live_cpus(self->fd) & (1ULL << l.cpu)) TH_LOG("the work waited for the window");
	EXPECT_EQ(0, __atomic_load_n(&l.done, __ATOMIC_SEQ_CST));
	pthread_join(l.tid, NULL);
	EXPECT_EQ(0, l.err);
	EXPECT_EQ(l.npages, l.r.verified);
}

/*
 * Two windows of one hat on one CPU. A verify window lets other threads
 * run on its CPU between its chunks, and a resident window of the same
 * hat may start and end there meanwhile. When the resident one ends, the
 * CPU must stay in the hat's CPU set (INFO's live_cpus) for as long as the
 * verify window runs: a shootdown sends IPIs only to the CPUs in it.
 */
TEST_F_TIMEOUT(win, two_windows_on_one_cpu, WIN_TIMEOUT)
{
	struct long_run l;
	struct window w;
	__u64 live;
	int done;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	long_run_start(_metadata, &l, self->fd, self->ncpus);
	ASSERT_EQ(0, window_start(&w, self->fd, l.cpu, VA0, 20, 64));
	pthread_join(w.tid, NULL);
	live = live_cpus(self->fd);
	done = __atomic_load_n(&l.done, __ATOMIC_SEQ_CST);
	pthread_join(l.tid, NULL);
	free(w.s);
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(0, l.err);
	EXPECT_EQ(l.npages, l.r.verified);
	ASSERT_EQ(0, done) TH_LOG("the verify window ended before the resident one did");
	EXPECT_TRUE(live & (1ULL << l.cpu))
		TH_LOG("CPU %u left the hat's CPU set while its verify window ran", l.cpu);
	EXPECT_EQ(0, live_cpus(self->fd));
}

/*
 * The window's CPU goes offline as the window starts, and while it runs.
 * A window still running once its CPU is down would be running somewhere
 * else: it must end with ENXIO, never complete. One that raced its start
 * completes on its CPU or fails with ENXIO. The hat is live nowhere after.
 */
TEST_F_TIMEOUT(win, cpu_offline_while_starting, WIN_TIMEOUT)
{
	struct long_run l = { .fd = self->fd };
	int cpu = self->ncpus - 1, round, outlived = 0;
	char path[64];

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_LE(2, self->ncpus);
	snprintf(path, sizeof(path), CPU_ONLINE_FMT, cpu);
	if (access(path, W_OK))
		SKIP(return, "needs:hotplug CPU %d cannot be taken offline", cpu);
	ASSERT_EQ(0, map_long(self->fd, LONG_NPAGES));
	ASSERT_EQ(0, pin_to(0));
	l.cpu = cpu;
	for (round = 0; round < 6; round++) {
		int done_before;

		/* Even rounds: offline while live; odd: as the thread starts. */
		l.npages = round & 1 ? 64 : LONG_NPAGES;
		l.done = 0;
		ASSERT_EQ(0, pthread_create(&l.tid, NULL, long_run_fn, &l));
		if (!(round & 1))
			ASSERT_EQ(0, wait_live_on(self->fd, cpu, &l));
		done_before = __atomic_load_n(&l.done, __ATOMIC_SEQ_CST);
		self->offlined = cpu;
		ASSERT_EQ(0, htable_knob_write(path, 0));
		pthread_join(l.tid, NULL);
		if (!(round & 1) && !done_before) {
			/*
			 * Live and far from done when its CPU went: completing
			 * would mean it went on elsewhere.
			 */
			outlived++;
			EXPECT_EQ(-ENXIO, l.err) TH_LOG("round %d: verified %llu of %llu",
							round, l.r.verified, l.npages);
		} else {
			EXPECT_TRUE(l.err == 0 || l.err == -ENXIO)
				TH_LOG("round %d: %s", round, strerror(-l.err));
			if (!l.err)
				EXPECT_EQ(l.npages, l.r.verified);
		}
		EXPECT_EQ(0, live_cpus(self->fd));
		ASSERT_EQ(0, htable_knob_write(path, 1));
		self->offlined = -1;
	}
	/* At least one window was live when its CPU went: the case was met. */
	EXPECT_LE(1, outlived);
	/* Offline before the ioctl: ENXIO at once. */
	ASSERT_EQ(0, htable_knob_write(path, 0));
	self->offlined = cpu;
	EXPECT_EQ(-ENXIO, ht_run_verify(self->fd, cpu, VA0, 1, 0, 1, &l.r));
	ASSERT_EQ(0, htable_knob_write(path, 1));
	self->offlined = -1;
}

/*
 * A caller killed while its window runs: the wait ends, and the window is
 * stopped before the ioctl returns (the watchdog's counter says it was
 * cut short), instead of the task waiting out the whole window.
 */
TEST_F_TIMEOUT(win, caller_killed_while_waiting, WIN_TIMEOUT)
{
	long long cut0 = htable_stat("hs_watchdog_ends");
	__u32 cpu = self->ncpus - 1;
	double t0 = ht_now();
	int status;
	pid_t pid;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_LE(2, self->ncpus);
	ASSERT_EQ(0, map_long(self->fd, LONG_NPAGES));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct htable_run r;

		/* The hat is shared with the parent, which watches it. */
		ht_run_verify(self->fd, cpu, VA0, LONG_NPAGES, 0, 5, &r);
		_exit(3);
	}
	while (!(live_cpus(self->fd) & (1ULL << cpu)) && ht_now() < HANG_GUARD_S + t0)
		usleep(1000);
	ASSERT_TRUE(live_cpus(self->fd) & (1ULL << cpu)) TH_LOG("the window never went live");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	/* Stopped, not run to its end; and live nowhere now. */
	EXPECT_EQ(cut0 + 1, htable_stat("hs_watchdog_ends"));
	EXPECT_EQ(0, live_cpus(self->fd));
}

/* window_budget_ms has a floor and a ceiling. */
TEST(budget_is_bounded)
{
	long long was = htable_knob_read(BUDGET_PATH);

	if (was < 0)
		SKIP(return, "needs:module %s is absent", BUDGET_PATH);
	EXPECT_EQ(-ERANGE, htable_knob_write(BUDGET_PATH, 300001));
	EXPECT_EQ(-ERANGE, htable_knob_write(BUDGET_PATH, 0));
	EXPECT_EQ(was, htable_knob_read(BUDGET_PATH));
	EXPECT_EQ(0, htable_knob_write(BUDGET_PATH, 300000));
	EXPECT_EQ(0, htable_knob_write(BUDGET_PATH, was));
}

TEST_HARNESS_MAIN
