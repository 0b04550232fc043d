// SPDX-License-Identifier: GPL-2.0
/*
 * RUN for htable_cr3_test: the request with its out fields poisoned,
 * what a VERIFY must report, the possible CPUs, and the debugfs counters
 * windows and SYNC move (SYNC is ht_sync_req() of htable_test.c).
 */
#include "htable_cr3.h"

/* HTABLE_IOC_RUN as filled in: 0 or -errno; out fields poisoned first. */
int cr3_run_req(int fd, struct htable_run *r)
{
	r->nsamples = POISON32;
	r->verified = POISON64;
	r->mismatches = POISON64;
	r->faults = POISON64;
	r->first_fault_va = POISON64;
	r->first_mismatch_va = POISON64;
	r->reads = POISON64;
	r->valid_reads = POISON64;
	r->clobbers = POISON64;
	r->elapsed_ns = POISON64;
	r->watchdog = POISON32;
	return ht_ioctl(fd, HTABLE_IOC_RUN, r);
}

int cr3_run_verify(int fd, __u32 cpu, __u64 va, __u64 npages,
		   __u32 flags, __u64 seed, struct htable_run *r)
{
	ht_verify_fill(r, cpu, va, npages, flags, seed);
	return cr3_run_req(fd, r);
}

/*
 * What a VERIFY that must find @verified pages and fault on @faults
 * (the first at @first_fault) reports. Returns the number of problems.
 */
int cr3_verify_result(const struct htable_run *r, __u64 verified,
		      __u64 faults, __u64 first_fault)
{
	int bad = 0;

	if (r->verified != verified || r->mismatches || r->faults != faults) {
		fprintf(stderr,
			"# VERIFY va %#llx x %llu: verified %llu mismatches %llu (first %#llx) faults %llu, want %llu/0/%llu\n",
			r->va, r->npages, r->verified, r->mismatches,
			r->first_mismatch_va, r->faults, verified, faults);
		bad++;
	}
	if (faults && r->first_fault_va != first_fault) {
		fprintf(stderr, "# VERIFY first_fault_va %#llx, want %#llx\n",
			r->first_fault_va, first_fault);
		bad++;
	}
	if (!r->elapsed_ns || r->elapsed_ns == POISON64) {
		fprintf(stderr, "# VERIFY elapsed_ns %#llx\n", r->elapsed_ns);
		bad++;
	}
	if (r->watchdog || r->reserved || r->clobbers == POISON64) {
		fprintf(stderr, "# VERIFY watchdog %u reserved %u clobbers %#llx\n",
			r->watchdog, r->reserved, r->clobbers);
		bad++;
	}
	return bad;
}

/* The number of possible CPUs, from sysfs ("0-3" gives 4), or -1. */
int cr3_possible_cpus(void)
{
	char buf[256], *p;
	long last = -1;

	if (ht_read_text("/sys/devices/system/cpu/possible", buf, sizeof(buf)) < 0)
		return -1;
	/* The last number of the list is the highest possible CPU. */
	for (p = buf; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			last = strtol(p, &p, 10);
			if (!*p)
				break;
		}
	}
	return last < 0 ? -1 : (int)last + 1;
}

static const char * const st_name[NR_ST] = {
	"hs_windows", "hs_pages_verified", "hs_window_faults", "hs_ad_syncs",
	"hs_cr3_clobbers", "hs_watchdog_ends",
};

/* Read every counter: 0, or the number missing. */
int cr3_stats_read(long long *v)
{
	int i, bad = 0;

	for (i = 0; i < NR_ST; i++) {
		v[i] = htable_stat(st_name[i]);
		if (v[i] < 0) {
			fprintf(stderr, "# counter %s missing\n", st_name[i]);
			bad++;
		}
	}
	return bad;
}

/* Compare the counters' moves since @before with @want: the problems. */
int cr3_stats_moved(const long long *before, const long long *want)
{
	long long now[NR_ST];
	int i, bad = cr3_stats_read(now);

	for (i = 0; i < NR_ST && !bad; i++) {
		if (now[i] - before[i] != want[i]) {
			fprintf(stderr, "# %s moved by %lld, want %lld\n",
				st_name[i], now[i] - before[i], want[i]);
			bad++;
		}
	}
	return bad;
}
