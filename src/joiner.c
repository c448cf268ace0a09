/*
 * joiner.c
 *		Online joiners (Monolith's online joiner, paper section 2.2): actions
 *		join the impressions they answer and train positives; impressions
 *		left unanswered when their window closes train negatives.
 *
 * Impressions (a request key, the features that were shown, when) and
 * actions (the key, and whether the action counts as positive) are rows of
 * two ordinary tables.  Two things join them:
 *	- monolith.joiner_trigger, a statement-level AFTER INSERT trigger on the
 *	  actions table, looks the positive actions' impressions up through the
 *	  unique index on their key and captures them as positives;
 *	- closing, done by the background worker (worker.c) or by
 *	  monolith.close_joiner, reads the impressions shown up to join_window
 *	  before the joiner's clock: one with a committed positive action (which
 *	  the trigger could not see, as it committed after the action's
 *	  snapshot, or was inserted through a path that fires no statement
 *	  trigger) is captured as a positive, the others as negatives, which the
 *	  model's negative sampling thins.
 * Both capture through commit_train.c, so an example trains when, and only
 * when, its transaction commits, and both record what they trained in
 * monolith.joined (one row per impression key) in the same transaction.
 * That row makes each impression train at most once as a positive and at
 * most once as a negative: inserts of the same key wait for each other, and
 * ON CONFLICT decides.  An action whose impression's negative has already
 * committed is late: it trains a positive too if late_actions is 'train',
 * and nothing if it is 'ignore'.  An action whose impression is not (or no
 * longer) there joins nothing.  Impressions with a NULL key or a time that
 * is NULL or infinite are ignored.
 *
 * Closing also rechecks the last allowed_lateness of the windows it closed
 * before, so that impressions committed a little after later-shown ones
 * still train; it reads only their keys, and the full rows of the few
 * without a record.  Retention deletes impressions (and their rows of
 * monolith.joined) shown more than retention before the clock, never one
 * whose window is still open.
 *
 * Who runs what: queries on the two tables run as the current owner of the
 * impressions table, as VACUUM runs a table's index expressions as its
 * owner, so that nothing the tables' triggers, defaults or policies do runs
 * with more rights than their owner's; that owner must hold train on the
 * model, and so must a role inserting actions.  Queries on the extension's
 * tables run as their owner.  All of them go through internal_begin_as
 * (catalog.c), with every name schema-qualified.  The tables are checked
 * again each time the joiner runs, as they may have been altered.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "commit_train.h"
#include "features.h"
#include "joiner.h"
#include "privileges.h"

PG_FUNCTION_INFO_V1(monolith_create_joiner);
PG_FUNCTION_INFO_V1(monolith_drop_joiner);
PG_FUNCTION_INFO_V1(monolith_close_joiner);
PG_FUNCTION_INFO_V1(monolith_joiner_trigger);

/* A row of monolith.joiners, and what joiner_open finds of its tables. */
typedef struct Joiner
{
	int64		id;
	char	   *name;
	Oid			owner;			/* who may close and drop it */
	int64		model_id;
	Oid			impressions;
	Oid			actions;
	char	   *key_column;
	char	   *time_column;
	char	   *positive_column;	/* NULL: every action is positive */
	Interval	window;
	Interval	retention;
	Interval	lateness;
	bool		event_clock;
	bool		train_late;
	bool		closed_any;		/* whether closed_until is set */
	TimestampTz closed_until;

	/* Set by joiner_open. */
	Oid			runner;			/* the impressions table's owner: its queries' role */
	char	   *impressions_name;	/* schema-qualified and quoted */
	char	   *actions_name;
	char	   *key_type;		/* the key's type, schema-qualified */
	const char *key;			/* the columns, quoted */
	const char *shown;
} Joiner;

#define JOINER_COLUMNS "id, name, owner, model_id, impressions, actions, key_column, time_column, " \
	"positive_column, join_window, retention, allowed_lateness, clock, late_actions, closed_until"

/* Impressions a closing reads before it commits what it closed. */
#define JOINER_STEP_ROWS 10000
/* Rows fetched at a time by a closing, and deleted at a time by retention. */
#define JOINER_BATCH_ROWS 1000

/* Key types whose equality is pg_catalog's and whose text form is canonical. */
static bool
key_type_supported(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID || type == TEXTOID ||
		type == UUIDOID;
}

