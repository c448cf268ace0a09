/*
 * auc_spill.h
 *		ROC AUC of any number of examples within a memory budget.
 */
#ifndef MONOLITH_AUC_SPILL_H
#define MONOLITH_AUC_SPILL_H

#include "postgres.h"

#include "storage/buffile.h"

#include "metrics.h"

/* A sorted run of examples in the temporary file. */
typedef struct AucRun
{
	int			fileno;			/* where it starts */
	off_t		offset;
	size_t		length;			/* examples */
} AucRun;

typedef struct AucCollector
{
	MemoryContext context;		/* holds everything below */
	ScoredLabel *items;			/* the examples not yet spilled */
	size_t		n;
	size_t		capacity;
	size_t		max_items;		/* what the budget holds, with the sort's copy */
	BufFile    *file;			/* spilled runs, one after another; or NULL */
	int			end_fileno;		/* where the next run goes */
	off_t		end_offset;
	AucRun	   *runs;
	int			n_runs;
	int			runs_capacity;
} AucCollector;

extern void auc_collector_init(AucCollector *c, MemoryContext context, size_t budget_bytes);
extern void auc_collector_add(AucCollector *c, double score, double label);
extern double auc_collector_auc(AucCollector *c);
extern void auc_collector_end(AucCollector *c);

#endif							/* MONOLITH_AUC_SPILL_H */
