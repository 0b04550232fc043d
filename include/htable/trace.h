/* SPDX-License-Identifier: GPL-2.0 */
/*
 * htable's tracepoints, system "htable" in tracefs (events/htable/) and in
 * perf (htable:*). Documentation/tracing.rst lists each event, its fields
 * and how the events add up to the debugfs counters. Hats are named by
 * their id (debugfs "hats"), never by a kernel pointer, and no event fires
 * once per entry: each marks one table, one steal, one shootdown, one
 * window or one call. module/trace.c creates them.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM htable

/* What the module passes to the events, defined once. */
#ifndef _HTABLE_TRACE_TYPES
#define _HTABLE_TRACE_TYPES

#include <htable/cr3.h>
#include <htable/htable.h>

/* A window's request and result (cr3.h; the host build has none). */
struct window_args;

/* Where htable_alloc() found a table. */
enum htable_trace_src {
	HTABLE_SRC_CACHE,	/* the hat's cache of free tables */
	HTABLE_SRC_SLAB,	/* a new structure from the slab, and a page */
	HTABLE_SRC_RESERVE,	/* a structure from the reserve, and a page */
	HTABLE_SRC_STEAL,	/* htable_steal() */
};

/* Where htable_free() put a table. */
enum htable_trace_dest {
	HTABLE_TO_CACHE,	/* its hat's cache, page and all */
	HTABLE_TO_RESERVE,	/* page to the system, structure to the reserve */
	HTABLE_TO_SYSTEM,	/* page and structure to the system */
};

/* Why a window ended: it ran its course, was cut short, or lost its CPU. */
#define HTABLE_WEND_DONE	0
#define HTABLE_WEND_WATCHDOG	1	/* the watchdog, or a fatal signal */
#define HTABLE_WEND_OFFLINE	2

/* A stolen table has no hat any more: id 0. */
static inline unsigned int htable_trace_hat_id(const struct hat *hat)
{
	return hat ? hat->hat_id : 0;
}

#endif /* _HTABLE_TRACE_TYPES */

#if !defined(_HTABLE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _HTABLE_TRACE_H

#ifdef _HTABLE_SHIM_H
/*
 * The host build of the core (selftests/host/shim, Documentation/
 * testing.rst) has no tracing: each event is an empty inline function.
 */
#define TP_PROTO(args...)	args
#define TRACE_DEFINE_ENUM(x)
#define TRACE_EVENT(name, proto, ...)					\
	static inline void trace_##name(proto) { }
#define TRACE_EVENT_CONDITION(name, proto, ...)				\
	static inline void trace_##name(proto) { }
#define DECLARE_EVENT_CLASS(...)
#define DEFINE_EVENT(tmpl, name, proto, ...)				\
	static inline void trace_##name(proto) { }
#define DEFINE_EVENT_PRINT(tmpl, name, proto, ...)			\
	static inline void trace_##name(proto) { }
#else
#include <linux/tracepoint.h>
#endif

TRACE_DEFINE_ENUM(HTABLE_SRC_CACHE);
TRACE_DEFINE_ENUM(HTABLE_SRC_SLAB);
TRACE_DEFINE_ENUM(HTABLE_SRC_RESERVE);
TRACE_DEFINE_ENUM(HTABLE_SRC_STEAL);
TRACE_DEFINE_ENUM(HTABLE_TO_CACHE);
TRACE_DEFINE_ENUM(HTABLE_TO_RESERVE);
TRACE_DEFINE_ENUM(HTABLE_TO_SYSTEM);

/* A table got by htable_alloc(), and where it came from. */
TRACE_EVENT(htable_table_alloc,
	    TP_PROTO(const struct htable *ht, int src),
	    TP_ARGS(ht, src),
	    TP_STRUCT__entry(__field(unsigned int, hat)
			     __field(unsigned long, va)
			     __field(u8, level)
			     __field(u8, src)),
	    TP_fast_assign(__entry->hat = htable_trace_hat_id(ht->ht_hat);
			   __entry->va = ht->ht_vaddr;
			   __entry->level = ht->ht_level;
			   __entry->src = src;),
	    TP_printk("hat=%u va=%#lx level=%u src=%s",
		      __entry->hat, __entry->va, __entry->level,
		      __print_symbolic(__entry->src,
				       { HTABLE_SRC_CACHE, "cache" },
				       { HTABLE_SRC_SLAB, "slab" },
				       { HTABLE_SRC_RESERVE, "reserve" },
				       { HTABLE_SRC_STEAL, "steal" }))
);