/* A joiner from its row, copied into the current memory context. */
static void
joiner_from_row(HeapTuple row, TupleDesc desc, Joiner *j)
{
	bool		isnull;
	Datum		v;

	memset(j, 0, sizeof(*j));
	j->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
	j->name = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
	j->owner = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
	j->model_id = DatumGetInt64(SPI_getbinval(row, desc, 4, &isnull));
	j->impressions = DatumGetObjectId(SPI_getbinval(row, desc, 5, &isnull));
	j->actions = DatumGetObjectId(SPI_getbinval(row, desc, 6, &isnull));
	j->key_column = pstrdup(NameStr(*DatumGetName(SPI_getbinval(row, desc, 7, &isnull))));
	j->time_column = pstrdup(NameStr(*DatumGetName(SPI_getbinval(row, desc, 8, &isnull))));
	v = SPI_getbinval(row, desc, 9, &isnull);
	j->positive_column = isnull ? NULL : pstrdup(NameStr(*DatumGetName(v)));
	j->window = *DatumGetIntervalP(SPI_getbinval(row, desc, 10, &isnull));
	j->retention = *DatumGetIntervalP(SPI_getbinval(row, desc, 11, &isnull));
	j->lateness = *DatumGetIntervalP(SPI_getbinval(row, desc, 12, &isnull));
	j->event_clock = strcmp(TextDatumGetCString(SPI_getbinval(row, desc, 13, &isnull)), "event") == 0;
	j->train_late = strcmp(TextDatumGetCString(SPI_getbinval(row, desc, 14, &isnull)), "train") == 0;
	v = SPI_getbinval(row, desc, 15, &isnull);
	j->closed_any = !isnull;
	j->closed_until = isnull ? 0 : DatumGetTimestampTz(v);
}

/* Reads the joiner whose column equals value; false if there is none. */
static bool
joiner_fetch(const char *column, Oid type, Datum value, Joiner *j)
{
	InternalQuery q;
	bool		found;

	internal_begin(&q);
	internal_run(psprintf("SELECT " JOINER_COLUMNS " FROM monolith.joiners WHERE %s OPERATOR(pg_catalog.=) $1",
						  column),
				 1, &type, &value, true, SPI_OK_SELECT);
	found = SPI_processed > 0;
	if (found)
	{
		MemoryContext old = MemoryContextSwitchTo(q.caller);

		joiner_from_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, j);
		MemoryContextSwitchTo(old);
	}
	internal_end(&q);
	return found;
}

/* The joiner named name; errors if there is none. */
static void
joiner_named(text *name, Joiner *j)
{
	if (!joiner_fetch("name", TEXTOID, PointerGetDatum(name), j))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("joiner \"%s\" does not exist", text_to_cstring(name))));
}

/* Errors unless the current role acts for the joiner's owner. */
static void
require_joiner_owner(const Joiner *j)
{
	if (!has_privs_of_role(GetUserId(), j->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of joiner \"%s\"", j->name)));
}

/* The 1-based column named name of rel, of type *type; errors if there is none. */
static AttrNumber
joiner_column(Relation rel, const char *name, const char *argument, Oid *type)
{
	AttrNumber	attno = get_attnum(RelationGetRelid(rel), name);

	if (attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no column \"%s\"", RelationGetRelationName(rel), name),
				 errdetail("The %s argument names it.", argument)));
	*type = TupleDescAttr(RelationGetDescr(rel), attno - 1)->atttypid;
	return attno;
}

/*
 * Whether rel has a valid index without predicate or expressions on column
 * attno: unique on it alone, or else a btree whose first column it is.
 */
static bool
has_index_on(Relation rel, AttrNumber attno, bool unique)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;
		bool		fits = form->indisvalid && form->indkey.values[0] == attno &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL) &&
			(unique ? form->indisunique && form->indnkeyatts == 1 : index->rd_rel->relam == BTREE_AM_OID);

		index_close(index, AccessShareLock);
		if (fits)
			return true;
	}
	return false;
}

/* Errors unless rel has the index has_index_on looks for, with a hint to make it. */
static void
require_index(Relation rel, AttrNumber attno, bool unique, const char *why)
{
	const char *column = NameStr(TupleDescAttr(RelationGetDescr(rel), attno - 1)->attname);

	if (!has_index_on(rel, attno, unique))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("table \"%s\" has no %sindex on column \"%s\"", RelationGetRelationName(rel),
						unique ? "unique " : "", column),
				 errdetail("%s", why),
				 errhint("Create one with CREATE %sINDEX ON %s (%s).", unique ? "UNIQUE " : "",
						 RelationGetRelationName(rel), quote_identifier(column))));
}

/* Errors unless rel is a table (or partitioned table) that is not a partition. */
static void
require_plain_table(Relation rel)
{
	if (rel->rd_rel->relkind != RELKIND_RELATION && rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel))));
	if (rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a partition", RelationGetRelationName(rel)),
				 errdetail("Rows inserted through its parent would not fire its statement trigger."),
				 errhint("Name the partitioned table instead.")));
}

/*
 * Errors unless the two tables fit the joiner: a key of one supported type
 * in both, unique in the impressions, indexed in the actions; a time of
 * type timestamptz, indexed; a boolean positive column if named.
 */
