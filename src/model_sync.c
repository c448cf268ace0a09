/*
 * model_sync.c
 *		A model's changes as the parameter sync ships them (see model_sync.h).
 */
#include <string.h>

#include "model_sync.h"

/* Floats shipped for a key: the first-order weight, then the embedding. */
uint32_t
model_serving_floats(const Model *m)
{
	return 1 + m->config.dim;
}

/* Floats shipped for the dense part: the bias, then the dense weights. */
uint32_t
model_serving_dense_floats(const Model *m)
{
	return 1 + m->dense_params;
}

/* Ends the round of changes under way, unless one cut is not yet released. */
bool
model_cut_changes(Model *m, const CoreEnv *env)
{
	bool		cut;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	cut = ck_cut_changes(&m->table, env);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return cut;
}

/* The round cut and not yet released, if any. */
bool
model_cut_round(Model *m, const CoreEnv *env, CuckooRound *round)
{
	bool		cut;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	cut = ck_cut_round(&m->table, round);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return cut;
}

/* Where collected keys and their serving parameters go. */
typedef struct Collected
{
	const Model *m;
	uint64_t   *keys;
	float	   *params;
	uint32_t	n;
} Collected;

static void
collect_entry(void *arg, const CuckooEntry *entry)
{
	Collected  *c = arg;
	const float *v = CK_VALUE(entry);
	float	   *out = c->params + (size_t) c->n * model_serving_floats(c->m);

	c->keys[c->n++] = entry->key;
	out[0] = v[0];
	memcpy(out + 1, v + c->m->embedding_at, c->m->config.dim * sizeof(float));
}

/*
 * Collects the next of the cut round's changed keys, at most max of them,
 * into keys and params (model_serving_floats each), under one hold of the
 * shared lock; returns how many, and sets *more while any remain.
 */
uint32_t
model_collect_changes(Model *m, const CoreEnv *env, uint32_t *cursor, uint32_t max,
					  uint64_t *keys, float *params, bool *more)
{
	Collected	c = {m, keys, params, 0};

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	*more = ck_collect_changed(&m->table, env, cursor, max, collect_entry, &c);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return c.n;
}

/* Copies the cut round's removed keys from the from-th on, at most max; returns how many. */
uint32_t
model_removed_keys(Model *m, const CoreEnv *env, uint32_t from, uint32_t max, uint64_t *keys)
{
	CuckooRound round;
	uint32_t	n = 0;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	if (ck_cut_round(&m->table, &round) && from < round.n_removed)
	{
		n = round.n_removed - from < max ? round.n_removed - from : max;
		memcpy(keys, ck_removed_keys(&m->table, env) + from, (size_t) n * sizeof(uint64_t));
	}
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return n;
}

/* Ends the cut round's collection: the next round may be cut. */
void
model_release_changes(Model *m, const CoreEnv *env)
{
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	ck_release_changes(&m->table, env);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
}

/* The bias and the dense weights, as they are (training goes on meanwhile). */
void
model_export_dense(Model *m, const CoreEnv *env, float *params)
{
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	__atomic_load(&m->bias[0], &params[0], __ATOMIC_RELAXED);
	if (m->dense_params > 0)
		memcpy(params + 1, model_dense(m, env), m->dense_params * sizeof(float));
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
}
