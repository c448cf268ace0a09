/*
 * catalog.c
 *		Model definitions: rows of monolith.model_definitions, read and
 *		written by internal queries.
 *
 * Callers need no privilege on the extension's tables: whether they may use
 * a model is the model's own privileges' to say (privileges.c).  So every
 * internal query runs as the owner of the tables, in a security-restricted
 * operation, with search_path set to pg_catalog and pg_temp alone, and names
 * every table, function and operator with its schema: nothing that a caller
 * could create is ever looked up, let alone run.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"

/*
 * Finds this database's installation of monolith: the extension, its
 * definitions table and the table's owner; false if it is not installed.
 * *current says whether its catalog has model owners, which a library
 * newer than the installed SQL (before ALTER EXTENSION UPDATE) lacks.
 */
static bool
scope_find(CatalogScope *scope, bool *current)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			schema = InvalidOid;

	scope->extension = InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("monolith"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_extension ext = (Form_pg_extension) GETSTRUCT(tuple);

		scope->extension = ext->oid;
		schema = ext->extnamespace;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(scope->extension))
		return false;

	scope->definitions = get_relname_relid("model_definitions", schema);
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(scope->definitions));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "monolith.model_definitions is missing");
	scope->owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	*current = get_attnum(scope->definitions, "owner") != InvalidAttrNumber;
	return true;
}

/*
 * Finds this database's installation of monolith (see scope_find); errors
 * if it is not installed, or its catalog predates model owners.
 */
void
catalog_scope(CatalogScope *scope)
{
	bool		current;

	if (!scope_find(scope, &current))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"monolith\" is not installed in this database")));
	if (!current)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the installed version of extension \"monolith\" is older than its library"),
				 errdetail("Models gained owners and privileges in version 0.3.0."),
				 errhint("Run ALTER EXTENSION monolith UPDATE.")));
}

/* Whether monolith is installed here with a catalog that has model owners. */
bool
catalog_has_owners(void)
{
	CatalogScope scope;
	bool		current;

	return scope_find(&scope, &current) && current;
}

/*
 * Connects to SPI as role (InvalidOid: the extension tables' owner), in a
 * security-restricted operation, with
 * search_path holding only pg_catalog and pg_temp.  An error on the way
 * undoes all three, as any error undoes a function's SET clause.
 */
void
internal_begin_as(InternalQuery *q, Oid role)
{
	catalog_scope(&q->scope);
	q->caller = CurrentMemoryContext;
	q->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	GetUserIdAndSecContext(&q->saved_user, &q->saved_context);
	SetUserIdAndSecContext(OidIsValid(role) ? role : q->scope.owner, q->saved_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
}

/* Connects to SPI as the extension tables' owner (see internal_begin_as). */
void
internal_begin(InternalQuery *q)
{
	internal_begin_as(q, InvalidOid);
}

/* Ends what internal_begin_as began. */
void
internal_end(InternalQuery *q)
{
	SPI_finish();
	SetUserIdAndSecContext(q->saved_user, q->saved_context);
	AtEOXact_GUC(true, q->guc_level);
}

/* Runs one internal query with its arguments; errors unless it gives expected. */
void
internal_run(const char *sql, int nargs, Oid *types, Datum *values, bool read_only,
			 int expected)
{
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, read_only, 0) != expected)
		elog(ERROR, "internal query failed: %s", sql);
}

/*
 * Whether the installation's definitions table has a column: one that a
 * later version added is missing until ALTER EXTENSION UPDATE.
 */
static bool
has_column(const CatalogScope *scope, int column)
{
	return get_attnum(scope->definitions, modeldef_column_name(column)) != InvalidAttrNumber;
}

/*
 * "name, slots, dim, ...": the columns that define a model, in order, to
 * read; a column the installation lacks reads as the value that its rows
 * stand for.
 */
static char *
definition_columns(const CatalogScope *scope)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int c = 0; c < DEF_N_COLUMNS; c++)
		appendStringInfo(&s, "%s%s", c == 0 ? "" : ", ",
						 has_column(scope, c) ? quote_identifier(modeldef_column_name(c)) :
						 modeldef_column_default(c));
	return s.data;
}

