/*
 * modeldef.c
 *		Model definitions: the columns of monolith.model_definitions that
 *		define a model, described once in a table that reading a row,
 *		inserting one and create_model's arguments all go through; the checks
 *		a definition must pass; and the core's configurations it gives.
 */
#include "postgres.h"

#include <float.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "features.h"
#include "modeldef.h"

/* How a column's SQL value is kept in a ModelDef. */
typedef enum ColumnKind
{
	KIND_NAME,					/* text, in a char[NAMEDATALEN] */
	KIND_NAMES,					/* text[], as char ** and a count */
	KIND_INT,					/* integer, as int */
	KIND_INT64,					/* bigint */
	KIND_FLOAT8,				/* double precision */
	KIND_OPTIMIZER,				/* text naming an optimizer, as its int kind */
	KIND_LAYERS,				/* integer[], as int[MODEL_MAX_LAYERS] and a count */
	KIND_INTERVAL,				/* interval */
	KIND_INTERVALS				/* interval[], as Interval * and a count */
} ColumnKind;

typedef struct ColumnSpec
{
	const char *name;
	ColumnKind	kind;
	size_t		value;			/* offset of the value in ModelDef */
	size_t		count;			/* of an array's element count */
	/* Of a column added after 0.3.0: the value rows from before it stand for, as SQL. */
	const char *before;
} ColumnSpec;

#define FIELD(f) offsetof(ModelDef, f)

static const ColumnSpec columns[DEF_N_COLUMNS] = {
	[DEF_NAME] = {"name", KIND_NAME, FIELD(name)},
	[DEF_SLOTS] = {"slots", KIND_NAMES, FIELD(slot_names), FIELD(n_slots)},
	[DEF_DIM] = {"dim", KIND_INT, FIELD(dim)},
	[DEF_LEARNING_RATE] = {"learning_rate", KIND_FLOAT8, FIELD(learning_rate)},
	[DEF_MIN_COUNT] = {"min_count", KIND_INT, FIELD(min_count)},
	[DEF_ADMIT_PROBABILITY] = {"admit_probability", KIND_FLOAT8, FIELD(admit_probability)},
	[DEF_SEED] = {"seed", KIND_INT64, FIELD(seed)},
	[DEF_NUMERIC_FEATURES] = {"numeric_features", KIND_NAMES, FIELD(numeric_names), FIELD(n_numeric)},
	[DEF_HIDDEN] = {"hidden", KIND_LAYERS, FIELD(hidden), FIELD(n_layers)},
	[DEF_OPTIMIZER] = {"optimizer", KIND_OPTIMIZER, FIELD(optimizer)},
	[DEF_WEIGHT_OPTIMIZER] = {"weight_optimizer", KIND_OPTIMIZER, FIELD(weight_optimizer)},
	[DEF_DENSE_OPTIMIZER] = {"dense_optimizer", KIND_OPTIMIZER, FIELD(dense_optimizer)},
	[DEF_DENSE_LEARNING_RATE] = {"dense_learning_rate", KIND_FLOAT8, FIELD(dense_learning_rate)},
	[DEF_L1] = {"l1", KIND_FLOAT8, FIELD(l1)},
	[DEF_L2] = {"l2", KIND_FLOAT8, FIELD(l2)},
	[DEF_NEGATIVE_SAMPLE_RATE] = {"negative_sample_rate", KIND_FLOAT8, FIELD(negative_sample_rate)},
	[DEF_HASH_ROWS] = {"hash_rows", KIND_INT64, FIELD(hash_rows)},
	[DEF_TTL] = {"ttl", KIND_INTERVAL, FIELD(ttl), 0, "'0'::pg_catalog.interval"},
	[DEF_SLOT_TTL] = {"slot_ttl", KIND_INTERVALS, FIELD(slot_ttl), FIELD(n_slot_ttl), "'{}'::pg_catalog.interval[]"},
};

#define AT(def, offset, type) ((type *) ((char *) (def) + (offset)))

static bool
interval_is_zero(const Interval *i)
{
	return i->month == 0 && i->day == 0 && i->time == 0;
}

const char *
modeldef_column_name(int column)
{
	return columns[column].name;
}

/*
 * The SQL value a column added after 0.3.0 has in rows from before it;
 * errors for one that every installation has.
 */
const char *
modeldef_column_default(int column)
{
	if (columns[column].before == NULL)
		elog(ERROR, "monolith.model_definitions lacks column %s", columns[column].name);
	return columns[column].before;
}

