-- From 0.1.0 to 0.2.0: models made before the update keep their parameters
-- and go on training as the plain FMs they were.
DROP EXTENSION monolith;
CREATE EXTENSION monolith VERSION '0.1.0';
SELECT monolith.create_model('old', ARRAY['u', 'i'], dim => 4, seed => 9);
SELECT count(monolith.train('old', u % 2 = 0, u, u + 1)) FROM generate_series(1, 10) u;
SELECT round(monolith.score('old', 2, 3)::numeric, 9) AS p_before \gset

ALTER EXTENSION monolith UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'monolith';
SELECT name, slots, numeric_features, hidden, optimizer, weight_optimizer, dense_optimizer,
       negative_sample_rate, hash_rows, ids, examples_trained
  FROM monolith.models;
SELECT round(monolith.score('old', 2, 3)::numeric, 9) = :p_before AS same_parameters;
SELECT examples FROM monolith.train_query('old', 'SELECT 1 AS u, 2 AS i, true AS label');
SELECT monolith.create_model('new', ARRAY['u'], hidden => ARRAY[4]);
SELECT name, hidden FROM monolith.models ORDER BY name;
DROP EXTENSION monolith;
CREATE EXTENSION monolith;
