/*
 * crc32c.h
 *		CRC-32C (Castagnoli), the checksum of snapshot files.
 */
#ifndef MONOLITH_CRC32C_H
#define MONOLITH_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to begin) over n bytes, with the CPU's instruction where it has one. */
extern uint32_t crc32c(uint32_t crc, const void *data, size_t n);
/* The same on any CPU, by tables. */
extern uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n);

#endif							/* MONOLITH_CRC32C_H */
