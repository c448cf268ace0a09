/*
 * model_save.c
 *		Writing a model's training state to a snapshot file and reading it
 *		back (see model_save.h).
 */
#include <string.h>

#include "byteorder.h"
#include "model_save.h"
#include "sketch.h"

/* The caller's kinds of block, in the order a file holds them. */
enum
{
	BLOCK_DEFINITION = SNAP_BLOCK_FIRST_FREE,
	BLOCK_SCALARS,
	BLOCK_DENSE,
	BLOCK_SKETCH,
	BLOCK_ENTRIES,
	BLOCK_SUMMARY
};

/* Bytes of a block of entries, about: a piece copied under one hold of the lock. */
#define ENTRY_BLOCK_BYTES (1u << 20)
/* Floats of dense weights, and sketch counters, a block. */
#define DENSE_PIECE_FLOATS (1u << 18)
#define SKETCH_PIECE_COUNTERS (1u << 19)
/* An entry's record before its value: key, last seen, count, round. */
#define RECORD_HEAD_BYTES 20
#define SCALARS_BYTES (4 * MODEL_BIAS_FLOATS + 4 * 8)
#define SUMMARY_BYTES 24
/* Bytes of the header's description. */
#define HEADER_BYTES 256
/* Records a load looks ahead of the one it inserts. */
#define LOAD_PREFETCH 8

/*
 * Fields of the header, written or read by one list of them: a cursor over
 * the description's bytes that never passes its end.
 */
typedef struct Fields
{
	unsigned char *p;
	const unsigned char *end;
	bool		writing;
	bool		overran;
} Fields;

static unsigned char *
field_room(Fields *f, size_t n)
{
	unsigned char *at = f->p;

	if ((size_t) (f->end - f->p) < n)
	{
		f->overran = true;
		return NULL;
	}
	f->p += n;
	return at;
}

static void
field32(Fields *f, uint32_t *v)
{
	unsigned char *at = field_room(f, 4);

	if (at != NULL && f->writing)
		le_put32(at, *v);
	else if (at != NULL)
		*v = le_get32(at);
}

static void
field64(Fields *f, uint64_t *v)
{
	unsigned char *at = field_room(f, 8);

	if (at != NULL && f->writing)
		le_put64(at, *v);
	else if (at != NULL)
		*v = le_get64(at);
}

static void
field_i64(Fields *f, int64_t *v)
{
	uint64_t	u = (uint64_t) *v;

	field64(f, &u);
	*v = (int64_t) u;
}

static void
field_float(Fields *f, float *v)
{
	uint32_t	bits;

	memcpy(&bits, v, 4);
	field32(f, &bits);
	memcpy(v, &bits, 4);
}

static void
field_double(Fields *f, double *v)
{
	uint64_t	bits;

	memcpy(&bits, v, 8);
	field64(f, &bits);
	memcpy(v, &bits, 8);
}

static void
optimizer_fields(Fields *f, Optimizer *o)
{
	uint32_t	kind = (uint32_t) o->kind;

	field32(f, &kind);
	o->kind = (OptimizerKind) kind;
	field_float(f, &o->learning_rate);
	field_float(f, &o->l1);
	field_float(f, &o->l2);
}

/* Every field of the header, in the file's order. */
static void
header_fields(Fields *f, ModelFileHeader *h)
{
	ModelConfig *c = &h->config;

	field32(f, &h->database);
	field32(f, &h->extension);
	field_i64(f, &h->model_id);
	field_i64(f, &h->taken_at);
	field_i64(f, &h->incarnation);
	field32(f, &h->round);
	field64(f, &h->ids);
	field32(f, &c->n_slots);
	field32(f, &c->n_numeric);
	field32(f, &c->dim);
	field32(f, &c->n_layers);
	for (int l = 0; l < MODEL_MAX_LAYERS; l++)
		field32(f, &c->width[l]);
	optimizer_fields(f, &c->weight_optimizer);
	optimizer_fields(f, &c->embedding_optimizer);
	optimizer_fields(f, &c->dense_optimizer);
	field_float(f, &c->init_scale);
	field_double(f, &c->negative_rate);
	field64(f, &c->hash_rows);
	field64(f, &c->seed);
	field32(f, &h->admission.min_count);
	field_double(f, &h->admission.probability);
	field64(f, &h->admission.seed);
	field32(f, &h->admission.sketch_width_log2);
}

