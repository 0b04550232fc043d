/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * htable: the ioctl ABI of /dev/htable.
 *
 * Each open of /dev/htable is one address space (a hat). Every argument
 * structure is fixed-size; each field is marked (in) when user space fills it
 * and (out) when the kernel does. Reserved fields must be zero on the way in
 * and are zero on the way out. See Documentation/uapi.rst.
 */
#ifndef _UAPI_HTABLE_H
#define _UAPI_HTABLE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HTABLE_DEV_PATH		"/dev/htable"

#define HTABLE_ABI_MAJOR	1
#define HTABLE_ABI_MINOR	1

/**
 * struct htable_version - HTABLE_IOC_VERSION
 * @major:	(out) ABI major version; a change breaks old callers
 * @minor:	(out) ABI minor version; grows with compatible additions
 * @levels:	(out) paging levels of the running kernel: 4 or 5
 * @page_shift:	(out) log2 of the base page size (12)
 * @reserved:	(out) zero
 */
struct htable_version {
	__u32 major;
	__u32 minor;
	__u32 levels;
	__u32 page_shift;
	__u64 reserved[2];
};

/* Most levels any hierarchy has: 5-level paging (LA57). Level 0 holds 4 KiB PTEs. */
#define HTABLE_MAX_LEVELS	5

/* Largest npages one MAP or UNMAP accepts (16 GiB of 4 KiB pages). */
#define HTABLE_MAX_NPAGES	0x400000ULL

/* htable_map.flags */
#define HTABLE_MAP_WRITE	0x01	/* writable */
#define HTABLE_MAP_EXEC		0x02	/* executable (no NX) */
#define HTABLE_MAP_LOCK		0x04	/* locked: counted in ht_lock_cnt */
#define HTABLE_MAP_ALIAS	0x08	/* reuse pages mapped at alias_va */
#define HTABLE_MAP_2M		0x10	/* 2 MiB pages (ABI 1.1) */
#define HTABLE_MAP_1G		0x20	/* 1 GiB pages, with pdpe1gb (ABI 1.1) */
#define HTABLE_MAP_PIN		0x40	/* back with user memory at alias_va (ABI 1.1) */
#define HTABLE_MAP_SIZES	(HTABLE_MAP_2M | HTABLE_MAP_1G)
#define HTABLE_MAP_FLAGS	(HTABLE_MAP_WRITE | HTABLE_MAP_EXEC | \
				 HTABLE_MAP_LOCK | HTABLE_MAP_ALIAS | \
				 HTABLE_MAP_SIZES | HTABLE_MAP_PIN)

/* Pages of 4 KiB in one 2 MiB and one 1 GiB page. */
#define HTABLE_2M_NPAGES	512ULL
#define HTABLE_1G_NPAGES	(512ULL * 512ULL)

