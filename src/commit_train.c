/*
 * commit_train.c
 *		Examples that train their model when, and only when, their
 *		transaction commits: monolith.train_trigger captures them inside the
 *		transaction, and the model learns them in the order captured once the
 *		commit is certain.
 *
 * Shared memory is not transactional, so a transaction's examples wait in a
 * log (spill_log.c: memory up to work_mem, a temporary file beyond) until
 * its outcome is known:
 *	- SUBXACT_EVENT_ABORT_SUB cuts the log back to where the subtransaction's
 *	  first example went, and SUBXACT_EVENT_COMMIT_SUB hands its examples to
 *	  the parent.  A parent runs nothing while a child is open, so the
 *	  examples of open subtransactions are always the log's tail, and a stack
 *	  of marks, one per nesting level that captured, says where each starts.
 *	- XACT_EVENT_PRE_COMMIT, where an error still aborts the transaction,
 *	  does all that can fail: it checks each model still lives, allocates the
 *	  scratch and rewinds the log.  PreCommit_CheckForSerializationFailure
 *	  comes after it, so nothing trains yet.
 *	- XACT_EVENT_COMMIT, past the commit record and with interrupts held,
 *	  trains every example.  An error there cannot undo the commit (it would
 *	  become a PANIC): it is caught and reported as a WARNING, and the
 *	  examples left untrained are counted as failed.
 *	- XACT_EVENT_ABORT discards them all.  PREPARE TRANSACTION is refused:
 *	  the examples could not follow the transaction to the session that
 *	  commits it.
 * Each model counts its examples' outcomes (shmem_count_outcome), and the
 * progressive AUC of those trained (shmem_add_committed_auc), for
 * monolith.models.
 *
 * All of it is backend-local and lives in a context under
 * TopTransactionContext, its file under TopTransactionResourceOwner.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "commit_train.h"
#include "features.h"
#include "metrics.h"
#include "spill_log.h"

struct CommitTarget
{
	ModelHandle handle;			/* only def's inline fields are read from it */
	int			index;			/* in pending.targets */
	uint64		captured;		/* examples of it in the log */
	uint32		max_keys;		/* most keys one of them holds */

	/* Set at pre-commit, for the training at commit. */
	bool		alive;
	uint64	   *keys;			/* one example read from the log */
	uint32	   *slot_end;
	float	   *numeric;
	ExampleBatch batch;			/* room for any example: it never allocates */
	uint64		trained;
	double	   *auc_pos;		/* label weights by prediction bin (metrics.h) */
	double	   *auc_neg;
};

/* Where the examples of one nesting level start in the log. */
typedef struct LevelMark
{
	int			nest_level;
	uint64		log_length;
	uint64		records;
	int			n_targets;
	uint64	   *captured;		/* the targets' captured counts then */
} LevelMark;

/* Keys a target's batch has room for at least. */
#define BATCH_KEYS 1024

/* One example in the log; slot_end, keys and numeric values follow it. */
typedef struct RecordHeader
{
	uint32		target;
	uint32		n_keys;
	double		label;
} RecordHeader;

/* This transaction's captured examples; context is NULL while there are none. */
static struct
{
	MemoryContext context;
	SpillLog	log;
	uint64		records;
	CommitTarget **targets;
	int			n_targets;
	int			targets_capacity;
	LevelMark  *marks;
	int			n_marks;
	int			marks_capacity;
} pending;

/* Starts this transaction's capture, if it has not started yet. */
static void
pending_begin(void)
{
	if (pending.context != NULL)
		return;
	pending.context = AllocSetContextCreate(TopTransactionContext, "monolith captured examples",
											ALLOCSET_DEFAULT_SIZES);
	spill_log_init(&pending.log, (size_t) work_mem * 1024, pending.context,
				   TopTransactionResourceOwner);
	pending.targets_capacity = 4;
	pending.targets = MemoryContextAlloc(pending.context,
										 sizeof(CommitTarget *) * pending.targets_capacity);
	pending.marks_capacity = 4;
	pending.marks = MemoryContextAlloc(pending.context,
									   sizeof(LevelMark) * pending.marks_capacity);
}

/*
 * Forgets the capture; its memory goes with the transaction's.  After a
 * commit the log's file is closed here, else a commit warns of a leaked
 * file; after an abort the resource owner closes it.
 */
static void
pending_end(bool committed)
{
	if (committed)
		spill_log_close(&pending.log);
	else
		spill_log_forget(&pending.log);
	memset(&pending, 0, sizeof(pending));
}

/*
 * The target of def's model in this transaction, its shared state opened on
 * first use (which errors if the model is not usable).
 */