/* Whether def's value of a column added after 0.3.0 is the one rows from before it stand for. */
bool
modeldef_is_default(const ModelDef *def, int column)
{
	switch (column)
	{
		case DEF_TTL:
			return interval_is_zero(&def->ttl);
		case DEF_SLOT_TTL:
			return def->n_slot_ttl == 0;
	}
	return false;
}

/* What names a column's value in errors: the model's name is "model name". */
static const char *
column_what(int column)
{
	return column == DEF_NAME ? "model name" : columns[column].name;
}

Oid
modeldef_column_type(int column)
{
	switch (columns[column].kind)
	{
		case KIND_NAME:
		case KIND_OPTIMIZER:
			return TEXTOID;
		case KIND_NAMES:
			return TEXTARRAYOID;
		case KIND_INT:
			return INT4OID;
		case KIND_INT64:
			return INT8OID;
		case KIND_FLOAT8:
			return FLOAT8OID;
		case KIND_LAYERS:
			return INT4ARRAYOID;
		case KIND_INTERVAL:
			return INTERVALOID;
		case KIND_INTERVALS:
			return INTERVALARRAYOID;
	}
	pg_unreachable();
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

void
modeldef_set_name(ModelDef *def, text *name)
{
	char	   *s = text_to_cstring(name);

	if (strlen(s) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", s),
				 errdetail("Model names are at most %d bytes.", NAMEDATALEN - 1)));
	strlcpy(def->name, s, NAMEDATALEN);
}

/* Sets a column's value in def from its SQL value, which is not NULL. */
void
modeldef_set(ModelDef *def, int column, Datum value)
{
	const ColumnSpec *c = &columns[column];
	int			n;
	Datum	   *elems;

	switch (c->kind)
	{
		case KIND_NAME:
			modeldef_set_name(def, DatumGetTextPP(value));
			break;
		case KIND_NAMES:
			elems = array_elements(DatumGetArrayTypeP(value), TEXTOID, c->name, &n);
			*AT(def, c->value, char **) = palloc(sizeof(char *) * Max(n, 1));
			for (int i = 0; i < n; i++)
				(*AT(def, c->value, char **))[i] = TextDatumGetCString(elems[i]);
			*AT(def, c->count, int) = n;
			break;
		case KIND_INT:
			*AT(def, c->value, int) = DatumGetInt32(value);
			break;
		case KIND_INT64:
			*AT(def, c->value, int64) = DatumGetInt64(value);
			break;
		case KIND_FLOAT8:
			*AT(def, c->value, double) = DatumGetFloat8(value);
			break;
		case KIND_OPTIMIZER:
			*AT(def, c->value, int) = optimizer_from_name(TextDatumGetCString(value), c->name);
			break;
		case KIND_LAYERS:
			elems = array_elements(DatumGetArrayTypeP(value), INT4OID, c->name, &n);
			if (n > MODEL_MAX_LAYERS)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s may list at most %d layers", c->name, MODEL_MAX_LAYERS)));
			for (int i = 0; i < n; i++)
				AT(def, c->value, int)[i] = DatumGetInt32(elems[i]);
			*AT(def, c->count, int) = n;
			break;
		case KIND_INTERVAL:
			*AT(def, c->value, Interval) = *DatumGetIntervalP(value);
			break;
		case KIND_INTERVALS:
			elems = array_elements(DatumGetArrayTypeP(value), INTERVALOID, c->name, &n);
			*AT(def, c->value, Interval *) = palloc(sizeof(Interval) * Max(n, 1));
			for (int i = 0; i < n; i++)
				(*AT(def, c->value, Interval *))[i] = *DatumGetIntervalP(elems[i]);
			*AT(def, c->count, int) = n;
			break;
	}
}

