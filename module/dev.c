// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/htable: the character device. Each open is one address space (a
 * hat). Every ioctl argument is copied in and validated here, before the
 * core sees it; a refused request returns a specific errno, logs one
 * rate-limited line and changes nothing.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <uapi/htable.h>
#include <htable/check.h>
#include <htable/corrupt.h>
#include <htable/cr3.h>
#include <htable/debugfs.h>
#include <htable/fail.h>
#include <htable/hat.h>
#include <htable/map.h>
#include <htable/module.h>
#include <htable/share.h>
#include <htable/trace.h>
#include <htable/unmap.h>
#include <htable/x86pte.h>

/*
 * The ABI stops here: the layers below take arguments and give reports of
 * their own, which the handlers translate. Where the two share numbers,
 * they agree.
 */
static_assert(MAX_NUM_LEVEL == HTABLE_MAX_LEVELS);
static_assert(CHECK_OK == HTABLE_CHECK_OK);
static_assert(CHECK_VALID_CNT == HTABLE_CHECK_VALID_CNT);
static_assert(CHECK_LOCK_CNT == HTABLE_CHECK_LOCK_CNT);
static_assert(CHECK_PARENT == HTABLE_CHECK_PARENT);
static_assert(CHECK_HASH == HTABLE_CHECK_HASH);
static_assert(CHECK_UNOWNED == HTABLE_CHECK_UNOWNED);
static_assert(CHECK_BITS == HTABLE_CHECK_BITS);
static_assert(CHECK_ORPHAN == HTABLE_CHECK_ORPHAN);
static_assert(CHECK_CACHED == HTABLE_CHECK_CACHED);

static int htable_open(struct inode *inode, struct file *file)
{
	struct hat *hat = hat_alloc();

	if (!hat)
		return -ENOMEM;
	htable_debugfs_add_hat(hat);
	file->private_data = hat;
	return 0;
}

static int htable_release_file(struct inode *inode, struct file *file)
{
	struct hat *hat = file->private_data;

	htable_debugfs_remove_hat(hat);
	/* A test may have left it corrupted on purpose: mend, then free. */
	htable_corrupt_repair(hat);
	hat_free(hat);
	return 0;
}

/*
 * A page range from user space: page-aligned, 1..HTABLE_MAX_NPAGES pages,
 * not wrapping, and inside the lower canonical half.
 */
static int htable_check_range(const char *what, u64 va, u64 npages)
{
	u64 end;

	if (!npages) {
		htable_bad_input("%s: zero pages", what);
		return -EINVAL;
	}
	if (npages > HTABLE_MAX_NPAGES) {
		htable_bad_input("%s: %llu pages is too many", what, npages);
		return -E2BIG;
	}
	if (va & ~PAGE_MASK) {
		htable_bad_input("%s: va %#llx is not page-aligned", what, va);
		return -EINVAL;
	}
	if (check_add_overflow(va, npages << PAGE_SHIFT, &end)) {
		htable_bad_input("%s: va %#llx + %llu pages wraps", what, va, npages);
		return -EOVERFLOW;
	}
	if (end > HTABLE_USER_END) {
		htable_bad_input("%s: [%#llx, %#llx) leaves the lower half", what,
				 va, end);
		return -ERANGE;
	}
	return 0;
}

/*
 * The head every range request shares: no flag outside @allowed, the
 * reserved field zero, and a good range. Return: 0, -EINVAL, or
 * htable_check_range()'s errno.
 */
static int htable_check_request(const char *what, u32 flags, u32 allowed,
				u64 reserved, u64 va, u64 npages)
{
	if (flags & ~allowed || reserved) {
		htable_bad_input("%s: unknown flags %#x or reserved field set",
				 what, flags);
		return -EINVAL;
	}
	return htable_check_range(what, va, npages);
}

/*
 * Can the result of a call that changes the hat be written back to @uarg
 * (@len bytes, and the samples of a window)? Asked before anything
 * changes, without writing a byte, so that an unwritable result fails the
 * call with EFAULT while nothing has changed. Memory the caller unmaps or
 * protects during the call can still lose the result of a call that
 * succeeded (uapi.rst says so).
 */
