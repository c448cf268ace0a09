/*
 * snapshot_format.c
 *		Writing and reading the blocks of snapshot files (see
 *		snapshot_format.h).
 */
#include <string.h>

#include "byteorder.h"
#include "crc32c.h"
#include "snapshot_format.h"

/* A block's kind and length, before its payload. */
#define FRAME_BYTES 8
/* The header's own fields, before the description: magic and version. */
#define HEADER_FIELDS 8
/* The end block's payload: blocks and bytes before it. */
#define END_BYTES (SNAP_END_BLOCK_BYTES - SNAP_BLOCK_OVERHEAD)

void
snap_writer_init(SnapWriter *w, SnapWrite write, void *ctx)
{
	*w = (SnapWriter) {write, ctx, 0, 0, false};
}

/* Writes a block whose payload is head (head_n bytes) then data (n bytes). */
static bool
write_frame(SnapWriter *w, uint32_t kind, const unsigned char *head, uint32_t head_n,
			const void *data, uint32_t n)
{
	unsigned char frame[FRAME_BYTES];
	unsigned char crc_bytes[4];
	uint32_t	crc;

	if (w->failed || n > SNAP_MAX_BLOCK - head_n)
		return w->failed = true, false;
	le_put32(frame, kind);
	le_put32(frame + 4, head_n + n);
	crc = crc32c(crc32c(crc32c(0, frame, FRAME_BYTES), head, head_n), data, n);
	le_put32(crc_bytes, crc);
	if (!w->write(w->ctx, frame, FRAME_BYTES) || (head_n > 0 && !w->write(w->ctx, head, head_n)) ||
		(n > 0 && !w->write(w->ctx, data, n)) || !w->write(w->ctx, crc_bytes, 4))
		return w->failed = true, false;
	w->blocks++;
	w->bytes += head_n + n;
	return true;
}

/* The header block, first: the format's magic and version, then the caller's description. */
bool
snap_write_header(SnapWriter *w, const void *description, uint32_t n)
{
	unsigned char head[HEADER_FIELDS];

	if (n > SNAP_MAX_DESCRIPTION)
		return w->failed = true, false;
	le_put32(head, SNAP_MAGIC);
	le_put32(head + 4, SNAP_FORMAT_VERSION);
	return write_frame(w, SNAP_BLOCK_HEADER, head, HEADER_FIELDS, description, n);
}

/* A block of the caller's kind (SNAP_BLOCK_FIRST_FREE or more). */
bool
snap_write_block(SnapWriter *w, uint32_t kind, const void *data, uint32_t n)
{
	if (kind < SNAP_BLOCK_FIRST_FREE)
		return w->failed = true, false;
	return write_frame(w, kind, NULL, 0, data, n);
}

/* The end block, last: the blocks and bytes before it. */
bool
snap_write_end(SnapWriter *w)
{
	unsigned char end[END_BYTES];

	le_put64(end, w->blocks);
	le_put64(end + 8, w->bytes);
	return write_frame(w, SNAP_BLOCK_END, end, END_BYTES, NULL, 0);
}

void
snap_reader_init(SnapReader *r, SnapRead read, void *ctx)
{
	*r = (SnapReader) {read, ctx, 0, 0, 0, false};
}

/* Reads a block's kind and length; false if the file ends first. */
static bool
read_frame(SnapReader *r, unsigned char *frame, uint32_t *kind, uint32_t *n)
{
	if (!r->read(r->ctx, frame, FRAME_BYTES))
		return false;
	*kind = le_get32(frame);
	*n = le_get32(frame + 4);
	return true;
}

/* Reads the payload (n bytes, at most cap) and checksum of the block of frame. */
static SnapStatus
read_payload(SnapReader *r, const unsigned char *frame, unsigned char *buf, uint32_t n, uint32_t cap)
{
	unsigned char crc_bytes[4];

	/* Refused unread: a length beyond what the caller can hold is no length it wrote. */
	if (n > cap || n > SNAP_MAX_BLOCK)
		return SNAP_CORRUPT;
	if (!r->read(r->ctx, buf, n) || !r->read(r->ctx, crc_bytes, 4))
		return SNAP_TRUNCATED;
	if (le_get32(crc_bytes) != crc32c(crc32c(0, frame, FRAME_BYTES), buf, n))
		return SNAP_CORRUPT;
	return SNAP_OK;
}

