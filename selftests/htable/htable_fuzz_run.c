// SPDX-License-Identifier: GPL-2.0
/*
 * Running the fuzzer: one operation (with the steal lock held for
 * read), VERSION and REOPEN, a thread's loop, a process of threads, and
 * the processes of a run with what they did summed.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "htable_fuzz.h"

#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << 26)
#endif

/* ---- one operation ------------------------------------------------------ */

static int fz_version(struct fz_thread *t, struct fz_hat *fh)
{
	struct htable_version v;
	int ret;

	memset(&v, FZ_POISON, sizeof(v));
	ret = fz_ioctl(t, fh->h.fd, HTABLE_IOC_VERSION, &v);
	if (fz_bad_ret(t, "VERSION", ret, 0))
		return 1;
	if (v.major != HTABLE_ABI_MAJOR || v.minor != HTABLE_ABI_MINOR ||
	    v.levels != (__u32)fh->h.levels || v.page_shift != HT_PAGE_SHIFT ||
	    v.reserved[0] || v.reserved[1]) {
		fz_log(t, "# VERSION: %u.%u levels %u shift %u reserved %#llx %#llx\n",
		       v.major, v.minor, v.levels, v.page_shift, v.reserved[0],
		       v.reserved[1]);
		return 1;
	}
	return 0;
}

/*
 * Close hat @hi (after checking it) and open a fresh one. Its sharers
 * lose its tables: what they showed there is gone.
 */
static int fz_reopen(struct fz_thread *t, struct fz_set *s, int hi, __u64 arg)
{
	__u64 lost[FZ_SHARES * FZ_HATS];
	int nlost = 0, who[FZ_SHARES * FZ_HATS], bad;

	bad = fz_info_check(t, s, hi, 1) + fz_tag_sweep(t, s, hi, 32);
	if (bad)
		return bad;
	for (int j = 0; j < FZ_HATS; j++) {
		struct fz_hat *fj = &s->hat[j];

		for (int k = fj->nsh - 1; k >= 0 && j != hi; k--) {
			if (fj->sh[k].owner != hi)
				continue;
			who[nlost] = j;
			lost[nlost++] = fj->sh[k].va;
			fz_share_del(fj, fj->sh[k].va);
		}
	}
	fz_hat_free(&s->hat[hi]);
	if (fz_hat_open(&s->hat[hi])) {
		fz_log(t, "# cannot open a hat: %s\n", strerror(errno));
		return 1;
	}
	for (int k = 0; k < nlost && !bad; k++)
		bad += fz_probe(t, s, who[k], lost[k] + (arg >> k % 32) % NP_2M * HT_PAGE_SIZE);
	return bad;
}

static int fz_exec(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	int bad;

	t->pm_ok = 0;	/* pagemap can change between operations */
	switch (op->kind) {
	case FZ_VERSION:
		return fz_version(t, fh);
	case FZ_MAP:
		return fz_map(t, s, op);
	case FZ_UNMAP:
		return fz_unmap(t, s, op);
	case FZ_PROBE: {
		struct ht_page *pg = ht_model_find(&fh->h.m, op->va);

		t->probing = 1;
		bad = fz_probe(t, s, op->hat, op->va);
		t->probing = 0;
		/* And what the page holds: its tag, read through RW. */
		if (!bad && pg)
			bad = fz_check_tag(t, fh, pg);
		return bad;
	}
	case FZ_INFO:
		return fz_info_check(t, s, op->hat, 0);
	case FZ_CHECK:
		return fz_info_check(t, s, op->hat, 1);
	case FZ_RW:
		return fz_rw(t, s, op);
	case FZ_RUN:
		return fz_run(t, s, op);
	case FZ_SYNC:
		return fz_sync(t, s, op);
	case FZ_ADSYNC:
		return fz_adsync(t, s, op);
	case FZ_RELOAD:
		return fz_reload(t, s, op);
	case FZ_SHARE:
		return fz_share(t, s, op);
	case FZ_UNSHARE:
		return fz_unshare(t, s, op);
	case FZ_CLEAR:
		return fz_clear(t, s, op);
	case FZ_STEAL:
		return fz_steal(t, s, op);
	case FZ_REOPEN:
		return fz_reopen(t, s, op->hat, op->arg);
	default:
		return fz_bad(t, s, op);
	}
}

