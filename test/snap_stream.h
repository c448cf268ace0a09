/*
 * snap_stream.h
 *		An in-memory stream for snapshot_format's callbacks, for its tests
 *		and fuzzer.
 */
#ifndef MONOLITH_SNAP_STREAM_H
#define MONOLITH_SNAP_STREAM_H

#include <stdlib.h>
#include <string.h>

#include "../src/snapshot_format.h"

typedef struct SnapStream
{
	unsigned char *data;
	size_t		len;			/* written, or to read */
	size_t		cap;			/* writing: room; 0 makes writes fail */
	size_t		at;				/* reading: position */
} SnapStream;

static inline bool
stream_write(void *ctx, const void *data, size_t n)
{
	SnapStream *s = ctx;

	if (s->len + n > s->cap)
		return false;
	memcpy(s->data + s->len, data, n);
	s->len += n;
	return true;
}

static inline bool
stream_read(void *ctx, void *buf, size_t n)
{
	SnapStream *s = ctx;

	if (n > s->len - s->at)
		return false;
	memcpy(buf, s->data + s->at, n);
	s->at += n;
	return true;
}

#endif							/* MONOLITH_SNAP_STREAM_H */
