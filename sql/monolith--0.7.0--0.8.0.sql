-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION monolith UPDATE TO '0.8.0'" to load this file. \quit

-- Snapshots: a model's whole training state in a checksummed file under
-- the data directory (monolith/snapshots/), for pg_cron to schedule, e.g.
--   SELECT cron.schedule('monolith-snapshots', '*/15 * * * *',
--                        $$SELECT monolith.snapshot_all()$$);
-- At every start a trainer restores each model by itself from its latest
-- good snapshot and the sync's rows after it; monolith.restore puts a model
-- back as one snapshot has it.  monolith.snapshots_kept prunes old files.
CREATE FUNCTION monolith.snapshot(model pg_catalog.text,
								  OUT taken_at pg_catalog.timestamptz, OUT ids pg_catalog.int8,
								  OUT bytes pg_catalog.int8, OUT file pg_catalog.text)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_snapshot'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;

-- Every model the caller owns; one that fails is a warning, not an error.
CREATE FUNCTION monolith.snapshot_all(OUT model pg_catalog.text, OUT taken_at pg_catalog.timestamptz,
									  OUT ids pg_catalog.int8, OUT bytes pg_catalog.int8,
									  OUT file pg_catalog.text)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_snapshot_all'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- taken_at NULL: the latest snapshot that reads whole.  Returns the IDs restored.
CREATE FUNCTION monolith.restore(model pg_catalog.text, taken_at pg_catalog.timestamptz DEFAULT NULL)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'monolith_restore'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION monolith.snapshot_files(OUT model_id pg_catalog.int8, OUT taken_at pg_catalog.timestamptz,
										OUT status pg_catalog.text, OUT ids pg_catalog.int8,
										OUT bytes pg_catalog.int8,
										OUT sync_incarnation pg_catalog.timestamptz,
										OUT sync_round pg_catalog.int8, OUT file pg_catalog.text)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_snapshot_files'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- sync_incarnation and sync_round: the sync position the snapshot covers;
-- what the sync shipped from that round on is restored after it.
CREATE VIEW monolith.snapshots WITH (security_barrier) AS
SELECT d.name AS model, f.taken_at, f.status, f.ids, f.bytes, f.sync_incarnation, f.sync_round, f.file
FROM monolith.model_definitions d
JOIN monolith.snapshot_files() f ON f.model_id OPERATOR(pg_catalog.=) d.id;
GRANT SELECT ON monolith.snapshots TO PUBLIC;
