// SPDX-License-Identifier: GPL-2.0
/*
 * htablectl: drive /dev/htable by hand. Each open of the device is one hat;
 * the shell keeps hats open between commands, so a session can map, probe,
 * verify through a CR3 window and draw the tree of one hierarchy.
 * Documentation/htablectl.rst is the manual.
 *
 * Adding an ioctl: write a cmd_*() that parses its arguments with
 * arg_u64()/arg_flags(), calls hat_ioctl() and prints the out fields, then
 * add one line to the commands[] table. Nothing else needs to know.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/const.h>

#include <uapi/htable.h>

#define DEBUGFS_DIR	"/sys/kernel/debug/htable"
#define MAX_HATS	16
#define MAX_STATS	128
#define MAX_ARGS	32
#define MAX_RW		4096
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PTE_PS		_BITULL(7)	/* the PS bit of a level 1 or 2 entry */
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << MAP_HUGE_SHIFT)
#endif

/* Exit and command status: success, a failed operation, bad usage. */
enum { ST_OK = 0, ST_FAIL = 1, ST_USAGE = 2 };

/* One open of /dev/htable. */
struct hat {
	int fd;		/* -1 once closed */
	long id;	/* debugfs hat/<id>, or -1 when unknown */
};

static struct hat hats[MAX_HATS];
static int nhats;
static int cur = -1;		/* index of the current hat in hats[] */
static const char *dev_path = HTABLE_DEV_PATH;
static const char *dbg_dir = DEBUGFS_DIR;
static const char *cmd_name;	/* the command running, for messages */

struct stats {
	int n;
	char name[MAX_STATS][48];
	long long val[MAX_STATS];
};

static struct stats mark_stats;
static bool mark_valid;

/* The errno names the ABI uses, so errors read like the kernel's. */
static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
	{ ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { EBADF, "EBADF" },
	{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" },
	{ EINVAL, "EINVAL" }, { ENOTTY, "ENOTTY" }, { ERANGE, "ERANGE" },
	{ EOVERFLOW, "EOVERFLOW" }, { EUCLEAN, "EUCLEAN" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { ETIMEDOUT, "ETIMEDOUT" },
	{ ENOTEMPTY, "ENOTEMPTY" }, { EADDRINUSE, "EADDRINUSE" },
};

static const char *errname(int err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errnames); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	return "?";
}

/* "htablectl: CMD: " before every message; CMD is the running command. */
static void prefix(void)
{
	fprintf(stderr, "htablectl: ");
	if (cmd_name)
		fprintf(stderr, "%s: ", cmd_name);
}

/*
 * Report a failed system call: "htablectl: CMD: WHAT: words (ENAME)", with
 * WHAT left out when @fmt is "". A missing device or debugfs file almost
 * always means the module is not loaded, so say so when @path_hint.
 * Returns ST_FAIL.
 */
static int fail_errno(int err, bool path_hint, const char *fmt, ...)
{
	va_list ap;

	prefix();
	if (*fmt) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, ": ");
	}
	fprintf(stderr, "%s (%s)", strerror(err), errname(err));
	if (path_hint && (err == ENOENT || err == ENODEV || err == ENXIO))
		fprintf(stderr, "; is the htable module loaded?");
	fputc('\n', stderr);
	return ST_FAIL;
}

/* Report anything else that went wrong; returns @status. */
static int complain(int status, const char *fmt, ...)
{
	va_list ap;

	prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/*
 * Parse an unsigned number: decimal, 0x hex or 0 octal, with an optional
 * binary suffix k, m, g or t (4g = 0x100000000). Returns 0, or ST_USAGE
 * with a message naming @what when @s is not such a number or overflows.
 */
static int arg_u64(const char *s, const char *what, unsigned long long *out)
{
	unsigned long long v, mul = 1;
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-')
		goto bad;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		goto bad;
	switch (*end) {
	case 'k': case 'K':
		mul = 1ULL << 10;
		break;
	case 'm': case 'M':
		mul = 1ULL << 20;
		break;
	case 'g': case 'G':
		mul = 1ULL << 30;
		break;
	case 't': case 'T':
		mul = 1ULL << 40;
		break;
	}
	if (mul > 1)
		end++;
	if (*end || (v && mul > ~0ULL / v))
		goto bad;
	*out = v * mul;
	return 0;
bad:
	return complain(ST_USAGE, "bad %s '%s' (a number, e.g. 4096, 0x1000 or 4g)",
			what, s ? s : "");
}

/* ---- debugfs ---------------------------------------------------------- */

/*
 * Read a whole debugfs file with one read(), as the module's seq_files
 * want. Returns the length, or -1 with errno set; @buf is NUL-terminated.
 */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, len = 0;

	if (fd < 0)
		return -1;
	while (len < (ssize_t)size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			int err = errno;

			close(fd);
			errno = err;
			return -1;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	buf[len] = 0;
	return len;
}

/* Read the stats file into @st. Returns 0 or ST_FAIL (reported). */
static int stats_read(struct stats *st)
{
	char path[256], buf[8192], *line, *save;

	snprintf(path, sizeof(path), "%s/stats", dbg_dir);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return fail_errno(errno, true, "read %s", path);
	st->n = 0;
	for (line = strtok_r(buf, "\n", &save); line && st->n < MAX_STATS;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%47s %lld", st->name[st->n], &st->val[st->n]) == 2)
			st->n++;
	}
	if (!st->n)
		return complain(ST_FAIL, "%s: no counters in it", path);
	return 0;
}

/* The value of counter @name in @st; false when it has none. */
static bool stats_get(const struct stats *st, const char *name, long long *v)
{
	int i;

	for (i = 0; i < st->n; i++) {
		if (!strcmp(st->name[i], name)) {
			*v = st->val[i];
			return true;
		}
	}
	return false;
}

/* Write @val to debugfs knob @name. Returns 0 or ST_FAIL (reported). */
static int knob_write(const char *name, unsigned long long val)
{
	char path[256], buf[32];
	int fd, len;

	snprintf(path, sizeof(path), "%s/%s", dbg_dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno, true, "open %s", path);
	len = snprintf(buf, sizeof(buf), "%llu\n", val);
	if (write(fd, buf, len) != len) {
		int err = errno;

		close(fd);
		return fail_errno(err, false, "write %s", path);
	}
	close(fd);
	return 0;
}

/*
 * The debugfs id of the newest hat this process opened: the largest id in
 * the hats list with our pid (ids only grow). -1 when debugfs says nothing.
 */
static long newest_own_hat_id(void)
{
	char path[256], buf[16384], *line, *save;
	long id, pid, best = -1;

	snprintf(path, sizeof(path), "%s/hats", dbg_dir);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, "%ld %ld", &id, &pid) == 2 && pid == getpid() && id > best)
			best = id;
	return best;
}

/* ---- hats ------------------------------------------------------------- */

/* Open a new hat and make it current. Returns 0 or ST_FAIL (reported). */
static int hat_open(void)
{
	int fd = -1;

	if (nhats == MAX_HATS)
		return complain(ST_FAIL, "at most %d hats", MAX_HATS);
	fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno, true, "open %s", dev_path);
	hats[nhats].fd = fd;
	hats[nhats].id = newest_own_hat_id();
	cur = nhats++;
	return 0;
}

/* The current hat's fd, opening a first hat when none is open yet. */
static int hat_fd(void)
{
	if (cur < 0 && hat_open())
		return -1;
	if (hats[cur].fd < 0) {
		complain(ST_FAIL, "hat %d is closed (use 'open' or 'use N')", cur + 1);
		return -1;
	}
	return hats[cur].fd;
}

/* Run one ioctl on the current hat; a failure is reported with its errno. */
static int hat_ioctl(unsigned long req, void *arg)
{
	int fd = hat_fd();

	if (fd < 0)
		return ST_FAIL;
	if (ioctl(fd, req, arg))
		return fail_errno(errno, false, "");
	return 0;
}

/* ---- argument helpers -------------------------------------------------- */

/* Keyword flags: arg_flags() ors in @bit for each word in @words. */
struct flagword {
	const char *word;
	unsigned int bit;
};

/*
 * Parse trailing flag words (@argv[@from..]). A word that takes a value
 * ("cpu 1") is handled by the caller, which passes @value_words and gets
 * their values in @values. Returns 0 or ST_USAGE (reported).
 */
