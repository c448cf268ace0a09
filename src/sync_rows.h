/*
 * sync_rows.h
 *		Reading the rows the parameter sync ships (monolith.sync_batches and
 *		monolith.sync_dense) back into a model: a replica's rebuild, a
 *		trainer's restore (see sync_rows.c).
 */
#ifndef MONOLITH_SYNC_ROWS_H
#define MONOLITH_SYNC_ROWS_H

#include "postgres.h"

#include "shmem.h"

/* The rounds a model's latest incarnation has rows of. */
typedef struct SyncExtent
{
	TimestampTz incarnation;	/* 0: no rows */
	int64		first_round;
	int64		last_round;
} SyncExtent;

/* What applying rows did. */
typedef struct RowsApplied
{
	uint64		parts;
	uint64		keys;			/* of values parts */
	uint64		rejected;		/* parts that could not be applied */
	TimestampTz shipped_at;		/* of the last part applied; 0: none */
} RowsApplied;

/* The row of a model's dense weights. */
typedef struct DenseRow
{
	TimestampTz incarnation;
	int64		round;
	TimestampTz shipped_at;
	bytea	   *data;
} DenseRow;

extern bool sync_apply_part(ModelHandle *h, uint32 round, bytea *data, uint64 *keys);
extern void sync_reject_part(ModelHandle *h, uint32 round);
extern SyncExtent sync_rows_extent(int64 model_id);
extern void sync_rows_apply(ModelHandle *h, int64 model_id, TimestampTz incarnation, int64 from_round,
							RowsApplied *applied);
extern bool sync_dense_row(int64 model_id, DenseRow *row);

#endif							/* MONOLITH_SYNC_ROWS_H */
