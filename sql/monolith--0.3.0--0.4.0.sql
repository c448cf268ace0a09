-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION monolith UPDATE TO '0.4.0'" to load this file. \quit

-- Online training: a statement-level AFTER INSERT trigger whose table's new
-- rows train a model when, and only when, their transaction commits.
--   CREATE TRIGGER t AFTER INSERT ON events REFERENCING NEW TABLE AS new
--     FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('model', 'label');
-- Both the inserting role and the table's owner need train on the model.
CREATE FUNCTION monolith.train_trigger()
RETURNS pg_catalog.trigger
AS 'MODULE_PATHNAME', 'monolith_train_trigger'
LANGUAGE C;

-- What became of the examples captured to train at commit: trained
-- (examples_committed), dropped with their rolled-back transaction or
-- subtransaction (examples_rolled_back), or committed but not trained, as
-- the server log says why (examples_failed).
DROP VIEW monolith.models;
DROP FUNCTION monolith.model_stats();
CREATE FUNCTION monolith.model_stats(OUT model_id pg_catalog.int8, OUT ids pg_catalog.int8,
									 OUT memory_bytes pg_catalog.int8,
									 OUT examples_trained pg_catalog.int8,
									 OUT evicted pg_catalog.int8,
									 OUT refused pg_catalog.int8,
									 OUT longest_exclusive_ms pg_catalog.float8,
									 OUT examples_committed pg_catalog.int8,
									 OUT examples_rolled_back pg_catalog.int8,
									 OUT examples_failed pg_catalog.int8)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_model_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
CREATE VIEW monolith.models WITH (security_barrier) AS
SELECT d.name, d.owner, d.acl AS privileges, d.slots, d.numeric_features, d.dim, d.hidden,
	   d.optimizer, d.weight_optimizer, d.dense_optimizer,
	   d.learning_rate, d.dense_learning_rate, d.l1, d.l2,
	   d.min_count, d.admit_probability, d.negative_sample_rate, d.hash_rows, d.seed,
	   s.ids, s.memory_bytes, s.examples_trained, s.evicted, s.refused, s.longest_exclusive_ms,
	   s.examples_committed, s.examples_rolled_back, s.examples_failed,
	   d.created_at
FROM monolith.model_definitions d
JOIN monolith.model_stats() s ON s.model_id OPERATOR(pg_catalog.=) d.id;
GRANT SELECT ON monolith.models TO PUBLIC;
