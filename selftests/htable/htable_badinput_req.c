// SPDX-License-Identifier: GPL-2.0
/*
 * Requests for htable_badinput_map_test and htable_badinput_test: a MAP
 * or UNMAP case and a RELOAD, SYNC, SHARE or UNSHARE case issued as
 * written, the debugfs counters around them, RELOAD of a whole model, and
 * a buffer that runs into a hole.
 */
#include <sys/mman.h>

#include "htable_badinput.h"

int bad_issue(const struct ht_hat *h, const struct bad_case *c)
{
	struct htable_map m = c->m;

	if (c->unmap) {
		struct htable_unmap u = {
			.va = m.va,
			.npages = m.npages,
			.flags = m.flags,
			.reserved0 = m.reserved0,
		};

		return ht_unmap_req(h->fd, &u);
	}
	return ht_map_req(h->fd, &m);
}

/*
 * The counters @names from one read of debugfs stats into @v (-1 when
 * missing): the file sums per-CPU counters on each read, which is slow
 * on the debug kernel.
 */
void bad_stats(const char * const *names, size_t n, long long *v)
{
	char key[128];
	long long val;
	size_t i;
	FILE *f = fopen(HTABLE_STATS_PATH, "r");

	for (i = 0; i < n; i++)
		v[i] = -1;
	while (f && fscanf(f, "%127s %lld", key, &val) == 2)
		for (i = 0; i < n; i++)
			if (!strcmp(key, names[i]))
				v[i] = val;
	if (f)
		fclose(f);
}

static int req_fd(const struct ht_hat *h, const struct req_fds *f, int fd)
{
	switch (fd) {
	case OWNER_FD:
		return f->owner;
	case SELF_FD:
		return h->fd;
	case NULL_FD:
		return f->devnull;
	}
	return fd;
}

/* Issue @c; *@written says the out field written on success only was. */
int bad_issue_req(const struct ht_hat *h, const struct req_fds *f,
		  const struct req_case *c, int *written)
{
	struct htable_reload rl = {
		.va = c->va, .npages = c->npages, .flags = c->flags,
		.reserved0 = c->reserved0, .reloaded = POISON,
	};
	struct htable_sync sy = {
		.va = c->va, .npages = c->npages, .flags = c->flags,
		.reserved0 = c->reserved0, .referenced = POISON, .modified = POISON,
	};
	struct htable_share sh = {
		.owner_fd = req_fd(h, f, c->owner_fd), .flags = c->flags,
		.va = c->va, .npages = c->npages, .tables = POISON,
	};
	void *arg = c->cmd == HTABLE_IOC_RELOAD ? (void *)&rl :
		    c->cmd == HTABLE_IOC_SYNC ? (void *)&sy : (void *)&sh;
	int ret = ht_ioctl(h->fd, c->cmd, arg);

	*written = rl.reloaded != POISON || sh.tables != POISON;
	return ret;
}

const char *bad_cmd_name(unsigned long cmd)
{
	switch (cmd) {
	case HTABLE_IOC_RELOAD:
		return "RELOAD";
	case HTABLE_IOC_SYNC:
		return "SYNC";
	case HTABLE_IOC_SHARE:
		return "SHARE";
	case HTABLE_IOC_UNSHARE:
		return "UNSHARE";
	}
	return "?";
}

/* RELOAD of each mapped run of the model: 0, or -errno. */
int bad_reload_all(const struct ht_hat *h)
{
	size_t i = 0, j;
	int ret;

	while (i < h->m.n) {
		struct htable_reload r = { .va = h->m.pg[i].va };

		for (j = i; j + 1 < h->m.n &&
		     h->m.pg[j + 1].va == h->m.pg[j].va + HT_PAGE_SIZE; j++)
			;
		r.npages = j - i + 1;
		ret = ht_ioctl(h->fd, HTABLE_IOC_RELOAD, &r);
		if (ret)
			return ret;
		i = j + 1;
	}
	return 0;
}

/*
 * Two pages: the first read-write, the second PROT_NONE (a hole no later
 * mmap() can fill). A structure placed 8 bytes before the end of the
 * first runs into the hole, so the module can copy none of it whole.
 */
char *bad_two_pages_one_hole(void)
{
	char *p = mmap(NULL, 2 * HT_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, HT_PAGE_SIZE);
	if (mprotect(p + HT_PAGE_SIZE, HT_PAGE_SIZE, PROT_NONE))
		return NULL;
	return p;
}