static int htable_result_writable(void __user *uarg, size_t len)
{
	/* A bad pointer, like any other: EFAULT, and not bad input. */
	return fault_in_safe_writeable((const char __user *)uarg, len) ? -EFAULT : 0;
}

/*
 * The checks of a range request that changes the hat and returns a result
 * of @len bytes at @uarg: htable_check_request(), then
 * htable_result_writable(). Return: 0, or the errno of the first that fails.
 */
static int htable_check_request_out(const char *what, u32 flags, u32 allowed,
				    u64 reserved, u64 va, u64 npages,
				    void __user *uarg, size_t len)
{
	return htable_check_request(what, flags, allowed, reserved, va, npages) ?:
	       htable_result_writable(uarg, len);
}

/* Pages a MAP may still take: available memory above the throttle mark. */
static u64 htable_pages_available(void)
{
	long avail = si_mem_available() - (long)READ_ONCE(htable_throttle_pages);

	return avail > 0 ? avail : 0;
}

/* The page level a map request asks for: 0, 1 (2 MiB) or 2 (1 GiB). */
static unsigned int htable_map_level(u32 flags)
{
	if (flags & HTABLE_MAP_1G)
		return 2;
	return flags & HTABLE_MAP_2M ? 1 : 0;
}

/* Pages a MAP allocates at most: its pages (fresh only), and tables. */
static u64 htable_map_cost(const struct htable_map *m)
{
	u64 tables = DIV_ROUND_UP(m->npages, HTABLE_2M_NPAGES) + mmu.max_level;

	return (m->flags & (HTABLE_MAP_ALIAS | HTABLE_MAP_PIN) ? 0 : m->npages) + tables;
}

static long htable_ioc_version(struct hat *hat, void *karg, void __user *uarg)
{
	*(struct htable_version *)karg = (struct htable_version){
		.major = HTABLE_ABI_MAJOR,
		.minor = HTABLE_ABI_MINOR,
		.levels = mmu.max_level + 1,
		.page_shift = PAGE_SHIFT,
	};
	return 0;
}

/*
 * The page size of a map request (ABI 1.1): at most one size flag; 1 GiB
 * only with pdpe1gb and from pinned user memory or an alias; va, npages and the alias
 * or user range aligned to the size. HTABLE_MAP_PIN excludes ALIAS and
 * takes no alias_npages.
 */
static int htable_check_map_size(const struct htable_map *m)
{
	unsigned int level = 0;
	u64 n;

	if ((m->flags & HTABLE_MAP_SIZES) == HTABLE_MAP_SIZES) {
		htable_bad_input("map: both HTABLE_MAP_2M and HTABLE_MAP_1G");
		return -EINVAL;
	}
	if (m->flags & HTABLE_MAP_2M)
		level = 1;
	if (m->flags & HTABLE_MAP_1G)
		level = 2;
	if (level > mmu.max_page_level) {
		htable_bad_input("map: 1 GiB pages need pdpe1gb, which this CPU lacks");
		return -EOPNOTSUPP;
	}
	if (level == 2 && !(m->flags & (HTABLE_MAP_PIN | HTABLE_MAP_ALIAS))) {
		htable_bad_input("map: fresh 1 GiB pages need HTABLE_MAP_PIN memory");
		return -EINVAL;
	}
	if ((m->flags & HTABLE_MAP_PIN) &&
	    ((m->flags & HTABLE_MAP_ALIAS) || m->alias_npages || !m->alias_va)) {
		htable_bad_input("map: HTABLE_MAP_PIN with ALIAS, alias_npages or no address");
		return -EINVAL;
	}
	n = 1ULL << (level * 9);
	if (((m->va >> PAGE_SHIFT) | m->npages) & (n - 1) ||
	    (m->flags & HTABLE_MAP_ALIAS &&
	     ((m->alias_va >> PAGE_SHIFT) | m->alias_npages) & (n - 1)) ||
	    (m->flags & HTABLE_MAP_PIN && m->alias_va & ((n << PAGE_SHIFT) - 1))) {
		htable_bad_input("map: %#llx, %llu pages, source %#llx: not %llu-page aligned",
				 m->va, m->npages, m->alias_va, n);
		return -EINVAL;
	}
	return 0;
}

