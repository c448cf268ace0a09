/*
 * trained_model.h
 *		A small DeepFM trained on a made-up stream, for the tests and the
 *		fuzzer of snapshot files.
 */
#ifndef MONOLITH_TRAINED_MODEL_H
#define MONOLITH_TRAINED_MODEL_H

#include <stdlib.h>
#include <string.h>

#include "../src/featkey.h"
#include "../src/model.h"
#include "heap_env.h"

#define SLOTS 3
#define NUMERIC 2

typedef struct Trained
{
	HeapEnv		heap;
	Model		model;
	CuckooEntry *entries[SLOTS];
	float	   *floats;
} Trained;

/* A DeepFM of three slots and two numeric features, Adagrad, Adam for the tower. */
static inline ModelConfig
deepfm_config(void)
{
	ModelConfig c;

	memset(&c, 0, sizeof(c));
	c.n_slots = SLOTS;
	c.n_numeric = NUMERIC;
	c.dim = 8;
	c.n_layers = 2;
	c.width[0] = 16;
	c.width[1] = 8;
	c.weight_optimizer = c.embedding_optimizer = (Optimizer) {OPTIM_ADAGRAD, 0.05f, 0, 0};
	c.dense_optimizer = (Optimizer) {OPTIM_ADAM, 0.01f, 0, 0};
	c.init_scale = 0.01f;
	c.negative_rate = 1;
	c.seed = 7;
	return c;
}

static inline bool
trained_init(Trained *t, const ModelConfig *config, uint32_t min_count)
{
	CuckooConfig table;

	ck_default_config(&table, 0);
	table.chunk_log2 = 6;
	table.admission.min_count = min_count;
	table.admission.sketch_width_log2 = 10;
	heap_env_init(&t->heap, CK_LOCK_STRIPE0 + 64, 0);
	t->floats = calloc(model_work_floats(config), sizeof(float));
	return model_init(&t->model, &t->heap.env, config, &table);
}

static inline void
trained_free(Trained *t)
{
	model_destroy(&t->model, &t->heap.env);
	heap_env_free(&t->heap);
	free(t->floats);
}

/* Example i: a user, an item and a context drawn from i, two numeric features. */
static inline double
example_step(Trained *t, uint64_t i, bool train)
{
	uint64_t	keys[SLOTS] = {featkey_int(0, (int64_t) (i % 97)), featkey_int(1, (int64_t) (i * 7 % 389)),
	featkey_int(2, (int64_t) (i % 5))};
	uint32_t	slot_end[SLOTS] = {1, 2, 3};
	float		numeric[NUMERIC] = {(float) (i % 3), 0.5f};
	Example		ex = {keys, slot_end, numeric};
	ModelWork	work = {t->entries, t->floats};
	ModelSnapshot snap;

	if (train)
		return model_train(&t->model, &t->heap.env, &ex, (i * 13 % 7) < 3 ? 1.0 : 0.0,
						   (uint32_t) (1000 + i), &work);
	model_snapshot(&snap, &t->model, &t->heap.env);
	return model_predict(&t->model, &snap, &t->heap.env, &ex, &work);
}

static inline void
train(Trained *t, uint64_t from, uint64_t n)
{
	for (uint64_t i = from; i < from + n; i++)
		example_step(t, i, true);
}

#endif							/* MONOLITH_TRAINED_MODEL_H */
