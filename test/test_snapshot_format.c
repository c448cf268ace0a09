/*
 * test_snapshot_format.c
 *		Unit tests of CRC-32C and of the framing of snapshot files, outside
 *		PostgreSQL.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/crc32c.h"
#include "snap_stream.h"
#include "unit.h"

/* The standard check value, in one call and in pieces of every split. */
static void
test_crc32c(void)
{
	const char *digits = "123456789";
	unsigned char zeros[32] = {0};
	bool		pieces_agree = true;

	CHECK(crc32c(0, digits, 9) == 0xE3069283u, "crc32c(\"123456789\") = %08x", crc32c(0, digits, 9));
	CHECK(crc32c(0, zeros, 32) == 0x8A9136AAu, "crc32c of 32 zeros = %08x (RFC 3720 B.4)",
		  crc32c(0, zeros, 32));
	for (size_t split = 0; split <= 9; split++)
		pieces_agree &= crc32c(crc32c(0, digits, split), digits + split, 9 - split) == 0xE3069283u;
	CHECK(pieces_agree, "a CRC extended piece by piece is the whole's");
	{
		unsigned char bytes[4099];
		bool		agree = crc32c_portable(0, digits, 9) == 0xE3069283u;

		for (size_t i = 0; i < sizeof(bytes); i++)
			bytes[i] = (unsigned char) (i * 131 + (i >> 3));
		/* Every length and alignment of a start, both ways. */
		for (size_t start = 0; start < 9; start++)
			for (size_t len = 0; start + len <= sizeof(bytes); len += 1 + len / 3)
				agree &= crc32c(7, bytes + start, len) == crc32c_portable(7, bytes + start, len);
		CHECK(agree, "the CPU's instruction and the tables agree");
	}
}

/* A file of a header and three blocks of sizes 0, 1000 and 5; returns its stream. */
static SnapStream
sample_file(void)
{
	SnapStream	s = {malloc(4096), 0, 4096, 0};
	SnapWriter	w;
	unsigned char big[1000];

	for (int i = 0; i < 1000; i++)
		big[i] = (unsigned char) (i * 7);
	snap_writer_init(&w, stream_write, &s);
	snap_write_header(&w, "config", 6);
	snap_write_block(&w, SNAP_BLOCK_FIRST_FREE, NULL, 0);
	snap_write_block(&w, SNAP_BLOCK_FIRST_FREE + 1, big, sizeof(big));
	snap_write_block(&w, SNAP_BLOCK_FIRST_FREE + 2, "abcde", 5);
	snap_write_end(&w);
	return s;
}

/* Reads a whole file; the status that stopped it, and the blocks read. */
static SnapStatus
read_all(SnapStream *s, int *blocks)
{
	SnapReader	r;
	unsigned char description[64];
	unsigned char buf[2048];
	uint32_t	kind;
	uint32_t	n;
	SnapStatus	status;

	s->at = 0;
	*blocks = 0;
	snap_reader_init(&r, stream_read, s);
	status = snap_read_header(&r, description, sizeof(description), &n);
	if (status != SNAP_OK)
		return status;
	while ((status = snap_read_block(&r, &kind, buf, sizeof(buf), &n)) == SNAP_OK)
		(*blocks)++;
	return status;
}

/* What was written reads back, block for block. */
static void
test_round_trip(void)
{
	SnapStream	s = sample_file();
	SnapReader	r;
	unsigned char description[64];
	unsigned char buf[2048];
	uint32_t	kind;
	uint32_t	n;

	snap_reader_init(&r, stream_read, &s);
	CHECK(snap_read_header(&r, description, sizeof(description), &n) == SNAP_OK &&
		  n == 6 && memcmp(description, "config", 6) == 0 && r.version == SNAP_FORMAT_VERSION,
		  "the header and its description");
	CHECK(snap_read_block(&r, &kind, buf, sizeof(buf), &n) == SNAP_OK && kind == SNAP_BLOCK_FIRST_FREE &&
		  n == 0, "an empty block");
	CHECK(snap_read_block(&r, &kind, buf, sizeof(buf), &n) == SNAP_OK && n == 1000 && buf[999] == (unsigned char) (999 * 7),
		  "a block of 1000 bytes");
	CHECK(snap_read_block(&r, &kind, buf, sizeof(buf), &n) == SNAP_OK && n == 5 && memcmp(buf, "abcde", 5) == 0,
		  "a block of 5");
	CHECK(snap_read_block(&r, &kind, buf, sizeof(buf), &n) == SNAP_END, "then the end");
	CHECK(snap_read_block(&r, &kind, buf, sizeof(buf), &n) == SNAP_CORRUPT, "and nothing after it");
	free(s.data);
}

