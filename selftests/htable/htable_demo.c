// SPDX-License-Identifier: GPL-2.0
/*
 * The workload of `make demo`: one hat maps a few thousand pages across the
 * 4 GiB boundary, probes some, shows the tree it built, checks it with the
 * independent checker, and unmaps half; a second hat aliases one page many
 * times; a third maps 1 GiB with 2 MiB pages and shows how few tables that
 * takes. The counters printed afterwards move accordingly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <uapi/htable.h>

#define GIB	0x40000000ULL
#define PAGE	4096ULL

static int xioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(fd, cmd, arg)) {
		fprintf(stderr, "%s: %s\n", what, strerror(errno));
		return -1;
	}
	return 0;
}

static void show_info(int fd, const char *when)
{
	struct htable_info info;
	unsigned int l;

	if (xioctl(fd, HTABLE_IOC_INFO, &info, "INFO"))
		return;
	printf("%-22s tables per level (L0..L%u):", when, info.levels - 1);
	for (l = 0; l < info.levels; l++)
		printf(" %llu", (unsigned long long)info.tables[l]);
	printf("; %llu pages mapped, %llu locked, %llu cached tables\n",
	       (unsigned long long)info.mapped_pages,
	       (unsigned long long)info.locked,
	       (unsigned long long)info.cached);
}

static int check(int fd)
{
	struct htable_check c;

	if (xioctl(fd, HTABLE_IOC_CHECK, &c, "CHECK"))
		return -1;
	printf("CHECK: %llu errors over %llu tables, %llu entries\n",
	       (unsigned long long)c.errors, (unsigned long long)c.tables,
	       (unsigned long long)c.entries);
	return c.errors ? -1 : 0;
}

/*
 * Load the hat into CR3 on CPU 1 (CPU 0 if it is alone): the MMU walks its
 * tables while every page is read and written through them. Then gather
 * the Accessed/Dirty bits the MMU set.
 */
static int window(int fd, unsigned long long va, unsigned long long npages)
{
	struct htable_run r = {
		.cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1, .mode = HTABLE_RUN_VERIFY,
		.va = va, .npages = npages, .flags = HTABLE_RUN_WRITE,
		.seed = 0x5eed,
	};
	struct htable_sync s = { .va = va, .npages = npages };

	if (xioctl(fd, HTABLE_IOC_RUN, &r, "RUN"))
		return -1;
	printf("CR3 live on CPU %u: %llu pages verified through the MMU, ",
	       r.cpu, (unsigned long long)r.verified);
	printf("%llu mismatches, %llu faults, %llu us\n",
	       (unsigned long long)r.mismatches, (unsigned long long)r.faults,
	       (unsigned long long)r.elapsed_ns / 1000);
	if (xioctl(fd, HTABLE_IOC_SYNC, &s, "SYNC"))
		return -1;
	printf("A/D bits set by the MMU: %llu pages accessed, %llu dirty\n",
	       (unsigned long long)s.referenced, (unsigned long long)s.modified);
	return r.verified == npages && !r.mismatches && !r.faults ? 0 : -1;
}

static long long stat(const char *name)
{
	char key[64];
	long long v, found = -1;
	FILE *f = fopen("/sys/kernel/debug/htable/stats", "r");

	while (f && fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	if (f)
		fclose(f);
	return found;
}

static int knob(const char *name, long long v)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/htable/%s", name);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%lld\n", v) < 0) {
		perror(path);
		return -1;
	}
	return fclose(f);
}

/*
 * Memory pressure, made on demand: cap the page tables, map past the cap
 * in @fd2 so that htable_steal() takes tables from @fd's idle mappings,
 * rebuild what was stolen from the hat's page record, then let the
 * shrinker reap the free tables.
 */
