/*
 * lifecycle.h
 *		A model's life: created and dropped by SQL, its shared state freed
 *		when, and only when, its definition row goes for good.
 */
#ifndef MONOLITH_LIFECYCLE_H
#define MONOLITH_LIFECYCLE_H

#include "shmem.h"

/* Changes this backend made to definitions, which others see only at commit. */
extern uint64 local_definition_changes;

extern void lifecycle_install_callbacks(void);

/*
 * A number that changes whenever definitions this backend sees may have
 * changed: its own changes at once, others' when they commit.  Cheap enough
 * to compare on every row; shared memory must be set up.
 */
static inline uint64
definitions_version(void)
{
	return pg_atomic_read_u64(monolith_definitions_version) + local_definition_changes;
}

#endif							/* MONOLITH_LIFECYCLE_H */
