// SPDX-License-Identifier: GPL-2.0
/*
 * Windows: a hat's hierarchy live in CR3 on one pinned CPU, walked by the
 * MMU. Documentation/cr3.rst explains the design and each hazard.
 *
 * The window runs in a kthread of its own, bound to the CPU, never in a
 * shared workqueue's worker: a window may run for seconds, and the work
 * queued behind it on that CPU (lru_add_drain_all(), which pinning and
 * mlock need) would wait that long. The thread borrows the caller's mm with
 * kthread_use_mm(): the kernel's TLB code then sees a CPU running a real
 * mm, not a lazy one, and leaves CR3 alone. CR3 itself holds the hat's top
 * table, whose upper half is the kernel's. While it does, the thread's mm
 * is hidden (current->mm is NULL), so that an NMI that reads user memory
 * (perf's call chains, BPF) finds nmi_uaccess_okay() false instead of
 * reading through the hat's lower half.
 *
 * The thread joins the hat's CPU set only with preemption off on the CPU
 * it was made for, and checks that it is still there before each chunk:
 * a bound kthread whose CPU goes offline is moved to another one, and a
 * window must never run where hat_cpus does not say it does.
 *
 * Preemption is off whenever the hat is in CR3: a switch to another thread
 * of the borrowed mm would skip the CR3 load and run user code, and PTI's
 * return to user mode, on the hat's tables. Interrupts are off only in
 * verify chunks of HTABLE_CHUNK_PAGES pages.
 *
 * Accesses through the hat use __get_user()/__put_user() under
 * pagefault_disable(): they set EFLAGS.AC (SMAP), are fixed up through the
 * exception table when they fault, and are not instrumented by KASAN.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/sched/isolation.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/uaccess.h>

#include <htable/check.h>
#include <htable/claim.h>
#include <htable/cr3.h>
#include <htable/fail.h>
#include <htable/hat.h>
#include <htable/module.h>
#include <htable/pages.h>
#include <htable/stats.h>
#include <htable/tlb.h>
#include <htable/trace.h>
#include <htable/x86pte.h>

/* Pages per interrupts-off verify chunk; cr3.rst states the time bound. */
#define HTABLE_CHUNK_PAGES	64
/* A resident window logs a sample at least this often. */
#define HTABLE_SAMPLE_NS	NSEC_PER_MSEC
/* The most window_budget_ms may be: a verify window holds its CPU that long. */
#define HTABLE_WINDOW_BUDGET_MAX_MS	300000
/* Slack the watchdog gives a resident window beyond its duration. */
#define HTABLE_RESIDENT_SLACK_MS 1000

/*
 * Longest a verify window may run before the watchdog ends it: the module
 * parameter window_budget_ms, 1..HTABLE_WINDOW_BUDGET_MAX_MS.
 */
unsigned int htable_window_budget_ms = 60000;

static int window_budget_set(const char *val, const struct kernel_param *kp)
{
	unsigned int ms;
	int err = htable_parse_uint(val, 1, HTABLE_WINDOW_BUDGET_MAX_MS, &ms);

	if (!err)
		WRITE_ONCE(htable_window_budget_ms, ms);
	return err;
}

HTABLE_UINT_PARAM_OPS(window_budget_ops, window_budget_set);
module_param_cb(window_budget_ms, &window_budget_ops, &htable_window_budget_ms, 0644);
MODULE_PARM_DESC(window_budget_ms,
		 "longest a verify window may run before its watchdog ends it, 1..300000 (default 60000)");

/*
 * Debug knob: run windows without borrowing the caller's mm, so the CPU
 * stays lazy and a flush of that mm can clobber CR3 (cr3.rst). Only the
 * clobber test sets it.
 */
bool htable_window_lazy;

/* The words of each page a verify window checks. */
static const unsigned int verify_words[] = { 0, 257, 511 };

/* The value word @word of page @pfn holds for @seed (uapi.rst, cr3.rst). */
static u64 htable_pattern(u64 seed, unsigned long pfn, unsigned int word)
{
	return seed ^ ((u64)pfn << 16) ^ (word * 0x9E3779B97F4A7C15ULL);
}

