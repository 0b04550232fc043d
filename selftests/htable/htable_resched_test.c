// SPDX-License-Identifier: GPL-2.0
/*
 * Long operations reschedule (issue 15.5). With preemption "none", a
 * kernel loop that never calls cond_resched() keeps its CPU until it
 * returns; with "voluntary", every might_sleep() on the way (an allocation
 * that may sleep, a mutex) is also a point where it yields, which hides a
 * loop that has no cond_resched() of its own when it allocates. So the
 * test switches the running kernel to "none" (debugfs sched/preempt, with
 * PREEMPT_DYNAMIC) for its duration, and puts the mode back afterwards;
 * a kernel without the file runs the test in the mode it booted with
 * (the l5-nopti-smp4-vol row boots preempt=voluntary). A kernel built
 * to preempt everywhere (CONFIG_PREEMPT without PREEMPT_DYNAMIC, as the
 * debug kernel is: "PREEMPT" in uname -v) can't show a loop that lacks
 * cond_resched(), and is slow with KASAN and kmemleak (a 4M-page MAP
 * took over 4 minutes there): it runs the test on 1/64 of the range,
 * for the results of the long operations only, and keeps its own
 * watchdog_thresh (lowered, its RCU softirq freeing a batch of xarray
 * nodes under KASAN was reported stuck for 3 s).
 *
 * One page aliased HTABLE_MAX_NPAGES (4M) times is the most one MAP can
 * make the module walk: 8192 leaf tables of 4 KiB entries. The test lowers
 * the soft-lockup threshold to its minimum (watchdog_thresh 1: a CPU that
 * does not schedule for 2 s is reported) and runs, on that alias: MAP,
 * CHECK, SYNC, a VERIFY window over the whole range (which first writes
 * its pattern into every page), a reap of every table, RELOAD, a read of
 * the debugfs dump of the hat (which seq_file runs again each time its
 * buffer grows), and UNMAP. Each must succeed with its expected result,
 * and the kernel log must gain no soft lockup, RCU stall or hung task
 * report (the row's judge fails on those too). Each step's time is
 * printed.
 */
#include <stdint.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define RS_TIMEOUT	600
#define VA_SRC		HT_SZ_1G
#define VA_AL		(8 * HT_SZ_1G)
#define NPAGES_MAX	HTABLE_MAX_NPAGES
#define NPAGES_SMALL	(HTABLE_MAX_NPAGES / 64)
#define SEED		0x7e5c4edULL
#define THRESH_PATH	"/proc/sys/kernel/watchdog_thresh"
#define LOCKUP_RE	"soft lockup|rcu: INFO|detected stall|blocked for more than"
#define PREEMPT_PATH	"/sys/kernel/debug/sched/preempt"

FIXTURE(resched) {
	int fd;
	int err;
	long long thresh;
	char preempt[16];	/* the mode to put back; "" when unchanged */
	double t;
};

/* The current mode in @PREEMPT_PATH ("none voluntary (full)"): 0 or -1. */
static int preempt_mode(char *mode, size_t len)
{
	char buf[64], *lp, *rp;

	if (ht_read_text(PREEMPT_PATH, buf, sizeof(buf)) < 0)
		return -1;
	lp = strchr(buf, '(');
	rp = lp ? strchr(lp, ')') : NULL;
	if (!rp || (size_t)(rp - lp) > len)
		return -1;
	snprintf(mode, len, "%.*s", (int)(rp - lp - 1), lp + 1);
	return 0;
}

/* Write @mode to @PREEMPT_PATH: 0 or -errno. */
static int preempt_set(const char *mode)
{
	ssize_t len = strlen(mode);
	int fd, err = 0;

	fd = open(PREEMPT_PATH, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, mode, len) != len)
		err = -errno;
	close(fd);
	return err;
}

FIXTURE_SETUP(resched)
{
	self->thresh = htable_knob_read(THRESH_PATH);
	self->fd = htable_open_dev();
	self->err = errno;
}

FIXTURE_TEARDOWN(resched)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->thresh > 0)
		htable_knob_write(THRESH_PATH, self->thresh);
	if (self->preempt[0])
		preempt_set(self->preempt);
}

