/*
 * fuzz_snapshot_format.c
 *		libFuzzer target: the snapshot reader on arbitrary bytes, as a damaged
 *		file would give them.  It never reads past what it was given
 *		(AddressSanitizer checks), and whatever it reads as a whole file
 *		writes back to the same bytes.
 */
#include "snap_stream.h"

#define ROOM 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SnapStream	in = {(unsigned char *) data, size, 0, 0};
	SnapStream	out = {malloc(size + 1), 0, size + 1, 0};
	unsigned char *buf = malloc(ROOM);
	SnapReader	r;
	SnapWriter	w;
	uint32_t	kind;
	uint32_t	n;
	SnapStatus	status;

	snap_reader_init(&r, stream_read, &in);
	snap_writer_init(&w, stream_write, &out);
	status = snap_read_header(&r, buf, ROOM, &n);
	if (status == SNAP_OK)
		snap_write_header(&w, buf, n);
	while (status == SNAP_OK)
	{
		status = snap_read_block(&r, &kind, buf, ROOM, &n);
		if (status == SNAP_OK)
			snap_write_block(&w, kind, buf, n);
	}
	if (status == SNAP_END)
	{
		snap_write_end(&w);
		if (w.failed || out.len != size || memcmp(out.data, data, size) != 0)
			abort();
	}
	free(buf);
	free(out.data);
	return 0;
}
