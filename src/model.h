/*
 * model.h
 *		DeepFM over slot embeddings, trained online one example at a time.
 *
 * Every ID of every slot has, in the model's cuckoo table, a first-order
 * weight and an embedding of dim floats, each with its optimizer's state.
 * A slot with several IDs (an array feature) mean-pools them.  The logit is
 * the sum of:
 *	- the global bias and the slots' pooled first-order weights;
 *	- the pairwise inner products of the slots' pooled embeddings (the FM);
 *	- a linear weight per numeric feature;
 *	- with hidden layers, an MLP tower (ReLU) over the concatenated pooled
 *	  embeddings and numeric features (the "deep" of DeepFM).
 * IDs not admitted by the table's filters contribute nothing and receive no
 * gradient.  The numeric weights and the tower are the model's dense
 * weights: one block beside the table, updated by every training step.
 *
 * Negative sampling: a model trained on rate r keeps each negative example
 * with probability r, so it learns odds inflated by 1/r; predictions add
 * ln r to the logit, which undoes the inflation (log-odds correction).
 *
 * Locking: a step holds the table lock shared (see cuckoo.h) from lookup
 * through update, so the entries it reads stay valid; it takes the lock
 * exclusive only briefly when an admitted key needs room made.  Dense
 * weights are updated without a lock, like entry values (Hogwild).  A
 * prediction may read without the lock, as under a sequence lock, where the
 * env offers it (see model_predict and ck_find_unlocked).
 */
#ifndef MONOLITH_MODEL_H
#define MONOLITH_MODEL_H

#include "cuckoo.h"
#include "optim.h"

#define MODEL_MAX_SLOTS 256		/* as many as a feature key can name */
#define MODEL_MAX_DIM 1024
#define MODEL_MAX_LAYERS 4
#define MODEL_MAX_WIDTH 4096
#define MODEL_MAX_NUMERIC 64
/* The bias and the most state an optimizer keeps for one weight. */
#define MODEL_BIAS_FLOATS 4
/* Bytes of one chunk of a table's arena at most (fewer entries a chunk if wide). */
#define MODEL_CHUNK_BYTES (256 * 1024)
/* Dense weights at most: the caller checks, with model_dense_param_count(). */
#define MODEL_MAX_DENSE_PARAMS (1 << 24)

typedef struct ModelConfig
{
	uint32_t	n_slots;		/* 1 to MODEL_MAX_SLOTS */
	uint32_t	n_numeric;		/* numeric features */
	uint32_t	dim;
	uint32_t	n_layers;		/* hidden layers of the tower; 0 = plain FM */
	uint32_t	width[MODEL_MAX_LAYERS];
	Optimizer	weight_optimizer;	/* first-order weights and the bias */
	Optimizer	embedding_optimizer;
	Optimizer	dense_optimizer;	/* numeric weights and the tower */
	float		init_scale;		/* embeddings start uniform in +-init_scale */
	double		negative_rate;	/* share of negative examples trained on */
	uint64_t	hash_rows;		/* 0: collisionless; else IDs share this many
								 * rows, by hash(id) mod hash_rows */
	uint64_t	seed;
} ModelConfig;

/* Where each part of a step's scratch floats starts (see model_work_floats). */
typedef struct ScratchLayout
{
	size_t		input;			/* pooled embeddings per slot, then numeric */
	size_t		sum;			/* sum of the pooled embeddings (training or a tower) */
	size_t		count;			/* IDs found per slot */
	size_t		acts;			/* the tower's activations, layer after layer */
	size_t		delta;			/* two layers' worth of backpropagated error */
	size_t		grad_input;		/* d logit / d input, from the tower */
	size_t		grad_embedding;
	size_t		dense_grad;
	size_t		total;
} ScratchLayout;