static long htable_ioc_map(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_map *m = karg;
	int err;

	err = htable_check_request("map", m->flags, HTABLE_MAP_FLAGS,
				   m->reserved0, m->va, m->npages);
	if (err)
		return err;
	err = htable_check_map_size(m);
	if (err)
		return err;
	if (m->flags & HTABLE_MAP_PIN) {
		/* The source is the caller's memory, not the hat's: no range check. */
	} else if (m->flags & HTABLE_MAP_ALIAS) {
		if (!m->alias_npages || m->alias_npages > m->npages) {
			htable_bad_input("map: alias of %llu pages for %llu",
					 m->alias_npages, m->npages);
			return -EINVAL;
		}
		err = htable_check_range("map alias", m->alias_va, m->alias_npages);
		if (err)
			return err;
		/*
		 * The source is read as it stands before the MAP: a source
		 * inside the range being mapped would be read as the MAP fills
		 * it, so an overlap has no meaning.
		 */
		if (m->alias_va < m->va + (m->npages << PAGE_SHIFT) &&
		    m->va < m->alias_va + (m->alias_npages << PAGE_SHIFT)) {
			htable_bad_input("map: alias source %#llx overlaps [%#llx, +%llu pages)",
					 m->alias_va, m->va, m->npages);
			return -EINVAL;
		}
	} else if (m->alias_va || m->alias_npages) {
		htable_bad_input("map: alias fields set without HTABLE_MAP_ALIAS");
		return -EINVAL;
	}

	/*
	 * Pages come from the page allocator, which would rather OOM-kill
	 * than fail: a MAP that cannot fit in what is available fails here,
	 * before anything is allocated. An ALIAS or PIN map allocates no
	 * page, but a table per 512 of them (and a few above).
	 */
	if (htable_map_cost(m) > htable_pages_available()) {
		htable_bad_input("map: %llu pages exceed available memory", m->npages);
		HATSTAT_INC(hs_enomem);
		return -ENOMEM;
	}
	err = htable_result_writable(uarg, sizeof(*m));
	if (err)
		return err;
	m->mapped = 0;
	err = hat_memload(hat, &(struct hat_map){
		.va = m->va,
		.npages = m->npages,
		.level = htable_map_level(m->flags),
		.attr = (m->flags & HTABLE_MAP_WRITE ? HAT_WRITE : 0) |
			(m->flags & HTABLE_MAP_EXEC ? HAT_EXEC : 0) |
			(m->flags & HTABLE_MAP_LOCK ? HAT_LOCK : 0),
		.source = m->flags & HTABLE_MAP_PIN ? HAT_SRC_PIN :
			  m->flags & HTABLE_MAP_ALIAS ? HAT_SRC_ALIAS : HAT_SRC_FRESH,
		.src = m->alias_va,
		.src_npages = m->alias_npages,
	});
	trace_htable_map(hat, NULL, m->va, m->npages, htable_map_level(m->flags),
			 err ? 0 : m->npages, err);
	if (err == -EEXIST)
		htable_bad_input("map: [%#llx, +%llu pages) meets a mapping",
				 m->va, m->npages);
	else if (err == -EBUSY)
		htable_bad_input("map: [%#llx, +%llu pages) lies in a larger page",
				 m->va, m->npages);
	else if (err == -ENOTEMPTY)
		htable_bad_input("map: [%#llx, +%llu pages) covers smaller pages",
				 m->va, m->npages);
	else if (err == -ENOENT)
		htable_bad_input("map: alias source %#llx is not mapped",
				 m->alias_va);
	else if (err == -ENOMEM)
		HATSTAT_INC(hs_enomem);
	if (!err)
		m->mapped = m->npages;
	return err;
}

