/*
 * snapshot.h
 *		Snapshot files of models under the data directory (see snapshot.c).
 */
#ifndef MONOLITH_SNAPSHOT_H
#define MONOLITH_SNAPSHOT_H

#include "postgres.h"

#include "model_save.h"
#include "shmem.h"

extern int	monolith_snapshots_kept;

/* One snapshot file of a model, as its name tells. */
typedef struct SnapshotFile
{
	char		path[MAXPGPATH];	/* relative to the data directory */
	Oid			extension;
	int64		model_id;
	TimestampTz taken_at;
} SnapshotFile;

extern int	snapshot_files(Oid extension, int64 model_id, SnapshotFile **files);
extern void snapshot_take(ModelHandle *h, SnapshotFile *file, ModelFileSummary *summary,
						  uint64 *bytes);
extern ModelFileStatus snapshot_load(ModelHandle *h, const SnapshotFile *file, TimestampTz rounds_of,
									 ModelFileHeader *header, ModelFileSummary *summary);
extern ModelFileStatus snapshot_check(const ModelHandle *h, const SnapshotFile *file);
extern ModelFileStatus snapshot_describe(const SnapshotFile *file, ModelFileHeader *header,
										 ModelFileSummary *summary, uint64 *bytes);
extern void snapshot_report(int elevel, const SnapshotFile *file, const char *model,
							ModelFileStatus status, const char *detail);
extern void snapshot_forget(ReleaseScope scope, const ModelKey *key);
extern void snapshot_forget_unfinished(void);

#endif							/* MONOLITH_SNAPSHOT_H */
