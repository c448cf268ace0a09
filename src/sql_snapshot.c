/*
 * sql_snapshot.c
 *		The SQL functions of snapshots: monolith.snapshot(model),
 *		monolith.snapshot_all(), monolith.restore(model [, taken_at]), and
 *		monolith.snapshot_files() behind the monolith.snapshots view.
 *
 * Taking or restoring a snapshot is the model owner's (a superuser's, say
 * pg_cron's job), on a trainer: a replica restores from its replicated
 * tables.  Neither is transactional: a snapshot written stays, and a
 * restore takes effect at once, whatever becomes of the transaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "features.h"
#include "privileges.h"
#include "replica.h"
#include "shmem.h"
#include "snapshot.h"

PG_FUNCTION_INFO_V1(monolith_snapshot);
PG_FUNCTION_INFO_V1(monolith_snapshot_all);
PG_FUNCTION_INFO_V1(monolith_restore);
PG_FUNCTION_INFO_V1(monolith_snapshot_files);

/* Columns of a snapshot taken: model (with_model), taken_at, ids, bytes, file. */
#define TAKEN_COLUMNS 5

/* Errors on a replica, which restores its models from the replicated tables. */
static void
require_trainer_for_snapshots(void)
{
	if (monolith_role == MONOLITH_ROLE_REPLICA)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("snapshots are taken on the trainer, not on a replica"),
				 errdetail("A replica restores its models from the replicated tables at every start.")));
}

/* Snapshots def's model, which the caller may; puts its row into the function's result. */
static void
take_one(FunctionCallInfo fcinfo, const ModelDef *def, bool with_model)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ModelHandle *h = palloc(sizeof(ModelHandle));
	SnapshotFile file;
	ModelFileSummary summary;
	uint64		bytes;
	Datum		values[TAKEN_COLUMNS];
	bool		nulls[TAKEN_COLUMNS] = {false};

	shmem_open_model(h, def);
	snapshot_take(h, &file, &summary, &bytes);
	values[0] = CStringGetTextDatum(def->name);
	values[1] = TimestampTzGetDatum(file.taken_at);
	values[2] = Int64GetDatum((int64) summary.entries);
	values[3] = Int64GetDatum((int64) bytes);
	values[4] = CStringGetTextDatum(file.path);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values + !with_model, nulls + !with_model);
	pfree(h);
}

/* monolith.snapshot(model): a snapshot of one model, which the caller owns. */
Datum
monolith_snapshot(PG_FUNCTION_ARGS)
{
	ModelDef	def;

	shmem_require();
	require_not_null(fcinfo, 0, "model name");
	require_trainer_for_snapshots();
	catalog_lookup(PG_GETARG_TEXT_PP(0), &def);
	model_require_owner(&def);
	InitMaterializedSRF(fcinfo, 0);
	take_one(fcinfo, &def, false);
	PG_RETURN_VOID();
}

/*
 * monolith.snapshot_all(): a snapshot of every model the caller owns, each
 * in a subtransaction of its own: one that fails (dropped meanwhile, say)
 * is reported as a warning, and the others are taken all the same.
 */