/*
 * Reads the header block, the file's first: its description into
 * description (cap bytes; one longer is refused as corrupt), its length in
 * *n.
 */
SnapStatus
snap_read_header(SnapReader *r, void *description, uint32_t cap, uint32_t *n)
{
	unsigned char head[HEADER_FIELDS + SNAP_MAX_DESCRIPTION];
	uint32_t	kind;
	uint32_t	len;
	SnapStatus	status;

	unsigned char frame[FRAME_BYTES];

	if (r->blocks != 0)
		return SNAP_CORRUPT;
	cap = cap < SNAP_MAX_DESCRIPTION ? cap : SNAP_MAX_DESCRIPTION;
	if (!read_frame(r, frame, &kind, &len))
		return SNAP_TRUNCATED;
	if (kind != SNAP_BLOCK_HEADER)
		return SNAP_CORRUPT;
	status = read_payload(r, frame, head, len, HEADER_FIELDS + cap);
	if (status != SNAP_OK)
		return status;
	if (len < HEADER_FIELDS || le_get32(head) != SNAP_MAGIC)
		return SNAP_CORRUPT;
	r->version = le_get32(head + 4);
	if (r->version > SNAP_FORMAT_VERSION)
		return SNAP_TOO_NEW;
	if (r->version == 0)
		return SNAP_CORRUPT;
	*n = len - HEADER_FIELDS;
	memcpy(description, head + HEADER_FIELDS, *n);
	r->blocks = 1;
	r->bytes = len;
	return SNAP_OK;
}

/*
 * Reads the next block after the header: SNAP_OK with the caller's kind
 * and payload, or SNAP_END once the end block has matched what came before
 * it and nothing follows.
 */
SnapStatus
snap_read_block(SnapReader *r, uint32_t *kind, void *buf, uint32_t cap, uint32_t *n)
{
	unsigned char frame[FRAME_BYTES];
	unsigned char end[END_BYTES];
	unsigned char after;
	SnapStatus	status;

	if (r->blocks == 0 || r->ended)
		return SNAP_CORRUPT;
	if (!read_frame(r, frame, kind, n))
		return SNAP_TRUNCATED;
	if (*kind == SNAP_BLOCK_END)
	{
		if (*n != END_BYTES)
			return SNAP_CORRUPT;
		status = read_payload(r, frame, end, END_BYTES, END_BYTES);
		if (status != SNAP_OK)
			return status;
		if (le_get64(end) != r->blocks || le_get64(end + 8) != r->bytes || r->read(r->ctx, &after, 1))
			return SNAP_CORRUPT;
		r->ended = true;
		return SNAP_END;
	}
	if (*kind < SNAP_BLOCK_FIRST_FREE)
		return SNAP_CORRUPT;
	status = read_payload(r, frame, buf, *n, cap);
	if (status != SNAP_OK)
		return status;
	r->blocks++;
	r->bytes += *n;
	return SNAP_OK;
}

/*
 * Whether bytes[0..n) are exactly one whole block, its checksum right: so
 * a reader can check a block it found at a known offset (the last before
 * the end block, say) without reading the file through.
 */
bool
snap_block_in(const unsigned char *bytes, size_t n, uint32_t *kind,
			  const unsigned char **payload, uint32_t *len)
{
	if (n < SNAP_BLOCK_OVERHEAD)
		return false;
	*kind = le_get32(bytes);
	*len = le_get32(bytes + 4);
	if (*len != n - SNAP_BLOCK_OVERHEAD ||
		le_get32(bytes + FRAME_BYTES + *len) != crc32c(0, bytes, FRAME_BYTES + *len))
		return false;
	*payload = bytes + FRAME_BYTES;
	return true;
}

const char *
snap_status_text(SnapStatus status)
{
	switch (status)
	{
		case SNAP_OK:
			return "ok";
		case SNAP_END:
			return "complete";
		case SNAP_TRUNCATED:
			return "truncated";
		case SNAP_CORRUPT:
			return "corrupt";
		case SNAP_TOO_NEW:
			return "written by a newer format version";
	}
	return "unknown";
}
