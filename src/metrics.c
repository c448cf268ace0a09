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
static void
sort_by_score(ScoredLabel *items, size_t n)
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

	sort_by_score(items, n);
	while (i < n)
	{
		size_t		j = i;
		double		pos = 0,
					neg = 0;

		/* A run of equal scores; at least the item at i, even a NaN. */
		do
		{
			pos += items[j].label;
			neg += 1.0 - items[j].label;
			j++;
		} while (j < n && items[j].score == items[i].score);
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
