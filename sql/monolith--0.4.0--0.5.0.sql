-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION monolith UPDATE TO '0.5.0'" to load this file. \quit

-- Online joiners: actions join the impressions they answer and train
-- positives; impressions left unanswered when their window closes train
-- negatives (kept at the model's negative_sample_rate).  Read and written
-- only by the extension's functions, which check the caller's rights.
CREATE TABLE monolith.joiners (
	id bigserial PRIMARY KEY,
	name pg_catalog.text NOT NULL UNIQUE,
	owner pg_catalog.regrole NOT NULL,
	model_id pg_catalog.int8 NOT NULL,
	impressions pg_catalog.regclass NOT NULL,
	actions pg_catalog.regclass NOT NULL,
	key_column pg_catalog.name NOT NULL,
	time_column pg_catalog.name NOT NULL,
	positive_column pg_catalog.name,
	join_window pg_catalog.interval NOT NULL,
	retention pg_catalog.interval NOT NULL,
	allowed_lateness pg_catalog.interval NOT NULL,
	clock pg_catalog.text NOT NULL,
	late_actions pg_catalog.text NOT NULL,
	-- impressions shown up to here have had their windows closed
	closed_until pg_catalog.timestamptz,
	created_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('monolith.joiners', '');
SELECT pg_catalog.pg_extension_config_dump('monolith.joiners_id_seq', '');

-- A joiner made, or restored, starts its database's background worker when
-- its transaction commits.
CREATE FUNCTION monolith.wake_worker()
RETURNS pg_catalog.trigger
AS 'MODULE_PATHNAME', 'monolith_wake_worker'
LANGUAGE C;
CREATE TRIGGER wake_worker AFTER INSERT ON monolith.joiners
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.wake_worker();

-- What each impression trained, committed with the training: a positive
-- (an action joined it), a negative (its window closed unanswered; offered
-- to the model's sampling), or both (an action came after the negative and
-- the joiner trains late actions).
CREATE TABLE monolith.joined (
	joiner pg_catalog.int8 NOT NULL,
	key pg_catalog.text NOT NULL,
	shown_at pg_catalog.timestamptz NOT NULL,
	positive pg_catalog.bool NOT NULL,
	negative pg_catalog.bool NOT NULL,
	PRIMARY KEY (joiner, key)
);
CREATE INDEX joined_shown_at ON monolith.joined (joiner, shown_at);
SELECT pg_catalog.pg_extension_config_dump('monolith.joined', '');

-- Makes a joiner named name for model: actions inserted into actions join
-- the impression with the same key (a unique column of impressions) and
-- train a positive if positive_column (a boolean column of actions; NULL:
-- every action) is true; impressions whose time_column is more than
-- join_window behind the clock ('wall': now(); 'event': the latest
-- impression's time) train a negative unless a positive action for them
-- has committed.  Late actions ('train' or 'ignore') are those that come
-- after their impression's negative.  Impressions committed more than
-- allowed_lateness behind the closed windows train nothing at closing; the
-- closed ones are deleted after retention.  The caller must own both
-- tables and hold train on the model; the joiner's queries on them run as
-- the impressions table's owner.
CREATE FUNCTION monolith.create_joiner(name pg_catalog.text, model pg_catalog.text,
									   impressions pg_catalog.regclass,
									   actions pg_catalog.regclass,
									   key_column pg_catalog.name,
									   time_column pg_catalog.name,
									   positive_column pg_catalog.name DEFAULT NULL,
									   join_window pg_catalog.interval DEFAULT '1 hour',
									   retention pg_catalog.interval DEFAULT '7 days',
									   late_actions pg_catalog.text DEFAULT 'train',
									   clock pg_catalog.text DEFAULT 'wall',
									   allowed_lateness pg_catalog.interval DEFAULT '10 seconds')
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_create_joiner'
LANGUAGE C VOLATILE;

-- Drops a joiner, its trigger and its record; its owner's (or a superuser's) to do.
CREATE FUNCTION monolith.drop_joiner(name pg_catalog.text)
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'monolith_drop_joiner'
LANGUAGE C VOLATILE STRICT;

-- Closes the windows of a joiner's impressions shown up to join_window
-- before as_of (NULL: the joiner's clock), and deletes what retention lets
-- go by the clock, in the caller's transaction, as the background worker
-- does; returns the impressions closed.  Closing past the clock (to end a
-- replay, say) closes windows that later impressions can no longer join.
CREATE FUNCTION monolith.close_joiner(name pg_catalog.text,
									  as_of pg_catalog.timestamptz DEFAULT NULL)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'monolith_close_joiner'
LANGUAGE C VOLATILE;

-- The actions table's trigger, made by create_joiner.
CREATE FUNCTION monolith.joiner_trigger()
RETURNS pg_catalog.trigger
AS 'MODULE_PATHNAME', 'monolith_joiner_trigger'
LANGUAGE C;

-- Each joiner whose owner the current role acts for, with what the
-- impressions that retention still keeps trained (monolith.models counts
-- every example its model learnt).
CREATE VIEW monolith.joiner_status WITH (security_barrier) AS
SELECT j.name, j.owner, m.name AS model, j.impressions, j.actions, j.join_window, j.retention,
	   j.clock, j.late_actions, j.closed_until,
	   c.positives, c.negatives, c.late_positives, j.created_at
FROM monolith.joiners j
LEFT JOIN monolith.model_definitions m ON m.id OPERATOR(pg_catalog.=) j.model_id
CROSS JOIN LATERAL (
	SELECT pg_catalog.count(*) FILTER (WHERE d.positive) AS positives,
		   pg_catalog.count(*) FILTER (WHERE d.negative) AS negatives,
		   pg_catalog.count(*) FILTER (WHERE d.positive AND d.negative) AS late_positives
	FROM monolith.joined d WHERE d.joiner OPERATOR(pg_catalog.=) j.id) c
WHERE pg_catalog.pg_has_role(j.owner, 'USAGE');
GRANT SELECT ON monolith.joiner_status TO PUBLIC;

-- committed_auc: the progressive AUC (of the predictions made as each
-- example trained) of the examples trained at commit, by train_trigger and
-- joiners; within about 0.001 of the exact figure (1024 prediction bins).
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
									 OUT examples_failed pg_catalog.int8,
									 OUT committed_auc pg_catalog.float8)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_model_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
CREATE VIEW monolith.models WITH (security_barrier) AS
SELECT d.name, d.owner, d.acl AS privileges, d.slots, d.numeric_features, d.dim, d.hidden,
	   d.optimizer, d.weight_optimizer, d.dense_optimizer,
	   d.learning_rate, d.dense_learning_rate, d.l1, d.l2,
	   d.min_count, d.admit_probability, d.negative_sample_rate, d.hash_rows, d.seed,
	   s.ids, s.memory_bytes, s.examples_trained, s.evicted, s.refused, s.longest_exclusive_ms,
	   s.examples_committed, s.examples_rolled_back, s.examples_failed, s.committed_auc,
	   d.created_at
FROM monolith.model_definitions d
JOIN monolith.model_stats() s ON s.model_id OPERATOR(pg_catalog.=) d.id;
GRANT SELECT ON monolith.models TO PUBLIC;
