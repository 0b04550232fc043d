/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of htable_steal_test share: the knobs, where the hats
 * map, the context of a fixture, the threads of close_while_stealing,
 * and the helpers of htable_steal_hats.c and htable_steal_churn.c.
 */
#ifndef HTABLE_STEAL_H
#define HTABLE_STEAL_H

#include <pthread.h>
#include <stdint.h>

#include "kselftest.h"
#include "htable_test.h"
#include "htable_model.h"

#define KNOB_DIR		"/sys/kernel/debug/htable/"
#define PTABLE_CAP_PATH		KNOB_DIR "ptable_cap"
#define FORCE_STEAL_PATH	KNOB_DIR "force_steal"
#define STEAL_PASSES_PATH	KNOB_DIR "steal_passes"
#define HATS_PATH		KNOB_DIR "hats"
#define DROP_CACHES_PATH	"/proc/sys/vm/drop_caches"
#define STEAL_PASSES_DEFAULT	8

#define PTES		512	/* entries per table: one leaf table's pages */
#define MAX_HATS	5

/* Where the victims map and where the stealing hat maps (own 1 GiB slots). */
#define VA_V		(3 * HT_SZ_1G)
#define VA_S		(7 * HT_SZ_1G)

/* What every fixture here holds: up to MAX_HATS hats and the start counts. */
struct steal_ctx {
	struct ht_hat h[MAX_HATS];
	int err;		/* errno of opening the device, or 0 */
	long long hats0;
	long long active0;
};

/* The bytes the data test writes into page @i at offset DATA_OFF + @j. */
#define DATA_OFF	8
#define DATA_LEN	248	/* bytes 8..255: no word VERIFY writes (0, 257, 511) */

/*
 * Each phase of close_while_stealing lasts CHURN_SECONDS and until its
 * minimums are met (steal_churn_phase()), whichever is later; CHURN_LIMIT_S is
 * the hang guard.
 */
#define CHURN_SECONDS	3.0
#define CHURN_LIMIT_S	45.0
#define CHURN_REGIONS	32
#define CHURN_MIN	10	/* victim closes (or maps) per phase */
#define CHURN_ROUNDS	5	/* stealer rounds per phase */

/* What the threads of close_while_stealing share. */
struct churn {
	pthread_t tid;
	int stop;		/* set atomically by the test */
	int fd;			/* the stealer's hat */
	/* The counts: the test reads them (atomically) while the thread runs. */
	unsigned long rounds, maps, enomem, closes;
	unsigned long stolen;	/* victims: INFO.stolen summed just before close */
	int bad;
};

/* What one phase of the churn must reach, counted from its start. */
struct churn_min {
	unsigned long closes;	/* both victims' closes */
	unsigned long maps;	/* both victims' successful MAPs */
	unsigned long stolen;	/* tables stolen from victims before close */
	unsigned long rounds;	/* the stealer's rounds */
	long long steals;	/* hs_steals */
};

/* htable_steal_hats.c: a hat and its model around steals */
long long steal_hats_file_stolen(void);
int steal_map_model(struct ht_hat *h, __u64 va, __u64 npages, __u32 flags);
int steal_reload_model(struct ht_hat *h, __u64 *total);
int steal_verify_stolen(struct ht_hat *h, __u64 *stolen);
int steal_verify_info_stolen(struct ht_hat *h, __u64 stolen_pages,
			     struct htable_info *out);
__u32 steal_window_cpu(void);
void steal_ctx_setup(struct steal_ctx *c);
void steal_ctx_teardown(struct steal_ctx *c);
__u8 steal_data_byte(__u64 i, unsigned int j);
int steal_check_data(struct ht_hat *h, int with_seed, __u64 seed);

/* htable_steal_churn.c: the threads of close_while_stealing */
unsigned long steal_churn_peek(const unsigned long *c);
void *steal_churn_victim(void *arg);
void *steal_churn_stealer(void *arg);
int steal_churn_phase(struct churn *ch, const struct churn_min *min);

#endif /* HTABLE_STEAL_H */
