/*
 * catalog.c
 *		Model definitions: rows of monolith.model_definitions, created and
 *		dropped by SQL functions, read back when a backend first uses a model.
 *
 * Definitions are transactional; shared state is not.  So a model's shared
 * state is freed only once the transaction that dropped it has committed,
 * and a state made for a model created in a transaction that rolls back is
 * freed at the rollback.  Pending frees are kept per (sub)transaction below.
 * A freed model's id is remembered (see shmem.c), so that a session whose
 * snapshot still shows its definition cannot bring its state back.
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
			/* Attach now, while an error can still abort: nothing may fail at COMMIT. */
			shmem_require();
			break;
		case XACT_EVENT_COMMIT:
			/* Only past the commit record: a commit can still fail before it. */
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

/* Learning rates and regularisation beyond this would overflow float steps. */
#define RATE_LIMIT 1000.0

/* Errors unless value is greater than 0 (or with zero_ok, at least 0) and at most RATE_LIMIT. */
static void
require_rate(const char *what, double value, bool zero_ok)
{
	if (!(value <= RATE_LIMIT && (zero_ok ? value >= 0 : value > 0)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 zero_ok ?
				 errmsg("%s must be between 0 and %g", what, RATE_LIMIT) :
				 errmsg("%s must be greater than 0 and at most %g", what, RATE_LIMIT)));
}

