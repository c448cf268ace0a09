/*
 * sync_format.c
 *		Encoding and decoding the parameter sync's parts (see sync_format.h).
 */
#include <string.h>

#include "byteorder.h"
#include "sync_format.h"

/* Records of a part, at most: keeps every size computation far from overflow. */
#define SYNC_MAX_N (1u << 26)
#define SYNC_MAX_FLOATS (1u << 26)

/* Whether kind takes keys, and floats for each key or in one record. */
static bool
kind_has_keys(SyncPartKind kind)
{
	return kind == SYNC_VALUES || kind == SYNC_REMOVALS;
}

/* Floats a part of kind holds in all. */
static uint64_t
part_floats(SyncPartKind kind, uint32_t n, uint32_t floats_per_key)
{
	return kind == SYNC_VALUES ? (uint64_t) n * floats_per_key :
		kind == SYNC_DENSE ? floats_per_key : 0;
}

/* Bytes of a part of kind with n keys of floats_per_key floats each. */
size_t
sync_part_bytes(SyncPartKind kind, uint32_t n, uint32_t floats_per_key)
{
	return SYNC_HEADER_BYTES + (kind_has_keys(kind) ? (size_t) n * 8 : 0) +
		(size_t) part_floats(kind, n, floats_per_key) * 4;
}

/* Writes a part into out, sync_part_bytes() bytes. */
void
sync_encode(unsigned char *out, SyncPartKind kind, uint32_t n, uint32_t floats_per_key,
			const uint64_t *keys, const float *floats)
{
	uint64_t	total = part_floats(kind, n, floats_per_key);
	unsigned char *p = out + SYNC_HEADER_BYTES;

	le_put32(out, SYNC_FORMAT_MAGIC);
	out[4] = SYNC_FORMAT_VERSION;
	out[5] = (unsigned char) kind;
	out[6] = out[7] = 0;
	le_put32(out + 8, kind_has_keys(kind) ? n : 0);
	le_put32(out + 12, kind == SYNC_VALUES || kind == SYNC_DENSE ? floats_per_key : 0);
	for (uint32_t i = 0; kind_has_keys(kind) && i < n; i++, p += 8)
		le_put64(p, keys[i]);
	le_put_floats(p, floats, total);
}

/* Decodes len bytes into part; false unless they are exactly one well-formed part. */
bool
sync_decode(const unsigned char *in, size_t len, SyncPart *part)
{
	uint32_t	n;
	uint32_t	floats;
	SyncPartKind kind;

	if (len < SYNC_HEADER_BYTES || le_get32(in) != SYNC_FORMAT_MAGIC ||
		in[4] != SYNC_FORMAT_VERSION || in[6] != 0 || in[7] != 0)
		return false;
	kind = (SyncPartKind) in[5];
	n = le_get32(in + 8);
	floats = le_get32(in + 12);
	if (kind < SYNC_VALUES || kind > SYNC_DENSE || n > SYNC_MAX_N || floats > SYNC_MAX_FLOATS ||
		(!kind_has_keys(kind) && n != 0) ||
		((kind == SYNC_VALUES || kind == SYNC_DENSE) != (floats != 0)) ||
		len != sync_part_bytes(kind, n, floats))
		return false;
	part->kind = kind;
	part->n = n;
	part->floats_per_key = floats;
	part->keys = in + SYNC_HEADER_BYTES;
	part->floats = part->keys + (kind_has_keys(kind) ? (size_t) n * 8 : 0);
	return true;
}

/* The i-th key of a decoded part. */
uint64_t
sync_part_key(const SyncPart *part, uint32_t i)
{
	return le_get64(part->keys + (size_t) i * 8);
}

/* Floats first to first + n of a decoded part (record i's are i * floats_per_key on). */
void
sync_part_floats(const SyncPart *part, uint64_t first, uint32_t n, float *out)
{
	le_get_floats(out, part->floats + first * 4, n);
}
