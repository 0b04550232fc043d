// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of htable_cr3_values() (include/htable/cr3.h): the CR3
 * values of a window, with PCID and without. QEMU TCG never sets
 * CR4.PCIDE, so this is the only place the PCID case runs.
 */
#include "kselftest_harness.h"
#include <htable/cr3.h>

/* 8 KiB-aligned top tables, as ptable_alloc(1) returns them. */
static const __u64 tables[] = {
	0x2000ULL, 0x1234566000ULL, 0xffffffffe000ULL, 0xfffffffffe000ULL,
};

/* CR3 values the kernel may have loaded: PCID 0, kernel ASIDs 1..6. */
static const __u64 saved[] = {
	0x1000000ULL, 0x1000001ULL, 0x2345678006ULL, 0x7ffff000ULL | 3,
};

TEST(no_pcid_is_plain)
{
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		for (j = 0; j < ARRAY_SIZE(saved); j++) {
			struct htable_cr3 v = htable_cr3_values(tables[i], saved[j],
								false, true);
			struct htable_cr3 w = htable_cr3_values(tables[i], saved[j],
								false, false);

			EXPECT_EQ(tables[i], v.load);
			EXPECT_EQ(saved[j], v.restore);
			EXPECT_EQ(tables[i], w.load);
			EXPECT_EQ(saved[j], w.restore);
		}
	}
}

TEST(pcid_load_is_clean_and_pti_safe)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		struct htable_cr3 v = htable_cr3_values(tables[i], saved[0], true, true);
		__u64 pcid = v.load & HTABLE_CR3_PCID_MASK;

		/* The table address is intact. */
		EXPECT_EQ(tables[i], v.load & ~HTABLE_CR3_PCID_MASK);
		/* No NOFLUSH: the hat's PCID starts with no stale entry. */
		EXPECT_EQ(0, v.load & HTABLE_CR3_NOFLUSH);
		/* PTI masks bits 11 and 12; neither may be set. */
		EXPECT_EQ(0, v.load & (1ULL << 11));
		EXPECT_EQ(0, v.load & (1ULL << 12));
		/* Not a PCID the kernel uses (ASID + 1 for ASIDs 0..5), nor 0. */
		EXPECT_GT(pcid, 6);
	}
}

TEST(pcid_restore_keeps_kernel_translations)
{
	unsigned int j;

	for (j = 0; j < ARRAY_SIZE(saved); j++) {
		struct htable_cr3 v = htable_cr3_values(tables[1], saved[j], true, true);

		/* NOFLUSH set, and otherwise exactly what the kernel had. */
		EXPECT_EQ(HTABLE_CR3_NOFLUSH, v.restore & HTABLE_CR3_NOFLUSH);
		EXPECT_EQ(saved[j], v.restore & ~HTABLE_CR3_NOFLUSH);
	}
}

/*
 * After a window with interrupts on, a flush IPI for the kernel's PCID may
 * have acted on the hat's PCID instead: the restore must flush.
 */
TEST(pcid_restore_flushes_after_irqs_on)
{
	unsigned int j;

	for (j = 0; j < ARRAY_SIZE(saved); j++) {
		struct htable_cr3 v = htable_cr3_values(tables[1], saved[j], true, false);

		EXPECT_EQ(saved[j], v.restore);
		EXPECT_EQ(tables[1] | HTABLE_CR3_PCID, v.load);
	}
}

TEST(pcid_differs_from_the_kernels)
{
	struct htable_cr3 v = htable_cr3_values(tables[1], saved[2], true, true);

	EXPECT_NE(saved[2] & HTABLE_CR3_PCID_MASK, v.load & HTABLE_CR3_PCID_MASK);
}

TEST_HARNESS_MAIN