static void
check_tables(Relation impressions, Relation actions, const char *key, const char *shown,
			 const char *positive, Oid *key_type)
{
	Oid			actions_key_type;
	Oid			type;
	AttrNumber	key_attno;
	AttrNumber	shown_attno;

	require_plain_table(impressions);
	require_plain_table(actions);
	if (RelationGetRelid(impressions) == RelationGetRelid(actions))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("impressions and actions must be two tables")));
	key_attno = joiner_column(impressions, key, "key_column", key_type);
	(void) joiner_column(actions, key, "key_column", &actions_key_type);
	if (!key_type_supported(*key_type) || *key_type != actions_key_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("key column \"%s\" must have one type in both tables, one of smallint, integer, bigint, text and uuid",
						key),
				 errdetail("It is %s in \"%s\" and %s in \"%s\".",
						   format_type_be(*key_type), RelationGetRelationName(impressions),
						   format_type_be(actions_key_type), RelationGetRelationName(actions))));
	require_index(impressions, key_attno, true,
				  "Each impression has a key of its own, which actions join through the index.");
	require_index(actions, get_attnum(RelationGetRelid(actions), key), false,
				  "Closing a window looks for the impression's actions through the index.");
	shown_attno = joiner_column(impressions, shown, "time_column", &type);
	if (type != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("time column \"%s\" must be of type timestamp with time zone, not %s",
						shown, format_type_be(type))));
	require_index(impressions, shown_attno, false,
				  "Closing windows reads the impressions in the order shown.");
	if (positive != NULL)
	{
		(void) joiner_column(actions, positive, "positive_column", &type);
		if (type != BOOLOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("positive column \"%s\" must be of type boolean, not %s",
							positive, format_type_be(type)),
					 errhint("A generated column can say which actions count, as in liked boolean GENERATED ALWAYS AS (rating >= 4) STORED.")));
	}
}

/* Opens a joiner's table, or errors naming the joiner if it is gone. */
static Relation
open_joiner_table(const Joiner *j, Oid relid, const char *role)
{
	Relation	rel = try_relation_open(relid, AccessShareLock);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the %s table of joiner \"%s\" no longer exists", role, j->name),
				 errhint("Drop the joiner with monolith.drop_joiner.")));
	return rel;
}

/* The schema-qualified, quoted name of rel. */
static char *
qualified_name(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

/*
 * Checks the joiner's tables as they are now (check_tables), and sets what
 * its queries need: their names, the key's type and the role to run as.
 * The locks last until the transaction ends.
 */
static void
joiner_open(Joiner *j)
{
	Relation	impressions = open_joiner_table(j, j->impressions, "impressions");
	Relation	actions = open_joiner_table(j, j->actions, "actions");
	Oid			key_type;

	check_tables(impressions, actions, j->key_column, j->time_column, j->positive_column, &key_type);
	j->runner = impressions->rd_rel->relowner;
	j->impressions_name = qualified_name(impressions);
	j->actions_name = qualified_name(actions);
	j->key_type = format_type_be_qualified(key_type);
	j->key = quote_identifier(j->key_column);
	j->shown = quote_identifier(j->time_column);
	relation_close(actions, NoLock);
	relation_close(impressions, NoLock);
}

/*
 * The model a joiner trains, which the role its queries run as must hold
 * train on; *target its capture for this transaction.
 */
static const ModelDef *
joiner_model(const Joiner *j, CommitTarget **target)
{
	ModelDef   *def = palloc(sizeof(ModelDef));

	catalog_lookup_id(j->model_id, def);
	if (!model_may(j->runner, def->owner, def->acl, MODEL_PRIV_TRAIN))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", def->name),
				 errdetail("Joiner \"%s\" trains the model only while the owner of its impressions table, role \"%s\", holds the train privilege on it.",
						   j->name, GetUserNameFromId(j->runner, false))));
	*target = commit_train_target(def);
	return def;
}

/* The condition that leaves out impressions without a key or a finite time. */
static char *
joinable(const Joiner *j)
{
	return psprintf("i.%1$s IS NOT NULL AND i.%2$s OPERATOR(pg_catalog.>) '-infinity'::pg_catalog.timestamptz "
					"AND i.%2$s OPERATOR(pg_catalog.<) 'infinity'::pg_catalog.timestamptz",
					j->key, j->shown);
}

/*
 * A query of the joiner's joinable impressions that meet condition, in the
 * order shown: every column, then the key as text, the time shown, and
 * whether it is to train as a positive: always (positive), or if a positive
 * action for it has committed.
 */
static char *
impressions_query(const Joiner *j, const char *condition, bool positive)
{
	char	   *answered = positive ? "true" :
		psprintf("EXISTS (SELECT FROM %s a WHERE a.%s OPERATOR(pg_catalog.=) i.%s%s%s)",
				 j->actions_name, j->key, j->key, j->positive_column ? " AND a." : "",
				 j->positive_column ? quote_identifier(j->positive_column) : "");

	return psprintf("SELECT i.*, (i.%1$s)::pg_catalog.text AS \"monolith.key\", i.%2$s AS \"monolith.shown_at\", "
					"%3$s AS \"monolith.positive\" FROM %4$s i WHERE %5$s AND (%6$s) ORDER BY i.%2$s",
					j->key, j->shown, answered, j->impressions_name, joinable(j), condition);
}

/* Rows of impressions_query, with their keys, times and kinds. */
typedef struct ImpressionRows
{
	SPITupleTable *table;
	int			n;
	Datum	   *keys;			/* text */
	Datum	   *shown;			/* timestamptz */
	Datum	   *positive;		/* bool */
} ImpressionRows;

