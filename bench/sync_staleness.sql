-- AUC against the parameter sync interval on a serving replica (see
-- sync_staleness.sh).  Run on the trainer, with psql variables rate
-- (examples per stream second), speedup (stream seconds per wall second),
-- examples (the stream's first so many; 0 = all of it) and replica (a
-- connection string to the replica).
\pset footer off
CREATE EXTENSION dblink;
SELECT dblink_connect('replica', :'replica') \g /dev/null

CREATE TABLE stream AS
SELECT * FROM (SELECT row_number() OVER (ORDER BY ts, user_id, movie_id) AS n, user_id, movie_id,
					  string_to_array(genres, '|') AS genres, rating >= 4 AS liked
				 FROM ratings) s
 WHERE :examples = 0 OR n <= :examples;
CREATE UNIQUE INDEX ON stream (n);
ANALYZE stream;
SELECT count(*) AS stream_examples FROM stream \gset

-- Sync intervals in stream time, and the wall intervals they make (dense
-- weights as often, at least every 10 ms, their floor).
CREATE TABLE configs AS
SELECT ord, name,
	   CASE WHEN stream_ms > 0 THEN greatest(1, round(stream_ms / :speedup::float8)) ELSE 0 END::int AS sync_ms,
	   greatest(10, round(stream_ms / :speedup::float8))::int AS dense_ms
  FROM (VALUES (1, '100 ms', 100), (2, '10 s', 10000), (3, '5 min', 300000), (4, 'no sync', 0)) v(ord, name, stream_ms);
-- unlogged: no WAL for the trainer's walsender to decode beside the rounds
CREATE UNLOGGED TABLE predictions (config text, server text, n bigint, p float8);
CREATE TABLE runs (config text, seconds float8, max_behind_ms float8, rounds bigint, keys_applied bigint);

-- One configuration, its sync interval just set: a fresh model, ready on
-- the replica, then the stream in batches of 10, each at its stream time
-- over the speedup, scored on the replica and then trained on the trainer.
-- No commit is needed: steps are in shared memory at once, where the sync
-- finds them.
CREATE PROCEDURE replay(config text, per_second float8) LANGUAGE plpgsql AS $$
DECLARE
	model_name text := 'sync ' || config;
	total bigint := (SELECT max(n) FROM stream);
	ready boolean;
	start timestamptz;
	due timestamptz;
	behind interval := '0';
	request text;
BEGIN
	-- the worker rereads its settings when the reload's signal wakes it
	PERFORM pg_reload_conf();
	PERFORM pg_sleep(1);
	PERFORM monolith.create_model(model_name, ARRAY['user_id', 'movie_id', 'genres'], dim => 16);
	COMMIT;
	FOR i IN 1..600 LOOP
		SELECT r.ready INTO ready
		  FROM dblink('replica', format('SELECT ready FROM monolith.replica_status WHERE model = %L',
										model_name)) r(ready boolean);
		EXIT WHEN ready;
		PERFORM pg_sleep(0.1);
	END LOOP;
	IF ready IS NOT TRUE THEN
		RAISE EXCEPTION 'model "%" is not ready on the replica after 60 s', model_name;
	END IF;
	start := clock_timestamp();
	FOR lo IN 1..total BY 10 LOOP
		due := start + (lo - 1) / per_second * interval '1 second';
		PERFORM pg_sleep(extract(epoch FROM due - clock_timestamp()));
		behind := greatest(behind, clock_timestamp() - due);
		SELECT format('SELECT v.n, monolith.score(%L, v.u, v.m, v.g) FROM (VALUES %s) v(n, u, m, g)', model_name,
					  string_agg(format('(%s, %s, %s, %L::text[])', n, user_id, movie_id, genres), ', '))
		  INTO request FROM stream WHERE n >= lo AND n < lo + 10;
		INSERT INTO predictions SELECT config, 'replica', r.n, r.p FROM dblink('replica', request) r(n bigint, p float8);
		INSERT INTO predictions
		SELECT config, 'trainer', n, monolith.train(model_name, liked, user_id, movie_id, genres)
		  FROM stream WHERE n >= lo AND n < lo + 10 ORDER BY n;
	END LOOP;
	INSERT INTO runs
	SELECT config, extract(epoch FROM clock_timestamp() - start), extract(epoch FROM behind) * 1000,
		   coalesce((SELECT s.rounds FROM monolith.sync_status s WHERE s.model = model_name), 0),
		   (SELECT r.keys FROM dblink('replica', format('SELECT keys_applied FROM monolith.replica_status WHERE model = %L',
														model_name)) r(keys bigint));
	PERFORM monolith.drop_model(model_name);
