/*
 * shmem.h
 *		The extension's shared memory: a registry of live models and the DSA
 *		area that holds their tables.
 */
#ifndef MONOLITH_SHMEM_H
#define MONOLITH_SHMEM_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"

#include "modeldef.h"

/* Names a model's shared state: its row of one installation of monolith. */
typedef struct ModelKey
{
	Oid			dboid;
	Oid			extension;		/* a new CREATE EXTENSION starts new ids */
	int64		id;
} ModelKey;

/* What a release frees: one model, an installation's models, a database's. */
typedef enum ReleaseScope
{
	RELEASE_MODEL,
	RELEASE_INSTALLATION,
	RELEASE_DATABASE
} ReleaseScope;

/* A backend's handle on a model's shared state. */
typedef struct ModelHandle
{
	ModelDef	def;
	int			registry_index;
	uint32		generation;
	Model	   *model;			/* this backend's address of the state */
	CoreEnv		env;
	CuckooView	view;			/* this backend's addresses of the table */
	ModelSnapshot snapshot;		/* for predictions without the table lock */
} ModelHandle;

/* What became of examples captured to train at commit (see commit_train.c). */
typedef enum CommitOutcome
{
	COMMIT_TRAINED,				/* their transaction committed and the model took them */
	COMMIT_ROLLED_BACK,			/* their transaction or subtransaction rolled back */
	COMMIT_FAILED,				/* their transaction committed but training failed */
	N_COMMIT_OUTCOMES
} CommitOutcome;

/* Figures of one live model, for monolith.models. */
typedef struct ModelStats
{
	int64		model_id;
	uint64		ids;
	uint64		memory_bytes;
	uint64		examples;
	uint64		evicted;
	uint64		refused;		/* admitted IDs that found no memory */
	uint64		expired;		/* IDs removed for their age */
	double		longest_exclusive_ms;	/* of the model's table lock */
	uint64		outcomes[N_COMMIT_OUTCOMES];	/* of examples captured to train at commit */
	double		committed_auc;	/* progressive AUC of those trained; NaN before both classes */
	/* The parameter sync's (see sync.c): */
	TimestampTz incarnation;
	uint64		sync_rounds;
	uint64		sync_keys;
	uint64		sync_bytes;
	int64		keys_waiting;	/* changed in the round under way; -1: more than its log holds */
	TimestampTz last_cut;
	TimestampTz last_sync;		/* 0: never */
	TimestampTz last_dense_sync;	/* 0: never */
	/* A replica's (see replica.c): */
	bool		replica_ready;
	TimestampTz replica_incarnation;
	uint64		replica_keys;
	uint64		replica_rejected;
	TimestampTz replica_shipped_at;	/* 0: nothing applied yet */
} ModelStats;

extern int	monolith_max_memory_mb;
extern int	monolith_max_models;
extern int	monolith_log_long_holds_ms;

extern void shmem_install_hooks(void);
extern void shmem_require(void);
extern void shmem_assign_max_memory(int newval, void *extra);
struct SnapshotFile;

extern void shmem_open_model(ModelHandle *handle, const ModelDef *def);
extern uint64 shmem_restore_model(ModelHandle *h, const ModelDef *def, const struct SnapshotFile *file);
extern void shmem_continue_incarnation(const ModelHandle *h, TimestampTz incarnation);
extern bool shmem_model_alive(const ModelHandle *h);
extern void shmem_count_outcome(const ModelHandle *h, CommitOutcome outcome, uint64 n);
extern void shmem_add_committed_auc(const ModelHandle *h, const double *pos, const double *neg);
extern void shmem_release(ReleaseScope scope, const ModelKey *key);
extern int	shmem_collect_stats(Oid extension, ModelStats *out, int max);
extern void shmem_usage(int *live, uint64 *bytes);
extern int	shmem_live_model_ids(Oid extension, int64 *ids, int max);
extern TimestampTz shmem_incarnation(const ModelHandle *h);
extern void shmem_sync_cut(const ModelHandle *h);
extern void shmem_sync_shipped(const ModelHandle *h, bool dense, uint64 keys, uint64 bytes);
extern bool shmem_replica_state(const ModelHandle *h, TimestampTz *incarnation);
extern void shmem_replica_set(const ModelHandle *h, TimestampTz incarnation, bool ready);
extern void shmem_replica_applied(const ModelHandle *h, bool rejected, uint64 keys,
								  TimestampTz shipped_at);
extern bool shmem_model_ready(Oid extension, int64 id);
extern void shmem_replica_invalidate(Oid extension);

/*
 * Counts commits of transactions that changed model definitions, so that a
 * backend's cached look-ups can tell they may be stale; NULL until the
 * shared memory is set up.
 */
extern pg_atomic_uint64 *monolith_definitions_version;

/* Non-zero while models must give memory back (see shmem.c); NULL until set up. */
extern pg_atomic_uint32 *monolith_memory_pressure;
extern void shmem_relieve_pressure(ModelHandle *h);

/*
 * Between training steps: lets the model give memory back while the cap is
 * contended, every so many steps.  Cheap otherwise: one shared read.
 */
static inline void
shmem_check_pressure(ModelHandle *h)
{
	static uint32 steps = 0;

	if (unlikely(pg_atomic_read_u32(monolith_memory_pressure) != 0) && (++steps & 63) == 0)
		shmem_relieve_pressure(h);
}

#endif							/* MONOLITH_SHMEM_H */
