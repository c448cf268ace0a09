/*
 * heap_env.h
 *		A CoreEnv on malloc and pthread locks, for the core's unit tests and
 *		benchmarks outside PostgreSQL, with an optional byte cap.
 */
#ifndef MONOLITH_HEAP_ENV_H
#define MONOLITH_HEAP_ENV_H

#include <pthread.h>

#include "../src/env.h"

typedef struct HeapEnv
{
	CoreEnv		env;
	size_t		cap;			/* 0 = unlimited */
	size_t		used;
	uint32_t	n_locks;
	pthread_rwlock_t *locks;
} HeapEnv;

extern void heap_env_init(HeapEnv *h, uint32_t n_locks, size_t cap);
extern void heap_env_free(HeapEnv *h);

#endif							/* MONOLITH_HEAP_ENV_H */
