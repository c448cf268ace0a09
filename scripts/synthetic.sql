-- A synthetic ratings stream shaped like MovieLens, for when the real one
-- cannot be had: creates ratings(user_id, movie_id, rating, ts, title, year,
-- genres) with 100,000 events in time order.  Users and movies are drawn
-- Zipf-like (P(id) ~ 1/id), movies have one or two of MovieLens' genres and a
-- quality, and each user's favourite genre changes once, at a time of their
-- own, so tastes drift.  Reproducible: random() is seeded.
SELECT setseed(0.42);

CREATE TEMP TABLE synthetic_genres AS
SELECT id::int, name
  FROM unnest(ARRAY['Action', 'Adventure', 'Animation', 'Children', 'Comedy', 'Crime',
                    'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical',
                    'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'])
       WITH ORDINALITY g(name, id);

CREATE TEMP TABLE synthetic_movies AS
SELECT movie_id, 'Movie ' || movie_id AS title, year, g1,
       CASE WHEN random() < 0.6 THEN 1 + floor(random() * 18)::int ELSE g1 END AS g2,
       quality
  FROM (SELECT movie_id, 1950 + floor(random() * 67)::int AS year,
               1 + floor(random() * 18)::int AS g1, random() AS quality
          FROM generate_series(1, 5000) movie_id) m;

CREATE TEMP TABLE synthetic_users AS
SELECT user_id,
       1 + floor(random() * 18)::int AS favourite_before,
       1 + floor(random() * 18)::int AS favourite_after,
       0.2 + 0.6 * random() AS drifts_at,
       random() - 0.5 AS generosity
  FROM generate_series(1, 1000) user_id;

CREATE TABLE ratings AS
WITH events AS (
	SELECT n, n / 100000.0 AS t,
	       floor(exp(random() * ln(1001)))::int AS user_id,
	       floor(exp(random() * ln(5001)))::int AS movie_id,
	       random() AS noise
	  FROM generate_series(1, 100000) n
), affinity AS (
	SELECT e.n, e.t, e.user_id, e.movie_id, m.title, m.year, m.g1, m.g2,
	       2 * m.quality - 1 + u.generosity + 2 * (e.noise - 0.5)
	       + CASE WHEN (CASE WHEN e.t < u.drifts_at THEN u.favourite_before
	                         ELSE u.favourite_after END) IN (m.g1, m.g2)
	              THEN 1.5 ELSE -0.3 END AS a
	  FROM events e
	  JOIN synthetic_users u USING (user_id)
	  JOIN synthetic_movies m USING (movie_id)
)
SELECT user_id, movie_id,
       greatest(0.5, least(5.0, round((3.8 + 1.2 * a) * 2) / 2))::real AS rating,
       (946684800 + t * 315360000)::bigint AS ts,
       title, year,
       (SELECT name FROM synthetic_genres WHERE id = g1)
       || CASE WHEN g2 <> g1 THEN '|' || (SELECT name FROM synthetic_genres WHERE id = g2) ELSE '' END
         AS genres
  FROM affinity
 ORDER BY n;
