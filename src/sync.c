/*
 * sync.c
 *		The trainer's side of the parameter sync: the database's worker ships
 *		each live model's rounds of changes into monolith.sync_batches and
 *		its dense weights into monolith.sync_dense, which a publication
 *		carries to replicas (replica.c applies them).
 *
 * A round is cut, collected and written in one transaction of the worker,
 * removals first, then values, in parts of at most PART_BYTES; it is
 * released, and the next round cut, in the worker's next transaction for
 * the model once this one has committed.  A worker that stops between the
 * two leaves the round cut: the next one ships it again, deleting the rows
 * it finds of it first, so a round's rows are always of one collection.
 *
 * Compaction keeps the rows about the model's size.  Once the rows of an
 * incarnation hold more than COMPACT_FACTOR records a live key (plus some
 * slack), a cycle begins at the round being shipped: each round then also
 * ships, from a pass over the table, the keys that have not changed since
 * the cycle began (at least ROLL_LEAST references a round, and as many as
 * the round's changes), and when the pass is through every live key has a
 * row of the cycle, so the rows of rounds before it are deleted.  A round
 * whose removal log overflowed (it could not grow at the memory cap) begins
 * a cycle too, which ends with a purge: a replica removes what it holds of
 * rounds before the cycle, which are the keys removed unannounced.  The first round of a model's
 * state (its incarnation: the state made again after a restart is a new
 * one) deletes the rows of earlier incarnations, and ships the dense
 * weights, which then go every monolith.dense_sync_interval, or with every
 * round where they are small (no tower): the bias moves with every step.
 *
 * Rounds and their rows are versioned by (incarnation, round).  Which
 * rounds a worker committed is its own memory (committed below): after a
 * restart it ships the round it finds cut again, which is harmless.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "lifecycle.h"
#include "model_sync.h"
#include "privileges.h"
#include "shmem.h"
#include "sync.h"
#include "sync_format.h"

PG_FUNCTION_INFO_V1(monolith_sync_stats);

int			monolith_sync_interval_ms = 100;
int			monolith_dense_sync_interval_ms = 10000;

/* Bytes of one part's data at most (a part holds one key at least). */
#define PART_BYTES (64 * 1024)
/* Dense weights of at most this many bytes (no tower) go with every round. */
#define SMALL_DENSE_BYTES 4096

/* Records (keys of values and of removals) a live key before compaction, and slack. */
#define COMPACT_FACTOR 2
#define COMPACT_SLACK 1024
/* References a round of a compaction cycle passes over at least. */
#define ROLL_LEAST 16384

/* The published rows of a model's incarnation, and the compaction cycle under way. */
typedef struct Compaction
{
	uint64		records;		/* keys of the rows' values and removals */
	uint32		cycle_start;	/* the round the cycle began in; 0: none */
	uint32		cursor;			/* how far its pass has gone */
	uint64		records_before; /* records of the rounds before cycle_start */
	uint32		purge_due;		/* a round that lost removals and no purge covers yet; 0: none */
} Compaction;

/* What this worker knows of a model's sync. */
typedef struct ModelSync
{
	int64		model_id;
	TimestampTz incarnation;
	uint32		committed;		/* the last round whose rows committed, or 0 */
	uint32		shipping;		/* the round the transaction under way writes, or 0 */
	TimestampTz dense_at;		/* when its dense weights last committed, or 0 */
	bool		dense_shipping;
	Compaction	compaction;		/* as of the last committed round */
	Compaction	compacting;		/* as the transaction under way leaves it */
} ModelSync;

static ModelSync *syncs = NULL;
static int	n_syncs = 0;

/* This worker's record of a model, made if it has none. */
static ModelSync *
sync_of(int64 model_id)
{
	for (int i = 0; i < n_syncs; i++)
		if (syncs[i].model_id == model_id)
			return &syncs[i];
	syncs = syncs == NULL ? MemoryContextAlloc(TopMemoryContext, sizeof(ModelSync)) :
		repalloc(syncs, sizeof(ModelSync) * (n_syncs + 1));
	memset(&syncs[n_syncs], 0, sizeof(ModelSync));
	syncs[n_syncs].model_id = model_id;
	return &syncs[n_syncs++];
}

