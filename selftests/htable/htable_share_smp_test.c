// SPDX-License-Identifier: GPL-2.0
/*
 * Shared page tables with a sharer's CPU live (HTABLE_IOC_SHARE, UNSHARE;
 * ABI 1.1): the shootdown a sharer's live CPU gets when the owner changes
 * a shared table, its control with tlb_skip_remote set, and SHARE and
 * UNSHARE racing the owner's MAP, UNMAP, steals and close, and CHECK of
 * two hats that share each other's tables while writers wait on both.
 * The first three cases need two CPUs.
 *
 * The truth comes from outside the calls under test: samples of a
 * RESIDENT window of the sharer, the tags the owner writes through RW,
 * the shootdown counters, and CHECK in every hat at the end.
 *
 * The other SHARE and UNSHARE cases are in htable_share_test.c; the
 * fixture and the calls both make are in htable_share.h and
 * htable_share_calls.c.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_share.h"

/* tlb_skip_remote, a debugfs bool read back as N or Y: 0, 1, or -1. */
static int skip_knob(void)
{
	char c = 0;
	int fd = open(TLB_SKIP, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' ? 1 : c == 'N' ? 0 : -1;
}

/*
 * The owner unmaps a page a sharer's RESIDENT window is reading on
 * another CPU: once UNMAP returns, that CPU must fault there, so the
 * owner's change shot down a CPU that only the sharer had live. The page
 * is also mapped at OTHER_VA in the owner, so it stays the owner's after
 * the UNMAP and a stale read would read its word. @skip runs the same
 * with tlb_skip_remote set: the module skips its IPI round, and the
 * stale reads must show, or the test could not tell.
 */
static void shootdown_case(struct __test_metadata *_metadata, int o, int s, int skip)
{
	const __u64 word = 0x5ad0c0de;
	__u64 t_unmap = 0, nvalid, i, before = 0, after = 0, stale = 0, stale_word = 0;
	long long sent0, skipped0, sent, skipped;
	int waited, knob, ret_unmap = -1;
	struct window w;

	/* One CPU for the window, one for the owner. */
	ASSERT_LE(2, ncpus());
	ASSERT_EQ(0, ht_map(o, SVA, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map_alias(o, OTHER_VA, 1, HTABLE_MAP_ALIAS, SVA, 1));
	ASSERT_EQ(0, ht_rw(o, SVA, (void *)&word, 8, HTABLE_RW_WRITE));
	ASSERT_EQ(0, ht_share(s, o, SVA, NP_2M, NULL));
	ASSERT_EQ(0, pin_to(0));
	ASSERT_EQ(0, skip_knob());
	sent0 = htable_stat("hs_shootdowns");
	skipped0 = htable_stat("hs_shootdowns_skipped");
	ASSERT_EQ(0, window_start(&w, s, 1, SVA, 1500, 65536));
	/* No ASSERT until the window is joined and the knob is back at 0. */
	knob = htable_knob_write(TLB_SKIP, skip);
	waited = wait_live(s, &w, 10);
	/* The owner is live nowhere: only the sharer's CPU has the entry. */
	if (!waited && !knob && !live_cpus(o)) {
		usleep(300 * 1000);
		ret_unmap = ht_unmap(o, SVA, 1);
		t_unmap = now_ns();
	}
	pthread_join(w.tid, NULL);
	sent = htable_stat("hs_shootdowns") - sent0;
	skipped = htable_stat("hs_shootdowns_skipped") - skipped0;
	ASSERT_EQ(0, htable_knob_write(TLB_SKIP, 0));
	ASSERT_EQ(0, knob);
	ASSERT_EQ(0, waited);
	ASSERT_EQ(0, ret_unmap);
	ASSERT_EQ(0, w.err);
	ASSERT_EQ(0, window_sane(&w, &nvalid));
	for (i = 0; i < w.r.nsamples; i++) {
		const struct htable_sample *x = &w.s[i];

		if (!(x->flags & HTABLE_SAMPLE_VALID))
			continue;
		if (x->t_ns < t_unmap) {
			before += !(x->flags & HTABLE_SAMPLE_FAULT) && x->value == word;
			continue;
		}
		after++;
		stale += !(x->flags & HTABLE_SAMPLE_FAULT);
		stale_word += !(x->flags & HTABLE_SAMPLE_FAULT) && x->value == word;
	}
	free(w.s);
	TH_LOG("tlb_skip_remote %d: %llu samples read the word before UNMAP, %llu after",
	       skip, before, after);
	TH_LOG("%llu stale (%llu the word); %lld IPI rounds sent, %lld skipped",
	       stale, stale_word, sent, skipped);
	ASSERT_LT(0, before);
	ASSERT_LT(0, after);
	if (skip) {
		EXPECT_LT(0, skipped);
		EXPECT_EQ(0, sent);
		EXPECT_LT(0, stale) TH_LOG("tlb_skip_remote set, yet no stale read seen");
		EXPECT_EQ(stale, stale_word);
	} else {
		EXPECT_LT(0, sent);
		EXPECT_EQ(0, skipped);
		EXPECT_EQ(0, stale) TH_LOG("stale reads after the owner's UNMAP returned");
	}
	ASSERT_EQ(0, check_sound(o));
	ASSERT_EQ(0, check_sound(s));
}

TEST_F_TIMEOUT(sh, shootdown, SH_TIMEOUT)
{
	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	shootdown_case(_metadata, self->fd[0], self->fd[1], 0);
}

/* The control: without the IPI round, the sharer's CPU reads stale. */
TEST_F_TIMEOUT(sh, shootdown_skip_remote, SH_TIMEOUT)
{
	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	shootdown_case(_metadata, self->fd[0], self->fd[1], 1);
}

/*
 * SHARE and UNSHARE against the owner's MAP, UNMAP, steals and close.
 *
 * The sharer S shares the owner O's leaf table at SVA, and a RESIDENT
 * window of S on CPU 1 reads RVA, the sixth page of that table (not its
 * first). On CPU 0, at once:
 *
 *   the owner thread maps a fresh page at one of eight source vas, writes
 *   a unique tag into it through RW, maps it at RVA as an ALIAS (so the
 *   tag is there before RVA maps it, and the page outlives RVA's UNMAP: a
 *   stale read reads the tag), churns other pages of the shared table and
 *   pages of eight leaf tables of its own, unmaps RVA, then the source;
 *
 *   the sharer thread UNSHAREs and SHAREs the table again, over and over,
 *   each UNSHARE once RVA maps a tag (the owner holds it mapped until that
 *   UNSHARE is done, or for 8 ms at most);
 *
 *   the stealer thread maps and unmaps pages of a third hat P, each in
 *   its own leaf table, with ptable_cap at the count of tables, so every
 *   new table, any hat's, must be stolen from another (hs_steals grows):
 *   the owner's churned tables and P's go back and forth;
 *
 *   and once each has done enough, the main thread closes O (dup2() of
 *   /dev/null over its fd, so the number is not reused) while they run,
 *   at a moment S shares the table and RVA maps a tag.
 *
 * Locked pages keep the tables of the shared range, of the sources and
 * of S's level-1 table in place (no steal takes a table with a locked
 * entry), so SHARE and the tagged cycle never need a table under the cap
 * and run every time.
 *
 * Afterwards every VALID sample of the window that read something (no
 * fault) must be one S could see then. It is stale when taken after an
 * UNSHARE of S returned and before the next SHARE began, after O was
 * destroyed, after the UNMAP of the tag's page at RVA returned, or when
 * it read a value no page at RVA held. t_ns is taken before a read, so a
 * sample after such a point was read after it. For the test to have
 * looked, the samples must show at least one UNSHARE (or the close) made
 * while S's CPU had RVA cached: a tag read just before it, still mapped
 * after it, and a sample after it. CHECK is clean on S and P, S is left
 * with no table of O's, the count of shared tables is back, and once all
 * is closed active_ptables and hats are where they started.
 *
 * The module must invalidate, on every CPU that may hold them, all the
 * translations of a table it unlinks from a sharer (UNSHARE, and the
 * owner's close). It queues one INVLPG, of the table's first va, which
 * drops the paging-structure caches but not RVA's TLB entry: on today's
 * module this test finds stale reads after UNSHARE and after the close,
 * and it passes once every valid entry of the unlinked table goes.
 */
#define RVA		(SVA + 5 * HT_PAGE_SIZE)
#define KEEP_VA		(SVA + 200 * HT_PAGE_SIZE)	/* O's locked page there */
#define S_KEEP_VA	(SVA + 2 * HT_SZ_2M)		/* S's own, locked */
#define SRC_VA(k)	(OTHER_VA + ((k) % 8) * HT_SZ_2M)
#define CHURN_VA(k)	(OTHER_VA + HT_SZ_1G + ((k) % 8) * HT_SZ_2M)
#define PVA		(40 * HT_SZ_1G)
#define TAG(k)		(0x7a90000000000000ULL | (k))
#define RACE_MAX	4096
#define RACE_MIN_OPS	12	/* each worker, before the owner is closed */
#define RACE_WINDOW_MS	4000
#define RACE_TRIES	3
#define NEVER		(~0ULL)

struct race_tag {
	__u64 tag;
	__u64 t_unmap;		/* RVA's UNMAP returned; NEVER: still mapped */
};

struct race_share {
	__u64 t_start;		/* before the SHARE call */
	__u64 t_unshare;	/* before the UNSHARE call; NEVER: none */
	__u64 t_end;		/* UNSHARE returned; NEVER: until O went */
};

struct race {
	int o, s, p;
	int stop, closed;	/* __atomic flags */
	int owner_ops, share_ops, steal_ops;	/* __atomic counts */
	int rva_live, s_shared, unshares;	/* __atomic: the handshake */
	int bad;		/* errnos the ABI does not allow there */
	struct race_tag tag[RACE_MAX];
	int ntag;
	struct race_share sh[RACE_MAX];
	int nsh;
	__u64 t_close;		/* before the dup2() */
	__u64 t_gone;		/* O seen destroyed */
};

static int race_flag(int *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static void race_inc(int *f)
{
	__atomic_add_fetch(f, 1, __ATOMIC_RELEASE);
}

/* An errno a worker may see: 0, ENOMEM if @nomem, or what a closed owner gives. */
static int race_ok(struct race *r, const char *what, int ret, int nomem)
{
	if (!ret || (nomem && ret == -ENOMEM))
		return !ret;
	if (race_flag(&r->closed) && (ret == -ENOTTY || ret == -EINVAL))
		return 0;
	printf("# race: %s: %s\n", what, strerror(-ret));
	__atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Wait, 8 ms at most, until *@f differs from @old: 0, or -1 on timeout. */
static int race_wait(int *f, int old)
{
	int i;

	for (i = 0; i < 80; i++) {
		if (race_flag(f) != old)
			return 0;
		usleep(100);
	}
	return -1;
}

static void *race_owner(void *arg)
{
	struct race *r = arg;
	int churned[8] = { 0 };
	__u64 k, tag;

	pin_to(0);
	for (k = 1; !race_flag(&r->stop) && !race_flag(&r->closed) &&
	     r->ntag < RACE_MAX; k++) {
		race_inc(&r->owner_ops);
		/* Tables of its own that steals take and give back. */
		if (churned[k % 8])
			churned[k % 8] = !race_ok(r, "owner UNMAP churn",
						  ht_unmap(r->o, CHURN_VA(k), 1), 0);
		else
			churned[k % 8] = race_ok(r, "owner MAP churn",
						 ht_map(r->o, CHURN_VA(k), 1, 0), 1);
		if (!race_ok(r, "owner MAP", ht_map(r->o, SRC_VA(k), 1, HTABLE_MAP_WRITE), 0))
			continue;
		tag = TAG(k);
		if (race_ok(r, "owner RW", ht_rw(r->o, SRC_VA(k), &tag, 8, HTABLE_RW_WRITE), 0) &&
		    race_ok(r, "owner ALIAS at RVA",
			    ht_map_alias(r->o, RVA, 1, HTABLE_MAP_ALIAS, SRC_VA(k), 1), 0)) {
			struct race_tag *t = &r->tag[r->ntag++];
			int unshares = race_flag(&r->unshares);

			t->tag = tag;
			t->t_unmap = NEVER;
			__atomic_store_n(&r->rva_live, 1, __ATOMIC_RELEASE);
			/* Other pages of the shared table come and go. */
			if (race_ok(r, "owner MAP in the table",
				    ht_map(r->o, SVA + 100 * HT_PAGE_SIZE, 8, 0), 0))
				race_ok(r, "owner UNMAP in the table",
					ht_unmap(r->o, SVA + 100 * HT_PAGE_SIZE, 8), 0);
			/* Mapped until an UNSHARE is done, or 8 ms; or O is closed. */
			race_wait(&r->unshares, unshares);
			if (race_flag(&r->closed))
				break;
			__atomic_store_n(&r->rva_live, 0, __ATOMIC_RELEASE);
			if (race_ok(r, "owner UNMAP RVA", ht_unmap(r->o, RVA, 1), 0))
				t->t_unmap = now_ns();
			/* RVA stays unmapped a while: reads there must fault. */
			usleep(1000);
		}
		race_ok(r, "owner UNMAP source", ht_unmap(r->o, SRC_VA(k), 1), 0);
	}
	return NULL;
}

static int race_share_call(struct race *r, int share)
{
	struct htable_share a = {
		.owner_fd = share ? r->o : 0, .va = SVA, .npages = NP_2M,
	};

	return ht_ioctl(r->s, share ? HTABLE_IOC_SHARE : HTABLE_IOC_UNSHARE, &a);
}

static void *race_sharer(void *arg)
{
	struct race *r = arg;
	int shared = 1, ret;
	__u64 t;

	pin_to(0);
	while (!race_flag(&r->stop) && r->nsh < RACE_MAX) {
		race_inc(&r->share_ops);
		if (shared) {
			/* Once RVA maps a tag, and the window had a moment to read it. */
			race_wait(&r->rva_live, 0);
			usleep(1000);
			__atomic_store_n(&r->s_shared, 0, __ATOMIC_RELEASE);
			r->sh[r->nsh - 1].t_unshare = now_ns();
			ret = race_share_call(r, 0);
			t = now_ns();
			/* ENOENT: O's close detached it before this returned. */
			if (ret == -ENOENT && race_flag(&r->closed)) {
				r->sh[r->nsh - 1].t_end = t;
				break;
			}
			/* UNSHARE allocates nothing: never ENOMEM. */
			if (race_ok(r, "UNSHARE", ret, 0)) {
				r->sh[r->nsh - 1].t_end = t;
				shared = 0;
			}
			race_inc(&r->unshares);
			continue;
		}
		usleep(1000);
		t = now_ns();
		ret = race_share_call(r, 1);
		if (ret == -EINVAL && race_flag(&r->closed))
			break;
		shared = race_ok(r, "SHARE", ret, 0);
		if (shared) {
			r->sh[r->nsh++] = (struct race_share){
				.t_start = t, .t_unshare = NEVER, .t_end = NEVER,
			};
			__atomic_store_n(&r->s_shared, 1, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

static void *race_stealer(void *arg)
{
	struct race *r = arg;
	int mapped[64] = { 0 }, i;

	pin_to(0);
	for (i = 0; !race_flag(&r->stop); i++) {
		__u64 va = PVA + (i % 64) * HT_SZ_2M;

		if (mapped[i % 64])
			mapped[i % 64] = !race_ok(r, "P UNMAP", ht_unmap(r->p, va, 1), 0);
		else
			mapped[i % 64] = race_ok(r, "P MAP",
						 ht_map(r->p, va, 1, HTABLE_MAP_WRITE), 1);
		race_inc(&r->steal_ops);
	}
	return NULL;
}

/* Was S sharing at @t (between a SHARE's call and its UNSHARE's return)? */
static int race_shared_at(const struct race *r, __u64 t)
{
	int i;

	for (i = 0; i < r->nsh; i++)
		if (t >= r->sh[i].t_start && (r->sh[i].t_end == NEVER || t <= r->sh[i].t_end))
			return 1;
	return 0;
}

/* Was S sharing at any time in [@t0, @t1]? */
static int race_shared_during(const struct race *r, __u64 t0, __u64 t1)
{
	int i;

	for (i = 0; i < r->nsh; i++)
		if (r->sh[i].t_start <= t1 && (r->sh[i].t_end == NEVER || r->sh[i].t_end >= t0))
			return 1;
	return 0;
}

static const char * const race_why[] = {
	"after the owner was destroyed", "after UNSHARE returned",
	"after the UNMAP of its page returned", "a value no page at RVA held",
};

/*
 * What makes a VALID read of @v (@fault: it faulted) stale, or NULL. A
 * sample's time is when its read started (uapi); the read ended before
 * the window's next sample was taken, at @t_next. So the read happened
 * in [@t, @t_next], and only what holds over all of it is stale: a vCPU
 * the host leaves waiting between the clock and the read may read after
 * the next SHARE began.
 */
static const char *race_stale(const struct race *r, __u64 t, __u64 t_next, __u64 v,
			      int fault)
{
	int i;

	if (fault)
		return NULL;
	if (t > r->t_gone)
		return race_why[0];
	if (!race_shared_during(r, t, t_next))
		return race_why[1];
	for (i = 0; i < r->ntag; i++)
		if (r->tag[i].tag == v)
			return r->tag[i].t_unmap != NEVER && t > r->tag[i].t_unmap ?
			       race_why[2] : NULL;
	return race_why[3];
}

/* The tag @v still mapped at RVA at @t? */
static int race_tag_live(const struct race *r, __u64 v, __u64 t)
{
	int i;

	for (i = 0; i < r->ntag; i++)
		if (r->tag[i].tag == v)
			return r->tag[i].t_unmap == NEVER || r->tag[i].t_unmap > t;
	return 0;
}

/*
 * Did the window test the unlink that began at @t0 and returned at @t1:
 * a VALID read of a tag before @t0, the last one, with that tag still
 * mapped at @t1 (so RVA was cached), and a VALID sample after @t1?
 */
static int race_tested(const struct race *r, const struct window *w, __u64 t0, __u64 t1)
{
	const struct htable_sample *last = NULL;
	__u32 i;

	for (i = 0; i < w->r.nsamples; i++) {
		const struct htable_sample *x = &w->s[i];

		if (!(x->flags & HTABLE_SAMPLE_VALID))
			continue;
		if (x->t_ns < t0) {
			last = x;
			continue;
		}
		if (x->t_ns <= t1)
			continue;
		return last && !(last->flags & HTABLE_SAMPLE_FAULT) &&
		       race_tag_live(r, last->value, t1);
	}
	return 0;
}

/*
 * One round; returns the stale samples (printing the first few), and in
 * *@tested the unlinks (UNSHAREs, the close) made while RVA was cached.
 */
static int race_round(struct __test_metadata *_metadata, struct race *r, int *tested)
{
	int devnull, stale = 0, waited, ret, j, nwhy[ARRAY_SIZE(race_why)] = { 0 };
	long long hats0, steals0, shared0, cap;
	struct htable_info info;
	pthread_t th[3];
	__u64 t0, i, nvalid;
	struct window w;

	memset(r, 0, sizeof(*r));
	*tested = 0;
	r->t_gone = NEVER;
	r->o = htable_open_dev();
	r->s = htable_open_dev();
	r->p = htable_open_dev();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, r->o);
	ASSERT_LE(0, r->s);
	ASSERT_LE(0, r->p);
	ASSERT_LE(0, devnull);
	ASSERT_EQ(0, pin_to(0));
	hats0 = htable_stat("hats");
	shared0 = htable_stat("hs_htable_shared") - htable_stat("hs_htable_unshared");
	ASSERT_EQ(0, ht_map(r->o, KEEP_VA, 1, HTABLE_MAP_LOCK));
	ASSERT_EQ(0, ht_map(r->s, S_KEEP_VA, 1, HTABLE_MAP_LOCK));
	for (j = 0; j < 8; j++) {
		ASSERT_EQ(0, ht_map(r->o, SRC_VA(j) + HT_PAGE_SIZE, 1, HTABLE_MAP_LOCK));
		ASSERT_EQ(0, ht_map(r->p, PVA + (64 + j) * HT_SZ_2M, 1, 0));
	}
	ASSERT_EQ(0, race_share_call(r, 1));
	r->sh[r->nsh++] = (struct race_share){
		.t_start = 0, .t_unshare = NEVER, .t_end = NEVER,
	};
	r->s_shared = 1;
	cap = htable_stat("active_ptables");
	steals0 = htable_stat("hs_steals");
	ASSERT_EQ(0, window_start(&w, r->s, 1, RVA, RACE_WINDOW_MS, HTABLE_MAX_SAMPLES));
	/* No ASSERT until the window and the workers are joined. */
	waited = wait_live(r->s, &w, 10);
	ret = htable_knob_write(PTABLE_CAP, cap);
	if (!waited && !ret) {
		pthread_create(&th[0], NULL, race_owner, r);
		pthread_create(&th[1], NULL, race_sharer, r);
		pthread_create(&th[2], NULL, race_stealer, r);
		t0 = now_ns();
		/* CHECK the survivors meanwhile, leaving CPU 0 to the workers. */
		for (j = 0; now_ns() - t0 < 60000000000ULL &&
		     (race_flag(&r->owner_ops) < RACE_MIN_OPS ||
		      race_flag(&r->share_ops) < RACE_MIN_OPS ||
		      race_flag(&r->steal_ops) < RACE_MIN_OPS); j++) {
			if (!(j % 10) && (check_sound(r->s) || check_sound(r->p)))
				r->bad++;
			usleep(2000);
		}
		/* Close the owner while they run, S sharing and RVA mapped. */
		while (now_ns() - t0 < 60000000000ULL &&
		       !(race_flag(&r->s_shared) && race_flag(&r->rva_live)))
			usleep(100);
		__atomic_store_n(&r->closed, 1, __ATOMIC_RELEASE);
		r->t_close = now_ns();
		dup2(devnull, r->o);
		while (now_ns() - t0 < 60000000000ULL && htable_stat("hats") != hats0 - 1)
			usleep(500);
		r->t_gone = now_ns();
		while (now_ns() - t0 < 60000000000ULL && !race_flag(&w.done))
			usleep(5000);
		__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
		for (j = 0; j < 3; j++)
			pthread_join(th[j], NULL);
	}
	pthread_join(w.tid, NULL);
	htable_knob_write(PTABLE_CAP, 0);
	close(devnull);
	ASSERT_EQ(0, waited);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, w.err);
	EXPECT_EQ(0, window_sane(&w, &nvalid));
	TH_LOG("%d owner cycles (%d tags), %d SHARE/UNSHARE calls (%d shares)",
	       r->owner_ops, r->ntag, r->share_ops, r->nsh);
	TH_LOG("%d MAP/UNMAP calls of P, %lld steals", r->steal_ops,
	       htable_stat("hs_steals") - steals0);
	EXPECT_EQ(0, r->bad);
	EXPECT_LE(RACE_MIN_OPS, r->owner_ops);
	EXPECT_LE(RACE_MIN_OPS, r->share_ops);
	EXPECT_LE(RACE_MIN_OPS, r->steal_ops);
	EXPECT_LT(steals0, htable_stat("hs_steals"));
	EXPECT_EQ(hats0 - 1, htable_stat("hats"));

	for (i = 0; i < w.r.nsamples; i++) {
		const struct htable_sample *x = &w.s[i];
		const char *why;

		if (!(x->flags & HTABLE_SAMPLE_VALID))
			continue;
		why = race_stale(r, x->t_ns, i + 1 < w.r.nsamples ? w.s[i + 1].t_ns : NEVER,
				 x->value, !!(x->flags & HTABLE_SAMPLE_FAULT));
		if (!why)
			continue;
		for (j = 0; j < (int)ARRAY_SIZE(race_why); j++)
			nwhy[j] += why == race_why[j];
		if (stale++ < 3)
			TH_LOG("stale: sample %llu, %+.3f ms from O's end, read %#llx, %s",
			       i, ((double)x->t_ns - (double)r->t_gone) / 1e6,
			       x->value, why);
	}
	for (j = 0; j < r->nsh; j++)
		if (r->sh[j].t_unshare != NEVER && r->sh[j].t_end != NEVER &&
		    r->sh[j].t_end < r->t_close)
			*tested += race_tested(r, &w, r->sh[j].t_unshare, r->sh[j].t_end);
	j = race_shared_at(r, r->t_close) && race_tested(r, &w, r->t_close, r->t_gone);
	*tested += j;
	TH_LOG("%u samples (%llu valid); %d stale; %d unlinks made with RVA cached%s",
	       w.r.nsamples, nvalid, stale, *tested, j ? ", the close one of them" : "");
	for (j = 0; j < (int)ARRAY_SIZE(race_why); j++)
		if (nwhy[j])
			TH_LOG("%d stale: %s", nwhy[j], race_why[j]);
	free(w.s);

	/* Both survivors are sound, and S holds nothing of O's. */
	EXPECT_EQ(0, check_sound(r->s));
	EXPECT_EQ(0, check_sound(r->p));
	ASSERT_EQ(0, ht_info(r->s, &info));
	EXPECT_EQ(1, info.tables[0]);
	EXPECT_EQ(1, info.mapped_pages);
	EXPECT_EQ(shared0, htable_stat("hs_htable_shared") - htable_stat("hs_htable_unshared"));
	close(r->o);
	close(r->s);
	close(r->p);
	return stale;
}

TEST_F_TIMEOUT(sh, share_races_owner, SH_TIMEOUT)
{
	static struct race r;
	long long active0, hats0;
	int try, stale = 0, tested = 0;

	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[3] < 0, self->err))
		return;
	ASSERT_LE(2, ncpus());
	/* The fixture's hats stay out of it: only the race's own count. */
	active0 = htable_stat("active_ptables");
	hats0 = htable_stat("hats");
	for (try = 1; try <= RACE_TRIES && !stale && !tested; try++)
		stale = race_round(_metadata, &r, &tested);
	EXPECT_EQ(0, stale) TH_LOG("the sharer's CPU read pages it could no longer reach");
	/* Stale reads already show the test looked; without, it must have. */
	if (!stale)
		EXPECT_LT(0, tested)
			TH_LOG("%d rounds, and no UNSHARE or close made while RVA was cached",
			       RACE_TRIES);
	EXPECT_EQ(active0, htable_stat("active_ptables"));
	EXPECT_EQ(hats0, htable_stat("hats"));
}

/*
 * CHECK of two hats that share each other's tables, with writers queued
 * on both.
 *
 * A shares B's leaf table at OTHER_VA and B shares A's at SVA. CHECK of
 * a hat holds its hat_seg_lock for read while it walks, and to read a
 * shared table it needs the owner's too. A MAP of pinned pages takes its
 * hat's hat_seg_lock for write and, while it waits, makes new readers of
 * that hat wait behind it. Four threads loop at once: CHECK of A, CHECK
 * of B, and a pinned MAP and its UNMAP in each hat. A CHECK that waited
 * for the other hat's lock while holding its own would, with both
 * writers queued, close a circle: CHECK A, writer B, CHECK B, writer A.
 * Each CHECK walks CX_TABLES tables of its own before it comes to the
 * shared one, so it holds its lock long enough for the writers to queue.
 *
 * Every thread must keep making progress: one that does nothing for
 * CX_STUCK_S seconds is stuck. Its waits are killable, so the test's
 * exit ends them. Every CHECK must be clean.
 */
#define CX_TABLES	48
#define CX_RUN_S	6
#define CX_STUCK_S	20
#define CX_PIN_VA	(30 * HT_SZ_1G)

struct cross {
	int fd[2];
	char *mem;		/* what the pinned MAPs pin: a page each hat */
	int stop;		/* __atomic */
	long ops[4];		/* __atomic: CHECK A, CHECK B, writer A, B */
	int ended[4];		/* __atomic: the thread returned */
	int bad[4];		/* the first unexpected result, or 0 */
	long long unsound;	/* __atomic: CHECKs that found errors */
};

struct cross_arg {
	struct cross *x;
	int k;
};

static void *cross_worker(void *arg)
{
	struct cross_arg *a = arg;
	struct cross *x = a->x;
	int fd = x->fd[a->k % 2], ret;
	struct htable_check c;

	while (!__atomic_load_n(&x->stop, __ATOMIC_RELAXED)) {
		if (a->k < 2) {
			ret = ht_check(fd, &c);
			if (!ret && c.errors)
				__atomic_add_fetch(&x->unsound, 1, __ATOMIC_RELAXED);
		} else {
			ret = ht_map_alias(fd, CX_PIN_VA, 1, HTABLE_MAP_PIN,
					   (uintptr_t)(x->mem + (a->k % 2) * HT_PAGE_SIZE), 0);
			if (!ret)
				ret = ht_unmap(fd, CX_PIN_VA, 1);
		}
		if (ret && !x->bad[a->k])
			x->bad[a->k] = ret;
		__atomic_add_fetch(&x->ops[a->k], 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&x->ended[a->k], 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F_TIMEOUT(sh, check_cross_shared, SH_TIMEOUT)
{
	long last[4] = { 0 }, now;
	struct cross_arg args[4];
	double t0, moved[4];
	pthread_t th[4];
	struct cross x = { .fd = { self->fd[0], self->fd[1] } };
	int k, i, ended = 0, stuck = -1;

	if (htable_dev_missing(_metadata, self->fd[0] < 0 || self->fd[1] < 0, self->err))
		return;
	x.mem = mmap(NULL, 2 * HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, x.mem);
	/* Tables of its own that each CHECK walks before the shared one. */
	for (k = 0; k < 2; k++)
		for (i = 0; i < CX_TABLES; i++)
			ASSERT_EQ(0, ht_map(x.fd[k], HT_SZ_1G + i * HT_SZ_2M, 1, 0));
	ASSERT_EQ(0, ht_map(x.fd[0], SVA, 4, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(x.fd[1], OTHER_VA, 4, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_share(x.fd[1], x.fd[0], SVA, NP_2M, NULL));
	ASSERT_EQ(0, ht_share(x.fd[0], x.fd[1], OTHER_VA, NP_2M, NULL));

	for (k = 0; k < 4; k++) {
		args[k] = (struct cross_arg){ &x, k };
		ASSERT_EQ(0, pthread_create(&th[k], NULL, cross_worker, &args[k]));
	}
	t0 = ht_now();
	for (k = 0; k < 4; k++)
		moved[k] = t0;
	/* Run, then stop: every thread must keep moving until it ends. */
	while (stuck < 0 && ended < 4) {
		usleep(100 * 1000);
		if (ht_now() - t0 >= CX_RUN_S)
			__atomic_store_n(&x.stop, 1, __ATOMIC_RELAXED);
		for (k = 0, ended = 0; k < 4; k++) {
			now = __atomic_load_n(&x.ops[k], __ATOMIC_RELAXED);
			if (__atomic_load_n(&x.ended[k], __ATOMIC_ACQUIRE)) {
				ended++;
			} else if (now != last[k]) {
				last[k] = now;
				moved[k] = ht_now();
			} else if (ht_now() - moved[k] > CX_STUCK_S) {
				stuck = k;
			}
		}
	}
	ASSERT_EQ(-1, stuck) {
		TH_LOG("%s %c made no progress for %d s (ops: %ld %ld %ld %ld)",
		       stuck < 2 ? "CHECK of" : "the writer of", 'A' + stuck % 2,
		       CX_STUCK_S, last[0], last[1], last[2], last[3]);
	}
	for (k = 0; k < 4; k++) {
		pthread_join(th[k], NULL);
		last[k] = x.ops[k];
		EXPECT_LT(0, last[k]);
		EXPECT_EQ(0, x.bad[k]) TH_LOG("thread %d: %s", k, strerror(-x.bad[k]));
	}
	EXPECT_EQ(0, x.unsound);
	TH_LOG("ops: CHECK %ld and %ld, pinned MAP+UNMAP %ld and %ld",
	       last[0], last[1], last[2], last[3]);
	EXPECT_EQ(0, check_sound(x.fd[0]));
	EXPECT_EQ(0, check_sound(x.fd[1]));
	munmap(x.mem, 2 * HT_PAGE_SIZE);
}

TEST_HARNESS_MAIN
