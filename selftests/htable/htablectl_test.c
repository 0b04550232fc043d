// SPDX-License-Identifier: GPL-2.0
/*
 * htablectl against the ioctls. Each test opens a hat, hands its fd to
 * htablectl (--fd), and checks what htablectl prints against what the
 * ioctls report for the same hat: an operation htablectl performs must
 * show in the test's own PROBE/INFO/RW, and what it prints must equal the
 * test's own PROBE/INFO/CHECK/SYNC/debugfs reads. Error paths must exit
 * non-zero with the errno in words.
 *
 * The ABI 1.1 commands: map with 2 MiB pages (and 1 GiB, where the guest
 * has a free 1 GiB hugetlb page for htablectl to pin), probe's level and
 * page size, info's large pages, share and unshare between two hats, and
 * their conflicts, each errno compared with the one the ioctl gives for
 * the same request on the same hat.
 */
#include <ctype.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define GIB	0x40000000ULL
#define OUTSZ	(256 * 1024)
#define NP_2M	HTABLE_2M_NPAGES
#define NP_1G	HTABLE_1G_NPAGES
#define PTE_PS	_BITULL(7)
#define FREE_1G_PATH	"/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"

struct run {
	int status;		/* exit status, or 128 + signal */
	char out[OUTSZ];	/* standard output */
	char err[4096];		/* standard error */
};

static struct run r;

/* sscanf() for the ASSERTs, which check what it returns. */
static int scan(const char *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!s)
		return -1;
	va_start(ap, fmt);
	n = vsscanf(s, fmt, ap);
	va_end(ap);
	return n;
}

/* Read all of @fd into @buf (NUL-terminated). */
static void slurp(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
}

/*
 * Run "htablectl --fd FD ARGS" (no --fd when @fd < 0), ARGS split at
 * blanks, with @input (if any) on standard input. Fills r; returns the
 * exit status. stderr is small, so it is read after stdout.
 */
static int ctl_in(int fd, const char *input, const char *fmt, ...)
{
	char line[1024], shown[1024], fdarg[16], *argv[40], *save, *w;
	int po[2], pe[2], pi[2], argc = 0, st;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(shown, sizeof(shown), "%s", line);
	argv[argc++] = "htablectl";
	if (fd >= 0) {
		snprintf(fdarg, sizeof(fdarg), "%d", fd);
		argv[argc++] = "--fd";
		argv[argc++] = fdarg;
	}
	for (w = strtok_r(line, " ", &save); w && argc < 39; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	if (pipe(po) || pipe(pe) || pipe(pi))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(pi[0], 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(pi[1]);
		close(po[0]);
		close(pe[0]);
		execvp("htablectl", argv);
		fprintf(stderr, "exec htablectl: %s\n", strerror(errno));
		_exit(127);
	}
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	if (input && write(pi[1], input, strlen(input)) < 0)
		perror("write");
	close(pi[1]);
	slurp(po[0], r.out, sizeof(r.out));
	slurp(pe[0], r.err, sizeof(r.err));
	close(po[0]);
	close(pe[0]);
	waitpid(pid, &st, 0);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (r.status)
		printf("# htablectl %s: exit %d: %s", shown, r.status, r.err);
	return r.status;
}

#define ctl(fd, ...)	ctl_in(fd, NULL, __VA_ARGS__)

/* The hat behind a fd htablectl can inherit (the helpers use O_CLOEXEC). */
static int open_hat(void)
{
	return open(HTABLE_DEV_PATH, O_RDWR);
}

/* The line of r.out that starts with @prefix, or NULL. */
static const char *line_of(const char *prefix)
{
	const char *p = r.out;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (!strncmp(p, prefix, n))
			return p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* Parse "name v0 v1 ..." from r.out into @v; returns how many. */
static int values_of(const char *name, unsigned long long *v, int max)
{
	const char *p = line_of(name);
	int n = 0, off;

	if (!p)
		return 0;
	p += strlen(name);
	while (n < max && sscanf(p, " %lli%n", &v[n], &off) == 1) {
		p += off;
		n++;
	}
	return n;
}

TEST(version_and_probe_match_ioctls)
{
	struct htable_version v;
	struct htable_probe p;
	unsigned int maj, min, lev, shift, flags, level;
	unsigned long long va, pfn, pte;
	__u64 vas[] = { 4 * GIB, 4 * GIB + 5 * 4096, 4 * GIB + 7 * 4096 + 123, 8 * GIB };
	char fl[64];
	int fd = open_hat(), i;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_VERSION, &v));
	ASSERT_EQ(0, ctl(fd, "version"));
	ASSERT_EQ(4, scan(r.out, "ABI %u.%u, %u levels, page shift %u",
			  &maj, &min, &lev, &shift));
	EXPECT_EQ(v.major, maj);
	EXPECT_EQ(v.minor, min);
	EXPECT_EQ(v.levels, lev);
	EXPECT_EQ(v.page_shift, shift);

	ASSERT_EQ(0, ht_map(fd, 4 * GIB, 8, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(fd, 4 * GIB + 8 * 4096, 1, HTABLE_MAP_LOCK | HTABLE_MAP_EXEC));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, ht_probe(fd, vas[i], &p));
		ASSERT_EQ(0, ctl(fd, "probe %#llx", (unsigned long long)vas[i]));
		ASSERT_EQ(3, scan(r.out, "probe %llx: flags %x (%63[^)])", &va, &flags, fl));
		EXPECT_EQ(vas[i], va);
		EXPECT_EQ(p.flags, flags);
		if (!(p.flags & HTABLE_PROBE_PRESENT)) {
			EXPECT_STREQ("none", fl);
			continue;
		}
		ASSERT_NE(NULL, strstr(r.out, " level "));
		ASSERT_EQ(3, scan(strstr(r.out, " level "), " level %u pfn %llx pte %llx",
				  &level, &pfn, &pte));
		EXPECT_EQ(p.level, level);
		EXPECT_EQ(p.pfn, pfn);
		EXPECT_EQ(p.pte, pte);
		EXPECT_NE(NULL, strstr(fl, "present"));
		EXPECT_EQ(!!(p.flags & HTABLE_PROBE_WRITE), !!strstr(fl, "write"));
	}
	/* The locked, executable page of the second map. */
	ASSERT_EQ(0, ctl(fd, "probe %#llx", 4 * GIB + 8 * 4096));
	EXPECT_NE(NULL, strstr(r.out, "exec,locked"));
	close(fd);
}