/**
 * struct htable_map - HTABLE_IOC_MAP: map @npages pages at @va
 * @va:		(in) page-aligned start, in the lower canonical half; with
 *		HTABLE_MAP_2M or HTABLE_MAP_1G aligned to that page size
 * @npages:	(in) number of 4 KiB pages, 1..HTABLE_MAX_NPAGES; with a
 *		large page size a multiple of its HTABLE_*_NPAGES
 * @flags:	(in) HTABLE_MAP_*; no size flag (zero, as before ABI 1.1)
 *		means 4 KiB pages
 * @reserved0:	(in) zero
 * @alias_va:	(in) with HTABLE_MAP_ALIAS: page i of the new range is backed
 *		by the page already mapped at alias_va + (i % alias_npages)
 *		pages; with HTABLE_MAP_PIN: the caller's own address of the
 *		memory to back the range with (a hugetlb or THP mapping for
 *		large pages), aligned like @va; else zero (the module
 *		allocates fresh pages)
 * @alias_npages: (in) with HTABLE_MAP_ALIAS: 1..npages (a multiple of the
 *		page size's npages), a source that does not overlap the
 *		range being mapped; else zero
 * @mapped:	(out) pages mapped: npages; written back on success only
 *
 * Nothing already mapped is ever overwritten, and a failed map changes
 * nothing: a range that meets a table this hat shares from another hat
 * fails with EADDRINUSE; one that meets a mapping of the same page size
 * (a stolen translation counts as a 4 KiB one) with EEXIST; one that lies
 * inside a larger page with EBUSY; a large page over smaller mappings, or
 * over a table this hat shares out, with ENOTEMPTY. 1 GiB pages need the
 * CPU's pdpe1gb (EOPNOTSUPP without), and HTABLE_MAP_PIN or
 * HTABLE_MAP_ALIAS (EINVAL without: the buddy allocator has no 1 GiB
 * pages).
 *
 * HTABLE_MAP_ALIAS: every source page must be the hat's, mapped or stolen
 * (ENOENT), and the folio of one not pinned must have fewer references
 * than the ref_limit debugfs knob (EOVERFLOW). With a large page size,
 * the source of each large page must be one run of physically contiguous
 * pages, aligned to that size and of one kind, all pinned or none
 * (EINVAL).
 *
 * HTABLE_MAP_PIN: the memory is pinned with FOLL_WRITE | FOLL_LONGTERM,
 * whatever HTABLE_MAP_WRITE says, so the caller must be able to write it
 * (else EFAULT, or pin_user_pages_fast()'s error). Each large page must
 * be physically contiguous and aligned to its size inside one folio: a
 * hugetlb page or a THP at least that large (EINVAL). Each folio pinned
 * is charged once to the caller's locked memory: ENOMEM past
 * RLIMIT_MEMLOCK, unless the caller has CAP_IPC_LOCK.
 */
struct htable_map {
	__u64 va;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 alias_va;
	__u64 alias_npages;
	__u64 mapped;
};

/**
 * struct htable_unmap - HTABLE_IOC_UNMAP: unmap @npages pages at @va
 * @va:		(in) page-aligned start
 * @npages:	(in) 1..HTABLE_MAX_NPAGES
 * @flags:	(in) zero (no flags defined yet)
 * @reserved0:	(in) zero
 * @unmapped:	(out) pages unmapped: npages; written back on success only
 *
 * Every page of the range must be mapped: a hole fails with ENOENT and
 * changes nothing. Locked mappings are unlocked and unmapped. A large page
 * the range covers only in part is split first into smaller pages, and
 * the part outside the range stays mapped, to the same memory.
 */
struct htable_unmap {
	__u64 va;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 unmapped;
};

/* htable_probe.flags (out) */
#define HTABLE_PROBE_PRESENT	0x01	/* a translation exists */
#define HTABLE_PROBE_WRITE	0x02
#define HTABLE_PROBE_EXEC	0x04
#define HTABLE_PROBE_LOCKED	0x08
#define HTABLE_PROBE_ACCESSED	0x10	/* hardware A bit (REF) */
#define HTABLE_PROBE_DIRTY	0x20	/* hardware D bit (MOD) */
#define HTABLE_PROBE_OWNED	0x40	/* the hat holds a page for @va */

/**
 * struct htable_probe - HTABLE_IOC_PROBE: translate one va (hat_probe)
 * @va:		(in) any address in the lower canonical half; need not be
 *		aligned
 * @flags:	(out) HTABLE_PROBE_*; zero when the hat has no page at @va,
 *		HTABLE_PROBE_OWNED alone when its translation was stolen
 * @level:	(out) level of the entry that maps @va: 0 for a 4 KiB page,
 *		1 for 2 MiB, 2 for 1 GiB; 0 when nothing is present
 * @pfn:	(out) page frame number of the 4 KiB page at @va: inside a
 *		large page, the large page's first frame plus the index of
 *		that 4 KiB page in it; 0 when nothing is present
 * @pte:	(out) the raw entry (a large page's one entry); 0 when nothing
 *		is present (for study; the device is root-only, mode 0600)
 */
struct htable_probe {
	__u64 va;
	__u32 flags;
	__u32 level;
	__u64 pfn;
	__u64 pte;
};