/* The ACL of a row's acl column; an empty array as the empty ACL that aclmask takes. */
static Acl *
acl_from_datum(Datum value)
{
	Acl		   *acl = DatumGetAclPCopy(value);

	return ARR_NDIM(acl) == 0 ? make_empty_acl() : acl;
}

/*
 * Reads the id, owner and privileges of the model whose column (name or id)
 * equals value and, with definition, the rest of its definition, checked;
 * errors if there is no such model.
 */
static void
lookup(const char *column, Oid type, Datum value, ModelDef *def, bool definition)
{
	InternalQuery q;
	char	   *sql;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;

	memset(def, 0, sizeof(*def));
	if (type == TEXTOID)
		modeldef_set_name(def, DatumGetTextPP(value));
	internal_begin(&q);
	sql = psprintf("SELECT id, owner, acl%s%s FROM monolith.model_definitions "
				   "WHERE %s OPERATOR(pg_catalog.=) $1",
				   definition ? ", " : "", definition ? definition_columns(&q.scope) : "", column);
	internal_run(sql, 1, &type, &value, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		if (type == TEXTOID)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", def->name)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model with id " INT64_FORMAT " does not exist", DatumGetInt64(value))));
	}
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	MemoryContextSwitchTo(q.caller);
	def->extension = q.scope.extension;
	def->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
	def->owner = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
	def->acl = acl_from_datum(SPI_getbinval(row, desc, 3, &isnull));
	for (int c = 0; definition && c < DEF_N_COLUMNS; c++)
	{
		Datum		v = SPI_getbinval(row, desc, 4 + c, &isnull);

		/* The columns are NOT NULL; a catalog edited to say otherwise is refused. */
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("definition of model \"%s\" has a null %s", def->name,
							modeldef_column_name(c))));
		modeldef_set(def, c, v);
	}
	internal_end(&q);
	if (definition)
		modeldef_validate(def);
}

/* Reads a model's definition, with its owner and privileges. */
void
catalog_lookup(text *name, ModelDef *def)
{
	lookup("name", TEXTOID, PointerGetDatum(name), def, true);
}

/* Reads the definition of the model with id, as catalog_lookup. */
void
catalog_lookup_id(int64 id, ModelDef *def)
{
	lookup("id", INT8OID, Int64GetDatum(id), def, true);
}

/*
 * Reads only a model's id, owner and privileges: enough to drop it or change
 * its grants, even where its definition was edited into one that is refused.
 */
void
catalog_lookup_grants(text *name, ModelDef *def)
{
	lookup("name", TEXTOID, PointerGetDatum(name), def, false);
}

/*
 * Inserts a new model's row, owned by def->owner; sets def->id and
 * def->extension.  Errors if the name is taken, after waiting for any
 * transaction that is inserting it.
 */
void
catalog_insert(ModelDef *def)
{
	InternalQuery q;
	Oid			types[2 + DEF_N_COLUMNS];
	Datum		values[2 + DEF_N_COLUMNS];
	int			n = 2;
	StringInfoData sql;
	bool		isnull;

	internal_begin(&q);
	types[0] = REGROLEOID;
	values[0] = ObjectIdGetDatum(def->owner);
	types[1] = ACLITEMARRAYOID;
	values[1] = PointerGetDatum(def->acl);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO monolith.model_definitions (owner, acl");
	for (int c = 0; c < DEF_N_COLUMNS; c++)
	{
		if (!has_column(&q.scope, c))
		{
			if (!modeldef_is_default(def, c))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the installed version of extension \"monolith\" has no %s",
								modeldef_column_name(c)),
						 errhint("Run ALTER EXTENSION monolith UPDATE.")));
			continue;
		}
		appendStringInfo(&sql, ", %s", quote_identifier(modeldef_column_name(c)));
		types[n] = modeldef_column_type(c);
		values[n++] = modeldef_get(def, c);
	}
	appendStringInfoString(&sql, ") VALUES (");
	for (int i = 0; i < n; i++)
		appendStringInfo(&sql, "%s$%d", i == 0 ? "" : ", ", i + 1);
	appendStringInfoString(&sql, ") ON CONFLICT (name) DO NOTHING RETURNING id");

	internal_run(sql.data, n, types, values, false, SPI_OK_INSERT_RETURNING);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", def->name)));
	def->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	def->extension = q.scope.extension;
	internal_end(&q);
}

