-- Quality figures on stream (see stream.sql).
\pset footer off
CREATE EXTENSION IF NOT EXISTS monolith;
SET monolith.progress_interval = 0;

-- The models compared: name, create_model options, the features train() takes.
CREATE TABLE variants (model text, options text, features text, reference_whole float8, reference_last20 float8);
INSERT INTO variants VALUES
	('FM', $$ARRAY['user_id', 'movie_id', 'genres'], dim => 16$$,
	 'user_id, movie_id, genres', 0.775, 0.822),
	('DeepFM [64,32]', $$ARRAY['user_id', 'movie_id', 'genres'], dim => 16, hidden => ARRAY[64, 32]$$,
	 'user_id, movie_id, genres', NULL, NULL),
	('DeepFM [64,32] + year', $$ARRAY['user_id', 'movie_id', 'genres'], dim => 16, hidden => ARRAY[64, 32],
	   numeric_features => ARRAY['year_scaled']$$,
	 'user_id, movie_id, genres, (year - 1995) / 20.0', NULL, NULL);
CREATE TABLE tables (rows_label text, hash_rows int, fm_reference float8);
INSERT INTO tables VALUES ('collisionless', 0, 0.775), ('2^12 shared rows', 4096, 0.760),
	('2^10 shared rows', 1024, 0.737);

-- One pass in time order, predicting each example before training on it.
CREATE FUNCTION progressive(model text, options text, features text, hash_rows int,
							OUT auc_whole float8, OUT auc_last20 float8)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT monolith.create_model(%L, %s, hash_rows => %s)', model, options, hash_rows);
	EXECUTE format('CREATE TEMP TABLE pv AS SELECT n, monolith.train(%L, liked, %s) AS p, liked '
				   'FROM stream ORDER BY n', model, features);
	SELECT monolith.auc(p, liked), monolith.auc(p, liked) FILTER (WHERE n > 0.8 * (SELECT max(n) FROM pv))
	  INTO auc_whole, auc_last20 FROM pv;
	DROP TABLE pv;
	PERFORM monolith.drop_model(model);
END
$$;

CREATE TABLE figure7 AS
SELECT v.model, t.rows_label, t.hash_rows, p.auc_whole, p.auc_last20,
	   CASE WHEN v.model = 'FM' THEN t.fm_reference END AS reference_whole
  FROM variants v, tables t,
	   progressive(v.model || ' ' || t.hash_rows, v.options, v.features, t.hash_rows) p;

\echo 'Collisionless against hashed rows (the paper''s Figure 7): progressive AUC, MovieLens, one pass in time order'
SELECT model, rows_label AS embedding_rows, round(auc_whole::numeric, 4) AS auc_whole_stream,
	   round(auc_last20::numeric, 4) AS auc_last_20pct,
	   reference_whole AS reference_fm_whole
  FROM figure7 ORDER BY model, hash_rows = 0 DESC, hash_rows DESC;

\echo 'Targets: the collisionless model beats every hashed variant of itself; the best model reaches 0.78 on the whole stream:'
SELECT model,
	   bool_and(c.auc_whole > h.auc_whole AND c.auc_last20 > h.auc_last20) AS collisionless_beats_hashed
  FROM figure7 c JOIN figure7 h USING (model)
 WHERE c.hash_rows = 0 AND h.hash_rows > 0 GROUP BY model ORDER BY model;
SELECT model AS best_model, round(auc_whole::numeric, 4) AS auc_whole_stream, auc_whole >= 0.78 AS reaches_0_78
  FROM figure7 WHERE hash_rows = 0 ORDER BY auc_whole DESC LIMIT 1;

-- Online against frozen (the paper's Table 2): two identical models learn
-- the first 80% in time order; then one keeps training on the last 20%
-- (predicting each example first), the other only predicts it.
CREATE FUNCTION online_vs_frozen(model text, options text, OUT auc_online float8, OUT auc_frozen float8)
LANGUAGE plpgsql AS $$
DECLARE
	cut bigint := (SELECT floor(0.8 * max(n)) FROM stream);
	head text := format('SELECT *, (year - 1995) / 20.0 AS year_scaled FROM stream WHERE n <= %s ORDER BY n', cut);
	tail text := format('SELECT *, (year - 1995) / 20.0 AS year_scaled FROM stream WHERE n > %s ORDER BY n', cut);
BEGIN
	EXECUTE format('SELECT monolith.create_model(%L, %s)', model || ' online', options);
	EXECUTE format('SELECT monolith.create_model(%L, %s)', model || ' frozen', options);
	PERFORM monolith.train_query(model || ' online', head, 'liked');
	PERFORM monolith.train_query(model || ' frozen', head, 'liked');
	SELECT auc INTO auc_online FROM monolith.train_query(model || ' online', tail, 'liked');
	SELECT auc INTO auc_frozen FROM monolith.evaluate(model || ' frozen', tail, 'liked');
	PERFORM monolith.drop_model(model || ' online');
	PERFORM monolith.drop_model(model || ' frozen');
END
$$;

\echo 'Online against frozen on the last 20% (the paper''s Table 2); online must win:'
SELECT v.model, round(o.auc_online::numeric, 4) AS auc_online, round(o.auc_frozen::numeric, 4) AS auc_frozen,
	   round((o.auc_online - o.auc_frozen)::numeric, 4) AS online_gain, o.auc_online > o.auc_frozen AS online_wins
  FROM variants v, online_vs_frozen(v.model, v.options) o ORDER BY v.model;

-- Negative sampling (Monolith section 2.2): an FM trained on every negative,
-- and one trained on 20% of them, learn the first 80% in time order; on the
-- last 20% the corrected sampled model should predict as the unsampled one
-- does, where its raw odds (without adding ln 0.2 back) would not.
SELECT monolith.create_model('every negative', ARRAY['user_id', 'movie_id', 'genres'], dim => 16);
SELECT monolith.create_model('20% of negatives', ARRAY['user_id', 'movie_id', 'genres'], dim => 16,
	   negative_sample_rate => 0.2);
CREATE TABLE calibration AS
SELECT m, e.*
  FROM unnest(ARRAY['every negative', '20% of negatives']) m,
	   LATERAL (SELECT monolith.train_query(m, format('SELECT * FROM stream WHERE n <= %s ORDER BY n',
													  (SELECT floor(0.8 * max(n)) FROM stream)), 'liked')) t,
	   monolith.evaluate(m, format('SELECT * FROM stream WHERE n > %s', (SELECT floor(0.8 * max(n)) FROM stream)),
						 'liked') e;
\echo 'Calibration on the last 20% (mean prediction against the observed positive rate, and log loss):'
SELECT m AS model, round(mean_prediction::numeric, 4) AS mean_prediction,
	   round(positive_rate::numeric, 4) AS observed_rate, round(log_loss::numeric, 4) AS log_loss,
	   round(auc::numeric, 4) AS auc
  FROM calibration ORDER BY m DESC;
SELECT 'sampled, without the correction' AS model,
	   round(avg(raw)::numeric, 4) AS mean_prediction, round(avg(liked::int)::numeric, 4) AS observed_rate,
	   round(avg(-(liked::int * ln(raw) + (1 - liked::int) * ln(1 - raw)))::numeric, 4) AS log_loss
  FROM (SELECT liked, p / (p + (1 - p) * 0.2) AS raw
		  FROM (SELECT liked, monolith.score('20% of negatives', user_id, movie_id, genres) AS p
				  FROM stream WHERE n > (SELECT floor(0.8 * max(n)) FROM stream)) s) r;
