/*
 * fuzz_sync_format.c
 *		libFuzzer target: the sync's decoder on arbitrary bytes, as a replica
 *		receives them.  Whatever it accepts, every key and float of it can be
 *		read within the input (AddressSanitizer checks), and encodes back to
 *		the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/sync_format.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SyncPart	part;
	uint64_t   *keys;
	float	   *floats;
	uint64_t	n_floats;
	unsigned char *again;

	if (!sync_decode(data, size, &part))
		return 0;
	n_floats = part.kind == SYNC_VALUES ? (uint64_t) part.n * part.floats_per_key :
		part.kind == SYNC_DENSE ? part.floats_per_key : 0;
	keys = malloc((part.n + 1) * sizeof(uint64_t));
	floats = malloc((n_floats + 1) * sizeof(float));
	again = malloc(size);
	for (uint32_t i = 0; i < part.n; i++)
		keys[i] = sync_part_key(&part, i);
	sync_part_floats(&part, 0, (uint32_t) n_floats, floats);
	sync_encode(again, part.kind, part.n, part.floats_per_key, keys, floats);
	if (memcmp(again, data, size) != 0)
		abort();
	free(again);
	free(floats);
	free(keys);
	return 0;
}
