/*
 * test_sync_format.c
 *		Unit tests of the parameter sync's wire format, outside PostgreSQL.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/sync_format.h"
#include "unit.h"

/* Each kind of part decodes to what was encoded, bit for bit. */
static void
test_round_trip(void)
{
	uint64_t	keys[3] = {1, 0xfedcba9876543210ull, 0};
	float		floats[9] = {1.5f, -0.0f, 3e-40f, 1e30f, -2, 0.25f, 7, 8, 9};
	const SyncPartKind kinds[4] = {SYNC_VALUES, SYNC_REMOVALS, SYNC_PURGE, SYNC_DENSE};
	const uint32_t ns[4] = {3, 3, 0, 0};
	const uint32_t per[4] = {3, 0, 0, 9};

	for (int k = 0; k < 4; k++)
	{
		size_t		bytes = sync_part_bytes(kinds[k], ns[k], per[k]);
		unsigned char *data = malloc(bytes);
		SyncPart	part;
		float		back[9];
		bool		same = true;

		sync_encode(data, kinds[k], ns[k], per[k], keys, floats);
		CHECK(sync_decode(data, bytes, &part), "kind %d decodes", kinds[k]);
		CHECK(part.kind == kinds[k] && part.n == ns[k] && part.floats_per_key == per[k],
			  "kind %d: header as encoded", kinds[k]);
		for (uint32_t i = 0; i < part.n; i++)
			same &= sync_part_key(&part, i) == keys[i];
		/* Values hold 3 keys of 3 floats, the dense part 9 floats. */
		if (kinds[k] == SYNC_VALUES || kinds[k] == SYNC_DENSE)
		{
			sync_part_floats(&part, 0, 9, back);
			same &= memcmp(back, floats, sizeof(back)) == 0;
		}
		CHECK(same, "kind %d: keys and floats as encoded", kinds[k]);
		CHECK(!sync_decode(data, bytes - 1, &part), "kind %d: a byte short is refused", kinds[k]);
		free(data);
	}
	/* Little-endian on the wire, whatever the host. */
	{
		unsigned char data[SYNC_HEADER_BYTES + 8];
		uint64_t	key = 0x0102030405060708ull;

		sync_encode(data, SYNC_REMOVALS, 1, 0, &key, NULL);
		CHECK(data[0] == 'M' && data[3] == 'N' && data[SYNC_HEADER_BYTES] == 0x08 &&
			  data[SYNC_HEADER_BYTES + 7] == 0x01, "magic and key little-endian");
	}
}

/* Anything but exactly one well-formed part is refused. */
static void
test_refuses_malformed(void)
{
	uint64_t	keys[2] = {5, 6};
	float		floats[4] = {1, 2, 3, 4};
	size_t		bytes = sync_part_bytes(SYNC_VALUES, 2, 2);
	unsigned char *good = malloc(bytes + 1);
	unsigned char *bad = malloc(bytes + 1);
	SyncPart	part;

	sync_encode(good, SYNC_VALUES, 2, 2, keys, floats);
	good[bytes] = 0;
	CHECK(sync_decode(good, bytes, &part), "the good part decodes");
	CHECK(!sync_decode(good, bytes + 1, &part), "a byte too many");
	CHECK(!sync_decode(good, SYNC_HEADER_BYTES - 1, &part), "a short header");
	/* Each header byte changed, one at a time: none of them decodes as another valid part of this length. */
	for (int i = 0; i < SYNC_HEADER_BYTES; i++)
	{
		memcpy(bad, good, bytes);
		bad[i] ^= 0x40;
		CHECK(!sync_decode(bad, bytes, &part), "header byte %d changed", i);
	}
	/* Values with no floats, removals or purges with floats, keys on a purge. */
	sync_encode(bad, SYNC_VALUES, 0, 2, keys, floats);
	bad[12] = 0;
	CHECK(!sync_decode(bad, SYNC_HEADER_BYTES, &part), "values of no floats");
	sync_encode(bad, SYNC_PURGE, 0, 0, NULL, NULL);
	bad[8] = 1;
	CHECK(!sync_decode(bad, SYNC_HEADER_BYTES + 8, &part), "a purge with a key");
	/* A count so large that its size would wrap. */
	memcpy(bad, good, SYNC_HEADER_BYTES);
	bad[8] = bad[9] = bad[10] = bad[11] = 0xff;
	CHECK(!sync_decode(bad, bytes, &part), "a huge count");
	free(good);
	free(bad);
}

int
main(void)
{
	test_round_trip();
	test_refuses_malformed();
	return unit_finish("test_sync_format");
}
