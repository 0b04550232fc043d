// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime and races around a hat's file:
 *
 *   - rmmod while hats are open fails (the module is pinned by the
 *     device's open files) and leaves the hats working; the module's
 *     refcount follows the open files exactly.
 *   - close() while a CR3 window is running on the same hat: the hat
 *     lives until the window's ioctl returns, then goes.
 *   - close() while other threads are in ioctls on the same fd.
 *   - close() of a hat while another hat is stealing tables from it.
 *   - a forked child keeps a hat alive after its parent closed it.
 *
 * Each ends with every hat gone and active_ptables where it started;
 * the debug-kernel row adds lockdep, KASAN and kmemleak. "htable_lifetime_test
 * hats N" opens, uses and closes N hats and exits: load_unload.sh runs it
 * between each load and unload.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"

#define REFCNT_PATH	"/sys/module/htable/refcnt"
#define STORM_ROUNDS	20
#define STEAL_ROUNDS	8
#define VICTIM_TABLES	48

static long long refcnt(void)
{
	return htable_knob_read(REFCNT_PATH);
}

TEST(rmmod_with_hats_open)
{
	long long base = refcnt();
	int fd1 = htable_open_dev(), fd2;
	struct htable_probe p;

	if (htable_dev_missing(_metadata, fd1 < 0, errno))
		return;
	fd2 = htable_open_dev();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(base + 2, refcnt());
	ASSERT_EQ(0, ht_map(fd1, HT_SZ_2M, 8, HTABLE_MAP_WRITE));
	/* What rmmod does: delete_module(), without waiting. */
	EXPECT_EQ(-1, syscall(SYS_delete_module, "htable", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(-1, syscall(SYS_delete_module, "htable", 0));
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* Still loaded, and both hats still work. */
	EXPECT_EQ(0, access(HTABLE_DEV_PATH, F_OK));
	EXPECT_EQ(0, ht_probe(fd1, HT_SZ_2M, &p));
	EXPECT_NE(0, p.flags & HTABLE_PROBE_PRESENT);
	EXPECT_EQ(0, ht_map(fd2, HT_SZ_2M, 1, 0));
	close(fd2);
	EXPECT_EQ(base + 1, refcnt());
	close(fd1);
	EXPECT_EQ(base, refcnt());
}

/*
 * The hang guard of all the waits for events in one test: the harness
 * kills a TEST() after 30 s, and a wait that gives up first can say what
 * it waited for.
 */
#define GUARD_S		25.0
#define TRIES		3
#define PTE_ACCESSED	_BITULL(5)
#define WINDOW_SAMPLES	4096

/* CLOCK_MONOTONIC in ns: the clock of a window's samples. */
static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Pin the calling thread to @cpu: 0 or -errno. */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

struct window_arg {
	int fd;
	int ret;
	int done;		/* set atomically when the RUN returned */
	struct htable_run r;
	struct htable_sample *samples;
};

static void *window_thread(void *p)
{
	struct window_arg *w = p;

	w->ret = ht_ioctl(w->fd, HTABLE_IOC_RUN, &w->r);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Wait until the window of @w is seen running: the PTE of its page shows
 * its read (only a window walks the hat's tables, and MAP leaves the
 * accessed bit clear), and INFO shows its CPU live after that. 0, or -1
 * when the RUN returned first or the time is past @end.
 */
static int wait_window(struct window_arg *w, double end)
{
	struct htable_probe p;
	struct htable_info info;
	int read = 0;

	while (ht_now() < end && !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
		if (!read)
			read = !ht_probe(w->fd, w->r.va, &p) &&
			       (p.flags & HTABLE_PROBE_PRESENT) && (p.pte & PTE_ACCESSED);
		if (read && !ht_info(w->fd, &info) && (info.live_cpus & _BITULL(w->r.cpu)))
			return 0;
		usleep(500);
	}
	return -1;
}

/*
 * close() while a window on the hat runs: the window holds the file, so
 * the hat stays until the RUN returns. The close() comes once the window
 * is seen running, and the hat count read after it is judged only if the
 * window logged a sample after that read, that is was still running then
 * (a host that stalled the guest for the whole window makes a run that
 * says nothing, which starts over).
 */
TEST(close_while_a_window_runs)
{
	long long hats0, destroyed0, hats1 = -1, destroyed1 = -1;
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN), fd, try, seen, after = 0;
	double end = ht_now() + GUARD_S;
	struct window_arg w;
	__u64 t_read;
	pthread_t tid;
	__u32 i;

	fd = htable_open_dev();
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	close(fd);
	/* The window runs on CPU 1 while this thread watches from CPU 0. */
	ASSERT_LE(2, ncpus);
	ASSERT_EQ(0, pin_to(0));
	for (try = 1; try <= TRIES && !after; try++) {
		memset(&w, 0, sizeof(w));
		w.samples = calloc(WINDOW_SAMPLES, sizeof(*w.samples));
		ASSERT_NE(NULL, w.samples);
		w.r = (struct htable_run){ .cpu = 1, .mode = HTABLE_RUN_RESIDENT,
					   .va = HT_SZ_2M, .npages = 1, .duration_ms = 1000,
					   .samples = (uintptr_t)w.samples,
					   .max_samples = WINDOW_SAMPLES };
		hats0 = htable_stat("hats");
		destroyed0 = htable_stat("hs_hats_destroyed");
		w.fd = htable_open_dev();
		ASSERT_LE(0, w.fd);
		ASSERT_EQ(0, ht_map(w.fd, HT_SZ_2M, 1, HTABLE_MAP_WRITE));
		ASSERT_EQ(0, pthread_create(&tid, NULL, window_thread, &w));
		seen = wait_window(&w, end);
		EXPECT_EQ(0, close(w.fd));
		/* The window holds the file: the hat is still there. */
		hats1 = htable_stat("hats");
		destroyed1 = htable_stat("hs_hats_destroyed");
		t_read = now_ns();
		pthread_join(tid, NULL);
		ASSERT_EQ(0, w.ret);
		EXPECT_LT(0, w.r.valid_reads);
		/* ... and goes with the ioctl's last reference. */
		EXPECT_EQ(hats0, htable_stat("hats"));
		EXPECT_EQ(destroyed0 + 1, htable_stat("hs_hats_destroyed"));
		for (i = 0; i < w.r.nsamples && i < WINDOW_SAMPLES; i++)
			after += w.samples[i].t_ns > t_read;
		free(w.samples);
		TH_LOG("try %d: window %sseen running, %d samples after the close",
		       try, seen ? "not " : "", after);
		if (!after)
			continue;
		EXPECT_EQ(0, seen);
		EXPECT_EQ(hats0 + 1, hats1);
		EXPECT_EQ(destroyed0, destroyed1);
	}
	ASSERT_LT(0, after) TH_LOG("in %d tries every window ended before the close", TRIES);
}

struct storm {
	int fd;
	int thr;
	int *stop;
	unsigned long calls, bad;	/* calls: read atomically by the test */
	int ebadf;			/* set when an ioctl met the closed fd */
};

/* MAP/PROBE/INFO/UNMAP/CHECK on one fd until it is closed under us. */
static void *storm_thread(void *p)
{
	struct storm *s = p;
	__u64 va = HT_SZ_1G * (1 + s->thr);
	struct htable_probe pr;
	struct htable_info info;
	struct htable_check c;
	unsigned long calls = 0;
	int ret = 0;

	while (!__atomic_load_n(s->stop, __ATOMIC_ACQUIRE)) {
		switch (calls++ % 5) {
		case 0:
			ret = ht_map(s->fd, va, 16, HTABLE_MAP_WRITE);
			break;
		case 1:
			ret = ht_probe(s->fd, va, &pr);
			break;
		case 2:
			ret = ht_info(s->fd, &info);
			break;
		case 3:
			ret = ht_unmap(s->fd, va, 16);
			break;
		default:
			ret = ht_check(s->fd, &c);
			if (!ret && c.errors)
				ret = HT_BADOUT;
		}
		__atomic_store_n(&s->calls, calls, __ATOMIC_RELEASE);
		if (ret == -EBADF) {
			__atomic_store_n(&s->ebadf, 1, __ATOMIC_RELEASE);
			break;
		}
		/* A map may meet its own earlier map, an unmap a hole. */
		if (ret && ret != -EEXIST && ret != -ENOENT)
			s->bad++;
	}
	return NULL;
}

/* Calls each storm thread makes before the close: two of each kind. */
#define STORM_MIN_CALLS	10

/*
 * close() while three threads are in ioctls on the fd. The close() comes
 * once every thread has made STORM_MIN_CALLS calls (then a delay that
 * varies by round, to meet the calls at different points), and each
 * thread must then stop on EBADF by itself: the stop flag is only the
 * hang guard.
 */
TEST(close_while_ioctls_run)
{
	long long hats0 = htable_stat("hats"), active0 = htable_stat("active_ptables");
	unsigned long calls = 0, bad = 0;
	double end = ht_now() + GUARD_S;
	int ebadf = 0;

	if (htable_dev_missing(_metadata, access(HTABLE_DEV_PATH, F_OK), errno))
		return;
	for (int round = 0; round < STORM_ROUNDS; round++) {
		struct storm s[3];
		pthread_t tid[3];
		int stop = 0, ready = 0, i;
		int fd = htable_open_dev();

		ASSERT_LE(0, fd);
		for (i = 0; i < 3; i++) {
			s[i] = (struct storm){ .fd = fd, .thr = i, .stop = &stop };
			ASSERT_EQ(0, pthread_create(&tid[i], NULL, storm_thread, &s[i]));
		}
		while (ready < 3 && ht_now() < end) {
			usleep(1000);
			for (i = 0, ready = 0; i < 3; i++)
				ready += __atomic_load_n(&s[i].calls, __ATOMIC_ACQUIRE) >=
					 STORM_MIN_CALLS;
		}
		usleep(round * 2000);
		/*
		 * No other open may happen until the threads stop: a new file
		 * could reuse the fd number under them.
		 */
		EXPECT_EQ(0, close(fd));
		for (i = 0; i < 3 && ht_now() < end; ) {
			if (__atomic_load_n(&s[i].ebadf, __ATOMIC_ACQUIRE))
				i++;
			else
				usleep(1000);
		}
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		for (i = 0; i < 3; i++) {
			pthread_join(tid[i], NULL);
			calls += s[i].calls;
			bad += s[i].bad;
			ebadf += s[i].ebadf;
		}
		EXPECT_EQ(3, ready) TH_LOG("round %d: the threads never made %d calls each",
					   round, STORM_MIN_CALLS);
	}
	TH_LOG("%d rounds, %lu ioctls racing close", STORM_ROUNDS, calls);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(3 * STORM_ROUNDS, ebadf) TH_LOG("threads that never met the closed fd");
	EXPECT_EQ(hats0, htable_stat("hats"));
	EXPECT_EQ(active0, htable_stat("active_ptables"));
}

/* The stealer's MAPs while each victim lives (each may steal: slow on KASAN). */
#define ROUND_TRIES	16

struct stealer {
	int fd;
	int *stop;
	unsigned long tries;	/* MAPs tried: read atomically by the test */
	unsigned long maps, enomem, bad;
};

/* Map one page per 2 MiB: each needs a table, which the cap makes a steal. */
static void *steal_thread(void *p)
{
	struct stealer *s = p;
	__u64 k = 0;
	int ret;

	while (!__atomic_load_n(s->stop, __ATOMIC_ACQUIRE)) {
		__u64 va = HT_SZ_1G + (k % 64) * HT_SZ_2M;

		ret = ht_map(s->fd, va, 1, 0);
		__atomic_add_fetch(&s->tries, 1, __ATOMIC_RELEASE);
		if (!ret)
			s->maps++;
		else if (ret == -ENOMEM)
			s->enomem++;
		else if (ret != -EEXIST)
			s->bad++;
		/* Now and then start over, so the maps keep needing tables. */
		if (++k % 64 == 0)
			for (__u64 i = 0; i < 64; i++) {
				ret = ht_unmap(s->fd, HT_SZ_1G + i * HT_SZ_2M, 1);
				if (ret && ret != -ENOENT)
					s->bad++;
			}
	}
	return NULL;
}

TEST(close_while_stealing)
{
	long long hats0 = htable_stat("hats"), active0 = htable_stat("active_ptables");
	long long steals0 = htable_stat("hs_steals");
	struct stealer s = { 0 };
	struct htable_check c;
	unsigned long tries;
	int stop = 0, busy = 0;
	double end = ht_now() + GUARD_S;
	pthread_t tid;

	if (htable_dev_missing(_metadata, access(HTABLE_DEV_PATH, F_OK), errno))
		return;
	ASSERT_EQ(0, htable_knobs_reset());
	s.fd = htable_open_dev();
	ASSERT_LE(0, s.fd);
	s.stop = &stop;
	for (int round = 0; round < STEAL_ROUNDS; round++) {
		int victim = htable_open_dev();

		ASSERT_LE(0, victim);
		/* One page per 2 MiB: VICTIM_TABLES level-0 tables to steal. */
		for (int i = 0; i < VICTIM_TABLES; i++) {
			int ret = ht_map(victim, HT_SZ_2M * i, 1, HTABLE_MAP_WRITE);

			/* Once capped, the victim's maps steal too, or fail. */
			ASSERT_TRUE(ret == 0 || ret == -ENOMEM) TH_LOG("map: %d", ret);
		}
		if (round == 0) {
			/* Cap at what is in use now: the stealer must steal. */
			ASSERT_EQ(0, htable_knob_write(HTABLE_PTABLE_CAP_PATH,
						       htable_stat("active_ptables")));
			ASSERT_EQ(0, pthread_create(&tid, NULL, steal_thread, &s));
		}
		/*
		 * The stealer works while the victim lives: ROUND_TRIES of its
		 * maps, and in the first round (where its first MAP needs
		 * tables the cap lets it have only by stealing) a steal.
		 */
		tries = __atomic_load_n(&s.tries, __ATOMIC_ACQUIRE);
		for (; ht_now() < end; usleep(1000)) {
			busy = __atomic_load_n(&s.tries, __ATOMIC_ACQUIRE) - tries >= ROUND_TRIES;
			if (busy && (round || htable_stat("hs_steals") > steals0))
				break;
		}
		EXPECT_TRUE(busy && (round || htable_stat("hs_steals") > steals0))
			TH_LOG("round %d: the stealer made %lu maps and %lld steals (%.0f s guard)",
			       round, __atomic_load_n(&s.tries, __ATOMIC_ACQUIRE) - tries,
			       htable_stat("hs_steals") - steals0, GUARD_S);
		EXPECT_EQ(0, close(victim));
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(tid, NULL);
	ASSERT_EQ(0, htable_knobs_reset());
	TH_LOG("%lu maps, %lu ENOMEM, %lld steals in %.1f s", s.maps, s.enomem,
	       htable_stat("hs_steals") - steals0, ht_now() - (end - GUARD_S));
	EXPECT_EQ(0, s.bad);
	EXPECT_LT(steals0, htable_stat("hs_steals"));
	EXPECT_EQ(0, ht_check(s.fd, &c));
	EXPECT_EQ(0, c.errors);
	close(s.fd);
	EXPECT_EQ(hats0, htable_stat("hats"));
	EXPECT_EQ(active0, htable_stat("active_ptables"));
}

/*
 * A forked child keeps the hat after the parent closed its fd: the child
 * uses the hat only once the parent's close() is done (a byte on a pipe
 * says so).
 */
TEST(child_keeps_the_hat)
{
	long long hats0 = htable_stat("hats");
	int fd = htable_open_dev(), st, go[2];
	struct htable_probe p;
	char c = 0;
	pid_t pid;

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	ASSERT_EQ(0, ht_map(fd, HT_SZ_2M, 4, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		/* The parent closed its fd: the hat is the child's now. */
		_exit(ht_probe(fd, HT_SZ_2M, &p) || !(p.flags & HTABLE_PROBE_PRESENT) ||
		      ht_unmap(fd, HT_SZ_2M, 4));
	}
	ASSERT_LT(0, pid);
	close(go[0]);
	close(fd);
	EXPECT_EQ(hats0 + 1, htable_stat("hats"));
	EXPECT_EQ(1, write(go[1], &c, 1));
	close(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("child status %#x", st);
	EXPECT_EQ(hats0, htable_stat("hats"));
}

/* "hats N": open N hats, map, probe, check and close each; exit 0 or 1. */
static int hats_cycle(int n)
{
	struct ht_hat h;
	int bad = 0;

	for (int i = 0; i < n; i++) {
		if (ht_hat_open(&h))
			return 1;
		bad |= ht_map(h.fd, HT_SZ_2M * (i + 1) - 4 * HT_PAGE_SIZE, 8,
			      HTABLE_MAP_WRITE) != 0;
		if (!bad && ht_model_insert(&h.m, HT_SZ_2M * (i + 1) - 4 * HT_PAGE_SIZE,
					    8, HTABLE_MAP_WRITE, 0, 0))
			bad = 1;
		bad |= ht_verify_model(h.fd, &h.m, h.levels, 1) != 0;
		ht_hat_close(&h);
	}
	return bad;
}

static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "hats"))
		return hats_cycle(atoi(argv[2]));
	return test_harness_run(argc, argv);
}