/* Whether a header read holds a shape that some model could have. */
static bool
header_plausible(const ModelFileHeader *h)
{
	const ModelConfig *c = &h->config;

	if (c->n_slots < 1 || c->n_slots > MODEL_MAX_SLOTS || c->n_numeric > MODEL_MAX_NUMERIC ||
		c->dim < 1 || c->dim > MODEL_MAX_DIM || c->n_layers > MODEL_MAX_LAYERS ||
		h->admission.sketch_width_log2 > 30)
		return false;
	for (uint32_t l = 0; l < MODEL_MAX_LAYERS; l++)
		if (c->width[l] > MODEL_MAX_WIDTH || (l < c->n_layers) != (c->width[l] > 0))
			return false;
	return c->weight_optimizer.kind < OPTIM_N_KINDS && c->embedding_optimizer.kind < OPTIM_N_KINDS &&
		c->dense_optimizer.kind < OPTIM_N_KINDS;
}

static bool
optimizer_equal(const Optimizer *a, const Optimizer *b)
{
	return a->kind == b->kind && a->learning_rate == b->learning_rate && a->l1 == b->l1 && a->l2 == b->l2;
}

/* Whether two configurations make the same model, field by field. */
bool
model_config_equal(const ModelConfig *a, const ModelConfig *b)
{
	return a->n_slots == b->n_slots && a->n_numeric == b->n_numeric && a->dim == b->dim &&
		a->n_layers == b->n_layers && memcmp(a->width, b->width, sizeof(a->width)) == 0 &&
		optimizer_equal(&a->weight_optimizer, &b->weight_optimizer) &&
		optimizer_equal(&a->embedding_optimizer, &b->embedding_optimizer) &&
		optimizer_equal(&a->dense_optimizer, &b->dense_optimizer) &&
		a->init_scale == b->init_scale && a->negative_rate == b->negative_rate &&
		a->hash_rows == b->hash_rows && a->seed == b->seed;
}

static bool
admission_equal(const CuckooAdmission *a, const CuckooAdmission *b)
{
	return a->min_count == b->min_count && a->probability == b->probability &&
		a->seed == b->seed && a->sketch_width_log2 == b->sketch_width_log2;
}

/* Whether a file of this header is of m's shape, to load into it. */
bool
model_file_fits(const ModelFileHeader *header, const Model *m)
{
	return model_config_equal(&header->config, &m->config) &&
		admission_equal(&header->admission, &m->table.config.admission);
}

/* Bytes of an entry's record. */
static size_t
record_bytes(const Model *m)
{
	return RECORD_HEAD_BYTES + (size_t) m->value_floats * 4;
}

/* Records of one block of entries: references a piece looks at. */
static uint32_t
records_per_block(const Model *m)
{
	size_t		n = ENTRY_BLOCK_BYTES / record_bytes(m);

	return n > 0 ? (uint32_t) n : 1;
}

static uint64_t
dense_floats(const Model *m)
{
	return m->dense_bytes / sizeof(float);
}

static uint64_t
sketch_counters(const Model *m)
{
	return m->table.sketch != 0 ? (uint64_t) SKETCH_ROWS << m->table.config.admission.sketch_width_log2 : 0;
}

/* Bytes of the scratch buffer that model_save and model_load take. */
size_t
model_file_buffer_bytes(const Model *m)
{
	size_t		entries = 4 + (size_t) records_per_block(m) * record_bytes(m);
	size_t		dense = 8 + (size_t) DENSE_PIECE_FLOATS * 4;
	size_t		sketch = 8 + (size_t) SKETCH_PIECE_COUNTERS * 2;
	size_t		most = entries > dense ? entries : dense;

	return most > sketch ? most : sketch;
}

static void
between_pieces(const CoreEnv *env)
{
	if (env->between_pieces != NULL)
		env->between_pieces(env->lock_ctx);
}

/* Where a piece of entries is copied to. */
typedef struct EntrySink
{
	const Model *m;
	unsigned char *at;
	uint32_t	n;
} EntrySink;

