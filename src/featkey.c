/*
 * featkey.c
 *		Feature key encoding; the bit layout is described in featkey.h.
 */
#include "featkey.h"

#include <string.h>

/*
 * 64-bit hash of a byte string: each 8-byte word is mixed into the state by
 * multiply-xorshift, and the length and a final avalanche close it.
 */
uint64_t
featkey_hash_bytes(const char *data, size_t len)
{
	uint64_t	h = 0x243f6a8885a308d3ull ^ (len * 0x9e3779b97f4a7c15ull);
	size_t		i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64_t	w;

		memcpy(&w, data + i, 8);
		h = (h ^ ck_mix64(w)) * 0x9fb21c651e98df25ull;
		h ^= h >> 29;
	}
	if (i < len)
	{
		uint64_t	w = 0;

		memcpy(&w, data + i, len - i);
		h = (h ^ ck_mix64(w ^ ((uint64_t) (len - i) << 56))) * 0x9fb21c651e98df25ull;
		h ^= h >> 29;
	}
	return ck_mix64(h);
}

/* Key of a text value. */
uint64_t
featkey_text(uint32_t slot, const char *data, size_t len)
{
	return featkey_with_slot(slot, FEATKEY_HASHED_BIT | (featkey_hash_bytes(data, len) & FEATKEY_VALUE_MASK));
}