CommitTarget *
commit_train_target(const ModelDef *def)
{
	CommitTarget *t;

	pending_begin();
	for (int i = 0; i < pending.n_targets; i++)
	{
		t = pending.targets[i];
		if (t->handle.def.id == def->id && t->handle.def.extension == def->extension)
			return t;
	}
	t = MemoryContextAllocZero(pending.context, sizeof(CommitTarget));
	shmem_open_model(&t->handle, def);
	if (pending.n_targets == pending.targets_capacity)
	{
		pending.targets_capacity *= 2;
		pending.targets = repalloc(pending.targets,
								   sizeof(CommitTarget *) * pending.targets_capacity);
	}
	t->index = pending.n_targets;
	pending.targets[pending.n_targets++] = t;
	return t;
}

/* Makes sure the current nesting level has a mark where its examples start. */
static void
mark_level(void)
{
	int			level = GetCurrentTransactionNestLevel();
	LevelMark  *mark;

	if (pending.n_marks > 0 && pending.marks[pending.n_marks - 1].nest_level == level)
		return;
	/* Deeper levels ended before this one ran again, taking their marks. */
	Assert(pending.n_marks == 0 || pending.marks[pending.n_marks - 1].nest_level < level);
	if (pending.n_marks == pending.marks_capacity)
	{
		pending.marks_capacity *= 2;
		pending.marks = repalloc(pending.marks, sizeof(LevelMark) * pending.marks_capacity);
	}
	mark = &pending.marks[pending.n_marks];
	mark->nest_level = level;
	mark->log_length = pending.log.length;
	mark->records = pending.records;
	mark->n_targets = pending.n_targets;
	mark->captured = MemoryContextAlloc(pending.context, sizeof(uint64) * Max(pending.n_targets, 1));
	for (int i = 0; i < pending.n_targets; i++)
		mark->captured[i] = pending.targets[i]->captured;
	pending.n_marks++;
}

/* Captures one example of target's model, to train at commit. */
void
commit_train_add(CommitTarget *target, const Example *ex, double label)
{
	const ModelDef *def = &target->handle.def;
	RecordHeader header;

	if (pending.log.reading)
		elog(ERROR, "examples captured after the transaction began to commit");
	mark_level();
	header.target = target->index;
	header.n_keys = def->n_slots > 0 ? ex->slot_end[def->n_slots - 1] : 0;
	header.label = label;
	spill_log_append(&pending.log, &header, sizeof(header));
	spill_log_append(&pending.log, ex->slot_end, sizeof(uint32) * def->n_slots);
	spill_log_append(&pending.log, ex->keys, sizeof(uint64) * header.n_keys);
	spill_log_append(&pending.log, ex->numeric, sizeof(float) * def->n_numeric);
	target->captured++;
	target->max_keys = Max(target->max_keys, header.n_keys);
	pending.records++;
}

/* Counts every target's captured examples as outcome. */
static void
count_all(CommitOutcome outcome)
{
	for (int i = 0; i < pending.n_targets; i++)
		shmem_count_outcome(&pending.targets[i]->handle, outcome, pending.targets[i]->captured);
}

/*
 * A subtransaction at level ends: a rolled-back one takes its examples out
 * of the log, a committed one gives them to its parent.  Cannot fail: cutting
 * the log back only moves its end.
 */
static void
commit_train_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	LevelMark  *top;

	if (pending.n_marks == 0 ||
		(event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB))
		return;
	top = &pending.marks[pending.n_marks - 1];
	Assert(top->nest_level <= level);
	if (top->nest_level != level)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		for (int i = 0; i < pending.n_targets; i++)
		{
			CommitTarget *t = pending.targets[i];
			uint64		before = i < top->n_targets ? top->captured[i] : 0;

			shmem_count_outcome(&t->handle, COMMIT_ROLLED_BACK, t->captured - before);
			t->captured = before;
		}
		spill_log_truncate(&pending.log, top->log_length);
		pending.records = top->records;
		pfree(top->captured);
		pending.n_marks--;
	}
	else if (pending.n_marks > 1 && pending.marks[pending.n_marks - 2].nest_level == level - 1)
	{
		/* The parent's examples start earlier: its mark covers these too. */
		pfree(top->captured);
		pending.n_marks--;
	}
	else
		top->nest_level = level - 1;
}

/*
 * Before the commit: each model must still be there, and everything the
 * training needs is allocated and the log rewound, so that what is left for
 * the commit is reading the log and the core's steps.
 */
static void
prepare_training(void)
{
	MemoryContext old;

	for (int i = 0; i < pending.n_targets; i++)
	{
		CommitTarget *t = pending.targets[i];
		const ModelDef *def = &t->handle.def;
		uint32		keys = Max(t->max_keys, 1);

		t->alive = shmem_model_alive(&t->handle);
		if (!t->alive && t->captured > 0)
			ereport(WARNING,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" was dropped before this transaction's examples for it could train",
							def->name),
					 errdetail("The transaction commits without them: " UINT64_FORMAT " captured examples are discarded.",
							   t->captured)));
		old = MemoryContextSwitchTo(pending.context);
		t->keys = palloc_extended(sizeof(uint64) * keys, MCXT_ALLOC_HUGE);
		t->slot_end = palloc(sizeof(uint32) * Max(def->n_slots, 1));
		t->numeric = palloc(sizeof(float) * Max(def->n_numeric, 1));
		example_batch_init(&t->batch, &t->handle.snapshot.shape, Max(keys, BATCH_KEYS));
		t->auc_pos = palloc0(sizeof(double) * METRICS_AUC_BINS);
		t->auc_neg = palloc0(sizeof(double) * METRICS_AUC_BINS);
		MemoryContextSwitchTo(old);
	}
	spill_log_rewind(&pending.log);
}

