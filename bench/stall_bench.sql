-- Phases of bench/stall_bench.sh, chosen by :phase.
\pset footer off
SET monolith.progress_interval = 0;
SELECT :'phase' = 'setup' AS setup, :'phase' = 'idle' AS idle, :'phase' = 'alone' AS alone,
       :'phase' = 'train' AS train, :'phase' = 'beside' AS beside,
       :'phase' = 'lower_cap' AS lower_cap, :'phase' = 'shrink' AS shrink,
       :'phase' = 'beside_shrink' AS beside_shrink, :'phase' = 'report' AS report \gset
\if :setup
CREATE EXTENSION monolith;
SELECT monolith.create_model('big', ARRAY['id'], dim => 16);
SELECT monolith.create_model('alone', ARRAY['id'], dim => 16);
SELECT monolith.create_model('served', ARRAY['user_id', 'item_id'], dim => 16);
SELECT count(monolith.train('served', (u + i) % 2 = 0, u, i))
  FROM generate_series(1, 1000) u, generate_series(1, 100) i;
CREATE TABLE waits (phase text, model text, call int, ms float8);
-- The statements: what they did, and their model's figures after.
CREATE TABLE training (what text, started timestamptz, finished timestamptz, ids bigint,
                       bytes_before bigint, bytes_after bigint, longest_exclusive_ms float8);
-- Trains a model on ten million new IDs, examples of 100,000, recorded as a
-- statement (its row committed with its end, which scorers beside wait for).
CREATE FUNCTION train_ten_million(statement text, model text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO training (what, started) VALUES (statement, clock_timestamp());
	PERFORM count(monolith.train(model, true, ids))
	   FROM (SELECT array_agg(i) AS ids FROM generate_series(1, 10000000) i GROUP BY i / 100000) batches;
	PERFORM statement_ended(statement, model);
END
$$;
-- Marks a statement ended, with its model's figures.
CREATE FUNCTION statement_ended(statement text, model text) RETURNS void LANGUAGE sql AS $$
	UPDATE training SET finished = clock_timestamp(), (ids, bytes_after, longest_exclusive_ms) =
	       (SELECT ids, memory_bytes, longest_exclusive_ms FROM monolith.models WHERE name = model)
	 WHERE what = statement;
$$;
-- Scores one (user, item) after another for the given seconds, or until
-- the statement it runs beside is finished, recording how long each call took; the
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
		IF n % 1000 = 0 AND phase <> 'idle' THEN
			EXIT WHEN EXISTS (SELECT FROM training WHERE what = phase AND finished IS NOT NULL);
		END IF;
	END LOOP;
END
$$;
\endif
\if :idle
SELECT score_for('idle', 3);
\endif
\if :alone
SELECT train_ten_million('alone', 'alone') \gset
\endif
\if :train
SELECT train_ten_million('beside', 'big') \gset
\endif
\if :lower_cap
-- The cap, lowered so that the big model's share (half, beside the served
-- one) is two thirds of what it holds: it must give back a third, and evict
-- an ID for each one it moves out of a chunk it returns.
SELECT monolith.drop_model('alone');
SELECT (memory_bytes * 4 / 3) / 1048576 AS cap_mb FROM monolith.models WHERE name = 'big' \gset
ALTER SYSTEM SET monolith.max_memory = :'cap_mb';
SELECT pg_reload_conf();
\endif
\if :shrink
-- Trains the served model, whose steps make the models above their shares
-- give memory back, a piece at a time, until the big one is within its share.
INSERT INTO training (what, started, bytes_before)
SELECT 'beside_shrink', clock_timestamp(), memory_bytes FROM monolith.models WHERE name = 'big';
DO $$
DECLARE
	stop timestamptz := clock_timestamp() + interval '300 seconds';
BEGIN
	WHILE clock_timestamp() < stop AND
	      (SELECT memory_bytes FROM monolith.models WHERE name = 'big') >
	      (SELECT cap_bytes / live_models FROM monolith.memory_usage()) LOOP
		PERFORM monolith.train('served', u % 2 = 0, u % 1000, u % 100) FROM generate_series(1, 1000) u;
	END LOOP;
END
$$;
SELECT statement_ended('beside_shrink', 'big');
\endif
\if :beside_shrink
SELECT pg_sleep(0.5);
SELECT score_for('beside_shrink', 600);
\endif
\if :beside
SELECT pg_sleep(0.5);
SELECT score_for('beside', 600);
\endif
\if :report
\echo 'The statements, and the longest hold of their model''s lock exclusive since it was made,'
\echo 'when scorers must wait (target: under 10 ms): training 10 million new IDs (examples of'
\echo '100,000) alone and beside the scorers (where the machine may also take the CPU from the'
\echo 'holder); then, the cap lowered, the same model giving back a third of its memory:'
SELECT CASE what WHEN 'alone' THEN 'train, alone' WHEN 'beside' THEN 'train, beside scorers'
                 ELSE 'shrink, beside scorers' END AS statement,
       ids, round(bytes_before / 1048576.0) AS mb_before, round(bytes_after / 1048576.0) AS mb_after,
       round(extract(epoch FROM finished - started)::numeric, 1) AS seconds,
       round(longest_exclusive_ms::numeric, 2) AS longest_exclusive_ms
  FROM training ORDER BY started;
\echo 'A scorer''s calls, idle and beside those statements: "big" is the model trained and'
\echo 'shrunk, "served" another, whose waits are this shared machine''s own noise:'
SELECT phase, model, count(*) AS calls,
       round(percentile_disc(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS median_ms,
       round(percentile_disc(0.999) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p999_ms,
       round(max(ms)::numeric, 3) AS worst_ms
  FROM waits GROUP BY phase, model ORDER BY min(ctid), model DESC;
\endif
