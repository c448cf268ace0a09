/*
 * test_metrics.c
 *		Unit tests of ROC AUC and log loss.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/metrics.h"
#include "unit.h"

static double
auc_of(const double *scores, const double *labels, size_t n)
{
	ScoredLabel items[16];

	for (size_t i = 0; i < n; i++)
		items[i] = (ScoredLabel) {scores[i], labels[i]};
	return metrics_auc(items, n);
}

/* Perfect, reversed, tied and hand-computed rankings. */
static void
test_auc(void)
{
	const double s1[] = {0.9, 0.1, 0.8, 0.3};
	const double l1[] = {1, 0, 1, 0};
	const double s2[] = {0.1, 0.9, 0.2, 0.7};
	const double s3[] = {0.5, 0.5, 0.5, 0.5};
	/* positives 0.8, 0.4; negatives 0.4, 0.2: (1 + 1 + 0.5 + 1) / 4 */
	const double s4[] = {0.8, 0.4, 0.4, 0.2};
	const double l4[] = {1, 1, 0, 0};
	/* 3 positives, 2 negatives, one inversion: 5 of 6 pairs */
	const double s5[] = {0.9, 0.6, 0.7, 0.3, 0.2};
	const double l5[] = {1, 0, 1, 1, 0};
	const double l_one[] = {1, 1, 1, 1};

	CHECK(auc_of(s1, l1, 4) == 1.0, "perfect %g", auc_of(s1, l1, 4));
	CHECK(auc_of(s2, l1, 4) == 0.0, "reversed %g", auc_of(s2, l1, 4));
	CHECK(auc_of(s3, l1, 4) == 0.5, "tied %g", auc_of(s3, l1, 4));
	CHECK(auc_of(s4, l4, 4) == 0.875, "with a tie %g", auc_of(s4, l4, 4));
	CHECK(fabs(auc_of(s5, l5, 5) - 5.0 / 6.0) < 1e-12, "hand case %g", auc_of(s5, l5, 5));
	CHECK(isnan(auc_of(s1, l_one, 4)), "one class gives NaN");
	{
		/* NaN scores equal nothing, themselves included: each is its own run. */
		const double s_nan[] = {NAN, 0.9, NAN, 0.1};

		auc_of(s_nan, l1, 4);
		CHECK(true, "an AUC over NaN scores returns");
	}
	CHECK(isnan(auc_of(s1, l1, 0)), "no rows gives NaN");
}

/* A fractional label counts as part positive, part negative. */
static void
test_auc_fractional(void)
{
	const double s[] = {0.9, 0.5, 0.1};
	const double l[] = {1.0, 0.5, 0.0};
	const double s_split[] = {0.9, 0.5, 0.5, 0.1};
	const double l_split[] = {1.0, 1.0, 0.0, 0.0};

	/* Same pairs as splitting the middle example, apart from its self-pair. */
	CHECK(fabs(auc_of(s, l, 3) - 2.125 / 2.25) < 1e-12, "fractional %g", auc_of(s, l, 3));
	CHECK(auc_of(s_split, l_split, 4) == 0.875, "split %g", auc_of(s_split, l_split, 4));
}

static uint64_t
next_random(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return *state >> 11;
}

/*
 * Many items, negative scores, ties and repeats: the radix-sorted AUC equals
 * the Mann-Whitney count by brute force over a grid of scores.
 */
static void
test_auc_large(void)
{
	enum
	{
		N = 200000, LEVELS = 2001
	};
	ScoredLabel *items = malloc(N * sizeof(ScoredLabel));
	double	   *pos = calloc(LEVELS, sizeof(double));
	double	   *neg = calloc(LEVELS, sizeof(double));
	uint64_t	rng = 5;
	double		wins = 0,
				neg_below = 0,
				pos_total = 0,
				neg_total = 0,
				auc;

	for (size_t i = 0; i < N; i++)
	{
		int			level = (int) (next_random(&rng) % LEVELS);
		double		label = (next_random(&rng) % 1000) < (uint64_t) level / 2 ? 1.0 : 0.0;

		/* Scores from -1 to 1 in steps of 0.001, so many tie. */
		items[i] = (ScoredLabel) {(level - 1000) / 1000.0, label};
		pos[level] += label;
		neg[level] += 1 - label;
	}
	for (int l = 0; l < LEVELS; l++)
	{
		wins += pos[l] * (neg_below + 0.5 * neg[l]);
		neg_below += neg[l];
		pos_total += pos[l];
		neg_total += neg[l];
	}
	auc = metrics_auc(items, N);
	CHECK(fabs(auc - wins / (pos_total * neg_total)) < 1e-12, "radix AUC %.15f, reference %.15f",
		  auc, wins / (pos_total * neg_total));
	for (size_t i = 1; i < N; i++)
		if (items[i - 1].score > items[i].score)
		{
			CHECK(false, "items not sorted at %zu", i);
			break;
		}
	free(items);
	free(pos);
	free(neg);
}

/*
 * Runs sorted apart and merged, as a pass that spills does: the sweep over
 * the merge gives metrics_auc's answer (up to the order of additions within
 * a tie), ties split across runs too.
 */
