/*
 * sync_drain.c
 *		What collecting a round of changes costs at 10 M IDs: the exclusive
 *		cut and the shared collection of 10,000 changed keys, against the
 *		drain this replaced (a walk of the whole arena under the exclusive
 *		lock, as ck_drain_touched did), in the same run.  Entries as a dim-16
 *		Adagrad model's (embedding, first-order weight, their states: 136
 *		bytes).  Then a piece of an expiry pass, the other exclusive hold the
 *		worker takes: CK_REMOVE_PIECE entries looked at, none or 1 % of them
 *		removed.  MONOLITH_BENCH_IDS sets the IDs (10,000,000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../src/cuckoo.h"
#include "../test/heap_env.h"

#define VALUE_BYTES 136
#define CHANGED 10000
#define ROUNDS 5

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
count_visit(void *arg, const CuckooEntry *e)
{
	uint64_t   *n = arg;

	/* Read the value as a collector copying it would. */
	*n += ((const unsigned char *) CK_VALUE(e))[VALUE_BYTES - 1] + 1;
}

/* Makes every hundredth entry visited older than any cutoff. */
static void
doom_every_hundredth(void *arg, const CuckooEntry *e)
{
	if ((*(uint64_t *) arg)++ % 100 == 0)
		((CuckooEntry *) e)->last_seen = 0;
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int
main(void)
{
	uint64_t	ids = getenv("MONOLITH_BENCH_IDS") ? strtoull(getenv("MONOLITH_BENCH_IDS"), NULL, 10) : 10000000;
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	CoreEnv    *env = &h.env;
	double		cut[ROUNDS],
				collect[ROUNDS],
				walk[ROUNDS],
				piece_keeps[ROUNDS],
				piece_removes[ROUNDS];
	uint64_t	sink = 0;

	ck_default_config(&c, VALUE_BYTES);
	heap_env_init(&h, CK_LOCK_STRIPE0 + c.n_stripes, 0);
	if (!ck_init(&t, env, &c))
		return 1;
	for (uint64_t i = 0; i < ids; i++)
	{
		CuckooEntry *e;

		env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
		if (ck_find_or_admit(&t, env, ck_mix64(i), 1, NULL, &e) == CK_NEED_EXCLUSIVE)
		{
			env->unlock(env->lock_ctx, CK_LOCK_TABLE);
			env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
			ck_insert_exclusive(&t, env, ck_mix64(i), 1, NULL, &e);
		}
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	}
	/* The first rounds scan (their logs have no room yet); after them the logs have grown. */
	for (int r = -2; r < ROUNDS; r++)
	{
		uint32_t	cursor = 0;
		double		t0;

		for (int k = 0; k < CHANGED && r >= 0; k++)
			ck_touch(&t, env, ck_find(&t, env, ck_mix64(ck_mix64(r * CHANGED + k) % ids)), 2);
		t0 = now_seconds();
		env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
		ck_cut_changes(&t, env);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		if (r >= 0)
			cut[r] = now_seconds() - t0;
		t0 = now_seconds();
		env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
		while (ck_collect_changed(&t, env, &cursor, 1024, count_visit, &sink))
			;
		ck_release_changes(&t, env);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		if (r < 0)
			continue;
		collect[r] = now_seconds() - t0;
		t0 = now_seconds();
		env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
		ck_scan(&t, env, count_visit, &sink);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		walk[r] = now_seconds() - t0;
	}
	/* Expiry pieces at spread-out places: the first keeps all, the second removes 1 %. */
	for (int r = 0; r < ROUNDS; r++)
	{
		uint32_t	ref = 1 + (uint32_t) ((uint64_t) r * (ids - CK_REMOVE_PIECE) / ROUNDS);
		uint32_t	cutoff = 1;
		double		t0;

		t0 = now_seconds();
		env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
		ck_remove_range(&t, env, ck_seen_before, &cutoff, &ref, CK_REMOVE_PIECE);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		piece_keeps[r] = now_seconds() - t0;
		ref = 1 + (uint32_t) ((uint64_t) r * (ids - CK_REMOVE_PIECE) / ROUNDS);
		{
			uint32_t	cursor = ref - 1;
			uint64_t	seen = 0;

			ck_scan_range(&t, env, &cursor, CK_REMOVE_PIECE, NULL, doom_every_hundredth, &seen);
		}
		t0 = now_seconds();
		env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
		ck_remove_range(&t, env, ck_seen_before, &cutoff, &ref, CK_REMOVE_PIECE);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		piece_removes[r] = now_seconds() - t0;
	}
	qsort(piece_keeps, ROUNDS, sizeof(double), compare_doubles);
	qsort(piece_removes, ROUNDS, sizeof(double), compare_doubles);
	qsort(cut, ROUNDS, sizeof(double), compare_doubles);
	qsort(collect, ROUNDS, sizeof(double), compare_doubles);
	qsort(walk, ROUNDS, sizeof(double), compare_doubles);
	printf("collecting %d changed keys of %lu IDs (entries of %u bytes), medians of %d rounds:\n",
		   CHANGED, (unsigned long) ids, t.entry_size, ROUNDS);
	printf("  cut, exclusive lock:                        %10.1f us\n", cut[ROUNDS / 2] * 1e6);
	printf("  collection, shared lock:                    %10.3f ms\n", collect[ROUNDS / 2] * 1e3);
	printf("  baseline: a walk of every entry, exclusive: %10.3f ms  (the drain it replaces)\n",
		   walk[ROUNDS / 2] * 1e3);
	printf("  exclusive time, walk / cut:                 %10.0fx\n", walk[ROUNDS / 2] / cut[ROUNDS / 2]);
	printf("an expiry pass's piece of %d entries, exclusive lock, medians of %d pieces:\n",
		   CK_REMOVE_PIECE, ROUNDS);
	printf("  removing none:                              %10.1f us\n", piece_keeps[ROUNDS / 2] * 1e6);
	printf("  removing 1 %% of them (just read to mark):   %10.1f us\n", piece_removes[ROUNDS / 2] * 1e6);
	fflush(stdout);
	fprintf(stderr, "(checksum %lu)\n", (unsigned long) sink);
	ck_destroy(&t, env);
	heap_env_free(&h);
	return 0;
}