/* A column's SQL value from def. */
Datum
modeldef_get(const ModelDef *def, int column)
{
	const ColumnSpec *c = &columns[column];
	int			n = c->count == 0 ? 0 : *AT(def, c->count, int);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	switch (c->kind)
	{
		case KIND_NAME:
			return CStringGetTextDatum(AT(def, c->value, char));
		case KIND_NAMES:
			for (int i = 0; i < n; i++)
				elems[i] = CStringGetTextDatum((*AT(def, c->value, char **))[i]);
			return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
		case KIND_INT:
			return Int32GetDatum(*AT(def, c->value, int));
		case KIND_INT64:
			return Int64GetDatum(*AT(def, c->value, int64));
		case KIND_FLOAT8:
			return Float8GetDatum(*AT(def, c->value, double));
		case KIND_OPTIMIZER:
			return CStringGetTextDatum(optim_name(*AT(def, c->value, int)));
		case KIND_LAYERS:
			for (int i = 0; i < n; i++)
				elems[i] = Int32GetDatum(AT(def, c->value, int)[i]);
			return PointerGetDatum(construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
		case KIND_INTERVAL:
			return IntervalPGetDatum(AT(def, c->value, Interval));
		case KIND_INTERVALS:
			for (int i = 0; i < n; i++)
				elems[i] = IntervalPGetDatum(&(*AT(def, c->value, Interval *))[i]);
			return PointerGetDatum(construct_array(elems, n, INTERVALOID, sizeof(Interval), false,
												   TYPALIGN_DOUBLE));
	}
	pg_unreachable();
}

/* Seconds an interval spans, a month counted as 30 days, as PostgreSQL's epoch of one does. */
int64
modeldef_interval_seconds(const Interval *i)
{
	return (int64) i->month * DAYS_PER_MONTH * SECS_PER_DAY + (int64) i->day * SECS_PER_DAY +
		i->time / USECS_PER_SEC;
}

/* Errors unless a ttl given spans a second at least; hint says what stands for none. */
static void
require_ttl(const char *what, const Interval *ttl, const char *hint)
{
	if (modeldef_interval_seconds(ttl) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least 1 second", what),
				 errhint("%s", hint)));
}

/* slot_ttl from create_model's argument, whose NULL elements stand for the model's ttl (0). */
static void
slot_ttl_from_arg(ModelDef *def, ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("slot_ttl must be a one-dimensional array")));
	deconstruct_array(array, INTERVALOID, sizeof(Interval), false, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	def->slot_ttl = palloc0(sizeof(Interval) * Max(n, 1));
	for (int s = 0; s < n; s++)
		if (!nulls[s])
		{
			def->slot_ttl[s] = *DatumGetIntervalP(elems[s]);
			require_ttl("slot_ttl", &def->slot_ttl[s], "A NULL element keeps the model's ttl for its slot.");
		}
	def->n_slot_ttl = n;
}

/*
 * The definition create_model's arguments give, checked; they come in the
 * order of the columns.  A NULL weight_optimizer means "the same as
 * optimizer"; a NULL ttl, or slot_ttl, none.
 */
void
modeldef_from_args(FunctionCallInfo fcinfo, ModelDef *def)
{
	/* SQL from 0.2.0 to 0.6.0 passes no ttl nor slot_ttl: none. */
	if (PG_NARGS() != DEF_N_COLUMNS && PG_NARGS() != DEF_TTL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the SQL definition of monolith.create_model is out of date"),
				 errhint("Run ALTER EXTENSION monolith UPDATE.")));
	memset(def, 0, sizeof(*def));
	for (int c = 0; c < PG_NARGS(); c++)
	{
		if (PG_ARGISNULL(c) && (c == DEF_WEIGHT_OPTIMIZER || c == DEF_TTL || c == DEF_SLOT_TTL))
			continue;
		require_not_null(fcinfo, c, column_what(c));
		if (c == DEF_SLOT_TTL)
			slot_ttl_from_arg(def, PG_GETARG_ARRAYTYPE_P(c));
		else
			modeldef_set(def, c, PG_GETARG_DATUM(c));
	}
	if (PG_ARGISNULL(DEF_WEIGHT_OPTIMIZER))
		def->weight_optimizer = def->optimizer;
	/* Stored, 0 means none: given, a ttl must be more. */
	if (PG_NARGS() > DEF_TTL && !PG_ARGISNULL(DEF_TTL))
		require_ttl("ttl", &def->ttl, "Leave it NULL to keep IDs until they are expired or evicted.");
	modeldef_validate(def);
}

/* Learning rates and regularisation beyond this would overflow float steps. */
#define RATE_LIMIT 1000.0

/*
 * Errors unless value is greater than 0 (or with zero_ok, at least 0), at
 * most RATE_LIMIT, and, unless 0, a normal number as the float the core
 * steps with: a denormal rate is as good as 0, and slow.
 */
static void
require_rate(const char *what, double value, bool zero_ok)
{
	if (!(value <= RATE_LIMIT && (zero_ok ? value >= 0 : value > 0)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 zero_ok ?
				 errmsg("%s must be between 0 and %g", what, RATE_LIMIT) :
				 errmsg("%s must be greater than 0 and at most %g", what, RATE_LIMIT)));
	if (value != 0 && (float) value < FLT_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %g is too small", what, value),
				 errdetail("Parameters are single-precision floats, whose smallest normal value is %g.",
						   FLT_MIN)));
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

