/*
 * test_model_save.c
 *		Unit tests of a model's snapshot files, outside PostgreSQL: a trained
 *		model comes back whole and predicts alike; the admission sketch and
 *		the dense weights come back; a file cut short or with a byte changed
 *		anywhere is refused, as is one of another shape; a save with entries
 *		moved between its pieces misses none; and a restore notes for the
 *		sync what it has to ship.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/model_save.h"
#include "../src/model_sync.h"
#include "snap_stream.h"
#include "trained_model.h"
#include "unit.h"

static ModelFileHeader
header_of(int64_t model_id)
{
	ModelFileHeader h;

	memset(&h, 0, sizeof(h));
	h.database = 5;
	h.extension = 16384;
	h.model_id = model_id;
	h.taken_at = 123456789;
	h.incarnation = 42;
	return h;
}

/* Saves t's model into a fresh stream; returns it, with the header and summary written. */
static SnapStream
save(Trained *t, ModelFileHeader *header, ModelFileSummary *summary)
{
	SnapStream	s = {malloc(64 << 20), 0, 64 << 20, 0};
	SnapWriter	w;
	unsigned char *buffer = malloc(model_file_buffer_bytes(&t->model));

	snap_writer_init(&w, stream_write, &s);
	*header = header_of(9);
	CHECK(model_save(&t->model, &t->heap.env, &w, header, "{\"name\":\"m\"}", 12, buffer, summary) ==
		  MODEL_FILE_OK, "model_save");
	free(buffer);
	return s;
}

/* Loads a stream into t's empty model; the status, and the header read. */
static ModelFileStatus
load(Trained *t, SnapStream *s, ModelFileHeader *header, bool keep_rounds)
{
	SnapReader	r;
	char		definition[64];
	uint32_t	definition_len = 0;
	ModelFileSummary summary;
	ModelFileStatus status;
	unsigned char *buffer = malloc(model_file_buffer_bytes(&t->model));

	s->at = 0;
	snap_reader_init(&r, stream_read, s);
	status = model_read_header(&r, header, definition, sizeof(definition), &definition_len);
	if (status == MODEL_FILE_OK)
		status = model_load(&t->model, &t->heap.env, &r, header, keep_rounds, buffer, &summary);
	free(buffer);
	return status;
}

/*
 * Restores t's empty model from a stream as a server does: the file, then
 * the round under way is the file's (with note_all, every key ships).
 */
static ModelFileStatus
restore_from(Trained *t, SnapStream *s, ModelFileHeader *header, bool keep_rounds, bool note_all)
{
	ModelRestore restore;
	ModelFileStatus status = load(t, s, header, keep_rounds);

	model_restore_begin(&t->model, &restore);
	model_restore_end(&t->model, &t->heap.env, &restore, status == MODEL_FILE_OK ? header->round : 1,
					  note_all);
	return status;
}

/* Compares every entry of a with b's entry of its key. */
typedef struct Compare
{
	Trained    *other;
	uint64_t	visited;
	uint64_t	differ;
} Compare;

static void
compare_entry(void *arg, const CuckooEntry *e)
{
	Compare    *c = arg;
	CuckooEntry *o = ck_find(&c->other->model.table, &c->other->heap.env, e->key);

	c->visited++;
	if (o == NULL || o->last_seen != e->last_seen ||
		(o->meta & CK_META_COUNT) != (e->meta & CK_META_COUNT) ||
		memcmp(CK_VALUE(o), CK_VALUE(e), c->other->model.value_floats * sizeof(float)) != 0)
		c->differ++;
}

