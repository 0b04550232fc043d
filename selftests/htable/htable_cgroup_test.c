// SPDX-License-Identifier: GPL-2.0
/*
 * The memory a hat makes the module allocate is charged, and limited
 * (issue 15.3).
 *
 * Memory cgroup: a child process in a fresh cgroup v2 group with
 * memory.max = 16 MiB (and memory.swap.max = 0) opens /dev/htable and maps
 * until a MAP fails:
 *
 * - fresh pages, 1 MiB a MAP;
 * - aliases of one page, one page a MAP, each in a 2 MiB region of its
 *   own, so that each MAP costs a leaf table and nothing else of note;
 * - pinned pages of a memfd that the test filled before the child joined
 *   the group (so that they are charged outside it), one page a MAP, each
 *   in a 2 MiB region of its own: a leaf table, and a pin record the
 *   first time a page is pinned.
 *
 * The test's own model gives a lower bound of what the successful MAPs
 * allocated (4 KiB a page, 4 KiB a leaf table, 4 KiB a level-1 table per
 * GiB). Each run must end in ENOMEM, not in a kill and not in success
 * a quarter past the limit (the guard of a module that charges nothing); the
 * group's memory.current must have grown by at least the model's bytes;
 * those bytes can't pass memory.max; the group's memory.events must show
 * no oom_kill, and a process outside the group must still be alive. CHECK
 * is clean after the failure, and after close memory.current is back near
 * where it started: nothing the maps charged is left. Nor is anything of
 * the hat left in the module: debugfs stats' hats and active_ptables are
 * back to their values from before the child ran.
 *
 * RLIMIT_MEMLOCK: pinned pages count against it through
 * account_locked_vm(), which counts pages: locked_vm + pages > RLIMIT_MEMLOCK
 * >> PAGE_SHIFT is refused, unless the caller has CAP_IPC_LOCK. With 1 MiB
 * (256 pages) and the capability dropped, a PIN MAP of 257 pages fails with
 * ENOMEM and changes nothing, one of 256 succeeds, and one page more
 * fails; UNMAP gives the pages back; with the capability, 257 succeed.
 * The memory is anonymous in a process with THP disabled (prctl, as the
 * debug kernel has no madvise()), so each pinned page is a folio of its
 * own.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define CG_TIMEOUT	300
#define CG_ROOT		"/sys/fs/cgroup"
#define MIB		_BITULL(20)
#define CG_MAX		(16 * MIB)	/* small: a MAP a table, slow on the debug kernel */
#define GUARD		(CG_MAX + CG_MAX / 4)	/* past this, the charge went nowhere */
#define MIN_FRESH	(CG_MAX / 2)	/* fresh pages mapped before ENOMEM */
#define SLACK		(2 * MIB)	/* per-CPU charge stocks, the child's own */
#define VA_FRESH	HT_SZ_1G
#define VA_SRC		(2 * HT_SZ_1G)
#define VA_REGIONS	(4 * HT_SZ_1G)
#define PIN_PAGES	4096		/* the memfd the PIN run cycles through */
#define FRESH_CHUNK	(MIB / HT_PAGE_SIZE)

enum cg_run { RUN_FRESH, RUN_ALIAS, RUN_PIN };

/* What the child in the group reports, in memory shared with the test. */
struct cg_result {
	int done;		/* the child got to the end */
	int err;		/* errno of a setup step that failed */
	int map_err;		/* -errno of the MAP that failed; 0: the guard */
	__u64 maps;		/* MAPs that succeeded */
	__u64 bytes;		/* the model: what they allocated at least */
	long long cur_start;	/* memory.current before the open */
	long long cur_full;	/* after the failed MAP */
	long long cur_closed;	/* after the close */
	long long check_errors;
	__u64 mapped_pages;	/* INFO at the failure */
	int full;		/* the child is at the limit, and waits */
	int cont;		/* the parent has read memory.current */
};

FIXTURE(cg) {
	char dir[128];
	pid_t sleeper;
	struct cg_result *res;
	unsigned char *pinmem;
	int mfd;
};

/* Write @val to the file @name of the group @dir: 0 or -errno. */
static int cg_write(const char *dir, const char *name, const char *val)
{
	char path[256];
	ssize_t len = strlen(val);
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		err = -errno;
	close(fd);
	return err;
}

