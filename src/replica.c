/*
 * replica.c
 *		A serving replica (monolith.role = 'replica'): it subscribes to the
 *		trainer's publication (monolith.create_publication), and the
 *		subscription's apply worker fires monolith.apply_sync on each row of
 *		monolith.sync_batches and monolith.sync_dense, which writes the
 *		shipped parameters into this server's shared memory.  Model
 *		definitions arrive by the same subscription, and their trigger frees
 *		a dropped model's memory here as drop_model does on the trainer.
 *
 * A model's memory here is ready to score only once the database's worker
 * has rebuilt it from the replicated tables: after a restart, for a model
 * that appears, and after the initial copy of a subscription made late
 * (whose rows the trigger leaves to the rebuild, as it fires for them in
 * table order, not round order).  Until then it is not ready and refuses to
 * score.  The rebuild locks the tables against the apply worker, so that
 * no change lands between what it read and what the trigger applies next.
 * Rows of a later incarnation of the trainer's state (made again after the
 * trainer restarted) replace everything held of an earlier one.  A part
 * that cannot be applied is logged and counted, never an error: an error
 * in the apply worker would stop all replication until someone removed
 * the row.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "replication/worker_internal.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "features.h"
#include "model_sync.h"
#include "replica.h"
#include "shmem.h"
#include "sync.h"
#include "sync_rows.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(monolith_apply_sync);
PG_FUNCTION_INFO_V1(monolith_replica_stats);

int			monolith_role = MONOLITH_ROLE_TRAINER;

/* Errors on a replica, whose models change only as the trainer's sync says. */
void
require_trainer(const char *name)
{
	if (monolith_role == MONOLITH_ROLE_REPLICA)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("model \"%s\" cannot be changed on a replica", name),
				 errdetail("This server has monolith.role = 'replica': its models follow the trainer's."),
				 errhint("Train, expire, create, drop and grant on the trainer.")));
}

/* Errors on a replica whose memory of the model is not rebuilt yet. */
void
require_ready(const ModelHandle *h)
{
	TimestampTz incarnation;

	if (monolith_role == MONOLITH_ROLE_REPLICA && !shmem_replica_state(h, &incarnation))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" is not ready on this replica", h->def.name),
				 errdetail("Its parameters are being rebuilt from the replicated tables."),
				 errhint("Try again in a moment; monolith.replica_status says when it is ready.")));
}

/* Whether this process is a subscription's initial copy of a table. */
static bool
in_initial_copy(void)
{
	return MyLogicalRepWorker != NULL && OidIsValid(MyLogicalRepWorker->relid);
}

/* A column of the trigger's row, which the table's definition makes not null. */
static Datum
row_column(TriggerData *td, HeapTuple row, const char *column)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			attnum = SPI_fnumber(desc, column);
	bool		isnull;
	Datum		value;

	if (attnum <= 0)
		elog(ERROR, "%s has no column %s", RelationGetRelationName(td->tg_relation), column);
	value = heap_getattr(row, attnum, desc, &isnull);
	if (isnull)
		elog(ERROR, "%s.%s is null", RelationGetRelationName(td->tg_relation), column);
	return value;
}

/* Applies a shipped part on this replica, and counts it. */
static void
apply_counted(ModelHandle *h, uint32 round, bytea *data, TimestampTz shipped_at)
{
	uint64		keys = 0;

	if (sync_apply_part(h, round, data, &keys))
		shmem_replica_applied(h, false, keys, shipped_at);
	else
	{
		sync_reject_part(h, round);
		shmem_replica_applied(h, true, 0, 0);
	}
}

/*
 * monolith.apply_sync(): the replica's trigger on the rows the trainer's
 * sync ships (see the top of the file).  On a trainer it does nothing.
 */
Datum
monolith_apply_sync(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	row;
	int64		model_id;
	TimestampTz incarnation;
	TimestampTz held;
	uint32		round;
	ModelDef	def;
	ModelHandle h;
	CatalogScope scope;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_AFTER(td->tg_event) || TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("monolith.apply_sync must be called as an AFTER INSERT OR UPDATE row trigger")));
	/* On a table of anyone's own, it would write any model's parameters. */
	catalog_scope(&scope);
	if (RelationGetNamespace(td->tg_relation) != get_rel_namespace(scope.definitions) ||
		(strcmp(RelationGetRelationName(td->tg_relation), "sync_batches") != 0 &&
		 strcmp(RelationGetRelationName(td->tg_relation), "sync_dense") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("monolith.apply_sync runs only on monolith.sync_batches and monolith.sync_dense")));
	if (monolith_role != MONOLITH_ROLE_REPLICA)
		return PointerGetDatum(NULL);
	row = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	model_id = DatumGetInt64(row_column(td, row, "model_id"));
	incarnation = DatumGetTimestampTz(row_column(td, row, "incarnation"));
	round = (uint32) DatumGetInt64(row_column(td, row, "round"));

	/*
	 * An initial copy's rows go to the rebuild of every model, once the copy
	 * has committed: the copy may not see the definitions yet (their own
	 * copy may commit later, and rebuilds what it brings).
	 */
	if (in_initial_copy())
	{
		CatalogScope scope;

		catalog_scope(&scope);
		shmem_replica_invalidate(scope.extension);
		worker_request_at_commit();
		return PointerGetDatum(NULL);
	}
	/* A model whose definition is gone has nothing to apply to. */
	if (!catalog_model_exists(model_id))
		return PointerGetDatum(NULL);
	catalog_lookup_id(model_id, &def);
	shmem_open_model(&h, &def);
	if (!shmem_replica_state(&h, &held))
	{
		/* The rebuild reads it from the table, once this transaction has committed. */
		shmem_replica_set(&h, held, false);
		worker_request_at_commit();
		return PointerGetDatum(NULL);
	}
	if (incarnation < held)
		return PointerGetDatum(NULL);
	if (incarnation > held)
	{
		/* The trainer's state was made again: what is held of the old one goes. */
		replica_reset(&h, &def);
		shmem_replica_set(&h, incarnation, true);
	}
	apply_counted(&h, round, DatumGetByteaPP(row_column(td, row, "data")),
				  DatumGetTimestampTz(row_column(td, row, "shipped_at")));
	return PointerGetDatum(NULL);
}

