/*
 * sql_train.c
 *		SQL functions that use a model: train, score, expire, and the live
 *		figures behind monolith.models.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "nodes/primnodes.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "expiry.h"
#include "features.h"
#include "lifecycle.h"
#include "privileges.h"
#include "replica.h"

PG_FUNCTION_INFO_V1(monolith_train);
PG_FUNCTION_INFO_V1(monolith_score);
PG_FUNCTION_INFO_V1(monolith_expire);
PG_FUNCTION_INFO_V1(monolith_model_stats);
PG_FUNCTION_INFO_V1(monolith_memory_usage);

/* What a call site resolved: the model, argument types and scratch. */
typedef struct ModelCall
{
	MemoryContext context;		/* holds this struct and all it points to */
	text	   *name;
	Datum		name_const;		/* the name argument where it is a constant, or 0 */
	Oid			user;			/* who was found to hold it */
	uint64		version;		/* definitions_version() then */
	ModelHandle handle;
	int			first_feature;	/* argument number of the first feature */
	ExampleBuilder builder;
} ModelCall;

/* Whether the model name passed is the one the call site resolved; out of line. */
static pg_noinline bool
model_call_same_name(const ModelCall *call, FunctionCallInfo fcinfo)
{
	text	   *name = PG_GETARG_TEXT_PP(0);

	return VARSIZE_ANY_EXHDR(call->name) == VARSIZE_ANY_EXHDR(name) &&
		memcmp(VARDATA_ANY(call->name), VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) == 0;
}

/*
 * Whether the call site's resolved model still answers this call: the same
 * name (a PL/pgSQL variable, say, may name another model each call; a
 * constant is the same datum every call), the same user, and no definition
 * changed since.
 */
static pg_attribute_always_inline bool
model_call_current(const ModelCall *call, FunctionCallInfo fcinfo)
{
	if (unlikely(call == NULL || PG_ARGISNULL(0)) ||
		unlikely(call->version != definitions_version() || call->user != GetUserId()))
		return false;
	return likely(call->name_const != 0 && PG_GETARG_DATUM(0) == call->name_const) ||
		model_call_same_name(call, fcinfo);
}

/* The name argument's datum if it is a Const of the call's expression, else 0. */
static Datum
constant_name(FunctionCallInfo fcinfo)
{
	Node	   *expr = fcinfo->flinfo->fn_expr;
	Node	   *arg;

	if (expr == NULL || !IsA(expr, FuncExpr) || list_length(((FuncExpr *) expr)->args) < 1)
		return 0;
	arg = linitial(((FuncExpr *) expr)->args);
	return IsA(arg, Const) && !((Const *) arg)->constisnull ? ((Const *) arg)->constvalue : 0;
}

/*
 * The call site's model resolved anew, with the current user's privilege on
 * it checked.  first_feature < 0: no features.
 */
static pg_noinline ModelCall *
model_call_resolve(FunctionCallInfo fcinfo, int first_feature, AclMode privilege)
{
	ModelCall  *call = fcinfo->flinfo->fn_extra;
	MemoryContext context;
	MemoryContext old;
	ModelDef	def;
	int			n_inputs;

	shmem_require();
	require_not_null(fcinfo, 0, "model name");
	if (call != NULL)
	{
		MemoryContextDelete(call->context);
		fcinfo->flinfo->fn_extra = NULL;
	}
	context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "monolith call",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(context);
	call = palloc0(sizeof(ModelCall));
	call->context = context;
	/* Taken first: a change made during the look-up sends the next call to look again. */
	call->version = definitions_version();
	call->user = GetUserId();
	call->name = DatumGetTextPCopy(PG_GETARG_DATUM(0));
	call->name_const = constant_name(fcinfo);
	catalog_lookup(call->name, &def);
	model_require(&def, privilege);
	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("features cannot be passed as a VARIADIC array"),
				 errhint("Pass one argument per slot.")));
	n_inputs = def.n_slots + def.n_numeric;
	if (first_feature >= 0 && PG_NARGS() - first_feature != n_inputs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" takes %d features, got %d",
						def.name, n_inputs, PG_NARGS() - first_feature),
				 errdetail("Pass one feature per slot, in the order the model lists its slots, then its numeric features.")));

	call->first_feature = first_feature;
	if (first_feature >= 0)
	{
		Oid		   *types = palloc(sizeof(Oid) * n_inputs);
		char	  **labels = palloc(sizeof(char *) * n_inputs);

		for (int i = 0; i < n_inputs; i++)
		{
			types[i] = get_fn_expr_argtype(fcinfo->flinfo, first_feature + i);
			labels[i] = psprintf("feature %d", i + 1);
		}
		example_builder_init(&call->builder, &def, types, labels);
	}
	/* Opening checks that the shared parameters match def. */
	shmem_open_model(&call->handle, &def);
	if (privilege == MODEL_PRIV_SCORE)
		require_ready(&call->handle);
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = call;
	return call;
}

/*
 * The call site's resolved model: looked up on the first row, and again
 * whenever model_call_current says the last look-up may not hold.
 */
static inline ModelCall *
model_call(FunctionCallInfo fcinfo, int first_feature, AclMode privilege)
{
	ModelCall  *call = fcinfo->flinfo->fn_extra;

	if (likely(model_call_current(call, fcinfo)))
		return call;
	return model_call_resolve(fcinfo, first_feature, privilege);
}

/* The row's example, from the call's feature arguments. */
static Example
model_call_example(FunctionCallInfo fcinfo, ModelCall *call, ModelWork *work)
{
	return example_build(&call->builder, &fcinfo->args[call->first_feature], work);
}

