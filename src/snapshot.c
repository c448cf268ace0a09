/*
 * snapshot.c
 *		Snapshot files of models: written, listed, read back and pruned.
 *
 * A database's snapshots live in monolith/snapshots/<database oid>/ under
 * the data directory, so that base backups carry them, one file a
 * snapshot, named <extension oid>-<model id>-<taken at, in microseconds>.snap
 * (the format is model_save.h's).  A snapshot is written to a temporary
 * name of its writer's pid, fsynced, and renamed durably (durable_rename:
 * the file, the rename and the directory reach the disk in that order), so
 * a crash at any moment leaves every earlier snapshot whole and at worst a
 * temporary file, which the database's worker removes once its writer is
 * gone.  Once a snapshot is in place the model's older ones beyond
 * monolith.snapshots_kept are removed.  A model's files go when its state
 * is freed for good (drop_model, DROP EXTENSION, DROP DATABASE), at commit.
 *
 * Nothing here takes a lock of its own: the model's table lock is taken
 * by model_save and model_load, a piece at a time, and two writers of one
 * model write two files.
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "snapshot.h"

int			monolith_snapshots_kept = 3;

#define SNAPSHOT_ROOT "monolith"
#define SNAPSHOT_DIR SNAPSHOT_ROOT "/snapshots"
#define SNAPSHOT_SUFFIX ".snap"
#define TEMP_SUFFIX ".tmp"
/* Bytes read or written at once. */
#define IO_BUFFER_BYTES (4 << 20)
/* Bytes of a model's definition (its row, as JSON) a file may hold. */
#define MAX_DEFINITION_BYTES (1 << 20)

/* The directory of a database's snapshots. */
static void
database_dir(Oid database, char *path)
{
	snprintf(path, MAXPGPATH, "%s/%u", SNAPSHOT_DIR, database);
}