/* The rows a round writes, through one prepared insert. */
typedef struct RoundWriter
{
	int64		model_id;
	TimestampTz incarnation;
	uint32		round;
	int32		part;
	TimestampTz shipped_at;
	SPIPlanPtr	insert;
	uint64		keys;			/* of values */
	uint64		records;		/* keys of values and removals */
	uint64		bytes;
} RoundWriter;

static void
writer_init(RoundWriter *w, int64 model_id, TimestampTz incarnation, uint32 round)
{
	Oid			types[7] = {INT8OID, TIMESTAMPTZOID, INT8OID, INT4OID, TIMESTAMPTZOID, INT4OID, BYTEAOID};

	memset(w, 0, sizeof(*w));
	w->model_id = model_id;
	w->incarnation = incarnation;
	w->round = round;
	w->shipped_at = GetCurrentTimestamp();
	w->insert = SPI_prepare("INSERT INTO monolith.sync_batches (model_id, incarnation, round, part, shipped_at, keys, data) "
							"VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types);
	if (w->insert == NULL)
		elog(ERROR, "could not prepare the sync's insert: %s", SPI_result_code_string(SPI_result));
}

/* Writes the round's next part. */
static void
writer_put(RoundWriter *w, SyncPartKind kind, uint32 n, const uint64 *keys, const float *floats,
		   uint32 floats_per_key)
{
	size_t		bytes = sync_part_bytes(kind, n, floats_per_key);
	bytea	   *data = palloc(VARHDRSZ + bytes);
	Datum		values[7];

	SET_VARSIZE(data, VARHDRSZ + bytes);
	sync_encode((unsigned char *) VARDATA(data), kind, n, floats_per_key, keys, floats);
	values[0] = Int64GetDatum(w->model_id);
	values[1] = TimestampTzGetDatum(w->incarnation);
	values[2] = Int64GetDatum((int64) w->round);
	values[3] = Int32GetDatum(w->part++);
	values[4] = TimestampTzGetDatum(w->shipped_at);
	values[5] = Int32GetDatum((int32) n);
	values[6] = PointerGetDatum(data);
	if (SPI_execute_plan(w->insert, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "the sync's insert failed");
	w->keys += kind == SYNC_VALUES ? n : 0;
	w->records += n;
	w->bytes += bytes;
	pfree(data);
}

/* Keys of a part of values, and of removals, for this model. */
static uint32
keys_per_part(uint32 floats_per_key)
{
	return Max(1, (PART_BYTES - SYNC_HEADER_BYTES) / (8 + 4 * floats_per_key));
}

/*
 * Ships, part by part, the round's changed keys (before NULL), or the keys
 * that have not changed since round *before, from *cursor on, looking at
 * budget references at most; returns whether any remain.
 */
static bool
ship_values(RoundWriter *w, ModelHandle *h, const uint32 *before, uint32 *cursor, uint64 budget)
{
	uint32		floats_per_key = model_serving_floats(h->model);
	uint32		per_part = keys_per_part(floats_per_key);
	uint64	   *keys = palloc(sizeof(uint64) * per_part);
	float	   *params = palloc(sizeof(float) * per_part * floats_per_key);
	bool		more = true;

	while (more && budget > 0)
	{
		uint32		n = 0;

		/* Fill a part: a piece may find fewer keys than it looked at. */
		while (more && n < per_part && budget > 0)
		{
			uint32		step = (uint32) Min(per_part - n, budget);
			uint64	   *k = keys + n;
			float	   *p = params + (size_t) n * floats_per_key;

			n += before == NULL ?
				model_collect_changes(h->model, &h->env, cursor, step, k, p, &more) :
				model_collect_all(h->model, &h->env, cursor, step, before, k, p, &more);
			budget -= step;
		}
		if (n > 0)
			writer_put(w, SYNC_VALUES, n, keys, params, floats_per_key);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(keys);
	pfree(params);
	return more;
}

/* Ships the round's removals, part by part. */
static void
ship_removals(RoundWriter *w, ModelHandle *h)
{
	uint32		per_part = keys_per_part(0);
	uint64	   *keys = palloc(sizeof(uint64) * per_part);
	uint32		n;

	for (uint32 from = 0; (n = model_removed_keys(h->model, &h->env, from, per_part, keys)) > 0; from += n)
		writer_put(w, SYNC_REMOVALS, n, keys, NULL, 0);
	pfree(keys);
}

/* Upserts the model's dense weights: the bias, the numeric weights and the tower. */
static void
ship_dense(ModelHandle *h, int64 model_id, TimestampTz incarnation, uint32 round)
{
	uint32		n_floats = model_serving_dense_floats(h->model);
	float	   *params = palloc(sizeof(float) * n_floats);
	size_t		bytes = sync_part_bytes(SYNC_DENSE, 0, n_floats);
	bytea	   *data = palloc(VARHDRSZ + bytes);
	Oid			types[5] = {INT8OID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID, BYTEAOID};
	Datum		values[5];

	model_export_dense(h->model, &h->env, params);
	SET_VARSIZE(data, VARHDRSZ + bytes);
	sync_encode((unsigned char *) VARDATA(data), SYNC_DENSE, 0, n_floats, NULL, params);
	values[0] = Int64GetDatum(model_id);
	values[1] = TimestampTzGetDatum(incarnation);
	values[2] = Int64GetDatum((int64) round);
	values[3] = TimestampTzGetDatum(GetCurrentTimestamp());
	values[4] = PointerGetDatum(data);
	internal_run("INSERT INTO monolith.sync_dense AS d (model_id, incarnation, round, shipped_at, data) "
				 "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model_id) DO UPDATE "
				 "SET incarnation = EXCLUDED.incarnation, round = EXCLUDED.round, "
				 "shipped_at = EXCLUDED.shipped_at, data = EXCLUDED.data",
				 5, types, values, false, SPI_OK_INSERT);
	pfree(params);
	pfree(data);
}

/* Which of a model's rows delete_rows deletes. */
typedef enum RowsToDelete
{
	ROWS_OF_ROUND,				/* the round's (shipped before, perhaps in part) */
	ROWS_BEFORE_ROUND,			/* of this incarnation's rounds before it */
	ROWS_OF_EARLIER_INCARNATIONS
} RowsToDelete;

static void
delete_rows(int64 model_id, TimestampTz incarnation, uint32 round, RowsToDelete which)
{
	static const char *const conditions[] = {
		"AND incarnation OPERATOR(pg_catalog.=) $2 AND round OPERATOR(pg_catalog.=) $3",
		"AND incarnation OPERATOR(pg_catalog.=) $2 AND round OPERATOR(pg_catalog.<) $3",
		"AND incarnation OPERATOR(pg_catalog.<>) $2"
	};
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, INT8OID};
	Datum		values[3] = {Int64GetDatum(model_id), TimestampTzGetDatum(incarnation),
	Int64GetDatum((int64) round)};

	internal_run(psprintf("DELETE FROM monolith.sync_batches WHERE model_id OPERATOR(pg_catalog.=) $1 %s",
						  conditions[which]), 3, types, values, false, SPI_OK_DELETE);
}

/* Records of the incarnation's rows, as the table holds them. */
static uint64
count_records(int64 model_id, TimestampTz incarnation)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(model_id), TimestampTzGetDatum(incarnation)};
	bool		isnull;
	Datum		sum;

	internal_run("SELECT pg_catalog.sum(keys)::pg_catalog.int8 FROM monolith.sync_batches "
				 "WHERE model_id OPERATOR(pg_catalog.=) $1 AND incarnation OPERATOR(pg_catalog.=) $2",
				 2, types, values, true, SPI_OK_SELECT);
	sum = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : (uint64) DatumGetInt64(sum);
}