static void
save_entry(void *arg, const CuckooEntry *e)
{
	EntrySink  *s = arg;

	le_put64(s->at, e->key);
	le_put32(s->at + 8, __atomic_load_n(&e->last_seen, __ATOMIC_RELAXED));
	le_put32(s->at + 12, __atomic_load_n(&e->meta, __ATOMIC_RELAXED) & CK_META_COUNT);
	le_put32(s->at + 16, __atomic_load_n(&e->round, __ATOMIC_RELAXED));
	le_put_floats(s->at + RECORD_HEAD_BYTES, CK_VALUE(e), s->m->value_floats);
	s->at += record_bytes(s->m);
	s->n++;
}

/* Writes the scalars: the bias and its state, then the counters. */
static bool
save_scalars(Model *m, const CoreEnv *env, SnapWriter *w, unsigned char *buf)
{
	float		bias[MODEL_BIAS_FLOATS];

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	for (int i = 0; i < MODEL_BIAS_FLOATS; i++)
		__atomic_load(&m->bias[i], &bias[i], __ATOMIC_RELAXED);
	le_put_floats(buf, bias, MODEL_BIAS_FLOATS);
	le_put64(buf + 16, __atomic_load_n(&m->examples, __ATOMIC_RELAXED));
	le_put64(buf + 24, __atomic_load_n(&m->negatives_offered, __ATOMIC_RELAXED));
	le_put64(buf + 32, __atomic_load_n(&m->table.sketch_increments, __ATOMIC_RELAXED));
	le_put64(buf + 40, __atomic_load_n(&m->table.admission_draws, __ATOMIC_RELAXED));
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return snap_write_block(w, BLOCK_SCALARS, buf, SCALARS_BYTES);
}

/* Writes the dense weights and their state, a piece a block. */
static bool
save_dense(Model *m, const CoreEnv *env, SnapWriter *w, unsigned char *buf)
{
	uint64_t	total = dense_floats(m);

	for (uint64_t at = 0; at < total; at += DENSE_PIECE_FLOATS)
	{
		uint32_t	n = total - at < DENSE_PIECE_FLOATS ? (uint32_t) (total - at) : DENSE_PIECE_FLOATS;

		env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
		le_put64(buf, at);
		le_put_floats(buf + 8, model_dense(m, env) + at, n);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		if (!snap_write_block(w, BLOCK_DENSE, buf, 8 + n * 4))
			return false;
		between_pieces(env);
	}
	return true;
}

/* Writes the admission sketch's counters, a piece a block. */
static bool
save_sketch(Model *m, const CoreEnv *env, SnapWriter *w, unsigned char *buf)
{
	uint64_t	total = sketch_counters(m);

	for (uint64_t at = 0; at < total; at += SKETCH_PIECE_COUNTERS)
	{
		uint32_t	n = total - at < SKETCH_PIECE_COUNTERS ? (uint32_t) (total - at) : SKETCH_PIECE_COUNTERS;
		const uint16_t *counters;

		env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
		counters = (const uint16_t *) env_address(env, m->table.sketch) + at;
		le_put64(buf, at);
		for (uint32_t i = 0; i < n; i++)
		{
			uint16_t	c = __atomic_load_n(&counters[i], __ATOMIC_RELAXED);

			buf[8 + 2 * i] = (unsigned char) c;
			buf[9 + 2 * i] = (unsigned char) (c >> 8);
		}
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		if (!snap_write_block(w, BLOCK_SKETCH, buf, 8 + n * 2))
			return false;
		between_pieces(env);
	}
	return true;
}

/* Writes the entries, a block a hold of the shared lock, from the top reference down. */
static bool
save_entries(Model *m, const CoreEnv *env, SnapWriter *w, unsigned char *buf, uint64_t *written)
{
	uint32_t	cursor = UINT32_MAX;
	bool		more = true;

	while (more)
	{
		EntrySink	sink = {m, buf + 4, 0};

		env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
		more = ck_scan_down(&m->table, env, &cursor, records_per_block(m), save_entry, &sink);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		if (sink.n > 0)
		{
			le_put32(buf, sink.n);
			if (!snap_write_block(w, BLOCK_ENTRIES, buf, (uint32_t) (sink.at - buf)))
				return false;
			*written += sink.n;
		}
		between_pieces(env);
	}
	return true;
}