static int arg_flags(int argc, char **argv, int from, const struct flagword *fw,
		     unsigned int *flags, const char *const *value_words,
		     unsigned long long *values, bool *given)
{
	int i, j;

	for (i = from; i < argc; i++) {
		for (j = 0; fw && fw[j].word; j++) {
			if (!strcmp(argv[i], fw[j].word)) {
				*flags |= fw[j].bit;
				break;
			}
		}
		if (fw && fw[j].word)
			continue;
		for (j = 0; value_words && value_words[j]; j++)
			if (!strcmp(argv[i], value_words[j]))
				break;
		if (!value_words || !value_words[j])
			return complain(ST_USAGE, "unknown word '%s'", argv[i]);
		if (i + 1 >= argc)
			return complain(ST_USAGE, "'%s' needs a value", argv[i]);
		if (arg_u64(argv[++i], value_words[j], &values[j]))
			return ST_USAGE;
		given[j] = true;
	}
	return 0;
}

static void print_flagwords(unsigned int v, const struct flagword *fw)
{
	bool first = true;
	int j;

	for (j = 0; fw[j].word; j++) {
		if (v & fw[j].bit) {
			printf("%s%s", first ? "" : ",", fw[j].word);
			first = false;
		}
	}
	if (first)
		printf("none");
}

/* ---- commands ---------------------------------------------------------- */

struct cmd {
	const char *name;
	int min_args, max_args;	/* not counting the name; -1: any */
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

static const struct cmd commands[];
static int run_argv(int argc, char **argv);

static int cmd_version(int argc, char **argv)
{
	struct htable_version v;

	if (hat_ioctl(HTABLE_IOC_VERSION, &v))
		return ST_FAIL;
	printf("ABI %u.%u, %u levels, page shift %u\n", v.major, v.minor,
	       v.levels, v.page_shift);
	return 0;
}

static int cmd_open(int argc, char **argv)
{
	if (hat_open())
		return ST_FAIL;
	printf("hat %d open", cur + 1);
	if (hats[cur].id >= 0)
		printf(" (debugfs hat/%ld)", hats[cur].id);
	printf("\n");
	return 0;
}

/*
 * Parse a hat of this session, "N" or "@N" (1 = the first opened), into
 * its index in hats[]. Returns 0, or ST_USAGE (reported) when no such hat
 * is open.
 */
static int arg_hat(const char *s, int *idx)
{
	unsigned long long n;

	if (arg_u64(s + (*s == '@'), "hat number", &n))
		return ST_USAGE;
	if (n < 1 || n > (unsigned long long)nhats || hats[n - 1].fd < 0)
		return complain(ST_USAGE, "no open hat %llu (%d opened)", n, nhats);
	*idx = n - 1;
	return 0;
}

static int cmd_use(int argc, char **argv)
{
	return arg_hat(argv[1], &cur);
}

static int cmd_close(int argc, char **argv)
{
	if (hat_fd() < 0)
		return ST_FAIL;
	close(hats[cur].fd);
	hats[cur].fd = -1;
	printf("hat %d closed\n", cur + 1);
	return 0;
}

static const struct flagword map_words[] = {
	{ "write", HTABLE_MAP_WRITE }, { "exec", HTABLE_MAP_EXEC },
	{ "lock", HTABLE_MAP_LOCK }, { "2m", HTABLE_MAP_2M }, { "1g", HTABLE_MAP_1G },
	{ "pin", HTABLE_MAP_PIN }, { NULL, 0 },
};

/* The name of the pages a level maps: 0 = 4K, 1 = 2M, 2 = 1G. */
static const char *level_size(unsigned int level)
{
	static const char *const names[] = { "4K", "2M", "1G" };

	return level < ARRAY_SIZE(names) ? names[level] : "?";
}

/* The level of the pages MAP flags ask for. */
static unsigned int map_level(unsigned int flags)
{
	return flags & HTABLE_MAP_1G ? 2 : flags & HTABLE_MAP_2M ? 1 : 0;
}

/*
 * Back a MAP_PIN request with memory of this process: @len bytes of
 * anonymous memory, from hugetlb pages of the map's size for 2M and 1G (the
 * module pins one physically contiguous, aligned page per large page),
 * populated so that the pages exist. The caller may unmap it once MAP
 * returns: the module's pin keeps the memory for the hat. Returns the
 * buffer, or MAP_FAILED with errno set (ENOMEM when no hugetlb page is
 * free).
 */
static void *pin_buffer(size_t len, unsigned int level)
{
	static const int huge[] = { 0, MAP_HUGETLB | MAP_HUGE_2MB,
				    MAP_HUGETLB | MAP_HUGE_1GB };

	return mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | huge[level], -1, 0);
}

/*
 * map VA NPAGES [write] [exec] [lock] [2m|1g] [pin] [alias AVA [count N]]:
 * 1g without alias implies pin, since the module has no 1 GiB pages of
 * its own to give.
 */
static int cmd_map(int argc, char **argv)
{
	static const char *const vw[] = { "alias", "count", NULL };
	unsigned long long val[2] = { 0, 1 };
	bool given[2] = { false, false };
	struct htable_map m = { 0 };
	unsigned int level;
	void *buf = NULL;
	size_t len = 0;
	int st = 0;

	if (arg_u64(argv[1], "va", &m.va) || arg_u64(argv[2], "page count", &m.npages) ||
	    arg_flags(argc, argv, 3, map_words, &m.flags, vw, val, given))
		return ST_USAGE;
	if (given[1] && !given[0])
		return complain(ST_USAGE, "'count' goes with 'alias VA'");
	if (given[0] && (m.flags & HTABLE_MAP_PIN))
		return complain(ST_USAGE, "'pin' and 'alias' exclude each other");
	if ((m.flags & HTABLE_MAP_SIZES) == HTABLE_MAP_SIZES)
		return complain(ST_USAGE, "one page size: '2m' or '1g'");
	level = map_level(m.flags);
	if (given[0]) {
		m.flags |= HTABLE_MAP_ALIAS;
		m.alias_va = val[0];
		m.alias_npages = val[1];
	} else if (level == 2) {
		m.flags |= HTABLE_MAP_PIN;
	}
	if (m.flags & HTABLE_MAP_PIN) {
		if (!m.npages || m.npages > HTABLE_MAX_NPAGES)
			return complain(ST_USAGE, "NPAGES must be 1..%llu to pin",
					(unsigned long long)HTABLE_MAX_NPAGES);
		len = m.npages * 4096;
		buf = pin_buffer(len, level);
		if (buf == MAP_FAILED) {
			int err = errno;

			fail_errno(err, false, "mmap %zu bytes of %s pages to pin", len,
				   level ? level_size(level) : "anonymous");
			if (level)
				complain(ST_FAIL, "no free %s hugetlb page? (boot with %s=%s %s)",
					 level_size(level), "hugepagesz", level_size(level),
					 "hugepages=N");
			return ST_FAIL;
		}
		m.alias_va = (uintptr_t)buf;
	}
	if (hat_ioctl(HTABLE_IOC_MAP, &m))
		st = ST_FAIL;
	/* The module's pin, not this mapping, keeps the memory now. */
	if (buf)
		munmap(buf, len);
	if (st)
		return st;
	printf("mapped %llu pages at %#llx", (unsigned long long)m.mapped,
	       (unsigned long long)m.va);
	if (level)
		printf(" as %llu %s page%s", (unsigned long long)m.mapped >> (9 * level),
		       level_size(level), m.mapped >> (9 * level) == 1 ? "" : "s");
	if (m.flags & HTABLE_MAP_PIN)
		printf(", pinned from this process's %s memory",
		       level ? "hugetlb" : "anonymous");
	printf("\n");
	return 0;
}

static int cmd_unmap(int argc, char **argv)
{
	struct htable_unmap u = { 0 };

	if (arg_u64(argv[1], "va", &u.va) || arg_u64(argv[2], "page count", &u.npages))
		return ST_USAGE;
	if (hat_ioctl(HTABLE_IOC_UNMAP, &u))
		return ST_FAIL;
	printf("unmapped %llu pages at %#llx\n", (unsigned long long)u.unmapped,
	       (unsigned long long)u.va);
	return 0;
}

/*
 * The owner of a SHARE: "@N", hat N of this session (not the current
 * one), or "fd:N", a hat another program opened and left open on file
 * descriptor N (as --fd). Returns 0 with the fd and a label for
 * messages, or ST_USAGE (reported).
 */