struct chunk_page {
	unsigned long	pfn;		/* the hat's page there; 0: none */
	bool		writable;	/* its entry allows writes */
};

/**
 * struct htable_window - one window, shared by the caller and its thread
 * @hat:	the hat
 * @mm:		the caller's mm, borrowed (a reference held)
 * @run:	the request; the thread fills its (out) fields
 * @live:	the CPU's stay in the hat
 * @cpu:	the CPU the window must run on
 * @err:	0, or why the window could not run (-ENXIO: not on @cpu)
 * @lazy:	htable_window_lazy: no mm borrowed
 * @expired:	the watchdog fired, or the caller was killed
 * @cut_short:	...and a loop ended early
 * @done:	completed by the thread as it ends
 * @watchdog:	ends a window that runs past its budget
 * @chunk:	verify: the pages of the chunk about to be touched
 */
struct htable_window {
	struct hat		*hat;
	struct mm_struct	*mm;
	struct window_args	*run;
	struct htable_live	live;
	unsigned int		cpu;
	int			err;
	bool			lazy;
	bool			expired;
	bool			cut_short;
	struct completion	done;
	struct hrtimer		watchdog;
	struct chunk_page	chunk[HTABLE_CHUNK_PAGES];
};

/*
 * The one protocol of a CPU's stay in a hat, for the windows and the
 * benchmark: join (kernel half, then hat_cpus), enter (load CR3), leave
 * (restore it), part (leave hat_cpus). Documentation/cr3.rst.
 */

/**
 * htable_live_join() - make this CPU one where @l->hat may be live
 * @l:		the stay: its hat, mm and table_pa set
 *
 * Copies the kernel half into the hat's top table, then adds the CPU to
 * hat_cpus, before any load: from then on every shootdown of the hat
 * reaches it. Preemption is off, on the CPU the stay is for.
 */
void htable_live_join(struct htable_live *l)
{
	struct hat *hat = l->hat;

	l->cpu = smp_processor_id();
	x86pte_copy_raw(hat->hat_htable, HTABLE_PTES_PER_TABLE / 2,
			arch_kernel_top_table() + HTABLE_PTES_PER_TABLE / 2,
			HTABLE_PTES_PER_TABLE / 2);
	spin_lock(&hat->hat_switch_lock);
	list_add(&l->node, &hat->hat_stays);
	cpumask_set_cpu(l->cpu, hat->hat_cpus);
	spin_unlock(&hat->hat_switch_lock);
}

/**
 * htable_live_part() - end the stay: its CPU leaves @l->hat's CPU set,
 *			unless another stay of the hat is on it
 * @l:		the stay, left already (the caller may have moved since, if
 *		its CPU went offline: the CPU joined is the one that parts)
 *
 * A verify window lets other threads run on its CPU between chunks, so a
 * second window of the hat can join and part there meanwhile; the CPU
 * must stay in hat_cpus for the first one's later chunks.
 */
void htable_live_part(struct htable_live *l)
{
	struct hat *hat = l->hat;
	struct htable_live *o;
	bool alone = true;

	spin_lock(&hat->hat_switch_lock);
	list_del(&l->node);
	list_for_each_entry(o, &hat->hat_stays, node)
		alone &= o->cpu != l->cpu;
	if (alone)
		cpumask_clear_cpu(l->cpu, hat->hat_cpus);
	spin_unlock(&hat->hat_switch_lock);
}

/*
 * While CR3 holds the hat, current->mm is NULL: the borrowed mm stays
 * loaded (cpu_tlbstate.loaded_mm), so nmi_uaccess_okay() says no, and an
 * NMI never reads user memory through the hat. A lazy stay borrows no mm.
 */
static void htable_live_hide_mm(struct htable_live *l, struct mm_struct *mm)
{
	if (!l->mm)
		return;
	task_lock(current);
	current->mm = mm;
	task_unlock(current);
}

/**
 * htable_live_enter() - load @l->hat into CR3
 * @l:		the stay, joined
 * @irqs_off:	interrupts stay off until htable_live_leave(): the
 *		kernel's CR3 may then come back with its PCID's
 *		translations kept (htable_cr3_values())
 *
 * Interrupts are off; preemption is off from join to part.
 */
