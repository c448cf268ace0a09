-- The demo proper: expects a table ratings(user_id, movie_id, rating, ts, title, year, genres).
\pset footer off
CREATE EXTENSION monolith;
SELECT count(*) AS events, count(DISTINCT user_id) AS users, count(DISTINCT movie_id) AS movies,
       round(avg((rating >= 4)::int), 3) AS positive_share
  FROM ratings;

SELECT monolith.create_model('movies', slots => ARRAY['user_id', 'movie_id', 'genres'],
       dim => 16, learning_rate => 0.05);

\echo 'Replaying the stream in time order: each event is scored, then trained on.'
SELECT clock_timestamp() AS started \gset
CREATE TABLE replay AS
SELECT row_number() OVER () AS n, p, liked
  FROM (SELECT monolith.train('movies', rating >= 4, user_id, movie_id,
                              string_to_array(genres, '|')) AS p,
               rating >= 4 AS liked
          FROM ratings ORDER BY ts, user_id, movie_id) t;
SELECT count(*) AS examples,
       round(extract(epoch FROM clock_timestamp() - :'started'::timestamptz)::numeric, 2) AS seconds,
       round(count(*) / extract(epoch FROM clock_timestamp() - :'started'::timestamptz)) AS examples_per_second
  FROM replay;

\echo 'Progressive validation (predict before training):'
SELECT round(monolith.auc(p, liked)::numeric, 4) AS auc_whole_stream,
       round((SELECT monolith.auc(p, liked) FROM replay
               WHERE n > 0.8 * (SELECT count(*) FROM replay))::numeric, 4) AS auc_last_20pct
  FROM replay;

\echo 'The same stream into a DeepFM (a [64, 32] tower over the embeddings and the release year), in one train_query call:'
SELECT monolith.create_model('movies_deep', ARRAY['user_id', 'movie_id', 'genres'], dim => 16,
       hidden => ARRAY[64, 32], numeric_features => ARRAY['year_scaled']);
SELECT examples, round(seconds::numeric, 2) AS seconds, round(examples_per_second) AS examples_per_second,
       round(auc::numeric, 4) AS progressive_auc, round(log_loss::numeric, 4) AS log_loss
  FROM monolith.train_query('movies_deep',
       $$SELECT user_id, movie_id, string_to_array(genres, '|') AS genres,
                (year - 1995) / 20.0 AS year_scaled, rating >= 4 AS liked
           FROM ratings ORDER BY ts, user_id, movie_id$$, label => 'liked');

SELECT name, hidden, ids, memory_bytes, examples_trained FROM monolith.models;

\echo 'Top 10 recommendations for the most active user, among movies not yet rated:'
SELECT user_id AS top_user FROM ratings GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1 \gset
SELECT m.movie_id, m.title, m.genres,
       round(monolith.score('movies', :top_user, m.movie_id, string_to_array(m.genres, '|'))::numeric, 3) AS p
  FROM (SELECT DISTINCT ON (movie_id) movie_id, title, genres FROM ratings ORDER BY movie_id) m
 WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = :top_user AND r.movie_id = m.movie_id)
 ORDER BY p DESC, m.movie_id
 LIMIT 10;

\echo 'Online: events arrive as INSERTs; a trigger trains the model when, and only when, they commit.'
CREATE TABLE events (user_id int, movie_id int, genres text[], liked boolean);
CREATE TRIGGER events_train AFTER INSERT ON events
  REFERENCING NEW TABLE AS new FOR EACH STATEMENT
  EXECUTE FUNCTION monolith.train_trigger('movies', 'liked');
-- the last thousand ratings, again, in ten committed INSERTs; then one rolled back
DO $$
BEGIN
	FOR b IN 0..9 LOOP
		INSERT INTO events
		SELECT user_id, movie_id, string_to_array(genres, '|'), rating >= 4
		  FROM (SELECT * FROM ratings ORDER BY ts DESC, user_id, movie_id LIMIT 1000) r
		 ORDER BY ts, user_id, movie_id OFFSET 100 * b LIMIT 100;
		COMMIT;
	END LOOP;
END
$$;
BEGIN;
INSERT INTO events SELECT user_id, movie_id, string_to_array(genres, '|'), rating >= 4
  FROM ratings LIMIT 500;
ROLLBACK;
SELECT examples_committed, examples_rolled_back, round(committed_auc::numeric, 4) AS committed_auc
  FROM monolith.models WHERE name = 'movies';

\echo 'The online joiner: impressions shown now, likes arriving a moment later; the background worker'
\echo 'closes each impression''s 2-second window and trains the unanswered ones as negatives.'
CREATE TABLE impressions (request_id bigint PRIMARY KEY, shown_at timestamptz NOT NULL DEFAULT now(),
                          user_id int, movie_id int, genres text[]);
CREATE INDEX ON impressions (shown_at);
CREATE TABLE actions (request_id bigint, liked boolean);
CREATE INDEX ON actions (request_id);
SELECT monolith.create_joiner('movies_likes', 'movies', 'impressions', 'actions', 'request_id',
       'shown_at', 'liked', join_window => '2 seconds');
INSERT INTO impressions (request_id, user_id, movie_id, genres)
SELECT n, user_id, movie_id, string_to_array(genres, '|')
  FROM (SELECT row_number() OVER (ORDER BY ts, user_id, movie_id) AS n, * FROM ratings) r
 WHERE n <= 2000;
INSERT INTO actions
SELECT n, true FROM (SELECT row_number() OVER (ORDER BY ts, user_id, movie_id) AS n, rating FROM ratings) r
 WHERE n <= 2000 AND rating >= 4;
SELECT positives AS joined_positives FROM monolith.joiner_status;
-- the worker closes the windows within a few seconds
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT positives + negatives FROM monolith.joiner_status) = 2000;
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT positives, negatives, late_positives, closed_until IS NOT NULL AS windows_closed
  FROM monolith.joiner_status;
SELECT examples_committed FROM monolith.models WHERE name = 'movies';