static int arg_owner(const char *s, int *fd, char *label, size_t size)
{
	unsigned long long n;
	int idx = -1;

	if (*s == '@') {
		if (arg_hat(s, &idx))
			return ST_USAGE;
		if (idx == cur)
			return complain(ST_USAGE, "hat %d is the current hat; 'use' the sharer",
					idx + 1);
		*fd = hats[idx].fd;
		snprintf(label, size, "hat %d", idx + 1);
		return 0;
	}
	if (!strncmp(s, "fd:", 3)) {
		if (arg_u64(s + 3, "owner fd", &n))
			return ST_USAGE;
		if (n > 0x7fffffff)
			return complain(ST_USAGE, "bad owner fd '%s'", s + 3);
		*fd = n;
		snprintf(label, size, "fd %llu", n);
		return 0;
	}
	return complain(ST_USAGE, "bad owner '%s' (@N: hat N of the shell; fd:N: an open fd)",
			s);
}

/* share OWNER VA NPAGES: link OWNER's leaf tables into the current hat. */
static int cmd_share(int argc, char **argv)
{
	struct htable_share sh = { 0 };
	char label[32];
	int fd = -1;

	if (arg_owner(argv[1], &fd, label, sizeof(label)) ||
	    arg_u64(argv[2], "va", &sh.va) || arg_u64(argv[3], "page count", &sh.npages))
		return ST_USAGE;
	sh.owner_fd = fd;
	if (hat_ioctl(HTABLE_IOC_SHARE, &sh))
		return ST_FAIL;
	printf("shared %llu tables at %#llx (%llu pages) from %s\n",
	       (unsigned long long)sh.tables, (unsigned long long)sh.va,
	       (unsigned long long)sh.npages, label);
	return 0;
}

/* unshare VA NPAGES: detach the shared tables of the range. */
static int cmd_unshare(int argc, char **argv)
{
	struct htable_share sh = { 0 };

	if (arg_u64(argv[1], "va", &sh.va) || arg_u64(argv[2], "page count", &sh.npages))
		return ST_USAGE;
	if (hat_ioctl(HTABLE_IOC_UNSHARE, &sh))
		return ST_FAIL;
	printf("unshared %llu tables at %#llx (%llu pages)\n",
	       (unsigned long long)sh.tables, (unsigned long long)sh.va,
	       (unsigned long long)sh.npages);
	return 0;
}

static const struct flagword probe_words[] = {
	{ "present", HTABLE_PROBE_PRESENT }, { "write", HTABLE_PROBE_WRITE },
	{ "exec", HTABLE_PROBE_EXEC }, { "locked", HTABLE_PROBE_LOCKED },
	{ "accessed", HTABLE_PROBE_ACCESSED }, { "dirty", HTABLE_PROBE_DIRTY },
	{ "owned", HTABLE_PROBE_OWNED }, { NULL, 0 },
};

static int cmd_probe(int argc, char **argv)
{
	struct htable_probe p = { 0 };

	if (arg_u64(argv[1], "va", &p.va))
		return ST_USAGE;
	if (hat_ioctl(HTABLE_IOC_PROBE, &p))
		return ST_FAIL;
	printf("probe %#llx: flags %#x (", (unsigned long long)p.va, p.flags);
	print_flagwords(p.flags, probe_words);
	printf(")");
	if (p.flags & HTABLE_PROBE_PRESENT) {
		printf(" level %u pfn %#llx pte %#018llx", p.level,
		       (unsigned long long)p.pfn, (unsigned long long)p.pte);
		printf(" page %s%s", level_size(p.level),
		       p.level && (p.pte & PTE_PS) ? " (PS)" : "");
	}
	printf("\n");
	return 0;
}

static void print_levels(const char *name, const unsigned long long *v,
			 unsigned int levels)
{
	unsigned int l;

	printf("%-13s", name);
	for (l = 0; l < levels; l++)
		printf(" %llu", (unsigned long long)v[l]);
	printf("\n");
}

static int tree_load(void);
static void tree_sums(const struct htable_info *in, unsigned long long *large,
		      unsigned long long *shared);

/* info: INFO's fields, then large pages per level and shared tables. */
static int cmd_info(int argc, char **argv)
{
	unsigned long long large[HTABLE_MAX_LEVELS], shared;
	struct htable_info in;
	int st;

	if (hat_ioctl(HTABLE_IOC_INFO, &in))
		return ST_FAIL;
	printf("levels        %u\n", in.levels);
	print_levels("tables", in.tables, in.levels);
	print_levels("valid", in.valid, in.levels);
	printf("locked        %llu\n", (unsigned long long)in.locked);
	printf("mapped_pages  %llu\n", (unsigned long long)in.mapped_pages);
	printf("owned_pages   %llu\n", (unsigned long long)in.owned_pages);
	printf("cached        %llu\n", (unsigned long long)in.cached);
	printf("live_cpus     %#llx\n", (unsigned long long)in.live_cpus);
	printf("stolen        %llu\n", (unsigned long long)in.stolen);
	/* What INFO has no field for, from the debugfs tree when there is one. */
	st = tree_load();
	if (st > 0)
		return st;
	if (!st) {
		tree_sums(&in, large, &shared);
		print_levels("large_pages", large, in.levels);
		printf("shared_tables %llu\n", shared);
	}
	return 0;
}

static const char *const check_codes[] = {
	[HTABLE_CHECK_OK] = "OK",
	[HTABLE_CHECK_VALID_CNT] = "VALID_CNT",
	[HTABLE_CHECK_LOCK_CNT] = "LOCK_CNT",
	[HTABLE_CHECK_PARENT] = "PARENT",
	[HTABLE_CHECK_HASH] = "HASH",
	[HTABLE_CHECK_UNOWNED] = "UNOWNED",
	[HTABLE_CHECK_BITS] = "BITS",
	[HTABLE_CHECK_ORPHAN] = "ORPHAN",
	[HTABLE_CHECK_CACHED] = "CACHED",
};

/* CHECK; a hat with inconsistencies fails the command. */
static int cmd_check(int argc, char **argv)
{
	struct htable_check c;
	unsigned int code;

	if (hat_ioctl(HTABLE_IOC_CHECK, &c))
		return ST_FAIL;
	printf("check: %llu errors over %llu tables, %llu entries\n",
	       (unsigned long long)c.errors, (unsigned long long)c.tables,
	       (unsigned long long)c.entries);
	if (!c.errors)
		return 0;
	code = c.first_error;
	return complain(ST_FAIL, "first error %s (%u) at %#llx",
			code < ARRAY_SIZE(check_codes) ?
			check_codes[code] : "?", code,
			(unsigned long long)c.first_va);
}