TEST(map_unmap_through_htablectl_show_in_ioctls)
{
	struct htable_probe p;
	struct htable_info in;
	unsigned long long n, va;
	int fd = open_hat(), i;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ctl(fd, "map 4g 600 write lock"));
	ASSERT_EQ(2, scan(r.out, "mapped %llu pages at %llx", &n, &va));
	EXPECT_EQ(600, n);
	EXPECT_EQ(4 * GIB, va);
	ASSERT_EQ(0, ht_info(fd, &in));
	EXPECT_EQ(600, in.mapped_pages);
	EXPECT_EQ(600, in.locked);
	for (i = 0; i < 600; i += 97) {
		ASSERT_EQ(0, ht_probe(fd, 4 * GIB + i * 4096ULL, &p));
		EXPECT_EQ(HTABLE_PROBE_PRESENT | HTABLE_PROBE_WRITE | HTABLE_PROBE_LOCKED |
			  HTABLE_PROBE_OWNED, p.flags & ~HT_PROBE_HW);
	}
	/* Aliases: 16 vas backed by the page at 4g. */
	ASSERT_EQ(0, ctl(fd, "map 8g 16 alias 4g count 1"));
	ASSERT_EQ(0, ht_probe(fd, 4 * GIB, &p));
	n = p.pfn;
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(0, ht_probe(fd, 8 * GIB + i * 4096ULL, &p));
		EXPECT_EQ(n, p.pfn);
	}
	ASSERT_EQ(0, ctl(fd, "unmap 0x100000000 300"));
	EXPECT_NE(NULL, line_of("unmapped 300 pages at 0x100000000"));
	ASSERT_EQ(0, ht_probe(fd, 4 * GIB + 299 * 4096ULL, &p));
	EXPECT_EQ(0, p.flags & HTABLE_PROBE_PRESENT);
	ASSERT_EQ(0, ht_probe(fd, 4 * GIB + 300 * 4096ULL, &p));
	EXPECT_NE(0, p.flags & HTABLE_PROBE_PRESENT);
	ASSERT_EQ(0, ht_info(fd, &in));
	EXPECT_EQ(316, in.mapped_pages);
	close(fd);
}