/* One operation with the steal lock held for read, after catching up. */
int fz_step(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	double t0;
	int bad;

	/*
	 * The clock only when the lock is taken: under TCG each read of it is
	 * a system call (the guest's clocksource is the HPET), and reading it
	 * around every operation took a quarter of a soak's time.
	 */
	if (pthread_rwlock_tryrdlock(&t->g->lock)) {
		t0 = ht_now();
		pthread_rwlock_rdlock(&t->g->lock);
		t->t_wait += ht_now() - t0;
	}
	s->used |= 1 << op->hat;
	if (op->kind == FZ_SHARE)
		s->used |= 1 << op->owner % FZ_HATS;
	bad = fz_catch_up(t, s);
	if (!bad)
		bad = fz_exec(t, s, op);
	if (!bad && ++s->hat[op->hat].since_check >= FZ_CHECK_EVERY) {
		s->hat[op->hat].since_check = 0;
		bad = fz_info_check(t, s, op->hat, 1) + fz_tag_sweep(t, s, op->hat, 24);
	}
	pthread_rwlock_unlock(&t->g->lock);
	return bad;
}

/* ---- threads and processes --------------------------------------------- */

static void fz_fail(struct fz_thread *t, const struct fz_op *op)
{
	fprintf(stderr, "# seed %#llx proc %d thread %d: mismatch\n",
		(unsigned long long)t->seed, t->proc, t->thr);
	fprintf(stderr, "# at op %lu (op %zu since the hats were opened):\n",
		t->ops, t->nlog - 1);
	fz_print_op(stderr, op, t->nlog - 1);
	t->failed = 1;
	if (t->inject)
		__atomic_store_n(&t->g->stop, 1, __ATOMIC_RELEASE);
	if (!t->noshrink)
		t->shrunk = fz_shrink(t, t->log, t->nlog);
}

static void *fz_thread_fn(void *arg)
{
	struct fz_thread *t = arg;
	unsigned long ep_every, steal_every, next_steal;
	double t0 = ht_now(), t1;

	t->log = calloc(FZ_LOG_MAX + 2 * FZ_EP_OPS, sizeof(*t->log));
	t->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	t->kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (!t->log || t->pagemap < 0 || t->kpageflags < 0 || fz_pools_init(t) ||
	    fz_set_open(t, &t->real)) {
		fprintf(stderr, "# thread %d.%d: cannot set up: %s\n", t->proc, t->thr,
			strerror(errno));
		t->failed = 1;
		goto out;
	}
	t->t_setup = ht_now() - t0;
	t->next_bid = 1;
	ep_every = t->budget / (t->budget / FZ_EPISODE_EVERY + 2);
	t->next_ep = t->episodes ? ep_every : ~0UL;
	steal_every = t->budget / (t->budget / FZ_STEAL_EVERY + 1);
	/* The processes' steals fall at different times; other threads' not at all. */
	next_steal = t->thr ? ~0UL : steal_every * (2 * t->proc + 1) / (2 * FZ_PROCS);
	while (t->ops < t->budget && !t->failed &&
	       !__atomic_load_n(&t->g->stop, __ATOMIC_ACQUIRE)) {
		struct fz_op op;

		/* The hats are reopened now and then, so that a replay stays short. */
		if (t->nlog >= FZ_LOG_MAX && !t->ep_left) {
			if (fz_set_close(t, &t->real, 1) || fz_set_open(t, &t->real)) {
				fprintf(stderr, "# thread %d.%d: hats unsound at reopening\n",
					t->proc, t->thr);
				t->failed = 1;
				break;
			}
			t->nlog = 0;
		}
		if (t->ops >= t->next_ep && !t->ep_left && t->nlog + FZ_EP_OPS < FZ_LOG_MAX) {
			if (t->use1g && !t->pl.g1 && fz_g1_wait(t)) {
				t->failed = 1;
				break;
			}
			t->ep_left = FZ_EP_OPS;
			t->ep_hat = fz_rand(t, FZ_HATS);
			__atomic_store_n(&t->g->episode, 1, __ATOMIC_RELEASE);
			t->next_ep += ep_every;
			fz_stat(t, ST_EPISODES, 1);
			fz_gen_episode(t, &t->real, &op, FZ_EP_OPS);
		} else if (t->ep_left == FZ_EP_OPS - 1 || t->ep_left == 1) {
			fz_gen_episode(t, &t->real, &op, t->ep_left);
		} else if (t->ops >= next_steal && !t->ep_left &&
			   !__atomic_load_n(&t->g->episode, __ATOMIC_ACQUIRE)) {
			/* Not while a 1 GiB episode runs: all would wait for its slow calls. */
			memset(&op, 0, sizeof(op));
			op.kind = FZ_STEAL;
			/* A reap and a force_steal in turn, the processes starting apart. */
			op.arg = ht_rand(&t->rng) & ~1ULL;
			op.arg |= (t->proc + next_steal / steal_every) & 1;
			next_steal += steal_every;
		} else {
			fz_gen(t, &t->real, &op);
		}
		if (t->ep_left)
			t->ep_left--;
		t->log[t->nlog++] = op;
		t->ops++;
		t->per_kind[op.kind]++;
		t0 = ht_now();
		if (fz_step(t, &t->real, &op)) {
			fz_fail(t, &op);
			break;
		}
		t1 = ht_now() - t0;
		t->secs[op.kind] += t1;
		/* The episode's CLEAR is done: steals may come again. */
		if (t->episodes && !t->ep_left)
			__atomic_store_n(&t->g->episode, 0, __ATOMIC_RELEASE);
		if (t1 > t->t_slowest) {
			t->t_slowest = t1;
			t->slowest = op.kind;
		}
	}
	if (fz_set_close(t, &t->real, !t->failed) && !t->failed) {
		fprintf(stderr, "# thread %d.%d: hats unsound at the end\n", t->proc, t->thr);
		t->failed = 1;
	}
out:
	fz_pools_free(t);
	if (t->pagemap >= 0)
		close(t->pagemap);
	if (t->kpageflags >= 0)
		close(t->kpageflags);
	free(t->log);
	return NULL;
}

