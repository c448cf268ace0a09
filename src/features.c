/*
 * features.c
 *		SQL values to feature keys (see featkey.h for the key layout), numeric
 *		features to floats, and labels to numbers in [0, 1].
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "featkey.h"
#include "features.h"

/* Errors when argument arg is NULL; what names it in the message. */
void
require_not_null(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}

/* Beyond this a numeric feature would swamp the tower's sums in float. */
#define NUMERIC_FEATURE_LIMIT 1e6

/* Unix seconds now: the clock of the tables' last-seen times. */
uint32
table_clock_now(void)
{
	return (uint32) timestamptz_to_time_t(GetCurrentTimestamp());
}

static bool
scalar_type_supported(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID ||
		type == TEXTOID || type == VARCHAROID || type == UNKNOWNOID;
}

static bool
numeric_type_supported(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID ||
		type == FLOAT4OID || type == FLOAT8OID || type == NUMERICOID || type == UNKNOWNOID;
}

/* Checks a slot input's type and caches what decoding it needs; what names it. */
static void
slot_type_init(FeatureType *ft, Oid type, const char *what)
{
	ft->type = type;
	ft->elem = scalar_type_supported(type) ? InvalidOid : get_element_type(type);
	if (!scalar_type_supported(type) &&
		!(OidIsValid(ft->elem) && ft->elem != UNKNOWNOID && scalar_type_supported(ft->elem)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s has unsupported type %s", what, format_type_be(type)),
				 errhint("Features must be smallint, integer, bigint, text or varchar, or arrays of those.")));
	if (OidIsValid(ft->elem))
		get_typlenbyvalalign(ft->elem, &ft->elem_len, &ft->elem_byval, &ft->elem_align);
}

/* Checks a numeric feature input's type; what names it. */
static void
numeric_type_init(FeatureType *ft, Oid type, const char *what)
{
	if (!numeric_type_supported(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s has unsupported type %s", what, format_type_be(type)),
				 errhint("Numeric features are smallint, integer, bigint, real, double precision or numeric.")));
	ft->type = type;
	ft->elem = InvalidOid;
}

/* A number of a supported numeric type as a double. */
static double
number_from_datum(Datum value, Oid type)
{
	switch (type)
	{
		case BOOLOID:
			return DatumGetBool(value) ? 1.0 : 0.0;
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case FLOAT4OID:
			return DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		case UNKNOWNOID:
			return DatumGetFloat8(DirectFunctionCall1(float8in, value));
		default:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
	}
}

/*
 * Sets up a builder for def's inputs, whose SQL types are types[]; labels,
 * which it keeps, name the inputs in errors ("feature 2", "column \"genres\"").
 */
void
example_builder_init(ExampleBuilder *b, const ModelDef *def, const Oid *types,
					 char **input_labels)
{
	ModelConfig config;

	b->n_slots = def->n_slots;
	b->n_numeric = def->n_numeric;
	b->input_labels = input_labels;
	b->types = palloc(sizeof(FeatureType) * (def->n_slots + def->n_numeric));
	for (int i = 0; i < def->n_slots; i++)
		slot_type_init(&b->types[i], types[i], input_labels[i]);
	for (int i = def->n_slots; i < def->n_slots + def->n_numeric; i++)
		numeric_type_init(&b->types[i], types[i], input_labels[i]);
	b->keys.capacity = 64;
	b->keys.keys = palloc(sizeof(uint64) * b->keys.capacity);
	b->slot_end = palloc(sizeof(uint32) * def->n_slots);
	b->numeric = palloc(sizeof(float) * Max(def->n_numeric, 1));
	b->entries_capacity = b->keys.capacity;
	b->entries = palloc(sizeof(CuckooEntry *) * b->entries_capacity);
	model_config_from_def(&config, def);
	b->floats = palloc_extended(sizeof(float) * model_work_floats(&config), MCXT_ALLOC_HUGE);
}

static pg_attribute_always_inline uint64
scalar_key(Datum value, Oid type, uint32 slot)
{
	switch (type)
	{
		case INT2OID:
			return featkey_int(slot, DatumGetInt16(value));
		case INT4OID:
			return featkey_int(slot, DatumGetInt32(value));
		case INT8OID:
			return featkey_int(slot, DatumGetInt64(value));
		case UNKNOWNOID:
			{
				const char *s = DatumGetCString(value);

				return featkey_text(slot, s, strlen(s));
			}
		default:
			{
				text	   *t = DatumGetTextPP(value);

				return featkey_text(slot, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
	}
}

/*
 * IDs one example may hold: a step holds its model's table lock while it
 * reads and updates all of them, and others waiting to take the lock
 * exclusive wait that long (a hundred thousand take a few milliseconds).
 */
#define EXAMPLE_MAX_IDS 100000

static pg_noinline void
report_too_many_ids(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("an example may hold at most %d IDs", EXAMPLE_MAX_IDS),
			 errdetail("A step holds its model's lock while it reads and updates every ID of its example."),
			 errhint("Split the values of a long array feature over several examples.")));
}

