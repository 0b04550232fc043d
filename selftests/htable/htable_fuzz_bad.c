// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's bad requests: one of each kind the device must refuse,
 * with the errno the ABI gives, leaving the caller's structure untouched.
 */
#include "htable_fuzz.h"

/*
 * A bad request: it must fail with the errno the ABI gives, and leave
 * the caller's structure exactly as it was (nothing copied back).
 */
int fz_bad(struct fz_thread *t, struct fz_set *s, const struct fz_op *op)
{
	struct fz_hat *fh = &s->hat[op->hat];
	union {
		struct htable_map m;
		struct htable_unmap u;
		struct htable_probe p;
		struct htable_rw rw;
		struct htable_run r;
		struct htable_sync s;
		struct htable_reload rl;
		struct htable_share sh;
	} a, orig;
	unsigned long cmd;
	unsigned char buf[16];
	int want = -EINVAL, ret;
	void *arg = &a;

	memset(&a, 0, sizeof(a));
	switch (op->bad) {
	case BAD_IOCTL:
		cmd = _IOWR(HTABLE_IOC_MAGIC, 0x40 + (op->arg & 0x3f), struct htable_map);
		want = -ENOTTY;
		break;
	case BAD_MAP_RESERVED:
	case BAD_MAP_FLAGS:
	case BAD_MAP_ZERO:
	case BAD_MAP_HUGE:
	case BAD_MAP_UNALIGNED:
	case BAD_MAP_RANGE:
	case BAD_MAP_WRAP:
	case BAD_MAP_ALIASFIELDS:
	case BAD_MAP_ALIASLEN:
	case BAD_MAP_NULL:
	case BAD_MAP_SIZES:
	case BAD_MAP_1G_FRESH:
	case BAD_MAP_LP_ALIGN:
	case BAD_MAP_PIN_FIELDS:
		cmd = HTABLE_IOC_MAP;
		a.m.va = op->va;
		a.m.npages = op->npages;
		a.m.flags = op->flags & HT_PG_MAPFLAGS;
		a.m.mapped = FZ_POISON64;
		if (op->bad == BAD_MAP_RESERVED) {
			a.m.reserved0 = 1 | op->arg;
		} else if (op->bad == BAD_MAP_FLAGS) {
			/* Bits outside HTABLE_MAP_FLAGS: 0x80 and up. */
			a.m.flags |= 0x80U << (op->arg % 25);
		} else if (op->bad == BAD_MAP_ZERO) {
			a.m.npages = 0;
		} else if (op->bad == BAD_MAP_HUGE) {
			/* 2^63, 2^64-1, or just past the limit. */
			a.m.npages = op->arg % 3 == 0 ? 1ULL << 63 : op->arg % 3 == 1 ?
				     ~0ULL : HTABLE_MAX_NPAGES + 1 + (op->arg >> 40);
			want = -E2BIG;
		} else if (op->bad == BAD_MAP_UNALIGNED) {
			a.m.va += 1 + op->arg % (HT_PAGE_SIZE - 1);
		} else if (op->bad == BAD_MAP_RANGE) {
			a.m.va = fh->h.limit - HT_PAGE_SIZE * (op->arg % 4);
			a.m.npages = 5;
			want = -ERANGE;
		} else if (op->bad == BAD_MAP_WRAP) {
			a.m.va = -(HT_PAGE_SIZE * (1 + op->arg % 4));
			a.m.npages = 5;
			want = -EOVERFLOW;
		} else if (op->bad == BAD_MAP_ALIASFIELDS) {
			a.m.alias_va = op->va;
			a.m.alias_npages = 1;
		} else if (op->bad == BAD_MAP_ALIASLEN) {
			a.m.flags |= HTABLE_MAP_ALIAS;
			a.m.alias_va = op->va;
			a.m.alias_npages = op->arg & 1 ? 0 : op->npages + 1;
		} else if (op->bad == BAD_MAP_SIZES) {
			a.m.flags |= HTABLE_MAP_SIZES;
		} else if (op->bad == BAD_MAP_1G_FRESH) {
			a.m.flags |= HTABLE_MAP_1G;
			a.m.va = 16 * HT_SZ_1G;
			a.m.npages = NP_1G;
			if (!t->pdpe1gb)
				want = -EOPNOTSUPP;
		} else if (op->bad == BAD_MAP_LP_ALIGN) {
			/* 2 MiB pages at an unaligned va, or an odd count. */
			a.m.flags |= HTABLE_MAP_2M;
			a.m.va = 11 * HT_SZ_1G;
			if (op->arg & 1)
				a.m.va += HT_PAGE_SIZE * (1 + op->arg % 511);
			a.m.npages = op->arg & 1 ? NP_2M : 1 + op->arg % (NP_2M - 1);
		} else if (op->bad == BAD_MAP_PIN_FIELDS) {
			/* PIN with ALIAS, with alias_npages, or with no address. */
			a.m.flags |= HTABLE_MAP_PIN;
			a.m.alias_va = (uintptr_t)t->pl.p4k;
			if (op->arg % 3 == 0)
				a.m.flags |= HTABLE_MAP_ALIAS;
			else if (op->arg % 3 == 1)
				a.m.alias_npages = 1;
			else
				a.m.alias_va = 0;
		} else {
			arg = NULL;
			want = -EFAULT;
		}
		break;
	case BAD_UNMAP_FLAGS:
	case BAD_UNMAP_HUGE:
		cmd = HTABLE_IOC_UNMAP;
		a.u.va = op->va;
		a.u.npages = op->bad == BAD_UNMAP_HUGE ? 1ULL << (40 + op->arg % 24) : op->npages;
		a.u.unmapped = FZ_POISON64;
		if (op->bad == BAD_UNMAP_FLAGS)
			a.u.flags = 1 | op->arg;
		else
			want = -E2BIG;
		break;
	case BAD_PROBE_RANGE:
		cmd = HTABLE_IOC_PROBE;
		a.p.va = fh->h.limit + (op->arg & 0xffffffffff);
		a.p.flags = FZ_POISON;
		want = -ERANGE;
		break;
	case BAD_RW_LEN:
	case BAD_RW_CROSS:
	case BAD_RW_FLAGS:
	case BAD_RW_BUF:
		cmd = HTABLE_IOC_RW;
		a.rw.va = op->va;
		a.rw.buf = (uintptr_t)buf;
		a.rw.len = 8;
		if (op->bad == BAD_RW_LEN) {
			a.rw.len = op->arg & 1 ? 0 : HT_PAGE_SIZE + 1 + (op->arg >> 33);
		} else if (op->bad == BAD_RW_CROSS) {
			a.rw.va += HT_PAGE_SIZE - 4;
		} else if (op->bad == BAD_RW_FLAGS) {
			a.rw.flags = 2 | op->arg;
		} else {
			/* An unmapped user buffer: EFAULT, or ENOENT with no page. */
			a.rw.buf = 8;
			a.rw.flags = op->arg & HTABLE_RW_WRITE;
			want = ht_model_find(&fh->h.m, op->va) ? -EFAULT : -ENOENT;
		}
		break;
	case BAD_RUN_CPU:
	case BAD_RUN_MODE:
	case BAD_RUN_SAMPLES:
	case BAD_RUN_DURATION:
		cmd = HTABLE_IOC_RUN;
		a.r.va = op->va;
		a.r.npages = 1;
		a.r.verified = FZ_POISON64;
		if (op->bad == BAD_RUN_CPU) {
			a.r.cpu = 4096 + (op->arg & 0x7fffffff);
		} else if (op->bad == BAD_RUN_MODE) {
			a.r.mode = 2 + (op->arg & 0xffff);
		} else if (op->bad == BAD_RUN_SAMPLES) {
			/* Absurd sample counts are refused before any allocation. */
			a.r.mode = HTABLE_RUN_RESIDENT;
			a.r.duration_ms = 1;
			a.r.samples = (uintptr_t)buf;
			a.r.max_samples = HTABLE_MAX_SAMPLES + 1 + (op->arg & 0x7fffffff);
		} else {
			a.r.duration_ms = 1 + (op->arg & 0xfff);
		}
		break;
	case BAD_SYNC_FLAGS:
		cmd = HTABLE_IOC_SYNC;
		a.s.va = op->va;
		a.s.npages = op->npages;
		a.s.flags = 2 | op->arg;
		a.s.referenced = FZ_POISON64;
		break;
	case BAD_RELOAD_FLAGS:
		cmd = HTABLE_IOC_RELOAD;
		a.rl.va = op->va;
		a.rl.npages = op->npages;
		a.rl.flags = 1 | op->arg;
		a.rl.reloaded = FZ_POISON64;
		break;
	default:
		/* SHARE and UNSHARE, of a valid 2 MiB range but for the fault. */
		cmd = op->bad == BAD_UNSHARE_FD ? HTABLE_IOC_UNSHARE : HTABLE_IOC_SHARE;
		a.sh.owner_fd = s->hat[(op->hat + 1) % FZ_HATS].h.fd;
		a.sh.va = op->va & ~(HT_SZ_2M - 1);
		a.sh.npages = NP_2M;
		a.sh.tables = FZ_POISON64;
		if (op->bad == BAD_SHARE_FLAGS) {
			a.sh.flags = 1 | op->arg;
		} else if (op->bad == BAD_SHARE_ALIGN) {
			if (op->arg & 1)
				a.sh.va += HT_PAGE_SIZE * (1 + op->arg % 511);
			else
				a.sh.npages = 1 + op->arg % (NP_2M - 1);
		} else if (op->bad == BAD_SHARE_FD) {
			/* No such descriptor: negative, or past any limit. */
			a.sh.owner_fd = op->arg & 1 ? -1 : 1 << 24;
			want = -EBADF;
		} else if (op->bad == BAD_SHARE_NOTDEV) {
			a.sh.owner_fd = t->pagemap;
		} else if (op->bad == BAD_SHARE_SELF) {
			a.sh.owner_fd = fh->h.fd;
		} else {
			a.sh.owner_fd = 1 + (op->arg & 0xff);
		}
		/* The range rules come first (the top region may end past the limit). */
		if (op->bad != BAD_UNSHARE_FD)
			want = fz_range_errno(a.sh.va, a.sh.npages, fh->h.limit) ?: want;
		break;
	}
	orig = a;
	ret = fz_ioctl(t, fh->h.fd, cmd, arg);
	if (fz_bad_ret(t, "bad request", ret, want)) {
		fz_log(t, "# (bad request %u)\n", op->bad);
		return 1;
	}
	if (memcmp(&orig, &a, sizeof(a))) {
		fz_log(t, "# bad request %u: the refused call wrote to its argument\n",
		       op->bad);
		return 1;
	}
	return 0;
}
