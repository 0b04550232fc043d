// SPDX-License-Identifier: GPL-2.0
/*
 * A hat and its model around steals, for htable_steal_test: mapping
 * into the model, RELOAD of it, what PROBE, INFO, CHECK and RW must show
 * once tables were stolen, the counters the cases read, and the context
 * every fixture holds.
 */
#include "htable_steal.h"

/* The sum of the stolen column of the hats file, or -1. */
long long steal_hats_file_stolen(void)
{
	unsigned long owned;
	long long sum = 0;
	char line[256];
	unsigned int id;
	long stolen;
	FILE *f;
	int pid;

	f = fopen(HATS_PATH, "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f) || strncmp(line, "id pid owned_pages stolen", 25))
		sum = -1;
	while (sum >= 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %d %lu %ld", &id, &pid, &owned, &stolen) != 4) {
			sum = -1;
			break;
		}
		sum += stolen;
	}
	fclose(f);
	return sum;
}

/* MAP into @h and its model, learning the pfns: 0, -errno, or HT_BADOUT. */
int steal_map_model(struct ht_hat *h, __u64 va, __u64 npages, __u32 flags)
{
	int ret = ht_map(h->fd, va, npages, flags);

	if (ret)
		return ret;
	if (ht_model_insert(&h->m, va, npages, flags, 0, 0) ||
	    ht_model_learn(h->fd, &h->m, va, npages))
		return HT_BADOUT;
	return 0;
}

/* RELOAD every run of pages the model holds: 0 or -errno; sums reloaded. */
int steal_reload_model(struct ht_hat *h, __u64 *total)
{
	size_t i = 0, j;
	__u64 n;
	int ret;

	*total = 0;
	while (i < h->m.n) {
		for (j = i; j + 1 < h->m.n &&
		     h->m.pg[j + 1].va == h->m.pg[j].va + HT_PAGE_SIZE; j++)
			;
		ret = ht_reload(h->fd, h->m.pg[i].va, j - i + 1, &n);
		if (ret)
			return ret;
		*total += n;
		i = j + 1;
	}
	return 0;
}

/*
 * After steals: every page of the model is either mapped as the model says
 * (flags, the learned pfn, a sound PTE) or stolen, when PROBE shows
 * HTABLE_PROBE_OWNED alone with no level, pfn or PTE. *@stolen counts the
 * stolen pages. Returns mismatches.
 */
int steal_verify_stolen(struct ht_hat *h, __u64 *stolen)
{
	struct htable_probe p;
	int bad = 0, err;
	size_t i;

	*stolen = 0;
	for (i = 0; i < h->m.n && bad < 20; i++) {
		struct ht_page *pg = &h->m.pg[i];

		err = ht_probe(h->fd, pg->va, &p);
		if (err) {
			fprintf(stderr, "# PROBE va %#llx failed: %s\n", pg->va, strerror(-err));
			bad++;
			continue;
		}
		if (p.flags & HTABLE_PROBE_PRESENT) {
			bad += ht_verify_probe(h->fd, pg->va, pg);
			continue;
		}
		(*stolen)++;
		if (p.flags != HTABLE_PROBE_OWNED || p.level || p.pfn || p.pte) {
			fprintf(stderr,
				"# PROBE va %#llx: stolen page shows flags %#x level %u pfn %#llx pte %#llx\n",
				pg->va, p.flags, p.level, p.pfn, p.pte);
			bad++;
		}
	}
	return bad;
}

/*
 * INFO and CHECK of a hat that lost @stolen_pages translations of its
 * model: it still owns every page, maps the others, and CHECK is clean
 * and visits what INFO counts. Returns mismatches; INFO goes to @out.
 */
int steal_verify_info_stolen(struct ht_hat *h, __u64 stolen_pages,
			     struct htable_info *out)
{
	struct htable_info info;
	int bad = 0, err;

	err = ht_info(h->fd, &info);
	if (err) {
		fprintf(stderr, "# INFO failed: %s\n", strerror(-err));
		return 1;
	}
	if (info.owned_pages != h->m.n || info.mapped_pages != h->m.n - stolen_pages ||
	    info.valid[0] != info.mapped_pages) {
		fprintf(stderr,
			"# INFO: owned %llu mapped %llu valid[0] %llu; model %zu pages, %llu stolen\n",
			info.owned_pages, info.mapped_pages, info.valid[0], h->m.n,
			stolen_pages);
		bad++;
	}
	bad += ht_verify_check(h->fd, &info);
	if (out)
		*out = info;
	return bad;
}

/* The first CPU a window should use: 1 when it is online, else 0. */
__u32 steal_window_cpu(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
}

void steal_ctx_setup(struct steal_ctx *c)
{
	int i, fd;

	for (i = 0; i < MAX_HATS; i++)
		c->h[i].fd = -1;
	htable_knobs_reset();
	fd = htable_open_dev();
	c->err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	c->hats0 = htable_stat("hats");
	c->active0 = htable_stat("active_ptables");
}

void steal_ctx_teardown(struct steal_ctx *c)
{
	int i;

	htable_knobs_reset();
	for (i = 0; i < MAX_HATS; i++)
		ht_hat_close(&c->h[i]);
}

__u8 steal_data_byte(__u64 i, unsigned int j)
{
	return (__u8)(i * 251 + (i >> 8) * 17 + j * 13 + 0x5a);
}

/*
 * Read bytes 0..255 of the model's pages through the direct map: bytes
 * DATA_OFF.. hold what steal_data_byte() wrote. With @seed, word 0 holds what
 * VERIFY wrote (documented in Documentation/cr3.rst). Returns mismatches.
 */
int steal_check_data(struct ht_hat *h, int with_seed, __u64 seed)
{
	__u8 buf[DATA_OFF + DATA_LEN];
	int bad = 0, err;
	unsigned int j;
	size_t i;

	for (i = 0; i < h->m.n && bad < 10; i++) {
		const struct ht_page *pg = &h->m.pg[i];
		__u64 w0;

		err = ht_rw(h->fd, pg->va, buf, sizeof(buf), 0);
		if (err) {
			fprintf(stderr, "# RW read %#llx: %s\n", pg->va, strerror(-err));
			bad++;
			continue;
		}
		for (j = 0; j < DATA_LEN; j++) {
			if (buf[DATA_OFF + j] != steal_data_byte(i, j)) {
				fprintf(stderr, "# page %#llx byte %u: %#x, wrote %#x\n",
					pg->va, DATA_OFF + j, buf[DATA_OFF + j],
					steal_data_byte(i, j));
				bad++;
				break;
			}
		}
		memcpy(&w0, buf, sizeof(w0));
		if (with_seed && w0 != (seed ^ (pg->pfn << 16))) {
			fprintf(stderr, "# page %#llx word 0: %#llx, VERIFY writes %#llx\n",
				pg->va, w0, seed ^ (pg->pfn << 16));
			bad++;
		}
	}
	return bad;
}
