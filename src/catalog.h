/*
 * catalog.h
 *		Rows of monolith.model_definitions, read and written by the extension's
 *		own internal queries.
 */
#ifndef MONOLITH_CATALOG_H
#define MONOLITH_CATALOG_H

#include "modeldef.h"

/* The installation of monolith in this database: what its queries run on. */
typedef struct CatalogScope
{
	Oid			extension;
	Oid			definitions;	/* monolith.model_definitions */
	Oid			owner;			/* of that table: the role internal queries run as */
} CatalogScope;

/* The owner and privileges of one model, for listing what a role may see. */
typedef struct ModelGrants
{
	int64		id;
	char	   *name;
	Oid			owner;
	Acl		   *acl;
} ModelGrants;

/*
 * A run of internal queries, between internal_begin and internal_end: SPI as
 * a chosen role, in a security-restricted operation, with search_path
 * holding only pg_catalog and pg_temp, so that every name they use must be
 * schema-qualified and nothing a caller created is ever looked up.
 */
typedef struct InternalQuery
{
	CatalogScope scope;
	MemoryContext caller;		/* where results are copied to */
	Oid			saved_user;
	int			saved_context;
	int			guc_level;
} InternalQuery;

extern void catalog_scope(CatalogScope *scope);
extern void internal_begin(InternalQuery *q);
extern void internal_begin_as(InternalQuery *q, Oid role);
extern void internal_end(InternalQuery *q);
extern void internal_run(const char *sql, int nargs, Oid *types, Datum *values, bool read_only,
						 int expected);
extern bool catalog_has_owners(void);
extern void catalog_lookup(text *name, ModelDef *def);
extern void catalog_lookup_id(int64 id, ModelDef *def);
extern void catalog_lookup_grants(text *name, ModelDef *def);
extern void catalog_insert(ModelDef *def);
extern void catalog_delete(const ModelDef *def);
extern void catalog_update_grants(const ModelDef *def);
extern bool catalog_row_exists_now(const ModelDef *def);
extern bool catalog_model_exists(int64 id);
extern int	catalog_all_grants(ModelGrants **out, Oid *extension);

#endif							/* MONOLITH_CATALOG_H */
