/*
 * fuzz_featkey.c
 *		libFuzzer target: feature-key encoding.  The bytes give a slot, two
 *		integers and two strings; the keys must keep slots apart, keep every
 *		integer within range exact (decoding back to itself, distinct for
 *		distinct values), mark hashed values as hashed, and hash equal bytes
 *		alike and without reading past them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/featkey.h"

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_featkey: %s\n", what);
	abort();
}

/* The integer an exact key holds: its 55 value bits, sign-extended. */
static int64_t
decoded(uint64_t key)
{
	uint64_t	v = key & FEATKEY_VALUE_MASK;

	return (int64_t) (v << (64 - FEATKEY_VALUE_BITS)) >> (64 - FEATKEY_VALUE_BITS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t		a,
				b;
	uint32_t	slot,
				other_slot;
	size_t		rest,
				split;
	char	   *copy;

	if (size < 19)
		return 0;
	slot = data[0];
	other_slot = data[1];
	memcpy(&a, data + 2, 8);
	memcpy(&b, data + 10, 8);
	/* Small values too, where a real ID space lives. */
	if (data[18] & 1)
		a >>= data[18] % 64;
	rest = size - 19;
	split = rest == 0 ? 0 : data[18] % (rest + 1);

	for (int k = 0; k < 2; k++)
	{
		int64_t		v = k == 0 ? a : b;
		uint64_t	key = featkey_int(slot, v);
		bool		exact = v >= -FEATKEY_EXACT_LIMIT && v < FEATKEY_EXACT_LIMIT;

		if ((key >> 56) != slot)
			fail("slot bits wrong");
		if (exact && ((key & FEATKEY_HASHED_BIT) != 0 || decoded(key) != v))
			fail("an exact integer does not decode to itself");
		if (!exact && (key & FEATKEY_HASHED_BIT) == 0)
			fail("an integer out of range is not marked hashed");
		if (other_slot != slot && featkey_int(other_slot, v) == key)
			fail("two slots share a key");
	}
	if (a != b && a >= -FEATKEY_EXACT_LIMIT && a < FEATKEY_EXACT_LIMIT &&
		b >= -FEATKEY_EXACT_LIMIT && b < FEATKEY_EXACT_LIMIT &&
		featkey_int(slot, a) == featkey_int(slot, b))
		fail("two exact integers share a key");

	/* Strings, each in memory of its own exact size, so ASan sees any overread. */
	for (int k = 0; k < 2; k++)
	{
		size_t		len = k == 0 ? split : rest - split;
		const uint8_t *from = data + 19 + (k == 0 ? 0 : split);
		uint64_t	key;

		copy = malloc(len == 0 ? 1 : len);
		memcpy(copy, from, len);
		key = featkey_text(slot, copy, len);
		if ((key >> 56) != slot || (key & FEATKEY_HASHED_BIT) == 0)
			fail("a text key's slot or hashed bit wrong");
		if (key != featkey_text(slot, (const char *) from, len))
			fail("equal bytes hash differently");
		if (other_slot != slot && featkey_text(other_slot, copy, len) == key)
			fail("two slots share a text key");
		if (len > 0 && (key & FEATKEY_VALUE_MASK) == (featkey_int(slot, (int64_t) len) & FEATKEY_VALUE_MASK) &&
			featkey_int(slot, (int64_t) len) == key)
			fail("a text key equals an exact integer's");
		free(copy);
	}
	return 0;
}
