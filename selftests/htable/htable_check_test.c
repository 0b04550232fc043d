// SPDX-License-Identifier: GPL-2.0
/*
 * The checker is shown to catch what it claims. Every other test trusts
 * HTABLE_IOC_CHECK to say 0 errors only for a sound hat; here each
 * invariant it guards is broken on purpose, through the debugfs knob
 * corrupt/<id> (Documentation/debugfs.rst), and CHECK must report exactly
 * that HTABLE_CHECK_* code at exactly the va the corruption touched. A
 * window must refuse the corrupted hat (EUCLEAN). Then the hat either
 * recovers (the knob puts the invariant back, and CHECK and a window are
 * clean again) or is closed while corrupted, which must free everything
 * (active_ptables back where it was; the row's kernel log and kmemleak
 * judge the rest).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "htable_test.h"

#define CORRUPT_FMT	"/sys/kernel/debug/htable/corrupt/%ld"

/* The hat's layout: A fills one leaf table, B is a second one, C is cached. */
#define VA_A		0x40000000ULL
#define NP_A		512
#define VA_B		(VA_A + HT_SZ_2M)
#define NP_B		4
#define VA_C		0x80000000ULL

FIXTURE(corrupt) {
	int fd, err;
	long id;
	char path[64];
	long long ptables0;
};

FIXTURE_VARIANT(corrupt) {
	unsigned int code;
	__u64 va;	/* where the corruption is asked for */
	__u64 report;	/* the va CHECK must name */
};

FIXTURE_VARIANT_ADD(corrupt, valid_cnt) {
	.code = HTABLE_CHECK_VALID_CNT, .va = VA_A + 0x5000, .report = VA_A,
};

FIXTURE_VARIANT_ADD(corrupt, lock_cnt) {
	.code = HTABLE_CHECK_LOCK_CNT, .va = VA_A, .report = VA_A,
};

FIXTURE_VARIANT_ADD(corrupt, parent) {
	.code = HTABLE_CHECK_PARENT, .va = VA_A, .report = VA_A,
};

FIXTURE_VARIANT_ADD(corrupt, hash) {
	.code = HTABLE_CHECK_HASH, .va = VA_A, .report = VA_A,
};

FIXTURE_VARIANT_ADD(corrupt, unowned) {
	.code = HTABLE_CHECK_UNOWNED, .va = VA_A + 0x1000, .report = VA_A + 0x1000,
};

FIXTURE_VARIANT_ADD(corrupt, bits) {
	.code = HTABLE_CHECK_BITS, .va = VA_A + 0x2000, .report = VA_A + 0x2000,
};

FIXTURE_VARIANT_ADD(corrupt, orphan) {
	.code = HTABLE_CHECK_ORPHAN, .va = VA_B, .report = VA_B,
};

FIXTURE_VARIANT_ADD(corrupt, cached) {
	.code = HTABLE_CHECK_CACHED, .va = VA_C, .report = VA_C,
};

/* Write @s to the hat's corrupt file: 0 or -errno. */
static int corrupt(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = -errno;
	close(fd);
	return err;
}

static int corrupt_code(const char *path, unsigned int code, __u64 va)
{
	char s[64];

	snprintf(s, sizeof(s), "%u %#llx\n", code, (unsigned long long)va);
	return corrupt(path, s);
}