static int reap_by_shrinker(void)
{
	long long reaped = stat("hs_reaped");
	FILE *f = fopen("/proc/sys/vm/drop_caches", "w");

	if (!f || fputs("2\n", f) < 0 || fclose(f))
		return -1;
	printf("%s: the shrinker reaped %lld tables (cached ones first, then idle ones)\n",
	       "echo 2 > drop_caches", stat("hs_reaped") - reaped);
	return 0;
}

static int pressure(int fd, int fd2)
{
	struct htable_map m = { .va = 8 * GIB, .npages = 3 * 512,
				.flags = HTABLE_MAP_WRITE };
	struct htable_reload rl = { .va = 4 * GIB, .npages = 2048 };
	struct htable_probe p = { .va = 4 * GIB };
	struct htable_unmap u = { .va = 8 * GIB, .npages = 3 * 512 };
	struct htable_info info;
	long long steals, stolen;

	/* Free exactly the cached tables, so the steals below take live ones. */
	if (knob("reap", stat("cached_tables")))
		return -1;
	if (xioctl(fd, HTABLE_IOC_INFO, &info, "INFO"))
		return -1;
	stolen = info.stolen;
	steals = stat("hs_steals");
	if (knob("ptable_cap", stat("active_ptables")))
		return -1;
	if (xioctl(fd2, HTABLE_IOC_MAP, &m, "MAP past the cap"))
		return -1;
	knob("ptable_cap", 0);
	if (xioctl(fd, HTABLE_IOC_INFO, &info, "INFO") ||
	    xioctl(fd, HTABLE_IOC_PROBE, &p, "PROBE"))
		return -1;
	printf("cap = tables in use; hat 2 maps 1536 more pages: ");
	printf("%lld steals took %lld tables from hat 1\n",
	       stat("hs_steals") - steals, (long long)info.stolen - stolen);
	printf("hat 1 at %#llx: flags %#x (owned, no translation: stolen)\n",
	       (unsigned long long)p.va, p.flags);
	show_info(fd, "hat 1 after the steal:");
	if (xioctl(fd, HTABLE_IOC_RELOAD, &rl, "RELOAD"))
		return -1;
	printf("hat 1 reloaded %llu translations from its page record\n",
	       (unsigned long long)rl.reloaded);
	/* Each rebuilt translation must reach the page the record names. */
	if (window(fd, 4 * GIB, 2048))
		return -1;
	/* Unmapping leaves free tables in hat 2's cache; the shrinker reaps them. */
	if (xioctl(fd2, HTABLE_IOC_UNMAP, &u, "UNMAP"))
		return -1;
	return reap_by_shrinker();
}

/*
 * 1 GiB of 2 MiB pages in a third hat: one real 2 MiB page, aliased at
 * the 511 other 2 MiB slots (the guest may have only 1 GiB of memory).
 * One level-1 table holds all 512 entries; 4 KiB pages would need 512
 * leaf tables more.
 */
static int large_pages(int fd)
{
	struct htable_map m = { .va = 2 * GIB, .npages = 512,
				.flags = HTABLE_MAP_WRITE | HTABLE_MAP_2M };
	struct htable_map a = { .va = 2 * GIB + 512 * PAGE, .npages = 511 * 512,
				.flags = HTABLE_MAP_WRITE | HTABLE_MAP_2M |
					 HTABLE_MAP_ALIAS,
				.alias_va = 2 * GIB, .alias_npages = 512 };
	struct htable_unmap u = { .va = 2 * GIB, .npages = 512 * 512 };
	struct htable_probe p = { .va = 3 * GIB - 1 };
	struct htable_info info;

	if (xioctl(fd, HTABLE_IOC_MAP, &m, "MAP 2M") ||
	    xioctl(fd, HTABLE_IOC_MAP, &a, "MAP 2M alias") ||
	    xioctl(fd, HTABLE_IOC_INFO, &info, "INFO") ||
	    xioctl(fd, HTABLE_IOC_PROBE, &p, "PROBE"))
		return -1;
	printf("hat 3 maps 1 GiB at %#llx with 512 pages of 2 MiB: %llu tables in all\n",
	       (unsigned long long)m.va, (unsigned long long)(info.tables[0] + info.tables[1] +
					  info.tables[2] + info.tables[3] +
					  info.tables[4]));
	show_info(fd, "hat 3, 2 MiB pages:");
	printf("  (with 4 KiB pages: 512 more leaf tables, 2 MiB of them)\n");
	printf("probe %#llx: level %u pfn %#llx pte %#018llx (PS set)\n",
	       (unsigned long long)p.va, p.level, (unsigned long long)p.pfn,
	       (unsigned long long)p.pte);
	if (check(fd) || window(fd, 3 * GIB - 64 * PAGE, 64))
		return -1;
	/* Unmapping one 4 KiB page splits its 2 MiB page: one leaf table. */
	u.va = 2 * GIB + 5 * PAGE;
	u.npages = 1;
	if (xioctl(fd, HTABLE_IOC_UNMAP, &u, "UNMAP 4K"))
		return -1;
	show_info(fd, "hat 3, one page split:");
	if (check(fd))
		return -1;
	return 0;
}