/* The CPU a window runs on unless told: 1 when there is one, else 0. */
static unsigned int default_cpu(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

/* A verify window; pages that fault or mismatch fail the command. */
static int cmd_verify(int argc, char **argv)
{
	static const char *const vw[] = { "cpu", "seed", NULL };
	static const struct flagword fw[] = { { "write", HTABLE_RUN_WRITE }, { NULL, 0 } };
	unsigned long long val[2] = { default_cpu(), 0x5eed };
	bool given[2] = { false, false };
	struct htable_run r = { .mode = HTABLE_RUN_VERIFY };

	if (arg_u64(argv[1], "va", &r.va) || arg_u64(argv[2], "page count", &r.npages) ||
	    arg_flags(argc, argv, 3, fw, &r.flags, vw, val, given))
		return ST_USAGE;
	r.cpu = val[0];
	r.seed = val[1];
	if (hat_ioctl(HTABLE_IOC_RUN, &r))
		return ST_FAIL;
	printf("verify %#llx %llu on CPU %u: ", (unsigned long long)r.va,
	       (unsigned long long)r.npages, r.cpu);
	printf("%llu verified, %llu mismatches, %llu faults, %llu us, %llu clobbers%s\n",
	       (unsigned long long)r.verified, (unsigned long long)r.mismatches,
	       (unsigned long long)r.faults, (unsigned long long)r.elapsed_ns / 1000,
	       (unsigned long long)r.clobbers, r.watchdog ? ", ended by the watchdog" : "");
	if (r.faults)
		printf("first fault at %#llx\n", (unsigned long long)r.first_fault_va);
	if (r.mismatches)
		printf("first mismatch at %#llx\n", (unsigned long long)r.first_mismatch_va);
	if (r.verified != r.npages)
		return complain(ST_FAIL, "%llu of %llu pages did not verify",
				(unsigned long long)(r.npages - r.verified),
				(unsigned long long)r.npages);
	return 0;
}

/* A resident window: the hat stays in CR3 reading one word. */
static int cmd_resident(int argc, char **argv)
{
	static const char *const vw[] = { "cpu", "samples", NULL };
	unsigned long long val[2] = { default_cpu(), 1024 };
	bool given[2] = { false, false };
	struct htable_run r = { .mode = HTABLE_RUN_RESIDENT, .npages = 1 };
	unsigned long long ms;
	unsigned int flags = 0;
	struct htable_sample *s;
	int ret = 0;

	if (arg_u64(argv[1], "va", &r.va) || arg_u64(argv[2], "milliseconds", &ms) ||
	    arg_flags(argc, argv, 3, NULL, &flags, vw, val, given))
		return ST_USAGE;
	if (!val[1] || val[1] > HTABLE_MAX_SAMPLES)
		return complain(ST_USAGE, "samples must be 1..%d", HTABLE_MAX_SAMPLES);
	s = calloc(val[1], sizeof(*s));
	if (!s)
		return fail_errno(ENOMEM, false, "");
	r.cpu = val[0];
	r.duration_ms = ms > 0xffffffffULL ? 0xffffffffU : ms;
	r.samples = (uintptr_t)s;
	r.max_samples = val[1];
	if (hat_ioctl(HTABLE_IOC_RUN, &r)) {
		ret = ST_FAIL;
	} else {
		printf("resident %#llx on CPU %u: ", (unsigned long long)r.va, r.cpu);
		printf("%llu reads, %llu valid, %llu faults, %llu clobbers, %llu us\n",
		       (unsigned long long)r.reads,
		       (unsigned long long)r.valid_reads, (unsigned long long)r.faults,
		       (unsigned long long)r.clobbers, (unsigned long long)r.elapsed_ns / 1000);
		if (r.nsamples)
			printf("first word %#llx, last word %#llx (%u samples)\n",
			       (unsigned long long)s[0].value,
			       (unsigned long long)s[r.nsamples - 1].value, r.nsamples);
	}
	free(s);
	return ret;
}

static int cmd_sync(int argc, char **argv)
{
	static const struct flagword fw[] = { { "clear", HTABLE_SYNC_CLEAR }, { NULL, 0 } };
	struct htable_sync s = { 0 };

	if (arg_u64(argv[1], "va", &s.va) || arg_u64(argv[2], "page count", &s.npages) ||
	    arg_flags(argc, argv, 3, fw, &s.flags, NULL, NULL, NULL))
		return ST_USAGE;
	if (hat_ioctl(HTABLE_IOC_SYNC, &s))
		return ST_FAIL;
	printf("sync %#llx %llu: %llu accessed, %llu dirty\n", (unsigned long long)s.va,
	       (unsigned long long)s.npages, (unsigned long long)s.referenced,
	       (unsigned long long)s.modified);
	return 0;
}

static int cmd_reload(int argc, char **argv)
{
	struct htable_reload r = { 0 };

	if (arg_u64(argv[1], "va", &r.va) || arg_u64(argv[2], "page count", &r.npages))
		return ST_USAGE;
	if (hat_ioctl(HTABLE_IOC_RELOAD, &r))
		return ST_FAIL;
	printf("reloaded %llu translations at %#llx\n", (unsigned long long)r.reloaded,
	       (unsigned long long)r.va);
	return 0;
}

/* read VA [LEN]: a hex dump of the page's bytes (HTABLE_IOC_RW). */
static int cmd_read(int argc, char **argv)
{
	unsigned char buf[MAX_RW];
	unsigned long long len = 64, i, j;
	struct htable_rw rw = { 0 };

	if (arg_u64(argv[1], "va", &rw.va) || (argc > 2 && arg_u64(argv[2], "length", &len)))
		return ST_USAGE;
	if (len < 1 || len > MAX_RW)
		return complain(ST_USAGE, "length must be 1..%d", MAX_RW);
	rw.buf = (uintptr_t)buf;
	rw.len = len;
	if (hat_ioctl(HTABLE_IOC_RW, &rw))
		return ST_FAIL;
	for (i = 0; i < len; i += 16) {
		printf("%#llx:", (unsigned long long)rw.va + i);
		for (j = i; j < i + 16; j++) {
			if (j < len)
				printf(" %02x", buf[j]);
			else
				printf("   ");
		}
		printf("  ");
		for (j = i; j < i + 16 && j < len; j++)
			putchar(buf[j] >= 0x20 && buf[j] < 0x7f ? buf[j] : '.');
		printf("\n");
	}
	return 0;
}

/* write VA TEXT...: the words of TEXT, joined by spaces (HTABLE_IOC_RW). */
static int cmd_write(int argc, char **argv)
{
	char buf[MAX_RW + 1];
	struct htable_rw rw = { .flags = HTABLE_RW_WRITE };
	size_t len = 0, n;
	int i;

	if (arg_u64(argv[1], "va", &rw.va))
		return ST_USAGE;
	for (i = 2; i < argc; i++) {
		n = strlen(argv[i]);
		if (len + n + !!(i > 2) > MAX_RW)
			return complain(ST_USAGE, "more than %d bytes", MAX_RW);
		if (i > 2)
			buf[len++] = ' ';
		memcpy(buf + len, argv[i], n);
		len += n;
	}
	rw.buf = (uintptr_t)buf;
	rw.len = len;
	if (hat_ioctl(HTABLE_IOC_RW, &rw))
		return ST_FAIL;
	printf("wrote %zu bytes at %#llx\n", len, (unsigned long long)rw.va);
	return 0;
}

/* rw read VA [LEN] | rw write VA TEXT: the RW ioctl under its own name. */
static int cmd_rw(int argc, char **argv)
{
	if (!strcmp(argv[1], "read") && argc <= 4)
		return cmd_read(argc - 1, argv + 1);
	if (!strcmp(argv[1], "write") && argc >= 4)
		return cmd_write(argc - 1, argv + 1);
	return complain(ST_USAGE, "usage: rw read VA [LEN] | rw write VA TEXT");
}

/*
 * A knob's value: a number, or the name of a counter whose current value
 * is used ("knob ptable_cap active_ptables").
 */
static int knob_value(const char *s, unsigned long long *v)
{
	struct stats st;
	long long c;

	if (*s >= '0' && *s <= '9')
		return arg_u64(s, "value", v);
	if (stats_read(&st))
		return ST_FAIL;
	if (!stats_get(&st, s, &c))
		return complain(ST_USAGE, "'%s' is neither a number nor a counter", s);
	*v = c;
	return 0;
}

static int cmd_knob(int argc, char **argv)
{
	char path[256], buf[64];
	unsigned long long v;

	if (strchr(argv[1], '/') || argv[1][0] == '.' || !strcmp(argv[1], "stats") ||
	    !strcmp(argv[1], "hats") || !strcmp(argv[1], "hat"))
		return complain(ST_USAGE, "'%s' is not a knob", argv[1]);
	if (argc == 2) {
		snprintf(path, sizeof(path), "%s/%s", dbg_dir, argv[1]);
		if (read_file(path, buf, sizeof(buf)) < 0)
			return fail_errno(errno, true, "read %s", path);
		printf("%s %s", argv[1], buf);
		return 0;
	}
	if (knob_value(argv[2], &v))
		return ST_USAGE;
	if (knob_write(argv[1], v))
		return ST_FAIL;
	printf("%s = %llu\n", argv[1], v);
	return 0;
}

/* steal N: set force_steal, so every Nth table allocation steals first. */
static int cmd_steal(int argc, char **argv)
{
	unsigned long long v;

	if (knob_value(argv[1], &v))
		return ST_USAGE;
	if (knob_write("force_steal", v))
		return ST_FAIL;
	printf("force_steal = %llu\n", v);
	return 0;
}

/* reap [N]: run htable_reap() now through the debugfs knob. */
static int cmd_reap(int argc, char **argv)
{
	struct stats a, b;
	unsigned long long n = 0;
	long long x = 0, y = 0;

	if (argc > 1 && knob_value(argv[1], &n))
		return ST_USAGE;
	if (stats_read(&a) || knob_write("reap", n) || stats_read(&b))
		return ST_FAIL;
	stats_get(&a, "hs_reaped", &x);
	stats_get(&b, "hs_reaped", &y);
	printf("reaped %lld tables\n", y - x);
	return 0;
}

static void stats_print(const struct stats *st, const struct stats *old, bool json,
			bool changed_only)
{
	long long o;
	int i;

	if (json) {
		printf("{");
		for (i = 0; i < st->n; i++)
			printf("%s\"%s\": %lld", i ? ", " : "", st->name[i], st->val[i]);
		if (old) {
			printf("%s\"delta\": {", st->n ? ", " : "");
			for (i = 0; i < st->n; i++)
				printf("%s\"%s\": %lld", i ? ", " : "", st->name[i],
				       st->val[i] - (stats_get(old, st->name[i], &o) ? o : 0));
			printf("}");
		}
		printf("}\n");
		return;
	}
	for (i = 0; i < st->n; i++) {
		o = 0;
		if (old)
			stats_get(old, st->name[i], &o);
		if (changed_only && st->val[i] == o)
			continue;
		if (old)
			printf("%-22s %12lld %+lld\n", st->name[i], st->val[i], st->val[i] - o);
		else
			printf("%s %lld\n", st->name[i], st->val[i]);
	}
}

/* Set by SIGINT: sig_atomic_t, the one type a handler may write. */
static sig_atomic_t stop_watch;

static void on_sigint(int sig)
{
	stop_watch = 1;
}

/* stats [--json] [--watch SECS [--count N]] */
static int cmd_stats(int argc, char **argv)
{
	unsigned long long secs = 0, count = 0, i;
	struct stats st, old;
	bool json = false;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			json = true;
		} else if (!strcmp(argv[a], "--watch") && a + 1 < argc) {
			if (arg_u64(argv[++a], "interval", &secs))
				return ST_USAGE;
			if (!secs)
				return complain(ST_USAGE, "--watch needs at least 1 second");
		} else if (!strcmp(argv[a], "--count") && a + 1 < argc) {
			if (arg_u64(argv[++a], "count", &count))
				return ST_USAGE;
		} else {
			return complain(ST_USAGE, "unknown option '%s'", argv[a]);
		}
	}
	if (count && !secs)
		return complain(ST_USAGE, "--count goes with --watch");
	if (stats_read(&st))
		return ST_FAIL;
	stats_print(&st, NULL, json, false);
	if (!secs)
		return 0;
	signal(SIGINT, on_sigint);
	for (i = 1; !count || i < count; i++) {
		struct timespec ts = { .tv_sec = secs };

		fflush(stdout);
		while (nanosleep(&ts, &ts) && !stop_watch)
			;
		if (stop_watch)
			break;
		old = st;
		if (stats_read(&st))
			return ST_FAIL;
		if (!json)
			printf("--- after %llu s: changed counters, value and delta\n", secs);
		stats_print(&st, &old, json, !json);
	}
	return 0;
}

