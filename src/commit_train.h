/*
 * commit_train.h
 *		Examples captured inside a transaction that train their model when,
 *		and only when, the transaction commits.
 */
#ifndef MONOLITH_COMMIT_TRAIN_H
#define MONOLITH_COMMIT_TRAIN_H

#include "shmem.h"

/* A model that this transaction captures examples for. */
typedef struct CommitTarget CommitTarget;

extern void commit_train_install_callbacks(void);
extern CommitTarget *commit_train_target(const ModelDef *def);
extern void commit_train_add(CommitTarget *target, const Example *ex, double label);

#endif							/* MONOLITH_COMMIT_TRAIN_H */