void htable_live_enter(struct htable_live *l, bool irqs_off)
{
	lockdep_assert_irqs_disabled();
	htable_live_hide_mm(l, NULL);
	l->v = htable_cr3_values(l->table_pa, arch_read_cr3(), arch_pcide(), irqs_off);
	arch_write_cr3(l->v.load);
}

/**
 * htable_live_reload() - load the hat again if the kernel replaced CR3
 * @l:		the stay, entered (interrupts on between calls)
 *
 * The kernel's choice becomes what the stay restores.
 * Return: true when CR3 had been replaced (a clobber).
 */
bool htable_live_reload(struct htable_live *l)
{
	unsigned long flags;

	if (arch_cr3_table() == l->table_pa)
		return false;
	local_irq_save(flags);
	l->v = htable_cr3_values(l->table_pa, arch_read_cr3(), arch_pcide(), false);
	arch_write_cr3(l->v.load);
	local_irq_restore(flags);
	return true;
}

/**
 * htable_live_leave() - restore the kernel's CR3
 * @l:		the stay, entered; interrupts are off
 *
 * Return: false when the kernel had replaced CR3 meanwhile (left as is).
 */
bool htable_live_leave(struct htable_live *l)
{
	bool ours = arch_cr3_table() == l->table_pa;

	lockdep_assert_irqs_disabled();
	if (ours)
		arch_write_cr3(l->v.restore);
	htable_live_hide_mm(l, l->mm);
	return ours;
}

static enum hrtimer_restart htable_watchdog_fire(struct hrtimer *t)
{
	struct htable_window *w = container_of(t, struct htable_window, watchdog);

	WRITE_ONCE(w->expired, true);
	return HRTIMER_NORESTART;
}

/*
 * Record what the chunk at @va needs: each page's pfn and writability,
 * from its entry (a page in a table shared from another hat included). The
 * window then checks that the MMU, through the hat in CR3, reaches the
 * pages the hat's entries name, with their data: translation, TLB and the
 * CR3 protocol. Whether an entry names the page it should is CHECK's (the
 * owner tag) and the tests' (their data tags).
 */
static void window_prepare_chunk(struct htable_window *w, unsigned long va,
				 unsigned int n)
{
	struct hat_xlat x;
	unsigned int i;

	for (i = 0; i < n; i++, va += PAGE_SIZE) {
		hat_probe(w->hat, va, &x);
		w->chunk[i].pfn = x.present ? PTE2PFN(x.pte) +
				  ((va & LEVEL_OFFSET(x.level)) >> PAGE_SHIFT) : 0;
		w->chunk[i].writable = x.present && (x.pte & PT_WRITABLE);
	}
}

/* Touch one page through the hat; interrupts are off, CR3 is the hat's. */
static void window_touch(struct htable_window *w, unsigned long va,
			 const struct chunk_page *cp)
{
	struct window_args *r = w->run;
	bool ok = true, faulted = false;
	unsigned int i;
	u64 v;

	for (i = 0; i < ARRAY_SIZE(verify_words); i++) {
		u64 __user *p = (u64 __user *)(va + verify_words[i] * sizeof(u64));

		if (__get_user(v, p)) {
			faulted = true;
			break;
		}
		/*
		 * With WRITE, a page aliased earlier in the range already holds
		 * the second pattern. Either still names this pfn, so a wrong
		 * translation is caught all the same.
		 */
		if (!cp->pfn ||
		    (v != htable_pattern(r->seed, cp->pfn, verify_words[i]) &&
		     (!r->write ||
		      v != htable_pattern(~r->seed, cp->pfn, verify_words[i]))))
			ok = false;
	}
	if (faulted) {
		if (!r->faults++)
			r->first_fault_va = va;
		return;
	}
	if (!ok) {
		if (!r->mismatches++)
			r->first_mismatch_va = va;
		return;
	}
	r->verified++;
	if (!r->write || !cp->writable)
		return;
	for (i = 0; i < ARRAY_SIZE(verify_words); i++) {
		u64 __user *p = (u64 __user *)(va + verify_words[i] * sizeof(u64));

		if (__put_user(htable_pattern(~r->seed, cp->pfn, verify_words[i]), p)) {
			if (!r->faults++)
				r->first_fault_va = va;
			return;
		}
	}
}

