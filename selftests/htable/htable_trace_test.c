// SPDX-License-Identifier: GPL-2.0
/*
 * htable's tracepoints (include/htable/trace.h, Documentation/tracing.rst)
 * against the workload that fired them. Each test records events/htable/
 * in a tracefs instance of its own while it maps and unmaps, forces a
 * steal with ptable_cap, reaps, runs windows and shares, and then checks
 * the events two ways: their number (or the sum of a field) equals the
 * change of the matching debugfs counter, and their fields name what the
 * test itself chose or can see without the events: hat ids from debugfs
 * "hats", vas and levels from the geometry of the test's own maps, stolen
 * vas that PROBE shows owned but not present, window results from the
 * ioctl. A buffer that overflowed fails the test instead of hiding events.
 */
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "htable_test.h"
#include "htable_window.h"

#define TRACEFS		"/sys/kernel/tracing"
#define INSTANCE	TRACEFS "/instances/htable_trace_test"
#define HATS_PATH	"/sys/kernel/debug/htable/hats"
#define MAX_EVENTS	4096
#define MAX_FIELDS	12
#define VA0		(3 * HT_SZ_1G)	/* a 1 GiB slot the tests have alone */
#define NTABLES		8		/* leaf tables of the steal victim */
#define PER_TABLE	8		/* pages mapped in each of them */
#define WINDOW_MS	1500		/* the resident window */

/* One event as the trace file prints it: name and key=value fields. */
struct ev {
	char name[32];
	int nf;
	char key[MAX_FIELDS][16];
	char val[MAX_FIELDS][24];
};

static struct ev evs[MAX_EVENTS];
static int nevs;

/* A snapshot of debugfs stats. */
struct snap {
	int n;
	char name[64][32];
	long long val[64];
};

static int snap_take(struct snap *s)
{
	FILE *f = fopen(HTABLE_STATS_PATH, "r");

	s->n = 0;
	if (!f)
		return -1;
	while (s->n < 64 && fscanf(f, "%31s %lld", s->name[s->n], &s->val[s->n]) == 2)
		s->n++;
	fclose(f);
	return s->n ? 0 : -1;
}

static long long snap_get(const struct snap *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return s->val[i];
	return -1000000;
}

/* Change of counter @name from @a to @b. */
static long long delta(const struct snap *a, const struct snap *b, const char *name)
{
	return snap_get(b, name) - snap_get(a, name);
}

/* debugfs hats: the stolen and reaped columns of hat @id (-1 if absent). */
static int hat_row(long id, long long *stolen, long long *reaped)
{
	char line[256];
	long long i, pid, owned, st, fl, re;
	FILE *f = fopen(HATS_PATH, "r");
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lld %lld %lld %lld %llx %lld", &i, &pid, &owned,
			   &st, &fl, &re) == 6 && i == id) {
			*stolen = st;
			*reaped = re;
			found = 0;
		}
	}
	fclose(f);
	return found;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/*
 * The top level's record-cmd option, as it was, or 0 when left alone.
 *
 * With record-cmd on, the first event enabled anywhere registers a probe
 * on sched_switch to record task names, and the last one disabled takes
 * it off again: each time, the kernel patches the tracepoint's call in
 * __schedule(), and the CPU that patches it may itself reschedule while
 * it does. On the 6.12 guest under TCG that can end in an int3 Oops in
 * __schedule(), in the kernel's own text_poke_bp() (see
 * Documentation/tracing.rst). An instance takes the option from the top
 * level when it is made, so the test turns it off before it makes its
 * instance (and before htablectl makes its own), and its events stay on
 * until the last test is done: nothing here patches __schedule(). Events
 * show "<...>" for the task.
 */
static char record_cmd_was;

#define RECORD_CMD	TRACEFS "/options/record-cmd"

