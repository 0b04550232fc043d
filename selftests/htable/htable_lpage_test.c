// SPDX-License-Identifier: GPL-2.0
/*
 * Large pages: MAP with HTABLE_MAP_2M and HTABLE_MAP_1G (ABI 1.1), every
 * conflict errno, aliases of a large page, partial unmap (which splits),
 * and the pages checked through the hardware in a VERIFY window, with the
 * A and D bits of the large entries read back by PROBE and SYNC.
 *
 * The truth comes from outside the calls under test: the raw entry PROBE
 * returns (PS bit, pfn alignment), the data read back with RW through the
 * direct map and, for 1 GiB, through the test's own mapping of the same
 * hugetlb memory; the pattern VERIFY leaves, computed here from the pfn;
 * and the CHECK ioctl's independent checker after every step.
 *
 * 1 GiB pages need pdpe1gb and a free 1 GiB hugetlb page. The test asks
 * the kernel for one at run time (nr_hugepages), which works in a guest
 * with a free, aligned GiB (the matrix row with 3 GiB of memory); without
 * one the 1 GiB test SKIPs and says why.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define LP_TIMEOUT	180
#define NP_2M		HTABLE_2M_NPAGES
#define NP_1G		HTABLE_1G_NPAGES
#define GOLDEN		0x9E3779B97F4A7C15ULL
#define PTE_A		_BITULL(5)
#define PTE_D		_BITULL(6)
#define PTE_PS		_BITULL(7)
#define NR_1G_PATH	"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
#define FREE_1G_PATH	"/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << 26)
#endif

/* Where the tests map: 1 GiB slots with nothing else in them. */
#define VA0		(4 * HT_SZ_1G)
#define VA1		(6 * HT_SZ_1G)
#define VAG		(8 * HT_SZ_1G)
#define VAG2		(10 * HT_SZ_1G)

static const unsigned int pat_word[] = { 0, 257, 511 };

static __u64 pattern(__u64 seed, __u64 pfn, __u64 word)
{
	return seed ^ (pfn << 16) ^ (word * GOLDEN);
}

static __u64 rd64(int fd, __u64 va)
{
	__u64 v = 0;

	if (ht_rw(fd, va, &v, sizeof(v), 0))
		return ~0ULL;
	return v;
}

static int wr64(int fd, __u64 va, __u64 v)
{
	return ht_rw(fd, va, &v, sizeof(v), HTABLE_RW_WRITE);
}

/* The CHECK ioctl finds nothing wrong: 0, else the number of errors. */
static long long check_sound(int fd)
{
	struct htable_check c;

	if (ht_check(fd, &c))
		return -1;
	if (c.errors)
		printf("# CHECK: %llu errors, first %u at %#llx\n",
		       (unsigned long long)c.errors, c.first_error,
		       (unsigned long long)c.first_va);
	return c.errors;
}

/* PROBE @va: present at @level; returns the pfn, or 0 (and says why). */
static __u64 probe_level(int fd, __u64 va, __u32 level)
{
	struct htable_probe p;

	if (ht_probe(fd, va, &p) || !(p.flags & HTABLE_PROBE_PRESENT)) {
		printf("# %#llx: not present\n", (unsigned long long)va);
		return 0;
	}
	if (p.level != level || !(p.pte & PTE_PS) != !level ||
	    HT_PTE_PFN(p.pte) & ((1ULL << (9 * level)) - 1) ||
	    p.pfn != HT_PTE_PFN(p.pte) + ((va & ((HT_PAGE_SIZE << (9 * level)) - 1)) >> 12)) {
		printf("# %#llx: level %u (want %u), pte %#llx, pfn %#llx\n",
		       (unsigned long long)va, p.level, level,
		       (unsigned long long)p.pte, (unsigned long long)p.pfn);
		return 0;
	}
	return p.pfn;
}

static int probe_absent(int fd, __u64 va)
{
	struct htable_probe p;

	return !ht_probe(fd, va, &p) && !(p.flags & (HTABLE_PROBE_PRESENT |
						     HTABLE_PROBE_OWNED));
}