static void
impression_rows(ImpressionRows *rows, SPITupleTable *table, int n)
{
	int			natts = table->tupdesc->natts;

	rows->table = table;
	rows->n = n;
	rows->keys = palloc(sizeof(Datum) * Max(n, 1));
	rows->shown = palloc(sizeof(Datum) * Max(n, 1));
	rows->positive = palloc(sizeof(Datum) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		bool		nulls[3];

		rows->keys[r] = SPI_getbinval(table->vals[r], table->tupdesc, natts - 2, &nulls[0]);
		rows->shown[r] = SPI_getbinval(table->vals[r], table->tupdesc, natts - 1, &nulls[1]);
		rows->positive[r] = SPI_getbinval(table->vals[r], table->tupdesc, natts, &nulls[2]);
		/* joinable() leaves these out */
		if (nulls[0] || nulls[1] || nulls[2])
			elog(ERROR, "impression without a key or a time");
	}
}

static int
compare_cstrings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Records the first n rows in monolith.joined, each as the positive or the
 * negative impression_query says, in the order of their keys (so that two
 * closings wait for each other rather than deadlock); returns the keys
 * whose example is to train, sorted.
 */
static char **
record_joined(const Joiner *j, const ImpressionRows *rows, int n, int *n_kept)
{
	Oid			types[] = {INT8OID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, BOOLARRAYOID, BOOLOID};
	Datum		values[5];
	InternalQuery q;
	char	  **kept;

	values[0] = Int64GetDatum(j->id);
	values[1] = PointerGetDatum(construct_array(rows->keys, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(rows->shown, n, TIMESTAMPTZOID, sizeof(TimestampTz),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_array(rows->positive, n, BOOLOID, 1, true, TYPALIGN_CHAR));
	values[4] = BoolGetDatum(j->train_late);
	internal_begin(&q);
	internal_run("INSERT INTO monolith.joined AS d (joiner, key, shown_at, positive, negative) "
				 "SELECT $1, u.k, u.t, u.p, NOT u.p "
				 "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(k, t, p) "
				 "ORDER BY u.k COLLATE pg_catalog.\"C\" "
				 "ON CONFLICT (joiner, key) DO UPDATE SET positive = true "
				 "WHERE excluded.positive AND NOT d.positive AND (NOT d.negative OR $5) RETURNING d.key",
				 lengthof(types), types, values, false, SPI_OK_INSERT_RETURNING);
	*n_kept = (int) SPI_processed;
	MemoryContextSwitchTo(q.caller);
	kept = palloc(sizeof(char *) * Max(*n_kept, 1));
	for (int i = 0; i < *n_kept; i++)
	{
		bool		isnull;

		kept[i] = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
													1, &isnull));
	}
	internal_end(&q);
	qsort(kept, *n_kept, sizeof(char *), compare_cstrings);
	return kept;
}

/*
 * Records the first n rows and captures, in order, the example of each that
 * record_joined kept, labelled as recorded; returns how many.
 */
static int
join_rows(const Joiner *j, const ModelDef *def, CommitTarget *target, const ImpressionRows *rows, int n)
{
	int			n_kept;
	char	  **kept;
	RowReader	reader;
	TupleTableSlot *slot;

	if (n == 0)
		return 0;
	kept = record_joined(j, rows, n, &n_kept);
	if (n_kept == 0)
		return 0;
	row_reader_init(&reader, def, rows->table->tupdesc, NULL,
					psprintf("the impressions table of joiner \"%s\"", j->name), "the impressions");
	slot = MakeSingleTupleTableSlot(rows->table->tupdesc, &TTSOpsHeapTuple);
	for (int r = 0; r < n; r++)
	{
		char	   *key = TextDatumGetCString(rows->keys[r]);
		double		label = DatumGetBool(rows->positive[r]) ? 1 : 0;
		ModelWork	work;
		Example		ex;

		if (bsearch(&key, kept, n_kept, sizeof(char *), compare_cstrings) == NULL)
			continue;
		ExecStoreHeapTuple(rows->table->vals[r], slot, false);
		ex = row_reader_read(&reader, slot, r + 1, &label, &work);
		commit_train_add(target, &ex, label);
	}
	ExecDropSingleTupleTableSlot(slot);
	return n_kept;
}

/* t - interval */
static TimestampTz
minus_interval(TimestampTz t, const Interval *interval)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(t),
												   IntervalPGetDatum(interval)));
}

/* The joiner's clock: now, or its latest joinable impression's time; false if it has none. */
static bool
joiner_clock(const Joiner *j, TimestampTz *now)
{
	InternalQuery q;
	bool		isnull = false;

	if (!j->event_clock)
	{
		*now = GetCurrentTransactionStartTimestamp();
		return true;
	}
	internal_begin_as(&q, j->runner);
	internal_run(psprintf("SELECT pg_catalog.max(i.%s) FROM %s i WHERE %s", j->shown,
						  j->impressions_name, joinable(j)),
				 0, NULL, NULL, true, SPI_OK_SELECT);
	*now = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	internal_end(&q);
	return !isnull;
}

/* Records that the joiner's windows are closed up to reached. */
static void
record_closed_until(Joiner *j, TimestampTz reached)
{
	Oid			types[] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[] = {Int64GetDatum(j->id), TimestampTzGetDatum(reached)};
	InternalQuery q;

	internal_begin(&q);
	internal_run("UPDATE monolith.joiners SET closed_until = GREATEST(closed_until, $2) "
				 "WHERE id OPERATOR(pg_catalog.=) $1", 2, types, values, false, SPI_OK_UPDATE);
	internal_end(&q);
	if (!j->closed_any || reached > j->closed_until)
		j->closed_until = reached;
	j->closed_any = true;
}

