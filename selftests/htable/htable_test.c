// SPDX-License-Identifier: GPL-2.0
/*
 * The out-of-line helpers declared in htable_test.h: debugfs and sysfs
 * access, and the MAP and UNMAP wrappers that cross-check the out fields.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "kselftest.h"
#include "htable_test.h"

/* Read one counter from debugfs stats; -1 when it is missing. */
long long htable_stat(const char *name)
{
	char key[128];
	long long val, found = -1;
	FILE *f = fopen(HTABLE_STATS_PATH, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			found = val;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Write a decimal value to a debugfs or sysfs tunable: 0 or -errno. */
int htable_knob_write(const char *path, long long val)
{
	char buf[32];
	int fd, len, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%lld\n", val);
	if (write(fd, buf, len) != len)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

ssize_t ht_read_text(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Read a decimal tunable; -1 when it cannot be read. */
long long htable_knob_read(const char *path)
{
	char buf[32];
	char *end;
	long long val;

	if (ht_read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	val = strtoll(buf, &end, 0);
	if (end == buf)
		return -1;
	return val;
}

/* MAP as described by @m; see htable_test.h for the return value. */
int ht_map_req(int fd, struct htable_map *m)
{
	__u64 want = m->npages;
	int err;

	m->mapped = 0;
	err = ht_ioctl(fd, HTABLE_IOC_MAP, m);
	if (err) {
		if (m->mapped) {
			fprintf(stderr, "# MAP va %#llx failed (%s) but mapped %llu\n",
				m->va, strerror(-err), m->mapped);
			return HT_BADOUT;
		}
		return err;
	}
	if (m->mapped != want) {
		fprintf(stderr, "# MAP va %#llx npages %llu: mapped %llu\n",
			m->va, want, m->mapped);
		return HT_BADOUT;
	}
	return 0;
}

/* UNMAP as described by @u; see htable_test.h for the return value. */
int ht_unmap_req(int fd, struct htable_unmap *u)
{
	__u64 want = u->npages;
	int err;

	u->unmapped = 0;
	err = ht_ioctl(fd, HTABLE_IOC_UNMAP, u);
	if (err)
		return err;
	if (u->unmapped != want) {
		fprintf(stderr, "# UNMAP va %#llx npages %llu: unmapped %llu\n",
			u->va, want, u->unmapped);
		return HT_BADOUT;
	}
	return 0;
}

/*
 * HTABLE_IOC_RUN of a VERIFY window of @npages pages at @va on @cpu, with
 * @flags and @seed; @r gets the results. Returns 0 or -errno.
 */
int ht_run_verify(int fd, __u32 cpu, __u64 va, __u64 npages, __u32 flags,
		  __u64 seed, struct htable_run *r)
{
	ht_verify_fill(r, cpu, va, npages, flags, seed);
	return ht_ioctl(fd, HTABLE_IOC_RUN, r);
}

void ht_verify_fill(struct htable_run *r, __u32 cpu, __u64 va, __u64 npages,
		    __u32 flags, __u64 seed)
{
	memset(r, 0, sizeof(*r));
	r->cpu = cpu;
	r->mode = HTABLE_RUN_VERIFY;
	r->va = va;
	r->npages = npages;
	r->flags = flags;
	r->seed = seed;
}

/* Does the CPU map 1 GiB pages (pdpe1gb in /proc/cpuinfo)? */
int ht_has_pdpe1gb(void)
{
	char line[4096];
	int found = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "flags", 5) && strstr(line, " pdpe1gb");
	if (f)
		fclose(f);
	return found;
}

/*
 * Is the kernel built with KASAN? Its boot message says so; the tests size
 * a few long runs down there, where every access is checked.
 */
int ht_kernel_has_kasan(void)
{
	static int kasan = -1;

	if (kasan < 0)
		kasan = !system("dmesg | grep -q KernelAddressSanitizer");
	return kasan;
}

long ht_newest_hat_id(void)
{
	char buf[16384], *line, *save;
	long id, pid, best = -1;

	if (ht_read_text("/sys/kernel/debug/htable/hats", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, "%ld %ld", &id, &pid) == 2 && pid == getpid() && id > best)
			best = id;
	return best;
}

int htable_knobs_reset(void)
{
	static const struct {
		const char *path;
		long long val;
	} knobs[] = {
		{ HTABLE_FAIL_NTH_PATH, 0 },
		{ HTABLE_FAIL_SITE_PATH, HTABLE_FAIL_SITE_DEFAULT },
		{ HTABLE_FORCE_RESERVE_PATH, 0 },
		{ HTABLE_PTABLE_CAP_PATH, 0 },
		{ HTABLE_FORCE_STEAL_PATH, 0 },
		{ HTABLE_STEAL_PASSES_PATH, HTABLE_STEAL_PASSES_DEFAULT },
		{ HTABLE_RESERVE_AMOUNT_PATH, HTABLE_RESERVE_DEFAULT },
		{ HTABLE_REF_LIMIT_PATH, HTABLE_REF_LIMIT_DEFAULT },
	};
	int err = 0, e;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		e = htable_knob_write(knobs[i].path, knobs[i].val);
		if (!err)
			err = e;
	}
	return err;
}

int htable_fail_hits(int site, long long *calls, long long *failed)
{
	char name[32];
	FILE *f = fopen(HTABLE_FAIL_HITS_PATH, "r");
	int bit, found = 0;
	long long c, n;

	if (!f)
		return -1;
	/* The header line names the columns. */
	if (fscanf(f, "%*[^\n]\n") == EOF) {
		fclose(f);
		return -1;
	}
	while (fscanf(f, "%31s %d %lld %lld", name, &bit, &c, &n) == 4)
		if (bit == site) {
			*calls = c;
			*failed = n;
			found = 1;
		}
	fclose(f);
	return found ? 0 : -1;
}

/* ---- Rare paths: stealing and caches on demand ---- */

long long ht_reap_all(void)
{
	long long total = 0, before, after;
	int i;

	for (i = 0; i < 1000; i++) {
		before = htable_stat("hs_reaped");
		if (before < 0 || htable_knob_write(HTABLE_REAP_PATH, 0))
			return -1;
		after = htable_stat("hs_reaped");
		if (after == before)
			return total;
		total += after - before;
	}
	return -1;
}

int ht_drain_caches(void)
{
	long long cached = htable_stat("cached_tables"), left;
	int i;

	for (i = 0; i < 1000 && cached > 0; i++) {
		if (htable_knob_write(HTABLE_REAP_PATH, cached))
			return -1;
		left = htable_stat("cached_tables");
		if (left < 0 || left >= cached)
			return -1;
		cached = left;
	}
	return cached ? -1 : 0;
}

/* ---- Issue 15: the kernel's view of a page, SYNC and RELOAD ---- */

/* One u64 at index @idx of a /proc file of u64 words; ~0 on error. */
static __u64 ht_proc_word(const char *path, __u64 idx)
{
	__u64 val = ~0ULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ~0ULL;
	if (pread(fd, &val, sizeof(val), idx * sizeof(val)) != sizeof(val))
		val = ~0ULL;
	close(fd);
	return val;
}

__u64 ht_pagemap_pfn(const void *addr)
{
	__u64 e = ht_proc_word("/proc/self/pagemap", (unsigned long)addr >> HT_PAGE_SHIFT);

	/* Bit 63: present; bits 0-54: the pfn. */
	if (e == ~0ULL || !(e >> 63))
		return 0;
	return e & (_BITULL(55) - 1);
}

__u64 ht_kpageflags(__u64 pfn)
{
	return ht_proc_word("/proc/kpageflags", pfn);
}

__u64 ht_kpagecount(__u64 pfn)
{
	return ht_proc_word("/proc/kpagecount", pfn);
}

int ht_sync_req(int fd, __u64 va, __u64 npages, __u32 flags,
		struct htable_sync *s)
{
	memset(s, 0, sizeof(*s));
	s->va = va;
	s->npages = npages;
	s->flags = flags;
	s->referenced = ~0ULL;
	s->modified = ~0ULL;
	return ht_ioctl(fd, HTABLE_IOC_SYNC, s);
}

int ht_sync(int fd, __u64 va, __u64 npages, __u32 flags, __u64 *ref, __u64 *mod)
{
	struct htable_sync s;
	int err;

	err = ht_sync_req(fd, va, npages, flags, &s);
	if (err)
		return err;
	*ref = s.referenced;
	*mod = s.modified;
	return 0;
}

int ht_reload(int fd, __u64 va, __u64 npages, __u64 *reloaded)
{
	struct htable_reload r = { .va = va, .npages = npages };
	int err;

	r.reloaded = ~0ULL;
	err = ht_ioctl(fd, HTABLE_IOC_RELOAD, &r);
	if (err)
		return err;
	*reloaded = r.reloaded;
	return 0;
}

int ht_uffd_page(void **page)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int uffd = syscall(__NR_userfaultfd, O_CLOEXEC);

	if (uffd < 0)
		return -errno;
	*page = mmap(NULL, HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg.range.start = (uintptr_t)*page;
	reg.range.len = HT_PAGE_SIZE;
	if (*page == MAP_FAILED || ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		int err = -errno;

		close(uffd);
		return err;
	}
	return uffd;
}
