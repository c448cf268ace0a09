-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION monolith UPDATE TO '0.2.0'" to load this file. \quit

-- DeepFM towers, numeric features, optimizers, negative sampling, hashed rows,
-- passes over queries.  Existing models keep what they were: a plain FM on
-- Adagrad.  CREATE EXTENSION installs 0.2.0 as 0.1.0 plus this script.
ALTER TABLE model_definitions
	ADD COLUMN numeric_features text[] NOT NULL DEFAULT '{}',
	ADD COLUMN hidden integer[] NOT NULL DEFAULT '{}',
	ADD COLUMN optimizer text NOT NULL DEFAULT 'adagrad',
	ADD COLUMN weight_optimizer text NOT NULL DEFAULT 'adagrad',
	ADD COLUMN dense_optimizer text NOT NULL DEFAULT 'adam',
	ADD COLUMN dense_learning_rate double precision NOT NULL DEFAULT 0.001,
	ADD COLUMN l1 double precision NOT NULL DEFAULT 0,
	ADD COLUMN l2 double precision NOT NULL DEFAULT 0,
	ADD COLUMN negative_sample_rate double precision NOT NULL DEFAULT 1,
	ADD COLUMN hash_rows bigint NOT NULL DEFAULT 0;

-- Reads only the catalog and shared memory, so parallel workers can score too.
ALTER FUNCTION score(text, "any") PARALLEL SAFE;

DROP VIEW models;
DROP FUNCTION create_model(text, text[], integer, double precision, integer, double precision, bigint);

CREATE FUNCTION create_model(name text, slots text[], dim integer DEFAULT 16,
							 learning_rate double precision DEFAULT 0.05,
							 min_count integer DEFAULT 1,
							 admit_probability double precision DEFAULT 1.0,
							 seed bigint DEFAULT 42,
							 numeric_features text[] DEFAULT '{}',
							 hidden integer[] DEFAULT '{}',
							 optimizer text DEFAULT 'adagrad',
							 weight_optimizer text DEFAULT NULL,
							 dense_optimizer text DEFAULT 'adam',
							 dense_learning_rate double precision DEFAULT 0.001,
							 l1 double precision DEFAULT 0,
							 l2 double precision DEFAULT 0,
							 negative_sample_rate double precision DEFAULT 1.0,
							 hash_rows bigint DEFAULT 0)
RETURNS void
AS 'MODULE_PATHNAME', 'monolith_create_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE VIEW models AS
SELECT d.name, d.slots, d.numeric_features, d.dim, d.hidden,
	   d.optimizer, d.weight_optimizer, d.dense_optimizer,
	   d.learning_rate, d.dense_learning_rate, d.l1, d.l2,
	   d.min_count, d.admit_probability, d.negative_sample_rate, d.hash_rows, d.seed,
	   coalesce(s.ids, 0) AS ids,
	   coalesce(s.memory_bytes, 0) AS memory_bytes,
	   coalesce(s.examples_trained, 0) AS examples_trained,
	   coalesce(s.evicted, 0) AS evicted,
	   d.created_at
FROM model_definitions d
LEFT JOIN model_stats() s ON s.model_id = d.id;

-- What a pass over a query reports; of the predictions made before each step
-- when training.
CREATE TYPE pass_figures AS (
	examples bigint,
	seconds double precision,
	examples_per_second double precision,
	auc double precision,
	log_loss double precision,
	mean_prediction double precision,
	positive_rate double precision
);

-- One pass over a query's rows, in its order: columns named after the
-- model's slots and numeric features are its inputs, label names the label.
CREATE FUNCTION train_query(model text, query text, label text DEFAULT 'label')
RETURNS pass_figures
AS 'MODULE_PATHNAME', 'monolith_train_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The same pass, predicting only.
CREATE FUNCTION evaluate(model text, query text, label text DEFAULT 'label')
RETURNS pass_figures
AS 'MODULE_PATHNAME', 'monolith_evaluate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