/* A number from the file @name of @dir, or the "@key N" line of it; -1. */
static long long cg_read(const char *dir, const char *name, const char *key)
{
	char path[256], k[64];
	long long val = -1, v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!key) {
		if (fscanf(f, "%lld", &v) == 1)
			val = v;
	} else {
		while (fscanf(f, "%63s %lld", k, &v) == 2)
			if (!strcmp(k, key))
				val = v;
	}
	fclose(f);
	return val;
}

/* cgroup2 at CG_ROOT with the memory controller for its children: 0 or -errno. */
static int cg_ready(void)
{
	char ctl[256] = "";
	FILE *f;

	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CG_ROOT, 0755);
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
			return -errno;
	}
	f = fopen(CG_ROOT "/cgroup.subtree_control", "r");
	if (!f)
		return -errno;
	if (!fgets(ctl, sizeof(ctl), f))
		ctl[0] = '\0';
	fclose(f);
	if (strstr(ctl, "memory"))
		return 0;
	return cg_write(CG_ROOT, "cgroup.subtree_control", "+memory");
}

FIXTURE_SETUP(cg)
{
	char max[32], path[256];
	int ret;

	self->mfd = -1;
	self->pinmem = MAP_FAILED;
	self->sleeper = -1;
	self->res = mmap(NULL, sizeof(*self->res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	memset(self->res, 0, sizeof(*self->res));
	ret = cg_ready();
	ASSERT_EQ(0, ret) TH_LOG("cgroup2 with memory: %s", strerror(-ret));
	snprintf(self->dir, sizeof(self->dir), CG_ROOT "/htable_cg_%d", getpid());
	rmdir(self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0755)) TH_LOG("%s: %s", self->dir, strerror(errno));
	snprintf(max, sizeof(max), "%llu", CG_MAX);
	ASSERT_EQ(0, cg_write(self->dir, "memory.max", max));
	/* Without CONFIG_SWAP the file is absent, and so is swap. */
	snprintf(path, sizeof(path), "%s/memory.swap.max", self->dir);
	if (!access(path, F_OK))
		ASSERT_EQ(0, cg_write(self->dir, "memory.swap.max", "0"));
	/* A process outside the group: no OOM kill may reach it. */
	self->sleeper = fork();
	ASSERT_LE(0, self->sleeper);
	if (!self->sleeper) {
		for (;;)
			pause();
	}
}

FIXTURE_TEARDOWN(cg)
{
	int i;

	if (self->sleeper > 0) {
		kill(self->sleeper, SIGKILL);
		waitpid(self->sleeper, NULL, 0);
	}
	for (i = 0; i < 100 && rmdir(self->dir) && errno == EBUSY; i++)
		usleep(10000);
	if (self->pinmem != MAP_FAILED)
		munmap(self->pinmem, PIN_PAGES * HT_PAGE_SIZE);
	if (self->mfd >= 0)
		close(self->mfd);
	munmap(self->res, sizeof(*self->res));
}

/* The model's tables for the @n-th MAP into a 2 MiB region of its own. */
static __u64 region_bytes(__u64 n)
{
	/* A leaf table; a level-1 table for each new GiB. */
	return HT_PAGE_SIZE + (n % 512 ? 0 : HT_PAGE_SIZE);
}

/* One MAP of @run, the @n-th: 0 or -errno; adds the model's bytes. */
static int map_one(int fd, enum cg_run run, __u64 n, const unsigned char *pinmem,
		   __u64 *bytes)
{
	__u64 va = VA_REGIONS + n * HT_SZ_2M;
	int ret;

	switch (run) {
	case RUN_FRESH:
		ret = ht_map(fd, VA_FRESH + n * MIB, FRESH_CHUNK, HTABLE_MAP_WRITE);
		if (!ret)
			*bytes += MIB + (n % 2 ? 0 : HT_PAGE_SIZE);
		return ret;
	case RUN_ALIAS:
		ret = ht_map_alias(fd, va, 1, HTABLE_MAP_ALIAS, VA_SRC, 1);
		break;
	default:
		ret = ht_map_alias(fd, va, 1, HTABLE_MAP_PIN,
				   (uintptr_t)(pinmem + (n % PIN_PAGES) * HT_PAGE_SIZE), 0);
		break;
	}
	if (!ret)
		*bytes += region_bytes(n);
	return ret;
}

/*
 * Write 4 KiB of stack in each of @depth frames below this one, so that
 * the stack the child uses later is its own: the recursion keeps each
 * frame's page alive until the call below it returns.
 */
static int prefault_stack(int depth)
{
	char page[4096];

	memset(page, depth, sizeof(page));
	if (!depth)
		return page[0];
	return prefault_stack(depth - 1) + page[depth % sizeof(page)];
}

/*
 * The child, in the group: map until a MAP fails, report, close. At the
 * failure the group is at its limit, where any allocation of the child's
 * own (a read of memory.current, even a pipe's buffer) would call the
 * group's OOM killer: the parent, outside the group, reads memory.current
 * then, while the child waits on a flag in shared memory, which costs the
 * child no allocation.
 */
static void child_run(const char *dir, enum cg_run run, struct cg_result *res,
		      const unsigned char *pinmem, int go)
{
	struct htable_check c;
	struct htable_info info;
	char byte;
	int fd;

	if (read(go, &byte, 1) != 1)
		_exit(1);
	/*
	 * Write now, while the group has room, what the child will write
	 * after the failure: since fork() these pages are the parent's,
	 * and a first write then (errno, set by the failing MAP; the stack
	 * of the wait) would copy them, charged to the full group, whose
	 * OOM killer would then pick the child.
	 */
	res->check_errors = prefault_stack(16 + (int)res->maps);
	/*
	 * The same for this frame's own out structures: INFO and CHECK fill
	 * them after the failure, and one of them may straddle into a page
	 * above the stack pointer that only the parent has written (as the
	 * stack's random offset falls). The empty asm keeps the stores,
	 * which the later poisoning would otherwise make dead.
	 */
	memset(&c, 0, sizeof(c));
	memset(&info, 0, sizeof(info));
	asm volatile("" : : "r"(&c), "r"(&info) : "memory");
	errno = 0;
	usleep(1);
	res->cur_start = cg_read(dir, "memory.current", NULL);
	fd = htable_open_dev();
	if (fd < 0) {
		res->err = errno;
		_exit(0);
	}
	if (run == RUN_ALIAS && ht_map(fd, VA_SRC, 1, 0)) {
		res->err = errno;
		_exit(0);
	}
	while (res->bytes <= GUARD) {
		res->map_err = map_one(fd, run, res->maps, pinmem, &res->bytes);
		if (res->map_err)
			break;
		res->maps++;
	}
	__atomic_store_n(&res->full, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&res->cont, __ATOMIC_ACQUIRE))
		usleep(1000);
	res->mapped_pages = ht_info(fd, &info) ? ~0ULL : info.mapped_pages;
	res->check_errors = ht_check(fd, &c) ? -1 : (long long)c.errors;
	close(fd);
	res->cur_closed = cg_read(dir, "memory.current", NULL);
	res->done = 1;
	_exit(0);
}

