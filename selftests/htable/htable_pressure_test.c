// SPDX-License-Identifier: GPL-2.0
/*
 * Real memory pressure: the kernel itself must call htable's shrinker.
 * Meant for a small guest (the lowmem row boots with 256 MiB; see
 * Documentation/testing.rst); it works on any size, only slower.
 *
 * Two threads map and unmap one page in each of up to 96 new 2 MiB
 * regions of their own hats, over and over, so freed tables pile up in
 * the hats' caches: that is what the shrinker's count reports. Meanwhile
 * a forked memory hog allocates and touches anonymous memory in 4 MiB
 * chunks (1 MiB once MemAvailable is below 24 MiB) until the shrinker has
 * run (hs_reap_attempts rose), free memory comes within 8 MiB of the min
 * watermark, an allocation fails, it has touched twice MemTotal, or its
 * time is up; then it holds its memory until the shrinker has run (at
 * most WAIT_S) and exits. The hog starts once each worker has made
 * WARMUP_ROUNDS rounds, and the workers stop once each has made
 * AFTER_ROUNDS more after it: counts, not durations.
 *
 * kswapd, which calls the shrinkers, wakes only when an allocation finds
 * every zone below its low watermark, and goes back to sleep while any
 * zone is above its high one (pgdat_balanced()). On a 256 MiB guest with
 * no swap and no page cache the default watermarks are a few MiB apart
 * and close to the min watermark, where allocations start direct reclaim
 * and the OOM killer (whose report would spoil the run's kernel log); the
 * 16 MiB DMA zone stays free until the very end. Allocating until
 * MemAvailable < 24 MiB alone never woke kswapd there (vmstat pageoutrun
 * did not move). So the test first raises
 * /proc/sys/vm/watermark_scale_factor to 1000 (the gap between the
 * watermarks becomes 10% of each zone; restored afterwards): kswapd then
 * wakes at about 22 MiB free and reclaims towards twice that, and, with
 * nothing else to reclaim, ends up calling htable's shrinker. The
 * pressure is real: only the hog's allocations wake kswapd. The test never
 * writes drop_caches or the reap knob.
 *
 * Then: the shrinker ran (hs_reap_attempts rose), every MAP returned
 * success or ENOMEM, every UNMAP success, CHECK is clean on every hat, and
 * once the hats are closed the hat count and active_ptables are back where
 * they started. The test process makes itself unkillable by the OOM killer
 * (oom_score_adj -1000) and the hog its first choice (1000).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define PRESSURE_TIMEOUT	180
#define NWORKERS		2
#define REGIONS			96
#define MIN_REGIONS		8
#define WORKER_VA		(5 * HT_SZ_1G)

#define HOG_CHUNK		(4 * _BITULL(20))
#define HOG_SMALL_CHUNK		_BITULL(20)
#define LOW_AVAILABLE_KB	(24LL << 10)	/* then 1 MiB chunks */
#define FLOOR_MARGIN_KB		(8LL << 10)	/* stop this far above min */
#define HOG_BUDGET_S		40.0
/* The hang guard of the hog's hold and of the waits for the workers. */
#define WAIT_S			30.0
/* Rounds each worker makes before the hog, and after it. */
#define WARMUP_ROUNDS		4
#define AFTER_ROUNDS		2

#define KNOB_DIR		"/sys/kernel/debug/htable/"
#define PTABLE_CAP_PATH		KNOB_DIR "ptable_cap"
#define FORCE_STEAL_PATH	KNOB_DIR "force_steal"
#define STEAL_PASSES_PATH	KNOB_DIR "steal_passes"
#define STEAL_PASSES_DEFAULT	8
#define WSF_PATH		"/proc/sys/vm/watermark_scale_factor"
#define WSF_PRESSURE		1000	/* 10% of memory between watermarks */
#define WSF_DEFAULT		10
#define OOM_ADJ_PATH		"/proc/self/oom_score_adj"