static int map_req(int fd, __u64 va, __u64 npages, __u32 flags, __u64 alias_va,
		   __u64 alias_npages)
{
	return ht_map_alias(fd, va, npages, flags, alias_va, alias_npages);
}

/* INFO fields that a refused call must leave as they were. */
static int info_same(const struct htable_info *a, const struct htable_info *b)
{
	return !memcmp(a->tables, b->tables, sizeof(a->tables)) &&
	       !memcmp(a->valid, b->valid, sizeof(a->valid)) &&
	       a->locked == b->locked && a->mapped_pages == b->mapped_pages &&
	       a->owned_pages == b->owned_pages;
}

static int sync_req(int fd, __u64 va, __u64 npages, __u32 flags,
		    struct htable_sync *s)
{
	memset(s, 0, sizeof(*s));
	s->va = va;
	s->npages = npages;
	s->flags = flags;
	return ht_ioctl(fd, HTABLE_IOC_SYNC, s);
}

FIXTURE(lp) {
	int fd;
	int err;
};

FIXTURE_SETUP(lp)
{
	self->fd = htable_open_dev();
	self->err = errno;
}

FIXTURE_TEARDOWN(lp)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* 2 MiB pages: PS at level 1, no leaf table, every 4 KiB page owned. */
TEST_F_TIMEOUT(lp, map_2m, LP_TIMEOUT)
{
	int fd = self->fd;
	struct htable_version v;
	struct htable_info info;
	__u64 pfn, i;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_ioctl(fd, HTABLE_IOC_VERSION, &v));
	ASSERT_EQ(1, v.major);
	ASSERT_LE(1, v.minor);

	ASSERT_EQ(0, ht_map(fd, VA0, 2 * NP_2M, HTABLE_MAP_WRITE | HTABLE_MAP_2M));
	ASSERT_EQ(0, check_sound(fd));
	pfn = probe_level(fd, VA0, 1);
	ASSERT_NE(0, pfn);
	/* Every 4 KiB page of the first 2 MiB is the run that follows. */
	for (i = 0; i < NP_2M; i += 37)
		ASSERT_EQ(pfn + i, probe_level(fd, VA0 + i * HT_PAGE_SIZE, 1));
	ASSERT_NE(0, probe_level(fd, VA0 + HT_SZ_2M + 123, 1));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(0, info.tables[0]);
	ASSERT_EQ(1, info.tables[1]);
	ASSERT_EQ(2, info.valid[1]);
	ASSERT_EQ(2 * NP_2M, info.mapped_pages);
	ASSERT_EQ(2 * NP_2M, info.owned_pages);

	/* Fresh pages are zero; data written lands where PROBE says. */
	ASSERT_EQ(0, rd64(fd, VA0 + 77 * HT_PAGE_SIZE + 8));
	ASSERT_EQ(0, wr64(fd, VA0 + 77 * HT_PAGE_SIZE + 8, 0x1234));
	ASSERT_EQ(0x1234, rd64(fd, VA0 + 77 * HT_PAGE_SIZE + 8));

	ASSERT_EQ(0, ht_unmap(fd, VA0, 2 * NP_2M));
	ASSERT_EQ(0, ht_info(fd, &info));
	for (i = 0; i + 1 < info.levels; i++)
		ASSERT_EQ(0, info.tables[i]);
	ASSERT_EQ(0, info.owned_pages);
	ASSERT_TRUE(probe_absent(fd, VA0));
	ASSERT_EQ(0, check_sound(fd));
}

