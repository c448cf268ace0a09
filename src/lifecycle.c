/*
 * lifecycle.c
 *		A model's life: create_model and drop_model, and the trigger on
 *		monolith.model_definitions that ties a shared state's life to its
 *		row, however the row goes (drop_model, a DELETE or TRUNCATE by hand,
 *		a rolled-back INSERT), together with DROP EXTENSION and DROP DATABASE.
 *
 * Definitions are transactional; shared state is not.  So a state is freed
 * only once the transaction that deleted its row has committed, and a state
 * made for a row inserted by a transaction that rolls back is freed at the
 * rollback.  Pending frees are kept per (sub)transaction below.  A state is
 * never made again for a row deleted since (see registry_find_or_create).
 * The trigger also counts changes, so that call sites that cached a
 * definition or a privilege check look again (definitions_version).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "catalog.h"
#include "features.h"
#include "lifecycle.h"
#include "privileges.h"
#include "replica.h"
#include "snapshot.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(monolith_create_model);
PG_FUNCTION_INFO_V1(monolith_drop_model);
PG_FUNCTION_INFO_V1(monolith_definitions_changed);

typedef struct PendingFree
{
	ReleaseScope scope;
	ModelKey	key;
	bool		at_commit;		/* row deleted: free at commit; else inserted:
								 * free at rollback */
	int			nest_level;
} PendingFree;

static List *pending_frees = NIL;
/* Whether this transaction changed any definition, so others must look again. */
static bool definitions_changed = false;
uint64		local_definition_changes = 0;

static object_access_hook_type prev_object_access_hook = NULL;

/* Notes a change of definitions: seen here at once, by others at commit. */
static void
note_definitions_changed(void)
{
	definitions_changed = true;
	local_definition_changes++;
}

static void
pending_add(ReleaseScope scope, ModelKey key, bool at_commit)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	PendingFree *p = palloc(sizeof(PendingFree));

	p->scope = scope;
	p->key = key;
	p->at_commit = at_commit;
	p->nest_level = GetCurrentTransactionNestLevel();
	pending_frees = lappend(pending_frees, p);
	MemoryContextSwitchTo(old);
}

/*
 * Carries out the pending frees of transaction levels >= level whose
 * at_commit matches, forgets all of those levels' entries, and hands the
 * rest of a committed subtransaction's entries to its parent.
 */
static void
pending_settle(int level, bool committed, bool to_parent)
{
	/* The list outlives every transaction: it lives where its cells do. */
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	List	   *keep = NIL;
	ListCell   *lc;

	foreach(lc, pending_frees)
	{
		PendingFree *p = lfirst(lc);

		if (p->nest_level < level)
			keep = lappend(keep, p);
		else if (to_parent)
		{
			p->nest_level = level - 1;
			keep = lappend(keep, p);
		}
		else
		{
			if (p->at_commit == committed)
			{
				shmem_release(p->scope, &p->key);
				/* The state is gone for good: so are its snapshots. */
				snapshot_forget(p->scope, &p->key);
			}
			pfree(p);
		}
	}
	list_free(pending_frees);
	pending_frees = keep;
	MemoryContextSwitchTo(old);
}

static void
lifecycle_xact_callback(XactEvent event, void *arg)
{
	if (pending_frees == NIL && !definitions_changed)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot prepare a transaction that changed monolith model definitions")));
			break;
		case XACT_EVENT_PRE_COMMIT:
			/* Attach now, while an error can still abort: nothing may fail at COMMIT. */
			shmem_require();
			break;
		case XACT_EVENT_COMMIT:
			/* Only past the commit record: a commit can still fail before it. */
			pending_settle(1, true, false);
			if (definitions_changed)
				pg_atomic_fetch_add_u64(monolith_definitions_version, 1);
			definitions_changed = false;
			break;
		case XACT_EVENT_ABORT:
			pending_settle(1, false, false);
			definitions_changed = false;
			local_definition_changes++;
			break;
		default:
			break;
	}
}

static void
lifecycle_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	if (pending_frees == NIL && !definitions_changed)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		pending_settle(GetCurrentTransactionNestLevel(), false, false);
		local_definition_changes++;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		pending_settle(GetCurrentTransactionNestLevel(), true, true);
}

/*
 * Refuses to drop a role that owns a model of this database's installation,
 * or holds a grant on one, as PostgreSQL refuses for its own objects: the
 * model would be left with an owner or a grantee that is no role.  Other
 * databases' models are beyond reach from here, as are those of a catalog
 * that predates owners.
 */
static void
require_no_models_of(Oid role)
{
	ModelGrants *grants;
	Oid			extension;
	int			n;

	if (!catalog_has_owners())
		return;
	n = catalog_all_grants(&grants, &extension);
	for (int i = 0; i < n; i++)
	{
		Oid		   *members;
		int			n_members = aclmembers(grants[i].acl, &members);
		bool		granted = false;

		for (int m = 0; m < n_members; m++)
			granted |= members[m] == role;
		if (grants[i].owner == role || granted)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because monolith models depend on it",
							GetUserNameFromId(role, false)),
					 grants[i].owner == role ?
					 errdetail("It owns model \"%s\" of database \"%s\".",
							   grants[i].name, get_database_name(MyDatabaseId)) :
					 errdetail("It has privileges on model \"%s\" of database \"%s\".",
							   grants[i].name, get_database_name(MyDatabaseId)),
					 errhint("Drop its models or hand them over with monolith.alter_model_owner, and revoke its grants with monolith.revoke_model.")));
	}
}