static inline void
push_key(KeyBuffer *buf, uint64 key)
{
	if (unlikely(buf->n == EXAMPLE_MAX_IDS))
		report_too_many_ids();
	if (buf->n == buf->capacity)
	{
		buf->capacity *= 2;
		buf->keys = repalloc_huge(buf->keys, sizeof(uint64) * buf->capacity);
	}
	buf->keys[buf->n++] = key;
}

/*
 * Appends the keys of one value: one, or one per non-null array element.
 * Arrays are walked in place, without deconstructing them into new memory.
 */
static void
features_append(const FeatureType *ft, Datum value, uint32 slot, KeyBuffer *buf)
{
	AnyArrayType *array;
	array_iter	iter;
	int			n;

	if (!OidIsValid(ft->elem))
	{
		push_key(buf, scalar_key(value, ft->type, slot));
		return;
	}
	array = DatumGetAnyArrayP(value);
	n = ArrayGetNItems(AARR_NDIM(array), AARR_DIMS(array));
	array_iter_setup(&iter, array);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		elem = array_iter_next(&iter, &isnull, i, ft->elem_len,
										   ft->elem_byval, ft->elem_align);

		if (!isnull)
			push_key(buf, scalar_key(elem, ft->elem, slot));
	}
}

/*
 * The example of a row's inputs: slot keys (NULL adds none) and numeric
 * values (NULL is 0), with work pointed at the builder's scratch.
 */
Example
example_build(ExampleBuilder *b, const NullableDatum *inputs, ModelWork *work)
{
	b->keys.n = 0;
	for (int s = 0; s < b->n_slots; s++)
	{
		if (!inputs[s].isnull)
			features_append(&b->types[s], inputs[s].value, s, &b->keys);
		b->slot_end[s] = b->keys.n;
	}
	for (int i = 0; i < b->n_numeric; i++)
	{
		const NullableDatum *in = &inputs[b->n_slots + i];
		double		x = in->isnull ? 0 : number_from_datum(in->value, b->types[b->n_slots + i].type);

		if (!(fabs(x) <= NUMERIC_FEATURE_LIMIT))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s is %g, outside the range of numeric features",
							b->input_labels[b->n_slots + i], x),
					 errdetail("Numeric features must be finite and within plus or minus %g.",
							   NUMERIC_FEATURE_LIMIT),
					 errhint("Scale numeric features to about unit range.")));
		b->numeric[i] = (float) x;
	}
	if (b->keys.n > b->entries_capacity)
	{
		b->entries_capacity = b->keys.capacity;
		b->entries = repalloc_huge(b->entries, sizeof(CuckooEntry *) * b->entries_capacity);
	}
	work->entries = b->entries;
	work->floats = b->floats;
	return (Example) {b->keys.keys, b->slot_end, b->numeric};
}

/*
 * An empty batch for the examples of a model of this shape (a handle's
 * snapshot), with room for keys_capacity keys and entries, beyond which it
 * grows only to take its first example (see example_batch_add); memory in
 * the current context.
 */
void
example_batch_init(ExampleBatch *b, const Model *shape, uint32 keys_capacity)
{
	memset(b, 0, sizeof(ExampleBatch));
	b->n_slots = shape->config.n_slots;
	b->n_numeric = shape->config.n_numeric;
	b->keys.capacity = Max(keys_capacity, 1);
	b->keys.keys = palloc_extended(sizeof(uint64) * b->keys.capacity, MCXT_ALLOC_HUGE);
	b->slot_end = palloc(sizeof(uint32) * MODEL_TRAIN_BATCH * Max(b->n_slots, 1));
	b->numeric = palloc(sizeof(float) * MODEL_TRAIN_BATCH * Max(b->n_numeric, 1));
	b->entries_capacity = b->keys.capacity;
	b->work.entries = palloc_extended(sizeof(CuckooEntry *) * b->entries_capacity, MCXT_ALLOC_HUGE);
	b->work.floats = palloc_extended(sizeof(float) * model_work_floats(&shape->config), MCXT_ALLOC_HUGE);
	b->scratch = palloc0(model_batch_scratch_bytes(shape));
}

/*
 * Copies an example and its label into the batch; false, adding nothing,
 * when the batch is full or its keys would not fit in the batch's room (it
 * then grows only for a first example).  So a batch made with room for the
 * most keys any example may have never allocates again.
 */
