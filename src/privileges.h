/*
 * privileges.h
 *		Who may use a model: its owner, superusers, and roles it was granted to.
 */
#ifndef MONOLITH_PRIVILEGES_H
#define MONOLITH_PRIVILEGES_H

#include "modeldef.h"

/*
 * A model's privileges, as bits of PostgreSQL's AclMode, so that aclitem
 * shows them: r (read) to score and evaluate, w (write) to train, train by
 * query and expire.  Dropping, granting and changing the owner are the
 * owner's alone.
 */
#define MODEL_PRIV_SCORE ACL_SELECT
#define MODEL_PRIV_TRAIN ACL_UPDATE
#define MODEL_PRIV_ALL (MODEL_PRIV_SCORE | MODEL_PRIV_TRAIN)

extern bool model_owned_by(Oid role, Oid owner);
extern bool model_may(Oid role, Oid owner, const Acl *acl, AclMode privileges);
extern bool model_visible(Oid role, Oid owner, const Acl *acl);
extern void model_require(const ModelDef *def, AclMode privilege);
extern void model_require_owner(const ModelDef *def);

#endif							/* MONOLITH_PRIVILEGES_H */