/* Run @run in a child in the group and judge what it reports. */
static void cg_run(struct __test_metadata *_metadata, struct _test_data_cg *self,
		   enum cg_run run)
{
	struct cg_result *res = self->res;
	long long hats, ptables;
	int go[2], status;
	pid_t child, gone = 0;
	char pid[32];

	/* The module's gauges: what the child's hat holds goes with it. */
	hats = htable_stat("hats");
	ptables = htable_stat("active_ptables");
	ASSERT_LE(0, hats);
	ASSERT_LE(0, ptables);
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		close(go[1]);
		child_run(self->dir, run, res, self->pinmem, go[0]);
	}
	close(go[0]);
	snprintf(pid, sizeof(pid), "%d", child);
	ASSERT_EQ(0, cg_write(self->dir, "cgroup.procs", pid));
	ASSERT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	/* The child is at the limit: read memory.current for it. */
	while (!__atomic_load_n(&res->full, __ATOMIC_ACQUIRE) &&
	       (gone = waitpid(child, &status, WNOHANG)) == 0)
		usleep(1000);
	if (__atomic_load_n(&res->full, __ATOMIC_ACQUIRE)) {
		res->cur_full = cg_read(self->dir, "memory.current", NULL);
		__atomic_store_n(&res->cont, 1, __ATOMIC_RELEASE);
	}
	if (gone != child)
		ASSERT_EQ(child, waitpid(child, &status, 0));

	printf("# %llu MAPs (at least %llu KiB), then %s\n", res->maps, res->bytes >> 10,
	       res->map_err ? strerror(-res->map_err) : "the guard");
	printf("# memory.current %lld -> %lld -> %lld KiB; max %lld oom %lld oom_kill %lld\n",
	       res->cur_start >> 10, res->cur_full >> 10, res->cur_closed >> 10,
	       cg_read(self->dir, "memory.events", "max"),
	       cg_read(self->dir, "memory.events", "oom"),
	       cg_read(self->dir, "memory.events", "oom_kill"));
	printf("# debugfs hats %lld -> %lld, active_ptables %lld -> %lld\n",
	       hats, htable_stat("hats"), ptables, htable_stat("active_ptables"));
	fflush(stdout);
	/* The hat is gone, and every table it had (the child has exited). */
	EXPECT_EQ(hats, htable_stat("hats"));
	EXPECT_EQ(ptables, htable_stat("active_ptables"));
	/* Not a kill, in the group or outside it. */
	EXPECT_EQ(0, cg_read(self->dir, "memory.events", "oom_kill"));
	EXPECT_EQ(0, kill(self->sleeper, 0));
	EXPECT_EQ(0, waitpid(self->sleeper, NULL, WNOHANG));
	ASSERT_TRUE(WIFEXITED(status)) {
		TH_LOG("the child was killed by signal %d after %llu MAPs",
		       WTERMSIG(status), res->maps);
	}
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, res->err) TH_LOG("child setup: %s", strerror(res->err));
	ASSERT_TRUE(res->done);

	/* ENOMEM, before the guard. */
	EXPECT_EQ(-ENOMEM, res->map_err) {
		TH_LOG("%llu MAPs (%llu MiB) ended in %s", res->maps, res->bytes >> 20,
		       res->map_err ? strerror(-res->map_err) : "no error");
	}
	/*
	 * Charged: never past the limit, and all of it in the group. What
	 * the group held before (a few hundred KiB of the child's own) may
	 * be reclaimed on the way to the limit, so only the model's bytes
	 * must be in memory.current at the end.
	 */
	EXPECT_GE(CG_MAX, res->bytes);
	EXPECT_LE((long long)res->bytes, res->cur_full) {
		TH_LOG("memory.current %lld KiB for at least %llu KiB allocated",
		       res->cur_full >> 10, res->bytes >> 10);
	}
	EXPECT_EQ(0, res->check_errors);
	/* Nothing left charged once the hat is closed. */
	EXPECT_GE(res->cur_start + (long long)SLACK, res->cur_closed);
}

