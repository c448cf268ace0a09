/*
 * catalog.c
 *		Model definitions: rows of monolith.model_definitions, created and
 *		dropped by SQL functions, read back when a backend first uses a model.
 *
 * Definitions are transactional; shared state is not.  So a model's shared
 * state is freed only when the transaction that dropped it commits, and a
 * state made for a model created in a transaction that rolls back is freed
 * at the rollback.  Pending frees are kept per (sub)transaction below.
 * Dropping the extension or a database frees all of its models' states.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "catalog.h"
#include "featkey.h"
#include "features.h"

PG_FUNCTION_INFO_V1(monolith_create_model);
PG_FUNCTION_INFO_V1(monolith_drop_model);

typedef struct PendingFree
{
	Oid			dboid;
	int64		model_id;
	bool		at_commit;		/* dropped: free at commit; else created:
								 * free at rollback */
	int			nest_level;
} PendingFree;

static List *pending_frees = NIL;
static object_access_hook_type prev_object_access_hook = NULL;

static void
pending_add(Oid dboid, int64 model_id, bool at_commit)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	PendingFree *p = palloc(sizeof(PendingFree));

	p->dboid = dboid;
	p->model_id = model_id;
	p->at_commit = at_commit;
	p->nest_level = GetCurrentTransactionNestLevel();
	pending_frees = lappend(pending_frees, p);
	MemoryContextSwitchTo(old);
}

/*
 * Carries out the pending frees of transaction levels >= level whose
 * at_commit matches, forgets all of those levels' entries, and hands the
 * rest of a committed subtransaction's entries to its parent.
 */
static void
pending_settle(int level, bool committed, bool to_parent)
{
	List	   *keep = NIL;
	ListCell   *lc;

	foreach(lc, pending_frees)
	{
		PendingFree *p = lfirst(lc);

		if (p->nest_level < level)
			keep = lappend(keep, p);
		else if (to_parent)
		{
			p->nest_level = level - 1;
			keep = lappend(keep, p);
		}
		else
		{
			if (p->at_commit == committed)
				shmem_release_model(p->dboid, p->model_id);
			pfree(p);
		}
	}
	list_free(pending_frees);
	pending_frees = keep;
}

static void
catalog_xact_callback(XactEvent event, void *arg)
{
	if (pending_frees == NIL)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot prepare a transaction that created or dropped a monolith model")));
			break;
		case XACT_EVENT_PRE_COMMIT:
			pending_settle(1, true, false);
			break;
		case XACT_EVENT_ABORT:
			pending_settle(1, false, false);
			break;
		default:
			break;
	}
}

static void
catalog_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (pending_frees == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		pending_settle(GetCurrentTransactionNestLevel(), false, false);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		pending_settle(GetCurrentTransactionNestLevel(), true, true);
}

/* Dropping the extension or a database frees its models' states at commit. */
static void
catalog_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					  int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access != OAT_DROP)
		return;
	if (classId == DatabaseRelationId)
		pending_add(objectId, MODEL_ID_ALL, true);
	else if (classId == ExtensionRelationId &&
			 objectId == get_extension_oid("monolith", true))
		pending_add(MyDatabaseId, MODEL_ID_ALL, true);
}

void
catalog_install_callbacks(void)
{
	RegisterXactCallback(catalog_xact_callback, NULL);
	RegisterSubXactCallback(catalog_subxact_callback, NULL);
	prev_object_access_hook = object_access_hook;
	object_access_hook = catalog_object_access;
}

/* Rejects a definition the model cannot run with; used on create and on load. */
static void
modeldef_validate(const ModelDef *def)
{
	if (def->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	if (def->n_slots < 1 || def->n_slots > MONOLITH_MAX_SLOTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a model needs between 1 and %d slots", MONOLITH_MAX_SLOTS)));
	for (int i = 0; i < def->n_slots; i++)
	{
		if (def->slot_names[i][0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("slot names must not be empty")));
		for (int j = 0; j < i; j++)
			if (strcmp(def->slot_names[i], def->slot_names[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("slot \"%s\" is listed twice", def->slot_names[i])));
	}
	if (def->dim < 1 || def->dim > FM_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dim must be between 1 and %d", FM_MAX_DIM)));
	if (!(def->learning_rate > 0) || isinf(def->learning_rate))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("learning_rate must be a positive finite number")));
	if (def->min_count < 1 || def->min_count > UINT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_count must be between 1 and %d", UINT16_MAX)));
	if (!(def->admit_probability > 0 && def->admit_probability <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("admit_probability must be greater than 0 and at most 1")));
}

/* Fills def->slot_names from a text[]; errors on NULL elements. */
static void
slots_from_array(ModelDef *def, ArrayType *slots)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(slots) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("slots must be a one-dimensional array")));
	deconstruct_array(slots, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	def->n_slots = n;
	def->slot_names = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("slot names must not be null")));
		def->slot_names[i] = TextDatumGetCString(elems[i]);
	}
}