Datum
monolith_snapshot_all(PG_FUNCTION_ARGS)
{
	ModelGrants *grants;
	Oid			extension;
	int			n;
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	shmem_require();
	require_trainer_for_snapshots();
	InitMaterializedSRF(fcinfo, 0);
	n = catalog_all_grants(&grants, &extension);
	for (int i = 0; i < n; i++)
	{
		if (!model_owned_by(GetUserId(), grants[i].owner))
			continue;
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(context);
		PG_TRY();
		{
			ModelDef	def;

			catalog_lookup_id(grants[i].id, &def);
			take_one(fcinfo, &def, true);
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			ErrorData  *error;

			MemoryContextSwitchTo(context);
			error = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			ereport(WARNING,
					(errcode(error->sqlerrcode),
					 errmsg("no snapshot of model \"%s\": %s", grants[i].name, error->message)));
			FreeErrorData(error);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
	}
	PG_RETURN_VOID();
}

/*
 * monolith.restore(model, taken_at): the model's state replaced by its
 * snapshot taken then, or without taken_at its latest one that reads
 * whole; training since is discarded, and replicas follow (the state is a
 * new incarnation, shipped whole).  Returns the IDs it holds.
 */
Datum
monolith_restore(PG_FUNCTION_ARGS)
{
	ModelDef	def;
	ModelHandle *h = palloc(sizeof(ModelHandle));
	SnapshotFile *files;
	const SnapshotFile *chosen = NULL;
	int			n;

	shmem_require();
	require_not_null(fcinfo, 0, "model name");
	catalog_lookup(PG_GETARG_TEXT_PP(0), &def);
	model_require_owner(&def);
	/* The state now, for the snapshot's shape to be checked against. */
	shmem_open_model(h, &def);
	n = snapshot_files(def.extension, def.id, &files);
	for (int i = 0; i < n && chosen == NULL; i++)
	{
		ModelFileStatus status;

		if (!PG_ARGISNULL(1) && files[i].taken_at != PG_GETARG_TIMESTAMPTZ(1))
			continue;
		status = snapshot_check(h, &files[i]);
		if (status == MODEL_FILE_OK)
			chosen = &files[i];
		else if (!PG_ARGISNULL(1))
			snapshot_report(ERROR, &files[i], def.name, status, NULL);
		else
			snapshot_report(WARNING, &files[i], def.name, status, "An earlier snapshot is tried instead.");
	}
	if (chosen == NULL && !PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no snapshot taken at %s", def.name,
						timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(1))),
				 errhint("monolith.snapshots lists the model's snapshots.")));
	if (chosen == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no snapshot to restore", def.name),
				 errhint("Take one with monolith.snapshot.")));
	PG_RETURN_INT64((int64) shmem_restore_model(h, &def, chosen));
}

/*
 * monolith.snapshot_files(): a row for every snapshot file of the
 * installation's models that the current user may use, from its header
 * and tail: whether it is complete (a file is checked through only when
 * restored), its IDs and bytes, and the sync position it covers.
 */
Datum
monolith_snapshot_files(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ModelGrants *grants;
	Oid			extension;
	int			n_models;
	SnapshotFile *files;
	int			n_files;

	shmem_require();
	InitMaterializedSRF(fcinfo, 0);
	n_models = catalog_all_grants(&grants, &extension);
	n_files = snapshot_files(extension, -1, &files);
	for (int f = 0; f < n_files; f++)
	{
		ModelFileHeader header;
		ModelFileSummary summary;
		uint64		bytes;
		ModelFileStatus status;
		Datum		values[8];
		bool		nulls[8] = {false};
		bool		visible = false;

		for (int m = 0; m < n_models && !visible; m++)
			visible = grants[m].id == files[f].model_id &&
				model_visible(GetUserId(), grants[m].owner, grants[m].acl);
		if (!visible)
			continue;
		status = snapshot_describe(&files[f], &header, &summary, &bytes);
		values[0] = Int64GetDatum(files[f].model_id);
		values[1] = TimestampTzGetDatum(files[f].taken_at);
		values[2] = CStringGetTextDatum(status == MODEL_FILE_OK ? "complete" : model_file_status_text(status));
		values[3] = Int64GetDatum((int64) summary.entries);
		nulls[3] = status != MODEL_FILE_OK;
		values[4] = Int64GetDatum((int64) bytes);
		values[5] = TimestampTzGetDatum(header.incarnation);
		values[6] = Int64GetDatum((int64) header.round);
		nulls[5] = nulls[6] = status != MODEL_FILE_OK && status != MODEL_FILE_TRUNCATED;
		values[7] = CStringGetTextDatum(files[f].path);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