/* Before the first test, in the harness's own process. */
static void __attribute__((constructor)) tb_init(void)
{
	struct stat st;
	char buf[4] = "";
	int fd;

	if (stat(TRACEFS "/instances", &st) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		return;
	fd = open(RECORD_CMD, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (read(fd, buf, 1) == 1 && buf[0] == '1' && !write_str(RECORD_CMD, "0"))
		record_cmd_was = '1';
	close(fd);
}

/*
 * Our own instance, with every htable event on and tracing off. Making an
 * instance makes a directory for every event of the kernel, which takes
 * most of a second under TCG (more on the debug kernel): the first test
 * makes it, the others reuse it, and the harness's own process removes it
 * when it exits (tb_remove()), after the last test.
 */
static int tb_setup(void)
{
	struct stat st;

	if (stat(TRACEFS "/instances", &st))
		return -ENOENT;
	if (mkdir(INSTANCE, 0700) && errno != EEXIST)
		return -errno;
	if (write_str(INSTANCE "/tracing_on", "0") ||
	    write_str(INSTANCE "/buffer_size_kb", "2048") ||
	    write_str(INSTANCE "/events/htable/enable", "1"))
		return -EIO;
	return 0;
}

/* After each test: tracing off, the buffer empty; the events stay on. */
static void tb_teardown(void)
{
	write_str(INSTANCE "/tracing_on", "0");
	write_str(INSTANCE "/trace", "");
}

/* The tests run in children that _exit(): this runs once, in the parent. */
static void __attribute__((destructor)) tb_remove(void)
{
	write_str(INSTANCE "/events/htable/enable", "0");
	rmdir(INSTANCE);
	if (record_cmd_was)
		write_str(RECORD_CMD, "1");
}

/* Empty the buffer and start recording. */
static int trace_begin(void)
{
	if (write_str(INSTANCE "/trace", "") || write_str(INSTANCE "/tracing_on", "1"))
		return -1;
	return 0;
}

/* Parse one line of the trace file into evs[]; ignore anything else. */
static void parse_line(char *line)
{
	char *p = strchr(line, ']'), *name, *end, *tok, *save, *eq;
	struct ev *e;

	if (line[0] == '#' || !p || nevs == MAX_EVENTS)
		return;
	name = strstr(p, ": htable_");
	if (!name)
		return;
	name += 2;
	end = strchr(name, ':');
	if (!end)
		return;
	*end = 0;
	e = &evs[nevs++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	for (tok = strtok_r(end + 1, "\t\n ", &save); tok && e->nf < MAX_FIELDS;
	     tok = strtok_r(NULL, "\t\n ", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = 0;
		snprintf(e->key[e->nf], sizeof(e->key[0]), "%s", tok);
		snprintf(e->val[e->nf], sizeof(e->val[0]), "%s", eq + 1);
		e->nf++;
	}
}

/*
 * Stop recording and parse what was recorded. Returns the number of
 * events, or -1 when the buffer lost some (entries-in-buffer is less
 * than entries-written) or could not be read.
 */
static int trace_end(void)
{
	unsigned long long in = 0, written = 0;
	char line[1024];
	int lost = 1;
	FILE *f;

	if (write_str(INSTANCE "/tracing_on", "0"))
		return -1;
	f = fopen(INSTANCE "/trace", "r");
	if (!f)
		return -1;
	nevs = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "# entries-in-buffer/entries-written: %llu/%llu",
			   &in, &written) == 2)
			lost = in != written;
		parse_line(line);
	}
	fclose(f);
	if (lost || nevs == MAX_EVENTS) {
		fprintf(stderr, "# trace buffer: %llu of %llu entries kept\n", in, written);
		return -1;
	}
	return nevs;
}

static const char *field(const struct ev *e, const char *key)
{
	int i;

	for (i = 0; i < e->nf; i++)
		if (!strcmp(e->key[i], key))
			return e->val[i];
	return "";
}

static long long num(const struct ev *e, const char *key)
{
	const char *v = field(e, key);

	return *v ? (long long)strtoull(v, NULL, 0) : -1;
}

/*
 * Events named @name whose field @key is @val (all of them when @key is
 * NULL); @sum, when given, names a field to add up instead of counting.
 */
static long long count(const char *name, const char *key, const char *val,
		       const char *sum)
{
	long long n = 0;
	int i;

	for (i = 0; i < nevs; i++) {
		if (strcmp(evs[i].name, name))
			continue;
		if (key && strcmp(field(&evs[i], key), val))
			continue;
		n += sum ? num(&evs[i], sum) : 1;
	}
	return n;
}

/* The same for a numeric field: events of @name with @key == @v. */
static long long countn(const char *name, const char *key, long long v,
			const char *sum)
{
	long long n = 0;
	int i;

	for (i = 0; i < nevs; i++)
		if (!strcmp(evs[i].name, name) && num(&evs[i], key) == v)
			n += sum ? num(&evs[i], sum) : 1;
	return n;
}

/* Print the events, for a failing test's log. */
static void dump_events(void)
{
	int i, j;

	for (i = 0; i < nevs && i < 60; i++) {
		fprintf(stderr, "#   %s", evs[i].name);
		for (j = 0; j < evs[i].nf; j++)
			fprintf(stderr, " %s=%s", evs[i].key[j], evs[i].val[j]);
		fprintf(stderr, "\n");
	}
}

/* The first va of the level-@level table covering @va (the top's is 0). */
static __u64 table_va(__u64 va, int level, int levels)
{
	if (level == levels - 1)
		return 0;
	return va & ~((1ULL << (12 + 9 * (level + 1))) - 1);
}

/* A hat and its debugfs id. */
struct thet {
	int fd;
	long id;
};

static int open_hat(struct thet *h)
{
	h->fd = htable_open_dev();
	if (h->fd < 0)
		return -errno;
	h->id = ht_newest_hat_id();
	return h->id > 0 ? 0 : -ENOENT;
}

static int do_share(int fd, int owner_fd, __u64 va, __u64 npages, __u64 *tables)
{
	struct htable_share s = { .owner_fd = owner_fd, .va = va, .npages = npages };
	int ret;

	ret = ht_ioctl(fd, HTABLE_IOC_SHARE, &s);
	if (ret)
		return ret;
	*tables = s.tables;
	return 0;
}

static int do_unshare(int fd, __u64 va, __u64 npages, __u64 *tables)
{
	struct htable_share s = { .va = va, .npages = npages };
	int ret;

	ret = ht_ioctl(fd, HTABLE_IOC_UNSHARE, &s);
	if (ret)
		return ret;
	*tables = s.tables;
	return 0;
}

FIXTURE(trace) {
	int levels;
	int err;	/* the open's errno: each test checks it first */
};

FIXTURE_SETUP(trace)
{
	int fd = htable_open_dev();

	self->err = errno;
	if (fd < 0)
		return;
	self->levels = htable_levels(fd);
	close(fd);
	ASSERT_GE(self->levels, 4);
	ASSERT_EQ(0, htable_knobs_reset());
	ASSERT_EQ(0, ht_drain_caches());
	ASSERT_EQ(0, tb_setup()) {
		TH_LOG("no tracefs instance for events/htable/ (is the module loaded?)");
	}
}

FIXTURE_TEARDOWN(trace)
{
	tb_teardown();
	htable_knobs_reset();
}

/*
 * MAP and UNMAP: the call events carry the hat, range, page size and
 * result; a fresh map gets one table per level below the top, at the vas
 * the geometry gives, from the slab; UNMAP sends them to the hat's cache
 * and the next MAP takes them back from there. Under force_reserve, a new
 * hat's tables come from and go back to the reserve.
 */
TEST_F(trace, map_unmap_tables)
{
	int top = self->levels - 1, l, n;
	struct snap a, b;
	struct thet h = { -1, -1 }, r = { -1, -1 };

	if (htable_dev_missing(_metadata, !self->levels, self->err))
		return;

	ASSERT_EQ(0, open_hat(&h));

	/* A fresh map: the slab (or the reserve, when it is short). */
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, ht_map(h.fd, VA0, 16, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(h.fd, VA0 + HT_SZ_1G / 2, 512, HTABLE_MAP_2M));
	ASSERT_EQ(-EEXIST, ht_map(h.fd, VA0, 1, 0));
	n = trace_end();
	ASSERT_EQ(0, snap_take(&b));
	ASSERT_LT(0, n);
	EXPECT_EQ(3, count("htable_map", NULL, NULL, NULL));
	EXPECT_EQ(3, countn("htable_map", "hat", h.id, NULL));
	EXPECT_EQ(2, countn("htable_map", "va", VA0, NULL));
	EXPECT_EQ(16, count("htable_map", "pgsize", "4K", "done"));
	EXPECT_EQ(1, count("htable_map", "pgsize", "2M", NULL));
	EXPECT_EQ(512, count("htable_map", "pgsize", "2M", "done"));
	EXPECT_EQ(1, count("htable_map", "err", "-17", NULL));
	/* One table per level below the top for the first map, none after. */
	EXPECT_EQ(top, countn("htable_table_alloc", "hat", h.id, NULL));
	for (l = 0; l < top; l++) {
		__u64 va = table_va(VA0, l, self->levels);
		int i, found = 0;

		for (i = 0; i < nevs; i++)
			found += !strcmp(evs[i].name, "htable_table_alloc") &&
				 num(&evs[i], "level") == l && num(&evs[i], "va") == (long long)va;
		EXPECT_EQ(1, found) {
			TH_LOG("level %d table at %#llx", l, va);
		}
	}
	EXPECT_EQ(delta(&a, &b, "hs_ptable_allocs"),
		  count("htable_table_alloc", "src", "slab", NULL) +
		  count("htable_table_alloc", "src", "reserve", NULL));
	EXPECT_EQ(delta(&a, &b, "hs_htable_rgets"),
		  count("htable_table_alloc", "src", "reserve", NULL));
	EXPECT_EQ(0, count("htable_table_free", NULL, NULL, NULL));

	/* UNMAP: the 4 KiB map's leaf table empties and goes to the cache. */
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, ht_unmap(h.fd, VA0, 16));
	ASSERT_EQ(-ENOENT, ht_unmap(h.fd, VA0, 16));
	n = trace_end();
	ASSERT_EQ(0, snap_take(&b));
	ASSERT_LT(0, n);
	EXPECT_EQ(1, count("htable_unmap", "err", "0", NULL));
	EXPECT_EQ(16, count("htable_unmap", "err", "0", "done"));
	EXPECT_EQ(1, count("htable_unmap", "err", "-2", NULL));
	EXPECT_EQ(1, count("htable_table_free", "dest", "cache", NULL));
	EXPECT_EQ(1, countn("htable_table_free", "level", 0, NULL));
	EXPECT_EQ(delta(&a, &b, "hs_ptable_frees"),
		  count("htable_table_free", "dest", "reserve", NULL) +
		  count("htable_table_free", "dest", "system", NULL));
	EXPECT_EQ(delta(&a, &b, "cached_tables"),
		  count("htable_table_free", "dest", "cache", NULL));

	/* The next map takes it back from the cache. */
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, ht_map(h.fd, VA0 + 64 * HT_PAGE_SIZE, 1, 0));
	n = trace_end();
	ASSERT_EQ(0, snap_take(&b));
	EXPECT_EQ(1, count("htable_table_alloc", "src", "cache", NULL));
	EXPECT_EQ(0, delta(&a, &b, "hs_ptable_allocs"));
	EXPECT_EQ(-1, delta(&a, &b, "cached_tables"));

	/* force_reserve: a new hat's tables from the reserve, and back. */
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 1));
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, open_hat(&r));
	ASSERT_EQ(0, ht_map(r.fd, VA0, 1, 0));
	close(r.fd);
	n = trace_end();
	ASSERT_EQ(0, snap_take(&b));
	ASSERT_EQ(0, htable_knob_write(HTABLE_FORCE_RESERVE_PATH, 0));
	EXPECT_EQ(self->levels, countn("htable_table_alloc", "hat", r.id, NULL));
	EXPECT_EQ(self->levels, count("htable_table_alloc", "src", "reserve", NULL));
	EXPECT_EQ(delta(&a, &b, "hs_htable_rgets"),
		  count("htable_table_alloc", "src", "reserve", NULL));
	EXPECT_EQ(self->levels, count("htable_table_free", "dest", "reserve", NULL));
	EXPECT_EQ(delta(&a, &b, "hs_htable_rputs"),
		  count("htable_table_free", "dest", "reserve", NULL));
	EXPECT_EQ(delta(&a, &b, "hs_ptable_frees"),
		  count("htable_table_free", "dest", "reserve", NULL) +
		  count("htable_table_free", "dest", "system", NULL));
	EXPECT_EQ(1, countn("htable_table_free", "level", top, NULL));
	if (!_metadata->passed)
		dump_events();
	close(h.fd);
}

