// SPDX-License-Identifier: GPL-2.0
/*
 * Real memory pressure reclaims page tables. Four idle hats hold a few
 * thousand pages each; a child touches memory, a MiB at a time, until
 * every hat has lost a table, and then stops. No knob helps (no reap, no
 * drop_caches, no cap): the kernel itself must call htable's shrinker and
 * take leaf tables from every idle hat before the OOM killer would pick a
 * process, because page tables are a cache of translations. If it never
 * does, the hog is killed by the OOM killer, whose report fails the row,
 * and the test fails. RELOAD then brings every page back, with its data.
 * Runs on the lowmem row (256 MiB).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define HATS		4
#define PAGES		3400
#define VA		0x40000000ULL
#define HANG_GUARD_S	300

static int set_oom_score(pid_t pid, int score)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
	return htable_knob_write(path, score);
}

/* The tag page @i of hat @h holds in its first word. */
static __u64 tag(int h, __u64 i)
{
	return 0x5245434c00000000ULL | (__u64)h << 24 | i;
}

static int rw_word(int fd, __u64 va, __u64 *w, __u32 flags)
{
	return ht_rw(fd, va, w, sizeof(*w), flags);
}

/* Has every hat lost a table? */
static int all_gave(const int *fd)
{
	struct htable_info info;
	int h;

	for (h = 0; h < HATS; h++)
		if (ht_info(fd[h], &info) || !info.stolen)
			return 0;
	return 1;
}

/* Touch memory a MiB at a time until every hat has lost a table. */
static void hog(const int *fd)
{
	while (!all_gave(fd)) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			memset(p, 0x5a, 1 << 20);
	}
	_exit(0);
}

FIXTURE(reclaim) {
	int unused;
};

FIXTURE_SETUP(reclaim)
{
}

FIXTURE_TEARDOWN(reclaim)
{
}

TEST_F_TIMEOUT(reclaim, idle_hats_give_way_before_oom, 600)
{
	long long reap0 = htable_stat("hs_reap_attempts");
	struct htable_reload r;
	struct htable_info info;
	struct htable_check c;
	struct htable_probe p;
	int fd[HATS], h, status;
	__u64 i, w, lost;
	double end;
	pid_t pid;

	fd[0] = htable_open_dev();
	if (htable_dev_missing(_metadata, fd[0] < 0, errno))
		return;
	for (h = 1; h < HATS; h++) {
		fd[h] = htable_open_dev();
		ASSERT_LE(0, fd[h]);
	}
	for (h = 0; h < HATS; h++) {
		ASSERT_EQ(0, ht_map(fd[h], VA, PAGES, HTABLE_MAP_WRITE));
		for (i = 0; i < PAGES; i++) {
			w = tag(h, i);
			ASSERT_EQ(0, rw_word(fd[h], VA + i * HT_PAGE_SIZE, &w, HTABLE_RW_WRITE));
		}
	}
	/* The hats' holder must outlive the hog. */
	ASSERT_EQ(0, set_oom_score(getpid(), -1000));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		set_oom_score(getpid(), 1000);
		hog(fd);
	}
	end = ht_now() + HANG_GUARD_S;
	while (waitpid(pid, &status, WNOHANG) != pid && ht_now() < end)
		usleep(10000);
	if (ht_now() >= end) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ASSERT_TRUE(0) TH_LOG("the hog never finished");
	}
	/* Ended by itself: it was not the OOM killer's victim. */
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the hog was killed (status %#x)", status);
	EXPECT_LT(reap0, htable_stat("hs_reap_attempts")) TH_LOG("the shrinker never ran");

	for (h = 0; h < HATS; h++) {
		ASSERT_EQ(0, ht_info(fd[h], &info));
		EXPECT_LE(1, info.stolen) TH_LOG("hat %d gave no table", h);
		/* Stolen pages: owned, not present. */
		for (lost = 0, i = 0; i < PAGES; i++) {
			ASSERT_EQ(0, ht_probe(fd[h], VA + i * HT_PAGE_SIZE, &p));
			ASSERT_TRUE(p.flags & HTABLE_PROBE_OWNED);
			lost += !(p.flags & HTABLE_PROBE_PRESENT);
		}
		EXPECT_EQ(info.stolen ? 1 : 0, lost ? 1 : 0);
		memset(&r, 0, sizeof(r));
		r.va = VA;
		r.npages = PAGES;
		ASSERT_EQ(0, ht_ioctl(fd[h], HTABLE_IOC_RELOAD, &r));
		EXPECT_EQ(lost, r.reloaded);
		for (i = 0; i < PAGES; i++) {
			ASSERT_EQ(0, ht_probe(fd[h], VA + i * HT_PAGE_SIZE, &p));
			EXPECT_TRUE(p.flags & HTABLE_PROBE_PRESENT);
			ASSERT_EQ(0, rw_word(fd[h], VA + i * HT_PAGE_SIZE, &w, 0));
			EXPECT_EQ(tag(h, i), w);
		}
		ASSERT_EQ(0, ht_check(fd[h], &c));
		EXPECT_EQ(0, c.errors);
		printf("# hat %d: %llu tables stolen, %llu pages reloaded\n", h,
		       (unsigned long long)info.stolen, (unsigned long long)lost);
	}
	for (h = 0; h < HATS; h++)
		close(fd[h]);
	set_oom_score(getpid(), 0);
}

TEST_HARNESS_MAIN
