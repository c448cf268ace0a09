/*
 * sql_trigger.c
 *		monolith.train_trigger: a statement-level AFTER INSERT trigger that
 *		makes a table's new rows train a model once their transaction
 *		commits.
 *
 *	CREATE TRIGGER ratings_train AFTER INSERT ON ratings
 *		REFERENCING NEW TABLE AS new FOR EACH STATEMENT
 *		EXECUTE FUNCTION monolith.train_trigger('movies', 'liked');
 *
 * The trigger reads the statement's transition table (a tuplestore, which
 * spills to disk beyond work_mem), turns each row into an example as
 * train_query does (RowReader: columns named after the model's inputs, the
 * label from the column the second argument names) and captures it for the
 * commit (commit_train.c), so one multi-row INSERT or COPY costs one call
 * and a pass of the core's loop, and nothing trains unless it commits.
 *
 * Privileges: both the role inserting (the current user, as for every
 * trigger) and the table's owner must hold train on the model.  The first
 * keeps a role from training a model by inserting rows; the second keeps a
 * role without the right from making others train it through a trigger on
 * a table of its own.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "catalog.h"
#include "commit_train.h"
#include "features.h"
#include "lifecycle.h"
#include "privileges.h"

PG_FUNCTION_INFO_V1(monolith_train_trigger);

/* Models looked up for triggers, kept until a definition changes. */
#define TRIGGER_MODELS_CACHED 8

typedef struct TriggerModel
{
	MemoryContext context;		/* holds this struct and all it points to */
	char	   *name;
	uint64		version;		/* definitions_version() when looked up */
	ModelDef	def;
} TriggerModel;

static TriggerModel *trigger_models[TRIGGER_MODELS_CACHED];
static int	next_replaced = 0;

/* The definition of the model named name, looked up again after any change. */
static const ModelDef *
trigger_model(const char *name)
{
	uint64		version = definitions_version();
	MemoryContext context;
	MemoryContext old;
	TriggerModel *m;
	int			slot = -1;

	for (int i = 0; i < TRIGGER_MODELS_CACHED; i++)
	{
		m = trigger_models[i];
		if (m != NULL && strcmp(m->name, name) == 0)
		{
			if (m->version == version)
				return &m->def;
			slot = i;
			break;
		}
	}
	if (slot < 0)
	{
		slot = next_replaced;
		next_replaced = (next_replaced + 1) % TRIGGER_MODELS_CACHED;
	}
	if (trigger_models[slot] != NULL)
	{
		MemoryContextDelete(trigger_models[slot]->context);
		trigger_models[slot] = NULL;
	}

	/* Made under the current context, so that a failed look-up leaves nothing. */
	context = AllocSetContextCreate(CurrentMemoryContext, "monolith trigger model",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(context);
	m = palloc0(sizeof(TriggerModel));
	m->context = context;
	m->name = pstrdup(name);
	m->version = version;
	catalog_lookup(cstring_to_text(name), &m->def);
	MemoryContextSwitchTo(old);
	MemoryContextSetParent(context, TopMemoryContext);
	trigger_models[slot] = m;
	return &m->def;
}

/* Errors unless both the current user and the table's owner may train def's model. */
static void
require_train_rights(const ModelDef *def, Relation rel)
{
	Oid			table_owner = rel->rd_rel->relowner;

	model_require(def, MODEL_PRIV_TRAIN);
	if (!model_may(table_owner, def->owner, def->acl, MODEL_PRIV_TRAIN))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", def->name),
				 errdetail("Rows inserted into table \"%s\" train the model only if the table's owner, role \"%s\", holds the train privilege on it.",
						   RelationGetRelationName(rel), GetUserNameFromId(table_owner, false)),
				 errhint("The model's owner can grant it with monolith.grant_model.")));
}

/* Captures an example of every row of the statement's new rows, in order. */
static void
capture_new_rows(CommitTarget *target, const ModelDef *def, Relation rel,
				 Tuplestorestate *new_rows, const char *label_column)
{
	MemoryContext row_context = AllocSetContextCreate(CurrentMemoryContext, "monolith row",
													  ALLOCSET_SMALL_SIZES);
	const char *table = RelationGetRelationName(rel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	RowReader	reader;
	uint64		row = 0;
	int			read_pointer;

	row_reader_init(&reader, def, RelationGetDescr(rel), label_column,
					psprintf("table \"%s\"", table),
					psprintf("the rows inserted into table \"%s\"", table));

	/* A read pointer of its own: other triggers read the same rows. */
	read_pointer = tuplestore_alloc_read_pointer(new_rows, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(new_rows, read_pointer);
	tuplestore_rescan(new_rows);
	while (tuplestore_gettupleslot(new_rows, true, false, slot))
	{
		MemoryContext old;
		ModelWork	work;
		Example		ex;
		double		label;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(row_context);
		ex = row_reader_read(&reader, slot, ++row, &label, &work);
		require_sampled_label(def, label);
		commit_train_add(target, &ex, label);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_context);
	}
	tuplestore_select_read_pointer(new_rows, 0);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(row_context);
}

/*
 * monolith.train_trigger(model, label_column): the trigger; the model
 * learns the inserted rows when the transaction commits.
 */
Datum
monolith_train_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	const ModelDef *def;
	char	  **args;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigger->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigger->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigger->tg_event) ||
		trigger->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("monolith.train_trigger must be fired AFTER INSERT FOR EACH STATEMENT, with a NEW TABLE"),
				 errhint("Create it with CREATE TRIGGER ... AFTER INSERT ON events REFERENCING NEW TABLE AS new FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('model', 'label_column').")));
	if (trigger->tg_trigger->tgnargs != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("monolith.train_trigger takes 2 arguments, got %d",
						trigger->tg_trigger->tgnargs),
				 errhint("Pass the model's name and the label column's, as in monolith.train_trigger('movies', 'liked').")));
	shmem_require();
	args = trigger->tg_trigger->tgargs;
	def = trigger_model(args[0]);
	require_train_rights(def, trigger->tg_relation);
	capture_new_rows(commit_train_target(def), def, trigger->tg_relation,
					 trigger->tg_newtable, args[1]);
	return PointerGetDatum(NULL);
}
