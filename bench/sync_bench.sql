-- The trainer's side of bench/sync_bench.sh: the models, the publications,
-- the floor's plain tables and the probe that times a change from its
-- commit to a replica that answers it.
CREATE EXTENSION monolith;
CREATE EXTENSION dblink;
-- load takes the training load; probe only the probe's steps, so that once
-- a step has committed its score stays put until a replica has it.
SELECT monolith.create_model('load', ARRAY['user_id', 'movie_id', 'genres'], dim => 16);
SELECT monolith.create_model('probe', ARRAY['user_id', 'movie_id', 'genres'], dim => 16);
SELECT monolith.create_publication();

-- The floor: rows of monolith.sync_batches' shape in a plain table, and one
-- row a key upserted, published to a subscriber with a no-op trigger.
CREATE TABLE floor_batches (LIKE monolith.sync_batches INCLUDING ALL);
CREATE TABLE floor_keys (key int8 PRIMARY KEY, round int8 NOT NULL, params bytea NOT NULL);
CREATE PUBLICATION floor FOR TABLE floor_batches, floor_keys;
CREATE SEQUENCE floor_round;
-- Incompressible payloads for floor rows, made once.
CREATE EXTENSION pgcrypto;
CREATE TABLE floor_payloads (id int PRIMARY KEY, data bytea NOT NULL);

-- The servers a probe asks, by label.
CREATE TABLE targets (label text PRIMARY KEY, conninfo text NOT NULL);

-- One row per probe: how long after its commit each target answered it
-- (NULL: not within 10 s).
CREATE TABLE latency (phase text, target text, ms float8);

-- Every 0 to 2 * mean_gap seconds for seconds: runs step (a format string
-- of the probe's number) and commits, then asks each target, over the
-- targets asked names (connecting to those it has not yet), check until it gives what answer
-- gives here, sleeping 1 ms between rounds of asking.
CREATE PROCEDURE probe(phase text, asked text[], seconds float8, mean_gap float8,
                       step text, answer text, check_sql text)
LANGUAGE plpgsql AS $$
DECLARE
	stop timestamptz := clock_timestamp() + seconds * interval '1 s';
	i int := 0;
	expected text;
	got text;
	committed timestamptz;
	waiting text[];
	target text;
BEGIN
	PERFORM dblink_connect(label, conninfo) FROM targets
	  WHERE label = ANY (asked) AND label <> ALL (coalesce(dblink_get_connections(), '{}'));
	WHILE clock_timestamp() < stop LOOP
		i := i + 1;
		EXECUTE format(step, i);
		COMMIT;
		committed := clock_timestamp();
		EXECUTE format(answer, i) INTO expected;
		waiting := asked;
		WHILE cardinality(waiting) > 0 AND clock_timestamp() < committed + interval '10 s' LOOP
			FOREACH target IN ARRAY waiting LOOP
				SELECT r INTO got FROM dblink(target, format(check_sql, i)) AS t(r text);
				IF got IS NOT DISTINCT FROM expected THEN
					INSERT INTO latency VALUES (phase, target, extract(epoch FROM clock_timestamp() - committed) * 1000);
					waiting := array_remove(waiting, target);
				END IF;
			END LOOP;
			PERFORM pg_sleep(0.001);
		END LOOP;
		INSERT INTO latency SELECT phase, w, NULL FROM unnest(waiting) w;
		COMMIT;
		PERFORM pg_sleep(2 * mean_gap * random());
	END LOOP;
END
$$;

-- The probe of the sync: a step on the probe model, answered by its new score.
CREATE PROCEDURE probe_sync(phase text, asked text[], seconds float8)
LANGUAGE plpgsql AS $$
BEGIN
	CALL probe(phase, asked, seconds, 0.1,
	           $q$SELECT monolith.train('probe', true, 1000000000 + %1$s, 1000000000 + %1$s, ARRAY['probe'])$q$,
	           $q$SELECT monolith.score('probe', 1000000000 + %1$s, 1000000000 + %1$s, ARRAY['probe'])::text$q$,
	           $q$SELECT monolith.score('probe', 1000000000 + %1$s, 1000000000 + %1$s, ARRAY['probe'])::text$q$);
END
$$;

-- What a phase moved: counters read before and after it.
CREATE TABLE counters (phase text, at timestamptz, keys int8, bytes int8, rows int8, wal pg_lsn,
                       applied int8);
CREATE TABLE phases (n serial, phase text PRIMARY KEY, target_keys_s int);
-- What each phase moved, per second and per key.
CREATE VIEW moved AS
SELECT p.n, p.phase, p.target_keys_s, extract(epoch FROM a.at - b.at) AS secs,
       a.keys - b.keys AS keys, a.bytes - b.bytes AS bytes, a.rows - b.rows AS rows,
       a.wal - b.wal AS wal, a.applied - b.applied AS applied
  FROM phases p JOIN counters b ON b.phase = p.phase || '/before' JOIN counters a ON a.phase = p.phase || '/after';
-- The probe's latencies per phase and target, unanswered probes counted as forever.
CREATE VIEW probe_latency AS
SELECT phase, target, count(*) AS probes, count(*) FILTER (WHERE ms IS NULL) AS unanswered,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(ms, 'infinity')) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY coalesce(ms, 'infinity')) AS p99,
       max(coalesce(ms, 'infinity')) AS max
  FROM latency GROUP BY phase, target;
