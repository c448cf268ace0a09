/*
 * heap_env.c
 *		malloc-backed CoreEnv; a size header per block keeps the cap exact.
 */
#include "heap_env.h"

#include "../src/cuckoo.h"

#include <sched.h>
#include <stdlib.h>

#define HEAP_LOCK_WRITER 0x80000000u

static MemHandle
heap_alloc(void *ctx, size_t size)
{
	HeapEnv    *h = ctx;
	size_t	   *block;

	if (h->cap != 0 && __atomic_load_n(&h->used, __ATOMIC_RELAXED) + size > h->cap)
		return 0;
	block = calloc(1, size + 16);
	if (block == NULL)
		return 0;
	block[0] = size;
	__atomic_add_fetch(&h->used, size, __ATOMIC_RELAXED);
	return (MemHandle) (uintptr_t) ((char *) block + 16);
}

/* Frees a block, or with keep_freed counts it freed and keeps it readable. */
static void
heap_release(void *ctx, MemHandle handle, size_t size)
{
	HeapEnv    *h = ctx;
	size_t	   *block = (size_t *) ((char *) (uintptr_t) handle - 16);
	size_t	   *head = __atomic_load_n(&h->freed, __ATOMIC_RELAXED);

	/* The PostgreSQL env counts the cap by the sizes given here: they must be right. */
	if (size != block[0])
		abort();

	__atomic_sub_fetch(&h->used, block[0], __ATOMIC_RELAXED);
	if (!h->keep_freed)
	{
		free(block);
		return;
	}
	do
		block[1] = (size_t) (uintptr_t) head;
	while (!__atomic_compare_exchange_n(&h->freed, &head, block, true,
										__ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

static void *
heap_address(void *ctx, MemHandle handle)
{
	(void) ctx;
	return (void *) (uintptr_t) handle;
}

static void
heap_lock(void *ctx, uint32_t id, bool exclusive)
{
	uint32_t   *lock = &((HeapEnv *) ctx)->locks[id];

	for (;;)
	{
		if (exclusive)
		{
			uint32_t	free_state = 0;

			if (__atomic_compare_exchange_n(lock, &free_state, HEAP_LOCK_WRITER, false,
											__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			{
				if (id == CK_LOCK_TABLE)
				{
					/* Seen odd before anything written under the lock. */
					__atomic_store_n(&((HeapEnv *) ctx)->write_seq,
									 ((HeapEnv *) ctx)->write_seq | 1, __ATOMIC_RELAXED);
					__atomic_thread_fence(__ATOMIC_SEQ_CST);
				}
				return;
			}
		}
		else
		{
			/* Optimistically count in as a reader; back out if a writer holds it. */
			if (!(__atomic_fetch_add(lock, 1, __ATOMIC_ACQUIRE) & HEAP_LOCK_WRITER))
				return;
			__atomic_fetch_sub(lock, 1, __ATOMIC_RELAXED);
		}
		sched_yield();
	}
}

static void
heap_unlock(void *ctx, uint32_t id)
{
	uint32_t   *lock = &((HeapEnv *) ctx)->locks[id];

	if (__atomic_load_n(lock, __ATOMIC_RELAXED) & HEAP_LOCK_WRITER)
	{
		if (id == CK_LOCK_TABLE)
			__atomic_store_n(&((HeapEnv *) ctx)->write_seq,
							 ((HeapEnv *) ctx)->write_seq + 1, __ATOMIC_RELEASE);
		__atomic_fetch_and(lock, ~HEAP_LOCK_WRITER, __ATOMIC_RELEASE);
	}
	else
		__atomic_fetch_sub(lock, 1, __ATOMIC_RELEASE);
}

/* A token for an unlocked read, unless the table lock is held exclusive. */
static bool
heap_read_begin(void *ctx, uint64_t *token)
{
	uint32_t	seq = __atomic_load_n(&((HeapEnv *) ctx)->write_seq, __ATOMIC_ACQUIRE);

	*token = seq;
	return (seq & 1) == 0;
}

/* Whether nobody took the table lock exclusive since the token. */
static bool
heap_read_end(void *ctx, uint64_t token)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&((HeapEnv *) ctx)->write_seq, __ATOMIC_RELAXED) == token;
}

/* An env with n_locks locks (lock ids 0 .. n_locks-1) and a byte cap. */
void
heap_env_init(HeapEnv *h, uint32_t n_locks, size_t cap)
{
	h->env = (CoreEnv) {
		h, true, heap_alloc, heap_release, heap_address, h, heap_lock, heap_unlock, NULL,
		NULL, NULL, NULL
	};
	h->cap = cap;
	h->used = 0;
	h->n_locks = n_locks;
	h->locks = calloc(n_locks, sizeof(uint32_t));
	h->write_seq = 0;
	h->keep_freed = false;
	h->freed = NULL;
}

/*
 * Makes the env translate handles through calls and a CuckooView, as the
 * server's does, so that tests exercise the view's caching.
 */
void
heap_env_use_view(HeapEnv *h)
{
	h->env.direct = false;
	h->env.view = calloc(1, sizeof(CuckooView));
}

/* Offers reads without the table lock, which needs freed blocks kept readable. */
void
heap_env_allow_unlocked_reads(HeapEnv *h)
{
	h->keep_freed = true;
	h->env.read_begin = heap_read_begin;
	h->env.read_end = heap_read_end;
}

void
heap_env_free(HeapEnv *h)
{
	while (h->freed != NULL)
	{
		size_t	   *next = (size_t *) (uintptr_t) h->freed[1];

		free(h->freed);
		h->freed = next;
	}
	free(h->locks);
	free(h->env.view);
}
