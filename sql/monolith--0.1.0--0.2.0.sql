-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION monolith UPDATE TO '0.2.0'" to load this file. \quit

-- DeepFM towers, numeric features, optimizers, negative sampling, hashed rows,
-- passes over queries.  Existing models keep what they were: a plain FM on
-- Adagrad.  CREATE EXTENSION installs 0.2.0 as 0.1.0 plus this script.
ALTER TABLE monolith.model_definitions
	ADD COLUMN numeric_features pg_catalog.text[] NOT NULL DEFAULT '{}',
	ADD COLUMN hidden pg_catalog.int4[] NOT NULL DEFAULT '{}',
	ADD COLUMN optimizer pg_catalog.text NOT NULL DEFAULT 'adagrad',
	ADD COLUMN weight_optimizer pg_catalog.text NOT NULL DEFAULT 'adagrad',
	ADD COLUMN dense_optimizer pg_catalog.text NOT NULL DEFAULT 'adam',
	ADD COLUMN dense_learning_rate pg_catalog.float8 NOT NULL DEFAULT 0.001,
	ADD COLUMN l1 pg_catalog.float8 NOT NULL DEFAULT 0,
	ADD COLUMN l2 pg_catalog.float8 NOT NULL DEFAULT 0,
	ADD COLUMN negative_sample_rate pg_catalog.float8 NOT NULL DEFAULT 1,
	ADD COLUMN hash_rows pg_catalog.int8 NOT NULL DEFAULT 0;

-- Reads only the catalog and shared memory, so parallel workers can score too.
ALTER FUNCTION monolith.score(pg_catalog.text, pg_catalog."any") PARALLEL SAFE;

DROP VIEW monolith.models;
DROP FUNCTION monolith.create_model(pg_catalog.text, pg_catalog.text[], pg_catalog.int4,
	pg_catalog.float8, pg_catalog.int4, pg_catalog.float8, pg_catalog.int8);

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
							 hash_rows pg_catalog.int8 DEFAULT 0)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_create_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE VIEW monolith.models AS
SELECT d.name, d.slots, d.numeric_features, d.dim, d.hidden,
	   d.optimizer, d.weight_optimizer, d.dense_optimizer,
	   d.learning_rate, d.dense_learning_rate, d.l1, d.l2,
	   d.min_count, d.admit_probability, d.negative_sample_rate, d.hash_rows, d.seed,
	   coalesce(s.ids, 0) AS ids,
	   coalesce(s.memory_bytes, 0) AS memory_bytes,
	   coalesce(s.examples_trained, 0) AS examples_trained,
	   coalesce(s.evicted, 0) AS evicted,
	   d.created_at
FROM monolith.model_definitions d
LEFT JOIN monolith.model_stats() s ON s.model_id OPERATOR(pg_catalog.=) d.id;

-- What a pass over a query reports; of the predictions made before each step
-- when training.
CREATE TYPE monolith.pass_figures AS (
	examples pg_catalog.int8,
	seconds pg_catalog.float8,
	examples_per_second pg_catalog.float8,
	auc pg_catalog.float8,
	log_loss pg_catalog.float8,
	mean_prediction pg_catalog.float8,
	positive_rate pg_catalog.float8
);

-- One pass over a query's rows, in its order: columns named after the
-- model's slots and numeric features are its inputs, label names the label.
CREATE FUNCTION monolith.train_query(model pg_catalog.text, query pg_catalog.text,
									 label pg_catalog.text DEFAULT 'label')
RETURNS monolith.pass_figures
AS 'MODULE_PATHNAME', 'monolith_train_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The same pass, predicting only.
CREATE FUNCTION monolith.evaluate(model pg_catalog.text, query pg_catalog.text,
								  label pg_catalog.text DEFAULT 'label')
RETURNS monolith.pass_figures
AS 'MODULE_PATHNAME', 'monolith_evaluate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