/* A trained DeepFM saved and loaded: every entry, the dense part, the scalars, the predictions. */
static void
test_round_trip(void)
{
	ModelConfig config = deepfm_config();
	Trained		a;
	Trained		b;
	ModelFileHeader written;
	ModelFileHeader read;
	ModelFileSummary summary;
	ModelFileSummary tail;
	SnapStream	s;
	Compare		c;
	bool		same_predictions = true;

	EXPECT(trained_init(&a, &config, 1), "model_init");
	EXPECT(trained_init(&b, &config, 1), "model_init");
	train(&a, 0, 3000);
	s = save(&a, &written, &summary);
	CHECK(summary.entries == a.model.table.live, "%llu records for %llu IDs",
		  (unsigned long long) summary.entries, (unsigned long long) a.model.table.live);
	CHECK(written.ids == a.model.table.live && written.round == a.model.table.round,
		  "the header holds the IDs and the round at the start");
	CHECK(summary.dense_floats == a.model.dense_bytes / 4, "every dense float written");
	CHECK(model_file_tail(s.data + s.len - MODEL_FILE_TAIL_BYTES, &tail) &&
		  tail.entries == summary.entries, "the tail gives the summary");

	CHECK(restore_from(&b, &s, &read, true, false) == MODEL_FILE_OK, "load");
	CHECK(read.model_id == 9 && read.database == 5 && read.extension == 16384 &&
		  read.taken_at == 123456789 && read.incarnation == 42 && read.round == written.round,
		  "the header's fields come back");
	CHECK(model_config_equal(&read.config, &a.model.config), "the configuration comes back");
	CHECK(b.model.table.live == a.model.table.live, "%llu IDs back of %llu",
		  (unsigned long long) b.model.table.live, (unsigned long long) a.model.table.live);
	c = (Compare) {&b, 0, 0};
	ck_scan(&a.model.table, &a.heap.env, compare_entry, &c);
	CHECK(c.differ == 0, "%llu of %llu entries differ", (unsigned long long) c.differ,
		  (unsigned long long) c.visited);
	CHECK(memcmp(model_dense(&a.model, &a.heap.env), model_dense(&b.model, &b.heap.env),
				 a.model.dense_bytes) == 0, "dense weights and their state come back");
	CHECK(memcmp(a.model.bias, b.model.bias, sizeof(a.model.bias)) == 0 &&
		  a.model.examples == b.model.examples, "bias, its state and the examples count come back");
	for (uint64_t i = 0; i < 500; i++)
		same_predictions &= example_step(&a, i, false) == example_step(&b, i, false);
	CHECK(same_predictions, "the loaded model predicts exactly as the saved one");
	/* And trains on alike: the optimizer state came back too. */
	train(&a, 3000, 200);
	train(&b, 3000, 200);
	same_predictions = true;
	for (uint64_t i = 0; i < 500; i++)
		same_predictions &= example_step(&a, i, false) == example_step(&b, i, false);
	CHECK(same_predictions, "both train on to the same model");
	free(s.data);
	trained_free(&a);
	trained_free(&b);
}

/* The sketch comes back: a key seen once before the save is admitted at its second sighting after. */
static void
test_sketch_round_trip(void)
{
	ModelConfig config = deepfm_config();
	Trained		a;
	Trained		b;
	ModelFileHeader header;
	ModelFileSummary summary;
	SnapStream	s;
	uint64_t	live;

	config.n_layers = 0;
	config.width[0] = config.width[1] = 0;
	EXPECT(trained_init(&a, &config, 2), "model_init");
	EXPECT(trained_init(&b, &config, 2), "model_init");
	train(&a, 0, 50);
	live = a.model.table.live;
	s = save(&a, &header, &summary);
	CHECK(summary.sketch_counters == (uint64_t) 4 << 10, "the sketch is written");
	{
		ModelFileStatus status = restore_from(&b, &s, &header, false, false);

		CHECK(status == MODEL_FILE_OK, "load: %s", model_file_status_text(status));
	}
	CHECK(b.model.table.live == live, "the admitted come back");
	/* Example 97's user (97 % 97) was seen once, in example 0: its second sighting admits it on both. */
	train(&a, 97, 1);
	train(&b, 97, 1);
	CHECK(b.model.table.live == a.model.table.live && a.model.table.live > live,
		  "a key sighted before the save is admitted alike after it (%llu, %llu)",
		  (unsigned long long) a.model.table.live, (unsigned long long) b.model.table.live);
	free(s.data);
	trained_free(&a);
	trained_free(&b);
}

