/*
 * shmem.h
 *		The extension's shared memory: a registry of live models and the DSA
 *		area that holds their tables.
 */
#ifndef MONOLITH_SHMEM_H
#define MONOLITH_SHMEM_H

#include "postgres.h"

#include "model.h"

#define MONOLITH_MAX_SLOTS 255
StaticAssertDecl(MONOLITH_MAX_SLOTS <= MODEL_MAX_SLOTS, "the core takes a model's every slot");
/* Model ids start at 1; this stands for every model of a database. */
#define MODEL_ID_ALL 0

/* A model's definition, as stored in monolith.model_definitions. */
typedef struct ModelDef
{
	int64		id;
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
} ModelDef;

/* A backend's handle on a model's shared state. */
typedef struct ModelHandle
{
	ModelDef	def;
	int			registry_index;
	uint32		generation;
	Model	   *model;			/* this backend's address of the state */
	CoreEnv		env;
	CuckooView	view;			/* this backend's addresses of the table */
	ModelSnapshot snapshot;		/* for predictions without the table lock */
} ModelHandle;

/* Figures of one live model, for monolith.models. */
typedef struct ModelStats
{
	int64		model_id;
	uint64		ids;
	uint64		memory_bytes;
	uint64		examples;
	uint64		evicted;
} ModelStats;

extern int	monolith_max_memory_mb;
extern int	monolith_max_models;

extern void model_config_from_def(ModelConfig *config, const ModelDef *def);
extern void shmem_install_hooks(void);
extern void shmem_require(void);
extern void shmem_assign_max_memory(int newval, void *extra);
extern void shmem_open_model(ModelHandle *handle, const ModelDef *def);
extern void shmem_release_model(Oid dboid, int64 model_id);
extern int	shmem_collect_stats(Oid dboid, ModelStats *out, int max);

#endif							/* MONOLITH_SHMEM_H */
