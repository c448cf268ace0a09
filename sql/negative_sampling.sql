-- Negative sampling with the log-odds correction keeps predictions calibrated.
-- Click rates of 2% to 20% by user; a model trained on every negative and one
-- trained on a 20% sample of them are compared on held-out rows.
SET monolith.progress_interval = 0;
SELECT setseed(0.75);
CREATE TABLE clicks AS
SELECT n, user_id, item_id, random() < 0.02 + 0.18 * (user_id - 1) / 99.0 AS clicked
  FROM (SELECT n, 1 + floor(random() * 100)::int AS user_id, 1 + floor(random() * 50)::int AS item_id
          FROM generate_series(1, 100000) n) r;

SELECT monolith.create_model('every_negative', ARRAY['user_id', 'item_id'], dim => 4, seed => 1);
SELECT monolith.create_model('sampled', ARRAY['user_id', 'item_id'], dim => 4, seed => 1,
       negative_sample_rate => 0.2);
SELECT negative_sample_rate FROM monolith.models WHERE name = 'sampled';

CREATE TABLE trained AS
SELECT m, t.*
  FROM unnest(ARRAY['every_negative', 'sampled']) m,
       monolith.train_query(m, 'SELECT * FROM clicks WHERE n <= 80000 ORDER BY n', 'clicked') t;
-- the sampled model stepped on the positives and about a fifth of the negatives
SELECT m, examples,
       (SELECT examples_trained FROM monolith.models WHERE name = m) <
         CASE m WHEN 'sampled' THEN 0.35 ELSE 1.01 END * examples AS steps_as_sampled
  FROM trained ORDER BY m;

-- held out: the corrected model is as calibrated as the unsampled one
CREATE TABLE held_out AS
SELECT m, e.*
  FROM unnest(ARRAY['every_negative', 'sampled']) m,
       monolith.evaluate(m, 'SELECT * FROM clicks WHERE n > 80000', 'clicked') e;
SELECT m, examples, abs(mean_prediction - positive_rate) < 0.01 AS calibrated,
       auc > 0.6 AS ranks
  FROM held_out ORDER BY m;
SELECT abs(s.log_loss - e.log_loss) < 0.005 AS same_log_loss
  FROM held_out s, held_out e WHERE s.m = 'sampled' AND e.m = 'every_negative';

-- without the correction the sampled model would be off about fourfold
SELECT avg(raw) > 2.5 * avg(clicked::int) AS uncorrected_overshoots,
       avg(-(clicked::int * ln(raw) + (1 - clicked::int) * ln(1 - raw))) >
         (SELECT log_loss FROM held_out WHERE m = 'sampled') + 0.05 AS uncorrected_loses
  FROM (SELECT clicked, p / (p + (1 - p) * 0.2) AS raw
          FROM (SELECT clicked, monolith.score('sampled', user_id, item_id) AS p
                  FROM clicks WHERE n > 80000) s) r;

SELECT monolith.drop_model('every_negative'), monolith.drop_model('sampled');
DROP TABLE clicks, trained, held_out;
