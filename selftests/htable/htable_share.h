/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What htable_share_test (SHARE and UNSHARE) and htable_share_smp_test
 * (a sharer's CPU live while the owner changes the table) share: where
 * the shared segment is, the knobs, the calls of htable_share_calls.c,
 * and, for the files of cases (which include kselftest_harness.h first),
 * the fixture.
 */
#ifndef HTABLE_SHARE_H
#define HTABLE_SHARE_H

#include "kselftest.h"
#include "htable_test.h"
#include "htable_window.h"

#define SH_TIMEOUT	180
#define NP_2M		HTABLE_2M_NPAGES
#define KNOB_DIR	"/sys/kernel/debug/htable/"
#define FORCE_STEAL	KNOB_DIR "force_steal"
#define REAP		KNOB_DIR "reap"
#define TLB_SKIP	KNOB_DIR "tlb_skip_remote"
#define PTABLE_CAP	KNOB_DIR "ptable_cap"

/* The shared segment: two leaf tables' worth, at the same va everywhere. */
#define SVA		(12 * HT_SZ_1G)
#define OTHER_VA	(20 * HT_SZ_1G)

/* htable_share_calls.c */
int ht_share(int fd, int owner_fd, __u64 va, __u64 npages, __u64 *tables);
int ht_unshare(int fd, __u64 va, __u64 npages, __u64 *tables);
long long check_sound(int fd);
int ncpus(void);

#ifdef __KSELFTEST_HARNESS_H
/* The owner and three other hats; every knob a case sets back at 0. */
FIXTURE(sh) {
	int fd[4];	/* the owner, then three other hats */
	int err;
};

FIXTURE_SETUP(sh)
{
	int i;

	for (i = 0; i < 4; i++)
		self->fd[i] = htable_open_dev();
	self->err = errno;
}

FIXTURE_TEARDOWN(sh)
{
	int i;

	for (i = 0; i < 4; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	htable_knob_write(FORCE_STEAL, 0);
	htable_knob_write(TLB_SKIP, 0);
	htable_knob_write(PTABLE_CAP, 0);
}

#endif /* __KSELFTEST_HARNESS_H */

#endif /* HTABLE_SHARE_H */