/*
 * The round's share of compaction (see the top of the file): begins a cycle
 * if the rows have grown or removals were lost, ships the pass's next
 * slice, and ends the cycle when the pass is through.
 */
static void
compact(RoundWriter *w, ModelHandle *h, const CuckooRound *round, Compaction *c)
{
	uint64		live = __atomic_load_n(&h->model->table.live, __ATOMIC_RELAXED);
	uint64		changes = w->records;

	c->records += w->records;
	if (round->removals_lost && c->purge_due == 0)
		c->purge_due = round->round;
	if (c->cycle_start == 0 &&
		(c->records > COMPACT_FACTOR * live + COMPACT_SLACK || c->purge_due != 0))
	{
		c->cycle_start = round->round;
		c->cursor = 0;
		c->records_before = c->records - changes;
	}
	if (c->cycle_start == 0)
		return;
	w->records = 0;
	if (ship_values(w, h, &c->cycle_start, &c->cursor, Max(ROLL_LEAST, changes)))
	{
		c->records += w->records;
		return;
	}
	c->records += w->records;
	/* Every live key has a row of the cycle now. */
	delete_rows(w->model_id, w->incarnation, c->cycle_start, ROWS_BEFORE_ROUND);
	c->records -= c->records_before;
	if (c->purge_due != 0 && (int32) (c->purge_due - c->cycle_start) <= 0)
	{
		/* Part -1 of the cycle's first round: in round order, what is older goes. */
		RoundWriter purge = *w;

		purge.round = c->cycle_start;
		purge.part = -1;
		writer_put(&purge, SYNC_PURGE, 0, NULL, NULL, 0);
		c->purge_due = 0;
	}
	c->cycle_start = 0;
}