/* One process's threads; returns the number that failed. */
static int fz_process(struct fz_global *g, __u64 seed, int proc, unsigned long budget,
		      int inject, int use1g)
{
	struct fz_thread *t = calloc(FZ_THREADS, sizeof(*t));
	struct fz_result *res = &g->res[proc];
	int i, failed = 0, ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!t)
		return FZ_THREADS;
	for (i = 0; i < FZ_THREADS; i++) {
		t[i].proc = proc;
		t[i].thr = i;
		t[i].seed = seed;
		t[i].g = g;
		/* Each thread's stream is its own, and the same on every replay. */
		t[i].rng = seed ^ (0x9E3779B97F4A7C15ULL * (proc * FZ_THREADS + i + 1));
		t[i].rng = t[i].rng ? t[i].rng : 1;
		t[i].budget = budget / FZ_THREADS;
		t[i].ncpus = ncpus > 0 ? ncpus : 1;
		t[i].inject = inject;
		t[i].noshrink = inject == FZ_INJ_TAG || inject == FZ_INJ_SYNC;
		t[i].use1g = use1g && i == 0;
		t[i].episodes = proc == 0 && i == 0 && !inject;
		t[i].pdpe1gb = ht_has_pdpe1gb();
		t[i].pagemap = -1;
		t[i].kpageflags = -1;
		if (pthread_create(&t[i].tid, NULL, fz_thread_fn, &t[i]))
			t[i].failed = 1;
	}
	for (i = 0; i < FZ_THREADS; i++) {
		if (t[i].tid)
			pthread_join(t[i].tid, NULL);
		failed += t[i].failed;
		res->ops += t[i].ops;
		res->ioctls += t[i].ioctls;
		if (t[i].shrunk && (!res->shrunk || t[i].shrunk < res->shrunk))
			res->shrunk = t[i].shrunk;
		for (int k = 0; k < ST_NSTAT; k++)
			res->st[k] += t[i].st[k];
	}
	if (!inject) {
		fprintf(stderr, "# process %d:", proc);
		for (int k = 0; k < FZ_NKIND; k++) {
			unsigned long n = 0;

			for (i = 0; i < FZ_THREADS; i++)
				n += t[i].per_kind[k];
			fprintf(stderr, " %s %lu", fz_names[k], n);
		}
		fprintf(stderr, "\n# process %d: seconds:", proc);
		for (int k = 0; k < FZ_NKIND; k++) {
			double d = 0;

			for (i = 0; i < FZ_THREADS; i++)
				d += t[i].secs[k];
			fprintf(stderr, " %s %.1f", fz_names[k], d);
		}
		fprintf(stderr, "; setup %.1f\n", t[0].t_setup);
		for (i = 0; i < FZ_THREADS; i++)
			fprintf(stderr, "# thread %d.%d: %.1f s behind steals, slowest %s %.1f s\n",
				proc, i, t[i].t_wait, fz_names[t[i].slowest], t[i].t_slowest);
	}
	free(t);
	return failed;
}