/* A table given back by htable_free(), and where it went. */
TRACE_EVENT(htable_table_free,
	    TP_PROTO(const struct htable *ht, int dest),
	    TP_ARGS(ht, dest),
	    TP_STRUCT__entry(__field(unsigned int, hat)
			     __field(unsigned long, va)
			     __field(u8, level)
			     __field(u8, dest)),
	    TP_fast_assign(__entry->hat = htable_trace_hat_id(ht->ht_hat);
			   __entry->va = ht->ht_vaddr;
			   __entry->level = ht->ht_level;
			   __entry->dest = dest;),
	    TP_printk("hat=%u va=%#lx level=%u dest=%s",
		      __entry->hat, __entry->va, __entry->level,
		      __print_symbolic(__entry->dest,
				       { HTABLE_TO_CACHE, "cache" },
				       { HTABLE_TO_RESERVE, "reserve" },
				       { HTABLE_TO_SYSTEM, "system" }))
);

/* htable_steal() begins: for an allocation (reap=0) or for a reap. */
TRACE_EVENT(htable_steal_enter,
	    TP_PROTO(unsigned int cnt, bool reap),
	    TP_ARGS(cnt, reap),
	    TP_STRUCT__entry(__field(unsigned int, cnt)
			     __field(bool, reap)),
	    TP_fast_assign(__entry->cnt = cnt;
			   __entry->reap = reap;),
	    TP_printk("cnt=%u reap=%d", __entry->cnt, __entry->reap)
);

/* htable_steal() returns @stolen tables of the @cnt asked for. */
TRACE_EVENT(htable_steal_exit,
	    TP_PROTO(unsigned int cnt, bool reap, unsigned int stolen),
	    TP_ARGS(cnt, reap, stolen),
	    TP_STRUCT__entry(__field(unsigned int, cnt)
			     __field(unsigned int, stolen)
			     __field(bool, reap)),
	    TP_fast_assign(__entry->cnt = cnt;
			   __entry->stolen = stolen;
			   __entry->reap = reap;),
	    TP_printk("cnt=%u reap=%d stolen=%u", __entry->cnt, __entry->reap,
		      __entry->stolen)
);

/* Pass @pass of a steal took a leaf table in use, with @valid entries. */
TRACE_EVENT(htable_steal_table,
	    TP_PROTO(unsigned int pass, const struct hat *hat,
		     const struct htable *ht, unsigned int valid),
	    TP_ARGS(pass, hat, ht, valid),
	    TP_STRUCT__entry(__field(unsigned int, pass)
			     __field(unsigned int, hat)
			     __field(unsigned long, va)
			     __field(unsigned int, valid)
			     __field(u8, level)),
	    TP_fast_assign(__entry->pass = pass;
			   __entry->hat = hat->hat_id;
			   __entry->va = ht->ht_vaddr;
			   __entry->valid = valid;
			   __entry->level = ht->ht_level;),
	    TP_printk("pass=%u hat=%u level=%u va=%#lx valid=%u",
		      __entry->pass, __entry->hat, __entry->level, __entry->va,
		      __entry->valid)
);

/* Pass @pass of a steal took @n free tables from a hat's cache. */
TRACE_EVENT_CONDITION(htable_steal_cached,
		      TP_PROTO(unsigned int pass, const struct hat *hat, unsigned int n),
		      TP_ARGS(pass, hat, n),
		      TP_CONDITION(n),
		      TP_STRUCT__entry(__field(unsigned int, pass)
				       __field(unsigned int, hat)
				       __field(unsigned int, n)),
		      TP_fast_assign(__entry->pass = pass;
				     __entry->hat = hat->hat_id;
				     __entry->n = n;),
		      TP_printk("pass=%u hat=%u n=%u", __entry->pass, __entry->hat,
				__entry->n)
);

