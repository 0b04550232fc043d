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

	HT_NEED_DEV(fd1 < 0, errno);
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

struct window_arg {
	int fd;
	int ret;
	struct htable_run r;
	struct htable_sample samples[64];
};

static void *window_thread(void *p)
{
	struct window_arg *w = p;

	w->ret = ioctl(w->fd, HTABLE_IOC_RUN, &w->r) ? -errno : 0;
	return NULL;
}

TEST(close_while_a_window_runs)
{
	struct window_arg w = {
		.r = { .cpu = 0, .mode = HTABLE_RUN_RESIDENT, .va = HT_SZ_2M,
		       .npages = 1, .duration_ms = 300, .max_samples = 64 },
	};
	long long hats0 = htable_stat("hats"), destroyed0;
	pthread_t tid;

	w.fd = htable_open_dev();
	HT_NEED_DEV(w.fd < 0, errno);
	w.r.samples = (uintptr_t)w.samples;
	ASSERT_EQ(0, ht_map(w.fd, HT_SZ_2M, 1, HTABLE_MAP_WRITE));
	destroyed0 = htable_stat("hs_hats_destroyed");
	ASSERT_EQ(0, pthread_create(&tid, NULL, window_thread, &w));
	usleep(100000);
	EXPECT_EQ(0, close(w.fd));
	/* The window holds the file: the hat is still there. */
	EXPECT_EQ(hats0 + 1, htable_stat("hats"));
	EXPECT_EQ(destroyed0, htable_stat("hs_hats_destroyed"));
	pthread_join(tid, NULL);
	EXPECT_EQ(0, w.ret);
	EXPECT_LT(0, w.r.valid_reads);
	/* ... and goes with the ioctl's last reference. */
	EXPECT_EQ(hats0, htable_stat("hats"));
	EXPECT_EQ(destroyed0 + 1, htable_stat("hs_hats_destroyed"));
}

struct storm {
	int fd;
	int thr;
	int *stop;
	unsigned long calls, bad;
};

/* MAP/PROBE/INFO/UNMAP/CHECK on one fd until it is closed under us. */
static void *storm_thread(void *p)
{
	struct storm *s = p;
	__u64 va = HT_SZ_1G * (1 + s->thr);
	struct htable_probe pr;
	struct htable_info info;
	struct htable_check c;
	int ret = 0;

	while (!__atomic_load_n(s->stop, __ATOMIC_ACQUIRE)) {
		switch (s->calls++ % 5) {
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
		if (ret == -EBADF)
			break;
		/* A map may meet its own earlier map, an unmap a hole. */
		if (ret && ret != -EEXIST && ret != -ENOENT)
			s->bad++;
	}
	return NULL;
}

TEST(close_while_ioctls_run)
{
	long long hats0 = htable_stat("hats"), active0 = htable_stat("active_ptables");
	unsigned long calls = 0, bad = 0;

	HT_NEED_DEV(access(HTABLE_DEV_PATH, F_OK), errno);
	for (int round = 0; round < STORM_ROUNDS; round++) {
		struct storm s[3];
		pthread_t tid[3];
		int stop = 0;
		int fd = htable_open_dev();

		ASSERT_LE(0, fd);
		for (int i = 0; i < 3; i++) {
			s[i] = (struct storm){ .fd = fd, .thr = i, .stop = &stop };
			ASSERT_EQ(0, pthread_create(&tid[i], NULL, storm_thread, &s[i]));
		}
		usleep(20000 + round * 2000);
		/*
		 * No other open may happen until the threads stop: a new file
		 * could reuse the fd number under them.
		 */
		EXPECT_EQ(0, close(fd));
		usleep(5000);
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < 3; i++) {
			pthread_join(tid[i], NULL);
			calls += s[i].calls;
			bad += s[i].bad;
		}
	}
	TH_LOG("%d rounds, %lu ioctls racing close", STORM_ROUNDS, calls);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(hats0, htable_stat("hats"));
	EXPECT_EQ(active0, htable_stat("active_ptables"));
}

struct stealer {
	int fd;
	int *stop;
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
	int stop = 0;
	pthread_t tid;

	HT_NEED_DEV(access(HTABLE_DEV_PATH, F_OK), errno);
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
		usleep(30000);
		EXPECT_EQ(0, close(victim));
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(tid, NULL);
	ASSERT_EQ(0, htable_knobs_reset());
	TH_LOG("%lu maps, %lu ENOMEM, %lld steals", s.maps, s.enomem,
	       htable_stat("hs_steals") - steals0);
	EXPECT_EQ(0, s.bad);
	EXPECT_LT(steals0, htable_stat("hs_steals"));
	EXPECT_EQ(0, ht_check(s.fd, &c));
	EXPECT_EQ(0, c.errors);
	close(s.fd);
	EXPECT_EQ(hats0, htable_stat("hats"));
	EXPECT_EQ(active0, htable_stat("active_ptables"));
}

TEST(child_keeps_the_hat)
{
	long long hats0 = htable_stat("hats");
	int fd = htable_open_dev(), st;
	struct htable_probe p;
	pid_t pid;

	HT_NEED_DEV(fd < 0, errno);
	ASSERT_EQ(0, ht_map(fd, HT_SZ_2M, 4, HTABLE_MAP_WRITE));
	pid = fork();
	if (pid == 0) {
		usleep(100000);
		/* The parent closed its fd: the hat is the child's now. */
		_exit(ht_probe(fd, HT_SZ_2M, &p) || !(p.flags & HTABLE_PROBE_PRESENT) ||
		      ht_unmap(fd, HT_SZ_2M, 4));
	}
	ASSERT_LT(0, pid);
	close(fd);
	EXPECT_EQ(hats0 + 1, htable_stat("hats"));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
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