/**
 * struct htable_info - HTABLE_IOC_INFO: one hat's tables and entries
 * @levels:	(out) paging levels of this hat (4 or 5)
 * @reserved0:	(out) zero
 * @tables:	(out) page tables in the hat's tree, per level, the top
 *		included (tables[levels - 1] == 1); not tables shared from
 *		another hat, which count in their owner
 * @valid:	(out) sum of ht_valid_cnt per level: present entries, links
 *		to lower tables included
 * @locked:	(out) sum of ht_lock_cnt over all tables
 * @mapped_pages: (out) 4 KiB pages covered by present translations (a
 *		2 MiB page counts 512)
 * @owned_pages: (out) pages recorded as the hat's (the segment layer)
 * @cached:	(out) free tables held in the hat's cache (hat_ht_cached)
 * @live_cpus:	(out) bit N set while CPU N is in the hat's CPU set: from
 *		before a window loads CR3 until after it restores it, which
 *		is all the time the hat can be in CR3 there (CPUs 0..63)
 * @stolen:	(out) tables in use that htable_steal() has taken from this
 *		hat, each with the translations it held (free tables taken
 *		from the hat's cache are not counted: nothing was lost)
 */
struct htable_info {
	__u32 levels;
	__u32 reserved0;
	__u64 tables[HTABLE_MAX_LEVELS];
	__u64 valid[HTABLE_MAX_LEVELS];
	__u64 locked;
	__u64 mapped_pages;
	__u64 owned_pages;
	__u64 cached;
	__u64 live_cpus;
	__u64 stolen;
};

/* htable_check.first_error codes */
#define HTABLE_CHECK_OK		0
#define HTABLE_CHECK_VALID_CNT	1	/* ht_valid_cnt != present entries */
#define HTABLE_CHECK_LOCK_CNT	2	/* ht_lock_cnt != locked entries */
#define HTABLE_CHECK_PARENT	3	/* a link and its table disagree */
#define HTABLE_CHECK_HASH	4	/* a linked table is missing from the hash */
#define HTABLE_CHECK_UNOWNED	5	/* a present entry maps a page not the hat's */
/*
 * HTABLE_CHECK_BITS: an entry with User, Global or reserved address bits
 * set; a page entry at a level the CPU has no page size for (1 GiB
 * without pdpe1gb, or any level above); or a large page whose frame is
 * not aligned to its size.
 */
#define HTABLE_CHECK_BITS	6	/* bad bits, page level or alignment */
#define HTABLE_CHECK_ORPHAN	7	/* a hashed table not reachable from the top */
#define HTABLE_CHECK_CACHED	8	/* a cached free table is not all zero */

/**
 * struct htable_check - HTABLE_IOC_CHECK: run the independent checker
 * @errors:	(out) inconsistencies found; 0 means the hat is sound
 * @tables:	(out) tables visited
 * @entries:	(out) present entries visited
 * @first_error: (out) HTABLE_CHECK_* code of the first inconsistency
 * @reserved0:	(out) zero
 * @first_va:	(out) va of the first inconsistency
 */
struct htable_check {
	__u64 errors;
	__u64 tables;
	__u64 entries;
	__u32 first_error;
	__u32 reserved0;
	__u64 first_va;
};

/* htable_rw.flags */
#define HTABLE_RW_WRITE		0x01	/* copy from buf into the page */

/**
 * struct htable_rw - HTABLE_IOC_RW: read or write a page the hat owns,
 *	through the kernel's direct map (not through the hat's tables)
 * @va:		(in) any address; [va, va + len) must lie in one page
 * @buf:	(in) user buffer of @len bytes
 * @len:	(in) 1..4096
 * @flags:	(in) HTABLE_RW_WRITE, or 0 to read
 */
struct htable_rw {
	__u64 va;
	__u64 buf;
	__u32 len;
	__u32 flags;
};

/* htable_run.mode */
#define HTABLE_RUN_VERIFY	0	/* touch every page of a range */
#define HTABLE_RUN_RESIDENT	1	/* stay live, reading one word */