/* Is the module loaded (for htable_dev_missing(): the child opens the device)? */
static int dev_present(void)
{
	return !access(HTABLE_DEV_PATH, F_OK);
}

/* Fresh pages: more than half the limit, then ENOMEM. */
TEST_F_TIMEOUT(cg, fresh_pages, CG_TIMEOUT)
{
	if (htable_dev_missing(_metadata, !dev_present(), ENOENT))
		return;
	cg_run(_metadata, self, RUN_FRESH);
	EXPECT_LT(MIN_FRESH, self->res->bytes);
	EXPECT_EQ(self->res->maps * FRESH_CHUNK, self->res->mapped_pages);
}

/* Aliases of one page: tables only. */
TEST_F_TIMEOUT(cg, alias_tables, CG_TIMEOUT)
{
	if (htable_dev_missing(_metadata, !dev_present(), ENOENT))
		return;
	cg_run(_metadata, self, RUN_ALIAS);
	EXPECT_EQ(self->res->maps + 1, self->res->mapped_pages);
}

/* Pins of memory charged outside the group: tables and pin records. */
TEST_F_TIMEOUT(cg, pin_tables, CG_TIMEOUT)
{
	if (htable_dev_missing(_metadata, !dev_present(), ENOENT))
		return;
	self->mfd = memfd_create("htable_cg", MFD_CLOEXEC);
	ASSERT_LE(0, self->mfd);
	ASSERT_EQ(0, ftruncate(self->mfd, PIN_PAGES * HT_PAGE_SIZE));
	self->pinmem = mmap(NULL, PIN_PAGES * HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_SHARED, self->mfd, 0);
	ASSERT_NE(MAP_FAILED, self->pinmem);
	/* Charged to the test's own group, before the child joins its group. */
	memset(self->pinmem, 0x5a, PIN_PAGES * HT_PAGE_SIZE);
	cg_run(_metadata, self, RUN_PIN);
	EXPECT_EQ(self->res->maps, self->res->mapped_pages);
}

/* Drop CAP_IPC_LOCK from every set of this process: 0 or -errno. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	__u32 bit = 1U << (CAP_IPC_LOCK % 32);
	int i = CAP_IPC_LOCK / 32;

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[i].effective &= ~bit;
	d[i].permitted &= ~bit;
	d[i].inheritable &= ~bit;
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* A hex or decimal field of /proc/self/status ("CapEff:", "VmLck:"), or -1. */
static long long status_field(const char *key, int base)
{
	char line[256];
	long long val = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			val = strtoll(line + strlen(key), NULL, base);
	if (f)
		fclose(f);
	return val;
}