/* Deletes a model's row; its trigger frees the parameters at commit. */
void
catalog_delete(const ModelDef *def)
{
	InternalQuery q;
	Oid			argtype = INT8OID;
	Datum		arg = Int64GetDatum(def->id);

	internal_begin(&q);
	internal_run("DELETE FROM monolith.model_definitions WHERE id OPERATOR(pg_catalog.=) $1",
				 1, &argtype, &arg, false, SPI_OK_DELETE);
	internal_end(&q);
}

/* Writes a model's owner and privileges. */
void
catalog_update_grants(const ModelDef *def)
{
	InternalQuery q;
	Oid			types[] = {INT8OID, REGROLEOID, ACLITEMARRAYOID};
	Datum		values[] = {Int64GetDatum(def->id), ObjectIdGetDatum(def->owner),
	PointerGetDatum(def->acl)};

	internal_begin(&q);
	internal_run("UPDATE monolith.model_definitions SET owner = $2, acl = $3 "
				 "WHERE id OPERATOR(pg_catalog.=) $1", 3, types, values, false, SPI_OK_UPDATE);
	internal_end(&q);
}

/*
 * Whether a model's row still exists, as of now rather than as of this
 * transaction's snapshot, which may still show a row that another
 * transaction has since deleted (and freed the parameters of, for good).
 * A dirty snapshot sees the latest version of each row, a delete not yet
 * committed not counting; it is read without SPI, so that a parallel worker,
 * which may not take a new snapshot, can ask too.
 */
bool
catalog_row_exists_now(const ModelDef *def)
{
	CatalogScope scope;
	SnapshotData dirty;
	ScanKeyData key;
	Relation	rel;
	TableScanDesc scan;
	bool		exists;

	catalog_scope(&scope);
	/* A row of an installation of monolith dropped since is not this one's. */
	if (def->extension != scope.extension)
		return false;
	InitDirtySnapshot(dirty);
	rel = table_open(scope.definitions, AccessShareLock);
	ScanKeyInit(&key, get_attnum(scope.definitions, "id"), BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(def->id));
	scan = table_beginscan(rel, &dirty, 1, &key);
	exists = heap_getnext(scan, ForwardScanDirection) != NULL;
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return exists;
}

/* Whether the installation has a model of this id, as the transaction sees it. */
bool
catalog_model_exists(int64 id)
{
	InternalQuery q;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	bool		exists;

	internal_begin(&q);
	internal_run("SELECT FROM monolith.model_definitions WHERE id OPERATOR(pg_catalog.=) $1",
				 1, types, values, true, SPI_OK_SELECT);
	exists = SPI_processed > 0;
	internal_end(&q);
	return exists;
}

/* The owner and privileges of every model of the installation, into *out; and the installation. */
int
catalog_all_grants(ModelGrants **out, Oid *extension)
{
	InternalQuery q;
	int			n;

	internal_begin(&q);
	internal_run("SELECT id, owner, acl, name FROM monolith.model_definitions", 0, NULL, NULL, true,
				 SPI_OK_SELECT);
	n = (int) SPI_processed;
	*extension = q.scope.extension;
	MemoryContextSwitchTo(q.caller);
	*out = palloc(sizeof(ModelGrants) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		(*out)[i].id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		(*out)[i].owner = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
		(*out)[i].acl = acl_from_datum(SPI_getbinval(row, desc, 3, &isnull));
		(*out)[i].name = TextDatumGetCString(SPI_getbinval(row, desc, 4, &isnull));
	}
	internal_end(&q);
	return n;
}
