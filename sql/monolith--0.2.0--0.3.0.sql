-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION monolith UPDATE TO '0.3.0'" to load this file. \quit

-- Models have owners and privileges.  A model belongs to the role that made
-- it; others need a grant to score (r in acl) or train (w).  Models made
-- before this version go to the extension's owner, who may grant them or
-- hand them over.  Callers need no privilege on the tables any more: the
-- extension's functions read them as their owner, and monolith.models shows
-- each role the models it may use.
ALTER TABLE monolith.model_definitions
	ADD COLUMN owner pg_catalog.regrole,
	ADD COLUMN acl pg_catalog.aclitem[] NOT NULL DEFAULT '{}';
UPDATE monolith.model_definitions
   SET owner = (SELECT e.extowner FROM pg_catalog.pg_extension e
				 WHERE e.extname OPERATOR(pg_catalog.=) 'monolith');
ALTER TABLE monolith.model_definitions ALTER COLUMN owner SET NOT NULL;

-- A model's shared state lives and dies with its row, however the row goes;
-- ENABLE ALWAYS, so that neither session_replication_role nor a replica's
-- apply worker skips it.
CREATE FUNCTION monolith.definitions_changed()
RETURNS pg_catalog.trigger
AS 'MODULE_PATHNAME', 'monolith_definitions_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION monolith.definitions_changed() FROM PUBLIC;
CREATE TRIGGER model_rows AFTER INSERT OR UPDATE OR DELETE ON monolith.model_definitions
	FOR EACH ROW EXECUTE FUNCTION monolith.definitions_changed();
CREATE TRIGGER model_truncate AFTER TRUNCATE ON monolith.model_definitions
	FOR EACH STATEMENT EXECUTE FUNCTION monolith.definitions_changed();
ALTER TABLE monolith.model_definitions
	ENABLE ALWAYS TRIGGER model_rows,
	ENABLE ALWAYS TRIGGER model_truncate;

-- Grants: privileges is a list of score, train or all; role may be public.
CREATE FUNCTION monolith.grant_model(model pg_catalog.text, privileges pg_catalog.text,
									 role pg_catalog.name)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_grant_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION monolith.revoke_model(model pg_catalog.text, privileges pg_catalog.text,
									  role pg_catalog.name)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_revoke_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION monolith.alter_model_owner(model pg_catalog.text, new_owner pg_catalog.name)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_alter_model_owner'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- model_stats() now gives a row for each model the caller may use, figures
-- or not; the view joins it, so it shows only those.  security_barrier: no
-- function of the caller's sees a row before that join has filtered it.
-- refused: IDs admitted that found no memory (only when a model holds none
-- to evict); longest_exclusive_ms: the longest hold of the model's lock
-- exclusive since its parameters were made, during which its scorers wait.
DROP VIEW monolith.models;
DROP FUNCTION monolith.model_stats();
CREATE FUNCTION monolith.model_stats(OUT model_id pg_catalog.int8, OUT ids pg_catalog.int8,
									 OUT memory_bytes pg_catalog.int8,
									 OUT examples_trained pg_catalog.int8,
									 OUT evicted pg_catalog.int8,
									 OUT refused pg_catalog.int8,
									 OUT longest_exclusive_ms pg_catalog.float8)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_model_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
CREATE VIEW monolith.models WITH (security_barrier) AS
SELECT d.name, d.owner, d.acl AS privileges, d.slots, d.numeric_features, d.dim, d.hidden,
	   d.optimizer, d.weight_optimizer, d.dense_optimizer,
	   d.learning_rate, d.dense_learning_rate, d.l1, d.l2,
	   d.min_count, d.admit_probability, d.negative_sample_rate, d.hash_rows, d.seed,
	   s.ids, s.memory_bytes, s.examples_trained, s.evicted, s.refused, s.longest_exclusive_ms,
	   d.created_at
FROM monolith.model_definitions d
JOIN monolith.model_stats() s ON s.model_id OPERATOR(pg_catalog.=) d.id;
GRANT SELECT ON monolith.models TO PUBLIC;

-- All models' shared memory, every database's, against monolith.max_memory:
-- for monitoring, so for pg_monitor, not for everyone.
CREATE FUNCTION monolith.memory_usage(OUT live_models pg_catalog.int4,
									  OUT used_bytes pg_catalog.int8,
									  OUT cap_bytes pg_catalog.int8)
RETURNS pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_memory_usage'
LANGUAGE C VOLATILE PARALLEL SAFE;
REVOKE ALL ON FUNCTION monolith.memory_usage() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION monolith.memory_usage() TO pg_monitor;
