/*
 * auc_spill.c
 *		ROC AUC of any number of examples within a memory budget (work_mem):
 *		examples are kept in memory up to the budget; beyond it each full
 *		buffer is sorted (the core's radix sort) and written to a temporary
 *		file as a run, and at the end the runs and what is still in memory
 *		are merged into one sweep in order of score (metrics_auc_sweep_*),
 *		which gives what sorting them all at once would.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "auc_spill.h"

/* Examples read from a run at a time while merging. */
#define RUN_READ_ITEMS 256
#define INITIAL_ITEMS 1024

static void
collector_reset(void *arg)
{
	auc_collector_end((AucCollector *) arg);
}

/*
 * Sets up an empty collector in context, spilling past budget_bytes.  Its
 * temporary file lives until the context is reset or deleted, whichever way
 * that happens (the end of an aggregate's group or query, or an error): the
 * file belongs to no resource owner, so nothing else closes it first.
 */
void
auc_collector_init(AucCollector *c, MemoryContext context, size_t budget_bytes)
{
	MemoryContextCallback *callback = MemoryContextAlloc(context, sizeof(MemoryContextCallback));

	memset(c, 0, sizeof(*c));
	c->context = context;
	callback->func = collector_reset;
	callback->arg = c;
	MemoryContextRegisterResetCallback(context, callback);
	/* The radix sort takes a copy as large as what it sorts. */
	c->max_items = Max(budget_bytes / (2 * sizeof(ScoredLabel)), INITIAL_ITEMS);
	c->capacity = INITIAL_ITEMS;
	c->items = MemoryContextAlloc(context, sizeof(ScoredLabel) * c->capacity);
}

/* Writes the examples in memory, sorted, as a new run. */
static void
spill_run(AucCollector *c)
{
	MemoryContext old = MemoryContextSwitchTo(c->context);
	AucRun	   *run;

	if (c->file == NULL)
		c->file = BufFileCreateTemp(true);
	if (c->n_runs == c->runs_capacity)
	{
		c->runs_capacity = Max(2 * c->runs_capacity, 16);
		c->runs = c->runs == NULL ? palloc(sizeof(AucRun) * c->runs_capacity) :
			repalloc(c->runs, sizeof(AucRun) * c->runs_capacity);
	}
	run = &c->runs[c->n_runs++];
	metrics_sort_by_score(c->items, c->n);
	/* Merging reads may have moved the file's position since the last run. */
	if (BufFileSeek(c->file, c->end_fileno, c->end_offset, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in the temporary file of AUC examples")));
	run->fileno = c->end_fileno;
	run->offset = c->end_offset;
	BufFileWrite(c->file, c->items, sizeof(ScoredLabel) * c->n);
	BufFileTell(c->file, &c->end_fileno, &c->end_offset);
	run->length = c->n;
	c->n = 0;
	MemoryContextSwitchTo(old);
}

/* Adds one example, spilling a run when the budget is full. */
void
auc_collector_add(AucCollector *c, double score, double label)
{
	if (c->n == c->capacity)
	{
		if (c->capacity < c->max_items)
		{
			c->capacity = Min(2 * c->capacity, c->max_items);
			c->items = repalloc_huge(c->items, sizeof(ScoredLabel) * c->capacity);
		}
		else
			spill_run(c);
	}
	c->items[c->n++] = (ScoredLabel) {score, label};
}

/* A run being merged: its next examples, read a few at a time. */
typedef struct RunReader
{
	int			fileno;			/* where its unread part starts */
	off_t		offset;
	size_t		unread;
	ScoredLabel *buffer;
	size_t		buffered;
	size_t		next;
} RunReader;

/* Whether the reader has an example at next, reading more if need be. */
static bool
reader_ready(BufFile *file, RunReader *r)
{
	size_t		n;

	if (r->next < r->buffered)
		return true;
	if (r->unread == 0)
		return false;
	n = Min(r->unread, RUN_READ_ITEMS);
	if (BufFileSeek(file, r->fileno, r->offset, SEEK_SET) != 0 ||
		BufFileRead(file, r->buffer, sizeof(ScoredLabel) * n) != sizeof(ScoredLabel) * n)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read a spilled run of AUC examples")));
	BufFileTell(file, &r->fileno, &r->offset);
	r->unread -= n;
	r->buffered = n;
	r->next = 0;
	return true;
}

static inline double
reader_score(const RunReader *r)
{
	return r->buffer[r->next].score;
}

/* Restores the heap order of heap[0..n) below position i (a min-heap by score). */
static void
sift_down(RunReader **heap, int n, int i)
{
	for (;;)
	{
		int			least = i;
		int			l = 2 * i + 1;
		RunReader  *t;

		if (l < n && reader_score(heap[l]) < reader_score(heap[least]))
			least = l;
		if (l + 1 < n && reader_score(heap[l + 1]) < reader_score(heap[least]))
			least = l + 1;
		if (least == i)
			return;
		t = heap[i];
		heap[i] = heap[least];
		heap[least] = t;
		i = least;
	}
}

/*
 * The AUC of every example added so far, NaN when either class has zero
 * weight.  It leaves the collector able to take more examples and answer
 * again, as an aggregate's final function used in a window must.
 */
double
auc_collector_auc(AucCollector *c)
{
	MemoryContext old;
	RunReader  *readers;
	RunReader **heap;
	int			n_heap = 0;
	AucSweep	sweep;

	if (c->file == NULL)
		return metrics_auc(c->items, c->n);

	old = MemoryContextSwitchTo(c->context);
	metrics_sort_by_score(c->items, c->n);
	/* The spilled runs, then what is in memory as one more, already read. */
	readers = palloc0(sizeof(RunReader) * (c->n_runs + 1));
	heap = palloc(sizeof(RunReader *) * (c->n_runs + 1));
	for (int r = 0; r < c->n_runs; r++)
	{
		readers[r].fileno = c->runs[r].fileno;
		readers[r].offset = c->runs[r].offset;
		readers[r].unread = c->runs[r].length;
		readers[r].buffer = palloc(sizeof(ScoredLabel) * RUN_READ_ITEMS);
	}
	readers[c->n_runs].buffer = c->items;
	readers[c->n_runs].buffered = c->n;
	for (int r = 0; r <= c->n_runs; r++)
		if (reader_ready(c->file, &readers[r]))
			heap[n_heap++] = &readers[r];
	for (int i = n_heap / 2 - 1; i >= 0; i--)
		sift_down(heap, n_heap, i);

	metrics_auc_sweep_init(&sweep);
	while (n_heap > 0)
	{
		RunReader  *r = heap[0];

		CHECK_FOR_INTERRUPTS();
		metrics_auc_sweep_add(&sweep, r->buffer[r->next].score, r->buffer[r->next].label);
		r->next++;
		if (!reader_ready(c->file, r))
			heap[0] = heap[--n_heap];
		sift_down(heap, n_heap, 0);
	}
	for (int r = 0; r < c->n_runs; r++)
		pfree(readers[r].buffer);
	pfree(readers);
	pfree(heap);
	MemoryContextSwitchTo(old);
	return metrics_auc_sweep_end(&sweep);
}

/* Closes the temporary file, if any; the collector takes no more examples. */
void
auc_collector_end(AucCollector *c)
{
	if (c->file != NULL)
		BufFileClose(c->file);
	c->file = NULL;
}
