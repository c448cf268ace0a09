-- The demo's crash recovery (scripts/demo.sh).  With before=true: a
-- snapshot, then more training after it, and the top user's scores just
-- before a crash; with before=false, once the server was stopped with
-- -m immediate (as a crash would stop it) and started again: the model
-- the server restored by itself, scoring as before the crash.
\set QUIET on
\pset footer off
SELECT user_id AS top_user FROM ratings GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1 \gset
\if :before
\echo
\echo 'Crash recovery: a snapshot of the model (as pg_cron would take one), then 50 more likes after it.'
SELECT ids, pg_size_pretty(bytes) AS size FROM monolith.snapshot('movies');
CREATE TABLE demo_movies AS
SELECT DISTINCT ON (movie_id) movie_id, title, string_to_array(genres, '|') AS genres
  FROM ratings ORDER BY movie_id, ts;
INSERT INTO events
SELECT :top_user, movie_id, genres, true FROM demo_movies ORDER BY movie_id DESC LIMIT 50;
-- a sync interval or two, for the last round to ship
SELECT pg_sleep(0.3) AS slept \gset
CREATE TABLE before_crash AS
SELECT movie_id, title, round(monolith.score('movies', :top_user, movie_id, genres)::numeric, 4) AS before_crash
  FROM demo_movies ORDER BY movie_id DESC LIMIT 5;
\echo 'Five of the liked movies as the trainer scores them, just before the crash:'
SELECT movie_id, title, before_crash FROM before_crash ORDER BY movie_id DESC;
\else
\echo 'After the crash, the server restored the model by itself: its latest snapshot, then what the sync'
\echo 'shipped after it (the 50 likes). The same five, scored by the restored model:'
SELECT b.movie_id, b.before_crash,
       round(monolith.score('movies', :top_user, b.movie_id, m.genres)::numeric, 4) AS after_restart
  FROM before_crash b JOIN demo_movies m USING (movie_id) ORDER BY b.movie_id DESC;
SELECT name AS model, ids FROM monolith.models WHERE name = 'movies';
\endif