/*
 * A steal forced with ptable_cap: a second hat's MAP finds no page under
 * the cap, so each of its tables below the top is stolen in pass 1 from
 * the victim, one leaf table of PER_TABLE entries at a time. Then RELOAD
 * rebuilds exactly what the steal events said was taken.
 */
TEST_F(trace, steal_and_reload)
{
	int top = self->levels - 1, i, n, k;
	long long stolen0 = 0, stolen1 = 0, reaped0 = 0, reaped1 = 0;
	__u64 reloaded = 0, va;
	struct htable_probe p;
	struct thet v = { -1, -1 }, t = { -1, -1 };
	struct snap a, b;

	if (htable_dev_missing(_metadata, !self->levels, self->err))
		return;

	ASSERT_EQ(0, open_hat(&v));
	for (i = 0; i < NTABLES; i++)
		ASSERT_EQ(0, ht_map(v.fd, VA0 + i * HT_SZ_2M, PER_TABLE, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, open_hat(&t));
	ASSERT_EQ(0, hat_row(v.id, &stolen0, &reaped0));
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(0, htable_knob_write(HTABLE_PTABLE_CAP_PATH,
				       snap_get(&a, "active_ptables")));
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, ht_map(t.fd, 7 * HT_SZ_1G, 1, 0));
	n = trace_end();
	ASSERT_EQ(0, htable_knob_write(HTABLE_PTABLE_CAP_PATH, 0));
	ASSERT_EQ(0, snap_take(&b));
	ASSERT_EQ(0, hat_row(v.id, &stolen1, &reaped1));
	ASSERT_LT(0, n);

	/* Each of the thief's tables is one steal, which took one table. */
	EXPECT_EQ(top, delta(&a, &b, "hs_steals"));
	EXPECT_EQ(delta(&a, &b, "hs_steals"), count("htable_steal_exit", "reap", "0", NULL));
	EXPECT_EQ(top, count("htable_steal_enter", "cnt", "1", NULL));
	EXPECT_EQ(top, count("htable_steal_exit", "stolen", "1", NULL));
	EXPECT_EQ(top, count("htable_table_alloc", "src", "steal", NULL));
	EXPECT_EQ(top, countn("htable_table_alloc", "hat", t.id, NULL));
	EXPECT_EQ(stolen1 - stolen0, countn("htable_steal_table", "hat", v.id, NULL));
	EXPECT_EQ(top, count("htable_steal_table", NULL, NULL, NULL));
	EXPECT_EQ(top, count("htable_steal_table", "pass", "1", NULL));
	EXPECT_EQ(top, count("htable_steal_table", "level", "0", NULL));
	EXPECT_EQ(top * PER_TABLE, count("htable_steal_table", NULL, NULL, "valid"));
	EXPECT_EQ(reaped1 - reaped0, count("htable_steal_cached", NULL, NULL, "n"));
	EXPECT_EQ(0, delta(&a, &b, "hs_ptable_allocs"));

	/* Each stolen va is one of the victim's tables, now owned, not present. */
	k = 0;
	for (i = 0; i < nevs; i++) {
		if (strcmp(evs[i].name, "htable_steal_table"))
			continue;
		va = num(&evs[i], "va");
		EXPECT_EQ(0, (va - VA0) % HT_SZ_2M);
		EXPECT_GT(VA0 + NTABLES * HT_SZ_2M, va);
		EXPECT_LE(VA0, va);
		EXPECT_EQ(0, ht_probe(v.fd, va, &p));
		EXPECT_EQ(HTABLE_PROBE_OWNED, p.flags & (HTABLE_PROBE_OWNED |
							 HTABLE_PROBE_PRESENT)) {
			TH_LOG("stolen va %#llx: PROBE flags %#x", va, p.flags);
		}
		k++;
	}
	EXPECT_EQ(top, k);

	/* RELOAD rebuilds what the events said was stolen, no more. */
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, ht_reload(v.fd, VA0, NTABLES * HT_SZ_2M / HT_PAGE_SIZE, &reloaded));
	n = trace_end();
	ASSERT_LT(0, n);
	EXPECT_EQ(top * PER_TABLE, reloaded);
	EXPECT_EQ(1, countn("htable_reload", "hat", v.id, NULL));
	EXPECT_EQ(reloaded, count("htable_reload", "err", "0", "done"));
	EXPECT_EQ(NTABLES * HT_SZ_2M / HT_PAGE_SIZE,
		  count("htable_reload", NULL, NULL, "npages"));
	if (!_metadata->passed)
		dump_events();
	close(t.fd);
	close(v.fd);
}

