/*
 * restore.h
 *		A trainer's model restored from its snapshots and the sync's rows
 *		(see restore.c).
 */
#ifndef MONOLITH_RESTORE_H
#define MONOLITH_RESTORE_H

#include "shmem.h"
#include "snapshot.h"

extern uint64 restore_model(ModelHandle *h, const SnapshotFile *only);
extern int	restore_list_models(int64 *ids, int max);
extern bool restore_model_by_id(int64 id);

#endif							/* MONOLITH_RESTORE_H */