/* htable_run.flags */
#define HTABLE_RUN_WRITE	0x01	/* verify: also write writable pages */

/* htable_sample.flags */
#define HTABLE_SAMPLE_FAULT	0x01	/* the read faulted (no translation) */
#define HTABLE_SAMPLE_VALID	0x02	/* CR3 held the hat around the read */

/**
 * struct htable_sample - one observation of a resident window
 * @t_ns:	(out) CLOCK_MONOTONIC time at which the read started
 * @value:	(out) the word read (0 when it faulted)
 * @flags:	(out) HTABLE_SAMPLE_*
 * @reserved:	(out) zero
 */
struct htable_sample {
	__u64 t_ns;
	__u64 value;
	__u32 flags;
	__u32 reserved;
};

/* Most samples one resident window records. */
#define HTABLE_MAX_SAMPLES	65536

/**
 * struct htable_run - HTABLE_IOC_RUN: load the hat into CR3 on one CPU
 * @cpu:	(in) an online CPU (ENXIO if offline) that is not isolated
 *		by isolcpus= or nohz_full= (EBUSY if it is)
 * @mode:	(in) HTABLE_RUN_VERIFY or HTABLE_RUN_RESIDENT
 * @va:		(in) page-aligned start of the range (verify) or the page
 *		whose first word is read (resident)
 * @npages:	(in) verify: pages to touch, 1..HTABLE_MAX_NPAGES;
 *		resident: 1
 * @flags:	(in) HTABLE_RUN_*
 * @duration_ms: (in) resident: how long to stay live, 1..5000; verify: 0
 * @seed:	(in) verify: the pattern seed (see Documentation/cr3.rst);
 *		resident: 0
 * @samples:	(in) resident: user array of @max_samples struct
 *		htable_sample; verify: 0
 * @max_samples: (in) resident: 1..HTABLE_MAX_SAMPLES; verify: 0
 * @nsamples:	(out) resident: samples written
 * @verified:	(out) pages whose data matched through the hat's tables
 * @mismatches:	(out) pages whose data did not
 * @faults:	(out) verify: pages whose read or write through the hat
 *		faulted (a page counts once); resident: reads that faulted
 * @first_fault_va: (out) va of the first fault
 * @first_mismatch_va: (out) va of the first mismatch
 * @reads:	(out) resident: reads done
 * @valid_reads: (out) resident: reads with HTABLE_SAMPLE_VALID
 * @clobbers:	(out) resident: times the kernel replaced CR3 during the
 *		window, its end included; verify: 0
 * @elapsed_ns:	(out) time the window took
 * @watchdog:	(out) 1 when the watchdog ended the window early
 * @reserved:	(in) zero (EINVAL otherwise); (out) zero
 */
struct htable_run {
	__u32 cpu;
	__u32 mode;
	__u64 va;
	__u64 npages;
	__u32 flags;
	__u32 duration_ms;
	__u64 seed;
	__u64 samples;
	__u32 max_samples;
	__u32 nsamples;
	__u64 verified;
	__u64 mismatches;
	__u64 faults;
	__u64 first_fault_va;
	__u64 first_mismatch_va;
	__u64 reads;
	__u64 valid_reads;
	__u64 clobbers;
	__u64 elapsed_ns;
	__u32 watchdog;
	__u32 reserved;
};

/* htable_sync.flags */
#define HTABLE_SYNC_CLEAR	0x01	/* clear A and D after reading them */

/**
 * struct htable_sync - HTABLE_IOC_SYNC: gather hardware A/D (hat_pagesync)
 * @va:		(in) page-aligned start
 * @npages:	(in) 1..HTABLE_MAX_NPAGES
 * @flags:	(in) HTABLE_SYNC_*
 * @reserved0:	(in) zero
 * @referenced:	(out) mapped 4 KiB pages with A (REF) set; a large
 *		page's one entry counts for each of its pages in the range,
 *		and a stolen translation counts with the bits it kept
 * @modified:	(out) mapped 4 KiB pages with D (MOD) set, counted the same
 *
 * The counts are of the bits as they were read, before HTABLE_SYNC_CLEAR
 * clears them (in the entries, and in the records of stolen
 * translations).
 */