/* Frees the handle's state and binds it to a new, empty one. */
void
replica_reset(ModelHandle *h, const ModelDef *def)
{
	ModelKey	key = {MyDatabaseId, def->extension, def->id};

	shmem_release(RELEASE_MODEL, &key);
	shmem_open_model(h, def);
}

/*
 * Rebuilds model_id's memory from the replicated tables, in the caller's
 * transaction: every part of the latest incarnation in round order, then
 * the dense weights; then it is ready, unless a subscription is still
 * copying the tables.  Returns whether the model exists.
 */
bool
replica_rebuild(int64 model_id)
{
	ModelDef	def;
	ModelHandle h;
	InternalQuery q;
	SyncExtent	extent;
	RowsApplied applied;
	DenseRow	dense;
	bool		copying;

	if (!catalog_model_exists(model_id))
		return false;
	catalog_lookup_id(model_id, &def);
	internal_begin(&q);
	/*
	 * What the apply worker commits from now on waits for this transaction,
	 * and comes after it.  The reads below are not read-only, so that each
	 * takes a snapshot after the lock, which sees what committed while the
	 * lock was awaited.
	 */
	internal_run("LOCK TABLE monolith.sync_batches, monolith.sync_dense IN SHARE MODE",
				 0, NULL, NULL, false, SPI_OK_UTILITY);
	/*
	 * A subscription's first copy of the tables that has not committed yet
	 * (states i and d; once past them, the lock has waited for it): what is
	 * here is not the trainer's state, and the model stays unready, to be
	 * rebuilt on a later round.
	 */
	internal_run("SELECT FROM pg_catalog.pg_subscription_rel "
				 "WHERE srrelid OPERATOR(pg_catalog.=) ANY ('{monolith.sync_batches,monolith.sync_dense}'::pg_catalog.regclass[]) "
				 "AND srsubstate OPERATOR(pg_catalog.=) ANY ('{i,d}'::pg_catalog.\"char\"[])",
				 0, NULL, NULL, false, SPI_OK_SELECT);
	copying = SPI_processed > 0;
	internal_end(&q);
	if (copying)
		return true;
	shmem_open_model(&h, &def);
	replica_reset(&h, &def);
	extent = sync_rows_extent(model_id);
	if (extent.incarnation != 0)
	{
		sync_rows_apply(&h, model_id, extent.incarnation, 0, &applied);
		shmem_replica_applied(&h, false, applied.keys, applied.shipped_at);
		for (uint64 i = 0; i < applied.rejected; i++)
			shmem_replica_applied(&h, true, 0, 0);
	}
	if (sync_dense_row(model_id, &dense) && dense.incarnation >= extent.incarnation)
	{
		extent.incarnation = dense.incarnation;
		apply_counted(&h, (uint32) dense.round, dense.data, dense.shipped_at);
	}
	shmem_replica_set(&h, extent.incarnation, true);
	return true;
}

/* The installation's models whose memory here is not ready, at most max of them. */
int
replica_models_to_rebuild(int64 *ids, int max)
{
	ModelGrants *models;
	Oid			extension;
	int			n_models = catalog_all_grants(&models, &extension);
	int			n = 0;

	for (int i = 0; i < n_models && n < max; i++)
		if (!shmem_model_ready(extension, models[i].id))
			ids[n++] = models[i].id;
	return n;
}

/*
 * monolith.replica_stats(): a row for every live model of the installation
 * that the current user may use, with what this replica holds of it.
 */
Datum
monolith_replica_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ModelStats *stats;
	int			n;
	TimestampTz now = GetCurrentTimestamp();

	shmem_require();
	InitMaterializedSRF(fcinfo, 0);
	n = visible_live_stats(&stats);
	for (int i = 0; i < n; i++)
	{
		ModelStats *st = &stats[i];
		Datum		values[6];
		bool		nulls[6] = {false};

		values[0] = Int64GetDatum(st->model_id);
		values[1] = BoolGetDatum(st->replica_ready);
		values[2] = TimestampTzGetDatum(st->replica_incarnation);
		nulls[2] = st->replica_incarnation == 0;
		values[3] = Int64GetDatum((int64) st->replica_keys);
		values[4] = Int64GetDatum((int64) st->replica_rejected);
		values[5] = interval_of(now - st->replica_shipped_at);
		nulls[5] = st->replica_shipped_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
