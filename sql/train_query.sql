-- train_query and evaluate: one pass over a query's rows, in its order.
SET monolith.progress_interval = 0;
SELECT monolith.create_model('q', ARRAY['user_id', 'item_id', 'tags'], dim => 8,
       learning_rate => 0.1, seed => 7);
-- users like items of their own parity, over a fixed stream of pairs
CREATE TABLE q_events AS
SELECT n, 1 + n % 40 AS user_id, 1 + (n * 7 + n / 40) % 60 AS item_id,
       ARRAY[CASE WHEN (n * 7 + n / 40) % 3 = 0 THEN 'red' ELSE 'blue' END] AS tags,
       (n + (n * 7 + n / 40)) % 2 = 0 AS liked
  FROM generate_series(1, 6000) n;

-- columns are found by name, in any order; extra columns are ignored
SELECT examples, seconds >= 0 AS timed, examples_per_second > 0 AS has_rate,
       auc > 0.7 AS learns, log_loss < 0.6 AS log_loss_falls,
       abs(mean_prediction - positive_rate) < 0.05 AS calibrated
  FROM monolith.train_query('q', 'SELECT liked, n, tags, item_id, user_id FROM q_events ORDER BY n',
                            label => 'liked');
SELECT ids, examples_trained FROM monolith.models WHERE name = 'q';

-- evaluate predicts and changes nothing
CREATE TEMP TABLE q_before AS
SELECT ids, examples_trained, monolith.score('q', 1, 2, ARRAY['red']) AS p FROM monolith.models WHERE name = 'q';
SELECT examples, auc > 0.95 AS ranks_well
  FROM monolith.evaluate('q', 'SELECT user_id, item_id, tags, liked AS label FROM q_events');
-- a label that is a number in [0, 1], and one of another name
SELECT examples FROM monolith.evaluate('q', 'SELECT *, liked::int AS clicked FROM q_events LIMIT 10', 'clicked');
SELECT m.ids = b.ids AND m.examples_trained = b.examples_trained AND
       monolith.score('q', 1, 2, ARRAY['red']) = b.p AS unchanged
  FROM monolith.models m, q_before b WHERE m.name = 'q';

-- no rows: a count of zero and no figures
SELECT examples, examples_per_second, auc, log_loss, mean_prediction, positive_rate
  FROM monolith.evaluate('q', 'SELECT * FROM q_events WHERE false', 'liked');
-- NULL features are absent, as in monolith.train
SELECT examples FROM monolith.train_query('q', 'SELECT NULL::int AS user_id, NULL::int AS item_id, NULL::text[] AS tags, true AS label');

-- bad queries and columns leave the model as it was
CREATE TEMP TABLE q_before2 AS SELECT ids, examples_trained FROM monolith.models WHERE name = 'q';
SELECT * FROM monolith.train_query('nope', 'SELECT 1');
SELECT * FROM monolith.train_query(NULL, 'SELECT 1');
SELECT * FROM monolith.train_query('q', NULL);
SELECT * FROM monolith.train_query('q', 'SELECT 1', NULL);
SELECT * FROM monolith.train_query('q', 'SELEC 1');
SELECT * FROM monolith.train_query('q', 'SELECT 1; SELECT 2');
SELECT * FROM monolith.train_query('q', 'CREATE TABLE q_nothing (a int)');
-- a pass only reads: no DML, not even inside a WITH
SELECT * FROM monolith.train_query('q', 'DELETE FROM q_events WHERE n < 0 RETURNING *');
SELECT * FROM monolith.train_query('q', 'WITH d AS (DELETE FROM q_events WHERE n < 0 RETURNING *) SELECT * FROM d');
SELECT * FROM monolith.train_query('q', 'SELECT * FROM q_events FOR UPDATE');
-- nor through what the query calls: it runs read-only, temporary tables aside
CREATE TABLE q_log (n int);
CREATE SEQUENCE q_seq;
CREATE FUNCTION q_writes() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO q_log VALUES (1) RETURNING 1';
SELECT * FROM monolith.train_query('q', 'SELECT *, q_writes() AS w FROM q_events', 'liked');
SELECT * FROM monolith.train_query('q', 'SELECT *, nextval(''q_seq'') AS s FROM q_events', 'liked');
SELECT * FROM monolith.train_query('q', 'SELECT *, monolith.create_model(''inner'', ARRAY[''a'']) AS c FROM q_events', 'liked');
SELECT (SELECT count(*) FROM q_log) AS logged, (SELECT count(*) FROM monolith.models WHERE name = 'inner') AS inner_models;
-- and the transaction is as read-write as before, also after an error in the query
BEGIN;
SELECT examples FROM monolith.evaluate('q', 'SELECT * FROM q_events LIMIT 3', 'liked');
SHOW transaction_read_only;
INSERT INTO q_log VALUES (2);
SAVEPOINT s;
SELECT examples FROM monolith.evaluate('q', 'SELECT *, 1 / (n - 3) AS boom FROM q_events', 'liked');
ROLLBACK TO SAVEPOINT s;
INSERT INTO q_log VALUES (3);
SELECT count(*) AS logged FROM q_log;
ROLLBACK;
DROP FUNCTION q_writes();
DROP TABLE q_log;
DROP SEQUENCE q_seq;
SELECT count(*) AS rows_kept FROM q_events;
SELECT * FROM monolith.train_query('q', 'SELECT user_id, item_id, liked FROM q_events', 'liked');
SELECT * FROM monolith.train_query('q', 'SELECT user_id, item_id, tags FROM q_events');
SELECT * FROM monolith.train_query('q', 'SELECT user_id, item_id, tags, liked, 1 AS liked FROM q_events', 'liked');
SELECT * FROM monolith.train_query('q', 'SELECT user_id, item_id, 1.5 AS tags, liked FROM q_events', 'liked');
SELECT * FROM monolith.train_query('q', 'SELECT user_id, item_id, tags, now() AS label FROM q_events');
SELECT * FROM monolith.train_query('q', 'SELECT user_id, item_id, tags, NULL::bool AS label FROM q_events');
SELECT * FROM monolith.train_query('q', 'SELECT user_id, item_id, tags, 2 AS label FROM q_events');
SELECT * FROM monolith.train_query('q', 'SELECT user_id, item_id, tags, ''NaN''::float8 AS label FROM q_events');
SELECT * FROM monolith.evaluate('q', 'SELECT user_id, item_id, tags, liked FROM q_events');
SELECT m.ids = b.ids AND m.examples_trained = b.examples_trained AS unchanged
  FROM monolith.models m, q_before2 b WHERE m.name = 'q';

