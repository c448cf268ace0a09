/*
 * modeldef.h
 *		A model's definition: one row of monolith.model_definitions, its
 *		columns described once, its checks, and the core's configurations
 *		that it gives.
 */
#ifndef MONOLITH_MODELDEF_H
#define MONOLITH_MODELDEF_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/acl.h"

#include "model.h"

/*
 * Inputs (slots and numeric features) a model may take: monolith.train
 * passes the model, the label and one argument per input, and a function
 * takes at most FUNC_MAX_ARGS arguments.
 */
#define MONOLITH_MAX_INPUTS (FUNC_MAX_ARGS - 2)
StaticAssertDecl(MONOLITH_MAX_INPUTS <= MODEL_MAX_SLOTS, "the core takes a model's every slot");

/* A model's definition, as stored in monolith.model_definitions. */
typedef struct ModelDef
{
	int64		id;
	Oid			extension;		/* the installation of monolith the row is of */
	Oid			owner;
	Acl		   *acl;			/* privileges granted to others than the owner */
	char		name[NAMEDATALEN];
	int			n_slots;
	char	  **slot_names;
	int			n_numeric;
	char	  **numeric_names;
	int			dim;
	int			n_layers;
	int			hidden[MODEL_MAX_LAYERS];
	double		learning_rate;
	int			min_count;
	double		admit_probability;
	int64		seed;
	int			optimizer;		/* OptimizerKind of the embeddings */
	int			weight_optimizer;	/* of first-order weights and the bias */
	int			dense_optimizer;	/* of numeric weights and the tower */
	double		dense_learning_rate;
	double		l1;
	double		l2;
	double		negative_sample_rate;
	int64		hash_rows;
	Interval	ttl;			/* IDs unseen this long expire (by the worker); 0: never */
	int			n_slot_ttl;		/* 0, or one for each slot */
	Interval   *slot_ttl;		/* a slot's own ttl; 0: the model's */
} ModelDef;

/*
 * The columns that define a model, in the order of create_model's
 * arguments, which bear their names.
 */
typedef enum DefColumn
{
	DEF_NAME, DEF_SLOTS, DEF_DIM, DEF_LEARNING_RATE, DEF_MIN_COUNT,
	DEF_ADMIT_PROBABILITY, DEF_SEED, DEF_NUMERIC_FEATURES, DEF_HIDDEN,
	DEF_OPTIMIZER, DEF_WEIGHT_OPTIMIZER, DEF_DENSE_OPTIMIZER,
	DEF_DENSE_LEARNING_RATE, DEF_L1, DEF_L2, DEF_NEGATIVE_SAMPLE_RATE,
	DEF_HASH_ROWS, DEF_TTL, DEF_SLOT_TTL, DEF_N_COLUMNS
} DefColumn;

extern const char *modeldef_column_name(int column);
extern const char *modeldef_column_default(int column);
extern bool modeldef_is_default(const ModelDef *def, int column);
extern Oid	modeldef_column_type(int column);
extern void modeldef_set(ModelDef *def, int column, Datum value);
extern Datum modeldef_get(const ModelDef *def, int column);
extern void modeldef_set_name(ModelDef *def, text *name);
extern void modeldef_from_args(FunctionCallInfo fcinfo, ModelDef *def);
extern void modeldef_validate(const ModelDef *def);
extern int64 modeldef_interval_seconds(const Interval *i);

extern void model_config_from_def(ModelConfig *config, const ModelDef *def);
extern void table_config_from_def(CuckooConfig *config, const ModelDef *def);

#endif							/* MONOLITH_MODELDEF_H */
