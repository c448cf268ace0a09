/*
 * test_optim.c
 *		Unit tests of the optimizers: hand-computed first steps, convergence on
 *		a quadratic, FTRL's exact zeros under L1, and state sizes.
 */
#include <math.h>
#include <string.h>

#include "../src/optim.h"
#include "unit.h"

/* Minimizes (w - target)^2 / 2 from w = 0 over steps; returns w. */
static float
minimize(Optimizer opt, float target, int steps)
{
	float		w = 0;
	float		state[3] = {0};

	for (int i = 0; i < steps; i++)
	{
		float		g = w - target;

		optim_step(&opt, &w, state, &g, 1);
	}
	return w;
}

static void
test_first_steps(void)
{
	Optimizer	sgd = {OPTIM_SGD, 0.1f, 0, 0};
	Optimizer	sgd_l2 = {OPTIM_SGD, 0.1f, 0, 0.5f};
	Optimizer	adagrad = {OPTIM_ADAGRAD, 0.1f, 0, 0};
	Optimizer	adam = {OPTIM_ADAM, 0.01f, 0, 0};
	Optimizer	ftrl = {OPTIM_FTRL, 0.1f, 0, 0};
	float		p,
				g = 0.5f,
				state[3];

	p = 1;
	optim_step(&sgd, &p, NULL, &g, 1);
	CHECK(fabsf(p - 0.95f) < 1e-7f, "sgd %g", p);
	p = 1;
	optim_step(&sgd_l2, &p, NULL, &g, 1);
	CHECK(fabsf(p - 0.9f) < 1e-7f, "sgd with l2 %g", p);

	p = 1;
	memset(state, 0, sizeof(state));
	optim_step(&adagrad, &p, state, &g, 1);
	CHECK(fabsf(state[0] - 0.25f) < 1e-7f && fabsf(p - (1 - 0.1f * 0.5f / sqrtf(0.25f + ADAGRAD_EPSILON))) < 1e-6f,
		  "adagrad %g acc %g", p, state[0]);

	/* Adam's bias-corrected first step is the learning rate, against the gradient. */
	p = 1;
	memset(state, 0, sizeof(state));
	optim_step(&adam, &p, state, &g, 1);
	CHECK(fabsf(p - 0.99f) < 1e-5f && state[2] == 1, "adam %g after %g steps", p, state[2]);

	/* FTRL without regularisation keeps the starting weight and steps like Adagrad. */
	p = 1;
	memset(state, 0, sizeof(state));
	optim_step(&ftrl, &p, state, &g, 1);
	CHECK(fabsf(p - 0.9f) < 1e-5f, "ftrl %g", p);
	g = 0;
	p = 0.3f;
	memset(state, 0, sizeof(state));
	optim_step(&ftrl, &p, state, &g, 1);
	CHECK(p == 0.3f, "ftrl with no gradient yet leaves the weight (%g)", p);
}

/* Each optimizer finds the minimum of a quadratic. */
static void
test_converges(void)
{
	for (int k = 0; k < OPTIM_N_KINDS; k++)
	{
		Optimizer	opt = {(OptimizerKind) k, k == OPTIM_SGD ? 0.1f : 0.5f, 0, 0};
		float		w = minimize(opt, 3.0f, 5000);

		CHECK(fabsf(w - 3.0f) < 0.01f, "%s ends at %g", optim_name(opt.kind), w);
	}
}

/*
 * FTRL's L1 keeps a weight at exactly zero until the gradients summed over its
 * steps outweigh l1; its L2 damps each step.  Adagrad's L2 decays every step,
 * so it moves the optimum.
 */
static void
test_regularisation(void)
{
	Optimizer	ftrl_l1 = {OPTIM_FTRL, 0.5f, 10.0f, 0};
	Optimizer	ftrl = {OPTIM_FTRL, 0.5f, 0, 0};
	Optimizer	ftrl_l2 = {OPTIM_FTRL, 0.5f, 0, 1.0f};
	Optimizer	adagrad_l2 = {OPTIM_ADAGRAD, 0.5f, 0, 1.0f};
	float		w;

	/* Gradient -0.5 a step from w = 0: |z| reaches l1 = 10 after 20 steps. */
	w = minimize(ftrl_l1, 0.5f, 20);
	CHECK(w == 0, "ftrl l1 keeps weak evidence at exactly zero (%g)", w);
	w = minimize(ftrl_l1, 0.5f, 21);
	CHECK(w > 0, "ftrl l1 lets the weight move once the evidence passes l1 (%g)", w);
	w = minimize(ftrl_l1, 3.0f, 5000);
	CHECK(fabsf(w - 3.0f) < 0.05f, "ftrl l1 still finds a strong weight (%g)", w);
	CHECK(minimize(ftrl_l2, 3.0f, 1) < minimize(ftrl, 3.0f, 1), "ftrl l2 damps the first step");
	/* argmin (w - 3)^2 / 2 + w^2 / 2 = 1.5 */
	w = minimize(adagrad_l2, 3.0f, 5000);
	CHECK(fabsf(w - 1.5f) < 0.02f, "adagrad l2 %g", w);
}

static void
test_names_and_sizes(void)
{
	CHECK(optim_state_floats(OPTIM_SGD, 16) == 0, "sgd state");
	CHECK(optim_state_floats(OPTIM_ADAGRAD, 16) == 16, "adagrad state");
	CHECK(optim_state_floats(OPTIM_FTRL, 16) == 32, "ftrl state");
	CHECK(optim_state_floats(OPTIM_ADAM, 16) == 33, "adam state");
	for (int k = 0; k < OPTIM_N_KINDS; k++)
		CHECK(optim_kind_from_name(optim_name((OptimizerKind) k)) == k, "name round trip %d", k);
	CHECK(optim_kind_from_name("rmsprop") == -1, "unknown name");
}

int
main(void)
{
	test_first_steps();
	test_converges();
	test_regularisation();
	test_names_and_sizes();
	return unit_finish("test_optim");
}
