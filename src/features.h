/*
 * features.h
 *		SQL values to model inputs: feature keys (integers, text, and arrays
 *		of either), numeric features, labels as numbers in [0, 1], and the
 *		scratch a step needs, shared by per-row calls and query runs.
 */
#ifndef MONOLITH_FEATURES_H
#define MONOLITH_FEATURES_H

#include "postgres.h"

#include <math.h>

#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"

#include "shmem.h"

/* How one input's values are decoded, looked up once per call site or query. */
typedef struct FeatureType
{
	Oid			type;
	Oid			elem;			/* element type of an array, else InvalidOid */
	int16		elem_len;
	bool		elem_byval;
	char		elem_align;
} FeatureType;

/* Keys of one example, in memory that outlives the row; grown by repalloc. */
typedef struct KeyBuffer
{
	uint64	   *keys;
	uint32		n;
	uint32		capacity;
} KeyBuffer;

/*
 * Turns a row's inputs (the model's slots in order, then its numeric
 * features) into an Example, and holds the step's scratch.
 */
typedef struct ExampleBuilder
{
	int			n_slots;
	int			n_numeric;
	char	  **input_labels;	/* names of the inputs, for errors */
	FeatureType *types;			/* n_slots + n_numeric */
	KeyBuffer	keys;
	uint32	   *slot_end;
	float	   *numeric;
	CuckooEntry **entries;
	uint32		entries_capacity;
	float	   *floats;
} ExampleBuilder;

/*
 * Reads examples from rows: each model input from the column named after its
 * slot or numeric feature, the label from a named column, other columns
 * ignored.  Set up once per query or statement from its row descriptor.
 */
typedef struct RowReader
{
	const ModelDef *def;
	const char *label_column;
	const char *rows_name;		/* "the query": names the rows in errors */
	int		   *input_attnos;	/* 0-based column of each model input */
	int			label_attno;
	Oid			label_type;
	int			n_attrs_needed;
	NullableDatum *inputs;
	ExampleBuilder builder;
} RowReader;

/*
 * Examples gathered for one model_train_batch call, each copied out of the
 * builder (which reuses its buffers) with its label.
 */
typedef struct ExampleBatch
{
	int			n_slots;
	int			n_numeric;
	uint32		n;
	KeyBuffer	keys;			/* the examples' keys, one after another */
	uint32		key_start[MODEL_TRAIN_BATCH];
	uint32	   *slot_end;		/* MODEL_TRAIN_BATCH rows of n_slots */
	float	   *numeric;		/* MODEL_TRAIN_BATCH rows of n_numeric */
	double		labels[MODEL_TRAIN_BATCH];
	double		predictions[MODEL_TRAIN_BATCH];
	Example		examples[MODEL_TRAIN_BATCH];
	uint32		max_keys;		/* of any example now in the batch */
	ModelWork	work;
	uint32		entries_capacity;
	void	   *scratch;		/* model_batch_scratch_bytes() */
} ExampleBatch;

/* What a PG_CATCH that carries on after an error restores (see error_take). */
typedef struct ErrorRecoveryPoint
{
	uint32		interrupt_holdoff;
	uint32		cancel_holdoff;
	MemoryContext context;
} ErrorRecoveryPoint;

/* The point to restore after an error caught from here: take it before PG_TRY. */
static inline ErrorRecoveryPoint
error_recovery_point(void)
{
	return (ErrorRecoveryPoint) {InterruptHoldoffCount, QueryCancelHoldoffCount, CurrentMemoryContext};
}

extern void require_not_null(FunctionCallInfo fcinfo, int arg, const char *what);
extern void example_builder_init(ExampleBuilder *b, const ModelDef *def,
								 const Oid *types, char **input_labels);
extern Example example_build(ExampleBuilder *b, const NullableDatum *inputs,
							 ModelWork *work);
extern void row_reader_init(RowReader *r, const ModelDef *def, TupleDesc desc,
							const char *label_column, const char *source,
							const char *rows_name);
extern Example row_reader_read(RowReader *r, TupleTableSlot *slot, uint64 row_number,
							   double *label, ModelWork *work);
extern void example_batch_init(ExampleBatch *b, const Model *shape, uint32 keys_capacity);
extern bool example_batch_add(ExampleBatch *b, const Example *ex, double label);
extern uint32 example_batch_train(ExampleBatch *b, ModelHandle *h, uint32 now);
extern void example_batch_flush(ExampleBatch *b, ModelHandle *h);
extern void example_batch_flush_after_error(ExampleBatch *b, ModelHandle *h);
extern ErrorData *error_take(const ErrorRecoveryPoint *at);
extern void report_diverged(const ModelDef *def) pg_attribute_noreturn();
extern void require_sampled_label(const ModelDef *def, double label);
extern void label_check_type(Oid type);
extern double label_from_datum(Datum value, Oid type);
extern uint32 table_clock_now(void);

/* The prediction p of a model, or an error if it is NaN; inline, as scores call it. */
static inline double
require_prediction(const ModelDef *def, double p)
{
	if (unlikely(isnan(p)))
		report_diverged(def);
	return p;
}

/* Seconds between progress notices of a query pass; 0 = none (sql_query.c). */
extern int	monolith_progress_interval;

#endif							/* MONOLITH_FEATURES_H */
