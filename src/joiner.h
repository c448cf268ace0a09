/*
 * joiner.h
 *		Online joiners: actions joined to the impressions they answer train
 *		positives, impressions left unanswered when their window closes train
 *		negatives, both at commit.
 */
#ifndef MONOLITH_JOINER_H
#define MONOLITH_JOINER_H

#include "postgres.h"

/*
 * The ids of this database's joiners, into memory of context, in a
 * transaction; 0 if monolith has none here.
 */
extern int	joiner_list(int64 **ids, MemoryContext context);
/*
 * One short piece of a joiner's timed work, in the caller's transaction:
 * closing windows, then deleting what retention let go.  Returns true when
 * nothing is left to do for now (or the joiner is gone).
 */
extern bool joiner_work(int64 id);

#endif							/* MONOLITH_JOINER_H */