/* Errors unless value is a share: greater than 0 and at most 1. */
static void
require_share(const char *what, double value)
{
	if (!(value > 0 && value <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than 0 and at most 1", what)));
}

/* Errors unless the names are non-empty and none repeats one before it. */
static void
require_distinct_names(char **names, int n, int n_before)
{
	for (int i = n_before; i < n; i++)
	{
		if (names[i][0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature names must not be empty")));
		for (int j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is listed twice", names[i])));
	}
}

/* Rejects a definition the model cannot run with; used on create and on load. */
static void
modeldef_validate(const ModelDef *def)
{
	ModelConfig config;
	char	  **names;

	if (def->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	if (def->n_slots < 1 || def->n_slots > MONOLITH_MAX_SLOTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a model needs between 1 and %d slots", MONOLITH_MAX_SLOTS)));
	if (def->n_numeric > MODEL_MAX_NUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a model takes at most %d numeric features", MODEL_MAX_NUMERIC)));
	/* Slots and numeric features share one namespace: they name query columns. */
	names = palloc(sizeof(char *) * (def->n_slots + def->n_numeric));
	memcpy(names, def->slot_names, sizeof(char *) * def->n_slots);
	memcpy(names + def->n_slots, def->numeric_names, sizeof(char *) * def->n_numeric);
	require_distinct_names(names, def->n_slots + def->n_numeric, 0);
	pfree(names);
	if (def->dim < 1 || def->dim > MODEL_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dim must be between 1 and %d", MODEL_MAX_DIM)));
	if (def->n_layers > MODEL_MAX_LAYERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hidden may list at most %d layers", MODEL_MAX_LAYERS)));
	for (int l = 0; l < def->n_layers; l++)
		if (def->hidden[l] < 1 || def->hidden[l] > MODEL_MAX_WIDTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hidden layer widths must be between 1 and %d", MODEL_MAX_WIDTH)));
	require_rate("learning_rate", def->learning_rate, false);
	require_rate("dense_learning_rate", def->dense_learning_rate, false);
	require_rate("l1", def->l1, true);
	require_rate("l2", def->l2, true);
	require_share("admit_probability", def->admit_probability);
	require_share("negative_sample_rate", def->negative_sample_rate);
	if (def->min_count < 1 || def->min_count > UINT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_count must be between 1 and %d", UINT16_MAX)));
	if (def->hash_rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hash_rows must not be negative"),
				 errdetail("0 gives every ID its own row; N > 0 hashes IDs into N shared rows.")));
	model_config_from_def(&config, def);
	if (model_dense_param_count(&config) > MODEL_MAX_DENSE_PARAMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the tower of model \"%s\" would have " UINT64_FORMAT " weights, more than the limit of %d",
						def->name, model_dense_param_count(&config), MODEL_MAX_DENSE_PARAMS),
				 errhint("Use fewer or narrower hidden layers, or a smaller dim.")));
}

/* The definition of a model created with no options: a plain FM on Adagrad. */
static void
modeldef_defaults(ModelDef *def)
{
	memset(def, 0, sizeof(*def));
	def->dim = 16;
	def->learning_rate = 0.05;
	def->min_count = 1;
	def->admit_probability = 1.0;
	def->seed = 42;
	def->optimizer = def->weight_optimizer = OPTIM_ADAGRAD;
	def->dense_optimizer = OPTIM_ADAM;
	def->dense_learning_rate = 0.001;
	def->negative_sample_rate = 1.0;
}

/* Elements of a one-dimensional array without NULLs; what names it in errors. */
static Datum *
array_elements(ArrayType *array, Oid elem_type, const char *what, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int16		len;
	bool		byval;
	char		align;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(elem_type, &len, &byval, &align);
	deconstruct_array(array, elem_type, len, byval, align, &elems, &nulls, n);
	for (int i = 0; i < *n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", what)));
	return elems;
}

/* Strings of a one-dimensional text[] without NULLs; what names it in errors. */
static char **
strings_from_array(ArrayType *array, const char *what, int *n)
{
	Datum	   *elems = array_elements(array, TEXTOID, what, n);
	char	  **out = palloc(sizeof(char *) * Max(*n, 1));

	for (int i = 0; i < *n; i++)
		out[i] = TextDatumGetCString(elems[i]);
	return out;
}

/* Fills def's hidden layer widths from an integer[]. */
static void
hidden_from_array(ModelDef *def, ArrayType *array)
{
	int			n;
	Datum	   *elems = array_elements(array, INT4OID, "hidden", &n);

	if (n > MODEL_MAX_LAYERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hidden may list at most %d layers", MODEL_MAX_LAYERS)));
	def->n_layers = n;
	for (int i = 0; i < n; i++)
		def->hidden[i] = DatumGetInt32(elems[i]);
}

/* The optimizer a name stands for; what names the option in errors. */
static int
optimizer_from_name(const char *name, const char *what)
{
	int			kind = optim_kind_from_name(name);

	if (kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown %s \"%s\"", what, name),
				 errhint("Choose sgd, adagrad, ftrl or adam.")));
	return kind;
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

/* The value of a definition's column, or NULL if its row lacks it or it is null. */
static bool
definition_column(HeapTuple row, TupleDesc desc, const char *column, Datum *value)
{
	int			attnum = SPI_fnumber(desc, column);
	bool		isnull;

	if (attnum <= 0)
		return false;			/* a catalog from before the column existed */
	*value = SPI_getbinval(row, desc, attnum, &isnull);
	return !isnull;
}

/*
 * Reads a model's definition; errors if there is no such model.  Columns a
 * catalog of an older version lacks take their defaults.
 */
void
catalog_lookup(text *name, ModelDef *def)
{
	Datum		arg = PointerGetDatum(name);
	Oid			argtype = TEXTOID;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext spi;
	HeapTuple	row;
	TupleDesc	desc;
	Datum		v;

	modeldef_defaults(def);
	set_name(def, name);
	SPI_connect();
	if (SPI_execute_with_args("SELECT * FROM monolith.model_definitions WHERE name = $1",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read monolith.model_definitions");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", def->name)));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	spi = MemoryContextSwitchTo(caller);
	if (definition_column(row, desc, "id", &v))
		def->id = DatumGetInt64(v);
	if (definition_column(row, desc, "slots", &v))
		def->slot_names = strings_from_array(DatumGetArrayTypePCopy(v), "slots", &def->n_slots);
	if (definition_column(row, desc, "numeric_features", &v))
		def->numeric_names = strings_from_array(DatumGetArrayTypePCopy(v), "numeric_features",
												&def->n_numeric);
	if (definition_column(row, desc, "hidden", &v))
		hidden_from_array(def, DatumGetArrayTypePCopy(v));
	if (definition_column(row, desc, "dim", &v))
		def->dim = DatumGetInt32(v);
	if (definition_column(row, desc, "learning_rate", &v))
		def->learning_rate = DatumGetFloat8(v);
	if (definition_column(row, desc, "min_count", &v))
		def->min_count = DatumGetInt32(v);
	if (definition_column(row, desc, "admit_probability", &v))
		def->admit_probability = DatumGetFloat8(v);
	if (definition_column(row, desc, "seed", &v))
		def->seed = DatumGetInt64(v);
	if (definition_column(row, desc, "optimizer", &v))
		def->optimizer = optimizer_from_name(TextDatumGetCString(v), "optimizer");
	if (definition_column(row, desc, "weight_optimizer", &v))
		def->weight_optimizer = optimizer_from_name(TextDatumGetCString(v), "weight_optimizer");
	if (definition_column(row, desc, "dense_optimizer", &v))
		def->dense_optimizer = optimizer_from_name(TextDatumGetCString(v), "dense_optimizer");
	if (definition_column(row, desc, "dense_learning_rate", &v))
		def->dense_learning_rate = DatumGetFloat8(v);
	if (definition_column(row, desc, "l1", &v))
		def->l1 = DatumGetFloat8(v);
	if (definition_column(row, desc, "l2", &v))
		def->l2 = DatumGetFloat8(v);
	if (definition_column(row, desc, "negative_sample_rate", &v))
		def->negative_sample_rate = DatumGetFloat8(v);
	if (definition_column(row, desc, "hash_rows", &v))
		def->hash_rows = DatumGetInt64(v);
	MemoryContextSwitchTo(spi);
	SPI_finish();
	modeldef_validate(def);
}

/* Arguments of create_model, in order; the 0.1.0 SQL passes the first seven. */
enum CreateArg
{
	CREATE_NAME, CREATE_SLOTS, CREATE_DIM, CREATE_LEARNING_RATE, CREATE_MIN_COUNT,
	CREATE_ADMIT_PROBABILITY, CREATE_SEED, CREATE_NUMERIC_FEATURES, CREATE_HIDDEN,
	CREATE_OPTIMIZER, CREATE_WEIGHT_OPTIMIZER, CREATE_DENSE_OPTIMIZER,
	CREATE_DENSE_LEARNING_RATE, CREATE_L1, CREATE_L2, CREATE_NEGATIVE_SAMPLE_RATE,
	CREATE_HASH_ROWS, CREATE_N_ARGS
};

/* The definition create_model's arguments give, checked. */
static void
modeldef_from_args(FunctionCallInfo fcinfo, ModelDef *def)
{
	static const char *const arg_names[CREATE_N_ARGS] = {
		"model name", "slots", "dim", "learning_rate", "min_count",
		"admit_probability", "seed", "numeric_features", "hidden", "optimizer",
		"weight_optimizer", "dense_optimizer", "dense_learning_rate", "l1", "l2",
		"negative_sample_rate", "hash_rows"
	};
	int			nargs = Min(PG_NARGS(), CREATE_N_ARGS);

	/* A NULL weight_optimizer means "the same as optimizer". */
	for (int i = 0; i < nargs; i++)
		if (i != CREATE_WEIGHT_OPTIMIZER)
			require_not_null(fcinfo, i, arg_names[i]);
	modeldef_defaults(def);
	set_name(def, PG_GETARG_TEXT_PP(CREATE_NAME));
	def->slot_names = strings_from_array(PG_GETARG_ARRAYTYPE_P(CREATE_SLOTS), "slots", &def->n_slots);
	def->dim = PG_GETARG_INT32(CREATE_DIM);
	def->learning_rate = PG_GETARG_FLOAT8(CREATE_LEARNING_RATE);
	def->min_count = PG_GETARG_INT32(CREATE_MIN_COUNT);
	def->admit_probability = PG_GETARG_FLOAT8(CREATE_ADMIT_PROBABILITY);
	def->seed = PG_GETARG_INT64(CREATE_SEED);
	if (nargs == CREATE_N_ARGS)
	{
		def->numeric_names = strings_from_array(PG_GETARG_ARRAYTYPE_P(CREATE_NUMERIC_FEATURES),
												"numeric_features", &def->n_numeric);
		hidden_from_array(def, PG_GETARG_ARRAYTYPE_P(CREATE_HIDDEN));
		def->optimizer = optimizer_from_name(text_to_cstring(PG_GETARG_TEXT_PP(CREATE_OPTIMIZER)),
											 "optimizer");
		def->weight_optimizer = PG_ARGISNULL(CREATE_WEIGHT_OPTIMIZER) ? def->optimizer :
			optimizer_from_name(text_to_cstring(PG_GETARG_TEXT_PP(CREATE_WEIGHT_OPTIMIZER)),
								"weight_optimizer");
		def->dense_optimizer = optimizer_from_name(text_to_cstring(PG_GETARG_TEXT_PP(CREATE_DENSE_OPTIMIZER)),
												   "dense_optimizer");
		def->dense_learning_rate = PG_GETARG_FLOAT8(CREATE_DENSE_LEARNING_RATE);
		def->l1 = PG_GETARG_FLOAT8(CREATE_L1);
		def->l2 = PG_GETARG_FLOAT8(CREATE_L2);
		def->negative_sample_rate = PG_GETARG_FLOAT8(CREATE_NEGATIVE_SAMPLE_RATE);
		def->hash_rows = PG_GETARG_INT64(CREATE_HASH_ROWS);
	}
	modeldef_validate(def);
}

/* A text[] datum of n C strings. */
static Datum
strings_to_array(char **strings, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(strings[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * monolith.create_model(name, slots, dim, learning_rate, min_count,
 *		admit_probability, seed, numeric_features, hidden, optimizer,
 *		weight_optimizer, dense_optimizer, dense_learning_rate, l1, l2,
 *		negative_sample_rate, hash_rows)
 */
Datum
monolith_create_model(PG_FUNCTION_ARGS)
{
	ModelDef	def;
	Datum	   *hidden;
	Oid			argtypes[] = {TEXTOID, TEXTARRAYOID, INT4OID, FLOAT8OID, INT4OID,
		FLOAT8OID, INT8OID, TEXTARRAYOID, INT4ARRAYOID, TEXTOID, TEXTOID, TEXTOID,
	FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT8OID};
	Datum		values[lengthof(argtypes)];
	bool		isnull;
	bool		current_catalog = PG_NARGS() >= CREATE_N_ARGS;

	shmem_require();
	modeldef_from_args(fcinfo, &def);
	hidden = palloc(sizeof(Datum) * Max(def.n_layers, 1));
	for (int l = 0; l < def.n_layers; l++)
		hidden[l] = Int32GetDatum(def.hidden[l]);
	values[0] = CStringGetTextDatum(def.name);
	values[1] = strings_to_array(def.slot_names, def.n_slots);
	values[2] = Int32GetDatum(def.dim);
	values[3] = Float8GetDatum(def.learning_rate);
	values[4] = Int32GetDatum(def.min_count);
	values[5] = Float8GetDatum(def.admit_probability);
	values[6] = Int64GetDatum(def.seed);
	values[7] = strings_to_array(def.numeric_names, def.n_numeric);
	values[8] = PointerGetDatum(construct_array(hidden, def.n_layers, INT4OID,
												sizeof(int32), true, TYPALIGN_INT));
	values[9] = CStringGetTextDatum(optim_name(def.optimizer));
	values[10] = CStringGetTextDatum(optim_name(def.weight_optimizer));
	values[11] = CStringGetTextDatum(optim_name(def.dense_optimizer));
	values[12] = Float8GetDatum(def.dense_learning_rate);
	values[13] = Float8GetDatum(def.l1);
	values[14] = Float8GetDatum(def.l2);
	values[15] = Float8GetDatum(def.negative_sample_rate);
	values[16] = Int64GetDatum(def.hash_rows);

	SPI_connect();
	if (SPI_execute_with_args("SELECT 1 FROM monolith.model_definitions WHERE name = $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read monolith.model_definitions");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", def.name)));
	if (SPI_execute_with_args(current_catalog ?
							  "INSERT INTO monolith.model_definitions "
							  "(name, slots, dim, learning_rate, min_count, admit_probability, seed, "
							  "numeric_features, hidden, optimizer, weight_optimizer, dense_optimizer, "
							  "dense_learning_rate, l1, l2, negative_sample_rate, hash_rows) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
							  "$15, $16, $17) RETURNING id" :
							  "INSERT INTO monolith.model_definitions "
							  "(name, slots, dim, learning_rate, min_count, admit_probability, seed) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
							  current_catalog ? lengthof(argtypes) : CREATE_NUMERIC_FEATURES,
							  argtypes, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
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
