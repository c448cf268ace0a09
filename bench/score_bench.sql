-- Scoring speed on models trained on the MovieLens stream; :runs runs, median.
\pset footer off
CREATE EXTENSION IF NOT EXISTS monolith;
SET monolith.progress_interval = 0;
SELECT monolith.create_model('pairs_fm', ARRAY['user_id', 'movie_id'], dim => 16);
SELECT monolith.create_model('movies_fm', ARRAY['user_id', 'movie_id', 'genres'], dim => 16);
SELECT examples FROM monolith.train_query('pairs_fm', 'SELECT * FROM stream', 'liked');
SELECT examples FROM monolith.train_query('movies_fm', 'SELECT * FROM stream', 'liked');

-- A million (user, movie) pairs in random order, so entries are reached as a
-- serving tier would reach them, not in table order.
SELECT setseed(0.5);
CREATE TABLE pairs AS
SELECT u.user_id AS a, m.movie_id AS b
  FROM (SELECT DISTINCT user_id FROM stream) u, (SELECT DISTINCT movie_id FROM stream) m
 ORDER BY random() LIMIT 1000000;
CREATE TABLE movies AS
SELECT DISTINCT ON (movie_id) movie_id, genres FROM stream ORDER BY movie_id;
VACUUM ANALYZE pairs, movies;

CREATE TABLE timings (method text, run int, seconds float8);
CREATE FUNCTION time_query(method text, run int, query text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	started timestamptz := clock_timestamp();
BEGIN
	EXECUTE query;
	INSERT INTO timings VALUES (method, run, extract(epoch FROM clock_timestamp() - started));
END
$$;

\o /dev/null
-- Per-row cost is what one process spends on a row, so both queries first
-- run serially; then both as the planner likes, in parallel (score is
-- PARALLEL SAFE).  Interleaved, so that a slow spell of this shared machine
-- hits every query alike.
SET max_parallel_workers_per_gather = 0;
SELECT time_query('floor: count(int4pl(a, b))', r, 'SELECT count(int4pl(a, b)) FROM pairs'),
       time_query('count(monolith.score(fm, a, b)), FM dim 16', r,
                  'SELECT count(monolith.score(''pairs_fm'', a, b)) FROM pairs')
  FROM generate_series(1, :runs) r;
RESET max_parallel_workers_per_gather;
SELECT time_query('parallel floor: count(int4pl(a, b))', r, 'SELECT count(int4pl(a, b)) FROM pairs'),
       time_query('parallel count(monolith.score(fm, a, b)), FM dim 16', r,
                  'SELECT count(monolith.score(''pairs_fm'', a, b)) FROM pairs')
  FROM generate_series(1, :runs) r;
-- Top 10 of all movies for 50 users, each query timed on its own: with the
-- FM of the pairs, and with the one that also reads the movie's genres.
SELECT time_query('top-10 of ' || (SELECT count(*) FROM movies) || ' movies, FM (user, movie)', u,
                  format('SELECT array_agg(movie_id) FROM (SELECT movie_id FROM movies '
                         'ORDER BY monolith.score(''pairs_fm'', %s, movie_id) DESC LIMIT 10) t', u)),
       time_query('top-10 of ' || (SELECT count(*) FROM movies) || ' movies, FM (user, movie, genres)', u,
                  format('SELECT array_agg(movie_id) FROM (SELECT movie_id FROM movies '
                         'ORDER BY monolith.score(''movies_fm'', %s, movie_id, genres) DESC LIMIT 10) t', u)),
       time_query('top-10 floor: ORDER BY int4pl(user, movie)', u,
                  format('SELECT array_agg(movie_id) FROM (SELECT movie_id FROM movies '
                         'ORDER BY int4pl(%s, movie_id) DESC LIMIT 10) t', u))
  FROM (SELECT DISTINCT user_id AS u FROM stream ORDER BY 1 LIMIT 50) users;
\o

CREATE VIEW medians AS
SELECT method, count(*) AS runs, percentile_disc(0.5) WITHIN GROUP (ORDER BY seconds) AS seconds
  FROM timings GROUP BY method;

\echo 'Scoring a million pairs, median of the runs, per row against the floor (target <= 3x):'
SELECT method, runs, round(1e9 * seconds / 1e6) AS ns_per_row,
       round((seconds / (SELECT seconds FROM medians f
                          WHERE f.method = CASE WHEN m.method LIKE 'parallel%'
                                                THEN 'parallel floor: count(int4pl(a, b))'
                                                ELSE 'floor: count(int4pl(a, b))' END))::numeric, 2) AS x_floor
  FROM medians m WHERE method NOT LIKE 'top-10%' ORDER BY method LIKE 'parallel%', seconds;

\echo 'Top-10 by ORDER BY score DESC LIMIT 10 (target < 5 ms):'
SELECT method, count(*) AS users,
       round((1e3 * percentile_disc(0.5) WITHIN GROUP (ORDER BY seconds))::numeric, 2) AS median_ms,
       round((1e3 * percentile_disc(0.95) WITHIN GROUP (ORDER BY seconds))::numeric, 2) AS p95_ms,
       round((1e3 * max(seconds))::numeric, 2) AS max_ms
  FROM timings WHERE method LIKE 'top-10%' GROUP BY method ORDER BY 3;
