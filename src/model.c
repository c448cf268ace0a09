/*
 * model.c
 *		Factorization machine forward and backward passes; see model.h.
 */
#include "model.h"

#include <math.h>
#include <string.h>

#include "optim.h"

/* An entry's value: first-order weight and embedding, each with Adagrad state. */
typedef struct FmValue
{
	float		weight;
	float		weight_accumulator;
	float		vec[];			/* dim embedding floats, then dim accumulators */
} FmValue;

size_t
fm_value_size(uint32_t dim)
{
	return sizeof(FmValue) + 2 * (size_t) dim * sizeof(float);
}

/* Scratch floats: pooled embeddings per slot, their sum, pooled weights, ID counts. */
size_t
fm_work_floats(uint32_t n_slots, uint32_t dim)
{
	return (size_t) n_slots * dim + dim + 2 * (size_t) n_slots;
}

/*
 * Small uniform embedding drawn from the key and the model's seed alone, so a
 * replay gives the same model whatever order keys first appear in.
 */
static void
fm_init_value(const void *arg, uint64_t key, void *value)
{
	const FmParams *p = arg;
	FmValue    *v = value;
	uint64_t	base = ck_mix64(p->seed ^ ck_mix64(key));

	for (uint32_t j = 0; j < p->dim; j++)
	{
		double		u = (double) (ck_mix64(base + j) >> 11) * 0x1.0p-53;

		v->vec[j] = (float) ((2.0 * u - 1.0) * p->init_scale);
	}
}

/* Creates an empty model; false when the memory cap leaves no room. */
bool
fm_init(FmModel *m, const CoreEnv *env, const FmParams *params,
		const CuckooConfig *table_config)
{
	CuckooConfig config = *table_config;

	memset(m, 0, sizeof(*m));
	m->params = *params;
	config.value_size = (uint32_t) fm_value_size(params->dim);
	return ck_init(&m->table, env, &config);
}

void
fm_destroy(FmModel *m, const CoreEnv *env)
{
	ck_destroy(&m->table, env);
}

static inline uint32_t
slot_begin(const FmExample *ex, uint32_t s)
{
	return s == 0 ? 0 : ex->slot_end[s - 1];
}

/* Marks, during resolve_entries, keys the filters admitted that await room. */
static CuckooEntry awaiting_room;

/* Looks up every key of the example; with admit, gives new keys entries. */
static void
resolve_entries(FmModel *m, const CoreEnv *env, const FmExample *ex, bool admit,
				uint32_t now, FmWork *work)
{
	uint32_t	n_keys = ex->slot_end[m->params.n_slots - 1];
	CuckooValueInit init = {fm_init_value, &m->params};
	bool		need_exclusive = false;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	for (uint32_t k = 0; k < n_keys; k++)
	{
		if (!admit)
			work->entries[k] = ck_find(&m->table, env, ex->keys[k]);
		else if (ck_find_or_admit(&m->table, env, ex->keys[k], now, &init,
								  &work->entries[k]) == CK_NEED_EXCLUSIVE)
		{
			/* Admitted but not yet placed; filtered keys stay NULL. */
			work->entries[k] = &awaiting_room;
			need_exclusive = true;
		}
	}
	if (!need_exclusive)
		return;

	/*
	 * Some admitted key needs room made.  Pointers found so far may move while
	 * the lock is dropped, so look everything up again after.
	 */
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	for (uint32_t k = 0; k < n_keys; k++)
		if (work->entries[k] == &awaiting_room)
			ck_insert_exclusive(&m->table, env, ex->keys[k], now, &init, &work->entries[k]);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	for (uint32_t k = 0; k < n_keys; k++)
		work->entries[k] = ck_find(&m->table, env, ex->keys[k]);
}

/*
 * Logit of the example from its resolved entries; leaves in work the pooled
 * embeddings, their sum, the pooled weights and the per-slot ID counts that
 * the backward pass needs.
 */
