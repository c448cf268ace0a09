/*
 * byteorder.h
 *		Little-endian fields of the core's formats (the sync's wire format,
 *		snapshot files), read and written a byte at a time: any alignment,
 *		any host.
 */
#ifndef MONOLITH_BYTEORDER_H
#define MONOLITH_BYTEORDER_H

#include <stdint.h>

static inline void
le_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

static inline uint32_t
le_get32(const unsigned char *p)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t) p[i] << (8 * i);
	return v;
}

static inline void
le_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

static inline uint64_t
le_get64(const unsigned char *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

#endif							/* MONOLITH_BYTEORDER_H */
