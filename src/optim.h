/*
 * optim.h
 *		Optimizers: one step on a vector of parameters and its state.
 *
 * Every optimizer keeps its state as floats beside the parameters it
 * updates, optim_state_floats() of them for a vector of n, so the same code
 * serves an entry's first-order weight, its embedding and a model's dense
 * weights.  A state of all zeros is the fresh state of every optimizer.
 */
#ifndef MONOLITH_OPTIM_H
#define MONOLITH_OPTIM_H

#include <stdint.h>

typedef enum OptimizerKind
{
	OPTIM_SGD,
	OPTIM_ADAGRAD,
	OPTIM_FTRL,
	OPTIM_ADAM
} OptimizerKind;

#define OPTIM_N_KINDS 4

typedef struct Optimizer
{
	OptimizerKind kind;
	float		learning_rate;
	float		l1;				/* FTRL only: drives small weights to zero */
	float		l2;				/* every optimizer: weight decay */
} Optimizer;

/* Added under Adagrad's square root so the first steps stay finite. */
#define ADAGRAD_EPSILON 1e-6f
#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPSILON 1e-8f

extern uint32_t optim_state_floats(OptimizerKind kind, uint32_t n);
extern void optim_step(const Optimizer *opt, float *restrict param, float *restrict state,
					   const float *restrict grad, uint32_t n);
extern const char *optim_name(OptimizerKind kind);
extern int	optim_kind_from_name(const char *name);

#endif							/* MONOLITH_OPTIM_H */
