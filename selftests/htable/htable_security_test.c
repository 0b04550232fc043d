// SPDX-License-Identifier: GPL-2.0
/*
 * Who may use htable, what it shows, and what it refuses to allocate.
 *
 *   - /dev/htable is root's alone: a process that dropped to nobody gets
 *     EACCES on every open, and cannot read the per-hat debugfs files.
 *   - No kernel pointer reaches user space: the debugfs files and the
 *     kernel log lines a workload produces hold no kernel-half address.
 *   - Absurd lengths and counts (npages = 2^63, 2^32 - 1 samples or
 *     bytes, more pages than the machine has) fail fast, allocating
 *     nothing: no allocation site is even asked (fail_hits), each call
 *     takes about as long as one refused for a zero length, measured
 *     side by side, and slab, free memory and active_ptables do not
 *     move.
 */
#include <dirent.h>
#include <grp.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define NOBODY		65534
#define ABSURD_ROUNDS	500
#define SLAB_NOISE_KB	512
#define FREE_NOISE_KB	2048
/*
 * How many times longer than a request refused for a zero length an
 * absurd one may take (medians of calls made side by side, so a slow or
 * loaded host slows both alike): work in proportion to its size, even a
 * loop over a million pages without allocating, is far beyond that.
 */
#define SLOWER_MAX	20
/*
 * The hang guard of waiting for the refused requests' log lines: the
 * rate limit lets lines through again every 5 s, and the harness kills a
 * TEST() after 30.
 */
#define LOG_WAIT_S	15.0
#define FAIL_COUNT_ONLY	4294967295LL	/* fail_nth: count, never fail */

static long long meminfo_kb(const char *key)
{
	char line[256], name[64];
	long long v, r = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %lld", name, &v) == 2 && !strcmp(name, key))
			r = v;
	if (f)
		fclose(f);
	return r;
}

static long long free_kb(void)
{
	long long pcp = 0, v;
	char line[256];
	FILE *f = fopen("/proc/zoneinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %lld", &v) == 1)
			pcp += v;
	if (f)
		fclose(f);
	return meminfo_kb("MemFree") + pcp * 4;
}

/*
 * In a child that dropped every privilege to nobody: each of @paths must
 * refuse to open with EACCES. Returns the number that did not.
 */
static int open_as_nobody(const char * const *paths, int n, int flags)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int bad = 0;

		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY) ||
		    !setuid(0)) {
			fprintf(stderr, "# could not drop to nobody\n");
			_exit(100);
		}
		for (int i = 0; i < n; i++) {
			int fd = open(paths[i], flags);

			if (fd >= 0 || errno != EACCES) {
				fprintf(stderr, "# as nobody, open(%s) gave %s\n", paths[i],
					fd >= 0 ? "a descriptor" : strerror(errno));
				bad++;
			}
			if (fd >= 0)
				close(fd);
		}
		_exit(bad);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 100;
	return WEXITSTATUS(st);
}

TEST(device_is_root_only)
{
	static const char * const dev[] = { HTABLE_DEV_PATH };
	static const char * const dbg[] = {
		"/sys/kernel/debug/htable/hats",
		"/sys/kernel/debug/htable/fail_hits",
		HTABLE_FAIL_NTH_PATH,
	};
	int fd = htable_open_dev();

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	close(fd);
	ASSERT_EQ(0, getuid());
	EXPECT_EQ(0, open_as_nobody(dev, 1, O_RDWR));
	EXPECT_EQ(0, open_as_nobody(dev, 1, O_RDONLY));
	EXPECT_EQ(0, open_as_nobody(dev, 1, O_WRONLY));
	/* The files that name hats and tasks, and the tunables, too. */
	EXPECT_EQ(0, open_as_nobody(dbg, 3, O_RDONLY));
}

/*
 * Count kernel-half addresses (16 hex digits from ffff8...) in @s: the
 * form an unhashed kernel pointer takes.
 */
static int kernel_pointers(const char *what, const char *s)
{
	int bad = 0;

	for (const char *p = s; (p = strstr(p, "ffff")) != NULL; p++) {
		size_t n = strspn(p, "0123456789abcdef");

		if (n == 16 && strchr("89abcdef", p[4])) {
			fprintf(stderr, "# %s: kernel address %.16s\n", what, p);
			bad++;
		}
	}
	return bad;
}