/* A model's shared state. */
typedef struct Model
{
	ModelConfig config;
	/* An entry's value, in floats: weight, its state, embedding, its state. */
	uint32_t	embedding_at;
	uint32_t	embedding_state_at;
	uint32_t	value_floats;
	uint32_t	dense_params;	/* numeric weights, then the tower's layers */
	ScratchLayout scratch;
	MemHandle	dense;			/* dense_params floats, then their state */
	uint64_t	dense_bytes;
	/*
	 * What every training step writes, a cache line clear of what every
	 * step only reads (the shape above, the table's configuration and
	 * handles below), so that trainers on other cores do not miss on those
	 * after each write (see CuckooTable's counters).
	 */
	char		step_written_begin[CK_CACHE_LINE];
	float		bias[MODEL_BIAS_FLOATS];	/* the bias, then its optimizer's state */
	uint64_t	examples;		/* atomic: training steps taken */
	uint64_t	negatives_offered;	/* atomic: the sampler's draw counter */
	char		step_written_end[CK_CACHE_LINE];
	CuckooTable table;
} Model;

/* One example: the keys of slot s are keys[slot_end[s-1] .. slot_end[s]). */
typedef struct Example
{
	const uint64_t *keys;
	const uint32_t *slot_end;	/* n_slots cumulative counts */
	const float *numeric;		/* n_numeric values */
} Example;

/*
 * Per-call scratch, sized by the caller: entries for every key of the
 * example, and model_work_floats() floats.
 */
typedef struct ModelWork
{
	CuckooEntry **entries;
	float	   *floats;
} ModelWork;

/*
 * A process's copy of a model, taken while the model was known to exist, for
 * predictions without the table lock (model_predict): they take every size
 * and address from it, none from shared memory, which a writer may free and
 * reuse under them.  Only what never changes in a model is read from it.
 */
typedef struct ModelSnapshot
{
	Model		shape;
	const float *dense;			/* this process's address of the dense weights */
} ModelSnapshot;

extern uint64_t model_dense_param_count(const ModelConfig *config);
extern size_t model_work_floats(const ModelConfig *config);
extern bool model_init(Model *m, const CoreEnv *env, const ModelConfig *config,
					   const CuckooConfig *table_config);
extern void model_destroy(Model *m, const CoreEnv *env);
extern uint64_t model_min_bytes(const ModelConfig *config, const CuckooConfig *table_config);
extern uint64_t model_memory_bytes(const Model *m);

/* Both return the (corrected) probability predicted before any update. */
extern double model_train(Model *m, const CoreEnv *env, const Example *ex,
						  double label, uint32_t now, ModelWork *work);
/* Examples one model_train_batch call should take at most: its lock hold grows with them. */
#define MODEL_TRAIN_BATCH 16
extern size_t model_batch_scratch_bytes(const Model *m);
extern uint32_t model_train_batch(Model *m, const CoreEnv *env, const Example *exs,
								  const double *labels, uint32_t n, uint32_t now,
								  ModelWork *work, void *scratch, double *predictions);
/*
 * After a caller's last batch, and before it shrinks or expires the model
 * itself between batches (which read when IDs were last seen, and a round's
 * copies hold that for its hot IDs): merges what the batches left in scratch.
 */
extern void model_train_flush(Model *m, const CoreEnv *env, void *scratch);
extern void model_snapshot(ModelSnapshot *snap, const Model *m, const CoreEnv *env);
extern double model_predict(Model *m, const ModelSnapshot *snap, const CoreEnv *env,
							const Example *ex, ModelWork *work);

/*
 * Which IDs an expiry removes: those of slot s last seen before cutoff[s]
 * (0: none).  A model whose IDs share hashed rows has one cutoff for all.
 */
typedef struct ModelExpiry
{
	uint32_t	cutoff[MODEL_MAX_SLOTS];
} ModelExpiry;

extern uint64_t model_expire(Model *m, const CoreEnv *env, const ModelExpiry *expiry,
							 uint32_t *ref, uint32_t max_pieces);
extern uint64_t model_shrink(Model *m, const CoreEnv *env, uint64_t bytes, uint32_t max_work);
extern uint64_t model_growth_bytes(const Model *m);

/* The dense weights, for tests and snapshots. */
extern float *model_dense(const Model *m, const CoreEnv *env);

#endif							/* MONOLITH_MODEL_H */
