// SPDX-License-Identifier: GPL-2.0
/*
 * The threads of close_while_stealing (htable_steal_test): victims that
 * open, fill and close hats in a loop, a stealer that maps and unmaps in
 * its own, and the phases the test runs them in.
 */
#include "htable_steal.h"

/* Add @n to a count of struct churn; the thread is its only writer. */
static void add(unsigned long *c, unsigned long n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

unsigned long steal_churn_peek(const unsigned long *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/*
 * A victim that comes and goes: open a hat, map 8 leaf tables (aliases of
 * one page, so no data pages are needed), close it at once; over and over.
 * Its tables are what the stealer takes, while it is being closed.
 */
void *steal_churn_victim(void *arg)
{
	struct churn *ch = arg;
	struct htable_info info;
	int fd, ret;

	while (!__atomic_load_n(&ch->stop, __ATOMIC_ACQUIRE)) {
		fd = htable_open_dev();
		if (fd < 0) {
			if (errno != ENOMEM) {
				fprintf(stderr, "# churn: open: %s\n", strerror(errno));
				__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
				break;
			}
			add(&ch->enomem, 1);
			continue;
		}
		ret = ht_map(fd, VA_V, 1, HTABLE_MAP_WRITE);
		if (!ret)
			ret = ht_map_alias(fd, VA_V + HT_PAGE_SIZE, 8 * PTES - 1,
					   HTABLE_MAP_WRITE | HTABLE_MAP_ALIAS, VA_V, 1);
		if (ret && ret != -ENOMEM) {
			fprintf(stderr, "# churn: MAP: %s\n", strerror(-ret));
			__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
		}
		add(&ch->maps, !ret);
		add(&ch->enomem, ret == -ENOMEM);
		if (!ht_info(fd, &info))
			add(&ch->stolen, info.stolen);
		close(fd);
		add(&ch->closes, 1);
		add(&ch->rounds, 1);
	}
	return NULL;
}

/* The stealer: one page in each of CHURN_REGIONS new leaves, then unmap. */
void *steal_churn_stealer(void *arg)
{
	struct churn *ch = arg;
	int mapped[CHURN_REGIONS];
	struct htable_check chk;
	int k, ret;

	while (!__atomic_load_n(&ch->stop, __ATOMIC_ACQUIRE)) {
		for (k = 0; k < CHURN_REGIONS; k++) {
			ret = ht_map(ch->fd, VA_S + k * HT_SZ_2M, 1, HTABLE_MAP_WRITE);
			if (ret && ret != -ENOMEM) {
				fprintf(stderr, "# stealer: MAP: %s\n", strerror(-ret));
				__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
			}
			mapped[k] = !ret;
			add(&ch->maps, !ret);
			add(&ch->enomem, ret == -ENOMEM);
		}
		for (k = 0; k < CHURN_REGIONS; k++) {
			if (!mapped[k])
				continue;
			ret = ht_unmap(ch->fd, VA_S + k * HT_SZ_2M, 1);
			if (ret) {
				fprintf(stderr, "# stealer: UNMAP: %s\n", strerror(-ret));
				__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
			}
		}
		if (ht_check(ch->fd, &chk) || chk.errors) {
			fprintf(stderr, "# stealer: CHECK: %llu errors, first %u at %#llx\n",
				chk.errors, chk.first_error, chk.first_va);
			__atomic_store_n(&ch->bad, ch->bad + 1, __ATOMIC_RELAXED);
		}
		add(&ch->rounds, 1);
		if (ch->bad)
			break;
	}
	return NULL;
}

/* The counts of @ch now, as a struct churn_min. */
static struct churn_min churn_now(struct churn *ch)
{
	struct churn_min c = {
		.closes = steal_churn_peek(&ch[0].closes) + steal_churn_peek(&ch[1].closes),
		.maps = steal_churn_peek(&ch[0].maps) + steal_churn_peek(&ch[1].maps),
		.stolen = steal_churn_peek(&ch[0].stolen) + steal_churn_peek(&ch[1].stolen),
		.rounds = steal_churn_peek(&ch[2].rounds),
		.steals = htable_stat("hs_steals"),
	};

	return c;
}

/* Does the churn since @c0 fall short of @min? With @say, print how. */
static int churn_short(struct churn *ch, const struct churn_min *c0,
		       const struct churn_min *min, int say)
{
	struct churn_min c = churn_now(ch);
	int n = 0;

	n += c.closes - c0->closes < min->closes;
	n += c.maps - c0->maps < min->maps;
	n += c.stolen - c0->stolen < min->stolen;
	n += c.rounds - c0->rounds < min->rounds;
	n += c.steals - c0->steals < min->steals;
	if (n && say)
		fprintf(stderr,
			"# phase: %lu closes, %lu maps, %lu stolen, %lu stealer rounds, %lld steals; want %lu, %lu, %lu, %lu, %lld\n",
			c.closes - c0->closes, c.maps - c0->maps, c.stolen - c0->stolen,
			c.rounds - c0->rounds, c.steals - c0->steals, min->closes,
			min->maps, min->stolen, min->rounds, min->steals);
	return n;
}

/*
 * Run the churn for CHURN_SECONDS and until it has done @min, reaping
 * every 100 ms: 0, -errno of a reap, or -ETIMEDOUT when CHURN_LIMIT_S
 * passed first.
 */
int steal_churn_phase(struct churn *ch, const struct churn_min *min)
{
	struct churn_min c0 = churn_now(ch);
	double t0 = ht_now();
	int err = 0, i;

	while (!err) {
		usleep(100 * 1000);
		err = htable_knob_write(HTABLE_REAP_PATH, 0);
		if (ht_now() >= t0 + CHURN_SECONDS && !churn_short(ch, &c0, min, 0))
			break;
		for (i = 0; i < 3 && !__atomic_load_n(&ch[i].bad, __ATOMIC_RELAXED); i++)
			;
		if (i < 3 || ht_now() >= t0 + CHURN_LIMIT_S) {
			churn_short(ch, &c0, min, 1);
			err = -ETIMEDOUT;
		}
	}
	fprintf(stderr, "# phase took %.1f s\n", ht_now() - t0);
	return err;
}