/* htable_reap(): the caller's bound, the count asked of steal, tables freed. */
TRACE_EVENT(htable_reap,
	    TP_PROTO(unsigned long nr, unsigned long asked, unsigned long freed),
	    TP_ARGS(nr, asked, freed),
	    TP_STRUCT__entry(__field(unsigned long, nr)
			     __field(unsigned long, asked)
			     __field(unsigned long, freed)),
	    TP_fast_assign(__entry->nr = nr;
			   __entry->asked = asked;
			   __entry->freed = freed;),
	    TP_printk("nr=%lu asked=%lu freed=%lu", __entry->nr, __entry->asked,
		      __entry->freed)
);

/*
 * One IPI round of htable_batch_flush(): to @cpus CPUs (every online one
 * when @all: a hat whose tables are shared), with @nva INVLPGs each, or a
 * full flush.
 */
TRACE_EVENT(htable_shootdown,
	    TP_PROTO(const struct hat *hat, unsigned int cpus, unsigned int nva,
		     bool flush_all, bool all),
	    TP_ARGS(hat, cpus, nva, flush_all, all),
	    TP_STRUCT__entry(__field(unsigned int, hat)
			     __field(unsigned int, cpus)
			     __field(unsigned int, invals)
			     __field(bool, flush_all)
			     __field(bool, all)),
	    TP_fast_assign(__entry->hat = hat->hat_id;
			   __entry->cpus = cpus;
			   __entry->invals = flush_all ? 0 : nva;
			   __entry->flush_all = flush_all;
			   __entry->all = all;),
	    TP_printk("hat=%u cpus=%u invals=%u flush_all=%d all_cpus=%d",
		      __entry->hat, __entry->cpus, __entry->invals,
		      __entry->flush_all, __entry->all)
);

/* A window's thread joined the hat's CPU set and is about to load CR3. */
TRACE_EVENT(htable_window_start,
	    TP_PROTO(const struct hat *hat, unsigned int cpu,
		     const struct window_args *r),
	    TP_ARGS(hat, cpu, r),
	    TP_STRUCT__entry(__field(unsigned int, hat)
			     __field(unsigned int, cpu)
			     __field(u64, va)
			     __field(u64, npages)
			     __field(u32, duration_ms)
			     __field(u32, mode)),
	    TP_fast_assign(__entry->hat = hat->hat_id;
			   __entry->cpu = cpu;
			   __entry->va = r->va;
			   __entry->npages = r->npages;
			   __entry->duration_ms = r->duration_ms;
			   __entry->mode = r->mode;),
	    TP_printk("hat=%u cpu=%u mode=%s va=%#llx npages=%llu duration_ms=%u",
		      __entry->hat, __entry->cpu,
		      __print_symbolic(__entry->mode,
				       { WINDOW_VERIFY, "verify" },
				       { WINDOW_RESIDENT, "resident" }),
		      __entry->va, __entry->npages, __entry->duration_ms)
);

/*
 * The window restored CR3 and is about to leave the CPU set. reads: pages
 * touched (verify) or words read (resident).
 */
TRACE_EVENT(htable_window_end,
	    TP_PROTO(const struct hat *hat, unsigned int cpu,
		     const struct window_args *r, int err, bool cut_short),
	    TP_ARGS(hat, cpu, r, err, cut_short),
	    TP_STRUCT__entry(__field(unsigned int, hat)
			     __field(unsigned int, cpu)
			     __field(u64, reads)
			     __field(u64, valid_reads)
			     __field(u64, verified)
			     __field(u64, faults)
			     __field(u64, clobbers)
			     __field(u64, elapsed_ns)
			     __field(u32, mode)
			     __field(u32, reason)),
	    TP_fast_assign(__entry->hat = hat->hat_id;
			   __entry->cpu = cpu;
			   __entry->reads = r->mode == WINDOW_RESIDENT ? r->reads :
					    r->verified + r->mismatches + r->faults;
			   __entry->valid_reads = r->valid_reads;
			   __entry->verified = r->verified;
			   __entry->faults = r->faults;
			   __entry->clobbers = r->clobbers;
			   __entry->elapsed_ns = r->elapsed_ns;
			   __entry->mode = r->mode;
			   __entry->reason = err ? HTABLE_WEND_OFFLINE :
					     cut_short ? HTABLE_WEND_WATCHDOG : HTABLE_WEND_DONE;),
	    TP_printk("hat=%u cpu=%u mode=%s reads=%llu valid_reads=%llu verified=%llu faults=%llu clobbers=%llu elapsed_ns=%llu reason=%s",
		      __entry->hat, __entry->cpu,
		      __print_symbolic(__entry->mode,
				       { WINDOW_VERIFY, "verify" },
				       { WINDOW_RESIDENT, "resident" }),
		      __entry->reads, __entry->valid_reads, __entry->verified,
		      __entry->faults, __entry->clobbers, __entry->elapsed_ns,
		      __print_symbolic(__entry->reason,
				       { HTABLE_WEND_DONE, "done" },
				       { HTABLE_WEND_WATCHDOG, "watchdog" },
				       { HTABLE_WEND_OFFLINE, "offline" }))
);