/*
 * Writes the model's whole state through w (see the top of model_save.h),
 * with the caller's fields of header and its definition; sets the rest of
 * header, and what was written in *summary.  buffer holds
 * model_file_buffer_bytes().  The table lock is taken shared a piece at a
 * time, and env's between_pieces called between pieces.
 */
ModelFileStatus
model_save(Model *m, const CoreEnv *env, SnapWriter *w, ModelFileHeader *header,
		   const void *definition, uint32_t definition_len, unsigned char *buffer,
		   ModelFileSummary *summary)
{
	unsigned char description[HEADER_BYTES];
	Fields		f = {description, description + HEADER_BYTES, true, false};

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	header->round = __atomic_load_n(&m->table.round, __ATOMIC_RELAXED);
	header->ids = __atomic_load_n(&m->table.live, __ATOMIC_RELAXED);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	header->config = m->config;
	header->admission = m->table.config.admission;
	header_fields(&f, header);

	*summary = (ModelFileSummary) {0, dense_floats(m), sketch_counters(m)};
	if (!snap_write_header(w, description, (uint32_t) (f.p - description)) ||
		!snap_write_block(w, BLOCK_DEFINITION, definition, definition_len) ||
		!save_scalars(m, env, w, buffer) || !save_dense(m, env, w, buffer) ||
		!save_sketch(m, env, w, buffer) || !save_entries(m, env, w, buffer, &summary->entries))
		return MODEL_FILE_WRITE_FAILED;
	le_put64(buffer, summary->entries);
	le_put64(buffer + 8, summary->dense_floats);
	le_put64(buffer + 16, summary->sketch_counters);
	if (!snap_write_block(w, BLOCK_SUMMARY, buffer, SUMMARY_BYTES) || !snap_write_end(w))
		return MODEL_FILE_WRITE_FAILED;
	return MODEL_FILE_OK;
}

static ModelFileStatus
status_of(SnapStatus s)
{
	switch (s)
	{
		case SNAP_OK:
		case SNAP_END:
			return MODEL_FILE_OK;
		case SNAP_TRUNCATED:
			return MODEL_FILE_TRUNCATED;
		case SNAP_TOO_NEW:
			return MODEL_FILE_TOO_NEW;
		case SNAP_CORRUPT:
			break;
	}
	return MODEL_FILE_CORRUPT;
}

/*
 * Reads a file's header and the definition after it (cap bytes at most;
 * a longer one is refused as corrupt).
 */
ModelFileStatus
model_read_header(SnapReader *r, ModelFileHeader *header, void *definition, uint32_t cap,
				  uint32_t *definition_len)
{
	unsigned char description[SNAP_MAX_DESCRIPTION];
	uint32_t	n;
	uint32_t	kind;
	Fields		f;
	SnapStatus	s = snap_read_header(r, description, sizeof(description), &n);

	if (s != SNAP_OK)
		return status_of(s);
	memset(header, 0, sizeof(*header));
	f = (Fields) {description, description + n, false, false};
	header_fields(&f, header);
	/* A later version may add fields at the end, never take any away. */
	if (f.overran || !header_plausible(header))
		return MODEL_FILE_CORRUPT;
	s = snap_read_block(r, &kind, definition, cap, definition_len);
	if (s != SNAP_OK)
		return status_of(s == SNAP_END ? SNAP_CORRUPT : s);
	return kind == BLOCK_DEFINITION ? MODEL_FILE_OK : MODEL_FILE_CORRUPT;
}

/* What a load has read so far, to check each block against. */
typedef struct LoadState
{
	bool		scalars;
	uint64_t	dense_at;
	uint64_t	sketch_at;
	uint64_t	entries;
	bool		summary;
} LoadState;

static bool
load_scalars(Model *m, const CoreEnv *env, const unsigned char *p, uint32_t n, LoadState *st)
{
	if (st->scalars || n != SCALARS_BYTES)
		return false;
	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	le_get_floats(m->bias, p, MODEL_BIAS_FLOATS);
	m->examples = le_get64(p + 16);
	m->negatives_offered = le_get64(p + 24);
	m->table.sketch_increments = le_get64(p + 32);
	m->table.admission_draws = le_get64(p + 40);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	st->scalars = true;
	return true;
}