-- a pass that fails part-way keeps the steps of the batches of 16 before the
-- failing row's, on the IDs they repeat too (which step on copies merged at
-- the end of every few batches): failing at row 100, it ends as a pass over
-- rows 1 to 96 does
SELECT monolith.create_model('q_failed', ARRAY['user_id', 'item_id', 'tags'], dim => 8,
       learning_rate => 0.1, seed => 7);
SELECT monolith.create_model('q_cut', ARRAY['user_id', 'item_id', 'tags'], dim => 8,
       learning_rate => 0.1, seed => 7);
SELECT * FROM monolith.train_query('q_failed',
       'SELECT *, 1 / (100 - n) AS boom FROM (SELECT * FROM q_events ORDER BY n) e', 'liked');
SELECT examples FROM monolith.train_query('q_cut',
       'SELECT * FROM q_events WHERE n <= 96 ORDER BY n', 'liked');
SELECT f.ids = c.ids AND f.examples_trained = c.examples_trained AS same_counts,
       (SELECT count(*) FROM q_events
         WHERE monolith.score('q_failed', user_id, item_id, tags) IS DISTINCT FROM
               monolith.score('q_cut', user_id, item_id, tags)) AS differing_scores
  FROM monolith.models f, monolith.models c WHERE f.name = 'q_failed' AND c.name = 'q_cut';
SELECT monolith.drop_model('q_failed'), monolith.drop_model('q_cut');

-- The AUC of a pass, and of monolith.auc, spill beyond work_mem to a
-- temporary file and give the same figure as in memory.
SELECT auc AS auc_in_memory FROM monolith.evaluate('q', 'SELECT * FROM q_events', 'liked') \gset
SET work_mem = '64kB';
SELECT round(auc::numeric, 12) = round(:auc_in_memory::numeric, 12) AS same_auc_spilled
  FROM monolith.evaluate('q', 'SELECT * FROM q_events', 'liked');
CREATE TABLE q_scored AS
SELECT n, monolith.score('q', user_id, item_id, tags) AS p, liked FROM q_events;
SELECT round(monolith.auc(p, liked)::numeric, 12) = round(:auc_in_memory::numeric, 12) AS same_auc_aggregate
  FROM q_scored;
-- in a window, the aggregate answers again after each row, spilled or not
SELECT count(*) FILTER (WHERE spilled IS DISTINCT FROM whole) AS differing_rows
  FROM (SELECT n, round(monolith.auc(p, liked) OVER w::numeric, 12) AS spilled FROM q_scored
        WINDOW w AS (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) s
  JOIN (SELECT n, round((SELECT monolith.auc(p, liked) FROM q_scored b WHERE b.n <= a.n)::numeric, 12) AS whole
          FROM q_scored a WHERE n % 500 = 0) w USING (n);
-- a pass over a million rows keeps its backend's memory within work_mem's reach
SET work_mem = '1MB';
CREATE TEMP TABLE q_memory (bytes bigint);
CREATE FUNCTION q_note_memory() RETURNS int LANGUAGE sql VOLATILE AS
  'INSERT INTO q_memory SELECT sum(total_bytes) FROM pg_backend_memory_contexts RETURNING 0';
SELECT examples FROM monolith.evaluate('q',
  'SELECT n % 40 AS user_id, n % 60 AS item_id, NULL::text[] AS tags, n % 2 = 0 AS liked,
          CASE WHEN n % 250000 = 0 THEN q_note_memory() END AS note
     FROM generate_series(1, 1000000) n', 'liked');
SELECT count(*) AS notes, max(bytes) - min(bytes) < 8 * 1024 * 1024 AS bounded FROM q_memory;
RESET work_mem;
DROP FUNCTION q_note_memory();
DROP TABLE q_scored;

SELECT monolith.drop_model('q');
DROP TABLE q_events;