static void
test_auc_sweep_of_runs(void)
{
	enum
	{
		N = 50000, RUNS = 7
	};
	ScoredLabel *items = malloc(N * sizeof(ScoredLabel));
	ScoredLabel *all = malloc(N * sizeof(ScoredLabel));
	size_t		begin[RUNS + 1];
	size_t		at[RUNS];
	uint64_t	rng = 11;
	AucSweep	sweep;
	double		merged;

	for (size_t i = 0; i < N; i++)
		items[i] = all[i] = (ScoredLabel) {(double) (next_random(&rng) % 300) / 300.0,
		(next_random(&rng) % 4) / 3.0};
	for (int r = 0; r <= RUNS; r++)
		begin[r] = (size_t) N * r / RUNS;
	for (int r = 0; r < RUNS; r++)
	{
		metrics_sort_by_score(items + begin[r], begin[r + 1] - begin[r]);
		at[r] = begin[r];
	}
	metrics_auc_sweep_init(&sweep);
	for (size_t k = 0; k < N; k++)
	{
		int			best = -1;

		for (int r = 0; r < RUNS; r++)
			if (at[r] < begin[r + 1] &&
				(best < 0 || items[at[r]].score < items[at[best]].score))
				best = r;
		metrics_auc_sweep_add(&sweep, items[at[best]].score, items[at[best]].label);
		at[best]++;
	}
	merged = metrics_auc_sweep_end(&sweep);
	CHECK(fabs(merged - metrics_auc(all, N)) < 1e-12, "merged runs %.17g, whole %.17g", merged,
		  metrics_auc(all, N));
	free(items);
	free(all);
}

/*
 * The binned AUC: exact where no bin mixes classes or where all scores sit
 * on bin edges, and near the exact one for scores spread over [0, 1].
 */
static void
test_auc_of_bins(void)
{
	enum
	{
		N = 200000
	};
	static double pos[METRICS_AUC_BINS];
	static double neg[METRICS_AUC_BINS];
	ScoredLabel *items = malloc(sizeof(ScoredLabel) * N);
	uint64_t	rng = 11;
	double		binned;
	double		exact;

	memset(pos, 0, sizeof(pos));
	memset(neg, 0, sizeof(neg));
	for (size_t i = 0; i < N; i++)
	{
		/* Positives a little higher: an AUC near 0.75. */
		double		label = next_random(&rng) % 2;
		double		p = ((double) (next_random(&rng) % 1000000) / 1e6 + 0.3 * label) / 1.3;

		items[i] = (ScoredLabel) {p, label};
		pos[metrics_auc_bin(p)] += label;
		neg[metrics_auc_bin(p)] += 1 - label;
	}
	binned = metrics_auc_of_bins(pos, neg);
	exact = metrics_auc(items, N);
	CHECK(fabs(binned - exact) < 1.0 / METRICS_AUC_BINS, "binned %.6f, exact %.6f", binned, exact);
	CHECK(exact > 0.7 && exact < 0.8, "the case's AUC %.3f", exact);

	/* Scores on bin edges are in bins of their own: exact, ties and all. */
	memset(pos, 0, sizeof(pos));
	memset(neg, 0, sizeof(neg));
	for (size_t i = 0; i < N; i++)
	{
		double		label = next_random(&rng) % 3 == 0;
		double		p = (double) (next_random(&rng) % 64 + 16 * label) / METRICS_AUC_BINS;

		items[i] = (ScoredLabel) {p, label};
		pos[metrics_auc_bin(p)] += label;
		neg[metrics_auc_bin(p)] += 1 - label;
	}
	binned = metrics_auc_of_bins(pos, neg);
	exact = metrics_auc(items, N);
	CHECK(fabs(binned - exact) < 1e-12, "on edges: binned %.12f, exact %.12f", binned, exact);

	CHECK(metrics_auc_bin(-1) == 0 && metrics_auc_bin(NAN) == 0, "low and NaN clamp to bin 0");
	CHECK(metrics_auc_bin(1) == METRICS_AUC_BINS - 1 && metrics_auc_bin(7) == METRICS_AUC_BINS - 1,
		  "1 and above clamp to the last bin");
	memset(pos, 0, sizeof(pos));
	memset(neg, 0, sizeof(neg));
	pos[3] = 1;
	CHECK(isnan(metrics_auc_of_bins(pos, neg)), "one class gives NaN");
	free(items);
}

/* Log loss at known points and clamped at the ends. */
static void
test_log_loss(void)
{
	CHECK(fabs(metrics_log_loss(0.5, 1) - log(2)) < 1e-12, "0.5 vs 1");
	CHECK(fabs(metrics_log_loss(0.9, 0) + log(0.1)) < 1e-12, "0.9 vs 0");
	CHECK(metrics_log_loss(1.0, 1) < 1e-12, "certain and right");
	CHECK(isfinite(metrics_log_loss(1.0, 0)), "certain and wrong stays finite");
	CHECK(fabs(metrics_log_loss(0.25, 0.5) - 0.5 * (-log(0.25) - log(0.75))) < 1e-12, "soft label");
}

int
main(void)
{
	test_auc();
	test_auc_fractional();
	test_auc_large();
	test_auc_sweep_of_runs();
	test_auc_of_bins();
	test_log_loss();
	return unit_finish("test_metrics");
}
