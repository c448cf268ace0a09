/*
 * sketch.c
 *		Count-min sketch with conservative update, for the frequency filter.
 */
#include "sketch.h"

/* Bytes of a sketch with 2^width_log2 counters a row. */
size_t
sketch_bytes(uint32_t width_log2)
{
	return (size_t) SKETCH_ROWS * ((size_t) 1 << width_log2) * sizeof(uint16_t);
}

/* Row r's counter for a key hash: 16 independent-enough bits per row. */
static inline uint16_t *
sketch_cell(uint16_t *counters, uint32_t width_log2, uint64_t hash, int row)
{
	uint64_t	h = hash * (0x9e3779b97f4a7c15ull + 2 * (uint64_t) row);
	size_t		col = (size_t) (h >> (64 - width_log2));

	return &counters[((size_t) row << width_log2) + col];
}

/*
 * Records one sighting and returns the estimated count including it.
 * Conservative update raises only the counters at the current minimum, which
 * keeps the overestimate of rare keys small.
 */
uint32_t
sketch_add(uint16_t *counters, uint32_t width_log2, uint64_t hash)
{
	uint16_t   *cell[SKETCH_ROWS];
	uint32_t	min = UINT16_MAX;

	for (int r = 0; r < SKETCH_ROWS; r++)
	{
		uint16_t	v;

		cell[r] = sketch_cell(counters, width_log2, hash, r);
		v = __atomic_load_n(cell[r], __ATOMIC_RELAXED);
		if (v < min)
			min = v;
	}
	if (min == UINT16_MAX)
		return min;
	for (int r = 0; r < SKETCH_ROWS; r++)
		if (__atomic_load_n(cell[r], __ATOMIC_RELAXED) == min)
			__atomic_store_n(cell[r], (uint16_t) (min + 1), __ATOMIC_RELAXED);
	return min + 1;
}

/* Ages the sketch so that keys seen long ago do not stay frequent forever. */
void
sketch_halve(uint16_t *counters, uint32_t width_log2)
{
	size_t		n = (size_t) SKETCH_ROWS << width_log2;

	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&counters[i],
						 (uint16_t) (__atomic_load_n(&counters[i], __ATOMIC_RELAXED) >> 1),
						 __ATOMIC_RELAXED);
}
