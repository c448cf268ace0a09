/*
 * test_model.c
 *		Unit tests of the factorization machine on the cuckoo table.
 */
#include <math.h>
#include <string.h>

#include "../src/featkey.h"
#include "../src/metrics.h"
#include "../src/model.h"
#include "heap_env.h"
#include "unit.h"

#define SLOTS 2
#define DIM 8

typedef struct Fixture
{
	HeapEnv		heap;
	FmModel		model;
	CuckooEntry *entries[16];
	float		floats[64];
	FmWork		work;
} Fixture;

static void
fixture_init(Fixture *f, uint64_t seed, uint32_t min_count)
{
	FmParams	p = {SLOTS, DIM, 0.1f, 0.01f, seed};
	CuckooConfig c;

	heap_env_init(&f->heap, CK_LOCK_STRIPE0 + 64, 0);
	ck_default_config(&c, 0);
	c.admission.min_count = min_count;
	CHECK(fm_init(&f->model, &f->heap.env, &p, &c), "fm_init");
	f->work = (FmWork) {f->entries, f->floats};
}

static void
fixture_free(Fixture *f)
{
	fm_destroy(&f->model, &f->heap.env);
	heap_env_free(&f->heap);
}

/* A two-slot example: one user, and one or two items. */
static double
step(Fixture *f, bool train, double label, int64_t user, int64_t item, int64_t item2)
{
	uint64_t	keys[3] = {featkey_int(0, user), featkey_int(1, item), featkey_int(1, item2)};
	uint32_t	slot_end[SLOTS] = {1, item2 < 0 ? 2 : 3};
	FmExample	ex = {keys, slot_end};

	return train ? fm_train(&f->model, &f->heap.env, &ex, label, 1, &f->work)
		: fm_predict(&f->model, &f->heap.env, &ex, &f->work);
}

/* Users like items of their own parity: only the interaction can learn it. */
static double
parity_label(uint64_t i, int64_t *user, int64_t *item)
{
	*user = (int64_t) (ck_mix64(i) % 40);
	*item = (int64_t) (ck_mix64(i + 77777) % 60);
	return (*user + *item) % 2 == 0 ? 1.0 : 0.0;
}

/* Online training lowers log loss and ranks held-out pairs well. */
static void
test_learns(void)
{
	Fixture		f;
	double		early = 0,
				late = 0;
	ScoredLabel held_out[400];

	fixture_init(&f, 7, 1);
	for (uint64_t i = 0; i < 20000; i++)
	{
		int64_t		u,
					it;
		double		y = parity_label(i, &u, &it);
		double		p = step(&f, true, y, u, it, -1);

		if (i < 1000)
			early += metrics_log_loss(p, y);
		if (i >= 19000)
			late += metrics_log_loss(p, y);
	}
	CHECK(late < early * 0.5, "log loss %g early, %g late", early / 1000, late / 1000);
	for (int i = 0; i < 400; i++)
	{
		int64_t		u,
					it;
		double		y = parity_label(100000 + i, &u, &it);

		held_out[i] = (ScoredLabel) {step(&f, false, 0, u, it, -1), y};
	}
	CHECK(metrics_auc(held_out, 400) > 0.95, "held-out AUC %g", metrics_auc(held_out, 400));
	CHECK(f.model.examples == 20000, "examples %lu", (unsigned long) f.model.examples);
	CHECK(f.model.table.live == 100, "one entry per user and item: %lu", (unsigned long) f.model.table.live);
	fixture_free(&f);
}

/* The same seed and stream give bit-identical predictions; another seed does not. */
static void
test_reproducible(void)
{
	Fixture		a,
				b,
				c;
	uint64_t	differ_ab = 0,
				differ_ac = 0;

	fixture_init(&a, 11, 1);
	fixture_init(&b, 11, 1);
	fixture_init(&c, 12, 1);
	for (uint64_t i = 0; i < 3000; i++)
	{
		int64_t		u,
					it;
		double		y = parity_label(i, &u, &it);
		double		pa = step(&a, true, y, u, it, -1);
		double		pb = step(&b, true, y, u, it, -1);
		double		pc = step(&c, true, y, u, it, -1);

		differ_ab += memcmp(&pa, &pb, sizeof(double)) != 0;
		differ_ac += pa != pc;
	}
	CHECK(differ_ab == 0, "%lu predictions differ under the same seed", (unsigned long) differ_ab);
	CHECK(differ_ac > 2900, "only %lu predictions differ under another seed", (unsigned long) differ_ac);
	fixture_free(&a);
	fixture_free(&b);
	fixture_free(&c);
}

/* Predicting changes nothing: no entries, no counts, no values. */
static void
test_predict_is_read_only(void)
{
	Fixture		f;
	CuckooEntry *e;
	char		before[512];
	double		p1,
				p2;

	fixture_init(&f, 3, 1);
	step(&f, true, 1, 1, 2, -1);
	e = ck_find(&f.model.table, &f.heap.env, featkey_int(0, 1));
	memcpy(before, e, f.model.table.entry_size);
	p1 = step(&f, false, 0, 1, 2, -1);
	p2 = step(&f, false, 0, 1, 2, -1);
	step(&f, false, 0, 5, 6, -1);
	CHECK(p1 == p2, "repeated prediction differs");
	CHECK(memcmp(before, e, f.model.table.entry_size) == 0, "prediction changed an entry");
	CHECK(f.model.table.live == 2, "prediction added entries (%lu)", (unsigned long) f.model.table.live);
	CHECK(f.model.examples == 1, "prediction counted as training");
	fixture_free(&f);
}

/* Unadmitted IDs neither score nor learn; admitted ones do. */
static void
test_unadmitted_contribute_nothing(void)
{
	Fixture		f;
	double		p;

	fixture_init(&f, 3, 2);
	p = step(&f, true, 1, 1, 2, -1);
	CHECK(p == 0.5, "first prediction %g is the untrained bias", p);
	CHECK(f.model.table.live == 0, "first sighting admits nothing");
	p = step(&f, false, 0, 1, 2, -1);
	CHECK(fabs(p - 1.0 / (1.0 + exp(-f.model.bias))) < 1e-12, "unadmitted keys score as the bias alone");
	/* User 1's second sighting admits it, while item 3, seen once, stays out. */
	step(&f, true, 1, 1, 3, -1);
	CHECK(f.model.table.live == 1, "only the twice-seen key is admitted (%lu)",
		  (unsigned long) f.model.table.live);
	CHECK(ck_find(&f.model.table, &f.heap.env, featkey_int(1, 3)) == NULL, "item 3 not admitted");
	fixture_free(&f);
}

/* A slot's IDs are mean-pooled: [a, a] predicts as [a]. */
static void
test_pooling(void)
{
	Fixture		f;

	fixture_init(&f, 5, 1);
	for (int i = 0; i < 50; i++)
		step(&f, true, i % 2, 1, 2 + i % 3, 9);
	CHECK(step(&f, false, 0, 1, 2, 2) == step(&f, false, 0, 1, 2, -1), "duplicate ID changes pooling");
	CHECK(step(&f, false, 0, 1, 2, 9) != step(&f, false, 0, 1, 2, -1), "second ID ignored");
	fixture_free(&f);
}

int
main(void)
{
	test_learns();
	test_reproducible();
	test_predict_is_read_only();
	test_unadmitted_contribute_nothing();
	test_pooling();
	return unit_finish("test_model");
}