/* A block of consecutive pieces (dense or sketch): its first index must be *at, its items fit. */
static bool
piece_fits(const unsigned char *p, uint32_t n, uint32_t item_bytes, uint64_t total, uint64_t at,
		   uint32_t *items)
{
	if (n < 8 || (n - 8) % item_bytes != 0 || le_get64(p) != at)
		return false;
	*items = (n - 8) / item_bytes;
	return *items > 0 && *items <= total - at;
}

static bool
load_dense(Model *m, const CoreEnv *env, const unsigned char *p, uint32_t n, LoadState *st)
{
	uint32_t	items;

	if (!piece_fits(p, n, 4, dense_floats(m), st->dense_at, &items))
		return false;
	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	le_get_floats(model_dense(m, env) + st->dense_at, p + 8, items);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	st->dense_at += items;
	return true;
}

static bool
load_sketch(Model *m, const CoreEnv *env, const unsigned char *p, uint32_t n, LoadState *st)
{
	uint32_t	items;
	uint16_t   *counters;

	if (!piece_fits(p, n, 2, sketch_counters(m), st->sketch_at, &items))
		return false;
	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	counters = (uint16_t *) env_address(env, m->table.sketch) + st->sketch_at;
	for (uint32_t i = 0; i < items; i++)
		counters[i] = (uint16_t) (p[8 + 2 * i] | (p[9 + 2 * i] << 8));
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	st->sketch_at += items;
	return true;
}

/*
 * Inserts a block's records under one hold of the exclusive lock; a key
 * already there (written twice) takes the later record.
 */
static ModelFileStatus
load_entries(Model *m, const CoreEnv *env, const unsigned char *p, uint32_t n, bool keep_rounds,
			 LoadState *st)
{
	uint32_t	count;
	ModelFileStatus status = MODEL_FILE_OK;

	if (n < 4)
		return MODEL_FILE_CORRUPT;
	count = le_get32(p);
	if (count == 0 || (uint64_t) count * record_bytes(m) != n - 4)
		return MODEL_FILE_CORRUPT;
	p += 4;
	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	for (uint32_t i = 0; i < count; i++, p += record_bytes(m))
	{
		CuckooEntry *e;

		/* Random places in a big index: the next keys' misses overlap this one's work. */
		if (i + LOAD_PREFETCH < count)
			ck_prefetch(&m->table, env, le_get64(p + LOAD_PREFETCH * record_bytes(m)));

		if (ck_insert_exclusive(&m->table, env, le_get64(p), le_get32(p + 8), NULL, &e) == CK_NO_MEMORY)
		{
			status = MODEL_FILE_NO_MEMORY;
			break;
		}
		e->last_seen = le_get32(p + 8);
		e->meta = CK_META_LIVE | (le_get32(p + 12) & CK_META_COUNT);
		e->round = keep_rounds ? le_get32(p + 16) : 0;
		le_get_floats(CK_VALUE(e), p + RECORD_HEAD_BYTES, m->value_floats);
	}
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	st->entries += count;
	return status;
}

/* Whether the summary block matches what was read, and the model's whole dense part and sketch were. */
static bool
load_summary(const Model *m, const unsigned char *p, uint32_t n, LoadState *st, ModelFileSummary *summary)
{
	if (n != SUMMARY_BYTES)
		return false;
	summary->entries = le_get64(p);
	summary->dense_floats = le_get64(p + 8);
	summary->sketch_counters = le_get64(p + 16);
	st->summary = true;
	return summary->entries == st->entries && summary->dense_floats == st->dense_at &&
		summary->sketch_counters == st->sketch_at && st->dense_at == dense_floats(m) &&
		st->sketch_at == sketch_counters(m) && st->scalars;
}

/*
 * Reads the rest of a file whose header model_read_header gave into m,
 * an empty model of header's shape (else MODEL_FILE_OTHER_SHAPE, having
 * read nothing more); each entry keeps its round of change with
 * keep_rounds, else gets round 0.  Anything but MODEL_FILE_OK leaves the
 * model part-filled, for the caller to empty; either way the caller ends
 * with model_restore_end before anyone else uses it.
 */
