-- The demo's serving replica (scripts/demo.sh): run on the trainer, with
-- psql variables socket, trainer_port and replica_port naming the two.
\set QUIET on
\pset footer off
\echo
\echo 'A serving replica: a second cluster with monolith.role = replica, subscribed to the trainer''s'
\echo 'publication; its apply worker writes every round the trainer''s sync ships into its shared memory.'

-- The top user's top 5 on the trainer, as pairs to score on the replica.
SELECT user_id AS top_user FROM ratings GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1 \gset
CREATE TEMP TABLE top5 AS
SELECT m.movie_id, m.title, string_to_array(m.genres, '|') AS genres,
       round(monolith.score('movies', :top_user, m.movie_id, string_to_array(m.genres, '|'))::numeric, 4) AS on_trainer
  FROM (SELECT DISTINCT ON (movie_id) movie_id, title, genres FROM ratings ORDER BY movie_id) m
 WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = :top_user AND r.movie_id = m.movie_id)
 ORDER BY on_trainer DESC, m.movie_id
 LIMIT 5;
SELECT string_agg(pg_catalog.format('(%s, %L::text[])', movie_id, genres), ', ') AS pairs FROM top5 \gset
SELECT movie_id AS first_movie, genres AS first_genres FROM top5 ORDER BY on_trainer DESC, movie_id LIMIT 1 \gset
\echo 'The top user''s top 5 on the trainer:'
SELECT movie_id, title, on_trainer FROM top5 ORDER BY on_trainer DESC, movie_id;

\c postgres - :socket :replica_port
\set QUIET on
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN (SELECT count(*) > 0 AND bool_and(ready) FROM monolith.replica_status);
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT model, ready, keys_applied FROM monolith.replica_status;
\echo 'The same top 5, scored on the replica from its own memory:'
SELECT p.movie_id, round(monolith.score('movies', :top_user, p.movie_id, p.genres)::numeric, 4) AS on_replica
  FROM (VALUES :pairs) p(movie_id, genres);

\echo 'Training on the replica is refused:'
\set ON_ERROR_STOP off
SELECT monolith.train('movies', true, :top_user, 1, ARRAY['Drama']);
\set ON_ERROR_STOP on

-- Fresh within a moment: the top user likes the first of them 50 times on the trainer.
\c postgres - :socket :trainer_port
\set QUIET on
INSERT INTO events SELECT :top_user, :first_movie, :'first_genres', true FROM generate_series(1, 50);
SELECT monolith.score('movies', :top_user, :first_movie, :'first_genres'::text[]) AS trained_score \gset
\echo 'After 50 more likes on the trainer, its score for the first of them, and the replica''s once it'
\echo 'answers the same (milliseconds since the insert committed):'
SELECT round(:trained_score::numeric, 4) AS on_trainer;
SELECT extract(epoch FROM clock_timestamp()) AS inserted_at \gset
\c postgres - :socket :replica_port
\set QUIET on
SET demo.user_id = :top_user;
SET demo.movie = :first_movie;
SET demo.genres = :'first_genres';
SET demo.score = :'trained_score';
DO $$
BEGIN
	FOR i IN 1..1000 LOOP
		EXIT WHEN monolith.score('movies', current_setting('demo.user_id')::int, current_setting('demo.movie')::int,
		                         current_setting('demo.genres')::text[]) = current_setting('demo.score')::float8;
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;
SELECT round(monolith.score('movies', :top_user, :first_movie, :'first_genres'::text[])::numeric, 4) AS on_replica,
       round((extract(epoch FROM clock_timestamp()) - :inserted_at) * 1000) AS ms_after;