/*
 * The keys of the impressions shown in the last allowed_lateness of the
 * closed windows that have no record: those committed after the closing
 * that passed them.  Only keys are read, and checked by a read-only query,
 * as nearly all of them have a record; NULL if none is left.
 */
static ArrayType *
unrecorded_late_keys(const Joiner *j)
{
	Oid			types[] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, TEXTARRAYOID};
	Datum		values[4];
	InternalQuery q;
	Datum	   *keys;
	int			n;
	bool		isnull;
	Datum		unrecorded;

	values[0] = TimestampTzGetDatum(minus_interval(j->closed_until, &j->lateness));
	values[1] = TimestampTzGetDatum(j->closed_until);
	internal_begin_as(&q, j->runner);
	internal_run(psprintf("SELECT (i.%1$s)::pg_catalog.text FROM %2$s i WHERE %3$s "
						  "AND i.%4$s OPERATOR(pg_catalog.>=) $1 AND i.%4$s OPERATOR(pg_catalog.<=) $2",
						  j->key, j->impressions_name, joinable(j), j->shown),
				 2, types, values, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	MemoryContextSwitchTo(q.caller);
	keys = palloc(sizeof(Datum) * Max(n, 1));
	for (int r = 0; r < n; r++)
		keys[r] = datumCopy(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull),
							false, -1);
	internal_end(&q);

	values[2] = Int64GetDatum(j->id);
	values[3] = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));
	internal_begin(&q);
	internal_run("SELECT pg_catalog.array_agg(u.k) FROM pg_catalog.unnest($4) AS u(k) "
				 "WHERE NOT EXISTS (SELECT FROM monolith.joined d "
				 "WHERE d.joiner OPERATOR(pg_catalog.=) $3 AND d.key OPERATOR(pg_catalog.=) u.k)",
				 4, types, values, true, SPI_OK_SELECT);
	unrecorded = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	MemoryContextSwitchTo(q.caller);
	unrecorded = isnull ? (Datum) 0 : PointerGetDatum(DatumGetArrayTypePCopy(unrecorded));
	internal_end(&q);
	return isnull ? NULL : DatumGetArrayTypeP(unrecorded);
}

/*
 * Closes the windows of impressions committed late: shown in the last
 * allowed_lateness of the closed windows and still without a record; adds
 * the impressions closed to *closed.
 */
static void
close_late_windows(const Joiner *j, const ModelDef *def, CommitTarget *target, int64 *closed)
{
	ArrayType  *keys = unrecorded_late_keys(j);
	Oid			type = TEXTARRAYOID;
	Datum		value;
	InternalQuery q;
	ImpressionRows rows;

	if (keys == NULL)
		return;
	value = PointerGetDatum(keys);
	internal_begin_as(&q, j->runner);
	/* The keys as their own type, for the unique index. */
	internal_run(impressions_query(j, psprintf("i.%s OPERATOR(pg_catalog.=) ANY ($1::%s[])",
											   j->key, j->key_type), false),
				 1, &type, &value, false, SPI_OK_SELECT);
	impression_rows(&rows, SPI_tuptable, (int) SPI_processed);
	*closed += join_rows(j, def, target, &rows, rows.n);
	internal_end(&q);
}

/*
 * Closes the windows of impressions shown up to join_window before as_of:
 * first those committed late behind the closed windows, then the next
 * JOINER_STEP_ROWS impressions or so in the order shown (never stopping
 * inside a run of equal times), and records how far it got; adds the
 * impressions closed to *closed.  Returns true when it reached as_of.
 */
static bool
close_windows(Joiner *j, const ModelDef *def, CommitTarget *target, TimestampTz as_of,
			  int64 *closed)
{
	TimestampTz cutoff = minus_interval(as_of, &j->window);
	TimestampTz reached = cutoff;
	Oid			types[] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	InternalQuery q;
	Portal		portal;
	MemoryContext batch_context;
	int			seen = 0;
	bool		stopped = false;
	TimestampTz last = 0;

	if (j->closed_any)
		close_late_windows(j, def, target, closed);
	if (j->closed_any && cutoff <= j->closed_until)
		return true;
	values[0] = TimestampTzGetDatum(j->closed_any ? j->closed_until : DT_NOBEGIN);
	values[1] = TimestampTzGetDatum(cutoff);
	internal_begin_as(&q, j->runner);
	portal = SPI_cursor_open_with_args(NULL,
									   impressions_query(j, psprintf("i.%1$s OPERATOR(pg_catalog.>) $1 "
																	 "AND i.%1$s OPERATOR(pg_catalog.<=) $2",
																	 j->shown), false),
									   2, types, values, NULL, false, 0);
	batch_context = AllocSetContextCreate(CurrentMemoryContext, "monolith joiner batch",
										  ALLOCSET_DEFAULT_SIZES);
	while (!stopped)
	{
		MemoryContext old;
		ImpressionRows rows;
		int			n;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, JOINER_BATCH_ROWS);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(batch_context);
		impression_rows(&rows, SPI_tuptable, (int) SPI_processed);
		/* Past the step's rows, only the rest of the last time's run. */
		for (n = 0; n < rows.n; n++)
		{
			TimestampTz t = DatumGetTimestampTz(rows.shown[n]);

			if (seen >= JOINER_STEP_ROWS && t != last)
			{
				stopped = true;
				reached = last;
				break;
			}
			last = t;
			seen++;
		}
		*closed += join_rows(j, def, target, &rows, n);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(rows.table);
		MemoryContextReset(batch_context);
	}
	SPI_cursor_close(portal);
	internal_end(&q);
	/* Nothing shown there yet: no need to write that it is closed. */
	if (seen > 0 || !j->closed_any)
		record_closed_until(j, reached);
	return !stopped;
}

