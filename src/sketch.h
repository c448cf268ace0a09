/*
 * sketch.h
 *		Count-min sketch of sightings of keys that have no entry yet, for the
 *		frequency filter.  An unadmitted key costs no memory of its own: it
 *		only raises SKETCH_ROWS shared 16-bit counters.
 *
 * Counters are raised with relaxed atomics and may race with halving; a lost
 * increment delays one admission by one sighting, which the filter tolerates.
 */
#ifndef MONOLITH_SKETCH_H
#define MONOLITH_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define SKETCH_ROWS 4

extern size_t sketch_bytes(uint32_t width_log2);
extern uint32_t sketch_add(uint16_t *counters, uint32_t width_log2, uint64_t hash);
extern void sketch_halve(uint16_t *counters, uint32_t width_log2);

#endif							/* MONOLITH_SKETCH_H */
