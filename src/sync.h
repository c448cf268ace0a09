/*
 * sync.h
 *		The trainer's side of the parameter sync (see sync.c).
 */
#ifndef MONOLITH_SYNC_H
#define MONOLITH_SYNC_H

#include "postgres.h"

#include "shmem.h"

/* Time between rounds (monolith.sync_interval; 0: no sync), and between dense parts. */
extern int	monolith_sync_interval_ms;
extern int	monolith_dense_sync_interval_ms;

extern bool sync_installed(void);
extern bool sync_ship_model(int64 model_id);
extern void sync_after_transaction(int64 model_id, bool committed);
extern void sync_forget_dropped(void);
extern int	visible_live_stats(ModelStats **out);
extern Datum interval_of(int64 usecs);

#endif							/* MONOLITH_SYNC_H */