TEST(info_check_and_tree_match_ioctls)
{
	unsigned long long tables[HTABLE_MAX_LEVELS] = { 0 }, valid[HTABLE_MAX_LEVELS] = { 0 };
	unsigned long long v[8];
	unsigned long long locked = 0, e, t, n, a, b, vv, lk;
	struct htable_info in;
	struct htable_check c;
	const char *p;
	unsigned int l;
	long id;
	int fd = open_hat();

	ASSERT_LE(0, fd);
	id = ht_newest_hat_id();
	ASSERT_LT(0, id);
	ASSERT_EQ(0, ht_map(fd, 4 * GIB - 1024 * 4096, 2048, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(fd, 64 * GIB, 3, HTABLE_MAP_LOCK));
	ASSERT_EQ(0, ht_info(fd, &in));

	ASSERT_EQ(0, ctl(fd, "info"));
	ASSERT_EQ(1, values_of("levels", v, 1));
	EXPECT_EQ(in.levels, v[0]);
	ASSERT_EQ(in.levels, values_of("tables", v, 8));
	for (l = 0; l < in.levels; l++)
		EXPECT_EQ(in.tables[l], v[l]);
	ASSERT_EQ(in.levels, values_of("valid", v, 8));
	for (l = 0; l < in.levels; l++)
		EXPECT_EQ(in.valid[l], v[l]);
	ASSERT_EQ(1, values_of("locked", v, 1));
	EXPECT_EQ(in.locked, v[0]);
	ASSERT_EQ(1, values_of("mapped_pages", v, 1));
	EXPECT_EQ(in.mapped_pages, v[0]);
	ASSERT_EQ(1, values_of("owned_pages", v, 1));
	EXPECT_EQ(in.owned_pages, v[0]);
	ASSERT_EQ(1, values_of("cached", v, 1));
	EXPECT_EQ(in.cached, v[0]);
	ASSERT_EQ(1, values_of("live_cpus", v, 1));
	EXPECT_EQ(in.live_cpus, v[0]);
	ASSERT_EQ(1, values_of("stolen", v, 1));
	EXPECT_EQ(in.stolen, v[0]);

	ASSERT_EQ(0, ht_check(fd, &c));
	ASSERT_EQ(0, ctl(fd, "check"));
	ASSERT_EQ(3, scan(r.out, "check: %llu errors over %llu tables, %llu entries", &e, &t, &n));
	EXPECT_EQ(c.errors, e);
	EXPECT_EQ(c.tables, t);
	EXPECT_EQ(c.entries, n);

	/* Every table drawn once: per level, the counts INFO gives. */
	ASSERT_EQ(0, ctl(fd, "--id %ld tree", id));
	for (p = r.out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *q = p;

		while (*q == ' ' || *q == '|' || *q == '`' || *q == '-')
			q++;
		if (scan(q, "L%u 0x%llx-0x%llx valid %llu locked %llu",
			 &l, &a, &b, &vv, &lk) != 5)
			continue;
		ASSERT_GT(HTABLE_MAX_LEVELS, l);
		EXPECT_EQ(b - a + 1, 1ULL << (12 + 9 * (l + 1)));
		tables[l]++;
		valid[l] += vv;
		locked += lk;
	}
	for (l = 0; l < in.levels; l++) {
		EXPECT_EQ(in.tables[l], tables[l]);
		EXPECT_EQ(in.valid[l], valid[l]);
	}
	EXPECT_EQ(in.locked, locked);
	EXPECT_NE(NULL, strstr(r.out, "check: 0 errors"));
	close(fd);
}

TEST(verify_sync_and_rw_match_ioctls)
{
	struct htable_sync s = { .va = 4 * GIB, .npages = 256 };
	char text[] = "htablectl was here", buf[64];
	struct htable_rw rw = { .va = 4 * GIB + 3 * 4096 + 100, .buf = (uintptr_t)buf };
	unsigned long long va, npages, verified, mism, faults, a, d, addr;
	long long before = htable_stat("hs_pages_verified");
	unsigned int cpu, x[16], i;
	int fd = open_hat();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ht_map(fd, 4 * GIB, 256, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ctl(fd, "verify 4g 256 write cpu 0"));
	ASSERT_EQ(3, scan(r.out, "verify %llx %llu on CPU %u: ", &va, &npages, &cpu));
	ASSERT_EQ(3, scan(strchr(r.out, ':'), ": %llu verified, %llu mismatches, %llu faults",
			  &verified, &mism, &faults));
	EXPECT_EQ(4 * GIB, va);
	EXPECT_EQ(256, npages);
	EXPECT_EQ(0, cpu);
	EXPECT_EQ(256, verified);
	EXPECT_EQ(0, mism);
	EXPECT_EQ(0, faults);
	EXPECT_EQ(256, htable_stat("hs_pages_verified") - before);

	/* The window set A and D on every page; both views must agree. */
	ASSERT_EQ(0, ctl(fd, "sync 4g 256"));
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_SYNC, &s));
	ASSERT_EQ(2, scan(r.out, "sync %*x %*u: %llu accessed, %llu dirty", &a, &d));
	EXPECT_EQ(s.referenced, a);
	EXPECT_EQ(s.modified, d);
	EXPECT_EQ(256, a);
	EXPECT_EQ(256, d);
	ASSERT_EQ(0, ctl(fd, "sync 4g 256 clear"));
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_SYNC, &s));
	EXPECT_EQ(0, s.referenced);
	EXPECT_EQ(0, s.modified);

	/* A verify over a hole fails, and says where. */
	EXPECT_EQ(1, ctl(fd, "verify 4g 257 cpu 0"));
	EXPECT_NE(NULL, strstr(r.out, "first fault at 0x100100000"));

	/* write through htablectl, read through the ioctl ... */
	ASSERT_EQ(0, ctl(fd, "write %#llx htablectl was here", (unsigned long long)rw.va));
	rw.len = sizeof(text) - 1;
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_RW, &rw));
	EXPECT_EQ(0, memcmp(buf, text, sizeof(text) - 1));
	/* ... and the other way round. */
	for (i = 0; i < 16; i++)
		buf[i] = 0xf0 + i;
	rw.len = 16;
	rw.flags = HTABLE_RW_WRITE;
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_RW, &rw));
	ASSERT_EQ(0, ctl(fd, "rw read %#llx 16", (unsigned long long)rw.va));
	ASSERT_EQ(17, scan(r.out, "%llx: %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x",
			   &addr, &x[0], &x[1], &x[2], &x[3], &x[4], &x[5], &x[6], &x[7],
			   &x[8], &x[9], &x[10], &x[11], &x[12], &x[13], &x[14], &x[15]));
	EXPECT_EQ(rw.va, addr);
	for (i = 0; i < 16; i++)
		EXPECT_EQ(0xf0 + i, x[i]);
	close(fd);
}

