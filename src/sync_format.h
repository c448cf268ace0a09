/*
 * sync_format.h
 *		The parameter sync's wire format: the bytes of one row of the
 *		published tables, which a replica decodes.
 *
 * A part is a header, then n table keys (little-endian uint64), then, for
 * values, n records of floats_per_key little-endian float32 (a key's first-
 * order weight, then its embedding), or for the dense part one record of
 * floats (the bias, then the dense weights) and no keys.  Removals carry
 * keys only; a purge carries nothing and tells a replica that every key not
 * shipped in its round or later is gone.  Every field is checked on decode:
 * a replica applies only what it has fully understood.
 */
#ifndef MONOLITH_SYNC_FORMAT_H
#define MONOLITH_SYNC_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYNC_FORMAT_MAGIC 0x4e59534du	/* "MSYN" */
#define SYNC_FORMAT_VERSION 1
#define SYNC_HEADER_BYTES 16

typedef enum SyncPartKind
{
	SYNC_VALUES = 1,
	SYNC_REMOVALS = 2,
	SYNC_PURGE = 3,
	SYNC_DENSE = 4
} SyncPartKind;

/* A decoded part: pointers into the bytes it was decoded from, unaligned. */
typedef struct SyncPart
{
	SyncPartKind kind;
	uint32_t	n;				/* keys (values, removals); 0 for purge and dense */
	uint32_t	floats_per_key; /* values: per key; dense: in all; else 0 */
	const unsigned char *keys;
	const unsigned char *floats;
} SyncPart;

extern size_t sync_part_bytes(SyncPartKind kind, uint32_t n, uint32_t floats_per_key);
extern void sync_encode(unsigned char *out, SyncPartKind kind, uint32_t n, uint32_t floats_per_key,
						const uint64_t *keys, const float *floats);
extern bool sync_decode(const unsigned char *in, size_t len, SyncPart *part);
extern uint64_t sync_part_key(const SyncPart *part, uint32_t i);
extern void sync_part_floats(const SyncPart *part, uint64_t first, uint32_t n, float *out);

#endif							/* MONOLITH_SYNC_FORMAT_H */
