/*
 * heap_env.c
 *		malloc-backed CoreEnv; a size header per block keeps the cap exact.
 */
#include "heap_env.h"

#include <stdlib.h>

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

static void
heap_release(void *ctx, MemHandle handle)
{
	HeapEnv    *h = ctx;
	size_t	   *block = (size_t *) ((char *) (uintptr_t) handle - 16);

	__atomic_sub_fetch(&h->used, block[0], __ATOMIC_RELAXED);
	free(block);
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
	HeapEnv    *h = ctx;

	if (exclusive)
		pthread_rwlock_wrlock(&h->locks[id]);
	else
		pthread_rwlock_rdlock(&h->locks[id]);
}

static void
heap_unlock(void *ctx, uint32_t id)
{
	HeapEnv    *h = ctx;

	pthread_rwlock_unlock(&h->locks[id]);
}

/* An env with n_locks locks (lock ids 0 .. n_locks-1) and a byte cap. */
void
heap_env_init(HeapEnv *h, uint32_t n_locks, size_t cap)
{
	h->env = (CoreEnv) {h, heap_alloc, heap_release, heap_address, h, heap_lock, heap_unlock};
	h->cap = cap;
	h->used = 0;
	h->n_locks = n_locks;
	h->locks = calloc(n_locks, sizeof(pthread_rwlock_t));
	for (uint32_t i = 0; i < n_locks; i++)
		pthread_rwlock_init(&h->locks[i], NULL);
}

void
heap_env_free(HeapEnv *h)
{
	for (uint32_t i = 0; i < h->n_locks; i++)
		pthread_rwlock_destroy(&h->locks[i]);
	free(h->locks);
}
