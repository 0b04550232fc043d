// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation-failure sweeps: every allocation the module makes during a
 * fixed workload is made to fail, one site at a time.
 *
 * For each site (debugfs fail_site = 1 << site), a first run with
 * fail_nth = UINT_MAX counts the K allocations the workload makes there
 * (fail_hits "calls") without failing any. Runs N = 1..K then set
 * fail_nth = N, so run N fails the Nth allocation at that site (and every
 * Nth after it): every failure point is hit, and fail_hits proves it.
 *
 * Each step of the workload may fail only with ENOMEM (or, for an ALIAS
 * whose source failed to map, ENOENT), and a failed MAP must leave its
 * range empty. After each run, with the knob off, RELOAD brings back
 * whatever a fallback steal took, the hat must match the model exactly
 * (INFO, CHECK, PROBE of every page), and once it is closed
 * active_ptables, cached_tables and the hat count are back where they
 * started. Free
 * memory is compared once around the whole sweep (not on the debug row,
 * where KASAN's quarantine holds freed memory back); kmemleak (debug row)
 * looks for any leak.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_model.h"

#define SITES		11
#define MAX_RUNS	400	/* per site: a bound, should the workload grow */
#define FREE_NOISE_KB	2048
#define KMEMLEAK_PATH	"/sys/kernel/debug/kmemleak"

static const char * const site_names[SITES] = {
	"ptable", "htable", "page", "xarray", "hat", "cpumask", "hash",
	"window", "samples", "share", "upin",
};

/* The workload's ranges: across a 2 MiB, a 1 GiB and a 512 GiB boundary. */
#define VA_A	(HT_SZ_2M * 3 - 8 * HT_PAGE_SIZE)
#define N_A	16
#define VA_B	(HT_SZ_1G * 5 - 2 * HT_PAGE_SIZE)
#define N_B	4
#define VA_C	(HT_SZ_512G * 2 - 2 * HT_PAGE_SIZE)
#define N_C	4
#define VA_D	(VA_A + (N_A - 4) * HT_PAGE_SIZE)
#define N_D	4
/* A second hat owns pages in a 2 MiB range the first one shares... */
#define VA_E	(HT_SZ_1G * 7)
#define N_E	4
/* ...and maps pinned pages of this process (HTABLE_MAP_PIN). */
#define VA_F	(HT_SZ_1G * 9)
#define N_F	2

struct sweep {
	struct ht_hat h;
	int opened;
	int fd2;		/* the owner of the shared range, or -1 */
	unsigned long enomem;	/* ENOMEM returns seen */
	int bad;		/* outcomes the ABI does not allow */
};

/* Read one site's line of fail_hits: calls and failures injected. */
static int fail_hits(int site, long long *calls, long long *failed)
{
	char name[32];
	FILE *f = fopen(HTABLE_FAIL_HITS_PATH, "r");
	int bit, found = 0;
	long long c, n;

	if (!f)
		return -1;
	fscanf(f, "%*[^\n]\n");
	while (fscanf(f, "%31s %d %lld %lld", name, &bit, &c, &n) == 4)
		if (bit == site) {
			*calls = c;
			*failed = n;
			found = 1;
		}
	fclose(f);
	return found ? 0 : -1;
}

/* Outcome of one step: 0, or ENOMEM (counted); anything else is bad. */
static int step_ok(struct sweep *s, const char *what, int ret, int also)
{
	if (!ret)
		return 1;
	if (ret == -ENOMEM) {
		s->enomem++;
		return 0;
	}
	if (also && ret == also)
		return 0;
	fprintf(stderr, "# %s: %s\n", what, strerror(-ret));
	s->bad++;
	return 0;
}

/* A MAP that failed must have left its whole range empty. */
static void range_empty(struct sweep *s, __u64 va, __u64 n)
{
	for (__u64 i = 0; i < n; i++)
		s->bad += ht_verify_probe(s->h.fd, va + i * HT_PAGE_SIZE, NULL);
}

static void map_step(struct sweep *s, __u64 va, __u64 n, __u32 flags,
		     __u64 ava, __u64 an)
{
	int ret = ht_map_alias(s->h.fd, va, n, flags, ava, an);

	if (step_ok(s, "MAP", ret, flags & HTABLE_MAP_ALIAS ? -ENOENT : 0)) {
		if (ht_model_insert(&s->h.m, va, n, flags, ava, an))
			s->bad++;
	} else {
		range_empty(s, va, n);
	}
}

static int run_window(int fd, __u64 va, int resident)
{
	struct htable_sample samples[4];
	struct htable_run r = {
		.cpu = 0, .va = va, .npages = resident ? 1 : 4,
	};

	if (resident) {
		r.mode = HTABLE_RUN_RESIDENT;
		r.duration_ms = 1;
		r.samples = (uintptr_t)samples;
		r.max_samples = 4;
	} else {
		r.seed = 7;
	}
	if (ioctl(fd, HTABLE_IOC_RUN, &r))
		return -errno;
	/* A table a fallback steal took faults; nothing may mismatch. */
	return r.mismatches ? HT_BADOUT : 0;
}

/* SHARE (@owner_fd >= 0) or UNSHARE the leaf table at VA_E: 0 or -errno. */
static int share(int fd, int owner_fd)
{
	struct htable_share sh = {
		.owner_fd = owner_fd < 0 ? 0 : owner_fd,
		.va = VA_E, .npages = HT_SZ_2M / HT_PAGE_SIZE,
	};

	return ioctl(fd, owner_fd < 0 ? HTABLE_IOC_UNSHARE : HTABLE_IOC_SHARE,
		     &sh) ? -errno : 0;
}

/*
 * A second hat: pages of its own that the first hat shares and unshares
 * (the share site), and pages of this process it pins (the upin site).
 * Kept out of the model; CHECK and the counts after close judge it.
 */
static void owner_steps(struct sweep *s)
{
	static char *pinned;
	struct htable_check c;
	int ret;

	/* Mapped once: pins hold its pages until the owner is closed. */
	if (!pinned) {
		pinned = mmap(NULL, N_F * HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (pinned == MAP_FAILED) {
			pinned = NULL;
			s->bad++;
			return;
		}
	}

	s->fd2 = htable_open_dev();
	if (s->fd2 < 0) {
		step_ok(s, "open owner", -errno, 0);
		return;
	}
	ret = ht_map(s->fd2, VA_E, N_E, HTABLE_MAP_WRITE);
	if (step_ok(s, "owner MAP", ret, 0)) {
		ret = share(s->h.fd, s->fd2);
		/* Detaching allocates nothing: it must work. */
		if (step_ok(s, "SHARE", ret, 0) && share(s->h.fd, -1)) {
			fprintf(stderr, "# UNSHARE failed\n");
			s->bad++;
		}
	}
	memset(pinned, 1, N_F * HT_PAGE_SIZE);
	ret = ht_map_alias(s->fd2, VA_F, N_F, HTABLE_MAP_WRITE | HTABLE_MAP_PIN,
			   (uintptr_t)pinned, 0);
	if (!step_ok(s, "MAP PIN", ret, 0))
		for (int i = 0; i < N_F; i++)
			s->bad += ht_verify_probe(s->fd2, VA_F + i * HT_PAGE_SIZE, NULL);
	if (ht_check(s->fd2, &c) || c.errors) {
		fprintf(stderr, "# owner CHECK: %llu errors\n", c.errors);
		s->bad++;
	}
}

/* The fixed workload: whatever fails, only the ABI's errors may show. */
static void workload(struct sweep *s)
{
	int ret, want;

	memset(s, 0, sizeof(*s));
	s->fd2 = -1;
	ret = ht_hat_open(&s->h);
	if (!step_ok(s, "open", ret, 0))
		return;
	s->opened = 1;
	map_step(s, VA_A, N_A, HTABLE_MAP_WRITE | HTABLE_MAP_EXEC, 0, 0);
	map_step(s, VA_B, N_B, HTABLE_MAP_LOCK, 0, 0);
	map_step(s, VA_C, N_C, HTABLE_MAP_ALIAS | HTABLE_MAP_WRITE, VA_A, N_C);
	step_ok(s, "RUN verify", run_window(s->h.fd, VA_A, 0), 0);
	step_ok(s, "RUN resident", run_window(s->h.fd, VA_A, 1), 0);
	/* UNMAP allocates nothing: it must never fail for want of memory. */
	want = ht_model_count(&s->h.m, VA_D, N_D) == N_D ? 0 : -ENOENT;
	ret = ht_unmap(s->h.fd, VA_D, N_D);
	if (ret != want) {
		fprintf(stderr, "# UNMAP: %d, model says %d\n", ret, want);
		s->bad++;
	} else if (!ret) {
		ht_model_remove(&s->h.m, VA_D, N_D);
	}
	map_step(s, VA_D, N_D, HTABLE_MAP_WRITE, 0, 0);
	owner_steps(s);
}

/* With the knob off: bring back stolen translations, compare, close. */
static void settle_and_verify(struct sweep *s)
{
	static const __u64 ranges[][2] = {
		{ VA_A, N_A }, { VA_B, N_B }, { VA_C, N_C },
	};
	struct htable_reload r;

	if (s->fd2 >= 0)
		close(s->fd2);
	s->fd2 = -1;
	if (!s->opened)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++) {
		memset(&r, 0, sizeof(r));
		r.va = ranges[i][0];
		r.npages = ranges[i][1];
		if (ioctl(s->h.fd, HTABLE_IOC_RELOAD, &r)) {
			fprintf(stderr, "# RELOAD: %s\n", strerror(errno));
			s->bad++;
		}
	}
	s->bad += ht_verify_model(s->h.fd, &s->h.m, s->h.levels, 1);
	ht_hat_close(&s->h);
}

static long long free_kb(void)
{
	long long memfree = -1, pcp = 0, v;
	char line[256];
	FILE *f;

	system("sync; echo 3 > /proc/sys/vm/drop_caches");
	usleep(200000);
	f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %lld", &v) == 1)
			memfree = v;
	if (f)
		fclose(f);
	f = fopen("/proc/zoneinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %lld", &v) == 1)
			pcp += v;
	if (f)
		fclose(f);
	return memfree + pcp * 4;
}