ModelFileStatus
model_load(Model *m, const CoreEnv *env, SnapReader *r, const ModelFileHeader *header,
		   bool keep_rounds, unsigned char *buffer, ModelFileSummary *summary)
{
	LoadState	st = {0};
	uint32_t	cap = (uint32_t) model_file_buffer_bytes(m);

	if (!model_file_fits(header, m))
		return MODEL_FILE_OTHER_SHAPE;
	for (;;)
	{
		uint32_t	kind;
		uint32_t	n;
		SnapStatus	s = snap_read_block(r, &kind, buffer, cap, &n);
		bool		fits;

		if (s == SNAP_END)
			return st.summary ? MODEL_FILE_OK : MODEL_FILE_CORRUPT;
		if (s != SNAP_OK)
			return status_of(s);
		/* Only the end may follow the summary. */
		if (st.summary)
			return MODEL_FILE_CORRUPT;
		switch (kind)
		{
			case BLOCK_SCALARS:
				fits = load_scalars(m, env, buffer, n, &st);
				break;
			case BLOCK_DENSE:
				fits = load_dense(m, env, buffer, n, &st);
				break;
			case BLOCK_SKETCH:
				fits = load_sketch(m, env, buffer, n, &st);
				break;
			case BLOCK_ENTRIES:
				{
					ModelFileStatus status = load_entries(m, env, buffer, n, keep_rounds, &st);

					if (status != MODEL_FILE_OK)
						return status;
					fits = true;
					break;
				}
			case BLOCK_SUMMARY:
				fits = load_summary(m, buffer, n, &st, summary);
				break;
			default:
				fits = false;
		}
		if (!fits)
			return MODEL_FILE_CORRUPT;
		between_pieces(env);
	}
}

/*
 * The summary of a file from its last MODEL_FILE_TAIL_BYTES bytes; false
 * unless they are a whole summary block and end block.
 */
bool
model_file_tail(const unsigned char *tail, ModelFileSummary *summary)
{
	const unsigned char *payload;
	const unsigned char *end_payload;
	uint32_t	kind;
	uint32_t	end_kind;
	uint32_t	n;
	uint32_t	end_n;

	if (!snap_block_in(tail, SNAP_BLOCK_OVERHEAD + SUMMARY_BYTES, &kind, &payload, &n) ||
		kind != BLOCK_SUMMARY ||
		!snap_block_in(tail + SNAP_BLOCK_OVERHEAD + SUMMARY_BYTES, SNAP_END_BLOCK_BYTES,
					   &end_kind, &end_payload, &end_n) || end_kind != SNAP_BLOCK_END)
		return false;
	summary->entries = le_get64(payload);
	summary->dense_floats = le_get64(payload + 8);
	summary->sketch_counters = le_get64(payload + 16);
	return true;
}

const char *
model_file_status_text(ModelFileStatus status)
{
	switch (status)
	{
		case MODEL_FILE_OK:
			return "whole";
		case MODEL_FILE_TRUNCATED:
			return "truncated";
		case MODEL_FILE_CORRUPT:
			return "corrupt";
		case MODEL_FILE_TOO_NEW:
			return "written by a newer format version";
		case MODEL_FILE_OTHER_SHAPE:
			return "of a model of another configuration";
		case MODEL_FILE_NO_MEMORY:
			return "larger than the memory cap allows";
		case MODEL_FILE_WRITE_FAILED:
			return "not written";
	}
	return "unknown";
}

/* Opens the model's admission to every key, keeping its own for model_restore_end. */
void
model_restore_begin(Model *m, ModelRestore *saved)
{
	saved->admission = m->table.config.admission;
	m->table.config.admission.min_count = 1;
	m->table.config.admission.probability = 1.0;
}

/*
 * Gives the model its admission back, and sets the round under way for the
 * sync (see ck_restart_rounds): the model is then whole, for anyone to use.
 */
void
model_restore_end(Model *m, const CoreEnv *env, const ModelRestore *saved, uint32_t next_round,
				  bool note_all)
{
	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	m->table.config.admission = saved->admission;
	ck_restart_rounds(&m->table, env, next_round, note_all);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
}
