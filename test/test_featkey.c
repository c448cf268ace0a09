/*
 * test_featkey.c
 *		Unit tests of feature key encoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/featkey.h"
#include "unit.h"

static int
by_value(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

/* Sorts keys and counts equal neighbours. */
static size_t
count_collisions(uint64_t *keys, size_t n)
{
	size_t		c = 0;

	qsort(keys, n, sizeof(uint64_t), by_value);
	for (size_t i = 1; i < n; i++)
		c += keys[i] == keys[i - 1];
	return c;
}

/* Integers in range are kept exactly: distinct values, distinct keys. */
static void
test_integers_exact(void)
{
	const size_t n = 1000000;
	uint64_t   *keys = malloc(n * sizeof(uint64_t));
	const int64_t edges[] = {0, 1, -1, ((int64_t) 1 << 54) - 1, -((int64_t) 1 << 54), 123456789012345};
	size_t		wrong_slot = 0;

	for (size_t i = 0; i < n; i++)
		keys[i] = featkey_int(3, (int64_t) i * 7919 - 4000000000);
	CHECK(count_collisions(keys, n) == 0, "integer keys collided");
	for (size_t i = 0; i < n; i++)
		wrong_slot += (keys[i] >> 56) != 3;
	CHECK(wrong_slot == 0, "%zu keys lost their slot bits", wrong_slot);
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		for (size_t j = 0; j < i; j++)
			CHECK(featkey_int(0, edges[i]) != featkey_int(0, edges[j]),
				  "edge values %ld and %ld collide", (long) edges[i], (long) edges[j]);
	CHECK(((featkey_int(0, 5) >> 55) & 1) == 0, "in-range integers are exact");
	CHECK(((featkey_int(0, INT64_MAX) >> 55) & 1) == 1, "out-of-range integers are hashed");
	CHECK(featkey_int(0, INT64_MAX) != featkey_int(0, INT64_MIN), "hashed extremes differ");
	free(keys);
}

/* The same value in two slots gives two keys. */
static void
test_slots_separate(void)
{
	CHECK(featkey_int(0, 42) != featkey_int(1, 42), "slots share an integer key");
	CHECK(featkey_text(0, "Comedy", 6) != featkey_text(1, "Comedy", 6), "slots share a text key");
	CHECK(featkey_int(255, 42) >> 56 == 255, "slot 255 kept");
	CHECK(featkey_text(2, "42", 2) != featkey_int(2, 42), "text '42' is not integer 42");
}

/* Text hashing is deterministic and sensitive to every byte and the length. */
static void
test_text_hash(void)
{
	char		a[] = "abcdefghijklmnopq";
	char		b[] = "abcdefghijklmnopq";

	CHECK(featkey_text(0, a, 17) == featkey_text(0, b, 17), "same text same key");
	for (int i = 0; i < 17; i++)
	{
		b[i] ^= 1;
		CHECK(featkey_text(0, a, 17) != featkey_text(0, b, 17), "byte %d ignored", i);
		b[i] ^= 1;
	}
	CHECK(featkey_text(0, a, 16) != featkey_text(0, a, 17), "length ignored");
	CHECK(featkey_text(0, "", 0) != featkey_text(0, "\0", 1), "empty and NUL differ");
	CHECK(((featkey_text(0, a, 3) >> 55) & 1) == 1, "text keys are in the hashed half");
}

/* Two million distinct strings in one slot: no collision (expected 3e-5). */
static void
test_text_collisions_measured(void)
{
	const size_t n = 2000000;
	uint64_t   *keys = malloc(n * sizeof(uint64_t));
	char		buf[32];

	for (size_t i = 0; i < n; i++)
	{
		int			len = snprintf(buf, sizeof(buf), "user-%zu", i);

		keys[i] = featkey_text(1, buf, (size_t) len);
	}
	CHECK(count_collisions(keys, n) == 0, "text keys collided");
	free(keys);
}

int
main(void)
{
	test_integers_exact();
	test_slots_separate();
	test_text_hash();
	test_text_collisions_measured();
	return unit_finish("test_featkey");
}