static int cmd_stat(int argc, char **argv)
{
	struct stats st;
	long long v;

	if (stats_read(&st))
		return ST_FAIL;
	if (!stats_get(&st, argv[1], &v))
		return complain(ST_USAGE, "no counter '%s'", argv[1]);
	printf("%s %lld\n", argv[1], v);
	return 0;
}

static int cmd_mark(int argc, char **argv)
{
	if (stats_read(&mark_stats))
		return ST_FAIL;
	mark_valid = true;
	return 0;
}

static int cmd_delta(int argc, char **argv)
{
	struct stats st;

	if (!mark_valid)
		return complain(ST_USAGE, "no 'mark' yet");
	if (stats_read(&st))
		return ST_FAIL;
	printf("changed since mark: counter, value, delta\n");
	stats_print(&st, &mark_stats, false, true);
	return 0;
}

static int cmd_hats(int argc, char **argv)
{
	char path[256], buf[16384];

	snprintf(path, sizeof(path), "%s/hats", dbg_dir);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return fail_errno(errno, true, "read %s", path);
	fputs(buf, stdout);
	return 0;
}

/* One table of the dump: its depth below the top and its text. */
struct tnode {
	int depth;
	unsigned int level;
	unsigned long long va;
	unsigned int valid, busy;
	unsigned int children;	/* tables linked below it */
	char rest[96];
};

/* The current hat's tree, as debugfs hat/<id> prints it. */
struct tdump {
	struct tnode nodes[8192];
	int n, skipped;
	char *header, *summary;
	/* tables drawn per level, shared ones included */
	unsigned long long drawn[HTABLE_MAX_LEVELS];
	char buf[1 << 20];
};

static struct tdump dump;

/*
 * Read and parse the current hat's debugfs tree (the module's
 * htable_dump_tree()) into dump. Returns 0, ST_FAIL (reported), or -1
 * when the hat's debugfs id is unknown (--fd without --id).
 */
