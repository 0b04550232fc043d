// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's harness: each htable mechanism timed against the Linux
 * mechanism that does the same work, in the same boot, on the same CPU,
 * with the same page counts and the same loop structure
 * (Documentation/benchmarks.rst). The cases are in bench_map.c and
 * bench_smp.c.
 *
 * debugfs "bench": write "CASE N REPS [ITERS]", then read the result, one
 * "row ..." line per comparison (key=value fields) and "mem ..." lines for
 * the metadata case. A write runs the case to completion before it returns.
 *
 * Backing pages and every table a case needs outside the timed work are
 * set up before the clock starts. Each of the REPS repeats times ITERS
 * operations on each side, the two sides alternating, and the row gives
 * the median, min and max of the per-op times. IPIs are counted from the
 * kernel's per-CPU irq_stat (function-call IPIs received, any CPU), so both
 * sides are counted the same way; flushes are what htable's counters say it
 * requested, and for the bare IPI peer the INVLPGs its function ran.
 *
 * This is not a test: nothing here judges a timing.
 */
#include <linux/bits.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <asm/hardirq.h>
#include <asm/pgtable.h>

#include <htable/bench.h>
#include <htable/cr3.h>
#include <htable/hat.h>
#include <htable/map.h>
#include <htable/module.h>
#include <htable/stats.h>
#include <htable/steal.h>
#include <htable/tlb.h>
#include <htable/x86pte.h>

#define BENCH_OUT_SIZE		8192
/* Most pages a case maps: 4 GiB of 4 KiB pages. */
#define BENCH_MAX_NPAGES	0x100000UL

/* The output of the last case (bench_mutex). */
struct bench_out {
	char	*buf;
	size_t	len;
};

static DEFINE_MUTEX(bench_mutex);
static struct bench_out bench_out;

__printf(1, 2) void bench_printf(const char *fmt, ...)
{
	va_list ap;

	if (!bench_out.buf)
		return;
	va_start(ap, fmt);
	bench_out.len += vscnprintf(bench_out.buf + bench_out.len,
				    BENCH_OUT_SIZE - bench_out.len, fmt, ap);
	va_end(ap);
}

void bench_counts_read(struct bench_counts *c)
{
	int cpu;

	c->ipis = 0;
	for_each_online_cpu(cpu)
		c->ipis += per_cpu(irq_stat, cpu).irq_call_count;
	c->flushes = htable_stat_sum(STAT_hs_tlb_invals) +
		     htable_stat_sum(STAT_hs_tlb_flush_all);
}

static int bench_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* A per-op count as "I.FF", or "na" when the side can't count it. */
static void bench_fmt_rate(char *s, size_t sz, u64 count, u64 ops, bool known)
{
	u64 x100;

	if (!known || !ops) {
		scnprintf(s, sz, "na");
		return;
	}
	x100 = div64_u64(count * 100, ops);
	scnprintf(s, sz, "%llu.%02llu", x100 / 100, x100 % 100);
}

/**
 * bench_row() - print one comparison row from per-op times
 * @op:		operation name
 * @n:		pages (or tables) per operation
 * @peer:	name of the peer
 * @ht:		htable's per-op ns, one per repeat (sorted here)
 * @pe:		the peer's, likewise
 * @reps:	repeats
 * @iters:	operations per repeat and side
 * @hc:		htable's IPIs and flushes over all repeats
 * @pc:		the peer's
 * @hc_known:	htable's flushes are known
 * @pc_known:	the peer's flushes are known
 */
void bench_row(const char *op, unsigned long n, const char *peer,
	       u64 *ht, u64 *pe, unsigned int reps, unsigned int iters,
	       const struct bench_counts *hc, const struct bench_counts *pc,
	       bool hc_known, bool pc_known)
{
	u64 ops = (u64)reps * iters, hm, pm, r;
	char hi[24], hf[24], pi[24], pf[24];

	sort(ht, reps, sizeof(u64), bench_cmp_u64, NULL);
	sort(pe, reps, sizeof(u64), bench_cmp_u64, NULL);
	hm = ht[reps / 2];
	pm = pe[reps / 2];
	r = pm ? div64_u64(hm * 1000, pm) : 0;
	bench_fmt_rate(hi, sizeof(hi), hc->ipis, ops, true);
	bench_fmt_rate(hf, sizeof(hf), hc->flushes, ops, hc_known);
	bench_fmt_rate(pi, sizeof(pi), pc->ipis, ops, true);
	bench_fmt_rate(pf, sizeof(pf), pc->flushes, ops, pc_known);
	bench_printf("row op=%s n=%lu reps=%u iters=%u", op, n, reps, iters);
	bench_printf(" ht_med=%llu ht_min=%llu ht_max=%llu", hm, ht[0], ht[reps - 1]);
	bench_printf(" peer=%s pe_med=%llu pe_min=%llu pe_max=%llu", peer, pm,
		     pe[0], pe[reps - 1]);
	bench_printf(" ratio=%llu.%03llu", r / 1000, r % 1000);
	bench_printf(" ht_ipis=%s ht_flushes=%s pe_ipis=%s pe_flushes=%s\n",
		     hi, hf, pi, pf);
}