END
$$;

\warn '== replaying' :stream_examples 'examples at' :rate 'a stream second,' :speedup 'times faster, once per configuration'
-- ALTER SYSTEM runs outside a transaction: \gexec sends each statement alone
SELECT format('ALTER SYSTEM SET monolith.sync_interval = %s', sync_ms),
	   format('ALTER SYSTEM SET monolith.dense_sync_interval = %s', dense_ms),
	   format('CALL replay(%L, %s)', name, :rate::float8 * :speedup)
  FROM configs ORDER BY ord \gexec

CREATE TABLE figures AS
SELECT c.ord, c.name, c.sync_ms, c.dense_ms, r.seconds, r.max_behind_ms, r.rounds, r.keys_applied,
	   count(*) FILTER (WHERE p.server = 'replica') AS examples,
	   monolith.auc(p.p, s.liked) FILTER (WHERE p.server = 'replica') AS replica_whole,
	   monolith.auc(p.p, s.liked) FILTER (WHERE p.server = 'replica' AND s.n > 0.8 * t.total) AS replica_last20,
	   monolith.auc(p.p, s.liked) FILTER (WHERE p.server = 'trainer') AS trainer_whole,
	   monolith.auc(p.p, s.liked) FILTER (WHERE p.server = 'trainer' AND s.n > 0.8 * t.total) AS trainer_last20
  FROM configs c JOIN runs r ON r.config = c.name JOIN predictions p ON p.config = c.name
	   JOIN stream s ON s.n = p.n, (SELECT max(n) AS total FROM stream) t
 GROUP BY c.ord, c.name, c.sync_ms, c.dense_ms, r.seconds, r.max_behind_ms, r.rounds, r.keys_applied;

\echo
\echo 'AUC against the parameter sync interval (the paper''s Table 2) on a serving replica: MovieLens in time order,'
\echo :stream_examples 'examples at' :rate 'a stream second, replayed' :speedup 'times faster; each example scored on the replica'
\echo 'just before the trainer learns it (progressive validation), the trainer''s own progressive AUC beside it:'
SELECT name AS interval_stream,
	   CASE WHEN sync_ms > 0 THEN sync_ms || ' ms' ELSE 'off' END AS sync_interval_wall,
	   CASE WHEN sync_ms > 0 THEN dense_ms || ' ms' ELSE 'off' END AS dense_sync_interval_wall,
	   examples, round(replica_whole::numeric, 4) AS replica_auc_whole, round(replica_last20::numeric, 4) AS replica_auc_last_20pct,
	   round(trainer_whole::numeric, 4) AS trainer_auc_whole, round(trainer_last20::numeric, 4) AS trainer_auc_last_20pct
  FROM figures ORDER BY ord;

\echo 'Pacing: the target and achieved rates (examples a wall second) and the latest a batch of 10 started after'
\echo 'its due time; the rounds the trainer shipped and the keys the replica applied:'
SELECT name AS interval_stream, round(:rate::numeric * :speedup) AS target_per_s,
	   round(examples / seconds) AS achieved_per_s, round(max_behind_ms::numeric, 1) AS max_behind_ms,
	   rounds, keys_applied
  FROM figures ORDER BY ord;

CREATE TABLE ordering AS
SELECT bool_and(whole > next_whole AND last20 > next_last20) AS holds
  FROM (SELECT replica_whole AS whole, lead(replica_whole) OVER (ORDER BY ord) AS next_whole,
			   replica_last20 AS last20, lead(replica_last20) OVER (ORDER BY ord) AS next_last20
		  FROM figures) f
 WHERE next_whole IS NOT NULL;
\echo 'Target: the replica''s AUC falls as the interval grows (100 ms > 10 s > 5 min > no sync), over the whole'
\echo 'stream and over its last 20 %:'
SELECT string_agg(name || ' ' || round(replica_whole::numeric, 4), ' > ' ORDER BY ord) AS replica_auc_whole,
	   string_agg(name || ' ' || round(replica_last20::numeric, 4), ' > ' ORDER BY ord) AS replica_auc_last_20pct,
	   o.holds AS falls_as_interval_grows
  FROM figures, ordering o GROUP BY o.holds;
