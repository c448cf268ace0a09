/*
 * metrics.c
 *		ROC AUC (Mann-Whitney, ties counted half) and log loss.
 */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>

static int
by_score(const void *a, const void *b)
{
	double		x = ((const ScoredLabel *) a)->score;
	double		y = ((const ScoredLabel *) b)->score;

	return (x > y) - (x < y);
}

/*
 * Probability that a random positive outscores a random negative, with each
 * example counted as `label` of a positive and 1 - label of a negative.
 */
double
metrics_auc(ScoredLabel *items, size_t n)
{
	double		neg_below = 0;	/* negative weight with lower scores */
	double		pos_total = 0;
	double		neg_total = 0;
	double		area = 0;
	size_t		i = 0;

	qsort(items, n, sizeof(ScoredLabel), by_score);
	while (i < n)
	{
		size_t		j = i;
		double		pos = 0,
					neg = 0;

		while (j < n && items[j].score == items[i].score)
		{
			pos += items[j].label;
			neg += 1.0 - items[j].label;
			j++;
		}
		area += pos * (neg_below + 0.5 * neg);
		neg_below += neg;
		pos_total += pos;
		neg_total += neg;
		i = j;
	}
	if (pos_total <= 0 || neg_total <= 0)
		return NAN;
	return area / (pos_total * neg_total);
}

/* Log loss of predicting p for label, with p kept off 0 and 1. */
double
metrics_log_loss(double p, double label)
{
	const double eps = 1e-15;

	if (p < eps)
		p = eps;
	if (p > 1 - eps)
		p = 1 - eps;
	return -(label * log(p) + (1 - label) * log(1 - p));
}