/*
 * A reap of 3 tables: the free table in one hat's cache in pass 0, then
 * leaf tables in use in pass 1. The reap event and the steal events add up
 * to hs_reaped and to each hat's reaped and stolen columns.
 */
TEST_F(trace, reap)
{
	long long st0[2] = { 0 }, st1[2] = { 0 }, re0[2] = { 0 }, re1[2] = { 0 };
	struct thet h[2] = { { -1, -1 }, { -1, -1 } };
	struct snap a, b;
	int i, n;

	if (htable_dev_missing(_metadata, !self->levels, self->err))
		return;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, open_hat(&h[i]));
		ASSERT_EQ(0, ht_map(h[i].fd, VA0, 4, 0));
		ASSERT_EQ(0, ht_map(h[i].fd, VA0 + HT_SZ_2M, 4, 0));
	}
	/* One free table in the first hat's cache. */
	ASSERT_EQ(0, ht_unmap(h[0].fd, VA0 + HT_SZ_2M, 4));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, hat_row(h[i].id, &st0[i], &re0[i]));
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(1, snap_get(&a, "cached_tables"));
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, htable_knob_write(HTABLE_REAP_PATH, 3));
	n = trace_end();
	ASSERT_EQ(0, snap_take(&b));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, hat_row(h[i].id, &st1[i], &re1[i]));
	ASSERT_LT(0, n);
	EXPECT_EQ(1, count("htable_reap", NULL, NULL, NULL));
	EXPECT_EQ(delta(&a, &b, "hs_reap_attempts"), count("htable_reap", NULL, NULL, NULL));
	EXPECT_EQ(3, count("htable_reap", NULL, NULL, "nr"));
	EXPECT_EQ(3, count("htable_reap", NULL, NULL, "asked"));
	EXPECT_EQ(3, delta(&a, &b, "hs_reaped"));
	EXPECT_EQ(delta(&a, &b, "hs_reaped"), count("htable_reap", NULL, NULL, "freed"));
	EXPECT_EQ(1, count("htable_steal_exit", "reap", "1", NULL));
	EXPECT_EQ(3, count("htable_steal_exit", "reap", "1", "stolen"));
	EXPECT_EQ(0, delta(&a, &b, "hs_steals"));
	/* Pass 0 took the cached table from the first hat. */
	EXPECT_EQ(1, count("htable_steal_cached", "pass", "0", "n"));
	EXPECT_EQ(1, countn("htable_steal_cached", "hat", h[0].id, NULL));
	EXPECT_EQ(2, count("htable_steal_table", "pass", "1", NULL));
	EXPECT_EQ(8, count("htable_steal_table", NULL, NULL, "valid"));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(st1[i] - st0[i], countn("htable_steal_table", "hat", h[i].id, NULL));
		EXPECT_EQ(re1[i] - re0[i], countn("htable_steal_cached", "hat", h[i].id, "n"));
	}
	/* The reaped tables went to the system, with no hat any more. */
	EXPECT_EQ(delta(&a, &b, "hs_ptable_frees"),
		  count("htable_table_free", "dest", "reserve", NULL) +
		  count("htable_table_free", "dest", "system", NULL));
	EXPECT_LE(3, count("htable_table_free", "hat", "0", NULL));
	if (!_metadata->passed)
		dump_events();
	for (i = 0; i < 2; i++)
		close(h[i].fd);
}

