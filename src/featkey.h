/*
 * featkey.h
 *		64-bit feature keys: which slot a value belongs to, and the value.
 *
 * Bits 63..56 hold the slot number, so two slots never share a key.  Bit 55
 * says how the value is kept in bits 54..0:
 *	0: an integer in [-2^54, 2^54), stored exactly, so two distinct integer
 *	   IDs of one slot can never share an embedding;
 *	1: a 55-bit hash of a text value (or of an integer outside that range).
 *	   Distinct values collide with probability about n^2 / 2^56 for n values
 *	   in one slot: under 1e-3 for ten million values (see test_featkey).
 */
#ifndef MONOLITH_FEATKEY_H
#define MONOLITH_FEATKEY_H

#include <stddef.h>
#include <stdint.h>

#include "cuckoo.h"

#define FEATKEY_MAX_SLOTS 256
#define FEATKEY_VALUE_BITS 55
#define FEATKEY_VALUE_MASK (((uint64_t) 1 << FEATKEY_VALUE_BITS) - 1)
#define FEATKEY_HASHED_BIT ((uint64_t) 1 << FEATKEY_VALUE_BITS)
#define FEATKEY_EXACT_LIMIT ((int64_t) 1 << (FEATKEY_VALUE_BITS - 1))

static inline uint64_t
featkey_with_slot(uint32_t slot, uint64_t payload)
{
	return ((uint64_t) slot << 56) | payload;
}

/* Key of an integer value: exact within range, hashed beyond it. */
static inline uint64_t
featkey_int(uint32_t slot, int64_t value)
{
	if (value >= -FEATKEY_EXACT_LIMIT && value < FEATKEY_EXACT_LIMIT)
		return featkey_with_slot(slot, (uint64_t) value & FEATKEY_VALUE_MASK);
	return featkey_with_slot(slot, FEATKEY_HASHED_BIT | (ck_mix64((uint64_t) value) & FEATKEY_VALUE_MASK));
}

extern uint64_t featkey_text(uint32_t slot, const char *data, size_t len);
extern uint64_t featkey_hash_bytes(const char *data, size_t len);

#endif							/* MONOLITH_FEATKEY_H */