/* One field of /proc/meminfo in KiB ("MemFree:" etc.), or -1. */
static long long meminfo_kb(const char *key)
{
	long long val = -1, v;
	char line[128];
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) &&
		    sscanf(line + strlen(key), " %lld", &v) == 1) {
			val = v;
			break;
		}
	}
	fclose(f);
	return val;
}

/* The sum of every zone's min watermark in KiB (/proc/zoneinfo), or -1. */
static long long min_watermark_kb(void)
{
	long long sum = 0, v;
	char line[256], key[32];
	FILE *f;

	f = fopen("/proc/zoneinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %31s %lld", key, &v) == 2 && !strcmp(key, "min"))
			sum += v;
	fclose(f);
	return sum * (HT_PAGE_SIZE >> 10);
}

/* The vmstat counters the test logs, to show what reclaim did. */
static const char * const vm_keys[] = {
	"pageoutrun", "slabs_scanned", "pgscan_kswapd", "pgsteal_kswapd",
	"allocstall_dma32", "allocstall_normal", "allocstall_movable",
	"kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly", "oom_kill",
};

#define NVM	ARRAY_SIZE(vm_keys)

/* Read the vm_keys counters of /proc/vmstat into @val (-1 when missing). */
static void vmstat_read(long long val[NVM])
{
	char line[128], key[64];
	long long v;
	size_t i;
	FILE *f;

	for (i = 0; i < NVM; i++)
		val[i] = -1;
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %lld", key, &v) != 2)
			continue;
		for (i = 0; i < NVM; i++)
			if (!strcmp(key, vm_keys[i]))
				val[i] = v;
	}
	fclose(f);
}

/* Why the hog stopped allocating. */
enum hog_stop {
	HOG_RUNNING,
	HOG_SHRINKER_RAN,
	HOG_FLOOR,
	HOG_ALLOC_FAILED,
	HOG_TWICE_MEMTOTAL,
	HOG_OUT_OF_TIME,
	HOG_NO_MEMINFO,
};

static const char * const hog_stop_names[] = {
	"still running", "the shrinker ran", "near the min watermark",
	"an allocation failed", "twice MemTotal touched", "out of time",
	"no /proc/meminfo",
};

/* What the hog tells the test, in shared memory. */
struct hog_report {
	int stop;			/* enum hog_stop */
	unsigned long long allocated;	/* bytes touched */
	long long free_kb, avail_kb;	/* MemFree, MemAvailable at the stop */
	long long floor_kb;
	int reaped_after_hold;		/* the shrinker showed only while holding */
	double held_s;			/* how long it held */
};

/* The hog, in the forked child: see the comment at the top. */
static void hog(struct hog_report *rep, long long attempts0)
{
	long long total = meminfo_kb("MemTotal:"), min = min_watermark_kb();
	double start = ht_now();
	long long fr, av;
	size_t chunk;
	void *p;

	htable_knob_write(OOM_ADJ_PATH, 1000);
	rep->floor_kb = (min > 0 ? min : 0) + FLOOR_MARGIN_KB;
	for (;;) {
		fr = meminfo_kb("MemFree:");
		av = meminfo_kb("MemAvailable:");
		rep->free_kb = fr;
		rep->avail_kb = av;
		if (htable_stat("hs_reap_attempts") > attempts0) {
			rep->stop = HOG_SHRINKER_RAN;
			break;
		}
		if (total < 0 || fr < 0 || av < 0) {
			rep->stop = HOG_NO_MEMINFO;
			break;
		}
		if (fr < rep->floor_kb) {
			rep->stop = HOG_FLOOR;
			break;
		}
		if (rep->allocated >= 2ULL * total * 1024) {
			rep->stop = HOG_TWICE_MEMTOTAL;
			break;
		}
		if (ht_now() - start > HOG_BUDGET_S) {
			rep->stop = HOG_OUT_OF_TIME;
			break;
		}
		chunk = av < LOW_AVAILABLE_KB ? HOG_SMALL_CHUNK : HOG_CHUNK;
		p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		if (p == MAP_FAILED) {
			rep->stop = HOG_ALLOC_FAILED;
			break;
		}
		memset(p, 0x5a, chunk);
		rep->allocated += chunk;
		/* Near the end, leave kswapd the CPU it needs. */
		if (chunk == HOG_SMALL_CHUNK)
			usleep(20 * 1000);
	}
	/* kswapd is awake now: hold the memory until it calls htable. */
	start = ht_now();
	while (rep->stop != HOG_SHRINKER_RAN && ht_now() < start + WAIT_S &&
	       htable_stat("hs_reap_attempts") <= attempts0)
		usleep(20 * 1000);
	rep->held_s = ht_now() - start;
	rep->reaped_after_hold = rep->stop != HOG_SHRINKER_RAN &&
				 htable_stat("hs_reap_attempts") > attempts0;
}