static double
forward(const FmModel *m, const FmExample *ex, FmWork *work)
{
	uint32_t	dim = m->params.dim;
	uint32_t	n_slots = m->params.n_slots;
	float	   *pooled = work->floats;
	float	   *sum = pooled + (size_t) n_slots * dim;
	float	   *pooled_weight = sum + dim;
	float	   *count = pooled_weight + n_slots;
	double		logit = m->bias;
	double		self = 0;
	double		total = 0;

	memset(work->floats, 0, fm_work_floats(n_slots, dim) * sizeof(float));
	for (uint32_t s = 0; s < n_slots; s++)
	{
		float	   *ps = pooled + (size_t) s * dim;

		for (uint32_t k = slot_begin(ex, s); k < ex->slot_end[s]; k++)
		{
			const FmValue *v;

			if (work->entries[k] == NULL)
				continue;
			v = CK_VALUE(work->entries[k]);
			pooled_weight[s] += v->weight;
			for (uint32_t j = 0; j < dim; j++)
				ps[j] += v->vec[j];
			count[s] += 1;
		}
		if (count[s] == 0)
			continue;
		pooled_weight[s] /= count[s];
		logit += pooled_weight[s];
		for (uint32_t j = 0; j < dim; j++)
		{
			ps[j] /= count[s];
			sum[j] += ps[j];
			self += (double) ps[j] * ps[j];
		}
	}
	for (uint32_t j = 0; j < dim; j++)
		total += (double) sum[j] * sum[j];
	/* Sum over slot pairs of <v_s, v_t> = (|sum v|^2 - sum |v|^2) / 2. */
	return logit + 0.5 * (total - self);
}

static double
sigmoid(double x)
{
	return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

/*
 * One step of log loss on the example.  d logit / d v_s = sum - v_s, shared
 * evenly by the slot's IDs.
 */
static void
backward(FmModel *m, const FmExample *ex, FmWork *work, float grad_logit, uint32_t now)
{
	uint32_t	dim = m->params.dim;
	uint32_t	n_slots = m->params.n_slots;
	float		lr = m->params.learning_rate;
	const float *pooled = work->floats;
	const float *sum = pooled + (size_t) n_slots * dim;
	const float *count = sum + dim + n_slots;

	adagrad_step(&m->bias, &m->bias_accumulator, grad_logit, lr);
	for (uint32_t s = 0; s < n_slots; s++)
	{
		const float *ps = pooled + (size_t) s * dim;
		float		g;

		if (count[s] == 0)
			continue;
		g = grad_logit / count[s];
		for (uint32_t k = slot_begin(ex, s); k < ex->slot_end[s]; k++)
		{
			FmValue    *v;

			if (work->entries[k] == NULL)
				continue;
			v = CK_VALUE(work->entries[k]);
			adagrad_step(&v->weight, &v->weight_accumulator, g, lr);
			for (uint32_t j = 0; j < dim; j++)
				adagrad_step(&v->vec[j], &v->vec[dim + j], g * (sum[j] - ps[j]), lr);
			ck_touch(work->entries[k], now);
		}
	}
}

/* Predicts the example, then takes one Adagrad step on it; returns the prediction. */
double
fm_train(FmModel *m, const CoreEnv *env, const FmExample *ex, double label,
		 uint32_t now, FmWork *work)
{
	double		p;

	resolve_entries(m, env, ex, true, now, work);
	p = sigmoid(forward(m, ex, work));
	backward(m, ex, work, (float) (p - label), now);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	__atomic_add_fetch(&m->examples, 1, __ATOMIC_RELAXED);
	return p;
}

/* Probability of a positive label, without touching the model. */
double
fm_predict(FmModel *m, const CoreEnv *env, const FmExample *ex, FmWork *work)
{
	double		p;

	resolve_entries(m, env, ex, false, 0, work);
	p = sigmoid(forward(m, ex, work));
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return p;
}