/* Lines of the kernel log that report a lockup or a stall, or -1. */
static int lockup_reports(void)
{
	char line[256], *end;
	long n = -1;
	FILE *f = popen("dmesg | grep -cE '" LOCKUP_RE "'", "r");

	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f)) {
		n = strtol(line, &end, 10);
		if (end == line)
			n = -1;
	}
	pclose(f);
	return n;
}

/* Was the kernel built to preempt everywhere ("PREEMPT" in uname -v)? */
static int full_preempt(void)
{
	struct utsname u;

	return !uname(&u) && (strstr(u.version, " PREEMPT ") ||
			      strstr(u.version, " PREEMPT_RT "));
}

/* Print the time since the last step; start the next. */
static void step(struct _test_data_resched *self, const char *what)
{
	double now = ht_now();

	printf("# %-28s %6.2f s\n", what, now - self->t);
	fflush(stdout);
	self->t = now;
}

/*
 * Read all of the hat's debugfs dump, in small reads: its size, or -1.
 * Its last line goes to @last.
 */
static long long read_dump(long id, char *last, size_t len)
{
	size_t size = 0, cap = 1 << 20;
	char path[128], *buf, *end;
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), HTABLE_HAT_DUMP_DIR "%ld", id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	buf = malloc(cap + 1);
	if (fd < 0 || !buf)
		goto out;
	for (;;) {
		if (cap - size < 4096) {
			char *more = realloc(buf, 2 * cap + 1);

			if (!more) {
				n = -1;
				break;
			}
			buf = more;
			cap *= 2;
		}
		n = read(fd, buf + size, 4096);
		if (n <= 0)
			break;
		size += n;
	}
	buf[size] = '\0';
	/* The last line, without its newline. */
	while (size && buf[size - 1] == '\n')
		buf[--size] = '\0';
	end = strrchr(buf, '\n');
	snprintf(last, len, "%.*s", (int)len - 1, end ? end + 1 : buf);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return fd < 0 || n < 0 ? -1 : (long long)size;
}

/*
 * Reap until this hat has no leaf table left: the reaps made, or -1. A
 * reap takes a few tables of each hat (one per hash chain it searches).
 */
static int reap_leaves(int fd)
{
	struct htable_info info;
	__u64 left = ~0ULL;
	int i;

	for (i = 0;; i++) {
		if (ht_info(fd, &info))
			return -1;
		if (!info.tables[0])
			return i;
		/* Each reap must take something. */
		if (info.tables[0] >= left || htable_knob_write(HTABLE_REAP_PATH, 1 << 20))
			return -1;
		left = info.tables[0];
	}
}

