/*
 * sql_metrics.c
 *		monolith.auc(prediction, label): ROC AUC as an aggregate, so that
 *		progressive validation is one query.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"

#include "auc_spill.h"
#include "features.h"
#include "miscadmin.h"

PG_FUNCTION_INFO_V1(monolith_auc_accum);
PG_FUNCTION_INFO_V1(monolith_auc_final);

/*
 * Adds one (prediction, label) pair; rows with a NULL are skipped, as avg()
 * does.  The pairs spill to a temporary file beyond work_mem.
 */
Datum
monolith_auc_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	AucCollector *state = PG_ARGISNULL(0) ? NULL : (AucCollector *) PG_GETARG_POINTER(0);
	double		score;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "monolith_auc_accum called in non-aggregate context");
	if (state == NULL)
	{
		state = MemoryContextAlloc(aggcontext, sizeof(AucCollector));
		auc_collector_init(state, aggcontext, (size_t) work_mem * 1024);
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);
	score = PG_GETARG_FLOAT8(1);
	if (isnan(score))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("prediction must not be NaN")));
	auc_collector_add(state, score, label_from_datum(PG_GETARG_DATUM(2),
													 get_fn_expr_argtype(fcinfo->flinfo, 2)));
	PG_RETURN_POINTER(state);
}

/* The AUC, or NULL when there are no positives or no negatives. */
Datum
monolith_auc_final(PG_FUNCTION_ARGS)
{
	AucCollector *state = PG_ARGISNULL(0) ? NULL : (AucCollector *) PG_GETARG_POINTER(0);
	double		auc;

	if (state == NULL)
		PG_RETURN_NULL();
	auc = auc_collector_auc(state);
	if (isnan(auc))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(auc);
}
