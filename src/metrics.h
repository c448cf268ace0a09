/*
 * metrics.h
 *		Model quality metrics: ROC AUC and log loss.
 */
#ifndef MONOLITH_METRICS_H
#define MONOLITH_METRICS_H

#include <stddef.h>

/* One scored example; label in [0, 1] weighs it as that much positive. */
typedef struct ScoredLabel
{
	double		score;
	double		label;
} ScoredLabel;

/*
 * ROC AUC over examples taken in ascending order of score, as from sorted
 * runs merged: what metrics_auc does after sorting.
 */
typedef struct AucSweep
{
	double		neg_below;		/* negative weight with lower scores */
	double		pos_total;
	double		neg_total;
	double		area;
	double		run_score;		/* the current run of equal scores */
	double		run_pos;
	double		run_neg;
	size_t		run_length;
} AucSweep;

extern void metrics_auc_sweep_init(AucSweep *s);
extern void metrics_auc_sweep_add(AucSweep *s, double score, double label);
extern double metrics_auc_sweep_end(AucSweep *s);

/* Sorts items by score, in linear time (and n items' more memory). */
extern void metrics_sort_by_score(ScoredLabel *items, size_t n);
/* Sorts items by score; NaN when either class has zero weight. */
extern double metrics_auc(ScoredLabel *items, size_t n);
extern double metrics_log_loss(double p, double label);

/*
 * A running AUC in fixed memory: label weights counted in METRICS_AUC_BINS
 * equal bins of the prediction, scores within a bin counted as tied.  For
 * predictions spread over [0, 1] that is within about 1 / METRICS_AUC_BINS
 * of the exact AUC, and exact when no bin mixes classes.
 */
#define METRICS_AUC_BINS 1024
extern unsigned metrics_auc_bin(double p);
/* pos[b] and neg[b]: the positive and negative weight of bin b; NaN when either is zero. */
extern double metrics_auc_of_bins(const double *pos, const double *neg);

#endif							/* MONOLITH_METRICS_H */