FIXTURE(sweep) {
	long long active0, hats0, cached0;
};

FIXTURE_SETUP(sweep)
{
	htable_knobs_reset();
	self->active0 = htable_stat("active_ptables");
	self->hats0 = htable_stat("hats");
	self->cached0 = htable_stat("cached_tables");
}

FIXTURE_TEARDOWN(sweep)
{
	htable_knobs_reset();
}

TEST_F_TIMEOUT(sweep, every_allocation_site, 500)
{
	long long calls, failed, total_points = 0, total_runs = 0, free0, free1;
	struct sweep s;
	int site;
	double t0 = ht_now();

	HT_NEED_DEV(access(HTABLE_DEV_PATH, F_OK), errno);
	ASSERT_EQ(0, access(HTABLE_FAIL_HITS_PATH, R_OK));
	/* A warm-up run fills the reserve and caches that are not leaks. */
	workload(&s);
	settle_and_verify(&s);
	ASSERT_EQ(0, s.bad);
	free0 = free_kb();

	for (site = 0; site < SITES; site++) {
		long long k, hit = 0, hits_total = 0;
		unsigned long enomem = 0;

		ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_SITE_PATH, 1LL << site));
		ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0xffffffffLL));
		workload(&s);
		ASSERT_EQ(0, fail_hits(site, &k, &failed));
		ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
		settle_and_verify(&s);
		ASSERT_EQ(0, s.bad) TH_LOG("counting run for %s", site_names[site]);
		ASSERT_EQ(0, failed);
		/* Every site is on the workload's path. */
		ASSERT_LT(0, k) TH_LOG("site %s never allocated", site_names[site]);
		ASSERT_GE(MAX_RUNS, k);

		for (long long n = 1; n <= k; n++) {
			ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, n));
			workload(&s);
			ASSERT_EQ(0, fail_hits(site, &calls, &failed));
			ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, 0));
			settle_and_verify(&s);
			EXPECT_EQ(0, s.bad) TH_LOG("site %s, fail_nth %lld", site_names[site], n);
			/* Failure point n was reached and failed. */
			EXPECT_LE(1, failed)
				TH_LOG("site %s, fail_nth %lld: no failure", site_names[site], n);
			hit += failed > 0;
			hits_total += failed;
			enomem += s.enomem;
			EXPECT_EQ(self->active0, htable_stat("active_ptables"))
				TH_LOG("site %s, fail_nth %lld", site_names[site], n);
			EXPECT_EQ(self->hats0, htable_stat("hats"));
			EXPECT_EQ(self->cached0, htable_stat("cached_tables"));
			if (s.bad)
				break;
		}
		TH_LOG("site %-7s: %lld failure points, %lld hit, %lld injected, %lu ENOMEM",
		       site_names[site], k, hit, hits_total, enomem);
		EXPECT_EQ(k, hit);
		total_points += k;
		total_runs += k + 1;
	}
	free1 = free_kb();
	TH_LOG("%lld failure points over %d sites in %lld runs, %.1f s",
	       total_points, SITES, total_runs, ht_now() - t0);
	TH_LOG("free memory %lld kB -> %lld kB", free0, free1);
	/*
	 * KASAN's quarantine holds freed objects back (4.6 MB over this sweep
	 * on the debug row): there, kmemleak is the leak check instead.
	 */
	if (access(KMEMLEAK_PATH, F_OK))
		EXPECT_GE(FREE_NOISE_KB, free0 - free1);
	EXPECT_EQ(self->active0, htable_stat("active_ptables"));
}

TEST_HARNESS_MAIN