bool
example_batch_add(ExampleBatch *b, const Example *ex, double label)
{
	uint32		n_keys = b->n_slots > 0 ? ex->slot_end[b->n_slots - 1] : 0;
	uint32		start = b->n > 0 ? b->key_start[b->n - 1] + b->examples[b->n - 1].slot_end[b->n_slots - 1] : 0;

	if (b->n == MODEL_TRAIN_BATCH)
		return false;
	if (start + n_keys > b->keys.capacity)
	{
		if (b->n > 0)
			return false;
		b->keys.capacity = n_keys;
		b->keys.keys = repalloc_huge(b->keys.keys, sizeof(uint64) * n_keys);
	}
	if (n_keys > b->entries_capacity)
	{
		b->entries_capacity = n_keys;
		b->work.entries = repalloc_huge(b->work.entries, sizeof(CuckooEntry *) * n_keys);
	}
	memcpy(b->keys.keys + start, ex->keys, sizeof(uint64) * n_keys);
	memcpy(b->slot_end + (size_t) b->n * b->n_slots, ex->slot_end, sizeof(uint32) * b->n_slots);
	memcpy(b->numeric + (size_t) b->n * b->n_numeric, ex->numeric, sizeof(float) * b->n_numeric);
	b->key_start[b->n] = start;
	b->examples[b->n] = (Example)
	{
		b->keys.keys + start, b->slot_end + (size_t) b->n * b->n_slots,
			b->numeric + (size_t) b->n * b->n_numeric
	};
	b->labels[b->n] = label;
	b->max_keys = Max(b->max_keys, n_keys);
	b->n++;
	return true;
}

/*
 * Trains h's model on the batch, in order, under one hold of its lock;
 * returns how many examples it went through (all, unless one's prediction
 * is NaN: see model_train_batch), whose predictions it sets, and empties
 * the batch.
 */
uint32
example_batch_train(ExampleBatch *b, ModelHandle *h, uint32 now)
{
	uint32		done = b->n == 0 ? 0 :
		model_train_batch(h->model, &h->env, b->examples, b->labels, b->n, now, &b->work,
						  b->scratch, b->predictions);

	b->n = 0;
	b->max_keys = 0;

	/*
	 * Under memory pressure the steps after this batch may give memory back
	 * by evicting the least recently seen IDs: the round ends first, so that
	 * its hot IDs are seen when they were, as with steps in place.
	 */
	if (unlikely(pg_atomic_read_u32(monolith_memory_pressure) != 0))
		example_batch_flush(b, h);
	return done;
}

/*
 * Ends the run of h's batches: merges what model_train_batch keeps in the
 * batch's scratch between calls.  A run that trained must end so, or the
 * steps its last batches took on the IDs they repeat are lost.
 */
void
example_batch_flush(ExampleBatch *b, ModelHandle *h)
{
	model_train_flush(h->model, &h->env, b->scratch);
}

/*
 * In a PG_CATCH that carries on: releases every LWLock, as an abort would
 * (the error may have come from inside the core's locks), restores the
 * interrupt and cancel holdoffs (an error zeroes them, and a commit holds
 * interrupts until it ends) and the memory context of the recovery point,
 * and returns a copy of the error, its state flushed.
 */
ErrorData *
error_take(const ErrorRecoveryPoint *at)
{
	ErrorData  *error;

	LWLockReleaseAll();
	InterruptHoldoffCount = at->interrupt_holdoff;
	QueryCancelHoldoffCount = at->cancel_holdoff;
	MemoryContextSwitchTo(at->context);
	error = CopyErrorData();
	FlushErrorState();
	return error;
}

/*
 * As example_batch_flush, for a run that an error ended, from its PG_CATCH
 * once no LWLock is held and the error state is flushed: an error of its own
 * (the model dropped meanwhile: nothing to merge into) is discarded, so that
 * the error that ended the run is the one reported.
 */
void
example_batch_flush_after_error(ExampleBatch *b, ModelHandle *h)
{
	ErrorRecoveryPoint at = error_recovery_point();

	PG_TRY();
	{
		example_batch_flush(b, h);
	}
	PG_CATCH();
	{
		FreeErrorData(error_take(&at));
	}
	PG_END_TRY();
}

/* 0-based column named name in desc, or -1; errors if two columns share it. */
static int
column_named(TupleDesc desc, const char *name, const char *source)
{
	int			found = -1;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);

		if (attr->attisdropped || strcmp(NameStr(attr->attname), name) != 0)
			continue;
		if (found >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_COLUMN),
					 errmsg("%s has more than one column named \"%s\"", source, name)));
		found = i;
	}
	return found;
}

