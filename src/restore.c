/*
 * restore.c
 *		A trainer's model made whole again: at every start of the server
 *		(after a crash too), from its latest good snapshot and then every
 *		change the parameter sync shipped after the snapshot's position; or,
 *		asked for by monolith.restore, from one snapshot as it was taken.
 *
 * A snapshot's position is the round of changes under way when it began
 * (and the state's incarnation): what changed before that round is in the
 * file, what changed from it on may not be, and the sync's rows of that
 * round and later have it, up to the last round whose rows committed.  So
 * the training lost in a crash is what the last sync interval had not
 * shipped yet.  A key's optimizer state, last-seen time and count come
 * from the snapshot (a key new since has a fresh state), its serving
 * parameters from the latest row that ships it.  When the rows do not
 * reach back to the snapshot (a compaction of the sync's rows deleted
 * the rounds just after it, or they are of a later incarnation), they are
 * the whole serving state by themselves (compaction leaves every live key
 * a row): then every row applies, and what the snapshot holds that no row
 * ships is removed (a purge).  Every change of a snapshot that no row
 * shipped (taken within the last sync interval) is kept, and noted for the
 * next round to ship, so that replicas, which keep the rows' state, catch
 * up.  The restored state goes on with the rows' incarnation and rounds,
 * so replicas go on without rebuilding.  A snapshot that cannot be read
 * whole is logged, and the one before it tried; with none, the rows alone
 * restore the serving parameters (optimizer states start fresh).
 *
 * A state being restored is used by nobody else: shmem.c makes others
 * wait until it is done (see shmem_open_model).
 */
#include "postgres.h"

#include "portability/instr_time.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "model_save.h"
#include "model_sync.h"
#include "restore.h"
#include "snapshot.h"
#include "sync.h"
#include "sync_rows.h"

/* Empties the handle's state in place after a snapshot that did not load whole. */
static void
reset_state(ModelHandle *h)
{
	ModelConfig config = h->model->config;
	CuckooConfig table = h->model->table.config;
	bool		made;

	h->env.lock(h->env.lock_ctx, CK_LOCK_TABLE, true);
	model_destroy(h->model, &h->env);
	made = model_init(h->model, &h->env, &config, &table);
	h->env.unlock(h->env.lock_ctx, CK_LOCK_TABLE);
	ck_view_reset(&h->view);
	if (!made)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("not enough shared memory for model \"%s\"", h->def.name),
				 errhint("Raise monolith.max_memory or drop other models.")));
}

/*
 * Restores the handle's state, made empty and used by nobody else (see
 * the top of the file); with only, from that snapshot alone, which must
 * load whole.  Returns the IDs it holds then.
 */
uint64
restore_model(ModelHandle *h, const SnapshotFile *only)
{
	SnapshotFile *files = NULL;
	int			n_files = 0;
	ModelFileHeader header;
	ModelFileSummary summary;
	const SnapshotFile *loaded = NULL;
	SyncExtent	extent = {0, 0, 0};
	RowsApplied applied = {0};
	ModelRestore open;
	bool		rows_apply;
	int64		from_round = 0;
	DenseRow	dense;
	instr_time	start;
	instr_time	took;

	INSTR_TIME_SET_CURRENT(start);
	if (only == NULL)
	{
		n_files = snapshot_files(h->def.extension, h->def.id, &files);
		if (sync_installed())
			extent = sync_rows_extent(h->def.id);
	}
	for (int i = 0; i < (only != NULL ? 1 : n_files) && loaded == NULL; i++)
	{
		const SnapshotFile *file = only != NULL ? only : &files[i];
		ModelFileStatus status = snapshot_load(h, file, extent.incarnation, &header, &summary);

		if (status == MODEL_FILE_OK)
			loaded = file;
		else if (only != NULL)
			snapshot_report(ERROR, file, h->def.name, status, NULL);
		else
		{
			snapshot_report(WARNING, file, h->def.name, status, i + 1 < n_files ?
							"An earlier snapshot is restored instead." :
							"The model is restored from the parameter sync's rows alone, with fresh optimizer state.");
			reset_state(h);
		}
	}

	/* Rows not older than the snapshot: all of them, or those from its position on. */
	rows_apply = extent.incarnation != 0 && (loaded == NULL || header.incarnation <= extent.incarnation);
	if (rows_apply && loaded != NULL && header.incarnation == extent.incarnation &&
		extent.first_round <= (int64) header.round)
		from_round = header.round;
	model_restore_begin(h->model, &open);
	if (rows_apply)
	{
		sync_rows_apply(h, h->def.id, extent.incarnation, from_round, &applied);
		if (loaded != NULL && from_round == 0)
			(void) model_import_purge(h->model, &h->env, (uint32) extent.first_round);
		if (sync_dense_row(h->def.id, &dense) && dense.incarnation == extent.incarnation &&
			(from_round == 0 || dense.round >= from_round))
		{
			uint64		keys;

			if (!sync_apply_part(h, (uint32) dense.round, dense.data, &keys))
				sync_reject_part(h, (uint32) dense.round);
		}
	}
	/* Rounds go on from the rows'; without any, every key ships in a new incarnation's first. */
	model_restore_end(h->model, &h->env, &open, rows_apply ? (uint32) (extent.last_round + 1) : 1,
					  !rows_apply);
	if (rows_apply)
		shmem_continue_incarnation(h, extent.incarnation);

	INSTR_TIME_SET_CURRENT(took);
	INSTR_TIME_SUBTRACT(took, start);
	if (loaded != NULL || applied.parts > 0)
		ereport(LOG,
				(errmsg("model \"%s\" restored with " UINT64_FORMAT " IDs in %.3f s",
						h->def.name, (uint64) __atomic_load_n(&h->model->table.live, __ATOMIC_RELAXED),
						INSTR_TIME_GET_DOUBLE(took)),
				 loaded != NULL ?
				 errdetail_plural("From snapshot \"%s\" (" UINT64_FORMAT " IDs), then " UINT64_FORMAT " keys of " UINT64_FORMAT " part the sync shipped after it.",
								  "From snapshot \"%s\" (" UINT64_FORMAT " IDs), then " UINT64_FORMAT " keys of " UINT64_FORMAT " parts the sync shipped after it.",
								  applied.parts, loaded->path, summary.entries, applied.keys, applied.parts) :
				 errdetail_plural("From " UINT64_FORMAT " keys of " UINT64_FORMAT " part the sync shipped.",
								  "From " UINT64_FORMAT " keys of " UINT64_FORMAT " parts the sync shipped.",
								  applied.parts, applied.keys, applied.parts)));
	return __atomic_load_n(&h->model->table.live, __ATOMIC_RELAXED);
}

/* The installation's models, at most max of them (none if it is not installed), for the worker to restore. */
int
restore_list_models(int64 *ids, int max)
{
	ModelGrants *models;
	Oid			extension;
	int			n;

	if (!catalog_has_owners())
		return 0;
	n = Min(catalog_all_grants(&models, &extension), max);
	for (int i = 0; i < n; i++)
		ids[i] = models[i].id;
	return n;
}

/* Makes the state of model id live, restoring it unless it already is; false if it is gone. */
bool
restore_model_by_id(int64 id)
{
	ModelDef	def;

	if (!catalog_model_exists(id))
		return false;
	catalog_lookup_id(id, &def);
	shmem_open_model(palloc(sizeof(ModelHandle)), &def);
	return true;
}