struct htable_sync {
	__u64 va;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 referenced;
	__u64 modified;
};

/**
 * struct htable_reload - HTABLE_IOC_RELOAD: rebuild stolen translations
 * @va:		(in) page-aligned start
 * @npages:	(in) 1..HTABLE_MAX_NPAGES
 * @flags:	(in) zero
 * @reserved0:	(in) zero
 * @reloaded:	(out) translations rebuilt from the hat's stolen records
 *
 * The seed's fault path: every page the hat owns in the range but has no
 * translation for (it was stolen) is mapped again, with its data, its
 * original WRITE/EXEC/LOCK bits, and the A and D bits it had when it was
 * stolen (or as a SYNC with HTABLE_SYNC_CLEAR left them). Pages already
 * mapped are left alone.
 */
struct htable_reload {
	__u64 va;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 reloaded;
};

/**
 * struct htable_share - HTABLE_IOC_SHARE and HTABLE_IOC_UNSHARE (ABI 1.1)
 * @owner_fd:	(in) SHARE: an open /dev/htable, the hat that owns the
 *		tables (not this one); UNSHARE: zero
 * @flags:	(in) zero
 * @va:		(in) 2 MiB-aligned start; the same va in both hats
 * @npages:	(in) a multiple of HTABLE_2M_NPAGES: one leaf table each
 * @tables:	(out) tables attached or detached; written on success only
 *
 * SHARE links the owner's leaf page tables for [va, va + npages pages)
 * into this hat's tree: the tables are referenced, not copied, so every
 * later change the owner makes there is seen through this hat too. The
 * range must hold nothing of this hat (EEXIST), no large page of the
 * owner (EBUSY), and no table the owner itself shares from a third hat
 * (EINVAL). UNSHARE detaches every table of the range (ENOENT, changing
 * nothing, when one is not shared). Closing a sharer detaches its tables;
 * closing the owner detaches them from every sharer first.
 */
struct htable_share {
	__s32 owner_fd;
	__u32 flags;
	__u64 va;
	__u64 npages;
	__u64 tables;
};

#define HTABLE_IOC_MAGIC	0xB7
#define HTABLE_IOC_VERSION	_IOR(HTABLE_IOC_MAGIC, 0x00, struct htable_version)
#define HTABLE_IOC_MAP		_IOWR(HTABLE_IOC_MAGIC, 0x01, struct htable_map)
#define HTABLE_IOC_UNMAP	_IOWR(HTABLE_IOC_MAGIC, 0x02, struct htable_unmap)
#define HTABLE_IOC_PROBE	_IOWR(HTABLE_IOC_MAGIC, 0x03, struct htable_probe)
#define HTABLE_IOC_INFO		_IOR(HTABLE_IOC_MAGIC, 0x04, struct htable_info)
#define HTABLE_IOC_CHECK	_IOR(HTABLE_IOC_MAGIC, 0x05, struct htable_check)
#define HTABLE_IOC_RW		_IOW(HTABLE_IOC_MAGIC, 0x06, struct htable_rw)
#define HTABLE_IOC_RUN		_IOWR(HTABLE_IOC_MAGIC, 0x07, struct htable_run)
#define HTABLE_IOC_SYNC		_IOWR(HTABLE_IOC_MAGIC, 0x08, struct htable_sync)
#define HTABLE_IOC_RELOAD	_IOWR(HTABLE_IOC_MAGIC, 0x09, struct htable_reload)
#define HTABLE_IOC_SHARE	_IOWR(HTABLE_IOC_MAGIC, 0x10, struct htable_share)
#define HTABLE_IOC_UNSHARE	_IOWR(HTABLE_IOC_MAGIC, 0x11, struct htable_share)

#endif /* _UAPI_HTABLE_H */
