-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION monolith" to load this file. \quit

-- Model definitions: survive restarts and pg_dump; parameters live in shared memory.
CREATE TABLE model_definitions (
	id bigserial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	slots text[] NOT NULL,
	dim integer NOT NULL,
	learning_rate double precision NOT NULL,
	min_count integer NOT NULL,
	admit_probability double precision NOT NULL,
	seed bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	numeric_features text[] NOT NULL DEFAULT '{}',
	hidden integer[] NOT NULL DEFAULT '{}',
	optimizer text NOT NULL DEFAULT 'adagrad',
	weight_optimizer text NOT NULL DEFAULT 'adagrad',
	dense_optimizer text NOT NULL DEFAULT 'adam',
	dense_learning_rate double precision NOT NULL DEFAULT 0.001,
	l1 double precision NOT NULL DEFAULT 0,
	l2 double precision NOT NULL DEFAULT 0,
	negative_sample_rate double precision NOT NULL DEFAULT 1,
	hash_rows bigint NOT NULL DEFAULT 0
);
SELECT pg_catalog.pg_extension_config_dump('model_definitions', '');
SELECT pg_catalog.pg_extension_config_dump('model_definitions_id_seq', '');

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

CREATE FUNCTION drop_model(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'monolith_drop_model'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION train(model text, label "any", VARIADIC features "any")
RETURNS double precision
AS 'MODULE_PATHNAME', 'monolith_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Reads only the catalog and shared memory, so parallel workers can score too.
CREATE FUNCTION score(model text, VARIADIC features "any")
RETURNS double precision
AS 'MODULE_PATHNAME', 'monolith_score'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION expire(model text, older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'monolith_expire'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION model_stats(OUT model_id bigint, OUT ids bigint, OUT memory_bytes bigint,
							OUT examples_trained bigint, OUT evicted bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'monolith_model_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

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

-- One pass over a query's rows, in its order: columns named after the
-- model's slots and numeric features are its inputs, label names the label.
-- train_query trains (figures are of the predictions made before each step);
-- evaluate only predicts.
CREATE FUNCTION train_query(model text, query text, label text DEFAULT 'label',
							OUT examples bigint, OUT seconds double precision,
							OUT examples_per_second double precision,
							OUT auc double precision, OUT log_loss double precision,
							OUT mean_prediction double precision,
							OUT positive_rate double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'monolith_train_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION evaluate(model text, query text, label text DEFAULT 'label',
						 OUT examples bigint, OUT seconds double precision,
						 OUT examples_per_second double precision,
						 OUT auc double precision, OUT log_loss double precision,
						 OUT mean_prediction double precision,
						 OUT positive_rate double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'monolith_evaluate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION auc_accum(internal, double precision, boolean)
RETURNS internal
AS 'MODULE_PATHNAME', 'monolith_auc_accum'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION auc_accum(internal, double precision, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'monolith_auc_accum'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION auc_final(internal)
RETURNS double precision
AS 'MODULE_PATHNAME', 'monolith_auc_final'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- ROC AUC of predictions against labels (boolean, or a number in [0, 1]).
CREATE AGGREGATE auc(prediction double precision, label boolean) (
	SFUNC = auc_accum, STYPE = internal, FINALFUNC = auc_final
);

CREATE AGGREGATE auc(prediction double precision, label double precision) (
	SFUNC = auc_accum, STYPE = internal, FINALFUNC = auc_final
);