/* Time @s once: ITERS ops; add its IPIs and flushes to @acc. */
static int bench_side_once(struct bench_ctx *c, const struct bench_side *s,
			   unsigned int iters, u64 *per_op,
			   struct bench_counts *acc)
{
	struct bench_counts a, b;
	long inv0 = atomic_long_read(&c->invlpgs);
	u64 ns = 0;
	int err;

	bench_counts_read(&a);
	err = s->run(c, iters, &ns);
	bench_counts_read(&b);
	if (err)
		return err;
	*per_op = div64_u64(ns, iters);
	acc->ipis += b.ipis - a.ipis;
	if (s->is_htable)
		acc->flushes += b.flushes - a.flushes;
	else if (s->counts_invlpgs)
		acc->flushes += atomic_long_read(&c->invlpgs) - inv0;
	return 0;
}

/**
 * bench_pair() - time htable and a peer in alternation and print the row
 * @c:		the case's context, set up
 * @op:		operation name
 * @ht:		htable's side
 * @pe:		the peer's side
 * @reps:	repeats, 1..BENCH_MAX_REPS
 * @iters:	operations per repeat and side
 *
 * Return: 0, or the first errno a side returned (no row is printed).
 */
int bench_pair(struct bench_ctx *c, const char *op,
	       const struct bench_side *ht, const struct bench_side *pe,
	       unsigned int reps, unsigned int iters)
{
	u64 hs[BENCH_MAX_REPS], ps[BENCH_MAX_REPS];
	struct bench_counts hc = {}, pc = {};
	unsigned int r;
	int err;

	for (r = 0; r < reps; r++) {
		err = bench_side_once(c, ht, iters, &hs[r], &hc);
		if (!err)
			err = bench_side_once(c, pe, iters, &ps[r], &pc);
		if (err) {
			bench_printf("error op=%s peer=%s err=%d\n", op, pe->name, err);
			return err;
		}
		cond_resched();
	}
	bench_row(op, c->n, pe->name, hs, ps, reps, iters, &hc, &pc,
		  ht->is_htable, pe->is_htable || pe->counts_invlpgs);
	return 0;
}

/* -- set-up shared by the cases -------------------------------------------- */

/* hat_memload() of @n pages at @va: fresh, or aliases of @sn pages at @sva. */
int bench_map(struct hat *hat, unsigned long va, unsigned long n,
	      unsigned int level, unsigned long sva, unsigned long sn)
{
	struct hat_map m = {
		.va = va, .npages = n, .level = level, .attr = HAT_WRITE,
		.source = sn ? HAT_SRC_ALIAS : HAT_SRC_FRESH,
		.src = sva, .src_npages = sn,
	};

	return hat_memload(hat, &m);
}

/* The page @hat maps at @va. */
struct page *bench_page(struct hat *hat, unsigned long va)
{
	struct hat_xlat x;

	hat_probe(hat, va, &x);
	return x.present ? pfn_to_page(PTE2PFN(x.pte)) : NULL;
}

/**
 * bench_setup_src() - the case's hat, owning its backing pages
 * @c:		the case's context
 * @n:		pages per operation
 * @nsrc:	backing pages: fresh, mapped at BENCH_SRC_VA
 * @level:	their page level (512 pages at level 1 are one 2 MiB page)
 *
 * Return: 0 or an errno; bench_teardown() frees what was made either way.
 */
int bench_setup_src(struct bench_ctx *c, unsigned long n, unsigned long nsrc,
		    unsigned int level)
{
	c->n = n;
	c->nsrc = nsrc;
	c->hat = hat_alloc();
	if (!c->hat)
		return -ENOMEM;
	return bench_map(c->hat, BENCH_SRC_VA, nsrc, level, 0, 0);
}

/*
 * A hat owning @nsrc fresh pages at BENCH_SRC_VA, and @n page pointers
 * cycling over them for the peers, so both sides map the same frames.
 */
int bench_setup_hat(struct bench_ctx *c, unsigned long n,
		    unsigned long nsrc)
{
	unsigned long i;
	int err;

	err = bench_setup_src(c, n, nsrc, 0);
	if (err)
		return err;
	c->pages = kvmalloc_array(n, sizeof(*c->pages), GFP_KERNEL);
	if (!c->pages)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		c->pages[i] = bench_page(c->hat, BENCH_SRC_VA + (i % nsrc) * PAGE_SIZE);
	return 0;
}