static long htable_ioc_unmap(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_unmap *u = karg;
	int err;

	err = htable_check_request_out("unmap", u->flags, 0, u->reserved0, u->va,
				       u->npages, uarg, sizeof(*u));
	if (err)
		return err;
	u->unmapped = 0;
	err = hat_unload(hat, u->va, u->npages);
	trace_htable_unmap(hat, NULL, u->va, u->npages, 0, err ? 0 : u->npages, err);
	if (err == -ENOENT)
		htable_bad_input("unmap: [%#llx, +%llu pages) has a hole",
				 u->va, u->npages);
	if (!err)
		u->unmapped = u->npages;
	return err;
}

static long htable_ioc_probe(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_probe *p = karg;
	struct hat_xlat x;

	if (p->va >= HTABLE_USER_END) {
		htable_bad_input("probe: va %#llx is outside the lower half", p->va);
		return -ERANGE;
	}
	hat_probe(hat, p->va, &x);
	p->flags = x.owned ? HTABLE_PROBE_OWNED : 0;
	p->level = 0;
	p->pfn = 0;
	p->pte = 0;
	if (x.present) {
		p->flags |= HTABLE_PROBE_PRESENT;
		if (x.pte & PT_WRITABLE)
			p->flags |= HTABLE_PROBE_WRITE;
		if (!(x.pte & PT_NX))
			p->flags |= HTABLE_PROBE_EXEC;
		if (x.pte & PT_SOFTLOCK)
			p->flags |= HTABLE_PROBE_LOCKED;
		if (x.pte & PT_REF)
			p->flags |= HTABLE_PROBE_ACCESSED;
		if (x.pte & PT_MOD)
			p->flags |= HTABLE_PROBE_DIRTY;
		p->level = x.level;
		p->pfn = PTE2PFN(x.pte) + ((p->va & LEVEL_OFFSET(x.level)) >> PAGE_SHIFT);
		p->pte = x.pte;
	}
	return 0;
}

static long htable_ioc_info(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_info *info = karg;
	struct hat_info hi;
	unsigned int l;
	int err;

	err = hat_info(hat, &hi);
	if (err)
		return err;
	*info = (struct htable_info){ .levels = hi.levels, .locked = hi.locked,
				      .mapped_pages = hi.mapped_pages,
				      .owned_pages = hi.owned_pages,
				      .cached = hi.cached,
				      .live_cpus = hi.live_cpus,
				      .stolen = hi.stolen };
	for (l = 0; l < MAX_NUM_LEVEL; l++) {
		info->tables[l] = hi.tables[l];
		info->valid[l] = hi.valid[l];
	}
	return 0;
}

static long htable_ioc_check(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_check *c = karg;
	struct check_report r;
	int err = htable_check(hat, &r);

	/* The codes are the ABI's (asserted above). */
	if (!err)
		*c = (struct htable_check){ .errors = r.errors,
					    .tables = r.tables,
					    .entries = r.entries,
					    .first_error = r.first_error,
					    .first_va = r.first_va };
	return err;
}

static long htable_ioc_rw(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_rw *rw = karg;
	int err;

	if (rw->flags & ~HTABLE_RW_WRITE || !rw->len || rw->len > PAGE_SIZE ||
	    offset_in_page(rw->va) + rw->len > PAGE_SIZE) {
		htable_bad_input("rw: flags %#x, %u bytes at %#llx", rw->flags,
				 rw->len, rw->va);
		return -EINVAL;
	}
	if (rw->va >= HTABLE_USER_END) {
		htable_bad_input("rw: va %#llx is outside the lower half", rw->va);
		return -ERANGE;
	}
	err = hat_rw(hat, rw->va, u64_to_user_ptr(rw->buf), rw->len,
		     rw->flags & HTABLE_RW_WRITE);
	if (err == -ENOENT)
		htable_bad_input("rw: no page at %#llx", rw->va);
	return err;
}

