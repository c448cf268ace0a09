/*
 * env.h
 *		How the plain-C core reaches memory and locks.
 *
 * The core never includes PostgreSQL headers.  Whoever owns the memory (a
 * PostgreSQL DSA area, or malloc in the unit tests and benchmarks) hands the
 * core a CoreEnv: allocations are named by 64-bit handles, never by raw
 * pointers, so structures that live in shared memory stay valid in every
 * process that maps them at a different address.
 */
#ifndef MONOLITH_ENV_H
#define MONOLITH_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A handle to an allocation; 0 is never a valid allocation. */
typedef uint64_t MemHandle;

struct CuckooView;

typedef struct CoreEnv
{
	void	   *mem_ctx;
	/* Handles are this process's addresses, so address() need not be called. */
	bool		direct;
	/* Zeroed memory of size bytes, or 0 when the memory cap forbids it. */
	MemHandle	(*alloc) (void *mem_ctx, size_t size);
	/* Frees an allocation; size is what alloc was asked for. */
	void		(*free) (void *mem_ctx, MemHandle handle, size_t size);
	/* This process's address of an allocation. */
	void	   *(*address) (void *mem_ctx, MemHandle handle);

	void	   *lock_ctx;
	/* Locks are numbered per object; see the lock ids in cuckoo.h. */
	void		(*lock) (void *lock_ctx, uint32_t lock_id, bool exclusive);
	void		(*unlock) (void *lock_ctx, uint32_t lock_id);

	/* Where handles are not addresses: this process's cache of one table's. */
	struct CuckooView *view;

	/*
	 * Optional (NULL: none), reads without the table lock, as under a
	 * sequence lock: a writer is whoever holds the table lock exclusive.
	 * read_begin gives a token, or false while a writer is at work; read_end
	 * says whether no writer has come since the token was given.  An env that
	 * offers them keeps memory that others free readable by this process
	 * until it next calls alloc, free or address itself, as a DSA area keeps
	 * its segments mapped: an unlocked read may still be looking at it.
	 */
	bool		(*read_begin) (void *lock_ctx, uint64_t *token);
	bool		(*read_end) (void *lock_ctx, uint64_t token);

	/*
	 * Optional (NULL: none), called between the bounded pieces of a long
	 * operation, with no lock of the core's held and its structures whole:
	 * the env may check for a cancel there, and need not return.
	 */
	void		(*between_pieces) (void *lock_ctx);
} CoreEnv;

/* This process's address of an allocation; inline where handles are addresses. */
static inline void *
env_address(const CoreEnv *env, MemHandle handle)
{
	return env->direct ? (void *) (uintptr_t) handle : env->address(env->mem_ctx, handle);
}

#endif							/* MONOLITH_ENV_H */
