// SPDX-License-Identifier: GPL-2.0
/*
 * Replay and shrink: a thread that found a mismatch replays its
 * operations on fresh hats and removes chunks of them while they still
 * fail, delta-debugging style, then prints the shortest sequence found.
 */
#include "htable_fuzz.h"

/*
 * Replay @n operations on fresh hats. Returns the index of the first one
 * that mismatched, -1 when all matched, -2 when no hat could be opened.
 */
static long fz_replay(struct fz_thread *t, const struct fz_op *ops, size_t n)
{
	struct fz_set *rs = calloc(1, sizeof(*rs));
	long bad = -1;

	if (!rs || fz_set_open(t, rs)) {
		if (rs)
			fz_set_close(t, rs, 0);
		free(rs);
		return -2;
	}
	for (size_t i = 0; i < n && bad < 0; i++)
		if (fz_step(t, rs, &ops[i]))
			bad = i;
	if (fz_set_close(t, rs, bad < 0) && bad < 0)
		bad = n ? n - 1 : 0;
	free(rs);
	return bad;
}

/*
 * Shrink a failing sequence: cut after its first failure, then try
 * removing chunks (halving their size) while it still fails on fresh
 * hats. Prints the result; returns its length (0 when it did not fail
 * again).
 */
size_t fz_shrink(struct fz_thread *t, const struct fz_op *ops, size_t n)
{
	struct fz_op *cur = calloc(n, sizeof(*cur)), *cand = calloc(n, sizeof(*cand));
	size_t len = n, chunk, runs = 0;
	long f;

	if (!cur || !cand)
		goto out;
	memcpy(cur, ops, n * sizeof(*cur));
	t->quiet = 1;
	t->shrink_until = ht_now() + FZ_SHRINK_S;
	f = fz_replay(t, cur, len);
	if (f < 0) {
		t->quiet = 0;
		fprintf(stderr, "# shrink: the %zu operations pass alone on fresh hats\n", n);
		fprintf(stderr, "# shrink: the failure needs the other threads\n");
		len = 0;
		goto out;
	}
	len = f + 1;
	chunk = len / 2 ? len / 2 : 1;
	while (chunk && runs < FZ_SHRINK_RUNS && ht_now() < t->shrink_until) {
		size_t i = 0;
		int removed = 0;

		while (i + chunk <= len && runs < FZ_SHRINK_RUNS && ht_now() < t->shrink_until) {
			memcpy(cand, cur, i * sizeof(*cand));
			memcpy(cand + i, cur + i + chunk, (len - i - chunk) * sizeof(*cand));
			runs++;
			f = fz_replay(t, cand, len - chunk);
			if (f >= 0) {
				len = f + 1;
				memcpy(cur, cand, len * sizeof(*cur));
				removed = 1;
			} else {
				i += chunk;
			}
		}
		if (!removed)
			chunk /= 2;
		if (chunk > len / 2 && len > 1)
			chunk = len / 2;
	}
	t->quiet = 0;
	fprintf(stderr, "# seed %#llx process %d thread %d: shortest failing sequence found\n",
		(unsigned long long)t->seed, t->proc, t->thr);
	fprintf(stderr, "# (%zu of %zu operations, %zu replays):\n", len, n, runs);
	for (size_t i = 0; i < len; i++)
		fz_print_op(stderr, &cur[i], i);
	fprintf(stderr, "# replaying it:\n");
	fz_replay(t, cur, len);
out:
	t->quiet = 0;
	free(cur);
	free(cand);
	return len;
}