/* 4 KiB and 2 MiB pages side by side under one level-1 table. */
TEST_F_TIMEOUT(lp, mixed, LP_TIMEOUT)
{
	int fd = self->fd;
	struct htable_info info;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(fd, VA0, 16, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(0, ht_map(fd, VA0 + HT_SZ_2M, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_LOCK));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(0, ht_map(fd, VA0 + 4 * HT_SZ_2M, 3 * NP_2M, HTABLE_MAP_2M | HTABLE_MAP_EXEC));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(0, ht_map(fd, VA0 + 3 * HT_SZ_2M, 1, 0));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_NE(0, probe_level(fd, VA0 + 15 * HT_PAGE_SIZE, 0));
	ASSERT_NE(0, probe_level(fd, VA0 + HT_SZ_2M + 5, 1));
	ASSERT_NE(0, probe_level(fd, VA0 + 3 * HT_SZ_2M, 0));
	ASSERT_NE(0, probe_level(fd, VA0 + 6 * HT_SZ_2M + HT_SZ_2M - 1, 1));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(2, info.tables[0]);
	ASSERT_EQ(1, info.tables[1]);
	/* 2 links and 4 large pages in the level-1 table. */
	ASSERT_EQ(6, info.valid[1]);
	ASSERT_EQ(1, info.locked);
	ASSERT_EQ(17 + 4 * NP_2M, info.mapped_pages);
	ASSERT_EQ(17 + 4 * NP_2M, info.owned_pages);
	ASSERT_EQ(0, ht_unmap(fd, VA0 + HT_SZ_2M, NP_2M));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(0, info.locked);
}

/* Each refused map names its conflict and changes nothing. */
TEST_F_TIMEOUT(lp, conflicts, LP_TIMEOUT)
{
	int fd = self->fd;
	struct htable_info before, after;
	__u32 gb = ht_has_pdpe1gb() ? EINVAL : EOPNOTSUPP;
	const struct {
		const char *what;
		__u64 va, npages;
		__u32 flags;
		__u64 alias_va, alias_npages;
		int err;
	} c[] = {
		{ "4K inside 2M", VA0 + 5 * HT_PAGE_SIZE, 1, 0, 0, 0, EBUSY },
		{ "4K run out of 2M", VA0 + HT_SZ_2M - HT_PAGE_SIZE, 2, 0, 0, 0, EBUSY },
		{ "4K run into 2M", VA0 - HT_PAGE_SIZE, 2, 0, 0, 0, EEXIST },
		{ "2M over 4K", VA0 + HT_SZ_2M, NP_2M, HTABLE_MAP_2M, 0, 0, ENOTEMPTY },
		{ "4M over 4K", VA0 + 2 * HT_SZ_2M, 2 * NP_2M, HTABLE_MAP_2M, 0, 0,
		  ENOTEMPTY },
		{ "2M over 2M", VA0, NP_2M, HTABLE_MAP_2M, 0, 0, EEXIST },
		{ "4K over 4K", VA0 + HT_SZ_2M + HT_PAGE_SIZE, 1, 0, 0, 0, EEXIST },
		{ "2M unaligned va", VA1 + HT_PAGE_SIZE, NP_2M, HTABLE_MAP_2M, 0, 0, EINVAL },
		{ "2M odd npages", VA1, NP_2M + 1, HTABLE_MAP_2M, 0, 0, EINVAL },
		{ "2M and 1G", VA1, NP_1G, HTABLE_MAP_2M | HTABLE_MAP_1G, 0, 0, EINVAL },
		{ "1G not pinned", VA1, NP_1G, HTABLE_MAP_1G, 0, 0, gb },
		{ "2M alias unaligned", VA1, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_ALIAS,
		  VA0 + HT_PAGE_SIZE, NP_2M, EINVAL },
		/*
		 * A 4 KiB page, then the 2 MiB page's first 511: present, but
		 * not one aligned run (fresh 4 KiB pages may come in pfn
		 * order, so a source of 4 KiB pages alone could be a run).
		 */
		{ "2M alias of a 4K and part of a 2M", VA1, NP_2M,
		  HTABLE_MAP_2M | HTABLE_MAP_ALIAS, VA0 - HT_PAGE_SIZE, NP_2M, EINVAL },
		{ "2M alias of nothing", VA1, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_ALIAS,
		  VA1 + HT_SZ_2M, NP_2M, ENOENT },
		{ "pin with alias", VA1, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_PIN |
		  HTABLE_MAP_ALIAS, VA0, NP_2M, EINVAL },
		{ "pin of no memory", VA1, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_PIN,
		  HT_SZ_1G, 0, EFAULT },
	};
	unsigned int i;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(fd, VA0, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(fd, VA0 - HT_PAGE_SIZE, 1, 0));
	ASSERT_EQ(0, ht_map(fd, VA0 + HT_SZ_2M, 8, 0));
	ASSERT_EQ(0, ht_map(fd, VA0 + 3 * HT_SZ_2M + 7 * HT_PAGE_SIZE, 1, 0));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(0, ht_info(fd, &before));
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		int err = map_req(fd, c[i].va, c[i].npages, c[i].flags,
				  c[i].alias_va, c[i].alias_npages);

		EXPECT_EQ(-c[i].err, err) {
			TH_LOG("%s: got %d (%s), want %s", c[i].what, err,
			       strerror(-err), strerror(c[i].err));
		}
		ASSERT_EQ(0, ht_info(fd, &after));
		EXPECT_TRUE(info_same(&before, &after)) {
			TH_LOG("%s changed the hat", c[i].what);
		}
		ASSERT_EQ(0, check_sound(fd));
	}
	/* The large page is untouched: its data and its level. */
	ASSERT_NE(0, probe_level(fd, VA0 + 5 * HT_PAGE_SIZE, 1));
}

