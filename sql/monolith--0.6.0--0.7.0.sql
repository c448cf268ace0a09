-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION monolith UPDATE TO '0.7.0'" to load this file. \quit

-- Expiry by age, done by the database's worker (monolith.expire_interval):
-- a model's IDs unseen for its ttl leave, or, per slot, for the slot's own
-- (as Monolith's per-slot expire days); the removals reach replicas as the
-- sync's other removals do.  Stored, '0' means none: create_model takes NULL.
-- A replica's definitions arrive by the publication, so replicas take this
-- update before their trainer.
ALTER TABLE monolith.model_definitions
	ADD COLUMN ttl pg_catalog.interval NOT NULL DEFAULT '0',
	ADD COLUMN slot_ttl pg_catalog.interval[] NOT NULL DEFAULT '{}';

DROP VIEW monolith.models;
DROP FUNCTION monolith.create_model(pg_catalog.text, pg_catalog.text[], pg_catalog.int4,
	pg_catalog.float8, pg_catalog.int4, pg_catalog.float8, pg_catalog.int8, pg_catalog.text[],
	pg_catalog.int4[], pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.float8,
	pg_catalog.float8, pg_catalog.float8, pg_catalog.float8, pg_catalog.int8);
-- ttl: IDs unseen this long expire (NULL: never); slot_ttl: one for each
-- slot, its own ttl (a NULL element: the model's, shown as 0 in
-- monolith.models).
CREATE FUNCTION monolith.create_model(name pg_catalog.text, slots pg_catalog.text[],
							 dim pg_catalog.int4 DEFAULT 16,
							 learning_rate pg_catalog.float8 DEFAULT 0.05,
							 min_count pg_catalog.int4 DEFAULT 1,
							 admit_probability pg_catalog.float8 DEFAULT 1.0,
							 seed pg_catalog.int8 DEFAULT 42,
							 numeric_features pg_catalog.text[] DEFAULT '{}',
							 hidden pg_catalog.int4[] DEFAULT '{}',
							 optimizer pg_catalog.text DEFAULT 'adagrad',
							 weight_optimizer pg_catalog.text DEFAULT NULL,
							 dense_optimizer pg_catalog.text DEFAULT 'adam',
							 dense_learning_rate pg_catalog.float8 DEFAULT 0.001,
							 l1 pg_catalog.float8 DEFAULT 0,
							 l2 pg_catalog.float8 DEFAULT 0,
							 negative_sample_rate pg_catalog.float8 DEFAULT 1.0,
							 hash_rows pg_catalog.int8 DEFAULT 0,
							 ttl pg_catalog.interval DEFAULT NULL,
							 slot_ttl pg_catalog.interval[] DEFAULT NULL)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_create_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- expired: IDs removed for their age, by the worker or monolith.expire.
DROP FUNCTION monolith.model_stats();
CREATE FUNCTION monolith.model_stats(OUT model_id pg_catalog.int8, OUT ids pg_catalog.int8,
									 OUT memory_bytes pg_catalog.int8,
									 OUT examples_trained pg_catalog.int8,
									 OUT evicted pg_catalog.int8,
									 OUT refused pg_catalog.int8,
									 OUT longest_exclusive_ms pg_catalog.float8,
									 OUT examples_committed pg_catalog.int8,
									 OUT examples_rolled_back pg_catalog.int8,
									 OUT examples_failed pg_catalog.int8,
									 OUT committed_auc pg_catalog.float8,
									 OUT expired pg_catalog.int8)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_model_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
CREATE VIEW monolith.models WITH (security_barrier) AS
SELECT d.name, d.owner, d.acl AS privileges, d.slots, d.numeric_features, d.dim, d.hidden,
	   d.optimizer, d.weight_optimizer, d.dense_optimizer,
	   d.learning_rate, d.dense_learning_rate, d.l1, d.l2,
	   d.min_count, d.admit_probability, d.negative_sample_rate, d.hash_rows, d.seed,
	   CASE WHEN d.ttl OPERATOR(pg_catalog.<>) '0' THEN d.ttl END AS ttl,
	   CASE WHEN pg_catalog.cardinality(d.slot_ttl) OPERATOR(pg_catalog.>) 0 THEN d.slot_ttl END AS slot_ttl,
	   s.ids, s.memory_bytes, s.examples_trained, s.evicted, s.expired, s.refused, s.longest_exclusive_ms,
	   s.examples_committed, s.examples_rolled_back, s.examples_failed, s.committed_auc,
	   d.created_at
FROM monolith.model_definitions d
JOIN monolith.model_stats() s ON s.model_id OPERATOR(pg_catalog.=) d.id;
GRANT SELECT ON monolith.models TO PUBLIC;
