/*
 * model_sync.c
 *		A model's changes as the parameter sync ships them (see model_sync.h).
 */
#include <string.h>

#include "model_sync.h"
#include "sync_format.h"

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

/* Keys noted changed in the round under way; -1 if more than its log holds. */
int64_t
model_changes_waiting(const Model *m)
{
	const CuckooChanges *c = &m->table.changes[__atomic_load_n(&m->table.round, __ATOMIC_RELAXED) & 1];
	uint32_t	n = __atomic_load_n(&c->changed_n, __ATOMIC_RELAXED);

	return n > c->changed_room ? -1 : (int64_t) n + __atomic_load_n(&c->removed_n, __ATOMIC_RELAXED);
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

/*
 * Collects the serving parameters of every live key (with before, of those
 * that last changed before round *before), in pieces as
 * model_collect_changes does, for a full copy of the model.
 */
uint32_t
model_collect_all(Model *m, const CoreEnv *env, uint32_t *cursor, uint32_t max,
				  const uint32_t *before, uint64_t *keys, float *params, bool *more)
{
	Collected	c = {m, keys, params, 0};

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	*more = ck_scan_range(&m->table, env, cursor, max, before, collect_entry, &c);
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

/*
 * On a replica.  Its table admits every key (the trainer chose them), and
 * each entry carries the trainer's round of the values it holds, so that an
 * older round never overwrites a newer one, whatever order parts arrive in.
 */

/* Whether a change of round r may overwrite or remove an entry of round held. */
static inline bool
round_not_older(uint32_t r, uint32_t held)
{
	return (int32_t) (r - held) >= 0;
}

/* Writes a record's serving parameters into an entry, unless the entry's are newer. */
static void
import_into(Model *m, CuckooEntry *e, uint32_t round, bool fresh, const SyncPart *part,
			uint32_t i, float *record)
{
	float	   *v = CK_VALUE(e);

	if (!fresh && !round_not_older(round, e->round))
		return;
	sync_part_floats(part, (uint64_t) i * part->floats_per_key, part->floats_per_key, record);
	v[0] = record[0];
	memcpy(v + m->embedding_at, record + 1, m->config.dim * sizeof(float));
	e->round = round;
}

/* Keys of a part imported under one hold of the shared table lock. */
#define IMPORT_PIECE 256

/*
 * Imports a values part of the trainer's round: each key's first-order
 * weight and embedding; false if the part does not fit this model's shape.
 * Returns the keys that found no memory in *refused.
 */
bool
model_import_values(Model *m, const CoreEnv *env, uint32_t round, const SyncPart *part,
					uint32_t now, uint64_t *refused)
{
	CuckooValueInit init = {NULL, NULL};
	float		record[1 + MODEL_MAX_DIM];

	if (part->kind != SYNC_VALUES || part->floats_per_key != model_serving_floats(m))
		return false;
	for (uint32_t begin = 0; begin < part->n; begin += IMPORT_PIECE)
	{
		uint32_t	end = part->n - begin < IMPORT_PIECE ? part->n : begin + IMPORT_PIECE;

		env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
		for (uint32_t i = begin; i < end; i++)
		{
			uint64_t	key = sync_part_key(part, i);
			CuckooEntry *e;
			CuckooResult r = ck_find_or_admit(&m->table, env, key, now, &init, &e);

			if (r == CK_NEED_EXCLUSIVE)
			{
				env->unlock(env->lock_ctx, CK_LOCK_TABLE);
				ck_prepare_growth(&m->table, env);
				env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
				r = ck_insert_exclusive(&m->table, env, key, now, &init, &e);
				if (r != CK_NO_MEMORY)
					import_into(m, e, round, r == CK_INSERTED, part, i, record);
				env->unlock(env->lock_ctx, CK_LOCK_TABLE);
				env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
			}
			else if (r == CK_FOUND || r == CK_INSERTED)
				import_into(m, e, round, r == CK_INSERTED, part, i, record);
			*refused += r == CK_NO_MEMORY || r == CK_FILTERED;
		}
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	}
	return true;
}

/* Removes a removals part's keys, unless a later round's values are there. */
bool
model_import_removals(Model *m, const CoreEnv *env, uint32_t round, const SyncPart *part)
{
	if (part->kind != SYNC_REMOVALS)
		return false;
	for (uint32_t begin = 0; begin < part->n; begin += IMPORT_PIECE)
	{
		uint32_t	end = part->n - begin < IMPORT_PIECE ? part->n : begin + IMPORT_PIECE;

		env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
		for (uint32_t i = begin; i < end; i++)
		{
			CuckooEntry *e = ck_find(&m->table, env, sync_part_key(part, i));

			if (e != NULL && round_not_older(round, e->round))
				ck_delete(&m->table, env, e->key);
		}
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	}
	return true;
}

/* Removes every key not shipped in round or later; returns how many. */
uint64_t
model_import_purge(Model *m, const CoreEnv *env, uint32_t round)
{
	uint32_t	ref = 1;

	return ck_remove_pieces(&m->table, env, ck_round_before, &round, &ref, UINT32_MAX);
}

/* Sets the bias and the dense weights from a dense part; false if its shape is not this model's. */
bool
model_import_dense(Model *m, const CoreEnv *env, const SyncPart *part)
{
	float	   *dense;
	float		bias;

	if (part->kind != SYNC_DENSE || part->floats_per_key != model_serving_dense_floats(m))
		return false;
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	dense = model_dense(m, env);
	sync_part_floats(part, 0, 1, &bias);
	__atomic_store(&m->bias[0], &bias, __ATOMIC_RELAXED);
	if (m->dense_params > 0)
		sync_part_floats(part, 1, m->dense_params, dense);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return true;
}