/*
 * Windows and shootdowns: a verify window on CPU 0, then a resident one on
 * CPU 1 during which an UNMAP must shoot the hat down there. The window
 * events carry what the ioctl returned; the shootdown events add up to the
 * shootdown counters.
 */
TEST_F_TIMEOUT(trace, windows_and_shootdowns, 120)
{
	struct htable_run vr;
	struct window w;
	struct snap a, b;
	struct thet h = { -1, -1 };
	__u64 nvalid;
	int n;

	if (htable_dev_missing(_metadata, !self->levels, self->err))
		return;

	ASSERT_LE(2, sysconf(_SC_NPROCESSORS_ONLN)) {
		TH_LOG("a resident window on CPU 1 needs two CPUs");
	}
	ASSERT_EQ(0, open_hat(&h));
	ASSERT_EQ(0, ht_map(h.fd, VA0, 64, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(h.fd, VA0 + HT_SZ_2M, 8, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, ht_run_verify(h.fd, 0, VA0, 64, 0, 0x5eed, &vr));
	ASSERT_EQ(0, window_start(&w, h.fd, 1, VA0, WINDOW_MS, 1024));
	ASSERT_EQ(0, wait_live(h.fd, &w, 60));
	/* Live on CPU 1: this UNMAP's batch is shot down there. */
	ASSERT_EQ(0, ht_unmap(h.fd, VA0 + HT_SZ_2M, 8));
	/* ...if the window was still live after it (it lasts 1.5 s). */
	ASSERT_EQ(0, __atomic_load_n(&w.done, __ATOMIC_ACQUIRE));
	pthread_join(w.tid, NULL);
	n = trace_end();
	ASSERT_EQ(0, snap_take(&b));
	ASSERT_EQ(0, w.err);
	ASSERT_EQ(0, window_sane(&w, &nvalid));
	ASSERT_LT(0, n);

	EXPECT_EQ(2, countn("htable_window_start", "hat", h.id, NULL));
	EXPECT_EQ(delta(&a, &b, "hs_windows"), count("htable_window_end", NULL, NULL, NULL));
	EXPECT_EQ(2, count("htable_window_end", "reason", "done", NULL));
	/* The verify window: CPU 0, its range, and what RUN returned. */
	EXPECT_EQ(1, count("htable_window_start", "mode", "verify", NULL));
	EXPECT_EQ(64, count("htable_window_start", "mode", "verify", "npages"));
	EXPECT_EQ(1, countn("htable_window_end", "cpu", 0, NULL));
	EXPECT_EQ(64, vr.verified);
	EXPECT_EQ(vr.verified, count("htable_window_end", "mode", "verify", "verified"));
	EXPECT_EQ(delta(&a, &b, "hs_pages_verified"),
		  count("htable_window_end", NULL, NULL, "verified"));
	/* The resident window: CPU 1, and its reads. */
	EXPECT_EQ(1, countn("htable_window_start", "cpu", 1, NULL));
	EXPECT_EQ(WINDOW_MS, count("htable_window_start", "mode", "resident", "duration_ms"));
	EXPECT_EQ((long long)w.r.reads, count("htable_window_end", "mode", "resident", "reads"));
	EXPECT_EQ((long long)w.r.valid_reads,
		  count("htable_window_end", "mode", "resident", "valid_reads"));
	EXPECT_EQ(delta(&a, &b, "hs_cr3_clobbers"),
		  count("htable_window_end", NULL, NULL, "clobbers"));
	/* The shootdown: to CPU 1, the UNMAP's invalidations. */
	EXPECT_LE(1, countn("htable_shootdown", "hat", h.id, NULL));
	EXPECT_EQ(delta(&a, &b, "hs_shootdowns"), count("htable_shootdown", NULL, NULL, NULL));
	EXPECT_EQ(delta(&a, &b, "hs_shootdown_cpus"),
		  count("htable_shootdown", NULL, NULL, "cpus"));
	EXPECT_EQ(delta(&a, &b, "hs_tlb_invals"),
		  count("htable_shootdown", NULL, NULL, "invals"));
	EXPECT_EQ(delta(&a, &b, "hs_tlb_flush_all"),
		  count("htable_shootdown", "flush_all", "1", NULL));
	EXPECT_EQ(count("htable_shootdown", NULL, NULL, NULL),
		  countn("htable_shootdown", "cpus", 1, NULL));
	EXPECT_EQ(0, count("htable_shootdown", "all_cpus", "1", NULL));
	if (!_metadata->passed)
		dump_events();
	free(w.s);
	close(h.fd);
}

/*
 * SHARE and UNSHARE: the events name both hats and the tables; while
 * shared, an UNMAP in the owner of a page the MMU has used (a verify
 * window read it) shoots down every online CPU.
 */
TEST_F(trace, share)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	__u64 tables = 0, utables = 0;
	struct htable_run vr;
	struct thet o = { -1, -1 }, s = { -1, -1 };
	struct snap a, b;
	int n;

	if (htable_dev_missing(_metadata, !self->levels, self->err))
		return;

	ASSERT_EQ(0, open_hat(&o));
	ASSERT_EQ(0, open_hat(&s));
	ASSERT_EQ(0, ht_map(o.fd, VA0, 16, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_run_verify(o.fd, 0, VA0, 1, 0, 0x5eed, &vr));
	ASSERT_EQ(1, vr.verified);
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(0, trace_begin());
	ASSERT_EQ(0, do_share(s.fd, o.fd, VA0, HTABLE_2M_NPAGES, &tables));
	ASSERT_EQ(0, ht_unmap(o.fd, VA0, 1));
	ASSERT_EQ(0, do_unshare(s.fd, VA0, HTABLE_2M_NPAGES, &utables));
	n = trace_end();
	ASSERT_EQ(0, snap_take(&b));
	ASSERT_LT(0, n);
	EXPECT_EQ(1, tables);
	EXPECT_EQ(1, countn("htable_share", "hat", s.id, NULL));
	EXPECT_EQ(1, countn("htable_share", "owner", o.id, NULL));
	EXPECT_EQ(1, countn("htable_share", "va", VA0, NULL));
	EXPECT_EQ(delta(&a, &b, "hs_htable_shared"),
		  count("htable_share", "err", "0", "tables"));
	EXPECT_EQ(1, countn("htable_unshare", "hat", s.id, NULL));
	EXPECT_EQ(delta(&a, &b, "hs_htable_unshared"),
		  count("htable_unshare", "err", "0", "tables"));
	/* The owner's UNMAP while shared: every online CPU. */
	EXPECT_EQ(1, countn("htable_unmap", "hat", o.id, NULL));
	EXPECT_LE(1, count("htable_shootdown", "all_cpus", "1", NULL));
	EXPECT_EQ(count("htable_shootdown", NULL, NULL, NULL) * online,
		  count("htable_shootdown", NULL, NULL, "cpus"));
	EXPECT_EQ(delta(&a, &b, "hs_shootdowns"), count("htable_shootdown", NULL, NULL, NULL));
	EXPECT_EQ(delta(&a, &b, "hs_shootdown_cpus"),
		  count("htable_shootdown", NULL, NULL, "cpus"));
	if (!_metadata->passed)
		dump_events();
	close(s.fd);
	close(o.fd);
}

/* ---- htablectl trace: one hat's events in words ---- */

struct ctl {
	pid_t pid;
	int fd;			/* its standard output */
	char out[65536];
	size_t len;
};

/* Start "htablectl trace ID" with its output on a pipe: 0 or -errno. */
static int ctl_start(struct ctl *c, long id)
{
	char ids[24];
	int p[2];

	memset(c, 0, sizeof(*c));
	if (pipe(p))
		return -errno;
	snprintf(ids, sizeof(ids), "%ld", id);
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (!c->pid) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		execlp("htablectl", "htablectl", "trace", ids, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	c->fd = p[0];
	return 0;
}

/* Read its output until it holds @what: 0, or -1 at EOF or after 60 s. */
static int ctl_wait_for(struct ctl *c, const char *what)
{
	double end = ht_now() + 60;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	while (!strstr(c->out, what)) {
		if (ht_now() > end || c->len == sizeof(c->out) - 1)
			return -1;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(c->fd, c->out + c->len, sizeof(c->out) - 1 - c->len);
		if (n <= 0)
			return -1;
		c->len += n;
		c->out[c->len] = 0;
	}
	return 0;
}

/* Stop it as Ctrl-C would: its exit status. */
static int ctl_stop(struct ctl *c)
{
	int st = -1;

	kill(c->pid, SIGINT);
	waitpid(c->pid, &st, 0);
	close(c->fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * htablectl trace ID prints that hat's events as they happen, in words,
 * and nothing of another hat's: a MAP, its new tables, a steal forced by
 * another hat's MAP under ptable_cap, RELOAD, a verify window and a failed
 * UNMAP, which ends the stream the test waits for.
 */
TEST_F_TIMEOUT(trace, htablectl_trace, 120)
{
	struct thet v = { -1, -1 }, t = { -1, -1 };
	struct htable_run vr;
	struct ctl *c;
	char want[160];
	__u64 reloaded = 0;
	struct snap a;

	if (htable_dev_missing(_metadata, !self->levels, self->err))
		return;

	c = malloc(sizeof(*c));
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, open_hat(&v));
	ASSERT_EQ(0, open_hat(&t));
	ASSERT_EQ(0, ctl_start(c, v.id));
	ASSERT_EQ(0, ctl_wait_for(c, "tracing hat")) {
		TH_LOG("htablectl trace: %s", c->out);
	}
	ASSERT_EQ(0, ht_map(v.fd, VA0, PER_TABLE, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, snap_take(&a));
	ASSERT_EQ(0, htable_knob_write(HTABLE_PTABLE_CAP_PATH,
				       snap_get(&a, "active_ptables")));
	ASSERT_EQ(0, ht_map(t.fd, 7 * HT_SZ_1G, 1, 0));
	ASSERT_EQ(0, htable_knob_write(HTABLE_PTABLE_CAP_PATH, 0));
	ASSERT_EQ(0, ht_reload(v.fd, VA0, PER_TABLE, &reloaded));
	ASSERT_EQ(PER_TABLE, reloaded);
	ASSERT_EQ(0, ht_run_verify(v.fd, 0, VA0, PER_TABLE, 0, 0x5eed, &vr));
	ASSERT_EQ(-ENOENT, ht_unmap(v.fd, VA0 + HT_SZ_2M, 1));
	EXPECT_EQ(0, ctl_wait_for(c, "UNMAP 0xc0200000 +1 pages: failed"));
	EXPECT_EQ(0, ctl_stop(c));

	EXPECT_NE(NULL, strstr(c->out, "MAP 0xc0000000 +8 pages (4K): mapped 8\n"));
	EXPECT_NE(NULL, strstr(c->out, "table L0 0xc0000000 allocated: new, from the slab\n"));
	snprintf(want, sizeof(want), "steal pass 1: hat %ld lost L0 table 0xc0000000 (8 valid)\n",
		 v.id);
	EXPECT_NE(NULL, strstr(c->out, want));
	EXPECT_NE(NULL, strstr(c->out, "RELOAD 0xc0000000 +8 pages: reloaded 8\n"));
	EXPECT_NE(NULL, strstr(c->out, "window on CPU 0: verify 0xc0000000 +8 pages\n"));
	EXPECT_NE(NULL, strstr(c->out, "8 pages touched, 8 verified, 0 faults, 0 clobbers\n"));
	EXPECT_NE(NULL, strstr(c->out, "failed, No such file or directory (ENOENT)\n"));
	/* Nothing of the thief: its MAP, its tables (one was stolen). */
	EXPECT_EQ(NULL, strstr(c->out, "0x1c0000000"));
	EXPECT_EQ(NULL, strstr(c->out, "stolen from a hat"));
	if (!_metadata->passed)
		TH_LOG("htablectl trace printed:\n%s", c->out);
	free(c);
	close(t.fd);
	close(v.fd);
}

TEST_HARNESS_MAIN