/* A file cut short anywhere, or with any byte changed, is never read as whole. */
static void
test_damage_is_told(void)
{
	SnapStream	s = sample_file();
	size_t		len = s.len;
	int			blocks;
	int			read_as_whole = 0;
	int			truncations_told = 0;

	for (size_t cut = 0; cut < len; cut++)
	{
		SnapStatus	status;

		s.len = cut;
		status = read_all(&s, &blocks);
		read_as_whole += status == SNAP_END;
		truncations_told += status == SNAP_TRUNCATED;
	}
	s.len = len;
	CHECK(read_as_whole == 0, "%d of %zu cuts read as whole", read_as_whole, len);
	CHECK(truncations_told > 0, "cuts inside a block say truncated");
	for (size_t at = 0; at < len; at++)
		for (int bit = 0; bit < 8; bit++)
		{
			s.data[at] ^= (unsigned char) (1 << bit);
			read_as_whole += read_all(&s, &blocks) == SNAP_END;
			s.data[at] ^= (unsigned char) (1 << bit);
		}
	CHECK(read_as_whole == 0, "%d of %zu bit flips read as whole", read_as_whole, 8 * len);
	CHECK(read_all(&s, &blocks) == SNAP_END && blocks == 3, "the undamaged file still reads");
	/* A byte more after the end. */
	s.data[len] = 0;
	s.len = len + 1;
	CHECK(read_all(&s, &blocks) == SNAP_CORRUPT, "bytes after the end are refused");
	free(s.data);
}

/* A later version is refused as such; a block over the reader's room is refused unread. */
static void
test_refusals(void)
{
	SnapStream	s = sample_file();
	SnapReader	r;
	unsigned char small[16];
	uint32_t	kind;
	uint32_t	n;
	int			blocks;
	SnapWriter	w;
	SnapStream	full = {malloc(8), 0, 8, 0};

	snap_reader_init(&r, stream_read, &s);
	CHECK(snap_read_header(&r, small, sizeof(small), &n) == SNAP_OK, "header");
	CHECK(snap_read_block(&r, &kind, small, sizeof(small), &n) == SNAP_OK, "the empty block fits");
	CHECK(snap_read_block(&r, &kind, small, sizeof(small), &n) == SNAP_CORRUPT,
		  "a block larger than the reader's room is refused");
	free(s.data);

	/* Version 2, checksummed as a later writer would. */
	{
		SnapStream	later = sample_file();
		uint32_t	crc;

		later.data[12] = 2;		/* the version, after kind, length and magic */
		crc = crc32c(0, later.data, 8 + 8 + 6);
		for (int i = 0; i < 4; i++)
			later.data[8 + 8 + 6 + i] = (unsigned char) (crc >> (8 * i));
		CHECK(read_all(&later, &blocks) == SNAP_TOO_NEW, "a later format version is refused as newer");
		free(later.data);
	}
	/* A writer whose writes fail keeps failing; kinds below the free ones are refused. */
	snap_writer_init(&w, stream_write, &full);
	CHECK(!snap_write_header(&w, "too long for eight bytes", 24) && w.failed, "a failed write fails the writer");
	CHECK(!snap_write_end(&w), "and it stays failed");
	full.len = 0;
	snap_writer_init(&w, stream_write, &full);
	CHECK(!snap_write_block(&w, SNAP_BLOCK_END, NULL, 0), "the format's own kinds are not the caller's");
	free(full.data);
}

/*
 * With --sample PATH, writes the sample file to PATH and exits: a seed of
 * fuzz_snapshot_format's corpus (bench/fuzz.sh), from which it reaches
 * whole files, checksums and all.
 */
int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--sample") == 0)
	{
		SnapStream	s = sample_file();
		FILE	   *f = fopen(argv[2], "wb");
		bool		written = f != NULL && fwrite(s.data, 1, s.len, f) == s.len && fclose(f) == 0;

		free(s.data);
		return written ? 0 : 1;
	}
	test_crc32c();
	test_round_trip();
	test_damage_is_told();
	test_refusals();
	return unit_finish("test_snapshot_format");
}
