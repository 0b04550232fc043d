// SPDX-License-Identifier: GPL-2.0
/*
 * What a VERIFY window leaves in the pages, for htable_cr3_test: the
 * pattern it writes, the fill the test writes around it, reading a page
 * back through the direct map, and the A and D bits PROBE shows with
 * the raw PTE.
 */
#include "htable_cr3.h"

#define GOLDEN		0x9E3779B97F4A7C15ULL
#define WORDS		(HT_PAGE_SIZE / sizeof(__u64))
#define PTE_A		_BITULL(5)
#define PTE_D		_BITULL(6)

/* The words VERIFY writes its pattern into (u64 index). */
static const unsigned int pat_word[] = { 0, 257, 511 };

/* The pattern VERIFY writes: all u64 arithmetic, wrapping. */
static __u64 pattern(__u64 seed, __u64 pfn, __u64 word)
{
	return seed ^ (pfn << 16) ^ (word * GOLDEN);
}

static int is_pat_word(unsigned int w)
{
	return w == pat_word[0] || w == pat_word[1] || w == pat_word[2];
}

/* What the test writes into every other word of a page at @va. */
static __u64 fill_word(__u64 va, unsigned int w)
{
	return 0x0123456789abcdefULL ^ va ^ w;
}

/* PROBE @va: the pfn of a present, owned page, or 0 (and a message). */
static __u64 pfn_of(int fd, __u64 va)
{
	struct htable_probe p;

	if (ht_probe(fd, va, &p) ||
	    (p.flags & (HTABLE_PROBE_PRESENT | HTABLE_PROBE_OWNED)) !=
	    (HTABLE_PROBE_PRESENT | HTABLE_PROBE_OWNED)) {
		fprintf(stderr, "# PROBE %#llx: flags %#x (%s)\n", va, p.flags,
			strerror(errno));
		return 0;
	}
	return p.pfn;
}

/* Fill the @n pages at @va (all the hat's) with fill_word(): 0 or -errno. */
int cr3_fill_pages(int fd, __u64 va, __u64 n)
{
	__u64 buf[WORDS];
	__u64 i;
	unsigned int w;
	int ret;

	for (i = 0; i < n; i++, va += HT_PAGE_SIZE) {
		for (w = 0; w < WORDS; w++)
			buf[w] = fill_word(va, w);
		ret = ht_rw(fd, va, buf, sizeof(buf), HTABLE_RW_WRITE);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Read the page at @va through the direct map: its pattern words must
 * hold pattern(@seed, its pfn), and, when @filled, every other word the
 * fill the test wrote there from @fill_va. Returns the number of words
 * that differ (1 when the page cannot be read).
 */
int cr3_check_page(int fd, __u64 va, __u64 seed, int filled, __u64 fill_va)
{
	__u64 buf[WORDS];
	__u64 pfn = pfn_of(fd, va);
	unsigned int w;
	int ret, bad = 0;

	if (!pfn)
		return 1;
	memset(buf, 0, sizeof(buf));
	ret = ht_rw(fd, va, buf, sizeof(buf), 0);
	if (ret) {
		fprintf(stderr, "# RW read %#llx: %s\n", va, strerror(-ret));
		return 1;
	}
	for (w = 0; w < WORDS; w++) {
		__u64 want;

		if (is_pat_word(w))
			want = pattern(seed, pfn, w);
		else if (filled)
			want = fill_word(fill_va, w);
		else
			continue;
		if (buf[w] != want) {
			if (bad < 3)
				fprintf(stderr,
					"# va %#llx pfn %#llx word %u: %#llx, want %#llx\n",
					va, pfn, w, buf[w], want);
			bad++;
		}
	}
	return bad;
}

/*
 * PROBE's A and D for @va, cross-checked with the raw PTE: the
 * HTABLE_PROBE_ACCESSED/DIRTY bits, or -1 (and a message).
 */
int cr3_ad_of(int fd, __u64 va)
{
	struct htable_probe p;
	int ad;

	if (ht_probe(fd, va, &p) || !(p.flags & HTABLE_PROBE_PRESENT)) {
		fprintf(stderr, "# PROBE %#llx: not present\n", va);
		return -1;
	}
	ad = p.flags & HT_PROBE_HW;
	if (!!(ad & HTABLE_PROBE_ACCESSED) != !!(p.pte & PTE_A) ||
	    !!(ad & HTABLE_PROBE_DIRTY) != !!(p.pte & PTE_D)) {
		fprintf(stderr, "# PROBE %#llx: flags %#x but pte %#llx\n", va,
			p.flags, p.pte);
		return -1;
	}
	return ad;
}

/* Pages of [va, va + n pages) whose A/D bits are not @want. */
int cr3_ad_expect(int fd, __u64 va, __u64 n, int want)
{
	int bad = 0;
	__u64 i;

	for (i = 0; i < n; i++) {
		int ad = cr3_ad_of(fd, va + i * HT_PAGE_SIZE);

		if (ad != want) {
			if (bad < 3)
				fprintf(stderr, "# va %#llx: A/D %#x, want %#x\n",
					va + i * HT_PAGE_SIZE, ad, want);
			bad++;
		}
	}
	return bad;
}