static int scan_file(const char *path)
{
	static char buf[1 << 16];

	/* Write-only knobs can't be read; an empty file names nothing. */
	if (ht_read_text(path, buf, sizeof(buf)) < 0)
		return 0;
	return kernel_pointers(path, buf);
}

static int scan_dir(const char *dir)
{
	char path[512];
	struct dirent *d;
	DIR *dp = opendir(dir);
	int bad = 0, files = 0;

	if (!dp)
		return -1;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' || !strcmp(d->d_name, "reap"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (d->d_type == DT_DIR)
			bad += scan_dir(path);
		else
			bad += scan_file(path), files++;
	}
	closedir(dp);
	return bad;
}

TEST(no_kernel_pointers)
{
	struct htable_sample samples[8];
	struct htable_run r = {
		.mode = HTABLE_RUN_RESIDENT, .va = HT_SZ_2M, .npages = 1,
		.duration_ms = 2, .max_samples = 8,
	};
	struct htable_probe p;
	struct htable_info info;
	int fd = htable_open_dev(), kfd, bad = 0, tries;
	size_t len = 0, cap = 1 << 20;
	char *log, rec[8192];
	double end;
	ssize_t n;

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	r.samples = (uintptr_t)samples;
	/*
	 * Read only what the workload logs, from /dev/kmsg: clearing the
	 * log instead would hide earlier tests' splats from the VM's judge.
	 */
	kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, kfd);
	ASSERT_LE(0, lseek(kfd, 0, SEEK_END));
	ASSERT_EQ(0, ht_map(fd, HT_SZ_2M, 64, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_RUN, &r));
	log = calloc(1, cap);
	ASSERT_NE(NULL, log);
	/*
	 * Refused requests log a line each; they echo only what user space
	 * sent. The lines share one rate limit (10 per 5 s), which the tests
	 * before this one (the fuzzer's bad requests) may have used up: make
	 * the requests again until their lines show in the log, so that the
	 * scan of the log is not vacuous.
	 */
	for (end = ht_now() + LOG_WAIT_S, tries = 0; ; usleep(250 * 1000)) {
		EXPECT_EQ(-EEXIST, ht_map(fd, HT_SZ_2M, 1, 0));
		EXPECT_EQ(-ENOENT, ht_unmap(fd, HT_SZ_1G, 1));
		EXPECT_EQ(-E2BIG, ht_map(fd, HT_SZ_1G, HTABLE_MAX_NPAGES + 1, 0));
		tries++;
		/* One record per read; EPIPE when records were overwritten. */
		while ((n = read(kfd, rec, sizeof(rec) - 1)) > 0 ||
		       (n < 0 && errno == EPIPE)) {
			if (n > 0 && len + n < cap) {
				memcpy(log + len, rec, n);
				len += n;
			}
		}
		if (strstr(log, "htable") || ht_now() > end)
			break;
	}
	TH_LOG("the refused requests were made %d times before the log showed them", tries);
	ASSERT_EQ(0, ht_probe(fd, HT_SZ_2M, &p));
	ASSERT_EQ(0, ht_info(fd, &info));
	/*
	 * PROBE shows a physical frame and entry (root only); no field of it
	 * or of INFO is a kernel virtual address.
	 */
	EXPECT_GT(1ULL << 52, p.pte & ~HT_PTE_NX);
	EXPECT_GT(1ULL << 40, p.pfn);
	for (size_t w = 0; w < sizeof(info) / 8; w++)
		if (((__u64 *)&info)[w] >= 1ULL << 47) {
			bad++;
			TH_LOG("INFO word %zu: %#llx", w, ((__u64 *)&info)[w]);
		}
	EXPECT_EQ(0, bad);

	bad = scan_dir("/sys/kernel/debug/htable");
	EXPECT_LE(0, bad) TH_LOG("no /sys/kernel/debug/htable");
	EXPECT_EQ(0, bad);

	/* And whatever the reads above logged. */
	while ((n = read(kfd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n > 0 && len + n < cap) {
			memcpy(log + len, rec, n);
			len += n;
		}
	}
	close(kfd);
	/* Rate limiting may fold the lines into "callbacks suppressed". */
	EXPECT_NE(NULL, strstr(log, "htable")) TH_LOG("the refused requests were not logged");
	EXPECT_EQ(0, kernel_pointers("kernel log", log));
	free(log);
	close(fd);
}