struct pworker {
	pthread_t tid;
	int fd;
	__u64 rng;
	int stop;
	unsigned long cycles;	/* rounds: the test reads it atomically */
	unsigned long maps, enomem, unmaps;
	int bad;
};

static __u64 next_rand(__u64 *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

/*
 * Map one page in each of n new 2 MiB regions (n varies, so the cache
 * keeps what the largest round built), then unmap them all.
 */
static void *pworker_run(void *arg)
{
	struct pworker *w = arg;
	struct htable_check c;
	int mapped[REGIONS];
	int k, n, ret;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) && !w->bad) {
		n = MIN_REGIONS + next_rand(&w->rng) % (REGIONS - MIN_REGIONS + 1);
		for (k = 0; k < n; k++) {
			ret = ht_map(w->fd, WORKER_VA + k * HT_SZ_2M, 1, HTABLE_MAP_WRITE);
			mapped[k] = !ret;
			w->maps += !ret;
			w->enomem += ret == -ENOMEM;
			if (ret && ret != -ENOMEM) {
				fprintf(stderr, "# MAP %#llx: %s\n", WORKER_VA + k * HT_SZ_2M,
					strerror(-ret));
				w->bad++;
			}
		}
		for (k = 0; k < n; k++) {
			if (!mapped[k])
				continue;
			ret = ht_unmap(w->fd, WORKER_VA + k * HT_SZ_2M, 1);
			w->unmaps += !ret;
			if (ret) {
				fprintf(stderr, "# UNMAP %#llx: %s\n", WORKER_VA + k * HT_SZ_2M,
					strerror(-ret));
				w->bad++;
			}
		}
		if (!(w->cycles % 8) && (ht_check(w->fd, &c) || c.errors)) {
			fprintf(stderr, "# CHECK: %llu errors, first %u at %#llx\n", c.errors,
				c.first_error, c.first_va);
			w->bad++;
		}
		__atomic_store_n(&w->cycles, w->cycles + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * Wait until each of @n workers has made @rounds rounds more than in
 * @from (their counts then are put in @from): 0, or -1 when a worker
 * failed or WAIT_S passed first.
 */
static int wait_rounds(struct pworker *w, int n, unsigned long *from,
		       unsigned long rounds)
{
	double end = ht_now() + WAIT_S;
	int i, ready = 0;

	while (ready < n) {
		for (i = 0, ready = 0; i < n; i++) {
			if (__atomic_load_n(&w[i].bad, __ATOMIC_RELAXED))
				return -1;
			ready += __atomic_load_n(&w[i].cycles, __ATOMIC_ACQUIRE) >=
				 from[i] + rounds;
		}
		if (ready < n && ht_now() > end)
			return -1;
		usleep(10 * 1000);
	}
	for (i = 0; i < n; i++)
		from[i] = __atomic_load_n(&w[i].cycles, __ATOMIC_ACQUIRE);
	return 0;
}

FIXTURE(pressure) {
	struct pworker w[NWORKERS];
	int err;
	long long hats0, active0, wsf0;
	pid_t hog;
};

FIXTURE_SETUP(pressure)
{
	int i, fd;

	htable_knobs_reset();
	for (i = 0; i < NWORKERS; i++)
		self->w[i].fd = -1;
	self->hog = -1;
	self->wsf0 = htable_knob_read(WSF_PATH);
	/* What a run killed by its timeout (no teardown) left: the default is 10. */
	if (self->wsf0 == WSF_PRESSURE)
		self->wsf0 = WSF_DEFAULT;
	fd = htable_open_dev();
	self->err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	self->hats0 = htable_stat("hats");
	self->active0 = htable_stat("active_ptables");
}

FIXTURE_TEARDOWN(pressure)
{
	int i;

	if (self->hog > 0) {
		kill(self->hog, SIGKILL);
		waitpid(self->hog, NULL, 0);
	}
	if (self->wsf0 > 0)
		htable_knob_write(WSF_PATH, self->wsf0);
	htable_knobs_reset();
	for (i = 0; i < NWORKERS; i++)
		if (self->w[i].fd >= 0)
			close(self->w[i].fd);
}

TEST_F_TIMEOUT(pressure, shrinker_runs_under_pressure, PRESSURE_TIMEOUT)
{
	long long attempts0, reaped0, enomem0, steals0, vm0[NVM], vm1[NVM];
	char vm[512];
	size_t len;
	struct hog_report *rep;
	struct htable_info info;
	struct htable_check c;
	int i, started = 0, status = 0, warm = -1, after = -1;
	unsigned long rounds[NWORKERS] = { 0 };
	double deadline;
	pid_t pid;

	if (htable_dev_missing(_metadata, self->err, self->err))
		return;
	ASSERT_EQ(0, htable_knobs_reset());
	ASSERT_LT(0, self->wsf0) TH_LOG("%s unreadable", WSF_PATH);
	ASSERT_LE(0, self->hats0);
	ASSERT_EQ(0, htable_knob_write(OOM_ADJ_PATH, -1000));
	TH_LOG("MemTotal %lld KiB, MemAvailable %lld, MemFree %lld, min watermarks %lld",
	       meminfo_kb("MemTotal:"), meminfo_kb("MemAvailable:"), meminfo_kb("MemFree:"),
	       min_watermark_kb());
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rep);
	memset(rep, 0, sizeof(*rep));

	/* kswapd's watermarks: see the comment at the top. */
	ASSERT_EQ(0, htable_knob_write(WSF_PATH, WSF_PRESSURE));
	TH_LOG("watermark_scale_factor %lld -> %d: min watermarks %lld KiB, MemAvailable %lld",
	       self->wsf0, WSF_PRESSURE, min_watermark_kb(), meminfo_kb("MemAvailable:"));
	for (i = 0; i < NWORKERS; i++) {
		self->w[i].fd = htable_open_dev();
		ASSERT_LE(0, self->w[i].fd);
		self->w[i].rng = 0x9e3779b97f4a7c15ULL * (i + 1);
	}
	vmstat_read(vm0);
	attempts0 = htable_stat("hs_reap_attempts");
	reaped0 = htable_stat("hs_reaped");
	enomem0 = htable_stat("hs_enomem");
	steals0 = htable_stat("hs_steals");
	for (i = 0; i < NWORKERS; i++) {
		if (pthread_create(&self->w[i].tid, NULL, pworker_run, &self->w[i]))
			break;
		started++;
	}
	if (started == NWORKERS)
		warm = wait_rounds(self->w, NWORKERS, rounds, WARMUP_ROUNDS);
	if (!warm) {
		TH_LOG("before the hog: %lld cached tables, %lld active",
		       htable_stat("cached_tables"), htable_stat("active_ptables"));
		pid = fork();
		if (!pid) {
			hog(rep, attempts0);
			_exit(0);
		}
		self->hog = pid;
	}
	deadline = ht_now() + HOG_BUDGET_S + WAIT_S + 20;
	while (self->hog > 0) {
		pid = waitpid(self->hog, &status, WNOHANG);
		if (pid == self->hog || pid < 0) {
			self->hog = -1;
			break;
		}
		if (ht_now() > deadline) {
			kill(self->hog, SIGKILL);
			waitpid(self->hog, &status, 0);
			self->hog = -1;
			TH_LOG("the hog overran its time and was killed");
			break;
		}
		usleep(100 * 1000);
	}
	EXPECT_EQ(0, htable_knob_write(WSF_PATH, self->wsf0));
	/* A little more mapping once the memory is back. */
	if (!warm)
		after = wait_rounds(self->w, NWORKERS, rounds, AFTER_ROUNDS);
	for (i = 0; i < started; i++)
		__atomic_store_n(&self->w[i].stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < started; i++)
		pthread_join(self->w[i].tid, NULL);
	ASSERT_EQ(NWORKERS, started);
	ASSERT_EQ(0, warm) TH_LOG("the workers never made %d rounds each", WARMUP_ROUNDS);
	EXPECT_EQ(0, after) TH_LOG("the workers never made %d rounds each after the hog",
				   AFTER_ROUNDS);

	TH_LOG("hog: %llu MiB touched, stopped: %s", rep->allocated >> 20,
	       rep->stop < (int)ARRAY_SIZE(hog_stop_names) ? hog_stop_names[rep->stop] : "?");
	TH_LOG("hog: MemFree %lld KiB, MemAvailable %lld KiB at the stop; floor %lld KiB",
	       rep->free_kb, rep->avail_kb, rep->floor_kb);
	TH_LOG("hog: %s %d; held %.1f s%s", WIFSIGNALED(status) ? "killed by signal" :
	       "exit status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
	       rep->held_s, rep->reaped_after_hold ? "; the shrinker ran while it held" : "");
	TH_LOG("%lld reap attempts, %lld tables reaped, %lld steals, %lld ENOMEM",
	       htable_stat("hs_reap_attempts") - attempts0, htable_stat("hs_reaped") - reaped0,
	       htable_stat("hs_steals") - steals0, htable_stat("hs_enomem") - enomem0);
	vmstat_read(vm1);
	for (i = 0, len = 0; i < (int)NVM && len < sizeof(vm) - 1; i++)
		len += snprintf(vm + len, sizeof(vm) - len, " %s +%lld", vm_keys[i],
				vm1[i] - vm0[i]);
	TH_LOG("vmstat:%s", vm);
	/* The kernel called the shrinker: nothing here wrote drop_caches or reap. */
	EXPECT_LT(attempts0, htable_stat("hs_reap_attempts"));

	for (i = 0; i < NWORKERS; i++) {
		struct pworker *w = &self->w[i];

		TH_LOG("worker %d: %lu rounds, %lu maps, %lu ENOMEM, %lu unmaps", i, w->cycles,
		       w->maps, w->enomem, w->unmaps);
		EXPECT_EQ(0, w->bad) TH_LOG("worker %d", i);
		EXPECT_LT(0, w->maps) TH_LOG("worker %d", i);
		EXPECT_EQ(w->maps, w->unmaps) TH_LOG("worker %d", i);
		ASSERT_EQ(0, ht_check(w->fd, &c));
		EXPECT_EQ(0, c.errors) TH_LOG("worker %d: first error %u at %#llx", i,
					      c.first_error, c.first_va);
		ASSERT_EQ(0, ht_info(w->fd, &info));
		EXPECT_EQ(0, info.owned_pages);
		EXPECT_EQ(0, info.mapped_pages);
		close(w->fd);
		w->fd = -1;
	}
	EXPECT_EQ(self->hats0, htable_stat("hats"));
	EXPECT_EQ(self->active0, htable_stat("active_ptables"));
	munmap(rep, sizeof(*rep));
}

TEST_HARNESS_MAIN
