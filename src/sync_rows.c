/*
 * sync_rows.c
 *		The sync's rows read back into a model, in the order they were
 *		shipped: a replica rebuilding its memory of a model (replica.c) and
 *		a trainer restoring one after a restart (restore.c) both take a
 *		model's rows of one incarnation in (round, part) order, then the
 *		row of its dense weights.
 *
 * Every function here runs internal queries in the caller's transaction,
 * and each part is applied under the model's table lock, taken by the
 * core's import functions a piece at a time.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "features.h"
#include "model_sync.h"
#include "sync_format.h"
#include "sync_rows.h"

/* Rows fetched at once. */
#define ROWS_FETCH 64

/*
 * Applies one shipped part of round (of the state's incarnation) to the
 * handle's model; false if it could not.  *keys: the keys of a values part.
 */
bool
sync_apply_part(ModelHandle *h, uint32 round, bytea *data, uint64 *keys)
{
	SyncPart	part;
	uint64		refused = 0;

	if (!sync_decode((const unsigned char *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), &part))
		return false;
	*keys = part.kind == SYNC_VALUES ? part.n : 0;
	switch (part.kind)
	{
		case SYNC_VALUES:
			return model_import_values(h->model, &h->env, round, &part, table_clock_now(), &refused);
		case SYNC_REMOVALS:
			return model_import_removals(h->model, &h->env, round, &part);
		case SYNC_PURGE:
			(void) model_import_purge(h->model, &h->env, round);
			return true;
		case SYNC_DENSE:
			return model_import_dense(h->model, &h->env, &part);
	}
	return false;
}

/* Logs a part that could not be applied (the caller counts it). */
void
sync_reject_part(ModelHandle *h, uint32 round)
{
	ereport(WARNING,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("a shipped part of model \"%s\" (round %u) could not be applied", h->def.name, round),
			 errdetail("Its data is not a part of this version's format, or not of this model's shape.")));
}

/* The latest incarnation of model_id that has rows, and the rounds it has rows of. */
SyncExtent
sync_rows_extent(int64 model_id)
{
	InternalQuery q;
	Oid			type = INT8OID;
	Datum		value = Int64GetDatum(model_id);
	SyncExtent	extent = {0, 0, 0};
	bool		isnull;
	HeapTuple	t;

	internal_begin(&q);
	internal_run("SELECT incarnation, pg_catalog.min(round), pg_catalog.max(round) FROM monolith.sync_batches "
				 "WHERE model_id OPERATOR(pg_catalog.=) $1 AND incarnation OPERATOR(pg_catalog.=) "
				 "(SELECT pg_catalog.max(incarnation) FROM monolith.sync_batches WHERE model_id OPERATOR(pg_catalog.=) $1) "
				 "GROUP BY incarnation",
				 1, &type, &value, false, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		t = SPI_tuptable->vals[0];
		extent.incarnation = DatumGetTimestampTz(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
		extent.first_round = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
		extent.last_round = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull));
	}
	internal_end(&q);
	return extent;
}

/*
 * Applies model_id's rows of incarnation from round from_round on, in
 * (round, part) order, to the handle's model; counts what it did.
 */
void
sync_rows_apply(ModelHandle *h, int64 model_id, TimestampTz incarnation, int64 from_round,
				RowsApplied *applied)
{
	InternalQuery q;
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, INT8OID};
	Datum		values[3] = {Int64GetDatum(model_id), TimestampTzGetDatum(incarnation), Int64GetDatum(from_round)};
	Portal		portal;

	memset(applied, 0, sizeof(*applied));
	internal_begin(&q);
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT round, data, shipped_at FROM monolith.sync_batches "
									   "WHERE model_id OPERATOR(pg_catalog.=) $1 AND incarnation OPERATOR(pg_catalog.=) $2 "
									   "AND round OPERATOR(pg_catalog.>=) $3 ORDER BY round, part",
									   3, types, values, NULL, false, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, ROWS_FETCH);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			bool		isnull;
			uint32		round = (uint32) DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
			bytea	   *data = DatumGetByteaPP(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
			uint64		keys = 0;

			if (sync_apply_part(h, round, data, &keys))
			{
				applied->parts++;
				applied->keys += keys;
				applied->shipped_at = DatumGetTimestampTz(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull));
			}
			else
			{
				sync_reject_part(h, round);
				applied->rejected++;
			}
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	internal_end(&q);
}

/* The row of model_id's dense weights, its data copied into the caller's context; false if none. */
bool
sync_dense_row(int64 model_id, DenseRow *row)
{
	InternalQuery q;
	Oid			type = INT8OID;
	Datum		value = Int64GetDatum(model_id);
	bool		found;

	internal_begin(&q);
	internal_run("SELECT incarnation, round, shipped_at, data FROM monolith.sync_dense "
				 "WHERE model_id OPERATOR(pg_catalog.=) $1",
				 1, &type, &value, false, SPI_OK_SELECT);
	found = SPI_processed == 1;
	if (found)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		bool		isnull;
		MemoryContext old;

		row->incarnation = DatumGetTimestampTz(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
		row->round = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
		row->shipped_at = DatumGetTimestampTz(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull));
		old = MemoryContextSwitchTo(q.caller);
		row->data = DatumGetByteaPCopy(SPI_getbinval(t, SPI_tuptable->tupdesc, 4, &isnull));
		MemoryContextSwitchTo(old);
	}
	internal_end(&q);
	return found;
}
