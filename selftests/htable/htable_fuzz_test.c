// SPDX-License-Identifier: GPL-2.0
/*
 * A model-checked fuzzer for /dev/htable.
 *
 * Several processes, each with several threads, each thread with a few
 * hats of its own, issue random ioctls of every kind: VERSION; MAP of
 * 4 KiB, 2 MiB and 1 GiB pages, fresh, ALIAS of the hat's own pages, or
 * PIN of the thread's own memory (4 KiB anonymous pages, 2 MiB THPs where
 * the kernel gives them, the row's one 1 GiB hugetlb page); UNMAP, whole
 * or in part (splitting large pages); PROBE, INFO, CHECK, RW, RUN verify
 * windows, SYNC, RELOAD; SHARE and UNSHARE of whole 2 MiB leaf tables
 * between a thread's hats; steals of the hats' tables (the reap and
 * force_steal knobs); and bad requests of every kind the device must
 * refuse. Each thread keeps a model of its hats (htable_model.h) that
 * says what every call must return, errno included, what PROBE must show
 * (flags, level, the hardware A and D bits), what INFO must count, and
 * what SYNC must gather: exactly, since every window of a hat is the
 * thread's own.
 *
 * The model learns nothing from PROBE that it then checks against:
 *  - every page the fuzzer maps carries a tag in its word 1, written
 *    through RW (fresh pages: every 4 KiB page, and a sample of each
 *    2 MiB page; the rest stay zero) or, for pinned pages, into the
 *    thread's own memory, which is then the truth; the tags are read back
 *    through RW at the va, through aliases, after steals and RELOAD;
 *  - for pinned pages the pfn PROBE reports must be the one
 *    /proc/self/pagemap gives for the memory, and a window's writes must
 *    show in that memory, in the pattern of that pfn;
 *  - a sharer's window reads the owner's pages through the shared table,
 *    where the model knows which verify pattern each page holds;
 *  - INFO's counts follow from the model's pages by the table rule, and
 *    CHECK's from INFO and the shares.
 * PROBE's pfn of a fresh page is only compared with other PROBEs (the same
 * page later, through an alias or a sharer), and used to predict whether
 * a large ALIAS finds its source physically contiguous.
 *
 * Steals change every hat at once, so a thread that steals first stops
 * the others (a lock they hold for read around each operation); each
 * thread then finds, through PROBE, which of its leaf tables went, and
 * checks that they went whole, were neither locked nor shared, kept their
 * data, and that INFO and RELOAD agree.
 *
 * The 1 GiB page is used in episodes of one thread (one per run, one per
 * FZ_EPISODE_EVERY of its operations in longer ones): a 1 GiB page of it
 * pinned in the first 1 GiB slot of a hat, an ALIAS of that in the
 * second, random operations there, then a CLEAR. Under KASAN one MAP of
 * it takes half a minute, so the debug row leaves 1 GiB pages to
 * htable_lpage_test and fuzz that zone with smaller pages.
 *
 * Every out structure is poisoned before the call, so a reserved field or
 * an unwritten field that comes back non-zero is caught, and a refused
 * call must leave the caller's structure untouched.
 *
 * Reproducible: each thread's operations derive from the seed, which is
 * printed; HTABLE_FUZZ_SEED=<seed> replays a run, HTABLE_FUZZ_OPS=<n> sets
 * the total operations (default FZ_DEFAULT_OPS; `make soak` runs 10^7).
 * On a mismatch the thread replays its operations since its hats were
 * last opened on fresh hats and shrinks them (drop the tail after the
 * first failure, then remove chunks, delta-debugging style) and prints the
 * shortest failing sequence found.
 *
 * The fuzzer is in files of its own, by topic, that htable_fuzz.h
 * declares: htable_fuzz_state.c (zones, the thread's memory, backing
 * pages, the hats), htable_fuzz_check.c (what the device says, against
 * the model), htable_fuzz_pages.c, htable_fuzz_window.c,
 * htable_fuzz_tables.c and htable_fuzz_bad.c (the operations),
 * htable_fuzz_gen.c (the random operations), htable_fuzz_shrink.c
 * (replay and shrink) and htable_fuzz_run.c (threads and processes).
 * This file holds the test cases and main().
 */
#include "kselftest_harness.h"
#include "htable_fuzz.h"

#define FREE_1G_PATH	"/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"

