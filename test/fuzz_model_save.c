/*
 * fuzz_model_save.c
 *		libFuzzer target: a model's snapshot reader on arbitrary bytes, as a
 *		damaged file would give them, into the model that
 *		test_model_save --sample writes its seed from.  It never reads past
 *		what it was given nor writes past what it holds (AddressSanitizer
 *		checks), and a model it loads from them whole saves and loads again.
 */
#include "../src/model_save.h"
#include "snap_stream.h"
#include "trained_model.h"

/* Loads in into t's empty model; the status. */
static ModelFileStatus
load(Trained *t, SnapStream *in)
{
	SnapReader	r;
	ModelFileHeader header;
	ModelFileSummary summary;
	char		definition[256];
	uint32_t	definition_len;
	unsigned char *buffer = malloc(model_file_buffer_bytes(&t->model));
	ModelFileStatus status;

	snap_reader_init(&r, stream_read, in);
	status = model_read_header(&r, &header, definition, sizeof(definition), &definition_len);
	if (status == MODEL_FILE_OK)
		status = model_load(&t->model, &t->heap.env, &r, &header, true, buffer, &summary);
	free(buffer);
	return status;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ModelConfig config = deepfm_config();
	SnapStream	in = {(unsigned char *) data, size, 0, 0};
	Trained		t;
	Trained		again;

	if (!trained_init(&t, &config, 2))
		abort();
	if (load(&t, &in) == MODEL_FILE_OK)
	{
		SnapStream	out = {malloc(16 << 20), 0, 16 << 20, 0};
		SnapWriter	w;
		ModelFileHeader header = {0};
		ModelFileSummary summary;
		unsigned char *buffer = malloc(model_file_buffer_bytes(&t.model));

		snap_writer_init(&w, stream_write, &out);
		if (model_save(&t.model, &t.heap.env, &w, &header, "", 0, buffer, &summary) != MODEL_FILE_OK ||
			summary.entries != t.model.table.live || !trained_init(&again, &config, 2) ||
			load(&again, &out) != MODEL_FILE_OK || again.model.table.live != t.model.table.live)
			abort();
		trained_free(&again);
		free(buffer);
		free(out.data);
	}
	trained_free(&t);
	return 0;
}