/* A file cut anywhere, or with any one byte changed, is refused; never a crash, never OK. */
static void
test_damage_refused(void)
{
	ModelConfig config = deepfm_config();
	Trained		a;
	ModelFileHeader header;
	ModelFileSummary summary;
	SnapStream	s;
	int			cut_ok = 0;
	int			flip_ok = 0;
	int			tried = 0;

	EXPECT(trained_init(&a, &config, 1), "model_init");
	train(&a, 0, 400);
	s = save(&a, &header, &summary);
	for (size_t len = 0; len < s.len; len += 1 + len / 7)
	{
		SnapStream	cut = {s.data, len, 0, 0};
		Trained		b;

		EXPECT(trained_init(&b, &config, 1), "model_init");
		cut_ok += load(&b, &cut, &header, false) == MODEL_FILE_OK;
		trained_free(&b);
		tried++;
	}
	CHECK(cut_ok == 0, "%d of %d files cut short were taken as whole", cut_ok, tried);
	tried = 0;
	for (size_t at = 0; at < s.len; at += 1 + at / 5)
	{
		Trained		b;
		ModelFileStatus status;

		s.data[at] ^= 0x10;
		EXPECT(trained_init(&b, &config, 1), "model_init");
		status = load(&b, &s, &header, false);
		flip_ok += status == MODEL_FILE_OK;
		trained_free(&b);
		s.data[at] ^= 0x10;
		tried++;
	}
	CHECK(flip_ok == 0, "%d of %d files with a byte changed were taken as whole", flip_ok, tried);
	free(s.data);
	trained_free(&a);
}

/* A file of another shape is refused before anything is read into the model. */
static void
test_other_shape(void)
{
	ModelConfig config = deepfm_config();
	ModelConfig wider = deepfm_config();
	Trained		a;
	Trained		b;
	ModelFileHeader header;
	ModelFileSummary summary;
	SnapStream	s;

	wider.dim = 16;
	EXPECT(trained_init(&a, &config, 1), "model_init");
	EXPECT(trained_init(&b, &wider, 1), "model_init");
	train(&a, 0, 100);
	s = save(&a, &header, &summary);
	CHECK(load(&b, &s, &header, false) == MODEL_FILE_OTHER_SHAPE, "another dim is another shape");
	CHECK(b.model.table.live == 0, "and nothing was read into the model");
	free(s.data);
	trained_free(&a);
	trained_free(&b);
	/* The admission filter is part of the shape: its sketch would not fit. */
	EXPECT(trained_init(&a, &config, 1), "model_init");
	EXPECT(trained_init(&b, &config, 3), "model_init");
	train(&a, 0, 100);
	s = save(&a, &header, &summary);
	CHECK(load(&b, &s, &header, false) == MODEL_FILE_OTHER_SHAPE, "another admission is another shape");
	free(s.data);
	trained_free(&a);
	trained_free(&b);
}

/* Gives back a chunk between a save's pieces, moving entries down past its cursor. */
static Trained *shrinking;
static uint64_t moved_before;

static void
shrink_between_pieces(void *lock_ctx __attribute__((unused)))
{
	const CoreEnv *env = &shrinking->heap.env;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	model_shrink(&shrinking->model, env, ck_chunk_bytes(&shrinking->model.table), 16);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
}

/*
 * Entries moved from the arena's top to free references below, between the
 * pieces of a save (as a shrink under memory pressure does): every key that
 * lives throughout is in the file.
 */
static void
test_save_misses_no_moved_key(void)
{
	ModelConfig config = deepfm_config();
	Trained		a;
	Trained		b;
	ModelFileHeader header;
	ModelFileSummary summary;
	SnapStream	s;
	Compare		c;
	uint64_t	deleted = 0;

	config.dim = 64;				/* wide entries: a piece of the save is 1,941 of them */
	EXPECT(trained_init(&a, &config, 1), "model_init");
	EXPECT(trained_init(&b, &config, 1), "model_init");
	a.heap.env.lock(a.heap.env.lock_ctx, CK_LOCK_TABLE, true);
	for (int64_t user = 0; user < 10000; user++)
	{
		CuckooEntry *e;

		ck_insert_exclusive(&a.model.table, &a.heap.env, featkey_int(0, user), 1, NULL, &e);
	}
	/* Free references low in the arena, for the shrink to move the top chunks' entries to. */
	for (int64_t user = 0; user < 4000; user += 2)
		deleted += ck_delete(&a.model.table, &a.heap.env, featkey_int(0, user));
	a.heap.env.unlock(a.heap.env.lock_ctx, CK_LOCK_TABLE);
	moved_before = a.model.table.relocations;
	shrinking = &a;
	a.heap.env.between_pieces = shrink_between_pieces;
	s = save(&a, &header, &summary);
	a.heap.env.between_pieces = NULL;
	CHECK(a.model.table.relocations > moved_before, "the shrink moved entries during the save (%llu)",
		  (unsigned long long) (a.model.table.relocations - moved_before));
	CHECK(restore_from(&b, &s, &header, false, false) == MODEL_FILE_OK, "load");
	c = (Compare) {&b, 0, 0};
	ck_scan(&a.model.table, &a.heap.env, compare_entry, &c);
	CHECK(c.differ == 0, "%llu of the %llu live keys are missing or differ", (unsigned long long) c.differ,
		  (unsigned long long) c.visited);
	CHECK(summary.entries >= a.model.table.live, "records: %llu for %llu keys (a moved key twice at most)",
		  (unsigned long long) summary.entries, (unsigned long long) a.model.table.live);
	free(s.data);
	trained_free(&a);
	trained_free(&b);
}

