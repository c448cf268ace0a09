/*
 * heap_env.h
 *		A CoreEnv on malloc and spinning reader-writer locks, for the core's
 *		unit tests and benchmarks outside PostgreSQL, with an optional byte cap.
 *		The locks cost what an uncontended LWLock does (one atomic to take,
 *		one to release), so benchmarks see the server's locking cost.  On
 *		request it offers, as the server's does, reads without the table lock
 *		(a sequence lock on its exclusive holders), and then keeps freed
 *		blocks readable, handing them back to malloc only when the env itself
 *		is freed; otherwise it frees at once, for AddressSanitizer to catch
 *		any use of a stale address.
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
	uint32_t	write_seq;		/* odd while the table lock is held exclusive */
	bool		keep_freed;
	size_t	   *freed;			/* blocks kept, linked through block[1] */
} HeapEnv;

extern void heap_env_init(HeapEnv *h, uint32_t n_locks, size_t cap);
extern void heap_env_use_view(HeapEnv *h);
extern void heap_env_allow_unlocked_reads(HeapEnv *h);
extern void heap_env_free(HeapEnv *h);

#endif							/* MONOLITH_HEAP_ENV_H */