static void window_verify(struct htable_window *w)
{
	struct window_args *r = w->run;
	unsigned long va = r->va, end = r->va + (r->npages << PAGE_SHIFT);
	unsigned long flags;
	unsigned int n, i;

	while (va < end && !READ_ONCE(w->expired)) {
		n = min_t(unsigned long, HTABLE_CHUNK_PAGES, (end - va) >> PAGE_SHIFT);
		window_prepare_chunk(w, va, n);

		preempt_disable();
		if (smp_processor_id() != w->cpu) {
			/* The CPU went offline between chunks: stop here. */
			preempt_enable();
			w->err = -ENXIO;
			break;
		}
		local_irq_save(flags);
		htable_live_enter(&w->live, true);
		pagefault_disable();
		for (i = 0; i < n; i++)
			window_touch(w, va + ((unsigned long)i << PAGE_SHIFT), &w->chunk[i]);
		pagefault_enable();
		htable_live_leave(&w->live);
		local_irq_restore(flags);
		preempt_enable();

		va += (unsigned long)n << PAGE_SHIFT;
		cond_resched();
	}
	w->cut_short = va < end;
}

/*
 * Stay live with interrupts on, reading the first word of the page. A read
 * is valid only if CR3 held the hat before and after it and the kernel has
 * not replaced CR3 at any time in the window: a CR3 load drops every
 * translation, stale ones included, so after one no read can show that a
 * shootdown happened. With the borrowed mm no clobber is expected.
 */
static void window_resident(struct htable_window *w)
{
	struct window_args *r = w->run;
	u64 __user *p = (u64 __user *)r->va;
	u64 end = ktime_get_ns() + (u64)r->duration_ms * NSEC_PER_MSEC;
	u64 last_t = 0, last_v = 0, t, val;
	u32 last_f = ~0U, f;
	int err;

	/* Preemption is off already: the thread checked its CPU with it off. */
	local_irq_disable();
	htable_live_enter(&w->live, false);
	local_irq_enable();

	while ((t = ktime_get_ns()) < end) {
		if (READ_ONCE(w->expired)) {
			w->cut_short = true;
			break;
		}
		if (htable_live_reload(&w->live)) {
			/* The kernel replaced CR3: its choice is restored later. */
			r->clobbers++;
			continue;
		}
		pagefault_disable();
		err = __get_user(val, p);
		pagefault_enable();
		f = err ? WINDOW_SAMPLE_FAULT : 0;
		if (err) {
			val = 0;
			if (!r->faults++)
				r->first_fault_va = r->va;
		}
		if (arch_cr3_table() == w->live.table_pa && !r->clobbers) {
			f |= WINDOW_SAMPLE_VALID;
			r->valid_reads++;
		}
		r->reads++;
		if (r->nsamples < r->max_samples &&
		    (val != last_v || f != last_f || t - last_t >= HTABLE_SAMPLE_NS)) {
			struct window_sample *s = &r->samples[r->nsamples++];

			s->t_ns = t;
			s->value = val;
			s->flags = f;
			last_t = t;
			last_v = val;
			last_f = f;
		}
		cpu_relax();
	}

	local_irq_disable();
	if (!htable_live_leave(&w->live))
		r->clobbers++;
	local_irq_enable();
}