FIXTURE_SETUP(corrupt)
{
	self->ptables0 = htable_stat("active_ptables");
	self->fd = htable_open_dev();
	self->err = errno;
	if (self->fd < 0)
		return;
	self->id = ht_newest_hat_id();
	ASSERT_LT(0, self->id);
	snprintf(self->path, sizeof(self->path), CORRUPT_FMT, self->id);
	ASSERT_EQ(0, ht_map(self->fd, VA_A, NP_A, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_map(self->fd, VA_B, NP_B, HTABLE_MAP_WRITE | HTABLE_MAP_LOCK));
	/* Mapped and unmapped: its table waits, empty, in the hat's cache. */
	ASSERT_EQ(0, ht_map(self->fd, VA_C, 1, HTABLE_MAP_WRITE));
	ASSERT_EQ(0, ht_unmap(self->fd, VA_C, 1));
}

FIXTURE_TEARDOWN(corrupt)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* CHECK finds nothing, and a window touches every page of A. */
static void expect_sound(struct __test_metadata *_metadata, int fd)
{
	struct htable_check c;
	struct htable_run r;

	ASSERT_EQ(0, ht_check(fd, &c));
	EXPECT_EQ(0, c.errors) TH_LOG("first %u at %#llx", c.first_error, c.first_va);
	ASSERT_EQ(0, ht_run_verify(fd, 0, VA_A, NP_A, 0, 7, &r));
	EXPECT_EQ(NP_A, r.verified);
}

TEST_F(corrupt, check_names_code_and_va)
{
	struct htable_check c;
	struct htable_run r;
	char got[64] = "";
	unsigned int code = 0;
	unsigned long long va = 0;
	int n;
	FILE *f;

	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	expect_sound(_metadata, self->fd);

	ASSERT_EQ(0, corrupt_code(self->path, variant->code, variant->va));
	ASSERT_EQ(0, ht_check(self->fd, &c));
	EXPECT_LE(1, c.errors);
	EXPECT_EQ(variant->code, c.first_error);
	EXPECT_EQ(variant->report, c.first_va);
	/* The knob says what it did. */
	f = fopen(self->path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(got, sizeof(got), f));
	fclose(f);
	n = sscanf(got, "%u %llx", &code, &va);
	ASSERT_EQ(2, n);
	EXPECT_EQ(variant->code, code);
	EXPECT_EQ(variant->report, va);
	/* A window never loads a hat the checker finds unsound. */
	EXPECT_EQ(-EUCLEAN, ht_run_verify(self->fd, 0, VA_A, NP_A, 0, 7, &r));
	/* One corruption at a time. */
	EXPECT_EQ(-EBUSY, corrupt_code(self->path, variant->code, variant->va));

	/* Recovery: the invariant is back, and so is everything else. */
	ASSERT_EQ(0, corrupt(self->path, "0\n"));
	expect_sound(_metadata, self->fd);
}

TEST_F(corrupt, close_while_corrupted_frees_all)
{
	if (htable_dev_missing(_metadata, self->fd < 0, self->err))
		return;
	ASSERT_EQ(0, corrupt_code(self->path, variant->code, variant->va));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	/* Every table of the hat went back: none leaked, none freed twice. */
	EXPECT_EQ(self->ptables0, htable_stat("active_ptables"));
	EXPECT_EQ(-1, access(self->path, F_OK));
}

TEST(corrupt_knob_refuses_bad_input)
{
	char path[64];
	long id;
	int fd;

	fd = htable_open_dev();
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	id = ht_newest_hat_id();
	ASSERT_LT(0, id);
	snprintf(path, sizeof(path), CORRUPT_FMT, id);
	ASSERT_EQ(0, ht_map(fd, VA_A, 1, HTABLE_MAP_WRITE));
	EXPECT_EQ(-EINVAL, corrupt(path, "x\n"));
	EXPECT_EQ(-EINVAL, corrupt_code(path, 99, VA_A));
	/* No table there, or no cached one. */
	EXPECT_EQ(-ENOENT, corrupt_code(path, HTABLE_CHECK_VALID_CNT, 0x100000000ULL));
	EXPECT_EQ(-ENOENT, corrupt_code(path, HTABLE_CHECK_CACHED, VA_C));
	/* No entry at the va in an existing table. */
	EXPECT_EQ(-ENOENT, corrupt_code(path, HTABLE_CHECK_BITS, VA_A + 0x1000));
	EXPECT_EQ(-ERANGE, corrupt_code(path, HTABLE_CHECK_BITS, 1ULL << 60));
	/* Repairing nothing is fine. */
	EXPECT_EQ(0, corrupt(path, "0\n"));
	close(fd);
}

TEST_HARNESS_MAIN
