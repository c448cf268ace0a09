/*
 * sql_metrics.c
 *		monolith.auc(prediction, label): ROC AUC as an aggregate, so that
 *		progressive validation is one query.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"

#include "features.h"
#include "metrics.h"

PG_FUNCTION_INFO_V1(monolith_auc_accum);
PG_FUNCTION_INFO_V1(monolith_auc_final);

typedef struct AucState
{
	ScoredLabel *items;
	size_t		n;
	size_t		capacity;
} AucState;

/* Adds one (prediction, label) pair; rows with a NULL are skipped, as avg() does. */
Datum
monolith_auc_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	AucState   *state = PG_ARGISNULL(0) ? NULL : (AucState *) PG_GETARG_POINTER(0);
	double		score;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "monolith_auc_accum called in non-aggregate context");
	if (state == NULL)
	{
		state = MemoryContextAllocZero(aggcontext, sizeof(AucState));
		state->capacity = 1024;
		state->items = MemoryContextAllocHuge(aggcontext, sizeof(ScoredLabel) * state->capacity);
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);
	score = PG_GETARG_FLOAT8(1);
	if (isnan(score))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("prediction must not be NaN")));
	if (state->n == state->capacity)
	{
		state->capacity *= 2;
		state->items = repalloc_huge(state->items, sizeof(ScoredLabel) * state->capacity);
	}
	state->items[state->n].score = score;
	state->items[state->n].label = label_from_datum(PG_GETARG_DATUM(2),
													get_fn_expr_argtype(fcinfo->flinfo, 2));
	state->n++;
	PG_RETURN_POINTER(state);
}

/* The AUC, or NULL when there are no positives or no negatives. */
Datum
monolith_auc_final(PG_FUNCTION_ARGS)
{
	AucState   *state = PG_ARGISNULL(0) ? NULL : (AucState *) PG_GETARG_POINTER(0);
	double		auc;

	if (state == NULL)
		PG_RETURN_NULL();
	auc = metrics_auc(state->items, state->n);
	if (isnan(auc))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(auc);
}
