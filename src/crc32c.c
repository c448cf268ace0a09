/*
 * crc32c.c
 *		CRC-32C, the reflected polynomial 0x82F63B78 (iSCSI, RFC 3720): with
 *		the SSE 4.2 crc32 instruction where the CPU has it, eight bytes an
 *		instruction; else by "slicing by 8": eight tables of 256 entries,
 *		eight bytes a step (after Kounavis and Berry, "A Systematic Approach
 *		to Building High Performance Software-based CRC Generators", 2005).
 *		The tables are built on first use; building twice at once writes the
 *		same values.
 */
#include "crc32c.h"

#include "byteorder.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t table[8][256];
static int	table_built;

static void
build_table(void)
{
	for (uint32_t b = 0; b < 256; b++)
	{
		uint32_t	c = b;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (c & 1 ? CRC32C_POLY : 0);
		table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int t = 1; t < 8; t++)
			table[t][b] = (table[t - 1][b] >> 8) ^ table[0][table[t - 1][b] & 0xff];
	__atomic_store_n(&table_built, 1, __ATOMIC_RELEASE);
}

/* Any CPU: tables. */
uint32_t
crc32c_portable(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;

	if (!__atomic_load_n(&table_built, __ATOMIC_ACQUIRE))
		build_table();
	crc = ~crc;
	for (; n >= 8; n -= 8, p += 8)
	{
		uint32_t	lo = le_get32(p) ^ crc;
		uint32_t	hi = le_get32(p + 4);

		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
			table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
			table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
			table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
	}
	for (; n > 0; n--, p++)
		crc = (crc >> 8) ^ table[0][(crc ^ *p) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)

/* The crc32 instruction computes exactly this CRC, eight bytes at a time. */
__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t	c = ~crc;

	for (; n >= 8; n -= 8, p += 8)
	{
		uint64_t	word;

		memcpy(&word, p, 8);
		c = __builtin_ia32_crc32di(c, word);
	}
	for (; n > 0; n--, p++)
		c = __builtin_ia32_crc32qi((uint32_t) c, *p);
	return ~(uint32_t) c;
}

uint32_t
crc32c(uint32_t crc, const void *data, size_t n)
{
	static int	has_sse42 = -1;

	if (has_sse42 < 0)
		has_sse42 = __builtin_cpu_supports("sse4.2");
	return has_sse42 ? crc32c_sse42(crc, data, n) : crc32c_portable(crc, data, n);
}

#else

uint32_t
crc32c(uint32_t crc, const void *data, size_t n)
{
	return crc32c_portable(crc, data, n);
}

#endif