/*
 * Deletes up to JOINER_BATCH_ROWS impressions shown before limit, and as
 * many of the joiner's rows of monolith.joined; true if that was all.  In
 * the order shown, so that the indexes on the times find the oldest (or
 * that there are none) without reading the tables.
 */
static bool
delete_retained(const Joiner *j, TimestampTz limit)
{
	Oid			types[] = {TIMESTAMPTZOID, INT8OID};
	Datum		values[] = {TimestampTzGetDatum(limit), Int64GetDatum(j->id)};
	InternalQuery q;
	uint64		deleted;

	internal_begin_as(&q, j->runner);
	internal_run(psprintf("DELETE FROM %1$s i WHERE i.%2$s OPERATOR(pg_catalog.=) ANY (ARRAY("
						  "SELECT o.%2$s FROM %1$s o WHERE o.%3$s OPERATOR(pg_catalog.<) $1 ORDER BY o.%3$s LIMIT %4$d))",
						  j->impressions_name, j->key, j->shown, JOINER_BATCH_ROWS),
				 1, types, values, false, SPI_OK_DELETE);
	deleted = SPI_processed;
	internal_end(&q);

	internal_begin(&q);
	internal_run(psprintf("DELETE FROM monolith.joined d WHERE d.joiner OPERATOR(pg_catalog.=) $2 "
						  "AND d.key OPERATOR(pg_catalog.=) ANY (ARRAY("
						  "SELECT o.key FROM monolith.joined o WHERE o.joiner OPERATOR(pg_catalog.=) $2 "
						  "AND o.shown_at OPERATOR(pg_catalog.<) $1 ORDER BY o.shown_at LIMIT %d))", JOINER_BATCH_ROWS),
				 2, types, values, false, SPI_OK_DELETE);
	deleted = Max(deleted, SPI_processed);
	internal_end(&q);
	return deleted < JOINER_BATCH_ROWS;
}

/*
 * Where retention deletes up to, given the clock: retention before it, but
 * never past impressions whose windows a closing may still read.
 */
static bool
retention_limit(const Joiner *j, TimestampTz now, TimestampTz *limit)
{
	TimestampTz closed;

	if (!j->closed_any)
		return false;
	closed = minus_interval(j->closed_until, &j->lateness);
	*limit = Min(minus_interval(now, &j->retention), closed);
	return true;
}

bool
joiner_work(int64 id)
{
	Joiner		j;
	CommitTarget *target;
	const ModelDef *def;
	TimestampTz now;
	TimestampTz limit;
	int64		closed = 0;

	if (!joiner_fetch("id", INT8OID, Int64GetDatum(id), &j))
		return true;
	joiner_open(&j);
	def = joiner_model(&j, &target);
	if (!joiner_clock(&j, &now))
		return true;
	if (!close_windows(&j, def, target, now, &closed))
		return false;
	return !retention_limit(&j, now, &limit) || delete_retained(&j, limit);
}

