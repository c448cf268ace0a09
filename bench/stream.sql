-- The benchmarks' streams, from ratings: stream is MovieLens in time order
-- (label rating >= 4); stream20 replays it 20 times, renumbering users and
-- movies per replay so that every replay brings new IDs.  Both are written
-- in time order, so a sequential scan reads them so.
CREATE TABLE stream AS
SELECT row_number() OVER (ORDER BY ts, user_id, movie_id) AS n, user_id, movie_id,
       string_to_array(genres, '|') AS genres, year, rating >= 4 AS liked
  FROM ratings ORDER BY n;
CREATE TABLE stream20 AS
SELECT r * 1000000 + n AS n, user_id + r * 1000 AS user_id, movie_id + r * 1000000 AS movie_id,
       genres, liked
  FROM stream, generate_series(0, 19) r ORDER BY 1;
VACUUM ANALYZE stream, stream20;
