-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION monolith" to load this file. \quit

-- Every name below is schema-qualified, operators too: nothing in the
-- search_path that CREATE EXTENSION sets can stand in for what is meant.
--
-- The schema must be ours alone.  A monolith schema that someone prepared
-- beforehand could hold functions that outrank ours for some arguments (say
-- monolith.score(text, integer, integer) against score(text, VARIADIC
-- "any")), or let its owner add them later, and a superuser calling
-- monolith.score would run them.  So the schema must hold nothing yet, be
-- owned by a superuser (CREATE EXTENSION makes it owned by the installing
-- one), and let no other role create objects in it.
DO $$
DECLARE
	schema_oid pg_catalog.oid;
	schema_owner pg_catalog.oid;
BEGIN
	SELECT n.oid, n.nspowner INTO schema_oid, schema_owner
	  FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'monolith';
	IF EXISTS (SELECT FROM pg_catalog.pg_depend d
				WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
				  AND d.refobjid OPERATOR(pg_catalog.=) schema_oid
				  -- the extension itself depends on its schema
				  AND d.classid OPERATOR(pg_catalog.<>) 'pg_catalog.pg_extension'::pg_catalog.regclass) THEN
		RAISE EXCEPTION 'schema "monolith" already holds objects'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Objects that the extension did not make could stand in for its own.',
				  HINT = 'Install monolith in a new schema: drop or rename the existing one first.';
	END IF;
	IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) schema_owner) THEN
		RAISE EXCEPTION 'schema "monolith" is owned by role "%", which is not a superuser',
				pg_catalog.pg_get_userbyid(schema_owner)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Its owner could add objects that stand in for the extension''s own.',
				  HINT = 'Install monolith in a new schema: drop or rename the existing one first.';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
				WHERE n.oid OPERATOR(pg_catalog.=) schema_oid
				  AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
				  AND a.grantee OPERATOR(pg_catalog.<>) schema_owner) THEN
		RAISE EXCEPTION 'other roles may create objects in schema "monolith"'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'They could add objects that stand in for the extension''s own.',
				  HINT = 'Revoke CREATE on the schema from every role but its owner, or install monolith in a new schema.';
	END IF;
END
$$;

-- Model definitions: survive restarts and pg_dump; parameters live in shared memory.
CREATE TABLE monolith.model_definitions (
	id bigserial PRIMARY KEY,
	name pg_catalog.text NOT NULL UNIQUE,
	slots pg_catalog.text[] NOT NULL,
	dim pg_catalog.int4 NOT NULL,
	learning_rate pg_catalog.float8 NOT NULL,
	min_count pg_catalog.int4 NOT NULL,
	admit_probability pg_catalog.float8 NOT NULL,
	seed pg_catalog.int8 NOT NULL,
	created_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('monolith.model_definitions', '');
SELECT pg_catalog.pg_extension_config_dump('monolith.model_definitions_id_seq', '');

CREATE FUNCTION monolith.create_model(name pg_catalog.text, slots pg_catalog.text[],
							 dim pg_catalog.int4 DEFAULT 16,
							 learning_rate pg_catalog.float8 DEFAULT 0.05,
							 min_count pg_catalog.int4 DEFAULT 1,
							 admit_probability pg_catalog.float8 DEFAULT 1.0,
							 seed pg_catalog.int8 DEFAULT 42)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_create_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION monolith.drop_model(name pg_catalog.text)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_drop_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION monolith.train(model pg_catalog.text, label pg_catalog."any", VARIADIC features pg_catalog."any")
RETURNS pg_catalog.float8
AS 'MODULE_PATHNAME', 'monolith_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION monolith.score(model pg_catalog.text, VARIADIC features pg_catalog."any")
RETURNS pg_catalog.float8
AS 'MODULE_PATHNAME', 'monolith_score'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION monolith.expire(model pg_catalog.text, older_than pg_catalog.interval)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'monolith_expire'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION monolith.model_stats(OUT model_id pg_catalog.int8, OUT ids pg_catalog.int8,
							OUT memory_bytes pg_catalog.int8,
							OUT examples_trained pg_catalog.int8, OUT evicted pg_catalog.int8)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_model_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE VIEW monolith.models AS
SELECT d.name, d.slots, d.dim, d.learning_rate, d.min_count, d.admit_probability, d.seed,
	   coalesce(s.ids, 0) AS ids,
	   coalesce(s.memory_bytes, 0) AS memory_bytes,
	   coalesce(s.examples_trained, 0) AS examples_trained,
	   coalesce(s.evicted, 0) AS evicted,
	   d.created_at
FROM monolith.model_definitions d
LEFT JOIN monolith.model_stats() s ON s.model_id OPERATOR(pg_catalog.=) d.id;

CREATE FUNCTION monolith.auc_accum(pg_catalog.internal, pg_catalog.float8, pg_catalog.bool)
RETURNS pg_catalog.internal
AS 'MODULE_PATHNAME', 'monolith_auc_accum'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION monolith.auc_accum(pg_catalog.internal, pg_catalog.float8, pg_catalog.float8)
RETURNS pg_catalog.internal
AS 'MODULE_PATHNAME', 'monolith_auc_accum'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION monolith.auc_final(pg_catalog.internal)
RETURNS pg_catalog.float8
AS 'MODULE_PATHNAME', 'monolith_auc_final'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- ROC AUC of predictions against labels (boolean, or a number in [0, 1]).
CREATE AGGREGATE monolith.auc(prediction pg_catalog.float8, label pg_catalog.bool) (
	SFUNC = monolith.auc_accum, STYPE = pg_catalog.internal, FINALFUNC = monolith.auc_final
);

CREATE AGGREGATE monolith.auc(prediction pg_catalog.float8, label pg_catalog.float8) (
	SFUNC = monolith.auc_accum, STYPE = pg_catalog.internal, FINALFUNC = monolith.auc_final
);