/* Each absurd request, and the errno it must get. */
struct absurd {
	const char *what;
	unsigned long cmd;
	int err;
	union {
		struct htable_map m;
		struct htable_unmap u;
		struct htable_rw rw;
		struct htable_run r;
		struct htable_sync s;
		struct htable_reload rl;
	} a;
};

/*
 * The calls the allocation sites of fail_hits counted since fail_nth was
 * last written, summed; *@nsites gets the number of sites. -1 when the
 * file cannot be read.
 */
static long long fail_calls(int *nsites)
{
	char line[256], name[64];
	long long sum = 0, calls, failed;
	FILE *f = fopen(HTABLE_FAIL_HITS_PATH, "r");
	int bit;

	*nsites = 0;
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		sum = -1;
	while (sum >= 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %d %lld %lld", name, &bit, &calls, &failed) != 4) {
			sum = -1;
			break;
		}
		sum += calls;
		(*nsites)++;
	}
	fclose(f);
	return sum;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of the @n values at @v (sorts them). */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

TEST(absurd_sizes_fail_fast)
{
	unsigned char buf[64];
	long long avail_pages = meminfo_kb("MemTotal") / 4 + 1;
	struct absurd cases[] = {
		/* The yardstick: refused at the first check of its range. */
		{ "MAP npages 0", HTABLE_IOC_MAP, EINVAL,
		  .a.m = { .va = HT_SZ_2M, .npages = 0 } },
		{ "MAP npages 2^63", HTABLE_IOC_MAP, E2BIG,
		  .a.m = { .va = HT_SZ_2M, .npages = 1ULL << 63 } },
		{ "MAP npages 2^64 - 1", HTABLE_IOC_MAP, E2BIG,
		  .a.m = { .va = HT_SZ_2M, .npages = ~0ULL } },
		{ "ALIAS MAP alias_npages 2^63", HTABLE_IOC_MAP, EINVAL,
		  .a.m = { .va = HT_SZ_2M, .npages = 4, .flags = HTABLE_MAP_ALIAS,
			   .alias_va = HT_SZ_1G, .alias_npages = 1ULL << 63 } },
		{ "UNMAP npages 2^63", HTABLE_IOC_UNMAP, E2BIG,
		  .a.u = { .va = HT_SZ_2M, .npages = 1ULL << 63 } },
		{ "SYNC npages 2^63", HTABLE_IOC_SYNC, E2BIG,
		  .a.s = { .va = HT_SZ_2M, .npages = 1ULL << 63 } },
		{ "RELOAD npages 2^63", HTABLE_IOC_RELOAD, E2BIG,
		  .a.rl = { .va = HT_SZ_2M, .npages = 1ULL << 63 } },
		{ "RW len 2^32 - 1", HTABLE_IOC_RW, EINVAL,
		  .a.rw = { .va = HT_SZ_2M, .buf = (uintptr_t)buf, .len = ~0U } },
		{ "RUN verify npages 2^63", HTABLE_IOC_RUN, E2BIG,
		  .a.r = { .va = HT_SZ_2M, .npages = 1ULL << 63 } },
		{ "RUN resident max_samples 2^32 - 1", HTABLE_IOC_RUN, EINVAL,
		  .a.r = { .mode = HTABLE_RUN_RESIDENT, .va = HT_SZ_2M, .npages = 1,
			   .duration_ms = 1, .samples = (uintptr_t)buf,
			   .max_samples = ~0U } },
		{ "RUN resident duration 2^32 - 1 ms", HTABLE_IOC_RUN, EINVAL,
		  .a.r = { .mode = HTABLE_RUN_RESIDENT, .va = HT_SZ_2M, .npages = 1,
			   .duration_ms = ~0U, .samples = (uintptr_t)buf,
			   .max_samples = 1 } },
		/* Last: dropped on a machine over 16 GiB, where it is moot. */
		{ "MAP more pages than the machine has", HTABLE_IOC_MAP, ENOMEM,
		  .a.m = { .va = HT_SZ_1G, .npages = avail_pages } },
	};
	long long slab0, slab1, free0, free1, active0, bad0, calls;
	int fd = htable_open_dev(), n = ARRAY_SIZE(cases), fails = 0, nsites;
	double t0, dt, worst = 0, *us, base;
	struct htable_info info;

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	ASSERT_EQ(0, htable_knobs_reset());
	if (avail_pages > (long long)HTABLE_MAX_NPAGES)
		n--;
	us = calloc(ABSURD_ROUNDS * n, sizeof(*us));
	ASSERT_NE(NULL, us);
	/* Warm up: the first calls fault in code and fill per-CPU caches. */
	for (int i = 0; i < n; i++)
		ht_ioctl(fd, cases[i].cmd, &cases[i].a);
	/* Count every allocation site's calls, failing none. */
	ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_NTH_PATH, FAIL_COUNT_ONLY));
	ASSERT_EQ(0, fail_calls(&nsites));
	ASSERT_LT(0, nsites);
	ASSERT_EQ(0, htable_knob_write(HTABLE_FAIL_SITE_PATH, (1LL << nsites) - 1));
	sync();
	slab0 = meminfo_kb("Slab");
	free0 = free_kb();
	active0 = htable_stat("active_ptables");
	bad0 = htable_stat("hs_bad_input");
	t0 = ht_now();
	for (int k = 0; k < ABSURD_ROUNDS; k++) {
		for (int i = 0; i < n; i++) {
			double t1 = ht_now();
			int ret = -ht_ioctl(fd, cases[i].cmd, &cases[i].a);

			dt = ht_now() - t1;
			us[i * ABSURD_ROUNDS + k] = dt * 1e6;
			worst = dt > worst ? dt : worst;
			if (ret != cases[i].err) {
				if (fails++ < 10)
					TH_LOG("%s: %s, expected %s", cases[i].what,
					       strerror(ret), strerror(cases[i].err));
			}
		}
	}
	dt = ht_now() - t0;
	calls = fail_calls(&nsites);
	slab1 = meminfo_kb("Slab");
	free1 = free_kb();
	ASSERT_EQ(0, htable_knobs_reset());
	TH_LOG("%d absurd requests in %.3f s (%.1f us each, worst %.0f us)",
	       ABSURD_ROUNDS * n, dt, dt * 1e6 / (ABSURD_ROUNDS * n), worst * 1e6);
	TH_LOG("slab %+lld kB, free memory %+lld kB, %lld allocation calls",
	       slab1 - slab0, free1 - free0, calls);
	EXPECT_EQ(0, fails);
	/* Refused before any allocation was even tried. */
	EXPECT_EQ(0, calls) TH_LOG("the %d allocation sites were called", nsites);
	/* Each no slower than a refused zero length, by far. */
	base = median(us, ABSURD_ROUNDS);
	for (int i = 1; i < n; i++) {
		double med = median(us + i * ABSURD_ROUNDS, ABSURD_ROUNDS);

		EXPECT_GE(SLOWER_MAX * base, med)
			TH_LOG("%s: median %.1f us, a zero length %.1f us", cases[i].what,
			       med, base);
	}
	EXPECT_GE(SLAB_NOISE_KB, slab1 - slab0);
	EXPECT_GE(FREE_NOISE_KB, free0 - free1);
	EXPECT_EQ(active0, htable_stat("active_ptables"));
	/* Every one was refused as bad input (counted), and nothing got mapped. */
	EXPECT_EQ(bad0 + ABSURD_ROUNDS * n, htable_stat("hs_bad_input"));
	ASSERT_EQ(0, ht_info(fd, &info));
	EXPECT_EQ(0, info.owned_pages);
	EXPECT_EQ(0, info.mapped_pages);
	free(us);
	close(fd);
}

TEST_HARNESS_MAIN
