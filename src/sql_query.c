/*
 * sql_query.c
 *		monolith.train_query and monolith.evaluate: one pass over a query's
 *		rows, in the query's order, inside one call.
 *
 * The query runs through SPI with this file's DestReceiver, so each row goes
 * from the executor's slot straight to the core's training step (or
 * prediction): no per-row function call, no copy of the result.  Features are
 * read from the columns named after the model's slots and numeric features,
 * the label from the column the caller names; other columns are ignored.
 * Each step is the one monolith.train takes, so both train the same model
 * from the same rows and seed.
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/plancache.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "auc_spill.h"
#include "catalog.h"
#include "features.h"
#include "privileges.h"
#include "replica.h"
#include "metrics.h"

PG_FUNCTION_INFO_V1(monolith_train_query);
PG_FUNCTION_INFO_V1(monolith_evaluate);

/* Rows between reads of the clock, for last-seen times and progress. */
#define CLOCK_EVERY_ROWS 4096

int			monolith_progress_interval = 10;

/* One pass of a model over a query's rows. */
typedef struct QueryPass
{
	DestReceiver pub;			/* first: the executor sees a DestReceiver */
	bool		train;
	ModelHandle handle;
	const char *label_column;
	MemoryContext row_context;	/* reset after every row */

	RowReader	reader;			/* set up from the query's columns when it starts */
	ExampleBatch batch;			/* training: examples read, not yet trained */

	/* Figures so far: rows read, and of those trained or predicted, their figures. */
	uint64		rows;
	uint64		counted;
	double		log_loss_sum;
	double		prediction_sum;
	double		label_sum;
	AucCollector scored;		/* (prediction, label) of each row, for the AUC */
	uint32		now;
	TimestampTz started_at;
	TimestampTz last_progress;
} QueryPass;

/* Maps the model's inputs and the label to the query's columns. */
static void
pass_startup(DestReceiver *self, int operation, TupleDesc desc)
{
	QueryPass  *pass = (QueryPass *) self;

	row_reader_init(&pass->reader, &pass->handle.def, desc, pass->label_column,
					"query", "the query");
}

/* Reads the clock, and every monolith.progress_interval says how far the pass is. */
static void
pass_tick(QueryPass *pass)
{
	TimestampTz now = GetCurrentTimestamp();

	pass->now = (uint32) timestamptz_to_time_t(now);
	if (monolith_progress_interval > 0 && pass->rows > 0 &&
		TimestampDifferenceExceeds(pass->last_progress, now, monolith_progress_interval * 1000))
	{
		double		secs = (double) (now - pass->started_at) / USECS_PER_SEC;

		ereport(NOTICE,
				(errmsg("model \"%s\": %s " UINT64_FORMAT " rows in %.0f s, %.0f rows/s",
						pass->handle.def.name, pass->train ? "trained on" : "evaluated",
						pass->rows, secs, pass->rows / secs)));
		pass->last_progress = now;
	}
}

/* Adds a row's prediction p, made before any step on it, to the figures. */
static void
pass_count(QueryPass *pass, double p, double label)
{
	auc_collector_add(&pass->scored, require_prediction(&pass->handle.def, p), label);
	pass->counted++;
	pass->log_loss_sum += metrics_log_loss(p, label);
	pass->prediction_sum += p;
	pass->label_sum += label;
}

/* Trains on the rows gathered in the batch and counts them. */
static void
pass_train_batch(QueryPass *pass)
{
	uint32		n PG_USED_FOR_ASSERTS_ONLY = pass->batch.n;
	uint32		done = example_batch_train(&pass->batch, &pass->handle, pass->now);

	for (uint32 i = 0; i < done; i++)
	{
		pass_count(pass, pass->batch.predictions[i], pass->batch.labels[i]);
		shmem_check_pressure(&pass->handle);
	}
	/* A NaN prediction stopped the batch, and pass_count has reported it. */
	Assert(done == n);
}

/*
 * Predicts one row and counts it, or gathers it for training, which goes a
 * batch of rows at a time (see model_train_batch).
 */
static bool
pass_receive(TupleTableSlot *slot, DestReceiver *self)
{
	QueryPass  *pass = (QueryPass *) self;
	const ModelDef *def = &pass->handle.def;
	MemoryContext old;
	ModelWork	work;
	Example		ex;
	double		label;

	CHECK_FOR_INTERRUPTS();
	if (pass->rows % CLOCK_EVERY_ROWS == 0)
		pass_tick(pass);

	old = MemoryContextSwitchTo(pass->row_context);
	ex = row_reader_read(&pass->reader, slot, pass->rows + 1, &label, &work);
	pass->rows++;
	if (pass->train)
	{
		require_sampled_label(def, label);
		if (!example_batch_add(&pass->batch, &ex, label))
		{
			pass_train_batch(pass);
			(void) example_batch_add(&pass->batch, &ex, label);
		}
	}
	else
		pass_count(pass, model_predict(pass->handle.model, &pass->handle.snapshot,
									   &pass->handle.env, &ex, &work), label);
	MemoryContextSwitchTo(old);
	MemoryContextReset(pass->row_context);
	return true;
}