TEST(reap_and_reload_match_ioctls)
{
	unsigned long long reaped, reloaded, missing = 0, i;
	long long before = htable_stat("hs_reaped");
	struct htable_probe p;
	int fd = open_hat();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, htable_knobs_reset());
	ASSERT_EQ(0, ht_map(fd, 4 * GIB, 2048, HTABLE_MAP_WRITE));
	/* Reaping takes idle leaf tables in use: their translations go. */
	ASSERT_EQ(0, ctl(fd, "reap 100"));
	ASSERT_EQ(1, scan(r.out, "reaped %llu tables", &reaped));
	EXPECT_EQ(htable_stat("hs_reaped") - before, reaped);
	for (i = 0; i < 2048; i++) {
		ASSERT_EQ(0, ht_probe(fd, 4 * GIB + i * 4096, &p));
		EXPECT_NE(0, p.flags & HTABLE_PROBE_OWNED);
		missing += !(p.flags & HTABLE_PROBE_PRESENT);
	}
	ASSERT_LT(0, missing);
	ASSERT_EQ(0, ctl(fd, "reload 4g 2048"));
	ASSERT_EQ(1, scan(r.out, "reloaded %llu translations", &reloaded));
	EXPECT_EQ(missing, reloaded);
	for (i = 0; i < 2048; i++) {
		ASSERT_EQ(0, ht_probe(fd, 4 * GIB + i * 4096, &p));
		EXPECT_NE(0, p.flags & HTABLE_PROBE_PRESENT);
	}
	/* steal N is the force_steal knob. */
	ASSERT_EQ(0, ctl(fd, "steal 3"));
	EXPECT_EQ(3, htable_knob_read(HTABLE_FORCE_STEAL_PATH));
	ASSERT_EQ(0, ctl(fd, "knob force_steal"));
	EXPECT_NE(NULL, line_of("force_steal 3"));
	ASSERT_EQ(0, ctl(fd, "steal 0"));
	EXPECT_EQ(0, htable_knob_read(HTABLE_FORCE_STEAL_PATH));
	close(fd);
}

/* "name": value in a one-line JSON object. */
static int json_get(const char *json, const char *name, long long *v)
{
	char key[80];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\": ", name);
	p = strstr(json, key);
	return p && sscanf(p + strlen(key), "%lld", v) == 1;
}

TEST(stats_json_delta_and_watch_match_debugfs)
{
	static const char *const names[] = {
		"hs_ptable_allocs", "hs_hats_created", "hs_htable_rputs", "active_ptables",
		"reserve_cnt", "hats", "tables_l0",
	};
	long long a0, a1, v;
	unsigned int i;
	int fd = open_hat();
	char *nl;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ctl(-1, "stats --json"));
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		ASSERT_TRUE(json_get(r.out, names[i], &v));
		EXPECT_EQ(htable_stat(names[i]), v);
	}
	ASSERT_EQ(0, ctl(-1, "stats"));
	EXPECT_NE(NULL, line_of("hs_ptable_allocs "));
	ASSERT_EQ(0, ctl(-1, "stat hats"));
	ASSERT_EQ(1, scan(r.out, "hats %lld", &v));
	EXPECT_EQ(htable_stat("hats"), v);

	/* mark/delta in a shell: the delta is what the map allocated. */
	a0 = htable_stat("hs_ptable_allocs");
	ASSERT_EQ(0, ctl_in(fd, "mark\nmap 16g 1024 write\ndelta\n", "shell"));
	a1 = htable_stat("hs_ptable_allocs");
	ASSERT_LT(a0, a1);
	ASSERT_NE(NULL, line_of("hs_ptable_allocs"));
	ASSERT_EQ(1, scan(line_of("hs_ptable_allocs"), "hs_ptable_allocs %*d %lld", &v));
	EXPECT_EQ(a1 - a0, v);
	EXPECT_EQ(NULL, line_of("hs_hats_created"));	/* unchanged, not shown */

	/* Watch: two JSON samples a second apart, the second with deltas. */
	ASSERT_EQ(0, ctl(-1, "stats --watch 1 --count 2 --json"));
	nl = strchr(r.out, '\n');
	ASSERT_NE(NULL, nl);
	ASSERT_NE(NULL, strstr(nl, "\"delta\": {"));
	ASSERT_TRUE(json_get(strstr(nl, "\"delta\": {"), "hs_ptable_allocs", &v));
	EXPECT_EQ(0, v);
	close(fd);
}

