/*
 * worker.h
 *		The extension's background workers: a launcher, and a worker for
 *		each database that has timed work for it.
 */
#ifndef MONOLITH_WORKER_H
#define MONOLITH_WORKER_H

#include "postgres.h"

/* Time between a database worker's rounds of work (monolith.joiner_naptime). */
extern int	monolith_joiner_naptime_ms;

extern void worker_install_hooks(void);
extern void worker_register_launcher(void);
extern bool worker_request(Oid database);
extern void worker_request_at_commit(void);
extern void worker_stop_for_drop(Oid database);

#endif							/* MONOLITH_WORKER_H */
