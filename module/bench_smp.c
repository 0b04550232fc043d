// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's cases that need other CPUs or the whole system
 * (include/htable/bench.h): a shootdown to a CPU where the hat is live
 * against a bare IPI, two threads mapping at once, and reaping.
 * Documentation/benchmarks.rst.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/vmalloc.h>
#include <asm/hardirq.h>

#include <htable/bench.h>
#include <htable/cr3.h>
#include <htable/hat.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/unmap.h>
#include <htable/x86pte.h>

/* A CPU spinning with the hat live gives up after this long, whatever. */
#define BENCH_KEEPER_MAX_NS	(300ULL * NSEC_PER_SEC)
/* ...and leaves CR3 this often for a moment, so RCU never stalls. */
#define BENCH_KEEPER_PAUSE_NS	(200ULL * NSEC_PER_MSEC)

/* -- invalidate + shootdown to a CPU where the hat is live ----------------- */

/**
 * struct bench_keeper - a CPU that keeps a hat live in CR3
 * @hat:	the hat
 * @mm:		the mm it borrows, so the kernel's lazy-TLB code leaves CR3 be
 * @live:	set once CR3 holds the hat and the CPU is in hat_cpus
 * @stop:	set by the bench to end the spin
 * @clobbers:	times the kernel replaced CR3 and the keeper reloaded it
 * @pauses:	times the keeper let the CPU go for a moment
 * @done:	completed as the keeper leaves
 */
struct bench_keeper {
	struct hat		*hat;
	struct mm_struct	*mm;
	bool			live;
	bool			stop;
	unsigned int		clobbers;
	unsigned int		pauses;
	struct completion	done;
};

/*
 * Like a resident window (cr3.c) without its sampling, through the same
 * protocol (htable_live_*): join hat_cpus, load the hat with interrupts on
 * and preemption off, and spin until told to stop, so that the shootdowns
 * under test have a live CPU to reach.
 */
static int bench_keeper_fn(void *arg)
{
	struct bench_keeper *k = arg;
	struct htable_live l = {
		.hat = k->hat, .mm = k->mm,
		.table_pa = arch_page_to_phys(k->hat->hat_htable->ht_page),
	};
	u64 end = ktime_get_ns() + BENCH_KEEPER_MAX_NS;
	u64 pause = ktime_get_ns() + BENCH_KEEPER_PAUSE_NS, t;

	kthread_use_mm(k->mm);
	preempt_disable();
	htable_live_join(&l);
	local_irq_disable();
	htable_live_enter(&l, false);
	local_irq_enable();
	WRITE_ONCE(k->live, true);
	while (!READ_ONCE(k->stop) && (t = ktime_get_ns()) < end) {
		if (htable_live_reload(&l))
			k->clobbers++;
		if (t >= pause) {
			/*
			 * Let RCU and the scheduler have the CPU now and then:
			 * leave CR3 (the CPU stays in hat_cpus, which only
			 * costs a shootdown that finds CR3 elsewhere).
			 */
			local_irq_disable();
			htable_live_leave(&l);
			local_irq_enable();
			preempt_enable();
			cond_resched();
			preempt_disable();
			local_irq_disable();
			htable_live_enter(&l, false);
			local_irq_enable();
			pause = ktime_get_ns() + BENCH_KEEPER_PAUSE_NS;
			k->pauses++;
		}
		cpu_relax();
	}
	local_irq_disable();
	htable_live_leave(&l);
	local_irq_enable();
	htable_live_part(&l);
	preempt_enable();
	kthread_unuse_mm(k->mm);
	kthread_complete_and_exit(&k->done, 0);
}