/* Check a RUN request; the mode decides which fields must be zero. */
static int htable_check_run(const struct htable_run *r)
{
	if (r->cpu >= nr_cpu_ids) {
		htable_bad_input("run: no CPU %u", r->cpu);
		return -EINVAL;
	}
	if (r->reserved) {
		htable_bad_input("run: reserved field set");
		return -EINVAL;
	}
	switch (r->mode) {
	case HTABLE_RUN_VERIFY:
		if (r->flags & ~HTABLE_RUN_WRITE || r->duration_ms || r->samples ||
		    r->max_samples) {
			htable_bad_input("run: verify with resident fields or flags %#x",
					 r->flags);
			return -EINVAL;
		}
		return htable_check_range("run", r->va, r->npages);
	case HTABLE_RUN_RESIDENT:
		if (r->flags || r->npages != 1 || r->seed || !r->samples ||
		    !r->duration_ms || r->duration_ms > 5000 || !r->max_samples ||
		    r->max_samples > HTABLE_MAX_SAMPLES) {
			htable_bad_input("run: bad resident request (%u ms, %u samples)",
					 r->duration_ms, r->max_samples);
			return -EINVAL;
		}
		return htable_check_range("run", r->va, 1);
	default:
		htable_bad_input("run: unknown mode %u", r->mode);
		return -EINVAL;
	}
}

/*
 * Copy @n samples of a resident window out to @to, in the ABI's form,
 * some at a time. Return: 0, or -EFAULT.
 */
static int htable_put_samples(struct htable_sample __user *to,
			      const struct window_sample *s, unsigned int n)
{
	struct htable_sample out[16];
	unsigned int i, k;

	for (; n; n -= k, to += k, s += k) {
		k = min_t(unsigned int, n, ARRAY_SIZE(out));
		memset(out, 0, sizeof(out));
		for (i = 0; i < k; i++) {
			out[i].t_ns = s[i].t_ns;
			out[i].value = s[i].value;
			if (s[i].flags & WINDOW_SAMPLE_FAULT)
				out[i].flags |= HTABLE_SAMPLE_FAULT;
			if (s[i].flags & WINDOW_SAMPLE_VALID)
				out[i].flags |= HTABLE_SAMPLE_VALID;
		}
		if (copy_to_user(to, out, k * sizeof(*out)))
			return -EFAULT;
	}
	return 0;
}

static long htable_ioc_run(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_run *r = karg;
	struct window_args a;
	int err;

	err = htable_check_run(r);
	if (err)
		return err;
	err = htable_result_writable(uarg, sizeof(*r));
	if (!err && r->mode == HTABLE_RUN_RESIDENT)
		err = htable_result_writable(u64_to_user_ptr(r->samples),
					     r->max_samples * sizeof(struct htable_sample));
	if (err)
		return err;
	a = (struct window_args){
		.cpu = r->cpu,
		.mode = r->mode == HTABLE_RUN_RESIDENT ? WINDOW_RESIDENT :
			WINDOW_VERIFY,
		.va = r->va,
		.npages = r->npages,
		.write = r->flags & HTABLE_RUN_WRITE,
		.duration_ms = r->duration_ms,
		.seed = r->seed,
		.max_samples = r->max_samples,
	};
	if (a.mode == WINDOW_RESIDENT) {
		a.samples = htable_should_fail(HTABLE_FAIL_SAMPLES) ? NULL :
			    kvcalloc(a.max_samples, sizeof(*a.samples), GFP_KERNEL);
		if (!a.samples)
			return -ENOMEM;
	}
	err = htable_window_run(hat, &a);
	if (err == -ENXIO)
		htable_bad_input("run: CPU %u is offline", r->cpu);
	if (!err && a.samples)
		err = htable_put_samples(u64_to_user_ptr(r->samples), a.samples,
					 a.nsamples);
	kvfree(a.samples);
	if (err)
		return err;
	r->nsamples = a.nsamples;
	r->verified = a.verified;
	r->mismatches = a.mismatches;
	r->faults = a.faults;
	r->first_fault_va = a.first_fault_va;
	r->first_mismatch_va = a.first_mismatch_va;
	r->reads = a.reads;
	r->valid_reads = a.valid_reads;
	r->clobbers = a.clobbers;
	r->elapsed_ns = a.elapsed_ns;
	r->watchdog = a.watchdog;
	return 0;
}