int
joiner_list(int64 **ids, MemoryContext context)
{
	InternalQuery q;
	CatalogScope scope;
	int			n;

	if (!catalog_has_owners())
		return 0;
	catalog_scope(&scope);
	if (!OidIsValid(get_relname_relid("joiners", get_rel_namespace(scope.definitions))))
		return 0;
	internal_begin(&q);
	internal_run("SELECT id FROM monolith.joiners ORDER BY id", 0, NULL, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	*ids = MemoryContextAlloc(context, sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		(*ids)[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	internal_end(&q);
	return n;
}

/*
 * monolith.close_joiner(name, as_of): closes the windows up to as_of (or the
 * joiner's clock) and applies retention by the clock, in the caller's
 * transaction; returns the impressions closed.
 */
Datum
monolith_close_joiner(PG_FUNCTION_ARGS)
{
	Joiner		j;
	CommitTarget *target;
	const ModelDef *def;
	TimestampTz now;
	TimestampTz as_of;
	TimestampTz limit;
	bool		has_clock;
	int64		closed = 0;

	require_not_null(fcinfo, 0, "name");
	shmem_require();
	joiner_named(PG_GETARG_TEXT_PP(0), &j);
	require_joiner_owner(&j);
	joiner_open(&j);
	def = joiner_model(&j, &target);
	has_clock = joiner_clock(&j, &now);
	if (!PG_ARGISNULL(1))
		as_of = PG_GETARG_TIMESTAMPTZ(1);
	else if (has_clock)
		as_of = now;
	else
		PG_RETURN_INT64(0);
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite time")));
	while (!close_windows(&j, def, target, as_of, &closed))
		;
	if (has_clock && retention_limit(&j, now, &limit))
		while (!delete_retained(&j, limit))
			CHECK_FOR_INTERRUPTS();
	PG_RETURN_INT64(closed);
}

/*
 * monolith.joiner_trigger(joiner): the actions table's trigger; the positive
 * actions' impressions train positives when the transaction commits.
 */
Datum
monolith_joiner_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	Joiner		j;
	CommitTarget *target;
	const ModelDef *def;
	InternalQuery q;
	ImpressionRows rows;
	char	   *actions;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigger->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigger->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigger->tg_event) ||
		trigger->tg_newtable == NULL || trigger->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("monolith.joiner_trigger must be fired AFTER INSERT FOR EACH STATEMENT, with a NEW TABLE and the joiner's name"),
				 errhint("monolith.create_joiner makes the trigger.")));
	shmem_require();
	joiner_named(cstring_to_text(trigger->tg_trigger->tgargs[0]), &j);
	if (RelationGetRelid(trigger->tg_relation) != j.actions)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table \"%s\" is not the actions table of joiner \"%s\"",
						RelationGetRelationName(trigger->tg_relation), j.name)));
	joiner_open(&j);
	def = joiner_model(&j, &target);
	model_require(def, MODEL_PRIV_TRAIN);

	actions = psprintf("SELECT a.%s FROM %s a%s%s", j.key,
					   quote_identifier(trigger->tg_trigger->tgnewtable),
					   j.positive_column ? " WHERE a." : "",
					   j.positive_column ? quote_identifier(j.positive_column) : "");
	internal_begin_as(&q, j.runner);
	if (SPI_register_trigger_data(trigger) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition table");
	/* Not read-only: in READ COMMITTED, a new snapshot sees impressions committed since the statement began. */
	internal_run(impressions_query(&j, psprintf("i.%s OPERATOR(pg_catalog.=) ANY (ARRAY(%s))",
												j.key, actions), true),
				 0, NULL, NULL, false, SPI_OK_SELECT);
	impression_rows(&rows, SPI_tuptable, (int) SPI_processed);
	(void) join_rows(&j, def, target, &rows, rows.n);
	internal_end(&q);
	return PointerGetDatum(NULL);
}

/* Errors unless relid is a table the current role owns itself (a superuser too). */
static Relation
open_own_table(Oid relid)
{
	Relation	rel = relation_open(relid, ShareRowExclusiveLock);

	if (rel->rd_rel->relowner != GetUserId())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be the owner of table %s", RelationGetRelationName(rel)),
				 errdetail("A joiner's queries run as the owner of its impressions table, who must own its actions table too; membership in the owning role is not enough.")));
	return rel;
}

/* Errors unless interval is positive (or, with zero_ok, zero). */
static void
require_positive_interval(FunctionCallInfo fcinfo, int arg, const char *what, bool zero_ok)
{
	Interval	zero = {0};
	int			cmp;

	require_not_null(fcinfo, arg, what);
	cmp = DatumGetInt32(DirectFunctionCall2(interval_cmp, PG_GETARG_DATUM(arg),
											IntervalPGetDatum(&zero)));
	if (cmp < 0 || (cmp == 0 && !zero_ok))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s", what, zero_ok ? "zero or more" : "positive")));
}