/* Trains target's gathered examples, binning their predictions for the model's AUC. */
static void
train_batch(CommitTarget *t, uint32 now)
{
	uint32		done = example_batch_train(&t->batch, &t->handle, now);

	t->trained += done;
	for (uint32 i = 0; i < done; i++)
	{
		unsigned	bin = metrics_auc_bin(t->batch.predictions[i]);

		t->auc_pos[bin] += t->batch.labels[i];
		t->auc_neg[bin] += 1 - t->batch.labels[i];
		shmem_check_pressure(&t->handle);
	}
}

/*
 * Trains every example of the log, in order, on the models still alive: a
 * batch at a time (see model_train_batch), a batch ending where the next
 * example is another model's.
 */
static void
train_logged(uint32 now)
{
	CommitTarget *batched = NULL;

	for (uint64 r = 0; r < pending.records; r++)
	{
		RecordHeader header;
		CommitTarget *t;
		const ModelDef *def;
		Example		ex;

		spill_log_read(&pending.log, &header, sizeof(header));
		if (header.target >= pending.n_targets ||
			header.n_keys > Max(pending.targets[header.target]->max_keys, 1))
			elog(ERROR, "log of captured examples is corrupt");
		t = pending.targets[header.target];
		def = &t->handle.def;
		spill_log_read(&pending.log, t->slot_end, sizeof(uint32) * def->n_slots);
		spill_log_read(&pending.log, t->keys, sizeof(uint64) * header.n_keys);
		spill_log_read(&pending.log, t->numeric, sizeof(float) * def->n_numeric);
		if (!t->alive)
			continue;
		if (batched != NULL && batched != t)
			train_batch(batched, now);
		batched = t;
		ex = (Example) {t->keys, t->slot_end, t->numeric};
		if (!example_batch_add(&t->batch, &ex, header.label))
		{
			train_batch(t, now);
			(void) example_batch_add(&t->batch, &ex, header.label);
		}
	}
	if (batched != NULL)
		train_batch(batched, now);
	for (int i = 0; i < pending.n_targets; i++)
		if (pending.targets[i]->alive)
			example_batch_flush(&pending.targets[i]->batch, &pending.targets[i]->handle);
}

/*
 * After the commit record: trains the examples, and counts what trained and
 * what did not.  Nothing may escape from here.
 */
static void
train_committed(void)
{
	ErrorRecoveryPoint at = error_recovery_point();

	PG_TRY();
	{
		train_logged(table_clock_now());
	}
	PG_CATCH();
	{
		ErrorData  *error = error_take(&at);
		uint64		untrained = 0;

		for (int i = 0; i < pending.n_targets; i++)
			if (pending.targets[i]->alive)
			{
				example_batch_flush_after_error(&pending.targets[i]->batch,
												&pending.targets[i]->handle);
				untrained += pending.targets[i]->captured - pending.targets[i]->trained;
			}
		ereport(WARNING,
				(errcode(error->sqlerrcode),
				 errmsg("could not train on the examples of a committed transaction: %s",
						error->message),
				 errdetail("The transaction committed; " UINT64_FORMAT " of its examples did not train.",
						   untrained)));
		FreeErrorData(error);
	}
	PG_END_TRY();
	for (int i = 0; i < pending.n_targets; i++)
	{
		CommitTarget *t = pending.targets[i];

		if (!t->alive)
			continue;
		shmem_count_outcome(&t->handle, COMMIT_TRAINED, t->trained);
		shmem_count_outcome(&t->handle, COMMIT_FAILED, t->captured - t->trained);
		shmem_add_committed_auc(&t->handle, t->auc_pos, t->auc_neg);
	}
}

static void
commit_train_xact_callback(XactEvent event, void *arg)
{
	if (pending.context == NULL)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (pending.records > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that captured examples for monolith models"),
						 errdetail("Captured examples train when their transaction commits, in the session that made them.")));
			/* Every example rolled back: nothing to carry. */
			pending_end(true);
			break;
		case XACT_EVENT_PRE_COMMIT:
			prepare_training();
			break;
		case XACT_EVENT_COMMIT:
			train_committed();
			pending_end(true);
			break;
		case XACT_EVENT_ABORT:
			count_all(COMMIT_ROLLED_BACK);
			pending_end(false);
			break;
		default:
			break;
	}
}

void
commit_train_install_callbacks(void)
{
	RegisterXactCallback(commit_train_xact_callback, NULL);
	RegisterSubXactCallback(commit_train_subxact_callback, NULL);
}
