/*
 * model_sync.h
 *		A model's changes as the parameter sync ships them: the serving
 *		parameters of the keys that changed in a round, the keys removed,
 *		and the dense weights.
 *
 * A round's changes are cut, collected in pieces and released, as the
 * table's are (see "Changes" in cuckoo.c), by one collector at a time.
 * What is shipped is what serving needs, no optimizer state: for a key, its
 * first-order weight then its embedding (model_serving_floats); for the
 * dense part, the bias then the numeric weights and the tower
 * (model_serving_dense_floats).  Each function takes the table lock itself,
 * exclusive only to cut.
 */
#ifndef MONOLITH_MODEL_SYNC_H
#define MONOLITH_MODEL_SYNC_H

#include "model.h"
#include "sync_format.h"

extern uint32_t model_serving_floats(const Model *m);
extern uint32_t model_serving_dense_floats(const Model *m);

extern int64_t model_changes_waiting(const Model *m);
extern bool model_cut_changes(Model *m, const CoreEnv *env);
extern bool model_cut_round(Model *m, const CoreEnv *env, CuckooRound *round);
extern uint32_t model_collect_changes(Model *m, const CoreEnv *env, uint32_t *cursor,
									  uint32_t max, uint64_t *keys, float *params, bool *more);
extern uint32_t model_removed_keys(Model *m, const CoreEnv *env, uint32_t from, uint32_t max,
								   uint64_t *keys);
extern void model_release_changes(Model *m, const CoreEnv *env);
extern uint32_t model_collect_all(Model *m, const CoreEnv *env, uint32_t *cursor, uint32_t max,
								  const uint32_t *before, uint64_t *keys, float *params,
								  bool *more);
extern void model_export_dense(Model *m, const CoreEnv *env, float *params);

/* On a replica (see model_sync.c). */
extern bool model_import_values(Model *m, const CoreEnv *env, uint32_t round,
								const SyncPart *part, uint32_t now, uint64_t *refused);
extern bool model_import_removals(Model *m, const CoreEnv *env, uint32_t round,
								  const SyncPart *part);
extern uint64_t model_import_purge(Model *m, const CoreEnv *env, uint32_t round);
extern bool model_import_dense(Model *m, const CoreEnv *env, const SyncPart *part);

#endif							/* MONOLITH_MODEL_SYNC_H */