/* Runs on the window's CPU, in a kthread bound to it (htable_window_run()). */
static int window_thread(void *arg)
{
	struct htable_window *w = arg;
	struct window_args *r = w->run;
	u64 budget_ms, start;

	if (!w->lazy)
		kthread_use_mm(w->mm);
	preempt_disable();
	if (smp_processor_id() != w->cpu) {
		/* Its CPU went offline before it ran: it was moved. */
		preempt_enable();
		w->err = -ENXIO;
		goto out;
	}
	htable_live_join(&w->live);

	budget_ms = r->mode == WINDOW_RESIDENT ?
		    r->duration_ms + HTABLE_RESIDENT_SLACK_MS :
		    READ_ONCE(htable_window_budget_ms);
	hrtimer_init(&w->watchdog, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
	w->watchdog.function = htable_watchdog_fire;
	hrtimer_start(&w->watchdog, ms_to_ktime(budget_ms), HRTIMER_MODE_REL_PINNED);

	trace_htable_window_start(w->hat, w->cpu, r);
	start = ktime_get_ns();
	if (r->mode == WINDOW_RESIDENT) {
		/* Preemption stays off throughout: the CPU can't go meanwhile. */
		window_resident(w);
		preempt_enable();
	} else {
		preempt_enable();
		window_verify(w);
	}
	r->elapsed_ns = ktime_get_ns() - start;

	hrtimer_cancel(&w->watchdog);
	if (w->cut_short) {
		r->watchdog = true;
		HATSTAT_INC(hs_watchdog_ends);
	}
	trace_htable_window_end(w->hat, w->cpu, r, w->err, w->cut_short);
	htable_live_part(&w->live);
out:
	if (!w->lazy)
		kthread_unuse_mm(w->mm);
	/* Never returns into this module's text, which may go after this. */
	kthread_complete_and_exit(&w->done, 0);
}

/**
 * struct window_pattern_op - writing the verify pattern, as a walk
 * @w:		the walk (present leaves)
 * @r:		the request
 * @eaddr:	the range's end
 */
struct window_pattern_op {
	struct htable_walk	w;
	const struct window_args *r;
	unsigned long		eaddr;
};

/* The visitor: the pattern into each page of the range the hat maps. */
static int window_pattern_visit(struct htable_walk *w, struct htable *ht,
				unsigned int e, unsigned int n, unsigned long va)
{
	struct window_pattern_op *op = container_of(w, struct window_pattern_op, w);
	unsigned int level = ht->ht_level, i, k;
	unsigned long pva, pfn;
	x86pte_t pte;
	u64 *words;

	for (i = 0; i < n; i++, va = NEXT_ENTRY_VA(va, level)) {
		pte = x86pte_get(ht, e + i);
		if (!PTE_ISPAGE(pte, level))
			continue;
		for (pva = max(va & LEVEL_MASK(level), op->r->va);
		     pva < min(NEXT_ENTRY_VA(va, level), op->eaddr); pva += PAGE_SIZE) {
			pfn = PTE2PFN(pte) + ((pva & LEVEL_OFFSET(level)) >> PAGE_SHIFT);
			words = page_address(pfn_to_page(pfn));
			for (k = 0; k < ARRAY_SIZE(verify_words); k++)
				words[verify_words[k]] =
					htable_pattern(op->r->seed, pfn, verify_words[k]);
		}
		/* Written pinned memory goes back dirty, as after an RW. */
		if (pte & PT_PINNED)
			hat_pin_dirty(w->hat, PTE2PFN(pte));
		if (!(i % HTABLE_CHUNK_PAGES))
			cond_resched();
	}
	return 0;
}

/* Write the verify pattern into every page of the range the hat maps. */
static void window_write_patterns(struct hat *hat, const struct window_args *r)
{
	struct htable_batch b;
	/* Only the hat's own pages: a shared table's are the owner's to write. */
	struct window_pattern_op op = {
		.w = { .hat = hat, .b = &b, .own_only = true,
		       .visit = window_pattern_visit },
		.r = r, .eaddr = r->va + (r->npages << PAGE_SHIFT),
	};

	htable_batch_init(&b, hat);
	htable_walk_range(&op.w, r->va, op.eaddr);
	htable_batch_finish(&b);
}

/*
 * Start the window's thread on @w->cpu and wait for it. The CPU is checked
 * under cpus_read_lock(), which keeps it online until the thread is bound
 * and woken; after that the thread checks its CPU itself. Waiting can be
 * ended by a fatal signal: the window is then told to stop, and is waited
 * for (a chunk, or one resident sample) before the caller goes.
 */
static int window_start(struct htable_window *w)
{
	struct task_struct *t;
	int err = 0;

	cpus_read_lock();
	if (!cpu_online(w->cpu)) {
		err = -ENXIO;
	} else if (cpu_is_isolated(w->cpu)) {
		/* isolcpus= or nohz_full=: the CPU belongs to other work. */
		err = -EBUSY;
	} else {
		t = kthread_create_on_cpu(window_thread, w, w->cpu, "htable_win/%u");
		if (IS_ERR(t))
			err = PTR_ERR(t);
		else
			wake_up_process(t);
	}
	cpus_read_unlock();
	if (err)
		return err;
	if (wait_for_completion_killable(&w->done)) {
		WRITE_ONCE(w->expired, true);
		wait_for_completion(&w->done);
		return -EINTR;
	}
	return w->err;
}

/*
 * A window of request @r on @hat, not started: it holds the caller's mm
 * (mmget), which the window's CPU borrows unless the window is lazy.
 * Return: the window, or NULL (the caller answers -ENOMEM).
 */
static struct htable_window *window_alloc(struct hat *hat, struct window_args *r)
{
	struct htable_window *w;

	w = htable_fail_kzalloc(HTABLE_FAIL_WINDOW, sizeof(*w), GFP_KERNEL);
	if (!w)
		return NULL;
	w->hat = hat;
	w->run = r;
	w->mm = current->mm;
	w->cpu = r->cpu;
	w->lazy = READ_ONCE(htable_window_lazy);
	w->live.hat = hat;
	w->live.mm = w->lazy ? NULL : w->mm;
	w->live.table_pa = arch_page_to_phys(hat->hat_htable->ht_page);
	init_completion(&w->done);
	mmget(w->mm);
	return w;
}

/* Free a window window_alloc() made, its thread gone; drop its mm. */
static void window_free(struct htable_window *w)
{
	mmput(w->mm);
	kfree(w);
}

/**
 * htable_window_run() - run a window of @r->mode on CPU @r->cpu
 * @hat:	the hat
 * @r:		the validated request; its (out) fields are filled in
 *
 * Context: process context of a user task (its mm is borrowed); sleeps,
 * killably.
 * Return: 0; -EUCLEAN when the checker finds the hat unsound (a window on
 * bad tables could take a reserved-bit fault, which no fixup can catch);
 * -ENXIO when the CPU is offline, or went offline before the window ended
 * (the window never runs anywhere else); -EBUSY when the CPU is isolated
 * (isolcpus=, nohz_full=); -EINTR when a fatal signal ended the wait (the
 * window was stopped first); -ENOMEM.
 */
int htable_window_run(struct hat *hat, struct window_args *r)
{
	struct htable_window *w;
	struct check_report c;
	struct hat_range all = HAT_RANGE_READS(0, ULONG_MAX);
	int err;

	err = htable_check(hat, &c);
	if (err)
		return err;
	if (c.errors) {
		htable_bad_input("window refused: CHECK found %lu errors (first %u at %#lx)",
				 c.errors, c.first_error, c.first_va);
		return -EUCLEAN;
	}
	w = window_alloc(hat, r);
	if (!w)
		return -ENOMEM;

	/* Verify reads pages it owns: keep MAP and UNMAP out meanwhile. */
	if (r->mode == WINDOW_VERIFY) {
		if (down_read_killable(&hat->hat_seg_lock)) {
			err = -EINTR;
			goto out;
		}
		if (hat_range_claim(hat, &all)) {
			up_read(&hat->hat_seg_lock);
			err = -EINTR;
			goto out;
		}
		window_write_patterns(hat, r);
	}
	err = window_start(w);
	if (r->mode == WINDOW_VERIFY) {
		hat_range_release(hat, &all);
		up_read(&hat->hat_seg_lock);
	}

out:
	window_free(w);
	if (!err) {
		HATSTAT_INC(hs_windows);
		HATSTAT_ADD(hs_pages_verified, r->verified);
		HATSTAT_ADD(hs_window_faults, r->faults);
		HATSTAT_ADD(hs_cr3_clobbers, r->clobbers);
	}
	return err;
}
