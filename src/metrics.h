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

/* Sorts items by score; NaN when either class has zero weight. */
extern double metrics_auc(ScoredLabel *items, size_t n);
extern double metrics_log_loss(double p, double label);

#endif							/* MONOLITH_METRICS_H */