/*
 * Ships what model_id's round needs to, in the caller's transaction (see the
 * top of the file); returns whether it shipped anything.  The model must
 * have a live state.
 */
bool
sync_ship_model(int64 model_id)
{
	ModelSync  *s = sync_of(model_id);
	ModelDef	def;
	ModelHandle h;
	CuckooRound round;
	InternalQuery q;
	RoundWriter w;
	TimestampTz now = GetCurrentTimestamp();
	bool		first;
	bool		dense_due;
	bool		pending;
	uint32		cursor;

	catalog_lookup_id(model_id, &def);
	shmem_open_model(&h, &def);
	if (s->incarnation != shmem_incarnation(&h))
		*s = (ModelSync) {model_id, shmem_incarnation(&h)};
	/* The first round of the incarnation, or the first this worker ships of it. */
	first = s->committed == 0;
	dense_due = first || s->dense_at == 0 ||
		TimestampDifferenceExceeds(s->dense_at, now, monolith_dense_sync_interval_ms);
	s->shipping = 0;
	s->dense_shipping = false;

	/* The round this worker shipped last has committed: it goes, and the next may be cut. */
	pending = model_cut_round(h.model, &h.env, &round);
	if (pending && round.round == s->committed)
	{
		model_release_changes(h.model, &h.env);
		pending = false;
	}
	if (!pending && !first && model_changes_waiting(h.model) == 0)
	{
		if (!dense_due)
			return false;
		internal_begin(&q);
		ship_dense(&h, model_id, s->incarnation, s->committed);
		internal_end(&q);
		s->dense_shipping = true;
		shmem_sync_shipped(&h, true, 0, 0);
		return true;
	}
	/* The bias moves with every step: where it is cheap, it goes with each round. */
	dense_due |= model_serving_dense_floats(h.model) * sizeof(float) <= SMALL_DENSE_BYTES;
	if (!pending)
	{
		model_cut_changes(h.model, &h.env);
		shmem_sync_cut(&h);
		if (!model_cut_round(h.model, &h.env, &round))
			elog(ERROR, "a round of changes was cut and then was not");
	}

	internal_begin(&q);
	delete_rows(model_id, s->incarnation, round.round, ROWS_OF_ROUND);
	s->compacting = s->compaction;
	if (first)
	{
		delete_rows(model_id, s->incarnation, round.round, ROWS_OF_EARLIER_INCARNATIONS);
		s->compacting = (Compaction) {count_records(model_id, s->incarnation)};
	}
	writer_init(&w, model_id, s->incarnation, round.round);
	ship_removals(&w, &h);
	cursor = 0;
	(void) ship_values(&w, &h, NULL, &cursor, UINT64_MAX);
	compact(&w, &h, &round, &s->compacting);
	if (dense_due)
		ship_dense(&h, model_id, s->incarnation, round.round);
	internal_end(&q);

	s->shipping = round.round;
	s->dense_shipping = dense_due;
	shmem_sync_shipped(&h, false, w.keys, w.bytes);
	if (dense_due)
		shmem_sync_shipped(&h, true, 0, 0);
	return true;
}