/* Makes a directory unless it exists; a new one's entry in its parent reaches the disk. */
static void
make_dir(const char *path, const char *parent)
{
	if (MakePGDirectory(path) == 0)
		fsync_fname(parent, true);
	else if (errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", path)));
}

static bool
parse_name(const char *name, SnapshotFile *f)
{
	unsigned int extension;
	long long	model_id;
	long long	taken_at;
	int			end = 0;

	if (sscanf(name, "%u-%lld-%lld" SNAPSHOT_SUFFIX "%n", &extension, &model_id, &taken_at, &end) != 3 ||
		name[end] != '\0')
		return false;
	f->extension = (Oid) extension;
	f->model_id = (int64) model_id;
	f->taken_at = (TimestampTz) taken_at;
	return true;
}

/* Model first, then the newest first. */
static int
file_order(const void *a, const void *b)
{
	const SnapshotFile *x = a;
	const SnapshotFile *y = b;

	if (x->model_id != y->model_id)
		return x->model_id < y->model_id ? -1 : 1;
	return x->taken_at > y->taken_at ? -1 : x->taken_at < y->taken_at ? 1 : 0;
}

/*
 * The snapshot files of this database's installation extension, of one
 * model (model_id, or all if negative), by model and newest first, in
 * *files (palloc'd); returns how many.
 */
int
snapshot_files(Oid extension, int64 model_id, SnapshotFile **files)
{
	char		dir[MAXPGPATH];
	DIR		   *d;
	struct dirent *de;
	int			n = 0;
	int			cap = 16;

	database_dir(MyDatabaseId, dir);
	*files = palloc(sizeof(SnapshotFile) * cap);
	d = AllocateDir(dir);
	if (d == NULL && errno == ENOENT)
		return 0;
	while ((de = ReadDir(d, dir)) != NULL)
	{
		SnapshotFile f;

		if (!parse_name(de->d_name, &f) || f.extension != extension ||
			(model_id >= 0 && f.model_id != model_id))
			continue;
		snprintf(f.path, MAXPGPATH, "%s/%s", dir, de->d_name);
		if (n == cap)
		{
			cap *= 2;
			*files = repalloc(*files, sizeof(SnapshotFile) * cap);
		}
		(*files)[n++] = f;
	}
	FreeDir(d);
	qsort(*files, n, sizeof(SnapshotFile), file_order);
	return n;
}

/* A file read or written through a buffer, for snapshot_format's callbacks. */
typedef struct FileStream
{
	int			fd;
	const char *path;
	unsigned char *buf;
	size_t		len;			/* bytes in buf: to write, or read and not yet taken */
	size_t		at;				/* reading: where the next byte is taken from */
	uint64		total;			/* bytes written through it */
	off_t		written;		/* of those, to the file */
} FileStream;

static void
stream_open(FileStream *s, const char *path, int flags)
{
	s->path = path;
	s->fd = OpenTransientFile(path, flags | PG_BINARY);
	s->buf = palloc(IO_BUFFER_BYTES);
	s->len = s->at = 0;
	s->total = 0;
	s->written = 0;
}

/*
 * Writes out the buffer, asks the kernel to start writing it to disk (as
 * checkpoints do), and waits for the buffer before it to be on disk: so a
 * snapshot goes at the disk's pace, encoding one buffer while the disk
 * takes the one before, rather than filling the page cache with gigabytes
 * of dirty pages for the final fsync (and for the kernel to throttle other
 * writers over) at the speed of a CPU, which scorers need meanwhile.
 */
static void
stream_flush(FileStream *s)
{
	size_t		done = 0;

	while (done < s->len)
	{
		ssize_t		n = write(s->fd, s->buf + done, s->len - done);

		if (n <= 0)
		{
			/* A short write with no errno set means no room. */
			if (n == 0 || errno == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", s->path)));
		}
		done += n;
	}
	pg_flush_data(s->fd, s->written, s->len);
#ifdef HAVE_SYNC_FILE_RANGE
	if (s->written > 0 &&
		sync_file_range(s->fd, s->written - IO_BUFFER_BYTES, IO_BUFFER_BYTES,
						SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", s->path)));
#endif
	s->written += s->len;
	s->len = 0;
}

/* SnapWrite: errors out of the core's writer, which holds no lock while it writes. */
static bool
stream_write(void *ctx, const void *data, size_t n)
{
	FileStream *s = ctx;
	const unsigned char *p = data;

	s->total += n;
	while (n > 0)
	{
		size_t		take = Min(n, IO_BUFFER_BYTES - s->len);

		memcpy(s->buf + s->len, p, take);
		s->len += take;
		p += take;
		n -= take;
		if (s->len == IO_BUFFER_BYTES)
			stream_flush(s);
	}
	return true;
}

/* Reads into buf up to n bytes; how many, 0 at the end or on a read error, logged. */
static size_t
read_some(FileStream *s, void *buf, size_t n)
{
	ssize_t		got = read(s->fd, buf, n);

	if (got < 0)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", s->path)));
	return got > 0 ? (size_t) got : 0;
}

/*
 * SnapRead: false at the file's end, and on a read error (the file is then
 * as if cut there).  What the buffer does not hold of a large request (a
 * block of entries) is read straight into the caller's memory.
 */
static bool
stream_read(void *ctx, void *out, size_t n)
{
	FileStream *s = ctx;
	unsigned char *p = out;

	while (n > 0)
	{
		size_t		take;

		if (s->at == s->len && n >= IO_BUFFER_BYTES / 16)
		{
			take = read_some(s, p, n);
			if (take == 0)
				return false;
			p += take;
			n -= take;
			continue;
		}
		if (s->at == s->len)
		{
			s->len = read_some(s, s->buf, IO_BUFFER_BYTES);
			s->at = 0;
			if (s->len == 0)
				return false;
		}
		take = Min(n, s->len - s->at);
		memcpy(p, s->buf + s->at, take);
		s->at += take;
		p += take;
		n -= take;
	}
	return true;
}

/* The model's definition as stored, its row as JSON, for the file to carry. */
static text *
definition_json(const ModelDef *def)
{
	InternalQuery q;
	Oid			type = INT8OID;
	Datum		value = Int64GetDatum(def->id);
	bool		isnull = true;
	text	   *json = NULL;

	internal_begin(&q);
	internal_run("SELECT pg_catalog.row_to_json(d)::pg_catalog.text FROM monolith.model_definitions d "
				 "WHERE d.id OPERATOR(pg_catalog.=) $1",
				 1, &type, &value, true, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext old = MemoryContextSwitchTo(q.caller);

		if (!isnull)
			json = DatumGetTextPCopy(d);
		MemoryContextSwitchTo(old);
	}
	internal_end(&q);
	if (json == NULL || VARSIZE_ANY_EXHDR(json) > MAX_DEFINITION_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" was dropped", def->name)));
	return json;
}

/* Removes a file, saying at elevel (not above WARNING) if it could not. */
static void
remove_file(const char *path, int elevel)
{
	Assert(elevel < ERROR);
	if (unlink(path) != 0 && errno != ENOENT)
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", path)));
}

/* Removes the model's oldest snapshots beyond monolith.snapshots_kept. */
static void
prune(const ModelDef *def)
{
	SnapshotFile *files;
	int			n = snapshot_files(def->extension, def->id, &files);

	for (int i = monolith_snapshots_kept; i < n; i++)
		remove_file(files[i].path, WARNING);
	pfree(files);
}

/* Says, at elevel, why model's snapshot file cannot be used; detail may be NULL. */
void
snapshot_report(int elevel, const SnapshotFile *file, const char *model, ModelFileStatus status,
				const char *detail)
{
	ereport(elevel,
			(errcode(status == MODEL_FILE_NO_MEMORY ? ERRCODE_OUT_OF_MEMORY : ERRCODE_DATA_CORRUPTED),
			 errmsg("snapshot \"%s\" of model \"%s\" is %s", file->path, model,
					model_file_status_text(status)),
			 detail != NULL ? errdetail("%s", detail) : 0));
}

/*
 * Writes a snapshot of the handle's model (see the top of the file); the
 * file it made, what it holds and its bytes.  Errors leave no file.
 */
void
snapshot_take(ModelHandle *h, SnapshotFile *file, ModelFileSummary *summary, uint64 *bytes)
{
	char		dir[MAXPGPATH];
	char		temp[MAXPGPATH];
	text	   *definition = definition_json(&h->def);
	unsigned char *buffer = palloc(model_file_buffer_bytes(h->model));
	ModelFileHeader header = {0};
	FileStream	s;
	SnapWriter	w;

	make_dir(SNAPSHOT_ROOT, ".");
	make_dir(SNAPSHOT_DIR, SNAPSHOT_ROOT);
	database_dir(MyDatabaseId, dir);
	make_dir(dir, SNAPSHOT_DIR);

	file->extension = h->def.extension;
	file->model_id = h->def.id;
	file->taken_at = GetCurrentTimestamp();
	snprintf(file->path, MAXPGPATH, "%s/%u-" INT64_FORMAT "-" INT64_FORMAT SNAPSHOT_SUFFIX,
			 dir, file->extension, file->model_id, file->taken_at);
	snprintf(temp, MAXPGPATH, "%s.%d" TEMP_SUFFIX, file->path, MyProcPid);

	stream_open(&s, temp, O_WRONLY | O_CREAT | O_TRUNC);
	if (s.fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", temp)));
	PG_TRY();
	{
		header.database = MyDatabaseId;
		header.extension = file->extension;
		header.model_id = file->model_id;
		header.taken_at = file->taken_at;
		header.incarnation = shmem_incarnation(h);
		snap_writer_init(&w, stream_write, &s);
		if (model_save(h->model, &h->env, &w, &header, VARDATA_ANY(definition),
					   VARSIZE_ANY_EXHDR(definition), buffer, summary) != MODEL_FILE_OK)
			elog(ERROR, "the snapshot of model \"%s\" was not written", h->def.name);
		stream_flush(&s);
		if (pg_fsync(s.fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not fsync file \"%s\": %m", temp)));
		if (CloseTransientFile(s.fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not close file \"%s\": %m", temp)));
		s.fd = -1;
		(void) durable_rename(temp, file->path, ERROR);
	}
	PG_CATCH();
	{
		/* The descriptor is closed by the abort; the name goes now. */
		(void) unlink(temp);
		PG_RE_THROW();
	}
	PG_END_TRY();
	*bytes = s.total;
	pfree(s.buf);
	pfree(buffer);
	prune(&h->def);
}

/*
 * Opens a snapshot file for reading, through s and r, and reads its header
 * and definition.  A file that cannot be opened (logged), or whose header
 * names another model than its name does, is corrupt.  Close it with
 * close_snapshot, whatever the status.
 */
static ModelFileStatus
open_snapshot(FileStream *s, SnapReader *r, const SnapshotFile *file, ModelFileHeader *header)
{
	char	   *definition;
	uint32		definition_len;
	ModelFileStatus status;

	stream_open(s, file->path, O_RDONLY);
	if (s->fd < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", file->path)));
		return MODEL_FILE_CORRUPT;
	}
	(void) posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	snap_reader_init(r, stream_read, s);
	definition = palloc(MAX_DEFINITION_BYTES);
	status = model_read_header(r, header, definition, MAX_DEFINITION_BYTES, &definition_len);
	pfree(definition);
	if (status == MODEL_FILE_OK &&
		(header->database != MyDatabaseId || header->extension != file->extension ||
		 header->model_id != file->model_id || header->taken_at != file->taken_at))
		status = MODEL_FILE_CORRUPT;
	return status;
}

static void
close_snapshot(FileStream *s)
{
	if (s->fd >= 0)
		CloseTransientFile(s->fd);
	pfree(s->buf);
}

/*
 * Reads a snapshot file into the handle's empty model (see model_load),
 * its entries keeping their rounds of change if it is of the state
 * incarnation rounds_of; the header read, and what the file holds.
 */
ModelFileStatus
snapshot_load(ModelHandle *h, const SnapshotFile *file, TimestampTz rounds_of,
			  ModelFileHeader *header, ModelFileSummary *summary)
{
	FileStream	s;
	SnapReader	r;
	ModelFileStatus status = open_snapshot(&s, &r, file, header);

	if (status == MODEL_FILE_OK)
	{
		unsigned char *buffer = palloc(model_file_buffer_bytes(h->model));

		status = model_load(h->model, &h->env, &r, header, header->incarnation == rounds_of,
							buffer, summary);
		pfree(buffer);
	}
	close_snapshot(&s);
	return status;
}

/*
 * Whether a snapshot file would load whole into the handle's model: it is
 * of its shape, and every block's checksum and the end are right.  Reads
 * it through; loads nothing.
 */
ModelFileStatus
snapshot_check(const ModelHandle *h, const SnapshotFile *file)
{
	FileStream	s;
	SnapReader	r;
	ModelFileHeader header;
	ModelFileStatus status = open_snapshot(&s, &r, file, &header);

	if (status == MODEL_FILE_OK && !model_file_fits(&header, h->model))
		status = MODEL_FILE_OTHER_SHAPE;
	if (status == MODEL_FILE_OK)
	{
		uint32		cap = (uint32) model_file_buffer_bytes(h->model);
		unsigned char *buffer = palloc(cap);
		uint32		n;
		uint32		kind;
		SnapStatus	block;

		while ((block = snap_read_block(&r, &kind, buffer, cap, &n)) == SNAP_OK)
			;
		if (block != SNAP_END)
			status = block == SNAP_TRUNCATED ? MODEL_FILE_TRUNCATED :
				block == SNAP_TOO_NEW ? MODEL_FILE_TOO_NEW : MODEL_FILE_CORRUPT;
		pfree(buffer);
	}
	close_snapshot(&s);
	return status;
}

/*
 * What a snapshot file's header and tail say, without reading it through:
 * its header (status MODEL_FILE_OK if it is whole and its summary is in
 * place, at the end), its summary and its size.
 */
ModelFileStatus
snapshot_describe(const SnapshotFile *file, ModelFileHeader *header, ModelFileSummary *summary,
				  uint64 *bytes)
{
	FileStream	s;
	SnapReader	r;
	unsigned char tail[MODEL_FILE_TAIL_BYTES];
	struct stat st;
	ModelFileStatus status = open_snapshot(&s, &r, file, header);

	*bytes = s.fd >= 0 && fstat(s.fd, &st) == 0 ? st.st_size : 0;
	if (status == MODEL_FILE_OK &&
		(*bytes < MODEL_FILE_TAIL_BYTES ||
		 pg_pread(s.fd, tail, sizeof(tail), *bytes - sizeof(tail)) != sizeof(tail) ||
		 !model_file_tail(tail, summary)))
		status = MODEL_FILE_TRUNCATED;
	close_snapshot(&s);
	return status;
}

/*
 * Removes the snapshot files of the states a release of scope and key
 * frees for good (see lifecycle.c); at commit or abort, so nothing here
 * may fail: what cannot be removed is logged.
 */
void
snapshot_forget(ReleaseScope scope, const ModelKey *key)
{
	char		dir[MAXPGPATH];
	char		path[MAXPGPATH];
	DIR		   *d;
	struct dirent *de;

	database_dir(key->dboid, dir);
	d = AllocateDir(dir);
	if (d == NULL)
		return;
	while ((de = ReadDirExtended(d, dir, LOG)) != NULL)
	{
		unsigned int extension;
		long long	model_id;
		long long	taken_at;

		/* Temporary files too: their names begin as their snapshots' do. */
		if (sscanf(de->d_name, "%u-%lld-%lld", &extension, &model_id, &taken_at) != 3)
			continue;
		if (scope == RELEASE_MODEL && ((Oid) extension != key->extension || (int64) model_id != key->id))
			continue;
		if (scope == RELEASE_INSTALLATION && (Oid) extension != key->extension)
			continue;
		snprintf(path, MAXPGPATH, "%s/%s", dir, de->d_name);
		remove_file(path, LOG);
	}
	FreeDir(d);
	if (scope == RELEASE_DATABASE && rmdir(dir) != 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove directory \"%s\": %m", dir)));
}

/*
 * Removes this database's temporary snapshot files whose writers are gone:
 * those of a crash, say.  The writer's pid is in the name.
 */
void
snapshot_forget_unfinished(void)
{
	char		dir[MAXPGPATH];
	char		path[MAXPGPATH];
	DIR		   *d;
	struct dirent *de;

	database_dir(MyDatabaseId, dir);
	d = AllocateDir(dir);
	if (d == NULL)
		return;
	while ((de = ReadDirExtended(d, dir, LOG)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		const char *pid_at;
		int			pid;

		if (len <= strlen(TEMP_SUFFIX) || strcmp(de->d_name + len - strlen(TEMP_SUFFIX), TEMP_SUFFIX) != 0 ||
			(pid_at = strstr(de->d_name, SNAPSHOT_SUFFIX ".")) == NULL ||
			sscanf(pid_at + strlen(SNAPSHOT_SUFFIX) + 1, "%d", &pid) != 1)
			continue;
		if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, MAXPGPATH, "%s/%s", dir, de->d_name);
		remove_file(path, LOG);
	}
	FreeDir(d);
}