TEST(shell_session_and_errors)
{
	int fd = open_hat();

	ASSERT_LE(0, fd);
	/* A script: its own hat, commands echoed with -x, ';' and comments. */
	ASSERT_EQ(0, ctl_in(-1, "map 4g 4 write # four pages\nprobe 4g; check\n"
			    "verify 4g 4 write\nopen\ninfo\nuse 1\nsync 4g 4\ntree\n", "shell -x"));
	EXPECT_NE(NULL, line_of("htable> map 4g 4 write"));
	EXPECT_NE(NULL, line_of("mapped 4 pages at 0x100000000"));
	EXPECT_NE(NULL, line_of("check: 0 errors over"));
	EXPECT_NE(NULL, line_of("hat 2 open"));
	EXPECT_NE(NULL, line_of("mapped_pages  0"));
	EXPECT_NE(NULL, line_of("sync 0x100000000 4: 4 accessed, 4 dirty"));
	EXPECT_NE(NULL, strstr(r.out, "`-- L0 0x100000000-0x1001fffff valid 4 locked 0"));

	/* The first failure ends a script, with the errno in words. */
	EXPECT_EQ(1, ctl_in(-1, "map 4g 1\nmap 4g 1\nprobe 4g\n", "shell"));
	EXPECT_NE(NULL, strstr(r.err, "map: File exists (EEXIST)"));
	EXPECT_EQ(NULL, line_of("probe"));

	EXPECT_EQ(1, ctl(fd, "map 0x1001 1"));
	EXPECT_NE(NULL, strstr(r.err, "map: Invalid argument (EINVAL)"));
	EXPECT_EQ(1, ctl(fd, "unmap 4g 1"));
	EXPECT_NE(NULL, strstr(r.err, "unmap: No such file or directory (ENOENT)"));
	EXPECT_EQ(1, ctl(fd, "verify 4g 1 cpu 4096"));
	EXPECT_NE(NULL, strstr(r.err, "verify: "));
	EXPECT_EQ(1, ctl(fd, "read 4g"));
	EXPECT_NE(NULL, strstr(r.err, "read: "));
	EXPECT_EQ(2, ctl(fd, "map 4q 1"));
	EXPECT_NE(NULL, strstr(r.err, "bad va '4q'"));
	EXPECT_EQ(2, ctl(fd, "map"));
	EXPECT_NE(NULL, strstr(r.err, "wrong number of arguments"));
	EXPECT_EQ(2, ctl(fd, "verify 4g 1 cpu"));
	EXPECT_NE(NULL, strstr(r.err, "'cpu' needs a value"));
	EXPECT_EQ(2, ctl(fd, "frobnicate"));
	EXPECT_NE(NULL, strstr(r.err, "unknown command 'frobnicate'"));
	EXPECT_EQ(2, ctl(fd, "knob ../stats 1"));
	EXPECT_EQ(1, ctl(-1, "--dev /dev/htable-none info"));
	EXPECT_NE(NULL, strstr(r.err, "is the htable module loaded?"));
	EXPECT_EQ(1, ctl(-1, "--debugfs /nonexistent stats"));
	EXPECT_NE(NULL, strstr(r.err, "is the htable module loaded?"));
	EXPECT_EQ(0, ctl(-1, "--help"));
	EXPECT_NE(NULL, strstr(r.out, "usage: htablectl"));
	close(fd);
}

/*
 * r.err reports errno @err for @cmd as htablectl must: its strerror()
 * words and its name.
 */
static int err_says(const char *cmd, int err, const char *name)
{
	char want[160];

	snprintf(want, sizeof(want), "%s: %s (%s)", cmd, strerror(err), name);
	if (strstr(r.err, want))
		return 1;
	printf("# want '%s' in: %s", want, r.err);
	return 0;
}

/* The PROBE htablectl prints: level, pfn, pte and page size. */
static int ctl_probe(int fd, __u64 va, unsigned int *level, unsigned long long *pfn,
		     unsigned long long *pte, char *size)
{
	const char *p;

	if (ctl(fd, "probe %#llx", (unsigned long long)va))
		return -1;
	p = strstr(r.out, " level ");
	if (!p)
		return -1;
	return scan(p, " level %u pfn %llx pte %llx page %3s", level, pfn, pte, size) == 4 ?
	       0 : -1;
}

/* One number after @name in r.out's line of that name, at index @i. */
static long long value_at(const char *name, int i)
{
	unsigned long long v[HTABLE_MAX_LEVELS];

	return values_of(name, v, HTABLE_MAX_LEVELS) > i ? (long long)v[i] : -1;
}

/*
 * The ABI 1.1 tests map and pin more (a 1 GiB hugetlb page is zeroed
 * under TCG) than the harness's 30 s default allows on a loaded host.
 */
#define ABI11_TIMEOUT	180

FIXTURE(abi11) {
	int unused;
};

FIXTURE_SETUP(abi11)
{
}

FIXTURE_TEARDOWN(abi11)
{
}

