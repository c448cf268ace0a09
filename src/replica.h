/*
 * replica.h
 *		A serving replica of a trainer (see replica.c).
 */
#ifndef MONOLITH_REPLICA_H
#define MONOLITH_REPLICA_H

#include "shmem.h"

/* monolith.role: what this server does with its models. */
typedef enum MonolithRole
{
	MONOLITH_ROLE_TRAINER,
	MONOLITH_ROLE_REPLICA
} MonolithRole;

extern int	monolith_role;

extern void require_trainer(const char *name);
extern void require_ready(const ModelHandle *h);
extern void replica_reset(ModelHandle *h, const ModelDef *def);
extern bool replica_rebuild(int64 model_id);
extern int	replica_models_to_rebuild(int64 *ids, int max);

#endif							/* MONOLITH_REPLICA_H */
