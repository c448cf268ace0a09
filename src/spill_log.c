/*
 * spill_log.c
 *		A byte log that stays in memory up to a budget and spills to a
 *		temporary file (a BufFile, as a tuplestore does) beyond it, so that
 *		logging ten million rows takes no more memory than logging a few.
 *
 * Writes go at the log's end; cutting the log back only moves the end (it
 * cannot fail, so an abort may do it), and later writes overwrite what was
 * cut.  Reading starts at a rewind and
 * goes forward to the end; the log takes no writes while it is read.
 */
#include "postgres.h"

#include "commands/tablespace.h"
#include "utils/memutils.h"

#include "spill_log.h"

/* Bytes the in-memory buffer starts with. */
#define SPILL_LOG_INITIAL_BYTES 8192

/* An empty log whose memory and file belong to context and owner. */
void
spill_log_init(SpillLog *log, size_t memory_budget, MemoryContext context, ResourceOwner owner)
{
	memset(log, 0, sizeof(SpillLog));
	log->context = context;
	log->owner = owner;
	log->memory_budget = Max(memory_budget, SPILL_LOG_INITIAL_BYTES);
}

/* Moves the file's position to offset, which is at most the file's size. */
static void
file_seek(SpillLog *log, uint64 offset)
{
	if (BufFileSeekBlock(log->file, (long) (offset / BLCKSZ)) != 0 ||
		BufFileSeek(log->file, 0, (off_t) (offset % BLCKSZ), SEEK_CUR) != 0)
		elog(ERROR, "could not seek in a temporary file of captured examples");
}

/* Moves the log from memory to a new temporary file. */
static void
spill(SpillLog *log)
{
	MemoryContext old_context = MemoryContextSwitchTo(log->context);
	ResourceOwner old_owner = CurrentResourceOwner;

	CurrentResourceOwner = log->owner;
	PrepareTempTablespaces();
	log->file = BufFileCreateTemp(false);
	CurrentResourceOwner = old_owner;
	MemoryContextSwitchTo(old_context);
	BufFileWrite(log->file, log->buffer, log->length);
	log->file_at_end = true;
	pfree(log->buffer);
	log->buffer = NULL;
	log->capacity = 0;
}

/* Appends n bytes at the log's end. */
void
spill_log_append(SpillLog *log, const void *data, size_t n)
{
	Assert(!log->reading);
	if (log->file == NULL && log->length + n > log->capacity)
	{
		if (log->length + n > log->memory_budget)
			spill(log);
		else
		{
			size_t		capacity = Max(log->capacity * 2, SPILL_LOG_INITIAL_BYTES);

			while (capacity < log->length + n)
				capacity *= 2;
			capacity = Min(capacity, log->memory_budget);
			log->buffer = log->buffer == NULL ?
				MemoryContextAlloc(log->context, capacity) :
				repalloc(log->buffer, capacity);
			log->capacity = capacity;
		}
	}
	if (log->file != NULL)
	{
		if (!log->file_at_end)
			file_seek(log, log->length);
		log->file_at_end = true;
		BufFileWrite(log->file, (void *) data, n);
	}
	else
		memcpy(log->buffer + log->length, data, n);
	log->length += n;
}

/* Cuts the log back to its first length bytes. */
void
spill_log_truncate(SpillLog *log, uint64 length)
{
	Assert(!log->reading && length <= log->length);
	log->length = length;
	log->file_at_end = false;
}

/* Sends reading back to the start; the log takes no more writes. */
void
spill_log_rewind(SpillLog *log)
{
	log->reading = true;
	log->read_at = 0;
	log->file_at_end = false;
	if (log->file != NULL)
		file_seek(log, 0);
}

/* Reads the next n bytes; errors if the log ends before them. */
void
spill_log_read(SpillLog *log, void *data, size_t n)
{
	Assert(log->reading);
	if (log->read_at + n > log->length)
		elog(ERROR, "read past the end of a log of captured examples");
	/* BufFileRead raises its own I/O errors; a short read is the file's end. */
	if (log->file == NULL)
		memcpy(data, log->buffer + log->read_at, n);
	else if (BufFileRead(log->file, data, n) != n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("temporary file of captured examples ends early")));
	log->read_at += n;
}

/*
 * Empties the log without touching its file, which its resource owner
 * closes: for aborts, where closing could fail writing the file's buffer.
 */
void
spill_log_forget(SpillLog *log)
{
	spill_log_init(log, log->memory_budget, log->context, log->owner);
}

/* Gives back the log's memory and file; the log is empty after. */
void
spill_log_close(SpillLog *log)
{
	if (log->file != NULL)
		BufFileClose(log->file);
	if (log->buffer != NULL)
		pfree(log->buffer);
	spill_log_init(log, log->memory_budget, log->context, log->owner);
}