TEST_F_TIMEOUT(abi11, map_2m_probe_and_split_match_ioctls, ABI11_TIMEOUT)
{
	unsigned long long n, va, pfn, pte;
	struct htable_probe p;
	struct htable_info in;
	unsigned int level;
	char size[4];
	long id;
	int fd = open_hat(), i;

	ASSERT_LE(0, fd);
	id = ht_newest_hat_id();
	ASSERT_LT(0, id);
	ASSERT_EQ(0, ctl(fd, "map 4g 1024 write 2m"));
	ASSERT_EQ(2, scan(r.out, "mapped %llu pages at %llx as 2 2M pages", &n, &va));
	EXPECT_EQ(1024, n);
	EXPECT_EQ(4 * GIB, va);
	ASSERT_EQ(0, ht_info(fd, &in));
	EXPECT_EQ(1024, in.mapped_pages);
	EXPECT_EQ(0, in.tables[0]);
	EXPECT_EQ(2, in.valid[1]);
	for (i = 0; i < 1024; i += 211) {
		__u64 v = 4 * GIB + i * HT_PAGE_SIZE + 17;

		ASSERT_EQ(0, ht_probe(fd, v, &p));
		ASSERT_EQ(0, ctl_probe(fd, v, &level, &pfn, &pte, size));
		EXPECT_EQ(1, p.level);
		EXPECT_EQ(p.level, level);
		EXPECT_EQ(p.pfn, pfn);
		EXPECT_EQ(p.pte, pte);
		EXPECT_NE(0, p.pte & PTE_PS);
		EXPECT_STREQ("2M", size);
		EXPECT_NE(NULL, strstr(r.out, "page 2M (PS)"));
	}
	/* info: INFO's fields, and the two large entries at level 1. */
	ASSERT_EQ(0, ctl(fd, "--id %ld info", id));
	EXPECT_EQ(in.valid[1], value_at("valid", 1));
	EXPECT_EQ(0, value_at("large_pages", 0));
	EXPECT_EQ(2, value_at("large_pages", 1));
	EXPECT_EQ(0, value_at("large_pages", 2));
	EXPECT_EQ(0, value_at("shared_tables", 0));

	/* Unmapping one 4 KiB page splits its 2 MiB page: one leaf table. */
	ASSERT_EQ(0, ctl(fd, "unmap %#llx 1", 4 * GIB + 5 * HT_PAGE_SIZE));
	ASSERT_EQ(0, ht_info(fd, &in));
	EXPECT_EQ(1, in.tables[0]);
	EXPECT_EQ(NP_2M - 1, in.valid[0]);
	EXPECT_EQ(1023, in.mapped_pages);
	ASSERT_EQ(0, ht_probe(fd, 4 * GIB + 6 * HT_PAGE_SIZE, &p));
	ASSERT_EQ(0, ctl_probe(fd, 4 * GIB + 6 * HT_PAGE_SIZE, &level, &pfn, &pte, size));
	EXPECT_EQ(0, p.level);
	EXPECT_EQ(p.level, level);
	EXPECT_EQ(p.pte, pte);
	EXPECT_STREQ("4K", size);
	EXPECT_EQ(NULL, strstr(r.out, "(PS)"));
	ASSERT_EQ(0, ctl(fd, "--id %ld info", id));
	EXPECT_EQ(1, value_at("large_pages", 1));
	ASSERT_EQ(0, ctl(fd, "--id %ld tree", id));
	EXPECT_NE(NULL, strstr(r.out, "valid 2 locked 0 busy 1, 1 2M page\n"));
	EXPECT_NE(NULL, strstr(r.out, "L1: 1 tables, 2 valid entries, 1 2M page\n"));
	EXPECT_NE(NULL, strstr(r.out, "check: 0 errors"));
	close(fd);
}

TEST_F_TIMEOUT(abi11, large_page_conflicts_print_the_ioctl_errno, ABI11_TIMEOUT)
{
	const struct {
		const char *cmd;
		__u64 va, npages;
		__u32 flags;
		const char *name;
	} c[] = {
		{ "map %#llx 1", 4 * GIB + 5 * HT_PAGE_SIZE, 1, 0, "EBUSY" },
		{ "map %#llx 512 2m", 8 * GIB, NP_2M, HTABLE_MAP_2M, "ENOTEMPTY" },
		{ "map %#llx 512 2m", 4 * GIB, NP_2M, HTABLE_MAP_2M, "EEXIST" },
		{ "map %#llx 512 2m", 8 * GIB + HT_PAGE_SIZE, NP_2M, HTABLE_MAP_2M, "EINVAL" },
	};
	struct htable_info before, after;
	unsigned int i;
	int fd = open_hat(), err;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ht_map(fd, 4 * GIB, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(fd, 8 * GIB + 7 * HT_PAGE_SIZE, 1, 0));
	ASSERT_EQ(0, ht_info(fd, &before));
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		err = -ht_map(fd, c[i].va, c[i].npages, c[i].flags);
		ASSERT_LT(0, err);
		EXPECT_EQ(1, ctl(fd, c[i].cmd, (unsigned long long)c[i].va));
		EXPECT_TRUE(err_says("map", err, c[i].name));
		ASSERT_EQ(0, ht_info(fd, &after));
		EXPECT_EQ(before.mapped_pages, after.mapped_pages);
		EXPECT_EQ(0, memcmp(before.valid, after.valid, sizeof(before.valid)));
	}
	/* Usage errors htablectl catches itself. */
	EXPECT_EQ(2, ctl(fd, "map 16g 512 2m 1g"));
	EXPECT_NE(NULL, strstr(r.err, "one page size"));
	EXPECT_EQ(2, ctl(fd, "map 16g 512 2m pin alias 4g"));
	EXPECT_NE(NULL, strstr(r.err, "'pin' and 'alias' exclude each other"));
	close(fd);
}