static void bench_teardown(struct bench_ctx *c)
{
	unsigned long i;

	if (c->vaddr)
		vunmap(c->vaddr);
	if (c->tpages) {
		for (i = 0; i < c->ntables; i++)
			if (c->tpages[i])
				__free_page(c->tpages[i]);
		kvfree(c->tpages);
	}
	if (c->scratch)
		__free_page(c->scratch);
	kvfree(c->pages);
	if (c->hat)
		hat_free(c->hat);
	if (c->other)
		hat_free(c->other);
}

unsigned int bench_iters(unsigned int iters, unsigned long work,
			 unsigned long n)
{
	return iters ?: max_t(unsigned long, 1, work / n);
}

/* -- the table of cases ------------------------------------------------- */

struct bench_case {
	const char	*name;
	bench_case_fn	*run;
};

static const struct bench_case bench_cases[] = {
	{ "map", case_map },
	{ "floor", case_floor },
	{ "ptalloc", case_ptalloc },
	{ "probe", case_probe },
	{ "shootdown", case_shootdown },
	{ "threads", case_threads },
	{ "steal", case_steal },
	{ "memory", case_memory },
	{ "large", case_large },
	{ "pin", case_pin },
	{ "hatsize", case_hatsize },
};

/**
 * bench_run() - run case @name and leave its lines in bench_out
 * @name:	the case
 * @n:		its N (pages per op; tables for steal)
 * @reps:	repeats, 1..BENCH_MAX_REPS
 * @iters:	operations per repeat and side; 0: the case's default
 *
 * Context: process context, bench_mutex held; sleeps. Every hat, page and
 * thread the case made is gone when it returns.
 * Return: 0; -EINVAL for an unknown case; else the case's errno (-ENOMEM
 * when its set-up could not allocate, -EIO when a probe found no page,
 * -EAGAIN when a reap freed nothing), also printed as an "error" line.
 */
static int bench_run(const char *name, unsigned long n, unsigned int reps,
		     unsigned int iters)
{
	struct bench_ctx *c;
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(bench_cases); i++)
		if (!strcmp(bench_cases[i].name, name))
			break;
	if (i == ARRAY_SIZE(bench_cases))
		return -EINVAL;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	if (current->mm && mmget_not_zero(current->mm))
		c->mm = current->mm;
	err = bench_cases[i].run(c, n, reps, iters);
	bench_teardown(c);
	if (c->mm)
		mmput(c->mm);
	kfree(c);
	if (err)
		bench_printf("error op=%s err=%d\n", name, err);
	return err;
}

/*
 * Write "CASE N REPS [ITERS]": run it now. Returns @len, -EINVAL for a
 * malformed spec or unknown case, -EFAULT, -ENOMEM, or the case's errno.
 */
static ssize_t bench_write(struct file *f, const char __user *ubuf,
			   size_t len, loff_t *ppos)
{
	unsigned int reps = 0, iters = 0;
	unsigned long n = 0;
	char buf[64], name[16];
	int err;

	err = htable_copy_line(buf, sizeof(buf), ubuf, len);
	if (err)
		return err;
	if (sscanf(buf, "%15s %lu %u %u", name, &n, &reps, &iters) < 3 ||
	    !n || n > BENCH_MAX_NPAGES || !reps || reps > BENCH_MAX_REPS ||
	    iters > 1000000) {
		htable_bad_input("bench: bad spec (want CASE N REPS [ITERS])");
		return -EINVAL;
	}
	mutex_lock(&bench_mutex);
	if (!bench_out.buf)
		bench_out.buf = kvmalloc(BENCH_OUT_SIZE, GFP_KERNEL);
	if (!bench_out.buf) {
		mutex_unlock(&bench_mutex);
		return -ENOMEM;
	}
	bench_out.len = 0;
	bench_out.buf[0] = '\0';
	err = bench_run(name, n, reps, iters);
	mutex_unlock(&bench_mutex);
	if (err == -EINVAL)
		htable_bad_input("bench: no case %s", name);
	return err ?: len;
}

static ssize_t bench_read(struct file *f, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&bench_mutex);
	ret = simple_read_from_buffer(ubuf, len, ppos, bench_out.buf ?: "",
				      bench_out.buf ? bench_out.len : 0);
	mutex_unlock(&bench_mutex);
	return ret;
}

/*
 * debugfs "bench" (created by debugfs.c). The result buffer is allocated
 * at the first write and kept until htable_bench_exit().
 */
const struct file_operations htable_bench_fops = {
	.owner	= THIS_MODULE,
	.read	= bench_read,
	.write	= bench_write,
	.llseek	= default_llseek,
};

/**
 * htable_bench_exit() - free the result buffer; debugfs "bench" is gone
 */
void htable_bench_exit(void)
{
	kvfree(bench_out.buf);
	bench_out.buf = NULL;
}