static long htable_ioc_sync(struct hat *hat, void *karg, void __user *uarg)
{
	unsigned long ref, mod;
	struct htable_sync *s = karg;
	int err;

	err = htable_check_request_out("sync", s->flags, HTABLE_SYNC_CLEAR,
				       s->reserved0, s->va, s->npages, uarg, sizeof(*s));
	if (!err)
		err = hat_pagesync(hat, s->va, s->npages, s->flags & HTABLE_SYNC_CLEAR,
				   &ref, &mod);
	if (err)
		return err;
	s->referenced = ref;
	s->modified = mod;
	return 0;
}

static long htable_ioc_reload(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_reload *r = karg;
	unsigned long reloaded;
	int err;

	err = htable_check_request_out("reload", r->flags, 0, r->reserved0, r->va,
				       r->npages, uarg, sizeof(*r));
	if (err)
		return err;
	err = hat_reload(hat, r->va, r->npages, &reloaded);
	trace_htable_reload(hat, NULL, r->va, r->npages, 0, err ? 0 : reloaded, err);
	if (err == -ENOMEM)
		HATSTAT_INC(hs_enomem);
	if (!err)
		r->reloaded = reloaded;
	return err;
}

static const struct file_operations htable_fops;

/* A SHARE or UNSHARE request: flags zero, a range of whole leaf tables. */
static int htable_check_share(const char *what, const struct htable_share *s)
{
	int err = htable_check_range(what, s->va, s->npages);

	if (err)
		return err;
	if (s->flags || ((s->va >> PAGE_SHIFT) | s->npages) & (HTABLE_2M_NPAGES - 1)) {
		htable_bad_input("%s: flags %#x, or [%#llx, +%llu pages) not whole 2 MiB",
				 what, s->flags, s->va, s->npages);
		return -EINVAL;
	}
	return 0;
}

static long htable_ioc_share(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_share *s = karg;
	unsigned long tables;
	struct file *owner;
	int err;

	err = htable_check_share("share", s);
	if (err)
		return err;
	owner = fget(s->owner_fd);
	if (!owner) {
		htable_bad_input("share: fd %d is not open", s->owner_fd);
		return -EBADF;
	}
	/* Only another open of this device names a hat. */
	if (owner->f_op != &htable_fops || owner->private_data == hat) {
		htable_bad_input("share: fd %d is not another %s", s->owner_fd,
				 HTABLE_DEV_PATH);
		fput(owner);
		return -EINVAL;
	}
	err = htable_result_writable(uarg, sizeof(*s));
	if (err) {
		fput(owner);
		return err;
	}
	/* The file reference keeps the owner's hat alive throughout. */
	err = hat_share(hat, owner->private_data, s->va, s->npages, &tables);
	trace_htable_share(hat, owner->private_data, s->va, s->npages, 1,
			   err ? 0 : tables, err);
	fput(owner);
	if (err == -ENOMEM)
		HATSTAT_INC(hs_enomem);
	else if (err && err != -EINTR)
		htable_bad_input("share: [%#llx, +%llu pages) refused (%d)", s->va,
				 s->npages, err);
	if (!err)
		s->tables = tables;
	return err;
}

