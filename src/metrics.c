/*
 * metrics.c
 *		ROC AUC (Mann-Whitney, ties counted half) and log loss.
 */
#include "metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
by_score(const void *a, const void *b)
{
	double		x = ((const ScoredLabel *) a)->score;
	double		y = ((const ScoredLabel *) b)->score;

	return (x > y) - (x < y);
}

/* An unsigned key that orders as the double does (NaN aside). */
static inline uint64_t
score_key(double score)
{
	uint64_t	bits;

	memcpy(&bits, &score, sizeof(bits));
	return (bits >> 63) ? ~bits : bits | ((uint64_t) 1 << 63);
}

/*
 * Sorts items by score: an LSD radix sort over the key's bytes, skipping
 * bytes all keys share, with a temporary copy; qsort when none can be had.
 * Linear time matters here: a pass over millions of examples sorts them all.
 */
void
metrics_sort_by_score(ScoredLabel *items, size_t n)
{
	ScoredLabel *tmp = n > 1024 ? malloc(n * sizeof(ScoredLabel)) : NULL;
	ScoredLabel *from = items;
	ScoredLabel *to = tmp;

	if (tmp == NULL)
	{
		qsort(items, n, sizeof(ScoredLabel), by_score);
		return;
	}
	for (int shift = 0; shift < 64; shift += 8)
	{
		size_t		count[257] = {0};

		for (size_t i = 0; i < n; i++)
			count[((score_key(from[i].score) >> shift) & 0xff) + 1]++;
		if (count[((score_key(from[0].score) >> shift) & 0xff) + 1] == n)
			continue;			/* every key has this byte */
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < n; i++)
			to[count[(score_key(from[i].score) >> shift) & 0xff]++] = from[i];
		from = to;
		to = from == items ? tmp : items;
	}
	if (from != items)
		memcpy(items, from, n * sizeof(ScoredLabel));
	free(tmp);
}

/* Closes the sweep's run of equal scores: its positives beat the negatives below. */
static void
sweep_close_run(AucSweep *s)
{
	s->area += s->run_pos * (s->neg_below + 0.5 * s->run_neg);
	s->neg_below += s->run_neg;
	s->pos_total += s->run_pos;
	s->neg_total += s->run_neg;
	s->run_pos = s->run_neg = 0;
	s->run_length = 0;
}

void
metrics_auc_sweep_init(AucSweep *s)
{
	memset(s, 0, sizeof(*s));
}

/*
 * Adds the next example of a sweep, which takes them in ascending order of
 * score; equal scores form a run, in which positives beat half of the
 * negatives (a NaN is a run of its own).
 */
void
metrics_auc_sweep_add(AucSweep *s, double score, double label)
{
	if (s->run_length > 0 && score != s->run_score)
		sweep_close_run(s);
	s->run_score = score;
	s->run_pos += label;
	s->run_neg += 1.0 - label;
	s->run_length++;
}

/* The swept AUC; NaN when either class has zero weight. */
double
metrics_auc_sweep_end(AucSweep *s)
{
	if (s->run_length > 0)
		sweep_close_run(s);
	if (s->pos_total <= 0 || s->neg_total <= 0)
		return NAN;
	return s->area / (s->pos_total * s->neg_total);
}

/*
 * Probability that a random positive outscores a random negative, with each
 * example counted as `label` of a positive and 1 - label of a negative.
 */
double
metrics_auc(ScoredLabel *items, size_t n)
{
	AucSweep	sweep;

	metrics_sort_by_score(items, n);
	metrics_auc_sweep_init(&sweep);
	for (size_t i = 0; i < n; i++)
		metrics_auc_sweep_add(&sweep, items[i].score, items[i].label);
	return metrics_auc_sweep_end(&sweep);
}

/* The bin of a prediction p in [0, 1] (NaN and values outside clamp to the ends). */
unsigned
metrics_auc_bin(double p)
{
	if (!(p > 0))
		return 0;
	if (p >= 1)
		return METRICS_AUC_BINS - 1;
	return (unsigned) (p * METRICS_AUC_BINS);
}

double
metrics_auc_of_bins(const double *pos, const double *neg)
{
	AucSweep	sweep;

	metrics_auc_sweep_init(&sweep);
	for (unsigned b = 0; b < METRICS_AUC_BINS; b++)
	{
		/* A bin is a run of equal scores. */
		sweep.run_pos = pos[b];
		sweep.run_neg = neg[b];
		sweep.run_length = 1;
		sweep_close_run(&sweep);
	}
	return metrics_auc_sweep_end(&sweep);
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