static void
set_name(ModelDef *def, text *name)
{
	char	   *s = text_to_cstring(name);

	if (strlen(s) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", s),
				 errdetail("Model names are at most %d bytes.", NAMEDATALEN - 1)));
	strlcpy(def->name, s, NAMEDATALEN);
}

/* Reads a model's definition; errors if there is no such model. */
void
catalog_lookup(text *name, ModelDef *def)
{
	Datum		arg = PointerGetDatum(name);
	Oid			argtype = TEXTOID;
	MemoryContext caller = CurrentMemoryContext;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;

	memset(def, 0, sizeof(*def));
	set_name(def, name);
	SPI_connect();
	if (SPI_execute_with_args("SELECT id, slots, dim, learning_rate, min_count, "
							  "admit_probability, seed "
							  "FROM monolith.model_definitions WHERE name = $1",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read monolith.model_definitions");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", def->name)));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	def->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		slots_from_array(def, DatumGetArrayTypePCopy(SPI_getbinval(row, desc, 2, &isnull)));
		MemoryContextSwitchTo(spi);
	}
	def->dim = DatumGetInt32(SPI_getbinval(row, desc, 3, &isnull));
	def->learning_rate = DatumGetFloat8(SPI_getbinval(row, desc, 4, &isnull));
	def->min_count = DatumGetInt32(SPI_getbinval(row, desc, 5, &isnull));
	def->admit_probability = DatumGetFloat8(SPI_getbinval(row, desc, 6, &isnull));
	def->seed = DatumGetInt64(SPI_getbinval(row, desc, 7, &isnull));
	SPI_finish();
	modeldef_validate(def);
}

/*
 * monolith.create_model(name, slots, dim, learning_rate, min_count,
 *						 admit_probability, seed)
 */
Datum
monolith_create_model(PG_FUNCTION_ARGS)
{
	static const char *const arg_names[] = {
		"model name", "slots", "dim", "learning_rate", "min_count",
		"admit_probability", "seed"
	};
	ModelDef	def;
	Oid			argtypes[7] = {TEXTOID, TEXTARRAYOID, INT4OID, FLOAT8OID, INT4OID,
	FLOAT8OID, INT8OID};
	Datum		values[7];
	bool		isnull;

	shmem_require();
	for (int i = 0; i < 7; i++)
	{
		require_not_null(fcinfo, i, arg_names[i]);
		values[i] = PG_GETARG_DATUM(i);
	}
	memset(&def, 0, sizeof(def));
	set_name(&def, PG_GETARG_TEXT_PP(0));
	slots_from_array(&def, PG_GETARG_ARRAYTYPE_P(1));
	def.dim = PG_GETARG_INT32(2);
	def.learning_rate = PG_GETARG_FLOAT8(3);
	def.min_count = PG_GETARG_INT32(4);
	def.admit_probability = PG_GETARG_FLOAT8(5);
	def.seed = PG_GETARG_INT64(6);
	modeldef_validate(&def);

	SPI_connect();
	if (SPI_execute_with_args("SELECT 1 FROM monolith.model_definitions WHERE name = $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read monolith.model_definitions");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", def.name)));
	if (SPI_execute_with_args("INSERT INTO monolith.model_definitions "
							  "(name, slots, dim, learning_rate, min_count, admit_probability, seed) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
							  7, argtypes, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not insert into monolith.model_definitions");
	def.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	pending_add(MyDatabaseId, def.id, false);

	/*
	 * Take the model's memory now, so that a full cap fails this call rather
	 * than a training call later.
	 */
	shmem_open_model(palloc(sizeof(ModelHandle)), &def);
	PG_RETURN_VOID();
}

/* monolith.drop_model(name): the definition now, the parameters at commit. */
Datum
monolith_drop_model(PG_FUNCTION_ARGS)
{
	Oid			argtype = TEXTOID;
	Datum		arg;
	ModelDef	def;
	bool		isnull;

	shmem_require();
	require_not_null(fcinfo, 0, "model name");
	arg = PG_GETARG_DATUM(0);
	set_name(&def, PG_GETARG_TEXT_PP(0));
	SPI_connect();
	if (SPI_execute_with_args("DELETE FROM monolith.model_definitions WHERE name = $1 RETURNING id",
							  1, &argtype, &arg, NULL, false, 1) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not delete from monolith.model_definitions");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", def.name)));
	def.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	pending_add(MyDatabaseId, def.id, true);
	PG_RETURN_VOID();
}