static long htable_ioc_unshare(struct hat *hat, void *karg, void __user *uarg)
{
	struct htable_share *s = karg;
	unsigned long tables;
	int err;

	/* The range first, as for SHARE (uapi.rst gives the order). */
	err = htable_check_share("unshare", s);
	if (err)
		return err;
	if (s->owner_fd) {
		htable_bad_input("unshare: owner_fd must be zero");
		return -EINVAL;
	}
	err = htable_result_writable(uarg, sizeof(*s));
	if (err)
		return err;
	err = hat_unshare(hat, s->va, s->npages, &tables);
	trace_htable_unshare(hat, NULL, s->va, s->npages, 1, err ? 0 : tables, err);
	if (err == -ENOENT)
		htable_bad_input("unshare: [%#llx, +%llu pages) is not all shared",
				 s->va, s->npages);
	if (!err)
		s->tables = tables;
	return err;
}

/*
 * Each ioctl's handler works on a kernel copy of its argument: the
 * dispatcher copies it in for the commands that pass one (_IOC_WRITE),
 * and back out when the handler succeeded for those that return one
 * (_IOC_READ). A handler that changes the hat first makes sure, through
 * htable_result_writable(), that this copy-out can't fail.
 */
union htable_ioc_arg {
	struct htable_version	version;
	struct htable_map	map;
	struct htable_unmap	unmap;
	struct htable_probe	probe;
	struct htable_info	info;
	struct htable_check	check;
	struct htable_rw	rw;
	struct htable_run	run;
	struct htable_sync	sync;
	struct htable_reload	reload;
	struct htable_share	share;
};

struct htable_ioc {
	unsigned int	cmd;
	long		(*fn)(struct hat *hat, void *karg, void __user *uarg);
};

/* The table's entry for HTABLE_IOC_NAME: its number indexes htable_ioc_fn(). */
#define HTABLE_IOC_ENTRY(NAME, fn)					\
	[_IOC_NR(HTABLE_IOC_##NAME)] = { HTABLE_IOC_##NAME, htable_ioc_##fn }

static const struct htable_ioc htable_iocs[] = {
	HTABLE_IOC_ENTRY(VERSION, version), HTABLE_IOC_ENTRY(MAP, map),
	HTABLE_IOC_ENTRY(UNMAP, unmap), HTABLE_IOC_ENTRY(PROBE, probe),
	HTABLE_IOC_ENTRY(INFO, info), HTABLE_IOC_ENTRY(CHECK, check),
	HTABLE_IOC_ENTRY(RW, rw), HTABLE_IOC_ENTRY(RUN, run),
	HTABLE_IOC_ENTRY(SYNC, sync), HTABLE_IOC_ENTRY(RELOAD, reload),
	HTABLE_IOC_ENTRY(SHARE, share), HTABLE_IOC_ENTRY(UNSHARE, unshare),
};

static long htable_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	unsigned int nr = _IOC_NR(cmd), size = _IOC_SIZE(cmd);
	const struct htable_ioc *ioc = NULL;
	union htable_ioc_arg karg;
	long err;

	if (nr < ARRAY_SIZE(htable_iocs))
		ioc = &htable_iocs[array_index_nospec(nr, ARRAY_SIZE(htable_iocs))];
	/* The whole command must match: size and direction are the ABI's. */
	if (!ioc || !ioc->fn || ioc->cmd != cmd) {
		htable_bad_input("unknown ioctl %#x", cmd);
		return -ENOTTY;
	}
	if (!(_IOC_DIR(cmd) & _IOC_WRITE))
		memset(&karg, 0, size);
	else if (copy_from_user(&karg, uarg, size))
		return -EFAULT;
	err = ioc->fn(file->private_data, &karg, uarg);
	if (err || !(_IOC_DIR(cmd) & _IOC_READ))
		return err;
	return copy_to_user(uarg, &karg, size) ? -EFAULT : 0;
}

static const struct file_operations htable_fops = {
	.owner		= THIS_MODULE,
	.open		= htable_open,
	.release	= htable_release_file,
	.unlocked_ioctl	= htable_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice htable_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "htable",
	.fops	= &htable_fops,
	.mode	= 0600,
};

int htable_dev_init(void)
{
	return misc_register(&htable_miscdev);
}

void htable_dev_exit(void)
{
	misc_deregister(&htable_miscdev);
}