/* After sync_ship_model's transaction: what it shipped committed, or not. */
void
sync_after_transaction(int64 model_id, bool committed)
{
	ModelSync  *s = sync_of(model_id);

	if (committed && s->shipping != 0)
	{
		s->committed = s->shipping;
		s->compaction = s->compacting;
	}
	if (committed && s->dense_shipping)
		s->dense_at = GetCurrentTimestamp();
	s->shipping = 0;
	s->dense_shipping = false;
}

/* Deletes the rows of models dropped since; runs when definitions have changed. */
void
sync_forget_dropped(void)
{
	InternalQuery q;

	internal_begin(&q);
	internal_run("DELETE FROM monolith.sync_batches b WHERE NOT EXISTS "
				 "(SELECT FROM monolith.model_definitions d WHERE d.id OPERATOR(pg_catalog.=) b.model_id)",
				 0, NULL, NULL, false, SPI_OK_DELETE);
	internal_run("DELETE FROM monolith.sync_dense b WHERE NOT EXISTS "
				 "(SELECT FROM monolith.model_definitions d WHERE d.id OPERATOR(pg_catalog.=) b.model_id)",
				 0, NULL, NULL, false, SPI_OK_DELETE);
	internal_end(&q);
}

/* Whether this installation has the sync's tables (0.6.0 and later). */
bool
sync_installed(void)
{
	CatalogScope scope;

	if (!catalog_has_owners())
		return false;
	catalog_scope(&scope);
	return OidIsValid(get_relname_relid("sync_batches", get_rel_namespace(scope.definitions)));
}

/* Interval of a TimestampTz difference in microseconds. */
Datum
interval_of(int64 usecs)
{
	Interval   *i = palloc0(sizeof(Interval));

	i->time = usecs;
	return IntervalPGetDatum(i);
}

/* The figures of the installation's live models that the current user may use; returns how many. */
int
visible_live_stats(ModelStats **out)
{
	Oid			extension;
	ModelGrants *grants;
	ModelStats *live;
	int			n_models;
	int			n_live;
	int			n = 0;

	n_models = catalog_all_grants(&grants, &extension);
	live = palloc(sizeof(ModelStats) * monolith_max_models);
	*out = palloc(sizeof(ModelStats) * monolith_max_models);
	n_live = shmem_collect_stats(extension, live, monolith_max_models);
	for (int m = 0; m < n_models; m++)
		for (int i = 0; i < n_live; i++)
			if (live[i].model_id == grants[m].id &&
				model_visible(GetUserId(), grants[m].owner, grants[m].acl))
				(*out)[n++] = live[i];
	return n;
}

/*
 * monolith.sync_stats(): a row for every live model of the installation
 * that the current user may use, with what the sync has shipped of it.
 */
Datum
monolith_sync_stats(PG_FUNCTION_ARGS)
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
		Datum		values[9];
		bool		nulls[9] = {false};

		values[0] = Int64GetDatum(st->model_id);
		values[1] = TimestampTzGetDatum(st->incarnation);
		values[2] = Int64GetDatum((int64) st->sync_rounds);
		values[3] = Int64GetDatum((int64) st->sync_keys);
		values[4] = Int64GetDatum((int64) st->sync_bytes);
		values[5] = Int64GetDatum(st->keys_waiting);
		nulls[5] = st->keys_waiting < 0;
		values[6] = TimestampTzGetDatum(st->last_sync);
		nulls[6] = st->last_sync == 0;
		values[7] = TimestampTzGetDatum(st->last_dense_sync);
		nulls[7] = st->last_dense_sync == 0;
		/* Changes wait since the last cut, if any do. */
		values[8] = interval_of(st->keys_waiting == 0 ? 0 : now - st->last_cut);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
