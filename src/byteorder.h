/*
 * byteorder.h
 *		Little-endian fields of the core's formats (the sync's wire format,
 *		snapshot files), read and written a byte at a time: any alignment,
 *		any host.
 */
#ifndef MONOLITH_BYTEORDER_H
#define MONOLITH_BYTEORDER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* n floats as little-endian IEEE single precision; a copy on little-endian hosts. */
static inline void
le_put_floats(unsigned char *p, const float *v, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n > 0)
		memcpy(p, v, n * sizeof(float));
#else
	for (size_t i = 0; i < n; i++, p += 4)
	{
		uint32_t	bits;

		memcpy(&bits, &v[i], 4);
		le_put32(p, bits);
	}
#endif
}

static inline void
le_get_floats(float *v, const unsigned char *p, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n > 0)
		memcpy(v, p, n * sizeof(float));
#else
	for (size_t i = 0; i < n; i++, p += 4)
	{
		uint32_t	bits = le_get32(p);

		memcpy(&v[i], &bits, 4);
	}
#endif
}

#endif							/* MONOLITH_BYTEORDER_H */
