/*
 * spill_log.h
 *		An append-only log of bytes in backend memory that moves to a
 *		temporary file once it outgrows a budget; it can be cut back to an
 *		earlier length and read back from the start.
 */
#ifndef MONOLITH_SPILL_LOG_H
#define MONOLITH_SPILL_LOG_H

#include "postgres.h"

#include "storage/buffile.h"
#include "utils/resowner.h"

typedef struct SpillLog
{
	MemoryContext context;		/* of the buffer and the file's state */
	ResourceOwner owner;		/* the file's: it must outlive the log */
	size_t		memory_budget;
	char	   *buffer;			/* the whole log until it spills */
	size_t		capacity;
	BufFile    *file;			/* the whole log once it spilled, else NULL */
	uint64		length;			/* bytes in the log */
	uint64		read_at;		/* where the next read starts */
	bool		file_at_end;	/* the file's position is the log's end */
	bool		reading;
} SpillLog;

extern void spill_log_init(SpillLog *log, size_t memory_budget, MemoryContext context,
						   ResourceOwner owner);
extern void spill_log_append(SpillLog *log, const void *data, size_t n);
extern void spill_log_truncate(SpillLog *log, uint64 length);
extern void spill_log_rewind(SpillLog *log);
extern void spill_log_read(SpillLog *log, void *data, size_t n);
extern void spill_log_close(SpillLog *log);
extern void spill_log_forget(SpillLog *log);

#endif							/* MONOLITH_SPILL_LOG_H */