/* One 2 MiB backing page at several vas, at 2 MiB and at 4 KiB. */
TEST_F_TIMEOUT(lp, alias, LP_TIMEOUT)
{
	int fd = self->fd;
	__u64 pfn;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(fd, VA0, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	pfn = probe_level(fd, VA0, 1);
	ASSERT_NE(0, pfn);
	ASSERT_EQ(0, map_req(fd, VA1, 2 * NP_2M, HTABLE_MAP_2M | HTABLE_MAP_ALIAS,
			     VA0, NP_2M));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(pfn, probe_level(fd, VA1, 1));
	ASSERT_EQ(pfn + 9, probe_level(fd, VA1 + HT_SZ_2M + 9 * HT_PAGE_SIZE, 1));
	/* A 4 KiB alias of one page inside it. */
	ASSERT_EQ(0, map_req(fd, VA1 + 4 * HT_SZ_2M, 1, HTABLE_MAP_ALIAS,
			     VA0 + 300 * HT_PAGE_SIZE, 1));
	ASSERT_EQ(pfn + 300, probe_level(fd, VA1 + 4 * HT_SZ_2M, 0));
	ASSERT_EQ(0, check_sound(fd));
	/* Written through one va, read through the others. */
	ASSERT_EQ(0, wr64(fd, VA0 + 300 * HT_PAGE_SIZE + 16, 0xfeed));
	ASSERT_EQ(0xfeed, rd64(fd, VA1 + 300 * HT_PAGE_SIZE + 16));
	ASSERT_EQ(0xfeed, rd64(fd, VA1 + HT_SZ_2M + 300 * HT_PAGE_SIZE + 16));
	ASSERT_EQ(0xfeed, rd64(fd, VA1 + 4 * HT_SZ_2M + 16));
	/* The first mapping goes; the aliases keep the memory. */
	ASSERT_EQ(0, ht_unmap(fd, VA0, NP_2M));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(0xfeed, rd64(fd, VA1 + 300 * HT_PAGE_SIZE + 16));
	ASSERT_EQ(pfn, probe_level(fd, VA1, 1));
}

/*
 * A 4 KiB alias whose source runs from a 2 MiB page into the 4 KiB pages
 * of a split one: the source is read through the 2 MiB page's table first,
 * and must be looked up again where a lower table takes over (the fuzzer
 * found ENOENT there on the 6.12 row).
 */
TEST_F_TIMEOUT(lp, alias_across_a_split, LP_TIMEOUT)
{
	int fd = self->fd;
	__u64 pfn0, pfn1;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(fd, VA0, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(fd, VA0 + HT_SZ_2M, NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	/* Split the second: unmap a page far from its start. */
	ASSERT_EQ(0, ht_unmap(fd, VA0 + HT_SZ_2M + 100 * HT_PAGE_SIZE, 1));
	pfn0 = probe_level(fd, VA0 + HT_SZ_2M - 2 * HT_PAGE_SIZE, 1);
	pfn1 = probe_level(fd, VA0 + HT_SZ_2M, 0);
	ASSERT_NE(0, pfn0);
	ASSERT_NE(0, pfn1);
	ASSERT_EQ(0, map_req(fd, VA1, 7, HTABLE_MAP_ALIAS | HTABLE_MAP_WRITE,
			     VA0 + HT_SZ_2M - 2 * HT_PAGE_SIZE, 7));
	EXPECT_EQ(pfn0 + 1, probe_level(fd, VA1 + HT_PAGE_SIZE, 0));
	EXPECT_EQ(pfn1, probe_level(fd, VA1 + 2 * HT_PAGE_SIZE, 0));
	EXPECT_EQ(pfn1 + 4, probe_level(fd, VA1 + 6 * HT_PAGE_SIZE, 0));
	ASSERT_EQ(0, check_sound(fd));
}

/* Partial unmap splits the large page; the rest keeps its memory. */
TEST_F_TIMEOUT(lp, partial_unmap, LP_TIMEOUT)
{
	int fd = self->fd;
	struct htable_info info;
	__u64 pfn, i;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(fd, VA0, 2 * NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE |
			    HTABLE_MAP_LOCK));
	pfn = probe_level(fd, VA0, 1);
	ASSERT_NE(0, pfn);
	for (i = 0; i < NP_2M; i++)
		ASSERT_EQ(0, wr64(fd, VA0 + i * HT_PAGE_SIZE + 64, 0xd00d0000 + i));
	/* Three pages from the middle of the first 2 MiB page. */
	ASSERT_EQ(0, ht_unmap(fd, VA0 + 100 * HT_PAGE_SIZE, 3));
	ASSERT_EQ(0, check_sound(fd));
	for (i = 0; i < NP_2M; i++) {
		__u64 va = VA0 + i * HT_PAGE_SIZE;

		if (i >= 100 && i < 103) {
			ASSERT_TRUE(probe_absent(fd, va));
			continue;
		}
		ASSERT_EQ(pfn + i, probe_level(fd, va, 0));
		ASSERT_EQ(0xd00d0000 + i, rd64(fd, va + 64));
	}
	ASSERT_NE(0, probe_level(fd, VA0 + HT_SZ_2M, 1));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(1, info.tables[0]);
	ASSERT_EQ(NP_2M - 3, info.valid[0]);
	/* Every split entry keeps the lock; one large page stays locked. */
	ASSERT_EQ(NP_2M - 3 + 1, info.locked);
	ASSERT_EQ(2 * NP_2M - 3, info.mapped_pages);
	ASSERT_EQ(2 * NP_2M - 3, info.owned_pages);
	/* An unmap that ends inside the second page splits that one too. */
	ASSERT_EQ(0, ht_unmap(fd, VA0 + 103 * HT_PAGE_SIZE, NP_2M));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_NE(0, probe_level(fd, VA0 + HT_SZ_2M + 103 * HT_PAGE_SIZE, 0));
	ASSERT_TRUE(probe_absent(fd, VA0 + HT_SZ_2M + 102 * HT_PAGE_SIZE));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(2, info.tables[0]);
	ASSERT_EQ(2 * NP_2M - 3 - NP_2M, info.mapped_pages);
	/* A hole is refused before any split. */
	ASSERT_EQ(-ENOENT, ht_unmap(fd, VA0, NP_2M));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(0, ht_unmap(fd, VA0, 100));
	ASSERT_EQ(0, ht_unmap(fd, VA0 + HT_SZ_2M + 103 * HT_PAGE_SIZE, NP_2M - 103));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(0, info.owned_pages);
	ASSERT_EQ(0, info.tables[0] + info.tables[1]);
	ASSERT_EQ(0, check_sound(fd));
}

/* Check VERIFY's pattern in @n pages at @va through RW (direct map). */
static int patterns_match(int fd, __u64 va, __u64 n, __u64 seed)
{
	struct htable_probe p;
	unsigned int w;
	__u64 i;

	for (i = 0; i < n; i++) {
		if (ht_probe(fd, va + i * HT_PAGE_SIZE, &p))
			return 0;
		for (w = 0; w < ARRAY_SIZE(pat_word); w++) {
			__u64 got = rd64(fd, va + i * HT_PAGE_SIZE + pat_word[w] * 8);

			if (got != pattern(seed, p.pfn, pat_word[w])) {
				printf("# %#llx word %u: %#llx\n",
				       (unsigned long long)(va + i * HT_PAGE_SIZE),
				       pat_word[w], (unsigned long long)got);
				return 0;
			}
		}
	}
	return 1;
}

/* The hardware walks the large entries: data, then A and D on them. */
TEST_F_TIMEOUT(lp, cr3_verify, LP_TIMEOUT)
{
	int fd = self->fd;
	const __u64 n = 2 * NP_2M + 16, seed = 0x5eed5eed;
	struct htable_probe p;
	struct htable_sync s;
	struct htable_run r;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, ht_map(fd, VA0, 2 * NP_2M, HTABLE_MAP_2M | HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(fd, VA0 + 2 * HT_SZ_2M, 16, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(fd, VA1, NP_2M, HTABLE_MAP_2M));
	ASSERT_EQ(0, sync_req(fd, VA0, n, HTABLE_SYNC_CLEAR, &s));
	ASSERT_EQ(0, sync_req(fd, VA0, n, 0, &s));
	ASSERT_EQ(0, s.referenced);
	ASSERT_EQ(0, s.modified);

	/* Read only: every page verified, A set on each entry, D on none. */
	ASSERT_EQ(0, ht_run_verify(fd, 0, VA0, n, 0, seed, &r));
	ASSERT_EQ(n, r.verified);
	ASSERT_EQ(0, r.mismatches);
	ASSERT_EQ(0, r.faults);
	ASSERT_EQ(0, ht_probe(fd, VA0 + 3 * HT_PAGE_SIZE, &p));
	ASSERT_EQ(PTE_A | PTE_PS, p.pte & (PTE_A | PTE_D | PTE_PS));
	ASSERT_EQ(HTABLE_PROBE_ACCESSED, p.flags & HT_PROBE_HW);
	ASSERT_EQ(0, sync_req(fd, VA0, n, 0, &s));
	ASSERT_EQ(n, s.referenced);
	ASSERT_EQ(0, s.modified);
	/* Part of a large page counts its pages in the range only. */
	ASSERT_EQ(0, sync_req(fd, VA0 + 10 * HT_PAGE_SIZE, 20, 0, &s));
	ASSERT_EQ(20, s.referenced);

	/* Writing: D appears on the writable large entries. */
	ASSERT_EQ(0, sync_req(fd, VA0, n, HTABLE_SYNC_CLEAR, &s));
	ASSERT_EQ(0, ht_run_verify(fd, 1 % sysconf(_SC_NPROCESSORS_ONLN), VA0, n,
				   HTABLE_RUN_WRITE, seed, &r));
	ASSERT_EQ(n, r.verified);
	ASSERT_EQ(0, r.mismatches + r.faults);
	ASSERT_TRUE(patterns_match(fd, VA0, n, ~seed));
	ASSERT_EQ(0, ht_probe(fd, VA0 + HT_SZ_2M + 511 * HT_PAGE_SIZE, &p));
	ASSERT_EQ(PTE_A | PTE_D | PTE_PS, p.pte & (PTE_A | PTE_D | PTE_PS));
	ASSERT_EQ(0, sync_req(fd, VA0, n, HTABLE_SYNC_CLEAR, &s));
	ASSERT_EQ(n, s.referenced);
	ASSERT_EQ(n, s.modified);
	ASSERT_EQ(0, ht_probe(fd, VA0 + HT_SZ_2M, &p));
	ASSERT_EQ(0, p.pte & (PTE_A | PTE_D));

	/* A read-only large page is read, never written. */
	ASSERT_EQ(0, ht_run_verify(fd, 0, VA1, NP_2M, HTABLE_RUN_WRITE, seed, &r));
	ASSERT_EQ(NP_2M, r.verified);
	ASSERT_TRUE(patterns_match(fd, VA1, NP_2M, seed));
	ASSERT_EQ(0, sync_req(fd, VA1, NP_2M, 0, &s));
	ASSERT_EQ(NP_2M, s.referenced);
	ASSERT_EQ(0, s.modified);

	/* After a split, the hardware still finds every page. */
	ASSERT_EQ(0, ht_unmap(fd, VA0 + 7 * HT_PAGE_SIZE, 1));
	ASSERT_EQ(0, ht_run_verify(fd, 0, VA0 + 8 * HT_PAGE_SIZE, NP_2M - 8, 0, seed, &r));
	ASSERT_EQ(NP_2M - 8, r.verified);
	ASSERT_EQ(0, r.mismatches + r.faults);
	ASSERT_EQ(0, check_sound(fd));
}

/* Ask for one 1 GiB hugetlb page; returns how many there were, or -1. */
static long get_gig_page(void)
{
	long had = htable_knob_read(NR_1G_PATH);

	if (had < 0)
		return -1;
	if (htable_knob_read(FREE_1G_PATH) < 1)
		htable_knob_write(NR_1G_PATH, had + 1);
	return had;
}

/* 1 GiB pages from a pinned hugetlb page of the test's own memory. */
TEST_F_TIMEOUT(lp, map_1g, LP_TIMEOUT)
{
	int fd = self->fd;
	struct htable_info info;
	struct htable_run r;
	__u64 *mem;
	__u64 pfn, i;
	long had;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	if (!ht_has_pdpe1gb()) {
		ASSERT_EQ(-EOPNOTSUPP, ht_map(fd, VAG, NP_1G, HTABLE_MAP_1G));
		SKIP(return, "needs:1g no pdpe1gb: 1 GiB pages refused, as they must be");
	}
	had = get_gig_page();
	if (had < 0 || htable_knob_read(FREE_1G_PATH) < 1) {
		if (had >= 0)
			htable_knob_write(NR_1G_PATH, had);
		SKIP(return, "needs:1g no free 1 GiB hugetlb page: boot with %s",
		     "hugepagesz=1G hugepages=1 and 4 GiB");
	}
	mem = mmap(NULL, HT_SZ_1G, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (i = 0; i < 8; i++)
		mem[i * (HT_SZ_1G / 8 / 8) + 1] = 0xa11ce000 + i;

	ASSERT_EQ(0, map_req(fd, VAG, NP_1G, HTABLE_MAP_1G | HTABLE_MAP_WRITE |
			     HTABLE_MAP_PIN, (__u64)(unsigned long)mem, 0));
	ASSERT_EQ(0, check_sound(fd));
	pfn = probe_level(fd, VAG, 2);
	ASSERT_NE(0, pfn);
	ASSERT_EQ(pfn + NP_1G - 1, probe_level(fd, VAG + HT_SZ_1G - 1, 2));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(1, info.tables[2]);
	ASSERT_EQ(0, info.tables[1] + info.tables[0]);
	ASSERT_EQ(NP_1G, info.mapped_pages);
	/* The same memory: what the test wrote is what the hat maps. */
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0xa11ce000 + i, rd64(fd, VAG + i * (HT_SZ_1G / 8) + 8));
	ASSERT_EQ(0, wr64(fd, VAG + 12345 * HT_PAGE_SIZE, 0xb0b));
	ASSERT_EQ(0xb0b, mem[12345 * HT_PAGE_SIZE / 8]);

	/* Conflicts with a 1 GiB page. */
	ASSERT_EQ(-EBUSY, ht_map(fd, VAG + HT_SZ_2M, NP_2M, HTABLE_MAP_2M));
	ASSERT_EQ(0, ht_map(fd, VAG2 + 3 * HT_SZ_2M, NP_2M, HTABLE_MAP_2M));
	ASSERT_EQ(-ENOTEMPTY, map_req(fd, VAG2, NP_1G, HTABLE_MAP_1G | HTABLE_MAP_PIN,
				      (__u64)(unsigned long)mem, 0));
	ASSERT_EQ(-EINVAL, map_req(fd, VAG2 + HT_SZ_1G, NP_1G, HTABLE_MAP_1G |
				   HTABLE_MAP_PIN, (__u64)(unsigned long)mem + HT_SZ_2M, 0));
	ASSERT_EQ(0, ht_unmap(fd, VAG2 + 3 * HT_SZ_2M, NP_2M));
	ASSERT_EQ(0, check_sound(fd));

	/* An alias at 1 GiB, then the hardware through both (samples). */
	ASSERT_EQ(0, map_req(fd, VAG2, NP_1G, HTABLE_MAP_1G | HTABLE_MAP_ALIAS |
			     HTABLE_MAP_WRITE, VAG, NP_1G));
	ASSERT_EQ(pfn + 5, probe_level(fd, VAG2 + 5 * HT_PAGE_SIZE, 2));
	ASSERT_EQ(0, check_sound(fd));
	for (i = 0; i < 3; i++) {
		__u64 off = i * (HT_SZ_1G / 2 - 32 * HT_PAGE_SIZE);

		ASSERT_EQ(0, ht_run_verify(fd, 0, VAG + off, 64, HTABLE_RUN_WRITE, 77, &r));
		ASSERT_EQ(64, r.verified);
		ASSERT_EQ(0, r.mismatches + r.faults);
		/* The alias reaches the same pages, and so does the test. */
		ASSERT_EQ(0, ht_run_verify(fd, 0, VAG2 + off, 64, 0, ~77ULL, &r));
		ASSERT_EQ(64, r.verified);
		ASSERT_EQ(pattern(~77ULL, pfn + off / HT_PAGE_SIZE, 257),
			  mem[off / 8 + 257]);
	}
	ASSERT_EQ(0, ht_unmap(fd, VAG2, NP_1G));

	/* Partial unmap: 1 GiB splits to 2 MiB, then one 2 MiB to 4 KiB. */
	ASSERT_EQ(0, ht_unmap(fd, VAG + 3 * HT_SZ_2M + 5 * HT_PAGE_SIZE, 1));
	ASSERT_EQ(0, check_sound(fd));
	ASSERT_EQ(pfn, probe_level(fd, VAG, 1));
	ASSERT_EQ(pfn + 3 * NP_2M + 4, probe_level(fd, VAG + 3 * HT_SZ_2M + 4 * HT_PAGE_SIZE, 0));
	ASSERT_TRUE(probe_absent(fd, VAG + 3 * HT_SZ_2M + 5 * HT_PAGE_SIZE));
	ASSERT_EQ(0, ht_info(fd, &info));
	ASSERT_EQ(1, info.tables[1]);
	ASSERT_EQ(1, info.tables[0]);
	ASSERT_EQ(NP_1G - 1, info.mapped_pages);
	ASSERT_EQ(0xb0b, rd64(fd, VAG + 12345 * HT_PAGE_SIZE));
	ASSERT_EQ(0, ht_run_verify(fd, 0, VAG + 3 * HT_SZ_2M + 6 * HT_PAGE_SIZE, 64, 0, 9, &r));
	ASSERT_EQ(64, r.verified);

	/* The pin lasts while the hat maps any of it, not longer. */
	ASSERT_EQ(0, munmap(mem, HT_SZ_1G));
	ASSERT_EQ(0, htable_knob_read(FREE_1G_PATH));
	ASSERT_EQ(0, ht_unmap(fd, VAG, 3 * NP_2M + 5));
	ASSERT_EQ(0, htable_knob_read(FREE_1G_PATH));
	ASSERT_EQ(0, ht_unmap(fd, VAG + 3 * HT_SZ_2M + 6 * HT_PAGE_SIZE,
			      NP_1G - 3 * NP_2M - 6));
	ASSERT_EQ(1, htable_knob_read(FREE_1G_PATH));
	ASSERT_EQ(0, check_sound(fd));
	htable_knob_write(NR_1G_PATH, had);
}

TEST_HARNESS_MAIN