int main(void)
{
	struct htable_map m = {
		.va = 4 * GIB - 2048 * PAGE, .npages = 4096,
		.flags = HTABLE_MAP_WRITE,
	};
	struct htable_unmap u = { .va = 4 * GIB - 2048 * PAGE, .npages = 2048 };
	struct htable_probe p;
	int fd, fd2, fd3, i;

	fd = open(HTABLE_DEV_PATH, O_RDWR);
	fd2 = open(HTABLE_DEV_PATH, O_RDWR);
	if (fd < 0 || fd2 < 0) {
		perror(HTABLE_DEV_PATH);
		return 1;
	}
	show_info(fd, "new hat:");
	if (xioctl(fd, HTABLE_IOC_MAP, &m, "MAP"))
		return 1;
	printf("mapped %llu pages at %#llx (across the 4 GiB boundary)\n",
	       (unsigned long long)m.mapped, (unsigned long long)m.va);
	show_info(fd, "after map:");
	for (i = 0; i < 3; i++) {
		p.va = m.va + i * 2047 * PAGE;
		if (xioctl(fd, HTABLE_IOC_PROBE, &p, "PROBE"))
			return 1;
		printf("probe %#llx: flags %#x level %u pfn %#llx pte %#018llx\n",
		       (unsigned long long)p.va, p.flags, p.level,
		       (unsigned long long)p.pfn, (unsigned long long)p.pte);
	}
	if (check(fd))
		return 1;
	if (xioctl(fd, HTABLE_IOC_UNMAP, &u, "UNMAP"))
		return 1;
	printf("unmapped %llu pages below 4 GiB\n", (unsigned long long)u.unmapped);
	show_info(fd, "after unmap:");
	if (check(fd))
		return 1;
	if (window(fd, 4 * GIB, 2048))
		return 1;

	/* A second hat: one real page, aliased at 511 more vas. */
	m = (struct htable_map){ .va = GIB, .npages = 1, .flags = HTABLE_MAP_WRITE };
	if (xioctl(fd2, HTABLE_IOC_MAP, &m, "MAP"))
		return 1;
	m = (struct htable_map){ .va = GIB + PAGE, .npages = 511,
				 .flags = HTABLE_MAP_ALIAS, .alias_va = GIB,
				 .alias_npages = 1 };
	if (xioctl(fd2, HTABLE_IOC_MAP, &m, "MAP alias"))
		return 1;
	show_info(fd2, "hat 2, aliased:");
	if (check(fd2))
		return 1;
	if (pressure(fd, fd2) || check(fd) || check(fd2))
		return 1;
	fd3 = open(HTABLE_DEV_PATH, O_RDWR);
	if (fd3 < 0 || large_pages(fd3))
		return 1;
	close(fd3);
	close(fd);
	close(fd2);
	return 0;
}
