/*
 * snapshot_format.h
 *		The framing of snapshot files: checksummed blocks, first a header,
 *		last an end, read and written through the caller's callbacks.
 *
 * Every block is its kind (uint32), its payload's length (uint32), the
 * payload, and the CRC-32C of all three (uint32), little-endian.  The first
 * block is SNAP_BLOCK_HEADER: SNAP_MAGIC, the format version, then the
 * caller's description of what follows (a model's configuration, say).
 * The last is SNAP_BLOCK_END: how many blocks came before it and their
 * payloads' bytes; nothing may follow it.  So a file cut short anywhere,
 * or with any block's bytes changed, is told from a whole one.  A reader
 * refuses a version newer than its own and reads every older one.
 */
#ifndef MONOLITH_SNAPSHOT_FORMAT_H
#define MONOLITH_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC 0x504e534du	/* "MSNP" */
#define SNAP_FORMAT_VERSION 1
/* Payload bytes of a block at most: a reader never allocates beyond it. */
#define SNAP_MAX_BLOCK (64u << 20)
/* Bytes of the header's description at most. */
#define SNAP_MAX_DESCRIPTION 4096

/* Bytes a block takes beyond its payload: kind, length, checksum. */
#define SNAP_BLOCK_OVERHEAD 12
/* Bytes of the end block, the file's last. */
#define SNAP_END_BLOCK_BYTES (SNAP_BLOCK_OVERHEAD + 16)

enum
{
	SNAP_BLOCK_HEADER = 1,
	SNAP_BLOCK_END = 2,
	SNAP_BLOCK_FIRST_FREE = 16	/* the caller's kinds start here */
};

typedef enum SnapStatus
{
	SNAP_OK,					/* a block was read */
	SNAP_END,					/* the end block, and nothing after it */
	SNAP_TRUNCATED,				/* the file stops inside a block, or before its end */
	SNAP_CORRUPT,				/* a checksum, length, kind or order is wrong */
	SNAP_TOO_NEW				/* written by a later format version */
} SnapStatus;

/* Writes n bytes; false on failure (which the writer then keeps). */
typedef bool (*SnapWrite) (void *ctx, const void *data, size_t n);
/* Reads exactly n bytes; false if fewer remain. */
typedef bool (*SnapRead) (void *ctx, void *buf, size_t n);

typedef struct SnapWriter
{
	SnapWrite	write;
	void	   *ctx;
	uint64_t	blocks;			/* written since the header, the header too */
	uint64_t	bytes;			/* their payloads' */
	bool		failed;
} SnapWriter;

typedef struct SnapReader
{
	SnapRead	read;
	void	   *ctx;
	uint64_t	blocks;
	uint64_t	bytes;
	uint32_t	version;		/* the file's, once its header is read */
	bool		ended;
} SnapReader;

extern void snap_writer_init(SnapWriter *w, SnapWrite write, void *ctx);
extern bool snap_write_header(SnapWriter *w, const void *description, uint32_t n);
extern bool snap_write_block(SnapWriter *w, uint32_t kind, const void *data, uint32_t n);
extern bool snap_write_end(SnapWriter *w);

extern void snap_reader_init(SnapReader *r, SnapRead read, void *ctx);
extern SnapStatus snap_read_header(SnapReader *r, void *description, uint32_t cap, uint32_t *n);
extern SnapStatus snap_read_block(SnapReader *r, uint32_t *kind, void *buf, uint32_t cap, uint32_t *n);
extern bool snap_block_in(const unsigned char *bytes, size_t n, uint32_t *kind,
						  const unsigned char **payload, uint32_t *len);
extern const char *snap_status_text(SnapStatus status);

#endif							/* MONOLITH_SNAPSHOT_FORMAT_H */
