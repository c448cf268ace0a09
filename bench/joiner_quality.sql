-- The online joiner on MovieLens (see joiner_quality.sh): impressions are
-- the ratings in time order, an action is a rating >= 4 arriving 1 to 60
-- seconds of stream time later (stream minutes replayed as seconds: half
-- of a user's consecutive ratings are less than 10 s apart, so at minutes
-- the labels of a whole session arrive after it, and progressive AUC drops
-- by 0.03 for any trainer that waits for them).  Models learn the stream three ways:
--   batch     train_query over the stream in time order, every example;
--   joined    through a joiner, every negative kept;
--   joined20  through a joiner, negatives kept at 20 % (negative_sample_rate).
\pset footer off
CREATE EXTENSION IF NOT EXISTS monolith;
SET monolith.progress_interval = 0;
-- a commit a step: what a crash would lose does not matter here
SET synchronous_commit = off;

CREATE TABLE events AS
SELECT row_number() OVER (ORDER BY ts, user_id, movie_id) AS n, user_id, movie_id,
	   string_to_array(genres, '|') AS genres, rating >= 4 AS liked, to_timestamp(ts) AS shown_at
  FROM ratings;
CREATE UNIQUE INDEX ON events (n);
CREATE TABLE impressions (n bigint PRIMARY KEY, shown_at timestamptz NOT NULL, user_id int,
						  movie_id int, genres text[]);
CREATE INDEX ON impressions (shown_at);
CREATE TABLE actions (n bigint, acted_at timestamptz NOT NULL);
CREATE INDEX ON actions (n);
-- each liked rating's action, 1 to 60 seconds after it (a fixed hash of n)
CREATE TABLE pending_actions AS
SELECT n, shown_at + (1 + (n * 2654435761) % 60) * interval '1 second' AS acted_at
  FROM events WHERE liked;
CREATE INDEX ON pending_actions (acted_at);
-- what serving predicted for each impression of the last 20 %, before it was shown
CREATE TABLE served (model text, n bigint, p float8, liked boolean);

SELECT monolith.create_model(m, ARRAY['user_id', 'movie_id', 'genres'], dim => 16,
							 negative_sample_rate => r)
  FROM (VALUES ('batch', 1.0), ('joined', 1.0), ('joined20', 0.2)) v(m, r);
CREATE TABLE impressions20 (LIKE impressions INCLUDING ALL);
CREATE TABLE actions20 (LIKE actions INCLUDING ALL);
-- The event clock: a window closes when impressions shown 61 s later arrive;
-- nothing is deleted, so that the status counts every impression.
SELECT monolith.create_joiner(m, m, i, a, 'n', 'shown_at', join_window => '61 seconds',
							  clock => 'event', retention => '100 years')
  FROM (VALUES ('joined', 'impressions', 'actions'), ('joined20', 'impressions20', 'actions20')) v(m, i, a);

-- Replays the stream in time order, one impression time at a time, each
-- a transaction of its own, as events commit when they arrive: the actions
-- due by then, the windows closed up to then, then the impressions shown
-- then.  Before each impression of the last 20 %, serving scores it, with
-- the model as the commits before left it.  (How fresh that model is
-- decides calibration: a serving model that lags by a commit every 100
-- impressions misses the labels of whole bursts of a user's ratings, and
-- under-predicts by 0.03.)  The background worker, on the same event clock,
-- sees whole transactions only, so it closes nothing that the replay would
-- not.
CREATE PROCEDURE replay() LANGUAGE plpgsql AS $$
DECLARE
	total bigint := (SELECT max(n) FROM events);
	clock timestamptz := '-infinity';
	step record;
BEGIN
	FOR step IN SELECT shown_at, min(n) AS lo, max(n) AS hi FROM events GROUP BY shown_at ORDER BY shown_at
	LOOP
		INSERT INTO actions SELECT n, acted_at FROM pending_actions
		 WHERE acted_at >= clock AND acted_at < step.shown_at ORDER BY acted_at, n;
		INSERT INTO actions20 SELECT n, acted_at FROM pending_actions
		 WHERE acted_at >= clock AND acted_at < step.shown_at ORDER BY acted_at, n;
		PERFORM monolith.close_joiner('joined', step.shown_at),
				monolith.close_joiner('joined20', step.shown_at);
		IF step.hi > 0.8 * total THEN
			INSERT INTO served
			SELECT m, n, monolith.score(m, user_id, movie_id, genres), liked
			  FROM events, unnest(ARRAY['joined', 'joined20']) m WHERE n BETWEEN step.lo AND step.hi;
		END IF;
		INSERT INTO impressions SELECT n, shown_at, user_id, movie_id, genres FROM events
		 WHERE n BETWEEN step.lo AND step.hi ORDER BY n;
		INSERT INTO impressions20 SELECT n, shown_at, user_id, movie_id, genres FROM events
		 WHERE n BETWEEN step.lo AND step.hi ORDER BY n;
		clock := step.shown_at;
		COMMIT;
	END LOOP;
	-- the last actions, then every window closed
	INSERT INTO actions SELECT n, acted_at FROM pending_actions WHERE acted_at >= clock;
	INSERT INTO actions20 SELECT n, acted_at FROM pending_actions WHERE acted_at >= clock;
	PERFORM monolith.close_joiner('joined', clock + interval '1 day'),
			monolith.close_joiner('joined20', clock + interval '1 day');
END
$$;

CREATE TABLE figures AS
SELECT 'batch'::text AS model, t.examples, t.auc, t.seconds
  FROM monolith.train_query('batch', 'SELECT user_id, movie_id, genres, liked FROM events ORDER BY n',
							'liked') t;
\set start `date +%s.%N`
CALL replay();
\set stop `date +%s.%N`
INSERT INTO figures
SELECT m.name, m.examples_committed, m.committed_auc, :stop - :start
  FROM monolith.models m WHERE m.name IN ('joined', 'joined20');

\echo 'The online joiner on MovieLens: progressive AUC of the predictions made as each example trained'
SELECT f.model, f.examples AS examples_trained, round(f.auc::numeric, 4) AS progressive_auc,
	   round(f.seconds::numeric, 1) AS seconds,
	   s.positives, s.negatives, s.late_positives
  FROM figures f LEFT JOIN monolith.joiner_status s ON s.model = f.model ORDER BY f.model;

\echo 'Target: the joiner with every negative kept within 0.01 of train_query:'
SELECT round((j.auc - b.auc)::numeric, 4) AS joined_minus_batch, abs(j.auc - b.auc) <= 0.01 AS within_0_01
  FROM figures j, figures b WHERE j.model = 'joined' AND b.model = 'batch';

\echo 'Served predictions on the last 20 % against the observed positive rate (target with negatives sampled at 20 %: within 0.03)'
SELECT model, count(*) AS impressions, round(avg(p)::numeric, 4) AS mean_served_prediction,
	   round(avg(liked::int)::numeric, 4) AS positive_rate,
	   round((avg(p) - avg(liked::int))::numeric, 4) AS difference,
	   abs(avg(p) - avg(liked::int)) <= 0.03 AS within_0_03,
	   round(monolith.auc(p, liked)::numeric, 4) AS served_auc
  FROM served GROUP BY model ORDER BY model;