static int set_memlock(__u64 soft, __u64 hard)
{
	struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };

	return setrlimit(RLIMIT_MEMLOCK, &rl) ? -errno : 0;
}

#define ML_PAGES	256	/* 1 MiB of 4 KiB pages */
#define ML_VA		(6 * HT_SZ_1G)

/* PIN @n pages of @mem at @va: 0 or -errno. */
static int pin(int fd, __u64 va, __u64 n, unsigned char *mem)
{
	return ht_map_alias(fd, va, n, HTABLE_MAP_PIN, (uintptr_t)mem, 0);
}

/*
 * The harness runs each test in a process of its own: the capability and
 * the limit this one drops go with it.
 */
TEST(memlock_rlimit)
{
	size_t len = 4 * ML_PAGES * HT_PAGE_SIZE;
	struct htable_info info;
	unsigned char *mem;
	int fd, err, ret;

	fd = htable_open_dev();
	err = errno;
	if (htable_dev_missing(_metadata, fd < 0, err))
		return;
	/* Each page a folio of its own: account_locked_vm() counts folios' pages. */
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0));
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	/* Nothing locked yet: locked_vm (VmLck) starts at 0. */
	ASSERT_EQ(0, status_field("VmLck:", 10));
	ASSERT_EQ(0, set_memlock(ML_PAGES * HT_PAGE_SIZE, 2 * ML_PAGES * HT_PAGE_SIZE));

	/* With CAP_IPC_LOCK the limit does not apply (the control). */
	ASSERT_TRUE(status_field("CapEff:", 16) & _BITULL(CAP_IPC_LOCK));
	ret = pin(fd, ML_VA, ML_PAGES + 1, mem);
	ASSERT_EQ(0, ret) TH_LOG("PIN with CAP_IPC_LOCK: %s", strerror(-ret));
	ASSERT_EQ(0, ht_unmap(fd, ML_VA, ML_PAGES + 1));

	ret = drop_ipc_lock();
	ASSERT_EQ(0, ret) TH_LOG("capset: %s", strerror(-ret));
	ASSERT_FALSE(status_field("CapEff:", 16) & _BITULL(CAP_IPC_LOCK));
	/* One page over: refused, nothing mapped. */
	ASSERT_EQ(-ENOMEM, pin(fd, ML_VA, ML_PAGES + 1, mem));
	ASSERT_EQ(0, ht_info(fd, &info));
	EXPECT_EQ(0, info.mapped_pages);
	EXPECT_EQ(0, info.owned_pages);
	/* The limit exactly: mapped; one more page of other memory: refused. */
	ret = pin(fd, ML_VA, ML_PAGES, mem);
	EXPECT_EQ(0, ret) TH_LOG("PIN of RLIMIT_MEMLOCK: %s", strerror(-ret));
	EXPECT_EQ(-ENOMEM, pin(fd, ML_VA + ML_PAGES * HT_PAGE_SIZE, 1,
			       mem + ML_PAGES * HT_PAGE_SIZE));
	/* UNMAP gives them back: as many of other memory fit again. */
	ASSERT_EQ(0, ht_unmap(fd, ML_VA, ML_PAGES));
	ret = pin(fd, ML_VA, ML_PAGES, mem + 2 * ML_PAGES * HT_PAGE_SIZE);
	EXPECT_EQ(0, ret) TH_LOG("PIN after UNMAP: %s", strerror(-ret));
	/* A higher limit lets exactly that much more in. */
	ASSERT_EQ(0, set_memlock(2 * ML_PAGES * HT_PAGE_SIZE, 2 * ML_PAGES * HT_PAGE_SIZE));
	EXPECT_EQ(-ENOMEM, pin(fd, ML_VA + ML_PAGES * HT_PAGE_SIZE, ML_PAGES + 1, mem));
	ret = pin(fd, ML_VA + ML_PAGES * HT_PAGE_SIZE, ML_PAGES, mem);
	EXPECT_EQ(0, ret) TH_LOG("PIN up to the raised limit: %s", strerror(-ret));
	EXPECT_EQ(-ENOMEM, pin(fd, ML_VA + 2 * ML_PAGES * HT_PAGE_SIZE, 1,
			       mem + ML_PAGES * HT_PAGE_SIZE));
	ASSERT_EQ(0, ht_info(fd, &info));
	EXPECT_EQ(2 * ML_PAGES, info.mapped_pages);
	close(fd);
	munmap(mem, len);
}

TEST_HARNESS_MAIN
