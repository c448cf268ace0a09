-- Phases of bench/stall_bench.sh, chosen by :phase.
\pset footer off
SET monolith.progress_interval = 0;
SELECT :'phase' = 'setup' AS setup, :'phase' = 'idle' AS idle, :'phase' = 'alone' AS alone,
       :'phase' = 'train' AS train,
       :'phase' = 'beside' AS beside, :'phase' = 'report' AS report \gset
\if :setup
CREATE EXTENSION monolith;
SELECT monolith.create_model('big', ARRAY['id'], dim => 16);
SELECT monolith.create_model('alone', ARRAY['id'], dim => 16);
SELECT monolith.create_model('served', ARRAY['user_id', 'item_id'], dim => 16);
SELECT count(monolith.train('served', (u + i) % 2 = 0, u, i))
  FROM generate_series(1, 1000) u, generate_series(1, 100) i;
CREATE TABLE waits (phase text, model text, call int, ms float8);
CREATE TABLE training (started timestamptz, finished timestamptz, ids bigint);
-- Scores one (user, item) after another for the given seconds, or until
-- the training row is finished, recording how long each call took; the
-- big model's IDs are looked up too, by a second scorer call per round.
CREATE FUNCTION score_for(phase text, seconds float8) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	stop timestamptz := clock_timestamp() + seconds * interval '1 second';
	t0 timestamptz;
	t1 timestamptz;
	n int := 0;
BEGIN
	LOOP
		t0 := clock_timestamp();
		PERFORM monolith.score('served', n % 1000, n % 100);
		t1 := clock_timestamp();
		PERFORM monolith.score('big', n);
		INSERT INTO waits VALUES (phase, 'served', n, 1e3 * extract(epoch FROM t1 - t0)),
		                         (phase, 'big', n, 1e3 * extract(epoch FROM clock_timestamp() - t1));
		n := n + 1;
		EXIT WHEN clock_timestamp() > stop;
		IF n % 1000 = 0 AND phase = 'beside' THEN
			EXIT WHEN EXISTS (SELECT FROM training WHERE finished IS NOT NULL);
		END IF;
	END LOOP;
END
$$;
\endif
\if :idle
SELECT score_for('idle', 3);
\endif
\if :alone
SELECT count(monolith.train('alone', true, ids))
  FROM (SELECT array_agg(i) AS ids FROM generate_series(1, 10000000) i GROUP BY i / 100000) batches \gset
\endif
\if :train
INSERT INTO training VALUES (clock_timestamp(), NULL, 0);
SELECT count(monolith.train('big', true, ids))
  FROM (SELECT array_agg(i) AS ids FROM generate_series(1, 10000000) i GROUP BY i / 100000) batches \gset
UPDATE training SET finished = clock_timestamp(), ids = (SELECT ids FROM monolith.models WHERE name = 'big');
\endif
\if :beside
SELECT pg_sleep(0.5);
SELECT score_for('beside', 600);
\endif
\if :report
\echo 'The training statement (10 million new IDs, examples of 100,000), and the longest hold of'
\echo 'its model''s lock exclusive, when scorers must wait (target: under 10 ms), alone and beside'
\echo 'the scorers (where the machine may also take the CPU from the holder):'
SELECT t.ids, round(extract(epoch FROM finished - started)::numeric, 1) AS seconds,
       round(t.ids / extract(epoch FROM finished - started)) AS ids_per_second,
       round(a.longest_exclusive_ms::numeric, 2) AS longest_exclusive_ms_alone,
       round(m.longest_exclusive_ms::numeric, 2) AS longest_exclusive_ms_beside
  FROM training t, monolith.models m, monolith.models a WHERE m.name = 'big' AND a.name = 'alone';
\echo 'A scorer''s calls, idle and beside that statement: "big" is the model trained, "served"'
\echo 'another, whose waits are this shared machine''s own noise:'
SELECT phase, model, count(*) AS calls,
       round(percentile_disc(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS median_ms,
       round(percentile_disc(0.999) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p999_ms,
       round(max(ms)::numeric, 3) AS worst_ms
  FROM waits GROUP BY phase, model ORDER BY phase DESC, model DESC;
\endif