/*
 * Errors unless every name can name a query column: not empty, at most
 * NAMEDATALEN - 1 bytes (a longer identifier is cut short), none repeated.
 */
static void
require_column_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
	{
		if (names[i][0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature names must not be empty")));
		if (strlen(names[i]) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("feature name \"%s\" is too long", names[i]),
					 errdetail("Features are read from the columns of their names, and a column name is at most %d bytes.",
							   NAMEDATALEN - 1)));
		for (int j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is listed twice", names[i])));
	}
}

/* Rejects a definition the model cannot run with; used on create and on load. */
void
modeldef_validate(const ModelDef *def)
{
	ModelConfig config;
	char	  **names;

	if (def->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	if (def->n_slots < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a model needs at least one slot")));
	if (def->n_slots + def->n_numeric > MONOLITH_MAX_INPUTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a model takes at most %d slots and numeric features together", MONOLITH_MAX_INPUTS),
				 errdetail("monolith.train passes the model, the label and one argument for each, and a function takes at most %d arguments.",
						   FUNC_MAX_ARGS)));
	if (def->n_numeric > MODEL_MAX_NUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a model takes at most %d numeric features", MODEL_MAX_NUMERIC)));
	/* Slots and numeric features share one namespace: they name query columns. */
	names = palloc(sizeof(char *) * (def->n_slots + def->n_numeric));
	memcpy(names, def->slot_names, sizeof(char *) * def->n_slots);
	memcpy(names + def->n_slots, def->numeric_names, sizeof(char *) * def->n_numeric);
	require_column_names(names, def->n_slots + def->n_numeric);
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
	if (modeldef_interval_seconds(&def->ttl) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must not be negative")));
	if (def->n_slot_ttl != 0 && def->n_slot_ttl != def->n_slots)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("slot_ttl must list one interval for each of the %d slots", def->n_slots),
				 errhint("A NULL element keeps the model's ttl for its slot.")));
	for (int s = 0; s < def->n_slot_ttl; s++)
	{
		if (modeldef_interval_seconds(&def->slot_ttl[s]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("slot_ttl must not be negative")));
		if (def->hash_rows > 0 && !interval_is_zero(&def->slot_ttl[s]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("slot_ttl needs a collisionless model"),
					 errdetail("With hash_rows, IDs of every slot share rows."),
					 errhint("Give the model one ttl.")));
	}
	model_config_from_def(&config, def);
	if (model_dense_param_count(&config) > MODEL_MAX_DENSE_PARAMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the tower of model \"%s\" would have " UINT64_FORMAT " weights, more than the limit of %d",
						def->name, model_dense_param_count(&config), MODEL_MAX_DENSE_PARAMS),
				 errhint("Use fewer or narrower hidden layers, or a smaller dim.")));
}

/* The core's configuration of a model, from its definition. */
void
model_config_from_def(ModelConfig *config, const ModelDef *def)
{
	/* Zeroed whole, padding too, so that configurations compare with memcmp. */
	memset(config, 0, sizeof(*config));
	config->n_slots = def->n_slots;
	config->n_numeric = def->n_numeric;
	config->dim = def->dim;
	config->n_layers = def->n_layers;
	for (int l = 0; l < def->n_layers; l++)
		config->width[l] = def->hidden[l];
	config->embedding_optimizer = (Optimizer) {
		def->optimizer, (float) def->learning_rate, (float) def->l1, (float) def->l2
	};
	config->weight_optimizer = config->embedding_optimizer;
	config->weight_optimizer.kind = def->weight_optimizer;
	config->dense_optimizer = (Optimizer) {
		def->dense_optimizer, (float) def->dense_learning_rate, 0, (float) def->l2
	};
	config->init_scale = 0.01f;
	config->negative_rate = def->negative_sample_rate;
	config->hash_rows = (uint64) def->hash_rows;
	config->seed = (uint64) def->seed;
}

/* The configuration of a model's table (its value size is the core's to set). */
void
table_config_from_def(CuckooConfig *config, const ModelDef *def)
{
	ck_default_config(config, 0);
	config->admission.min_count = def->min_count;
	config->admission.probability = def->admit_probability;
	config->admission.seed = (uint64) def->seed;
}