/* Trains on the rows still gathered. */
static void
pass_shutdown(DestReceiver *self)
{
	QueryPass  *pass = (QueryPass *) self;

	if (pass->train)
	{
		pass_train_batch(pass);
		example_batch_flush(&pass->batch, &pass->handle);
	}
}

/*
 * From the PG_CATCH of a pass that an error ended: keeps the steps of the
 * batches it trained (see example_batch_flush), and throws the error again.
 */
static pg_attribute_noreturn() void
pass_end_after_error(QueryPass *pass, const ErrorRecoveryPoint *at)
{
	ErrorData  *error = error_take(at);

	example_batch_flush_after_error(&pass->batch, &pass->handle);
	ReThrowError(error);
}

static void
pass_destroy(DestReceiver *self)
{
}

/* Whether a prepared plan is one SELECT, with no data-modifying WITH and no FOR UPDATE. */
static bool
plan_is_one_select(SPIPlanPtr plan)
{
	List	   *sources = SPI_plan_get_plan_sources(plan);
	CachedPlanSource *source;
	Query	   *query;

	if (list_length(sources) != 1)
		return false;
	source = linitial(sources);
	if (source->commandTag != CMDTAG_SELECT || list_length(source->query_list) != 1)
		return false;
	query = linitial_node(Query, source->query_list);
	return !query->hasModifyingCTE && query->rowMarks == NIL;
}

/*
 * Runs the pass; returns (examples, seconds, examples_per_second, auc,
 * log_loss, mean_prediction, positive_rate), figures of the predictions made
 * before each step when training.
 */
static Datum
run_pass(FunctionCallInfo fcinfo, bool train)
{
	QueryPass  *pass = palloc0(sizeof(QueryPass));
	ModelDef	def;
	TupleDesc	result_desc;
	SPIPlanPtr	plan;
	SPIExecuteOptions options;
	char	   *query;
	double		secs;
	Datum		values[7];
	bool		nulls[7] = {false};
	double		auc;
	int			guc_level;
	ErrorRecoveryPoint at;

	shmem_require();
	require_not_null(fcinfo, 0, "model name");
	require_not_null(fcinfo, 1, "query");
	require_not_null(fcinfo, 2, "label");
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	catalog_lookup(PG_GETARG_TEXT_PP(0), &def);
	model_require(&def, train ? MODEL_PRIV_TRAIN : MODEL_PRIV_SCORE);
	shmem_open_model(&pass->handle, &def);
	require_ready(&pass->handle);
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	pass->label_column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	pass->train = train;
	pass->pub.receiveSlot = pass_receive;
	pass->pub.rStartup = pass_startup;
	pass->pub.rShutdown = pass_shutdown;
	pass->pub.rDestroy = pass_destroy;
	pass->pub.mydest = DestNone;
	pass->row_context = AllocSetContextCreate(CurrentMemoryContext, "monolith row",
											  ALLOCSET_SMALL_SIZES);
	if (train)
		example_batch_init(&pass->batch, &pass->handle.snapshot.shape, 1024);
	auc_collector_init(&pass->scored, CurrentMemoryContext, (size_t) work_mem * 1024);
	pass->started_at = pass->last_progress = GetCurrentTimestamp();

	SPI_connect();
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the query: %s", SPI_result_code_string(SPI_result));
	if (!plan_is_one_select(plan))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be a single SELECT"),
				 errdetail("A pass only reads its examples: its query must be one SELECT that locks no rows, and it runs as in a read-only transaction.")));
	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = &pass->pub;

	/*
	 * Read-only for the query's length, so that nothing it calls (a volatile
	 * function, nextval) changes the database either, temporary tables
	 * aside; the setting is restored after, as a function's SET clause is.
	 */
	guc_level = NewGUCNestLevel();
	(void) set_config_option("transaction_read_only", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	at = error_recovery_point();
	PG_TRY();
	{
		if (SPI_execute_plan_extended(plan, &options) < 0)
			elog(ERROR, "could not run the query");
	}
	PG_CATCH();
	{
		if (train)
			pass_end_after_error(pass, &at);
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(true, guc_level);
	SPI_finish();
	secs = (double) (GetCurrentTimestamp() - pass->started_at) / USECS_PER_SEC;

	auc = auc_collector_auc(&pass->scored);
	auc_collector_end(&pass->scored);
	values[0] = Int64GetDatum((int64) pass->rows);
	values[1] = Float8GetDatum(secs);
	values[2] = Float8GetDatum(pass->rows / Max(secs, 1e-6));
	values[3] = Float8GetDatum(auc);
	nulls[3] = isnan(auc);
	values[4] = Float8GetDatum(pass->log_loss_sum / pass->rows);
	values[5] = Float8GetDatum(pass->prediction_sum / pass->rows);
	values[6] = Float8GetDatum(pass->label_sum / pass->rows);
	for (int i = 2; i < 7; i++)
		nulls[i] |= pass->rows == 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(result_desc), values, nulls)));
}

/* monolith.train_query(model, query, label): one epoch over the query's rows. */
Datum
monolith_train_query(PG_FUNCTION_ARGS)
{
	return run_pass(fcinfo, true);
}

/* monolith.evaluate(model, query, label): the model's figures on the rows, untrained. */
Datum
monolith_evaluate(PG_FUNCTION_ARGS)
{
	return run_pass(fcinfo, false);
}