/*
 * Dropping the extension or a database frees its models' states at commit;
 * dropping a role is refused while models depend on it.
 */
static void
lifecycle_object_access(ObjectAccessType access, Oid classId, Oid objectId,
						int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access != OAT_DROP)
		return;
	if (classId == AuthIdRelationId)
		require_no_models_of(objectId);
	else if (classId == DatabaseRelationId)
	{
		pending_add(RELEASE_DATABASE, (ModelKey) {objectId, InvalidOid, 0}, true);
		worker_stop_for_drop(objectId);
	}
	else if (classId == ExtensionRelationId &&
			 objectId == get_extension_oid("monolith", true))
	{
		pending_add(RELEASE_INSTALLATION, (ModelKey) {MyDatabaseId, objectId, 0}, true);
		note_definitions_changed();
	}
}

void
lifecycle_install_callbacks(void)
{
	RegisterXactCallback(lifecycle_xact_callback, NULL);
	RegisterSubXactCallback(lifecycle_subxact_callback, NULL);
	prev_object_access_hook = object_access_hook;
	object_access_hook = lifecycle_object_access;
}

/* The id column of a row of monolith.model_definitions. */
static int64
row_id(HeapTuple row, TupleDesc desc)
{
	bool		isnull;
	Datum		id = heap_getattr(row, SPI_fnumber(desc, "id"), desc, &isnull);

	if (isnull)
		elog(ERROR, "a model definition has no id");
	return DatumGetInt64(id);
}

/*
 * Trigger on monolith.model_definitions, AFTER each row INSERT, UPDATE and
 * DELETE and AFTER TRUNCATE: a row inserted frees its state if the insert
 * rolls back, a row deleted at commit, a truncation all of them; an id
 * cannot change.  It refuses to run on any other table, where it could
 * free other roles' models.
 */
Datum
monolith_definitions_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	CatalogScope scope;
	ModelKey	key;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigger->tg_event))
		elog(ERROR, "monolith.definitions_changed must be fired as an AFTER trigger");
	catalog_scope(&scope);
	if (RelationGetRelid(trigger->tg_relation) != scope.definitions)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("monolith.definitions_changed runs only on monolith.model_definitions")));
	desc = RelationGetDescr(trigger->tg_relation);
	key = (ModelKey) {MyDatabaseId, scope.extension, 0};

	if (TRIGGER_FIRED_BY_TRUNCATE(trigger->tg_event))
		pending_add(RELEASE_INSTALLATION, key, true);
	else if (TRIGGER_FIRED_BY_INSERT(trigger->tg_event))
	{
		key.id = row_id(trigger->tg_trigtuple, desc);
		pending_add(RELEASE_MODEL, key, false);
		/* A replica's worker rebuilds a model that arrives (statement triggers do not fire in the apply worker). */
		if (monolith_role == MONOLITH_ROLE_REPLICA)
			worker_request_at_commit();
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
	{
		key.id = row_id(trigger->tg_trigtuple, desc);
		pending_add(RELEASE_MODEL, key, true);
	}
	else if (row_id(trigger->tg_trigtuple, desc) != row_id(trigger->tg_newtuple, desc))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the id of a model cannot be changed"),
				 errdetail("A model's parameters in shared memory belong to its id.")));
	note_definitions_changed();
	return PointerGetDatum(NULL);
}

/*
 * monolith.create_model(name, slots, dim, learning_rate, min_count,
 *		admit_probability, seed, numeric_features, hidden, optimizer,
 *		weight_optimizer, dense_optimizer, dense_learning_rate, l1, l2,
 *		negative_sample_rate, hash_rows): a model owned by the current user.
 */
Datum
monolith_create_model(PG_FUNCTION_ARGS)
{
	ModelDef	def;

	shmem_require();
	modeldef_from_args(fcinfo, &def);
	require_trainer(def.name);
	def.owner = GetUserId();
	def.acl = make_empty_acl();
	catalog_insert(&def);

	/*
	 * Take the model's memory now, so that a full cap fails this call rather
	 * than a training call later.
	 */
	shmem_open_model(palloc(sizeof(ModelHandle)), &def);
	PG_RETURN_VOID();
}

/* monolith.drop_model(name): the definition now, the parameters at commit. */
Datum
monolith_drop_model(PG_FUNCTION_ARGS)
{
	ModelDef	def;

	shmem_require();
	require_not_null(fcinfo, 0, "model name");
	catalog_lookup_grants(PG_GETARG_TEXT_PP(0), &def);
	model_require_owner(&def);
	catalog_delete(&def);
	PG_RETURN_VOID();
}
