/*
 * model_save.h
 *		A model's whole training state in a snapshot file, written while it
 *		trains and read back into an empty model.
 *
 * The file is snapshot_format.h's blocks: the header's description is a
 * ModelFileHeader (whose model, when, its sync position, its shape); then
 * the caller's definition of the model (text); the scalars (bias and its
 * optimizer state, counters of examples and of the filters' draws); the
 * dense weights and their optimizer state, and the admission sketch, each
 * in blocks of consecutive pieces; the entries, in blocks of records (key,
 * last seen, count, round of change, value with its optimizer state); and
 * a summary of what was written, last before the end block, found from the
 * file's tail without reading it through (model_file_tail).
 *
 * Writing is fuzzy: each piece is copied under the shared table lock, so
 * training goes on between pieces and races on floats as it does anyway;
 * no entry that lives throughout is missed (see ck_scan_down), and one
 * moved by a shrink meanwhile may be written twice, the later copy as new
 * as the earlier.  Scoring, which reads without the lock, never waits.
 * Reading fills an empty model of the same shape, a block under each hold
 * of the exclusive lock, admitting every key the file holds.
 */
#ifndef MONOLITH_MODEL_SAVE_H
#define MONOLITH_MODEL_SAVE_H

#include "model.h"
#include "snapshot_format.h"

/* The header's description. */
typedef struct ModelFileHeader
{
	/* The caller's, kept as given: */
	uint32_t	database;
	uint32_t	extension;
	int64_t		model_id;
	int64_t		taken_at;
	int64_t		incarnation;	/* of the state whose rounds the position counts */
	/* The model's, set by model_save as it begins: */
	uint32_t	round;			/* the round of changes under way: what changed from it on may be missing */
	uint64_t	ids;			/* live IDs */
	ModelConfig config;
	CuckooAdmission admission;
} ModelFileHeader;

/* What a file holds, from its summary block. */
typedef struct ModelFileSummary
{
	uint64_t	entries;		/* records, a key twice at most */
	uint64_t	dense_floats;	/* dense weights and their state */
	uint64_t	sketch_counters;
} ModelFileSummary;

typedef enum ModelFileStatus
{
	MODEL_FILE_OK,
	MODEL_FILE_TRUNCATED,
	MODEL_FILE_CORRUPT,
	MODEL_FILE_TOO_NEW,
	MODEL_FILE_OTHER_SHAPE,		/* whole, but of a model of another configuration */
	MODEL_FILE_NO_MEMORY,		/* the memory cap left no room for its entries */
	MODEL_FILE_WRITE_FAILED		/* the caller's write callback said so */
} ModelFileStatus;

/* Bytes of the file's tail that hold its summary block and end block. */
#define MODEL_FILE_TAIL_BYTES (SNAP_BLOCK_OVERHEAD + 24 + SNAP_END_BLOCK_BYTES)

extern size_t model_file_buffer_bytes(const Model *m);
extern ModelFileStatus model_save(Model *m, const CoreEnv *env, SnapWriter *w,
								  ModelFileHeader *header, const void *definition,
								  uint32_t definition_len, unsigned char *buffer,
								  ModelFileSummary *summary);
extern ModelFileStatus model_read_header(SnapReader *r, ModelFileHeader *header,
										 void *definition, uint32_t cap, uint32_t *definition_len);
extern ModelFileStatus model_load(Model *m, const CoreEnv *env, SnapReader *r,
								  const ModelFileHeader *header, bool keep_rounds,
								  unsigned char *buffer, ModelFileSummary *summary);
extern bool model_file_tail(const unsigned char *tail, ModelFileSummary *summary);
extern bool model_config_equal(const ModelConfig *a, const ModelConfig *b);
extern bool model_file_fits(const ModelFileHeader *header, const Model *m);
extern const char *model_file_status_text(ModelFileStatus status);

/*
 * Restoring from elsewhere (the sync's rows): between begin and end, the
 * model admits every key; end sets the round under way and notes for the
 * sync what has to be shipped (see ck_restart_rounds).
 */
typedef struct ModelRestore
{
	CuckooAdmission admission;
} ModelRestore;

extern void model_restore_begin(Model *m, ModelRestore *saved);
extern void model_restore_end(Model *m, const CoreEnv *env, const ModelRestore *saved,
							  uint32_t next_round, bool note_all);

#endif							/* MONOLITH_MODEL_SAVE_H */