static __u64 fz_env(const char *name, __u64 dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static __u64 fz_seed(void)
{
	__u64 seed = fz_env("HTABLE_FUZZ_SEED", 0);

	return seed ? seed : ht_seed();
}

/* Can this run have the 1 GiB page: pdpe1gb and a free hugetlb page? */
static int fz_have_1g(void)
{
	return ht_has_pdpe1gb() && htable_knob_read(FREE_1G_PATH) >= 1;
}

FIXTURE(fz) {
	int unused;
};

FIXTURE_SETUP(fz)
{
}

FIXTURE_TEARDOWN(fz)
{
}

/*
 * The fuzzer itself: HTABLE_FUZZ_OPS operations from HTABLE_FUZZ_SEED.
 * It must have done a bit of everything, the row's 1 GiB page comes back
 * free, and every table goes back.
 */
TEST_F_TIMEOUT(fz, fuzz, 500)
{
	unsigned long total = fz_env("HTABLE_FUZZ_OPS", FZ_DEFAULT_OPS), st[ST_NSTAT];
	long long active0 = htable_stat("active_ptables"), free1g;
	int fd = htable_open_dev(), has1g, use1g;
	__u64 seed = fz_seed();
	size_t shrunk;

	if (htable_dev_missing(_metadata, fd < 0, errno))
		return;
	close(fd);
	ASSERT_EQ(0, htable_knobs_reset());
	has1g = fz_have_1g();
	/*
	 * Under KASAN one MAP of the 1 GiB page takes half a minute (a record
	 * per 4 KiB page), and so does its UNMAP: the debug row leaves 1 GiB
	 * pages to htable_lpage_test, and fuzz 2 MiB and 4 KiB in that zone.
	 */
	use1g = has1g && !ht_kernel_has_kasan();
	free1g = htable_knob_read(FREE_1G_PATH);
	TH_LOG("seed %#llx (replay with HTABLE_FUZZ_SEED=%#llx), %lu operations%s",
	       (unsigned long long)seed, (unsigned long long)seed, total,
	       use1g ? "" : has1g ? ", not the 1 GiB page under KASAN" : ", no 1 GiB page");
	EXPECT_EQ(0, fz_run_all(seed, total, 0, use1g, &shrunk, st))
		TH_LOG("replay with HTABLE_FUZZ_SEED=%#llx", (unsigned long long)seed);
	EXPECT_EQ(0, htable_knobs_reset());
	/* Every hat is closed: every table it had went back, the page too. */
	EXPECT_EQ(active0, htable_stat("active_ptables"));
	EXPECT_EQ(free1g, htable_knob_read(FREE_1G_PATH));
	/* It did what it is for. */
	if (total >= FZ_DEFAULT_OPS) {
		EXPECT_LT(0, st[ST_MAP2M]);
		EXPECT_LT(0, st[ST_PIN4K]);
		EXPECT_LT(0, st[ST_ALIAS2M]);
		EXPECT_LT(0, st[ST_SPLITS]);
		EXPECT_LT(0, st[ST_SHARES]);
		EXPECT_LT(0, st[ST_SHARER_PAGES]);
		EXPECT_LT(0, st[ST_UNSHARES]);
		EXPECT_LT(0, st[ST_STEALS]);
		EXPECT_LT(0, st[ST_STOLEN_TABLES]);
		EXPECT_LT(0, st[ST_RELOADED]);
		EXPECT_LT(0, st[ST_PFN_PAGEMAP]);
		EXPECT_LT(0, st[ST_SYNC_EXACT]);
		EXPECT_LT(0, st[ST_WINDOW_SHARED]);
		EXPECT_LT(0, st[ST_SHARED_OUT_LP]);
		if (use1g) {
			EXPECT_LT(0, st[ST_PIN1G]);
			EXPECT_LT(0, st[ST_ALIAS1G]);
		}
	}
	if (!has1g && _metadata->passed)
		SKIP(return, "needs:1g %s", ht_has_pdpe1gb() ?
		     "no free 1 GiB hugetlb page (hugepagesz=1G hugepages=1, 4 GiB)" :
		     "no pdpe1gb: 1 GiB pages were refused, as they must be");
}

/*
 * The fuzzer with the model bug @inject (FZ_INJ_*) planted must report
 * it; *@shrunk is how many operations it shrank what it found to. Returns
 * false when the module is absent (the case was skipped).
 */
static bool finds_planted(struct __test_metadata *_metadata, int inject,
			  size_t *shrunk)
{
	int fd = htable_open_dev();

	*shrunk = 0;
	if (htable_dev_missing(_metadata, fd < 0, errno))
		return false;
	close(fd);
	EXPECT_NE(0, fz_run_all(fz_seed(), 20000, inject, 0, shrunk, NULL));
	return true;
}

/*
 * The fuzzer must be able to fail, and shrink what it finds: with a
 * deliberate model bug (PROBE of a WRITE|EXEC page expects no EXEC) it
 * must report a mismatch and shrink it to the operations that show it: a
 * MAP of such a page and a PROBE of it, and the source's MAP when the
 * page it found is an alias (which can't be dropped without the alias
 * failing): two or three.
 */
TEST_F_TIMEOUT(fz, finds_and_shrinks_a_planted_bug, 200)
{
	size_t shrunk;

	if (!finds_planted(_metadata, FZ_INJ_PROBE, &shrunk))
		return;
	EXPECT_LE(2, shrunk);
	EXPECT_GE(3, shrunk);
}

/* A tag written to the wrong va (the first two of a MAP swap places) is caught. */
TEST_F_TIMEOUT(fz, finds_a_wrong_tag, 200)
{
	size_t shrunk;

	finds_planted(_metadata, FZ_INJ_TAG, &shrunk);
}

/* A model that forgets what a window's writes do to D is caught by SYNC. */
TEST_F_TIMEOUT(fz, finds_a_wrong_sync, 200)
{
	size_t shrunk;

	finds_planted(_metadata, FZ_INJ_SYNC, &shrunk);
}

/*
 * "htable_fuzz_test run [OPS [SEED]]" runs the fuzzer outside the harness
 * (no time limit: the soak); anything else runs the tests above.
 */
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	size_t shrunk;
	__u64 seed;
	int has1g;

	if (argc < 2 || strcmp(argv[1], "run"))
		return test_harness_run(argc, argv);
	if (argc > 2)
		setenv("HTABLE_FUZZ_OPS", argv[2], 1);
	if (argc > 3)
		setenv("HTABLE_FUZZ_SEED", argv[3], 1);
	seed = fz_seed();
	has1g = fz_have_1g();
	printf("# fuzz: seed %#llx (replay: htable_fuzz_test run OPS %#llx)%s\n",
	       (unsigned long long)seed, (unsigned long long)seed,
	       has1g ? "" : "; no 1 GiB page, so no 1 GiB maps");
	fflush(stdout);
	if (htable_knobs_reset())
		return 1;
	return fz_run_all(seed, fz_env("HTABLE_FUZZ_OPS", FZ_DEFAULT_OPS), 0, has1g,
			  &shrunk, NULL) ? 1 : 0;
}