/* Counts the keys a round's collection ships. */
static uint32_t
keys_shipped(Trained *t)
{
	uint64_t	keys[4096];
	float	   *params = malloc(sizeof(float) * 4096 * model_serving_floats(&t->model));
	uint32_t	cursor = 0;
	uint32_t	n = 0;
	bool		more = true;

	CHECK(model_cut_changes(&t->model, &t->heap.env), "cut");
	while (more)
		n += model_collect_changes(&t->model, &t->heap.env, &cursor, 4096, keys, params, &more);
	model_release_changes(&t->model, &t->heap.env);
	free(params);
	return n;
}

/*
 * A restore's end notes for the sync what it must ship: the entries that
 * changed from the round it continues at on, or with note_all, all.
 */
static void
test_restore_notes_changes(void)
{
	ModelConfig config = deepfm_config();
	Trained		a;
	Trained		b;
	ModelFileHeader header;
	ModelFileSummary summary;
	SnapStream	s;
	uint32_t	late_round;
	uint64_t	live_before;

	EXPECT(trained_init(&a, &config, 1), "model_init");
	train(&a, 0, 1000);
	(void) keys_shipped(&a);
	late_round = a.model.table.round;
	live_before = a.model.table.live;
	/* New users only: what changes in the late round is theirs and the items and contexts. */
	for (uint64_t i = 0; i < 3; i++)
	{
		uint64_t	keys[SLOTS] = {featkey_int(0, 100000 + (int64_t) i), featkey_int(1, 100000), featkey_int(2, 100000)};
		uint32_t	slot_end[SLOTS] = {1, 2, 3};
		float		numeric[NUMERIC] = {0, 0};
		Example		ex = {keys, slot_end, numeric};
		ModelWork	work = {a.entries, a.floats};

		model_train(&a.model, &a.heap.env, &ex, 1.0, 5000, &work);
	}
	s = save(&a, &header, &summary);

	EXPECT(trained_init(&b, &config, 1), "model_init");
	CHECK(restore_from(&b, &s, &header, true, false) == MODEL_FILE_OK, "load");
	CHECK(b.model.table.round == late_round, "the restored round is under way");
	CHECK(keys_shipped(&b) == 5, "the next round ships the 5 keys of the late round, %llu IDs in all",
		  (unsigned long long) live_before);
	trained_free(&b);

	EXPECT(trained_init(&b, &config, 1), "model_init");
	CHECK(restore_from(&b, &s, &header, false, true) == MODEL_FILE_OK, "load");
	CHECK(keys_shipped(&b) == b.model.table.live, "with note_all, the next round ships every key");
	free(s.data);
	trained_free(&a);
	trained_free(&b);
}

/* Writes a sample file: the fuzzer's seed, of the model it loads into (fuzz_model_save.c). */
static int
write_sample(const char *path)
{
	ModelConfig config = deepfm_config();
	Trained		t;
	ModelFileHeader header;
	ModelFileSummary summary;
	SnapStream	s;
	FILE	   *out;
	bool		ok;

	if (!trained_init(&t, &config, 2))
		return 1;
	train(&t, 0, 300);
	s = save(&t, &header, &summary);
	out = fopen(path, "wb");
	ok = out != NULL && fwrite(s.data, 1, s.len, out) == s.len;
	if (out != NULL)
		ok &= fclose(out) == 0;
	free(s.data);
	trained_free(&t);
	return ok ? 0 : 1;
}

/* With --sample PATH, writes the sample file to PATH and exits. */
int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--sample") == 0)
		return write_sample(argv[2]);
	test_round_trip();
	test_sketch_round_trip();
	test_damage_refused();
	test_other_shape();
	test_save_misses_no_moved_key();
	test_restore_notes_changes();
	return unit_finish("test_model_save");
}
