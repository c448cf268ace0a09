-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION monolith UPDATE TO '0.6.0'" to load this file. \quit

-- The parameter sync.  Every monolith.sync_interval the database's worker
-- writes, for each live model, the serving parameters of the keys that
-- changed (first-order weight and embedding; no optimizer state) and the
-- keys removed, in parts of many keys a row; the dense weights go to
-- sync_dense every monolith.dense_sync_interval.  A publication of these
-- tables and model_definitions (monolith.create_publication) carries them
-- to replicas, whose triggers write them into shared memory.  Rows are
-- versioned by the model state's incarnation (when it was made) and the
-- round, so that a replica never lets an older change overwrite a newer
-- one.  The rows of an incarnation stay about the model's size: once they
-- hold twice as many records as it has keys, a compaction cycle ships the
-- keys unchanged since it began and then deletes the older rounds (part -1
-- of a round is the purge that ends a cycle begun in it, after lost
-- removals).  Written only by the worker; data is the wire format of
-- src/sync_format.h.
CREATE TABLE monolith.sync_batches (
	model_id pg_catalog.int8 NOT NULL,
	incarnation pg_catalog.timestamptz NOT NULL,
	round pg_catalog.int8 NOT NULL,
	part pg_catalog.int4 NOT NULL,
	shipped_at pg_catalog.timestamptz NOT NULL,
	keys pg_catalog.int4 NOT NULL,		-- keys of values or removals it holds
	data pg_catalog.bytea NOT NULL,
	PRIMARY KEY (model_id, incarnation, round, part)
);
-- Floats do not compress: store them out of line without trying.
ALTER TABLE monolith.sync_batches ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE monolith.sync_dense (
	model_id pg_catalog.int8 PRIMARY KEY,
	incarnation pg_catalog.timestamptz NOT NULL,
	round pg_catalog.int8 NOT NULL,
	shipped_at pg_catalog.timestamptz NOT NULL,
	data pg_catalog.bytea NOT NULL
);
ALTER TABLE monolith.sync_dense ALTER COLUMN data SET STORAGE EXTERNAL;
REVOKE ALL ON monolith.sync_batches, monolith.sync_dense FROM PUBLIC;

-- A model made starts its database's worker when its transaction commits,
-- which ships it.
CREATE TRIGGER wake_worker AFTER INSERT ON monolith.model_definitions
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.wake_worker();

-- The publication that replicas subscribe to.
CREATE FUNCTION monolith.create_publication(name pg_catalog.name DEFAULT 'monolith')
RETURNS pg_catalog.void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE pg_catalog.format('CREATE PUBLICATION %I FOR TABLE monolith.model_definitions, '
							  'monolith.sync_batches, monolith.sync_dense', name);
END
$$;

-- Per live model the current user may use, what the sync has shipped: rounds, keys, bytes of parts,
-- keys changed since the last round (waiting; NULL when more than the log
-- holds), when the last round and the last dense weights went, and lag: the
-- age of the oldest change still waiting.
CREATE FUNCTION monolith.sync_stats(OUT model_id pg_catalog.int8,
									OUT incarnation pg_catalog.timestamptz,
									OUT rounds pg_catalog.int8,
									OUT keys_shipped pg_catalog.int8,
									OUT bytes_shipped pg_catalog.int8,
									OUT keys_waiting pg_catalog.int8,
									OUT last_sync pg_catalog.timestamptz,
									OUT last_dense_sync pg_catalog.timestamptz,
									OUT lag pg_catalog.interval)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_sync_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE VIEW monolith.sync_status WITH (security_barrier) AS
SELECT d.name AS model, s.incarnation, s.rounds, s.keys_shipped, s.bytes_shipped, s.keys_waiting,
	   s.last_sync, s.last_dense_sync, s.lag
FROM monolith.model_definitions d
JOIN monolith.sync_stats() s ON s.model_id OPERATOR(pg_catalog.=) d.id;
GRANT SELECT ON monolith.sync_status TO PUBLIC;

-- On a replica (monolith.role = 'replica'), the subscription's apply
-- worker fires this on every shipped row and it writes the parameters into
-- shared memory; on a trainer it does nothing.  ALWAYS: the apply worker
-- runs with session_replication_role = replica.
CREATE FUNCTION monolith.apply_sync()
RETURNS pg_catalog.trigger
AS 'MODULE_PATHNAME', 'monolith_apply_sync'
LANGUAGE C;
CREATE TRIGGER apply_sync AFTER INSERT OR UPDATE ON monolith.sync_batches
  FOR EACH ROW EXECUTE FUNCTION monolith.apply_sync();
CREATE TRIGGER apply_sync AFTER INSERT OR UPDATE ON monolith.sync_dense
  FOR EACH ROW EXECUTE FUNCTION monolith.apply_sync();
ALTER TABLE monolith.sync_batches ENABLE ALWAYS TRIGGER apply_sync;
ALTER TABLE monolith.sync_dense ENABLE ALWAYS TRIGGER apply_sync;

-- On a replica, per model in memory: whether it is ready to score (rebuilt
-- from the replicated tables), the trainer's incarnation it holds, the keys
-- applied, the parts it could not apply, and the age of the last change
-- applied (since the trainer shipped it).
CREATE FUNCTION monolith.replica_stats(OUT model_id pg_catalog.int8,
									   OUT ready pg_catalog.bool,
									   OUT incarnation pg_catalog.timestamptz,
									   OUT keys_applied pg_catalog.int8,
									   OUT parts_rejected pg_catalog.int8,
									   OUT last_applied_age pg_catalog.interval)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'monolith_replica_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE VIEW monolith.replica_status WITH (security_barrier) AS
SELECT d.name AS model, s.ready, s.incarnation, s.keys_applied, s.parts_rejected, s.last_applied_age
FROM monolith.model_definitions d
JOIN monolith.replica_stats() s ON s.model_id OPERATOR(pg_catalog.=) d.id;
GRANT SELECT ON monolith.replica_status TO PUBLIC;