/* Errors unless the text argument arg is one of two words. */
static void
require_choice(FunctionCallInfo fcinfo, int arg, const char *what, const char *a, const char *b)
{
	char	   *value;

	require_not_null(fcinfo, arg, what);
	value = text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (strcmp(value, a) != 0 && strcmp(value, b) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be '%s' or '%s', not '%s'", what, a, b, value)));
}

/* The name of a joiner's trigger on its actions table. */
static char *
trigger_name(int64 joiner_id)
{
	return psprintf("monolith_joiner_%lld", (long long) joiner_id);
}

/* Makes the actions table's trigger, which depends on the impressions table too. */
static void
create_actions_trigger(int64 id, const char *name, Relation actions, Oid impressions)
{
	InternalQuery q;
	char	   *trigger = trigger_name(id);
	ObjectAddress trigger_address;
	ObjectAddress impressions_address;

	internal_begin_as(&q, GetUserId());
	internal_run(psprintf("CREATE TRIGGER %s AFTER INSERT ON %s REFERENCING NEW TABLE AS monolith_new_actions "
						  "FOR EACH STATEMENT EXECUTE FUNCTION monolith.joiner_trigger(%s)",
						  trigger, qualified_name(actions), quote_literal_cstr(name)),
				 0, NULL, NULL, false, SPI_OK_UTILITY);
	internal_end(&q);
	ObjectAddressSet(trigger_address, TriggerRelationId,
					 get_trigger_oid(RelationGetRelid(actions), trigger, false));
	ObjectAddressSet(impressions_address, RelationRelationId, impressions);
	recordDependencyOn(&trigger_address, &impressions_address, DEPENDENCY_NORMAL);
}

/*
 * monolith.create_joiner(name, model, impressions, actions, key_column,
 * time_column, positive_column, join_window, retention, late_actions,
 * clock, allowed_lateness): see the SQL script.
 */
Datum
monolith_create_joiner(PG_FUNCTION_ARGS)
{
	static const char *const what[] = {"name", "model", "impressions", "actions", "key_column",
	"time_column"};

	/* The argument of each column inserted; -1: the owner, then the model's id. */
	static const int arg_of_column[] = {0, -1, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	static const Oid arg_types[] = {TEXTOID, TEXTOID, REGCLASSOID, REGCLASSOID, NAMEOID, NAMEOID,
	NAMEOID, INTERVALOID, INTERVALOID, TEXTOID, TEXTOID, INTERVALOID};
	Oid			types[lengthof(arg_of_column)];
	Datum		values[lengthof(arg_of_column)];
	char		nulls[lengthof(arg_of_column)];
	ModelDef	def;
	Relation	impressions;
	Relation	actions;
	Oid			key_type;
	RowReader	reader;
	InternalQuery q;
	int64		id;
	bool		isnull;
	char	   *name;

	for (int a = 0; a < lengthof(what); a++)
		require_not_null(fcinfo, a, what[a]);
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("joiner name must not be empty")));
	require_positive_interval(fcinfo, 7, "join_window", false);
	require_positive_interval(fcinfo, 8, "retention", false);
	require_choice(fcinfo, 9, "late_actions", "train", "ignore");
	require_choice(fcinfo, 10, "clock", "wall", "event");
	require_positive_interval(fcinfo, 11, "allowed_lateness", true);
	shmem_require();

	catalog_lookup(PG_GETARG_TEXT_PP(1), &def);
	model_require(&def, MODEL_PRIV_TRAIN);
	impressions = open_own_table(PG_GETARG_OID(2));
	actions = open_own_table(PG_GETARG_OID(3));
	check_tables(impressions, actions, NameStr(*PG_GETARG_NAME(4)), NameStr(*PG_GETARG_NAME(5)),
				 PG_ARGISNULL(6) ? NULL : NameStr(*PG_GETARG_NAME(6)), &key_type);
	/* The model's inputs must be columns of the impressions. */
	row_reader_init(&reader, &def, RelationGetDescr(impressions), NULL,
					psprintf("table \"%s\"", RelationGetRelationName(impressions)),
					"the impressions");

	/* The new row: the arguments in order, after the owner and the model's id. */
	memset(nulls, ' ', sizeof(nulls));
	for (int a = 0; a < lengthof(arg_of_column); a++)
	{
		int			arg = arg_of_column[a];

		types[a] = arg >= 0 ? arg_types[arg] : a == 1 ? REGROLEOID : INT8OID;
		if (arg >= 0 && PG_ARGISNULL(arg))
			nulls[a] = 'n';
		else
			values[a] = arg >= 0 ? PG_GETARG_DATUM(arg) :
				a == 1 ? ObjectIdGetDatum(GetUserId()) : Int64GetDatum(def.id);
	}
	internal_begin(&q);
	if (SPI_execute_with_args("INSERT INTO monolith.joiners (name, owner, model_id, impressions, actions, "
							  "key_column, time_column, positive_column, join_window, retention, "
							  "late_actions, clock, allowed_lateness) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
							  "ON CONFLICT (name) DO NOTHING RETURNING id",
							  lengthof(types), types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "internal query failed: INSERT INTO monolith.joiners");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("joiner \"%s\" already exists", name)));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	internal_end(&q);

	create_actions_trigger(id, name, actions, RelationGetRelid(impressions));
	relation_close(actions, NoLock);
	relation_close(impressions, NoLock);
	PG_RETURN_VOID();
}

/* monolith.drop_joiner(name): drops the joiner, its trigger and its record. */
Datum
monolith_drop_joiner(PG_FUNCTION_ARGS)
{
	Joiner		j;
	Oid			trigger;
	InternalQuery q;
	Oid			type = INT8OID;
	Datum		value;

	joiner_named(PG_GETARG_TEXT_PP(0), &j);
	require_joiner_owner(&j);
	value = Int64GetDatum(j.id);
	/* Gone with the actions table, or dropped by hand. */
	trigger = get_rel_name(j.actions) == NULL ? InvalidOid :
		get_trigger_oid(j.actions, trigger_name(j.id), true);
	if (OidIsValid(trigger))
	{
		ObjectAddress address;

		ObjectAddressSet(address, TriggerRelationId, trigger);
		performDeletion(&address, DROP_RESTRICT, 0);
	}
	internal_begin(&q);
	internal_run("DELETE FROM monolith.joined WHERE joiner OPERATOR(pg_catalog.=) $1",
				 1, &type, &value, false, SPI_OK_DELETE);
	internal_run("DELETE FROM monolith.joiners WHERE id OPERATOR(pg_catalog.=) $1",
				 1, &type, &value, false, SPI_OK_DELETE);
	internal_end(&q);
	PG_RETURN_VOID();
}
