/*
 * heap_env.h
 *		A CoreEnv on malloc and spinning reader-writer locks, for the core's
 *		unit tests and benchmarks outside PostgreSQL, with an optional byte cap.
 *		The locks cost what an uncontended LWLock does (one atomic to take,
 *		one to release), so benchmarks see the server's locking cost.
 */
#ifndef MONOLITH_HEAP_ENV_H
#define MONOLITH_HEAP_ENV_H

#include "../src/env.h"

typedef struct HeapEnv
{
	CoreEnv		env;
	size_t		cap;			/* 0 = unlimited */
	size_t		used;
	uint32_t	n_locks;
	uint32_t   *locks;			/* HEAP_LOCK_WRITER | number of readers */
} HeapEnv;

extern void heap_env_init(HeapEnv *h, uint32_t n_locks, size_t cap);
extern void heap_env_use_view(HeapEnv *h);
extern void heap_env_free(HeapEnv *h);

#endif							/* MONOLITH_HEAP_ENV_H */