static int ht_shootdown_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	struct htable_batch b;
	unsigned int i, j;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		htable_batch_init(&b, c->hat);
		for (j = 0; j < c->n; j++)
			htable_batch_inval(&b, BENCH_SRC_VA + j * PAGE_SIZE);
		htable_batch_flush(&b);
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static void bench_invlpg_fn(void *arg)
{
	struct bench_ctx *c = arg;
	unsigned long j;

	for (j = 0; j < c->n; j++)
		arch_invlpg(BENCH_SRC_VA + j * PAGE_SIZE);
	atomic_long_add(c->n, &c->invlpgs);
}

static int pe_ipi_run(struct bench_ctx *c, unsigned int iters, u64 *ns)
{
	unsigned int i;
	u64 t0;

	t0 = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		preempt_disable();
		smp_call_function_many(cpumask_of(c->remote), bench_invlpg_fn, c, true);
		preempt_enable();
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static const struct bench_side side_ht_shootdown = {
	.name = "htable", .run = ht_shootdown_run, .is_htable = true,
};

static const struct bench_side side_ipi = {
	.name = "smp_call_function_many+invlpg", .run = pe_ipi_run,
	.counts_invlpgs = true,
};

struct bench_call {
	struct bench_ctx	*c;
	unsigned int		reps;
	unsigned int		iters;
};

/* On the bench CPU: keep the hat live on the remote one, time, stop. */
static int bench_shootdown_on_cpu(void *arg)
{
	struct bench_call *call = arg;
	struct bench_ctx *c = call->c;
	struct bench_keeper *k;
	struct task_struct *t;
	int err;

	k = kzalloc(sizeof(*k), GFP_KERNEL);
	if (!k)
		return -ENOMEM;
	k->hat = c->hat;
	k->mm = c->mm;
	init_completion(&k->done);
	t = kthread_create(bench_keeper_fn, k, "htable-keeper/%d", c->remote);
	if (IS_ERR(t)) {
		kfree(k);
		return PTR_ERR(t);
	}
	kthread_bind(t, c->remote);
	wake_up_process(t);
	while (!READ_ONCE(k->live) && !completion_done(&k->done))
		usleep_range(100, 200);

	err = bench_pair(c, "shootdown", &side_ht_shootdown, &side_ipi,
			 call->reps, call->iters);

	WRITE_ONCE(k->stop, true);
	wait_for_completion(&k->done);
	bench_printf("note op=shootdown keeper_cr3_clobbers=%u keeper_pauses=%u\n",
		     k->clobbers, k->pauses);
	kfree(k);
	return err;
}

int case_shootdown(struct bench_ctx *c, unsigned long n,
		   unsigned int reps, unsigned int iters)
{
	struct bench_call call = { .c = c, .reps = reps, .iters = iters ?: 256 };
	int bench_cpu, err;

	if (num_online_cpus() < 2 || !c->mm) {
		bench_printf("skip op=shootdown reason=%s\n",
			     c->mm ? "one-cpu" : "no-mm");
		return 0;
	}
	err = bench_setup_hat(c, n, n);
	if (err)
		return err;
	bench_cpu = cpumask_first(cpu_online_mask);
	c->remote = cpumask_next(bench_cpu, cpu_online_mask);
	return smp_call_on_cpu(bench_cpu, bench_shootdown_on_cpu, &call, false);
}

/* -- two threads on disjoint ranges -------------------------------------- */

/**
 * struct bench_thr - one thread of the scaling case
 * @hat:	its hat (maybe shared with the other thread)
 * @va:		its destination range
 * @src:	the hat's backing pages it aliases
 * @n:		pages per op
 * @nsrc:	backing pages at @src
 * @pages:	page pointers for the vm_map_ram control
 * @iters:	operations
 * @vmram:	run the vm_map_ram control instead of htable
 * @ready:	threads still to start; all spin until it reaches 0
 * @ns:		(out) the thread's elapsed time
 * @err:	(out) the first errno
 * @done:	completed as the thread leaves
 */
struct bench_thr {
	struct hat		*hat;
	unsigned long		va;
	unsigned long		src;
	unsigned long		n;
	unsigned long		nsrc;
	struct page		**pages;
	unsigned int		iters;
	bool			vmram;
	atomic_t		*ready;
	u64			ns;
	int			err;
	struct completion	done;
};

static int bench_thr_fn(void *arg)
{
	struct bench_thr *t = arg;
	unsigned int i;
	void *p;
	u64 t0;

	atomic_dec(t->ready);
	while (atomic_read(t->ready) > 0)
		cpu_relax();
	t0 = ktime_get_ns();
	for (i = 0; i < t->iters && !t->err; i++) {
		if (t->vmram) {
			p = vm_map_ram(t->pages, t->n, NUMA_NO_NODE);
			if (!p)
				t->err = -ENOMEM;
			else
				vm_unmap_ram(p, t->n);
			continue;
		}
		t->err = bench_map(t->hat, t->va, t->n, 0, t->src, t->nsrc);
		if (!t->err)
			t->err = hat_unload(t->hat, t->va, t->n);
	}
	t->ns = ktime_get_ns() - t0;
	kthread_complete_and_exit(&t->done, 0);
}

/*
 * Run @nthr of @thr at once, thread i bound to the i-th online CPU. Return
 * the mean per-op time in @per_op, or an errno.
 */
static int bench_threads(struct bench_thr *thr, unsigned int nthr, u64 *per_op)
{
	struct task_struct *task;
	atomic_t ready;
	unsigned int i, started = 0;
	int cpu = -1, err = 0;
	u64 sum = 0;

	atomic_set(&ready, nthr);
	for (i = 0; i < nthr; i++) {
		cpu = cpumask_next(cpu, cpu_online_mask);
		thr[i].ready = &ready;
		thr[i].err = 0;
		init_completion(&thr[i].done);
		task = kthread_create(bench_thr_fn, &thr[i], "htable-bench/%d", cpu);
		if (IS_ERR(task)) {
			err = PTR_ERR(task);
			/* Let the started ones run. */
			atomic_sub(nthr - i, &ready);
			break;
		}
		kthread_bind(task, cpu);
		wake_up_process(task);
		started++;
	}
	for (i = 0; i < started; i++) {
		wait_for_completion(&thr[i].done);
		err = err ?: thr[i].err;
		sum += div64_u64(thr[i].ns, thr[i].iters);
	}
	*per_op = started ? div64_u64(sum, started) : 0;
	return err;
}

/*
 * Where thread @i's backing pages are: in one hat, each thread aliases
 * pages of its own (case_threads() maps the second set), so that the
 * two share the hat and nothing else, as on two hats.
 */
#define BENCH_THR_SRC_VA(i)	(BENCH_SRC_VA + (i) * (1UL << 30))

static int bench_scaling(struct bench_ctx *c, const char *op, struct hat *h2,
			 bool vmram, unsigned int reps, unsigned int iters)
{
	u64 two[BENCH_MAX_REPS], one[BENCH_MAX_REPS];
	struct bench_counts a, b, hc = {}, pc = {};
	struct bench_thr thr[2];
	unsigned int r, i;
	int err;

	memset(thr, 0, sizeof(thr));
	for (i = 0; i < 2; i++) {
		thr[i].hat = i && h2 ? h2 : c->hat;
		thr[i].va = BENCH_DST_VA + i * (1UL << 30);
		thr[i].src = h2 ? BENCH_SRC_VA : BENCH_THR_SRC_VA(i);
		thr[i].n = c->n;
		thr[i].nsrc = c->nsrc;
		thr[i].pages = c->pages;
		thr[i].iters = iters;
		thr[i].vmram = vmram;
	}
	for (r = 0; r < reps; r++) {
		bench_counts_read(&a);
		err = bench_threads(thr, 2, &two[r]);
		bench_counts_read(&b);
		hc.ipis += b.ipis - a.ipis;
		hc.flushes += b.flushes - a.flushes;
		if (!err) {
			bench_counts_read(&a);
			err = bench_threads(thr, 1, &one[r]);
			bench_counts_read(&b);
			pc.ipis += b.ipis - a.ipis;
			pc.flushes += b.flushes - a.flushes;
		}
		if (err) {
			bench_printf("error op=%s err=%d\n", op, err);
			return err;
		}
	}
	bench_row(op, c->n, "1-thread", two, one, reps, iters, &hc, &pc,
		  !vmram, !vmram);
	return 0;
}

int case_threads(struct bench_ctx *c, unsigned long n, unsigned int reps,
		 unsigned int iters)
{
	struct hat *h2;
	int err;

	if (num_online_cpus() < 2) {
		bench_printf("skip op=2threads reason=one-cpu\n");
		return 0;
	}
	err = bench_setup_hat(c, n, n);
	if (!err)
		err = bench_map(c->hat, BENCH_THR_SRC_VA(1), n, 0, 0, 0);
	if (err)
		return err;
	iters = bench_iters(iters, 4096, n);
	err = bench_scaling(c, "2threads-1hat", NULL, false, reps, iters);
	if (err)
		return err;
	/* A/B: the same work with no hat shared, so no hat_seg_lock shared. */
	h2 = hat_alloc();
	if (!h2)
		return -ENOMEM;
	err = bench_map(h2, BENCH_SRC_VA, n, 0, 0, 0);
	if (!err)
		err = bench_scaling(c, "2threads-2hats", h2, false, reps, iters);
	hat_free(h2);
	if (err)
		return err;
	/* Control: how well this machine scales a Linux mapping path. */
	return bench_scaling(c, "2threads-vm_map_ram", NULL, true, reps, iters);
}

/* -- stealing and reaping ------------------------------------------------- */

/* A hat with @ntables level-0 tables, one page in each; then reap. */
static int bench_reap_once(unsigned long ntables, unsigned long nreap,
			   u64 *per_table, struct bench_counts *acc)
{
	struct bench_counts a, b;
	unsigned long i, freed;
	struct hat *hat;
	int err;
	u64 t0, ns;

	hat = hat_alloc();
	if (!hat)
		return -ENOMEM;
	err = bench_map(hat, BENCH_SRC_VA, 1, 0, 0, 0);
	for (i = 0; i < ntables && !err; i++) {
		err = bench_map(hat, BENCH_DST_VA + i * LEVEL_SIZE(1), 1, 0, BENCH_SRC_VA, 1);
		if (!(i & 255))
			cond_resched();
	}
	if (!err) {
		bench_counts_read(&a);
		t0 = ktime_get_ns();
		freed = htable_reap(nreap);
		ns = ktime_get_ns() - t0;
		bench_counts_read(&b);
		acc->ipis += b.ipis - a.ipis;
		acc->flushes += b.flushes - a.flushes;
		*per_table = freed ? div64_u64(ns, freed) : ns;
		if (!freed)
			err = -EAGAIN;
	}
	hat_free(hat);
	return err;
}

int case_steal(struct bench_ctx *c, unsigned long n, unsigned int reps,
	       unsigned int iters)
{
	u64 big[BENCH_MAX_REPS], small[BENCH_MAX_REPS];
	struct bench_counts hc = {}, pc = {};
	unsigned long base = max(n / 16, 16UL);
	unsigned int r;
	int err = 0;

	iters = iters ?: 64;
	c->n = n;
	for (r = 0; r < reps && !err; r++) {
		err = bench_reap_once(n, iters, &big[r], &hc);
		if (!err)
			err = bench_reap_once(base, iters, &small[r], &pc);
		cond_resched();
	}
	if (err) {
		bench_printf("error op=reap-per-table err=%d\n", err);
		return err;
	}
	/* iters 1: a row's times are per table already. */
	bench_row("reap-per-table", n, base == 1024 ? "self@1K" : "self@n/16",
		  big, small, reps, 1, &hc, &pc, true, true);
	return 0;
}