/*
 * Maps def's inputs and the label (if label_column is not NULL) to the columns
 * of desc; source names the rows' origin in errors ("query", "table \"ratings\""),
 * rows_name the rows themselves ("the query").
 */
void
row_reader_init(RowReader *r, const ModelDef *def, TupleDesc desc, const char *label_column,
				const char *source, const char *rows_name)
{
	int			n_inputs = def->n_slots + def->n_numeric;
	Oid		   *types = palloc(sizeof(Oid) * n_inputs);
	char	  **labels = palloc(sizeof(char *) * n_inputs);

	r->def = def;
	r->label_column = label_column;
	r->rows_name = rows_name;
	r->input_attnos = palloc(sizeof(int) * n_inputs);
	r->inputs = palloc(sizeof(NullableDatum) * n_inputs);
	r->n_attrs_needed = 0;
	for (int i = 0; i < n_inputs; i++)
	{
		const char *name = i < def->n_slots ? def->slot_names[i] :
			def->numeric_names[i - def->n_slots];
		int			attno = column_named(desc, name, source);

		if (attno < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("%s has no column \"%s\"", source, name),
					 errdetail("Model \"%s\" reads each feature from the column named after its slot or numeric feature.",
							   def->name)));
		r->input_attnos[i] = attno;
		labels[i] = psprintf("column \"%s\"", name);
		types[i] = TupleDescAttr(desc, attno)->atttypid;
		r->n_attrs_needed = Max(r->n_attrs_needed, attno + 1);
	}
	/* Without a label column, the caller knows each row's label. */
	r->label_attno = -1;
	if (label_column != NULL)
	{
		r->label_attno = column_named(desc, label_column, source);
		if (r->label_attno < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("%s has no label column \"%s\"", source, label_column),
					 errhint("Name the label column with the label argument.")));
		r->label_type = TupleDescAttr(desc, r->label_attno)->atttypid;
		label_check_type(r->label_type);
		r->n_attrs_needed = Max(r->n_attrs_needed, r->label_attno + 1);
	}
	example_builder_init(&r->builder, def, types, labels);
}

/*
 * The example and label of the row in slot, the row_number-th (from 1) of
 * its rows (a reader without a label column leaves *label as it is);
 * allocates in the current memory context.
 */
Example
row_reader_read(RowReader *r, TupleTableSlot *slot, uint64 row_number, double *label,
				ModelWork *work)
{
	int			n_inputs = r->def->n_slots + r->def->n_numeric;

	slot_getsomeattrs(slot, r->n_attrs_needed);
	if (r->label_attno >= 0)
	{
		if (slot->tts_isnull[r->label_attno])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("label must not be null"),
					 errdetail("Row " UINT64_FORMAT " of %s has a null \"%s\".",
							   row_number, r->rows_name, r->label_column)));
		*label = label_from_datum(slot->tts_values[r->label_attno], r->label_type);
	}
	for (int i = 0; i < n_inputs; i++)
	{
		r->inputs[i].value = slot->tts_values[r->input_attnos[i]];
		r->inputs[i].isnull = slot->tts_isnull[r->input_attnos[i]];
	}
	return example_build(&r->builder, r->inputs, work);
}

/*
 * The error for a prediction that is NaN (see require_prediction): the core
 * takes no step on a non-finite logit, so only a model whose weights already
 * diverged gives one.
 */
void
report_diverged(const ModelDef *def)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("model \"%s\" has diverged", def->name),
			 errdetail("Its weights give a non-finite logit for this example, so it was not trained on it."),
			 errhint("Drop and re-create the model with lower learning rates, or scale its numeric features down.")));
}

/*
 * Errors unless a model that samples negatives gets a label of 0 or 1: the
 * sampler drops a share of the zeros, and the log-odds correction assumes it
 * saw every one.
 */
void
require_sampled_label(const ModelDef *def, double label)
{
	if (def->negative_sample_rate < 1 && label != 0 && label != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label %g is not 0 or 1", label),
				 errdetail("Model \"%s\" samples negative examples, which needs labels of 0 or 1.",
						   def->name)));
}

/* Errors unless a label argument's type is boolean or numeric. */
void
label_check_type(Oid type)
{
	if (type != BOOLOID && type != INT2OID && type != INT4OID && type != INT8OID &&
		type != FLOAT4OID && type != FLOAT8OID && type != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("label has unsupported type %s", format_type_be(type)),
				 errhint("A label is a boolean or a number between 0 and 1.")));
}

/* A label as a number in [0, 1]; errors on anything else. */
double
label_from_datum(Datum value, Oid type)
{
	double		label = number_from_datum(value, type);

	if (!(label >= 0 && label <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label %g is out of range", label),
				 errdetail("A label must be between 0 and 1.")));
	return label;
}