TEST_F_TIMEOUT(abi11, share_unshare_match_ioctls, ABI11_TIMEOUT)
{
	unsigned long long n, va, pfn, pte, tables;
	long long shared0 = htable_stat("hs_htable_shared");
	long long unshared0 = htable_stat("hs_htable_unshared");
	struct htable_share sh = { 0 };
	struct htable_probe po, ps;
	struct htable_info in;
	unsigned int level;
	const char *p;
	char size[4];
	int owner = open_hat(), fd, err, i;
	long id;

	ASSERT_LE(0, owner);
	fd = open_hat();
	ASSERT_LE(0, fd);
	id = ht_newest_hat_id();
	ASSERT_LT(0, id);
	ASSERT_EQ(0, ht_map(owner, 4 * GIB, 1000, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(owner, 16 * GIB, NP_2M, HTABLE_MAP_2M));

	ASSERT_EQ(0, ctl(fd, "share fd:%d 4g 1024", owner));
	ASSERT_EQ(3, scan(r.out, "shared %llu tables at %llx (%llu pages) from fd",
			  &tables, &va, &n));
	EXPECT_EQ(2, tables);
	EXPECT_EQ(4 * GIB, va);
	EXPECT_EQ(1024, n);
	EXPECT_EQ(2, htable_stat("hs_htable_shared") - shared0);
	/* The sharer translates through the owner's tables, owning nothing. */
	for (i = 0; i < 1000; i += 99) {
		__u64 v = 4 * GIB + i * HT_PAGE_SIZE;

		ASSERT_EQ(0, ht_probe(owner, v, &po));
		ASSERT_EQ(0, ht_probe(fd, v, &ps));
		EXPECT_EQ(po.pfn, ps.pfn);
		EXPECT_EQ(HTABLE_PROBE_PRESENT | HTABLE_PROBE_WRITE,
			  ps.flags & ~HT_PROBE_HW);
		ASSERT_EQ(0, ctl_probe(fd, v, &level, &pfn, &pte, size));
		EXPECT_EQ(ps.pfn, pfn);
		EXPECT_EQ(ps.pte, pte);
		EXPECT_EQ(NULL, strstr(r.out, "owned"));
	}
	ASSERT_EQ(0, ht_info(fd, &in));
	ASSERT_EQ(0, ctl(fd, "--id %ld info", id));
	EXPECT_EQ(in.tables[0], value_at("tables", 0));
	EXPECT_EQ(2, value_at("shared_tables", 0));
	ASSERT_EQ(0, ctl(fd, "--id %ld tree", id));
	p = strstr(r.out, "L0 0x100000000-0x1001fffff valid 0 locked 0 busy 0");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, strncmp(strchr(p, ','), ", shared from another hat\n", 25));
	EXPECT_NE(NULL, strstr(r.out, "L0: 0 tables, 0 valid entries, 2 shared\n"));
	EXPECT_NE(NULL, strstr(r.out, "check: 0 errors"));

	/* Conflicts: the errno the SHARE ioctl gives, in words. */
	sh.owner_fd = owner;
	sh.va = 4 * GIB;
	sh.npages = NP_2M;
	err = -ht_ioctl(fd, HTABLE_IOC_SHARE, &sh);
	EXPECT_EQ(EEXIST, err);
	EXPECT_EQ(1, ctl(fd, "share fd:%d 4g 512", owner));
	EXPECT_TRUE(err_says("share", err, "EEXIST"));
	sh.va = 16 * GIB;
	err = -ht_ioctl(fd, HTABLE_IOC_SHARE, &sh);
	EXPECT_EQ(EBUSY, err);
	EXPECT_EQ(1, ctl(fd, "share fd:%d 16g 512", owner));
	EXPECT_TRUE(err_says("share", err, "EBUSY"));
	/* A MAP into the shared range is refused. */
	err = -ht_map(fd, 4 * GIB + 1000 * HT_PAGE_SIZE, 1, 0);
	EXPECT_EQ(EADDRINUSE, err);
	EXPECT_EQ(1, ctl(fd, "map %#llx 1", 4 * GIB + 1000 * HT_PAGE_SIZE));
	EXPECT_TRUE(err_says("map", err, "EADDRINUSE"));
	EXPECT_EQ(2, ctl(fd, "share 4g 4g 512"));
	EXPECT_NE(NULL, strstr(r.err, "bad owner '4g'"));

	ASSERT_EQ(0, ctl(fd, "unshare 4g 1024"));
	ASSERT_EQ(3, scan(r.out, "unshared %llu tables at %llx (%llu pages)", &tables, &va, &n));
	EXPECT_EQ(2, tables);
	EXPECT_EQ(2, htable_stat("hs_htable_unshared") - unshared0);
	ASSERT_EQ(0, ht_probe(fd, 4 * GIB, &ps));
	EXPECT_EQ(0, ps.flags & HTABLE_PROBE_PRESENT);
	ASSERT_EQ(0, ht_probe(owner, 4 * GIB, &po));
	EXPECT_NE(0, po.flags & HTABLE_PROBE_PRESENT);
	memset(&sh, 0, sizeof(sh));
	sh.va = 4 * GIB;
	sh.npages = NP_2M;
	err = -ht_ioctl(fd, HTABLE_IOC_UNSHARE, &sh);
	EXPECT_EQ(ENOENT, err);
	EXPECT_EQ(1, ctl(fd, "unshare 4g 512"));
	EXPECT_TRUE(err_says("unshare", err, "ENOENT"));
	close(fd);
	close(owner);
}

