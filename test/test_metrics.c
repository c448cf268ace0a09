/*
 * test_metrics.c
 *		Unit tests of ROC AUC and log loss.
 */
#include <math.h>

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
	test_log_loss();
	return unit_finish("test_metrics");
}