static int tree_load(void)
{
	char path[256], *line, *save, *p;
	struct tdump *t = &dump;
	int i, j;

	if (hats[cur].id < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/hat/%ld", dbg_dir, hats[cur].id);
	if (read_file(path, t->buf, sizeof(t->buf)) < 0)
		return fail_errno(errno, true, "read %s", path);
	t->n = 0;
	t->skipped = 0;
	t->header = NULL;
	t->summary = NULL;
	memset(t->drawn, 0, sizeof(t->drawn));
	for (line = strtok_r(t->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct tnode *nd = &t->nodes[t->n];

		for (p = line; *p == ' '; p++)
			;
		if (*p == 'L' && t->n < (int)ARRAY_SIZE(t->nodes)) {
			int off = 0;

			if (sscanf(p, "L%u %llx %n", &nd->level, &nd->va, &off) < 2 || !off ||
			    nd->level >= HTABLE_MAX_LEVELS ||
			    sscanf(p + off, "valid %u locked %*u busy %u", &nd->valid,
				   &nd->busy) != 2)
				continue;
			nd->depth = (p - line) / 2;
			nd->children = 0;
			snprintf(nd->rest, sizeof(nd->rest), "%s", p + off);
			t->drawn[nd->level]++;
			t->n++;
		} else if (*p == 'L') {
			t->skipped++;
		} else if (!strncmp(p, "check:", 6)) {
			t->summary = p;
		} else if (!strncmp(p, "hat ", 4)) {
			t->header = p;
		}
	}
	/* A table's children: the nodes one deeper before the next at its depth. */
	for (i = 0; i < t->n; i++)
		for (j = i + 1; j < t->n && t->nodes[j].depth > t->nodes[i].depth; j++)
			t->nodes[i].children += t->nodes[j].depth == t->nodes[i].depth + 1;
	return 0;
}

/*
 * Entries of a table that are pages, not links to a table below: at
 * level 1 and 2 the large pages. A shared table counts as a link.
 */
static unsigned int tnode_pages(const struct tnode *nd)
{
	return nd->valid > nd->children ? nd->valid - nd->children : 0;
}

/*
 * Large pages per level and tables shared from other hats, from the
 * loaded dump and @in: INFO does not count shared tables, the dump draws
 * them (with zero counts: their entries count in the owner).
 */
static void tree_sums(const struct htable_info *in, unsigned long long *large,
		      unsigned long long *shared)
{
	unsigned int l;
	int i;

	memset(large, 0, HTABLE_MAX_LEVELS * sizeof(*large));
	for (i = 0; i < dump.n; i++)
		if (dump.nodes[i].level)
			large[dump.nodes[i].level] += tnode_pages(&dump.nodes[i]);
	*shared = 0;
	for (l = 0; l < in->levels && l < HTABLE_MAX_LEVELS; l++)
		if (dump.drawn[l] > in->tables[l])
			*shared += dump.drawn[l] - in->tables[l];
}

/*
 * tree: draw the current hat's hierarchy from debugfs hat/<id>, one line
 * per table with the va range it covers and, for upper tables, the large
 * pages among its entries; then the per-level totals of INFO.
 */
static int cmd_tree(int argc, char **argv)
{
	bool last[HTABLE_MAX_LEVELS + 1] = { false };
	unsigned long long large[HTABLE_MAX_LEVELS] = { 0 }, shared = 0;
	struct htable_info in;
	bool have_tree;
	int i, j, d, st;
	unsigned int l;

	if (hat_ioctl(HTABLE_IOC_INFO, &in))
		return ST_FAIL;
	st = tree_load();
	if (st > 0)
		return st;
	have_tree = !st;
	if (!have_tree) {
		printf("(hat id unknown: no debugfs tree; per-level totals only)\n");
		goto totals;
	}
	tree_sums(&in, large, &shared);
	if (dump.header)
		printf("%s\n", dump.header);
	for (i = 0; i < dump.n; i++) {
		const struct tnode *nd = &dump.nodes[i];
		unsigned long long span = 1ULL << (12 + 9 * (nd->level + 1));

		d = nd->depth;
		if (d > HTABLE_MAX_LEVELS)
			d = HTABLE_MAX_LEVELS;
		/* Last among its siblings: no later node at its depth before a shallower one. */
		last[d] = true;
		for (j = i + 1; j < dump.n && dump.nodes[j].depth >= nd->depth; j++) {
			if (dump.nodes[j].depth == nd->depth) {
				last[d] = false;
				break;
			}
		}
		for (j = 1; j < d; j++)
			printf("%s", last[j] ? "    " : "|   ");
		if (d)
			printf("%s", last[d] ? "`-- " : "|-- ");
		printf("L%u 0x%llx-0x%llx %s", nd->level, nd->va, nd->va + span - 1, nd->rest);
		if (nd->level && tnode_pages(nd))
			printf(", %u %s page%s", tnode_pages(nd), level_size(nd->level),
			       tnode_pages(nd) == 1 ? "" : "s");
		/*
		 * A table shared from another hat is drawn with zero counts
		 * and no holds; a table of this hat never has both.
		 */
		if (shared && !nd->level && !nd->valid && !nd->busy)
			printf(", shared from another hat");
		printf("\n");
	}
	if (dump.skipped)
		printf("(%d more tables not drawn)\n", dump.skipped);
	if (dump.summary)
		printf("%s\n", dump.summary);
totals:
	for (l = in.levels; l-- > 0;) {
		printf("L%u: %llu tables, %llu valid entries", l,
		       (unsigned long long)in.tables[l], (unsigned long long)in.valid[l]);
		if (l && large[l])
			printf(", %llu %s page%s", large[l], level_size(l),
			       large[l] == 1 ? "" : "s");
		if (have_tree && l + 1 < in.levels && dump.drawn[l] > in.tables[l])
			printf(", %llu shared", dump.drawn[l] - in.tables[l]);
		printf("\n");
	}
	printf("%llu pages mapped, %llu locked entries, %llu cached tables, %llu stolen\n",
	       (unsigned long long)in.mapped_pages, (unsigned long long)in.locked,
	       (unsigned long long)in.cached, (unsigned long long)in.stolen);
	return 0;
}

/* ---- trace: one hat's events, live (Documentation/tracing.rst) --------- */

#define MAX_TFIELDS	12

/* One line of trace_pipe: its time, CPU, event name and key=value fields. */
struct tev {
	double ts;
	unsigned int cpu;
	char name[32];
	int nf;
	char key[MAX_TFIELDS][16];
	char val[MAX_TFIELDS][32];
};

/* Parse "comm-pid [cpu] flags ts: name: k=v ...". False: not an event. */
static bool tev_parse(char *line, struct tev *e)
{
	char *p = strchr(line, '['), *name, *end, *tok, *save, *eq;

	if (!p || sscanf(p, "[%u]", &e->cpu) != 1)
		return false;
	name = strstr(p, ": htable_");
	if (!name)
		return false;
	*name = 0;
	end = strrchr(p, ' ');
	e->ts = end ? strtod(end + 1, NULL) : 0;
	name += 2;
	end = strchr(name, ':');
	if (!end)
		return false;
	*end = 0;
	snprintf(e->name, sizeof(e->name), "%s", name + strlen("htable_"));
	e->nf = 0;
	for (tok = strtok_r(end + 1, "\t\n ", &save); tok && e->nf < MAX_TFIELDS;
	     tok = strtok_r(NULL, "\t\n ", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = 0;
		snprintf(e->key[e->nf], sizeof(e->key[0]), "%s", tok);
		snprintf(e->val[e->nf], sizeof(e->val[0]), "%s", eq + 1);
		e->nf++;
	}
	return true;
}

static const char *tev_str(const struct tev *e, const char *key)
{
	int i;

	for (i = 0; i < e->nf; i++)
		if (!strcmp(e->key[i], key))
			return e->val[i];
	return "?";
}

static unsigned long long tev_u(const struct tev *e, const char *key)
{
	return strtoull(tev_str(e, key), NULL, 0);
}

static long long tev_s(const struct tev *e, const char *key)
{
	return strtoll(tev_str(e, key), NULL, 0);
}

/* What a call did, or why it failed, after "MAP 0x... +N pages (4K)". */
static void tev_result(const struct tev *e, const char *what)
{
	long long err = tev_s(e, "err");

	if (err)
		printf(": failed, %s (%s)\n", strerror(-err), errname(-err));
	else
		printf(": %s %llu\n", what, tev_u(e, "done"));
}

/* One event of hat @id in words. */
static void tev_print(const struct tev *e, long id)
{
	static const struct {
		const char *code, *words;
	} srcs[] = {
		{ "cache", "from the hat's cache" }, { "slab", "new, from the slab" },
		{ "reserve", "new, its structure from the reserve" },
		{ "steal", "stolen from a hat" },
		{ "system", "to the system" },
		{ "reserve", "to the system, its structure to the reserve" },
	};
	const char *src = tev_str(e, "src"), *dest = tev_str(e, "dest"), *how = src;
	size_t i;

	printf("[%12.6f] ", e->ts);
	if (!strcmp(e->name, "table_alloc") || !strcmp(e->name, "table_free")) {
		bool alloc = e->name[6] == 'a';

		for (i = alloc ? 0 : 4; i < (alloc ? 4 : ARRAY_SIZE(srcs)); i++)
			if (!strcmp(alloc ? src : dest, srcs[i].code))
				how = srcs[i].words;
		if (!alloc && !strcmp(dest, "cache"))
			how = "to the hat's cache";
		else if (!alloc && how == src)
			how = dest;
		printf("table L%llu 0x%llx %s: %s\n", tev_u(e, "level"), tev_u(e, "va"),
		       alloc ? "allocated" : "freed", how);
	} else if (!strcmp(e->name, "steal_table")) {
		printf("steal pass %llu: hat %llu lost L%llu table 0x%llx (%llu valid)\n",
		       tev_u(e, "pass"), tev_u(e, "hat"), tev_u(e, "level"), tev_u(e, "va"),
		       tev_u(e, "valid"));
	} else if (!strcmp(e->name, "steal_cached")) {
		printf("steal pass %llu: hat %llu gave %llu free table%s from its cache\n",
		       tev_u(e, "pass"), tev_u(e, "hat"), tev_u(e, "n"),
		       tev_u(e, "n") == 1 ? "" : "s");
	} else if (!strcmp(e->name, "shootdown")) {
		printf("shootdown to %llu CPU%s%s: ", tev_u(e, "cpus"),
		       tev_u(e, "cpus") == 1 ? "" : "s",
		       tev_u(e, "all_cpus") ? " (all: its tables are shared)" : "");
		if (tev_u(e, "flush_all"))
			printf("full TLB flush\n");
		else
			printf("%llu INVLPG%s\n", tev_u(e, "invals"),
			       tev_u(e, "invals") == 1 ? "" : "s");
	} else if (!strcmp(e->name, "window_start")) {
		if (!strcmp(tev_str(e, "mode"), "resident"))
			printf("window on CPU %llu: resident at 0x%llx for %llu ms\n",
			       tev_u(e, "cpu"), tev_u(e, "va"), tev_u(e, "duration_ms"));
		else
			printf("window on CPU %llu: verify 0x%llx +%llu pages\n",
			       tev_u(e, "cpu"), tev_u(e, "va"), tev_u(e, "npages"));
	} else if (!strcmp(e->name, "window_end")) {
		printf("window on CPU %llu ended (%s) after %llu us: %llu %s, ",
		       tev_u(e, "cpu"), tev_str(e, "reason"), tev_u(e, "elapsed_ns") / 1000,
		       tev_u(e, "reads"),
		       strcmp(tev_str(e, "mode"), "resident") ? "pages touched" : "reads");
		if (strcmp(tev_str(e, "mode"), "resident"))
			printf("%llu verified, ", tev_u(e, "verified"));
		else
			printf("%llu valid, ", tev_u(e, "valid_reads"));
		printf("%llu faults, %llu clobbers\n", tev_u(e, "faults"), tev_u(e, "clobbers"));
	} else if (!strcmp(e->name, "map") || !strcmp(e->name, "unmap") ||
		   !strcmp(e->name, "reload")) {
		printf("%s 0x%llx +%llu pages", e->name[0] == 'm' ? "MAP" :
		       e->name[0] == 'u' ? "UNMAP" : "RELOAD", tev_u(e, "va"),
		       tev_u(e, "npages"));
		if (e->name[0] == 'm')
			printf(" (%s)", tev_str(e, "pgsize"));
		tev_result(e, e->name[0] == 'm' ? "mapped" :
			   e->name[0] == 'u' ? "unmapped" : "reloaded");
	} else if (!strcmp(e->name, "share") && (long)tev_u(e, "hat") != id) {
		printf("hat %llu SHAREs 0x%llx +%llu pages of this hat", tev_u(e, "hat"),
		       tev_u(e, "va"), tev_u(e, "npages"));
		tev_result(e, "tables");
	} else if (!strcmp(e->name, "share") || !strcmp(e->name, "unshare")) {
		printf("%s 0x%llx +%llu pages", e->name[0] == 's' ? "SHARE" : "UNSHARE",
		       tev_u(e, "va"), tev_u(e, "npages"));
		if (e->name[0] == 's')
			printf(" from hat %llu", tev_u(e, "owner"));
		tev_result(e, "tables");
	} else {
		printf("%s\n", e->name);
	}
}

/* Write @s to @dir/@file. Returns 0 or -1 with errno set. */
static int tracefs_write(const char *dir, const char *file, const char *s)
{
	char path[512];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = errno ? errno : EIO;
	close(fd);
	errno = err;
	return err ? -1 : 0;
}

/*
 * trace [ID] [count N] [for SECS]: the events of hat ID (the current
 * hat's in the shell), in words, as they happen, from a tracefs instance
 * of htablectl's own, filtered on the hat id. Ends after N events, SECS
 * seconds, or Ctrl-C.
 */
static int cmd_trace(int argc, char **argv)
{
	static const char *const vw[] = { "count", "for", NULL };
	static const char *const evs[] = {
		"table_alloc", "table_free", "steal_table", "steal_cached", "shootdown",
		"window_start", "window_end", "map", "unmap", "reload", "share", "unshare",
	};
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	unsigned long long val[2] = { 0, 0 }, id = 0, shown = 0;
	char inst[256], file[512], filt[64], buf[8192], line[sizeof(buf)];
	bool given[2] = { false, false };
	int a = 1, fd = -1, st = 0;
	size_t i, len = 0;
	double end = 0;
	struct tev e;

	if (a < argc && (argv[a][0] >= '0' && argv[a][0] <= '9')) {
		if (arg_u64(argv[a++], "hat id", &id))
			return ST_USAGE;
	} else if (cur >= 0 && hats[cur].id > 0) {
		id = hats[cur].id;
	}
	if (arg_flags(argc, argv, a, NULL, &(unsigned int){ 0 }, vw, val, given))
		return ST_USAGE;
	if (!id)
		return complain(ST_USAGE, "which hat? give its id (see 'hats')");
	for (i = 0; i < ARRAY_SIZE(roots); i++) {
		snprintf(inst, sizeof(inst), "%s/instances", roots[i]);
		if (!access(inst, W_OK))
			break;
	}
	if (i == ARRAY_SIZE(roots))
		return fail_errno(ENOENT, false,
				  "no tracefs (mount -t tracefs none /sys/kernel/tracing)");
	snprintf(inst, sizeof(inst), "%s/instances/htablectl_%d", roots[i], getpid());
	if (mkdir(inst, 0700))
		return fail_errno(errno, false, "mkdir %s", inst);
	for (i = 0; i < ARRAY_SIZE(evs); i++) {
		snprintf(file, sizeof(file), "events/htable/htable_%s/filter", evs[i]);
		snprintf(filt, sizeof(filt), strcmp(evs[i], "share") ? "hat == %llu" :
			 "hat == %llu || owner == %llu", id, id);
		if (tracefs_write(inst, file, filt)) {
			st = fail_errno(errno, true, "%s/%s", inst, file);
			goto out;
		}
		snprintf(file, sizeof(file), "events/htable/htable_%s/enable", evs[i]);
		if (tracefs_write(inst, file, "1")) {
			st = fail_errno(errno, true, "%s/%s", inst, file);
			goto out;
		}
	}
	snprintf(file, sizeof(file), "%s/trace_pipe", inst);
	fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || tracefs_write(inst, "tracing_on", "1")) {
		st = fail_errno(errno, false, "%s", file);
		goto out;
	}
	printf("tracing hat %llu", id);
	if (given[0])
		printf(" for %llu events", val[0]);
	if (given[1])
		printf(" for %llu s", val[1]);
	printf(" (Ctrl-C stops)\n");
	fflush(stdout);
	stop_watch = 0;
	signal(SIGINT, on_sigint);
	if (given[1]) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		end = ts.tv_sec + ts.tv_nsec / 1e9 + val[1];
	}
	while (!stop_watch && (!given[0] || shown < val[0])) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct timespec ts;
		ssize_t n;
		char *nl;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (given[1] && ts.tv_sec + ts.tv_nsec / 1e9 >= end)
			break;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			continue;
		len += n;
		buf[len] = 0;
		while ((nl = strchr(buf, '\n')) && (!given[0] || shown < val[0])) {
			*nl = 0;
			snprintf(line, sizeof(line), "%s", buf);
			memmove(buf, nl + 1, len - (nl + 1 - buf) + 1);
			len -= nl + 1 - buf;
			if (!tev_parse(line, &e))
				continue;
			tev_print(&e, id);
			shown++;
			fflush(stdout);
		}
		if (len == sizeof(buf) - 1)
			len = 0;	/* a line too long to be ours */
	}
	signal(SIGINT, SIG_DFL);
out:
	if (fd >= 0)
		close(fd);
	tracefs_write(inst, "tracing_on", "0");
	rmdir(inst);
	return st;
}

