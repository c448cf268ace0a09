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

SELECT monolith.drop_model('q');
DROP TABLE q_events;
