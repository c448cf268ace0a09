-- Times each way of training over the same stream, in time order, and prints
-- examples per second with the ratios.  Expects ratings and ref_train().
\pset footer off
CREATE EXTENSION monolith;
CREATE TABLE stream AS
SELECT row_number() OVER (ORDER BY ts, user_id, movie_id) AS n, user_id, movie_id,
       string_to_array(genres, '|') AS genres, rating >= 4 AS liked
  FROM ratings;
VACUUM ANALYZE stream;
CREATE TABLE timings (method text, examples bigint, seconds float8, auc float8);

-- Runs one training query over the stream and records its rate and progressive AUC.
CREATE FUNCTION time_method(method text, per_row_expr text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	started timestamptz := clock_timestamp();
	secs float8;
BEGIN
	EXECUTE format('CREATE TEMP TABLE pv AS SELECT n, %s AS p, liked FROM stream ORDER BY n', per_row_expr);
	secs := extract(epoch FROM clock_timestamp() - started);
	INSERT INTO timings
	SELECT method, count(*), secs, CASE WHEN method LIKE 'floor%' THEN NULL ELSE monolith.auc(p, liked) END FROM pv;
	DROP TABLE pv;
END
$$;

\o /dev/null
SELECT monolith.create_model('fm', ARRAY['user_id', 'movie_id', 'genres'], dim => 16);
SELECT monolith.create_model('mf', ARRAY['user_id', 'movie_id'], dim => 16);

SELECT time_method('floor: count(int4pl(a, b))', 'int4pl(user_id, movie_id)::float8');
SELECT time_method('PL/pgSQL logistic MF, dim 16', 'ref_train(user_id, movie_id, liked::int, 0.05)');
SELECT time_method('monolith.train FM, user+movie', 'monolith.train(''mf'', liked, user_id, movie_id)');
SELECT time_method('monolith.train FM, user+movie+genres', 'monolith.train(''fm'', liked, user_id, movie_id, genres)');
\o

\echo 'Training speed on the MovieLens stream (one pass, time order, same run):'
SELECT method, examples, round(seconds::numeric, 3) AS seconds,
       round(examples / seconds) AS examples_per_s,
       round(((examples / seconds) / (SELECT examples / seconds FROM timings WHERE method LIKE 'PL/pgSQL%'))::numeric, 1)
         AS x_plpgsql,
       round((1e9 * seconds / examples)::numeric) AS ns_per_example,
       round(auc::numeric, 4) AS progressive_auc
  FROM timings;