static int cmd_echo(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		printf("%s%s", i > 1 ? " " : "", argv[i]);
	printf("\n");
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct cmd commands[] = {
	{ "help", 0, 1, cmd_help, "[COMMAND]", "list the commands, or explain one" },
	{ "version", 0, 0, cmd_version, "", "ABI version and paging levels (VERSION)" },
	{ "open", 0, 0, cmd_open, "", "open another hat and make it current" },
	{ "use", 1, 1, cmd_use, "N|@N", "make hat N (1 = the first opened) current" },
	{ "close", 0, 0, cmd_close, "", "close the current hat" },
	{ "map", 2, 10, cmd_map,
	  "VA NPAGES [write] [exec] [lock] [2m|1g] [pin] [alias VA [count N]]",
	  "map NPAGES 4 KiB pages at VA (MAP) with 4K, 2M or 1G entries; alias\n"
	  "            backs them by N pages mapped at VA; pin by this process's\n"
	  "            memory (hugetlb for 2m/1g); 1g without alias pins a 1 GiB\n"
	  "            hugetlb page" },
	{ "unmap", 2, 2, cmd_unmap, "VA NPAGES",
	  "unmap NPAGES pages at VA (UNMAP); splits a large page cut in part" },
	{ "probe", 1, 1, cmd_probe, "VA",
	  "translate VA: flags, level, pfn, pte, page size (PROBE)" },
	{ "info", 0, 0, cmd_info, "",
	  "tables and entries per level, counts (INFO); large pages, shared tables" },
	{ "share", 3, 3, cmd_share, "@N|fd:N VA NPAGES",
	  "link the leaf tables of hat N (or of the hat on fd N) for VA into the\n"
	  "            current hat (SHARE); VA 2 MiB-aligned, NPAGES a multiple of 512" },
	{ "unshare", 2, 2, cmd_unshare, "VA NPAGES",
	  "detach the tables shared into the current hat there (UNSHARE)" },
	{ "check", 0, 0, cmd_check, "", "run the independent checker (CHECK)" },
	{ "verify", 2, 7, cmd_verify, "VA NPAGES [write] [cpu N] [seed S]",
	  "load the hat into CR3 and touch every page through it (RUN verify)" },
	{ "resident", 2, 6, cmd_resident, "VA MS [cpu N] [samples N]",
	  "stay in CR3 for MS ms reading VA's first word (RUN resident)" },
	{ "sync", 2, 3, cmd_sync, "VA NPAGES [clear]",
	  "count pages with Accessed and Dirty set (SYNC)" },
	{ "reload", 2, 2, cmd_reload, "VA NPAGES", "rebuild stolen translations (RELOAD)" },
	{ "read", 1, 2, cmd_read, "VA [LEN]", "hex dump LEN bytes (default 64) at VA (RW)" },
	{ "write", 2, -1, cmd_write, "VA TEXT...", "write TEXT into the page at VA (RW)" },
	{ "rw", 2, -1, cmd_rw, "read VA [LEN] | write VA TEXT", "read or write (RW)" },
	{ "tree", 0, 0, cmd_tree, "",
	  "draw the hat's tables: levels, va ranges, valid, locked, large pages" },
	{ "steal", 1, 1, cmd_steal, "N", "every Nth table allocation steals first (0 = off)" },
	{ "reap", 0, 1, cmd_reap, "[N]", "reap up to N tables now (0 = the module's count)" },
	{ "knob", 1, 2, cmd_knob, "NAME [VALUE|COUNTER]",
	  "read or write a debugfs knob, e.g. 'knob ptable_cap active_ptables'" },
	{ "stats", 0, 5, cmd_stats, "[--json] [--watch SECS [--count N]]",
	  "all counters; with --watch, the changed ones and their deltas" },
	{ "stat", 1, 1, cmd_stat, "NAME", "one counter" },
	{ "mark", 0, 0, cmd_mark, "", "remember the counters for 'delta'" },
	{ "delta", 0, 0, cmd_delta, "", "counters changed since 'mark', with deltas" },
	{ "hats", 0, 0, cmd_hats, "", "the module's list of open hats (debugfs)" },
	{ "trace", 0, 5, cmd_trace, "[ID] [count N] [for SECS]",
	  "hat ID's events (the current hat's), live, in words (tracefs)" },
	{ "echo", 0, -1, cmd_echo, "TEXT...", "print TEXT" },
	{ NULL },
};

static const struct cmd *find_cmd(const char *name)
{
	const struct cmd *c;

	for (c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void usage_of(FILE *f, const struct cmd *c)
{
	fprintf(f, "  %-9s %s\n            %s\n", c->name, c->args, c->help);
}

static int cmd_help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc > 1) {
		c = find_cmd(argv[1]);
		if (!c)
			return complain(ST_USAGE, "no command '%s'", argv[1]);
		usage_of(stdout, c);
		return 0;
	}
	for (c = commands; c->name; c++)
		usage_of(stdout, c);
	printf("  %-9s %s\n", "!CMD", "run CMD with /bin/sh (shell only)");
	printf("  %-9s %s\n", "quit", "leave the shell (also exit, or end of input)");
	printf("Numbers: decimal, 0x hex, or with a suffix k, m, g, t (4g = 0x100000000).\n");
	return 0;
}

/* Run one command: @argv[0] is its name. Returns ST_*. */
static int run_argv(int argc, char **argv)
{
	const struct cmd *c = find_cmd(argv[0]);

	if (!c)
		return complain(ST_USAGE, "unknown command '%s' (try 'help')", argv[0]);
	if (argc - 1 < c->min_args || (c->max_args >= 0 && argc - 1 > c->max_args)) {
		cmd_name = c->name;
		complain(ST_USAGE, "wrong number of arguments; usage:");
		cmd_name = NULL;
		usage_of(stderr, c);
		return ST_USAGE;
	}
	cmd_name = c->name;
	return c->fn(argc, argv);
}

/* Split @s at blanks into @argv (at most MAX_ARGS). Returns the count. */
static int split(char *s, char **argv)
{
	int argc = 0;
	char *save, *w;

	for (w = strtok_r(s, " \t\r\n", &save); w && argc < MAX_ARGS;
	     w = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = w;
	return argc;
}

/*
 * shell [-x] [FILE]: commands one per line (or separated by ';') from FILE
 * or standard input; '#' starts a comment, '!' runs the rest of the line
 * with /bin/sh. Interactive, a failed command is reported and the shell
 * goes on; from a script, the first failure ends it with that status.
 */
static int run_shell(FILE *in, bool trace)
{
	bool tty = isatty(fileno(in));
	char *line = NULL, *stmt, *save, *hash, *argv[MAX_ARGS];
	size_t cap = 0;
	int argc, st, status = 0;

	if (tty)
		printf("htablectl shell: 'help' lists the commands, 'quit' leaves\n");
	for (;;) {
		if (tty) {
			printf("htable> ");
			fflush(stdout);
		}
		if (getline(&line, &cap, in) < 0)
			break;
		if (line[0] == '!') {
			if (trace)
				printf("htable> %s", line);
			fflush(stdout);
			st = system(line + 1);
			if (st) {
				st = complain(ST_FAIL, "'!' command exited with status %d",
					      WIFEXITED(st) ? WEXITSTATUS(st) : 128);
			}
			goto done;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		st = 0;
		for (stmt = strtok_r(line, ";", &save); stmt && !st;
		     stmt = strtok_r(NULL, ";", &save)) {
			argc = split(stmt, argv);
			if (!argc)
				continue;
			if (!strcmp(argv[0], "quit") || !strcmp(argv[0], "exit"))
				goto out;
			if (trace) {
				printf("htable> ");
				for (int i = 0; i < argc; i++)
					printf("%s%s", i ? " " : "", argv[i]);
				printf("\n");
			}
			st = run_argv(argc, argv);
			cmd_name = NULL;
			fflush(stdout);
		}
done:
		if (st) {
			status = st;
			if (!tty)
				break;
		}
	}
out:
	free(line);
	return status;
}

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: htablectl [options] COMMAND [ARGS]\n"
		"       htablectl [options] shell [-x] [FILE]\n"
		"       htablectl stats [--json] [--watch SECS [--count N]]\n"
		"\n"
		"Drive /dev/htable by hand. 'shell' keeps hats open across commands,\n"
		"read from FILE, standard input or the terminal (-x echoes each\n"
		"command); a single COMMAND runs on a new hat, or on --fd's.\n"
		"\n"
		"options:\n"
		"  --dev PATH    the device (default %s)\n"
		"  --debugfs DIR htable's debugfs directory (default %s)\n"
		"  --fd N        use the already open hat on file descriptor N\n"
		"  --id ID       its debugfs id (for 'tree' with --fd)\n"
		"  -h, --help    this text\n"
		"\n"
		"commands:\n", HTABLE_DEV_PATH, DEBUGFS_DIR);
	for (const struct cmd *c = commands; c->name; c++)
		usage_of(f, c);
	fprintf(f,
		"\n"
		"Exit status: 0 on success, 1 when an operation failed (the kernel's\n"
		"errno is printed in words), 2 on bad usage. See htablectl(8):\n"
		"Documentation/htablectl.rst.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "debugfs", required_argument, NULL, 'D' },
		{ "fd", required_argument, NULL, 'f' },
		{ "id", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	long fd = -1, id = -1;
	int o;

	/* Options stop at the command: "stats --json" keeps its own. */
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			dev_path = optarg;
			break;
		case 'D':
			dbg_dir = optarg;
			break;
		case 'f':
		case 'i':
			if (arg_u64(optarg, o == 'f' ? "--fd" : "--id", &v))
				return ST_USAGE;
			if (o == 'f')
				fd = v;
			else
				id = v;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return ST_USAGE;
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return ST_USAGE;
	}
	if (fd >= 0) {
		if (fcntl(fd, F_GETFD) < 0)
			return fail_errno(errno, false, "--fd %ld", fd);
		hats[0].fd = fd;
		hats[0].id = id;
		nhats = 1;
		cur = 0;
	}
	if (!strcmp(argv[optind], "shell")) {
		bool trace = false;
		FILE *in = stdin;
		int i = optind + 1, st;

		if (i < argc && !strcmp(argv[i], "-x")) {
			trace = true;
			i++;
		}
		if (i + 1 < argc) {
			print_usage(stderr);
			return ST_USAGE;
		}
		if (i < argc) {
			in = fopen(argv[i], "r");
			if (!in)
				return fail_errno(errno, false, "%s", argv[i]);
		}
		/* Hold one hat from the start, so a missing module shows at once. */
		if (cur < 0 && hat_open())
			return ST_FAIL;
		st = run_shell(in, trace);
		if (in != stdin)
			fclose(in);
		return st;
	}
	return run_argv(argc - optind, argv + optind);
}
