/*
 * model.h
 *		Factorization machine over slot embeddings, trained online with Adagrad.
 *
 * Every ID of every slot has, in the model's cuckoo table, a first-order
 * weight and an embedding of dim floats, each with its Adagrad accumulator.
 * A slot with several IDs (an array feature) mean-pools them.  The logit is
 * the global bias, plus the slots' pooled first-order weights, plus the
 * pairwise inner products of the slots' pooled embeddings.  IDs not admitted
 * by the table's filters contribute nothing and receive no gradient.
 *
 * Locking: a step holds the table lock shared (see cuckoo.h) from lookup
 * through update, so the entries it reads stay valid; it takes the lock
 * exclusive only briefly when an admitted key needs room made.
 */
#ifndef MONOLITH_MODEL_H
#define MONOLITH_MODEL_H

#include "cuckoo.h"

#define FM_MAX_DIM 1024

typedef struct FmParams
{
	uint32_t	n_slots;
	uint32_t	dim;
	float		learning_rate;
	float		init_scale;		/* embeddings start uniform in +-init_scale */
	uint64_t	seed;
} FmParams;

/* A model's shared state. */
typedef struct FmModel
{
	FmParams	params;
	float		bias;
	float		bias_accumulator;
	uint64_t	examples;		/* atomic: training steps taken */
	CuckooTable table;
} FmModel;

/* One example: the keys of slot s are keys[slot_end[s-1] .. slot_end[s]). */
typedef struct FmExample
{
	const uint64_t *keys;
	const uint32_t *slot_end;	/* n_slots cumulative counts */
} FmExample;

/*
 * Per-call scratch, sized by the caller: entries for every key of the
 * example, and fm_work_floats() floats.
 */
typedef struct FmWork
{
	CuckooEntry **entries;
	float	   *floats;
} FmWork;

extern size_t fm_value_size(uint32_t dim);
extern size_t fm_work_floats(uint32_t n_slots, uint32_t dim);
extern bool fm_init(FmModel *m, const CoreEnv *env, const FmParams *params,
					const CuckooConfig *table_config);
extern void fm_destroy(FmModel *m, const CoreEnv *env);

/* Both return the probability predicted before any update. */
extern double fm_train(FmModel *m, const CoreEnv *env, const FmExample *ex,
					   double label, uint32_t now, FmWork *work);
extern double fm_predict(FmModel *m, const CoreEnv *env, const FmExample *ex,
						 FmWork *work);

#endif							/* MONOLITH_MODEL_H */