/*
 * An ioctl that changes translations, once the core has done its work:
 * its range, page size (level), what it did (pages mapped, unmapped or
 * reloaded; tables shared or unshared) and its result (0 or -errno).
 * Requests refused while their arguments are checked never get here.
 */
DECLARE_EVENT_CLASS(htable_op,
		    TP_PROTO(const struct hat *hat, const struct hat *owner, u64 va,
			     u64 npages, unsigned int level, u64 done, int err),
		    TP_ARGS(hat, owner, va, npages, level, done, err),
		    TP_STRUCT__entry(__field(unsigned int, hat)
				     __field(unsigned int, owner)
				     __field(u64, va)
				     __field(u64, npages)
				     __field(u64, done)
				     __field(int, err)
				     __field(u8, level)),
		    TP_fast_assign(__entry->hat = hat->hat_id;
				   __entry->owner = htable_trace_hat_id(owner);
				   __entry->va = va;
				   __entry->npages = npages;
				   __entry->done = done;
				   __entry->err = err;
				   __entry->level = level;),
		    TP_printk("hat=%u va=%#llx npages=%llu pgsize=%s done=%llu err=%d",
			      __entry->hat, __entry->va, __entry->npages,
			      __print_symbolic(__entry->level,
					       { 0, "4K" }, { 1, "2M" }, { 2, "1G" }),
			      __entry->done, __entry->err)
);

DEFINE_EVENT(htable_op, htable_map,
	     TP_PROTO(const struct hat *hat, const struct hat *owner, u64 va,
		      u64 npages, unsigned int level, u64 done, int err),
	     TP_ARGS(hat, owner, va, npages, level, done, err)
);

DEFINE_EVENT(htable_op, htable_unmap,
	     TP_PROTO(const struct hat *hat, const struct hat *owner, u64 va,
		      u64 npages, unsigned int level, u64 done, int err),
	     TP_ARGS(hat, owner, va, npages, level, done, err)
);

DEFINE_EVENT(htable_op, htable_reload,
	     TP_PROTO(const struct hat *hat, const struct hat *owner, u64 va,
		      u64 npages, unsigned int level, u64 done, int err),
	     TP_ARGS(hat, owner, va, npages, level, done, err)
);

DEFINE_EVENT_PRINT(htable_op, htable_share,
		   TP_PROTO(const struct hat *hat, const struct hat *owner, u64 va,
			    u64 npages, unsigned int level, u64 done, int err),
		   TP_ARGS(hat, owner, va, npages, level, done, err),
		   TP_printk("hat=%u owner=%u va=%#llx npages=%llu tables=%llu err=%d",
			     __entry->hat, __entry->owner, __entry->va, __entry->npages,
			     __entry->done, __entry->err)
);

DEFINE_EVENT_PRINT(htable_op, htable_unshare,
		   TP_PROTO(const struct hat *hat, const struct hat *owner, u64 va,
			    u64 npages, unsigned int level, u64 done, int err),
		   TP_ARGS(hat, owner, va, npages, level, done, err),
		   TP_printk("hat=%u va=%#llx npages=%llu tables=%llu err=%d",
			     __entry->hat, __entry->va, __entry->npages, __entry->done,
			     __entry->err)
);

#endif /* _HTABLE_TRACE_H */

/* Out of tree: define_trace.h finds this file through -I$(src)/include. */
#ifndef _HTABLE_SHIM_H
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH htable
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
#endif