TEST_F_TIMEOUT(abi11, share_between_hats_of_a_shell, ABI11_TIMEOUT)
{
	/* Hat 1 owns, hat 2 shares by its number; a write shows through. */
	ASSERT_EQ(0, ctl_in(-1, "map 4g 512 write\nwrite 4g shared words\nopen\n"
			    "share @1 4g 512\nprobe 4g\ninfo\ntree\ncheck\nunshare 4g 512\n"
			    "probe 4g\n", "shell -x"));
	EXPECT_NE(NULL, line_of("shared 1 tables at 0x100000000 (512 pages) from hat 1"));
	EXPECT_NE(NULL, strstr(r.out, "probe 0x100000000: flags 0x3 (present,write) level 0"));
	EXPECT_NE(NULL, line_of("shared_tables 1"));
	EXPECT_NE(NULL, strstr(r.out, "shared from another hat"));
	EXPECT_NE(NULL, line_of("check: 0 errors over"));
	EXPECT_NE(NULL, line_of("unshared 1 tables at 0x100000000 (512 pages)"));
	EXPECT_NE(NULL, line_of("probe 0x100000000: flags 0 (none)"));
	/* The current hat cannot be its own owner. */
	EXPECT_EQ(2, ctl_in(-1, "share @1 4g 512\n", "shell"));
	EXPECT_NE(NULL, strstr(r.err, "hat 1 is the current hat"));
	EXPECT_EQ(2, ctl_in(-1, "share @3 4g 512\n", "shell"));
	EXPECT_NE(NULL, strstr(r.err, "no open hat 3"));
}

TEST_F_TIMEOUT(abi11, map_1g_pins_a_hugetlb_page, ABI11_TIMEOUT)
{
	unsigned long long n, va, pfn, pte;
	struct htable_probe p;
	struct htable_info in;
	__u64 v = 8 * GIB + 12345 * HT_PAGE_SIZE, word = 0x1a2b3c4d5e6f;
	struct htable_rw rw = { .va = v + 8, .buf = (uintptr_t)&word, .len = 8,
				.flags = HTABLE_RW_WRITE };
	unsigned int level;
	char size[4];
	long id;
	int fd;

	if (!ht_has_pdpe1gb())
		SKIP(return, "needs:1g the CPU has no pdpe1gb: no 1 GiB pages");
	if (htable_knob_read(FREE_1G_PATH) < 1)
		SKIP(return, "needs:1g no free 1 GiB hugetlb page (boot with %s)",
		     "hugepagesz=1G hugepages=1 and 4 GiB");
	fd = open_hat();
	ASSERT_LE(0, fd);
	id = ht_newest_hat_id();
	ASSERT_LT(0, id);
	/* htablectl mmaps the hugetlb page, the module pins it, htablectl lets go. */
	ASSERT_EQ(0, ctl(fd, "map 8g 262144 write 1g"));
	ASSERT_EQ(2, scan(r.out, "mapped %llu pages at %llx as 1 1G page, pinned", &n, &va));
	EXPECT_EQ(NP_1G, n);
	EXPECT_EQ(8 * GIB, va);
	EXPECT_EQ(0, htable_knob_read(FREE_1G_PATH));
	ASSERT_EQ(0, ht_info(fd, &in));
	EXPECT_EQ(NP_1G, in.mapped_pages);
	EXPECT_EQ(1, in.valid[2]);
	EXPECT_EQ(0, in.tables[1] + in.tables[0]);
	ASSERT_EQ(0, ht_probe(fd, v, &p));
	ASSERT_EQ(0, ctl_probe(fd, v, &level, &pfn, &pte, size));
	EXPECT_EQ(2, p.level);
	EXPECT_EQ(p.level, level);
	EXPECT_EQ(p.pfn, pfn);
	EXPECT_EQ(p.pte, pte);
	EXPECT_NE(0, p.pte & PTE_PS);
	EXPECT_STREQ("1G", size);
	ASSERT_EQ(0, ctl(fd, "--id %ld info", id));
	EXPECT_EQ(1, value_at("large_pages", 2));
	/* The pinned memory is the hat's: written by ioctl, read by htablectl. */
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_RW, &rw));
	ASSERT_EQ(0, ctl(fd, "read %#llx 16", (unsigned long long)v));
	EXPECT_NE(NULL, strstr(r.out, "6f 5e 4d 3c 2b 1a 00 00"));
	/* No second free 1 GiB page: htablectl says why, exit 1. */
	EXPECT_EQ(1, ctl(fd, "map 16g 262144 1g"));
	EXPECT_NE(NULL, strstr(r.err, "no free 1G hugetlb page?"));
	/* Unmapping the whole page drops the pin: the hugetlb page is free again. */
	ASSERT_EQ(0, ctl(fd, "unmap 8g 262144"));
	EXPECT_EQ(1, htable_knob_read(FREE_1G_PATH));
	ASSERT_EQ(0, ht_info(fd, &in));
	EXPECT_EQ(0, in.mapped_pages);
	close(fd);
}

TEST_HARNESS_MAIN