/*
 * monolith.train(model, label, VARIADIC features): one online step; returns
 * the prediction made before the update, for progressive validation.
 */
Datum
monolith_train(PG_FUNCTION_ARGS)
{
	ModelCall  *call = model_call(fcinfo, 2, MODEL_PRIV_TRAIN);
	Oid			label_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
	double		label;
	double		p;
	ModelWork	work;
	Example		ex;

	require_not_null(fcinfo, 1, "label");
	label_check_type(label_type);
	label = label_from_datum(PG_GETARG_DATUM(1), label_type);
	require_sampled_label(&call->handle.def, label);
	ex = model_call_example(fcinfo, call, &work);
	p = model_train(call->handle.model, &call->handle.env, &ex, label, table_clock_now(), &work);
	shmem_check_pressure(&call->handle);
	PG_RETURN_FLOAT8(require_prediction(&call->handle.def, p));
}

/* monolith.score(model, VARIADIC features): probability of a positive label. */
Datum
monolith_score(PG_FUNCTION_ARGS)
{
	ModelCall  *call = model_call(fcinfo, 1, MODEL_PRIV_SCORE);
	ModelWork	work;
	Example		ex = model_call_example(fcinfo, call, &work);

	PG_RETURN_FLOAT8(require_prediction(&call->handle.def,
										model_predict(call->handle.model, &call->handle.snapshot,
													  &call->handle.env, &ex, &work)));
}

/* monolith.expire(model, older_than): removes IDs not seen for that long. */
Datum
monolith_expire(PG_FUNCTION_ARGS)
{
	ModelCall  *call = model_call(fcinfo, -1, MODEL_PRIV_TRAIN);
	Interval   *age;
	Interval	zero = {0};
	uint32		cutoff;
	uint64		removed;
	CoreEnv    *env = &call->handle.env;
	ModelExpiry expiry;
	uint32		ref = 1;

	require_not_null(fcinfo, 1, "older_than");
	age = PG_GETARG_INTERVAL_P(1);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(age),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative")));
	cutoff = expiry_cutoff(GetCurrentTimestamp(), age);
	for (int s = 0; s < MODEL_MAX_SLOTS; s++)
		expiry.cutoff[s] = cutoff;
	removed = model_expire(call->handle.model, env, &expiry, &ref, UINT32_MAX);
	PG_RETURN_INT64((int64) removed);
}

/*
 * monolith.model_stats(): a row for every model of the installation that the
 * current user may use, with its live figures (zero for a model whose
 * parameters are not in memory).  Installations before 0.4.0 declare its
 * first seven columns only.
 */
Datum
monolith_model_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			extension;
	ModelGrants *grants;
	ModelStats *stats;
	int			n_models;
	int			n_live;

	shmem_require();
	InitMaterializedSRF(fcinfo, 0);
	/* Columns as declared by 0.3.0, 0.4.0 (outcomes), 0.5.0 (committed_auc) and 0.7.0 (expired). */
	if (rsinfo->setDesc->natts != 7 && rsinfo->setDesc->natts != 7 + N_COMMIT_OUTCOMES &&
		rsinfo->setDesc->natts != 8 + N_COMMIT_OUTCOMES && rsinfo->setDesc->natts != 9 + N_COMMIT_OUTCOMES)
		elog(ERROR, "monolith.model_stats is declared with %d columns", rsinfo->setDesc->natts);
	n_models = catalog_all_grants(&grants, &extension);
	stats = palloc(sizeof(ModelStats) * monolith_max_models);
	n_live = shmem_collect_stats(extension, stats, monolith_max_models);
	for (int m = 0; m < n_models; m++)
	{
		ModelStats	figures = {grants[m].id, .committed_auc = NAN};
		Datum		values[9 + N_COMMIT_OUTCOMES];
		bool		nulls[9 + N_COMMIT_OUTCOMES] = {false};

		if (!model_visible(GetUserId(), grants[m].owner, grants[m].acl))
			continue;
		for (int i = 0; i < n_live; i++)
			if (stats[i].model_id == grants[m].id)
				figures = stats[i];
		values[0] = Int64GetDatum(figures.model_id);
		values[1] = Int64GetDatum((int64) figures.ids);
		values[2] = Int64GetDatum((int64) figures.memory_bytes);
		values[3] = Int64GetDatum((int64) figures.examples);
		values[4] = Int64GetDatum((int64) figures.evicted);
		values[5] = Int64GetDatum((int64) figures.refused);
		values[6] = Float8GetDatum(figures.longest_exclusive_ms);
		for (int o = 0; o < N_COMMIT_OUTCOMES; o++)
			values[7 + o] = Int64GetDatum((int64) figures.outcomes[o]);
		values[7 + N_COMMIT_OUTCOMES] = Float8GetDatum(figures.committed_auc);
		nulls[7 + N_COMMIT_OUTCOMES] = isnan(figures.committed_auc);
		/* Declared by older SQL with fewer columns, the tuple takes only those. */
		values[8 + N_COMMIT_OUTCOMES] = Int64GetDatum((int64) figures.expired);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * monolith.memory_usage(): the shared memory of all models of the cluster,
 * every database's, against the cap.
 */
Datum
monolith_memory_usage(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false};
	int			live;
	uint64		bytes;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	shmem_usage(&live, &bytes);
	values[0] = Int32GetDatum(live);
	values[1] = Int64GetDatum((int64) bytes);
	values[2] = Int64GetDatum((int64) monolith_max_memory_mb * 1024 * 1024);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