TEST_F_TIMEOUT(resched, long_ops_on_4m_alias, RS_TIMEOUT)
{
	__u64 ref, mod, reloaded;
	struct htable_check c;
	struct htable_info info;
	struct htable_probe p;
	struct htable_run r;
	long long size;
	__u64 npages = NPAGES_MAX;
	char last[256], mode[16];
	int before, ret;
	long id;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	id = ht_newest_hat_id();
	ASSERT_LE(0, id);
	ASSERT_LT(0, self->thresh) TH_LOG("%s: no soft-lockup watchdog", THRESH_PATH);
	before = lockup_reports();
	ASSERT_LE(0, before);
	if (!preempt_mode(mode, sizeof(mode))) {
		snprintf(self->preempt, sizeof(self->preempt), "%s", mode);
		ASSERT_EQ(0, preempt_set("none"));
		ASSERT_EQ(0, preempt_mode(mode, sizeof(mode)));
		ASSERT_STREQ("none", mode);
		printf("# preemption: none (was %s)\n", self->preempt);
	} else if (full_preempt()) {
		npages = NPAGES_SMALL;
		printf("# preemption: full, built in (no %s): %llu pages\n",
		       PREEMPT_PATH, npages);
	} else {
		printf("# preemption: as booted (no %s)\n", PREEMPT_PATH);
	}
	if (npages == NPAGES_MAX) {
		ASSERT_EQ(0, htable_knob_write(THRESH_PATH, 1));
		ASSERT_EQ(1, htable_knob_read(THRESH_PATH));
	}
	self->t = ht_now();

	ASSERT_EQ(0, ht_map(self->fd, VA_SRC, 1, HTABLE_MAP_WRITE));
	ret = ht_map_alias(self->fd, VA_AL, npages, HTABLE_MAP_ALIAS, VA_SRC, 1);
	ASSERT_EQ(0, ret) TH_LOG("MAP: %s", strerror(-ret));
	step(self, "MAP alias");

	ASSERT_EQ(0, ht_check(self->fd, &c));
	EXPECT_EQ(0, c.errors);
	EXPECT_LE(npages + 1, c.entries);
	ASSERT_EQ(0, ht_info(self->fd, &info));
	EXPECT_EQ(npages + 1, info.valid[0]);
	step(self, "CHECK");

	/* No window has run: the MMU has set no A or D bit. */
	ASSERT_EQ(0, ht_sync(self->fd, VA_AL, npages, 0, &ref, &mod));
	EXPECT_EQ(0, ref);
	EXPECT_EQ(0, mod);
	step(self, "SYNC");

	ret = ht_run_verify(self->fd, sysconf(_SC_NPROCESSORS_ONLN) > 1, VA_AL, npages,
			    0, SEED, &r);
	ASSERT_EQ(0, ret) TH_LOG("RUN: %s", strerror(-ret));
	EXPECT_EQ(0, r.mismatches);
	EXPECT_EQ(0, r.faults);
	/* The window's own budget may cut it short; then at a chunk's end. */
	EXPECT_EQ(r.watchdog ? r.verified : npages, r.verified);
	step(self, r.watchdog ? "VERIFY (cut short)" : "VERIFY");
	ASSERT_EQ(0, ht_sync(self->fd, VA_AL, npages, HTABLE_SYNC_CLEAR, &ref, &mod));
	EXPECT_EQ(r.verified, ref);
	EXPECT_EQ(0, mod);
	step(self, "SYNC (clear)");

	ret = reap_leaves(self->fd);
	ASSERT_LE(0, ret);
	ASSERT_EQ(0, ht_info(self->fd, &info));
	EXPECT_EQ(0, info.mapped_pages);
	ASSERT_EQ(0, ht_probe(self->fd, VA_AL + (npages - 1) * HT_PAGE_SIZE, &p));
	EXPECT_EQ(HTABLE_PROBE_OWNED, p.flags);
	printf("# %d reaps\n", ret);
	step(self, "reap");

	ASSERT_EQ(0, ht_reload(self->fd, VA_AL, npages, &reloaded));
	EXPECT_EQ(npages, reloaded);
	ASSERT_EQ(0, ht_reload(self->fd, VA_SRC, 1, &reloaded));
	EXPECT_EQ(1, reloaded);
	ASSERT_EQ(0, ht_info(self->fd, &info));
	EXPECT_EQ(npages + 1, info.mapped_pages);
	step(self, "RELOAD");

	size = read_dump(id, last, sizeof(last));
	/* At least a line per leaf table. */
	EXPECT_LT((long long)(npages / HTABLE_2M_NPAGES) * 16, size);
	EXPECT_EQ(0, strncmp(last, "check: 0 errors", 15)) TH_LOG("dump ends: %s", last);
	step(self, "dump");

	ret = ht_unmap(self->fd, VA_AL, npages);
	ASSERT_EQ(0, ret) TH_LOG("UNMAP: %s", strerror(-ret));
	step(self, "UNMAP");
	ASSERT_EQ(0, ht_check(self->fd, &c));
	EXPECT_EQ(0, c.errors);
	ASSERT_EQ(0, ht_info(self->fd, &info));
	EXPECT_EQ(1, info.mapped_pages);
	close(self->fd);
	self->fd = -1;
	step(self, "close");

	ASSERT_EQ(0, htable_knob_write(THRESH_PATH, self->thresh));
	if (self->preempt[0]) {
		ASSERT_EQ(0, preempt_set(self->preempt));
		self->preempt[0] = '\0';
	}
	EXPECT_EQ(before, lockup_reports()) TH_LOG("the kernel reported a lockup or a stall");
}

TEST_HARNESS_MAIN
