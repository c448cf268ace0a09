/*
 * privileges.c
 *		A model's owner and privileges, checked with PostgreSQL's own ACL
 *		machinery (aclmask over an aclitem[]), and the SQL functions that
 *		grant, revoke and hand over ownership.
 *
 * A model belongs to the role that created it.  Membership in the owner
 * role counts as ownership, as for any PostgreSQL object, and superusers may
 * do anything.  Others need a grant: score (r) or train (w).
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "catalog.h"
#include "features.h"
#include "privileges.h"
#include "replica.h"

PG_FUNCTION_INFO_V1(monolith_grant_model);
PG_FUNCTION_INFO_V1(monolith_revoke_model);
PG_FUNCTION_INFO_V1(monolith_alter_model_owner);

/* Whether role owns the model: is a superuser, or has the owner role's privileges. */
bool
model_owned_by(Oid role, Oid owner)
{
	return superuser_arg(role) || has_privs_of_role(role, owner);
}

/* Whether role holds every one of privileges on a model of that owner and ACL. */
bool
model_may(Oid role, Oid owner, const Acl *acl, AclMode privileges)
{
	return model_owned_by(role, owner) ||
		aclmask(acl, role, owner, privileges, ACLMASK_ALL) == privileges;
}

/* Whether role holds any privilege on a model of that owner and ACL: may see it. */
bool
model_visible(Oid role, Oid owner, const Acl *acl)
{
	return model_owned_by(role, owner) ||
		aclmask(acl, role, owner, MODEL_PRIV_ALL, ACLMASK_ANY) != 0;
}

/* Errors unless the current user holds privilege on the model. */
void
model_require(const ModelDef *def, AclMode privilege)
{
	if (privilege & MODEL_PRIV_TRAIN)
		require_trainer(def->name);
	if (!model_may(GetUserId(), def->owner, def->acl, privilege))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", def->name),
				 errdetail(privilege == MODEL_PRIV_SCORE ?
						   "Scoring and evaluating need the score privilege on the model." :
						   "Training and expiring need the train privilege on the model."),
				 errhint("The model's owner can grant it with monolith.grant_model.")));
}

/* Errors unless the current user owns the model, which this server may change. */
void
model_require_owner(const ModelDef *def)
{
	require_trainer(def->name);
	if (!model_owned_by(GetUserId(), def->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of model \"%s\"", def->name)));
}

/* The privileges a comma-separated list names: score, train, or all. */
static AclMode
privileges_from_text(text *list)
{
	char	   *s = text_to_cstring(list);
	AclMode		privileges = ACL_NO_RIGHTS;

	for (char *word = strtok(s, ","); word != NULL; word = strtok(NULL, ","))
	{
		char	   *end;

		while (*word == ' ')
			word++;
		end = word + strlen(word);
		while (end > word && end[-1] == ' ')
			*--end = '\0';
		if (pg_strcasecmp(word, "score") == 0)
			privileges |= MODEL_PRIV_SCORE;
		else if (pg_strcasecmp(word, "train") == 0)
			privileges |= MODEL_PRIV_TRAIN;
		else if (pg_strcasecmp(word, "all") == 0)
			privileges |= MODEL_PRIV_ALL;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized model privilege \"%s\"", word),
					 errhint("Model privileges are score and train, or all.")));
	}
	if (privileges == ACL_NO_RIGHTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no model privilege named"),
				 errhint("Model privileges are score and train, or all.")));
	return privileges;
}

/*
 * The model that argument 0 names, with the current user checked to own it;
 * no argument may be NULL, and args names them in errors.
 */
static void
owned_model(FunctionCallInfo fcinfo, const char *const *args, ModelDef *def)
{
	for (int i = 0; i < PG_NARGS(); i++)
		require_not_null(fcinfo, i, args[i]);
	catalog_lookup_grants(PG_GETARG_TEXT_PP(0), def);
	model_require_owner(def);
}

/* Grants or revokes (model, privileges, role); PUBLIC is the role "public". */
static void
change_grants(FunctionCallInfo fcinfo, bool grant)
{
	static const char *const args[] = {"model name", "privileges", "role"};
	ModelDef	def;
	AclItem		item;

	owned_model(fcinfo, args, &def);
	item.ai_grantee = get_role_oid_or_public(NameStr(*PG_GETARG_NAME(2)));
	item.ai_grantor = def.owner;
	ACLITEM_SET_PRIVS_GOPTIONS(item, privileges_from_text(PG_GETARG_TEXT_PP(1)), ACL_NO_RIGHTS);
	def.acl = aclupdate(def.acl, &item, grant ? ACL_MODECHG_ADD : ACL_MODECHG_DEL,
						def.owner, DROP_RESTRICT);
	catalog_update_grants(&def);
}

/* monolith.grant_model(model, privileges, role): owner or superuser only. */
Datum
monolith_grant_model(PG_FUNCTION_ARGS)
{
	change_grants(fcinfo, true);
	PG_RETURN_VOID();
}

/* monolith.revoke_model(model, privileges, role). */
Datum
monolith_revoke_model(PG_FUNCTION_ARGS)
{
	change_grants(fcinfo, false);
	PG_RETURN_VOID();
}

/*
 * monolith.alter_model_owner(model, role): as ALTER ... OWNER TO, the owner
 * may hand a model to a role it is a member of; the grants follow.
 */
Datum
monolith_alter_model_owner(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"model name", "role"};
	ModelDef	def;
	Oid			new_owner;

	owned_model(fcinfo, args, &def);
	new_owner = get_role_oid(NameStr(*PG_GETARG_NAME(1)), false);
	if (!superuser())
		check_is_member_of_role(GetUserId(), new_owner);
	def.acl = aclnewowner(def.acl, def.owner, new_owner);
	def.owner = new_owner;
	catalog_update_grants(&def);
	PG_RETURN_VOID();
}