/* Fault the 1 GiB page in (the parent, beside the children) and tag it. */
static void *fz_g1_fault(void *arg)
{
	struct fz_global *g = arg;
	size_t i;

	for (i = 0; i < NP_1G; i++)
		if (!(i % FZ_TAGS_2M) || i % NP_2M == NP_2M - 1)
			*(__u64 *)(g->g1 + i * HT_PAGE_SIZE + HT_TAG_OFF) =
				fz_pin_tag((uintptr_t)g->g1 + i * HT_PAGE_SIZE);
	__atomic_store_n(&g->g1_state, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The coverage counts, as printed. */
static const char * const fz_stat_names[ST_NSTAT] = {
	"map4k", "map2m", "map1g", "pin4k", "pin2m", "pin1g", "alias2m",
	"alias1g", "splits", "shares", "unshares", "sharer_pages", "steals",
	"stolen_tables", "reloaded", "tags_read", "pagemap_pfns",
	"sync_nonzero", "sharer_windows", "large_errnos", "enomem_2m",
	"episodes", "lpage_over_shared_out", "stolen_conflict_first",
};

/*
 * Run the fuzzer: FZ_PROCS processes of FZ_THREADS threads share @total
 * operations; with @use1g the first thread uses the 1 GiB page. Returns
 * the number of threads that failed; *shrunk gets the shortest shrunk
 * sequence (0: none), @st the coverage counts (may be NULL).
 */
int fz_run_all(__u64 seed, unsigned long total, int inject, int use1g,
	       size_t *shrunk, unsigned long *st)
{
	pthread_rwlockattr_t ra;
	struct fz_global *g;
	pthread_t g1_tid;
	int g1_thread = 0;
	unsigned long ops = 0, ioctls = 0, sum[ST_NSTAT] = { 0 };
	pid_t pid[FZ_PROCS];
	int p, failed = 0;
	double t0 = ht_now(), dt;

	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		return 1;
	memset(g, 0, sizeof(*g));
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
	/* A steal must not wait behind an endless stream of operations. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&g->lock, &ra);
	g->g1_state = -1;
	if (use1g) {
		/* Shared, so that the children use the page the parent faults in. */
		g->g1 = mmap(NULL, HT_SZ_1G, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0);
		if (g->g1 == MAP_FAILED) {
			fprintf(stderr, "# fuzz: no 1 GiB page: %s\n", strerror(errno));
			g->g1 = NULL;
			failed++;
		} else {
			g->g1_state = 0;
		}
	}
	fflush(stderr);
	for (p = 0; p < FZ_PROCS; p++) {
		pid[p] = fork();
		if (pid[p] == 0) {
			g->res[p].failed = fz_process(g, seed, p, total / FZ_PROCS, inject,
						      use1g && p == 0);
			_exit(0);
		}
	}
	if (g->g1 && !pthread_create(&g1_tid, NULL, fz_g1_fault, g))
		g1_thread = 1;
	else if (g->g1)
		__atomic_store_n(&g->g1_state, -1, __ATOMIC_RELEASE);
	*shrunk = 0;
	for (p = 0; p < FZ_PROCS; p++) {
		int ws = 0;

		if (pid[p] < 0 || waitpid(pid[p], &ws, 0) != pid[p] ||
		    !WIFEXITED(ws) || WEXITSTATUS(ws)) {
			failed++;
			continue;
		}
		failed += g->res[p].failed;
		ops += g->res[p].ops;
		ioctls += g->res[p].ioctls;
		if (g->res[p].shrunk && (!*shrunk || g->res[p].shrunk < *shrunk))
			*shrunk = g->res[p].shrunk;
		for (int k = 0; k < ST_NSTAT; k++)
			sum[k] += g->res[p].st[k];
	}
	dt = ht_now() - t0;
	if (!inject) {
		fprintf(stderr, "# fuzz: seed %#llx: %lu operations in %.1f s: %.0f/s\n",
			(unsigned long long)seed, ops, dt, ops / dt);
		fprintf(stderr, "# fuzz: %lu ioctls, %.0f/s; %d procs x %d threads; %d failed\n",
			ioctls, ioctls / dt, FZ_PROCS, FZ_THREADS, failed);
		fprintf(stderr, "# fuzz: covered:");
		for (int k = 0; k < ST_NSTAT; k++)
			fprintf(stderr, "%s %s %lu", k % 8 ? "," : "\n# fuzz:  ",
				fz_stat_names[k], sum[k]);
		fprintf(stderr, "\n");
	}
	if (st)
		memcpy(st, sum, sizeof(sum));
	if (g1_thread)
		pthread_join(g1_tid, NULL);
	if (g->g1)
		munmap(g->g1, HT_SZ_1G);
	pthread_rwlock_destroy(&g->lock);
	munmap(g, sizeof(*g));
	return failed;
}
