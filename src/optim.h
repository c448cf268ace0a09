/*
 * optim.h
 *		Optimizer steps on one parameter and its state.
 */
#ifndef MONOLITH_OPTIM_H
#define MONOLITH_OPTIM_H

#include <math.h>

/* Added under the square root so the first steps stay finite. */
#define ADAGRAD_EPSILON 1e-6f

/* Adagrad: the step shrinks with the square root of squared gradients seen. */
static inline void
adagrad_step(float *param, float *accumulator, float grad, float learning_rate)
{
	float		acc = *accumulator + grad * grad;

	*accumulator = acc;
	*param -= learning_rate * grad / sqrtf(acc + ADAGRAD_EPSILON);
}

#endif							/* MONOLITH_OPTIM_H */
