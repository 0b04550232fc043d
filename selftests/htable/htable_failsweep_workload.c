// SPDX-License-Identifier: GPL-2.0
/*
 * The workload of every_allocation_site (htable_failsweep_test): a
 * fixed sequence of MAPs, windows, a reap, an UNMAP, SHARE and PIN maps in
 * which only the ABI's errors may show whatever allocation fails, the
 * check of the hat once the knob is off, fail_hits, and free memory.
 */
#include <sys/mman.h>

#include "htable_failsweep.h"

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
	int ret;

	if (resident) {
		r.mode = HTABLE_RUN_RESIDENT;
		r.duration_ms = 1;
		r.samples = (uintptr_t)samples;
		r.max_samples = 4;
	} else {
		r.seed = 7;
	}
	ret = ht_ioctl(fd, HTABLE_IOC_RUN, &r);
	if (ret)
		return ret;
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

	return ht_ioctl(fd, owner_fd < 0 ? HTABLE_IOC_UNSHARE : HTABLE_IOC_SHARE, &sh);
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
void sweep_workload(struct sweep *s)
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
	/* Steals of tables in use record each entry (the xarray site). */
	if (ht_reap_all() < 0)
		s->bad++;
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
void sweep_settle_and_verify(struct sweep *s)
{
	static const __u64 ranges[][2] = {
		{ VA_A, N_A }, { VA_B, N_B }, { VA_C, N_C },
	};
	struct htable_reload r;
	int ret;

	if (s->fd2 >= 0)
		close(s->fd2);
	s->fd2 = -1;
	if (!s->opened)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++) {
		memset(&r, 0, sizeof(r));
		r.va = ranges[i][0];
		r.npages = ranges[i][1];
		ret = ht_ioctl(s->h.fd, HTABLE_IOC_RELOAD, &r);
		if (ret) {
			fprintf(stderr, "# RELOAD: %s\n", strerror(-ret));
			s->bad++;
		}
	}
	s->bad += ht_verify_model(s->h.fd, &s->h.m, s->h.levels, 1);
	ht_hat_close(&s->h);
}

long long sweep_free_kb(void)
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
