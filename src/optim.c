/*
 * optim.c
 *		SGD, Adagrad, FTRL-proximal and Adam steps; see optim.h.
 */
#include "optim.h"

#include <math.h>
#include <string.h>

static const char *const optim_names[OPTIM_N_KINDS] = {"sgd", "adagrad", "ftrl", "adam"};

/* State floats for n parameters: Adam adds one step count for the vector. */
uint32_t
optim_state_floats(OptimizerKind kind, uint32_t n)
{
	switch (kind)
	{
		case OPTIM_SGD:
			return 0;
		case OPTIM_ADAGRAD:
			return n;
		case OPTIM_FTRL:
			return 2 * n;
		case OPTIM_ADAM:
			return 2 * n + 1;
	}
	return 0;
}

const char *
optim_name(OptimizerKind kind)
{
	return optim_names[kind];
}

/* The kind named name, or -1. */
int
optim_kind_from_name(const char *name)
{
	for (int k = 0; k < OPTIM_N_KINDS; k++)
		if (strcmp(name, optim_names[k]) == 0)
			return k;
	return -1;
}

/*
 * FTRL-proximal (McMahan et al., 2013) with beta = 0, state z then n.  The
 * weight is stored too, so that a random initial embedding carries into z
 * through the sigma * w term rather than being reset to zero.
 */
static void
ftrl_step(const Optimizer *opt, float *restrict param, float *restrict state,
		  const float *restrict grad, uint32_t n)
{
	float	   *z = state;
	float	   *sq = state + n;
	float		alpha = opt->learning_rate;
	float		l1 = opt->l1;
	float		l2 = opt->l2;

	for (uint32_t i = 0; i < n; i++)
	{
		float		g = grad[i];
		float		sq_new = sq[i] + g * g;
		float		root_new;

		if (sq_new == 0)
			continue;
		root_new = sqrtf(sq_new);
		z[i] += g - (root_new - sqrtf(sq[i])) / alpha * param[i];
		sq[i] = sq_new;
		if (fabsf(z[i]) <= l1)
			param[i] = 0;
		else
			param[i] = -(z[i] - copysignf(l1, z[i])) / (root_new / alpha + l2);
	}
}

/* Adam with bias correction; the step count is the state's last float. */
static void
adam_step(const Optimizer *opt, float *restrict param, float *restrict state,
		  const float *restrict grad, uint32_t n)
{
	float	   *m = state;
	float	   *v = state + n;
	float		t = state[2 * n] + 1;
	float		rate = opt->learning_rate * sqrtf(1 - powf(ADAM_BETA2, t)) /
		(1 - powf(ADAM_BETA1, t));
	float		l2 = opt->l2;

	state[2 * n] = t;
	for (uint32_t i = 0; i < n; i++)
	{
		float		g = grad[i] + l2 * param[i];

		m[i] = ADAM_BETA1 * m[i] + (1 - ADAM_BETA1) * g;
		v[i] = ADAM_BETA2 * v[i] + (1 - ADAM_BETA2) * g * g;
		param[i] -= rate * m[i] / (sqrtf(v[i]) + ADAM_EPSILON);
	}
}

/*
 * One step of opt on param[0..n) given its gradient.  The three arrays never
 * overlap; restrict lets their loops vectorize without checking.
 */
void
optim_step(const Optimizer *opt, float *restrict param, float *restrict state,
		   const float *restrict grad, uint32_t n)
{
	float		lr = opt->learning_rate;
	float		l2 = opt->l2;

	switch (opt->kind)
	{
		case OPTIM_SGD:
			for (uint32_t i = 0; i < n; i++)
				param[i] -= lr * (grad[i] + l2 * param[i]);
			break;
		case OPTIM_ADAGRAD:
			/* The step shrinks with the square root of squared gradients seen. */
			for (uint32_t i = 0; i < n; i++)
			{
				float		g = grad[i] + l2 * param[i];
				float		acc = state[i] + g * g;

				state[i] = acc;
				param[i] -= lr * g / sqrtf(acc + ADAGRAD_EPSILON);
			}
			break;
		case OPTIM_FTRL:
			ftrl_step(opt, param, state, grad, n);
			break;
		case OPTIM_ADAM:
			adam_step(opt, param, state, grad, n);
			break;
	}
}
