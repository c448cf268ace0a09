-- DeepFM: a tower over the slot embeddings and numeric features; every
-- sparse and dense optimizer; one model from per-row and set-based training.
SELECT monolith.create_model('deep', ARRAY['user_id', 'item_id'], dim => 8,
       numeric_features => ARRAY['age', 'price'], hidden => ARRAY[16, 8],
       optimizer => 'adagrad', weight_optimizer => 'ftrl', dense_optimizer => 'adam',
       learning_rate => 0.1, dense_learning_rate => 0.01, l1 => 0.01, l2 => 0.0001, seed => 3);
SELECT name, slots, numeric_features, dim, hidden, optimizer, weight_optimizer, dense_optimizer,
       learning_rate, dense_learning_rate, l1, l2, negative_sample_rate, hash_rows
  FROM monolith.models WHERE name = 'deep';
-- the tower's weights are there from the start
SELECT memory_bytes > (8 * 2 + 2) * 16 * 4 AS holds_tower FROM monolith.models WHERE name = 'deep';

-- the label needs the tower: liked when price is near the user's taste
SELECT setseed(0.5);
CREATE TABLE shop AS
SELECT n, user_id, item_id, age, price,
       abs(price - (user_id % 5 - 2) / 2.0) < 0.5 AS liked
  FROM (SELECT n, 1 + floor(random() * 30)::int AS user_id, 1 + floor(random() * 40)::int AS item_id,
               round((random() * 2 - 1)::numeric, 2) AS age,
               (random() * 4 - 2)::float8 AS price
          FROM generate_series(1, 8000) n) r;

CREATE TABLE deep_pv AS
SELECT n, monolith.train('deep', liked, user_id, item_id, age, price) AS p, liked
  FROM shop WHERE n <= 6000 ORDER BY n;
SELECT (SELECT monolith.auc(p, liked) FROM deep_pv WHERE n > 4000) > 0.85 AS learned;
SELECT (monolith.evaluate('deep', 'SELECT * FROM shop WHERE n > 6000', label => 'liked')).auc > 0.85
       AS held_out;
SELECT ids, examples_trained FROM monolith.models WHERE name = 'deep';

-- NULL numeric features count as 0; NULL slots as absent; untyped literals are read as numbers
SELECT monolith.score('deep', 1, 1, NULL, 0.5) = monolith.score('deep', 1, 1, 0, 0.5) AS null_is_zero,
       monolith.score('deep', 1, 1, '0.25', 0.5) = monolith.score('deep', 1, 1, 0.25, 0.5) AS literal;
SELECT monolith.score('deep', NULL, NULL, 0, 0) > 0 AS no_ids;
-- integer, real and numeric values all feed numeric features
SELECT monolith.score('deep', 1, 1, 1::smallint, 1::bigint) = monolith.score('deep', 1, 1, 1.0::float4, 1.0::numeric)
       AS types_agree;

-- per-row training and train_query give the same model, for every sparse optimizer
CREATE FUNCTION same_model(opt text) RETURNS TABLE (optimizer text, same_progressive_auc bool,
                                                    same_scores bool, same_ids bool)
LANGUAGE plpgsql AS $$
DECLARE
	row_auc float8;
	query_auc float8;
BEGIN
	PERFORM monolith.create_model('per_row_' || opt, ARRAY['user_id', 'item_id'], dim => 4,
	        numeric_features => ARRAY['age', 'price'], hidden => ARRAY[8],
	        optimizer => opt, seed => 11);
	PERFORM monolith.create_model('by_query_' || opt, ARRAY['user_id', 'item_id'], dim => 4,
	        numeric_features => ARRAY['age', 'price'], hidden => ARRAY[8],
	        optimizer => opt, seed => 11);
	SELECT monolith.auc(p, liked) INTO row_auc
	  FROM (SELECT monolith.train('per_row_' || opt, liked, user_id, item_id, age, price) AS p, liked
	          FROM shop ORDER BY n) t;
	SELECT (monolith.train_query('by_query_' || opt, 'SELECT * FROM shop ORDER BY n', 'liked')).auc
	  INTO query_auc;
	RETURN QUERY
	SELECT opt, row_auc = query_auc,
	       bool_and(monolith.score('per_row_' || opt, u, i, 0.3, 0.1) =
	                monolith.score('by_query_' || opt, u, i, 0.3, 0.1)),
	       (SELECT a.ids = b.ids AND a.examples_trained = b.examples_trained
	          FROM monolith.models a, monolith.models b
	         WHERE a.name = 'per_row_' || opt AND b.name = 'by_query_' || opt)
	  FROM generate_series(1, 31) u, generate_series(1, 41) i;
END
$$;
SELECT s.* FROM unnest(ARRAY['sgd', 'adagrad', 'ftrl', 'adam']) o, same_model(o) s;

-- another seed gives another model
SELECT monolith.create_model('other_seed', ARRAY['user_id', 'item_id'], dim => 4,
       numeric_features => ARRAY['age', 'price'], hidden => ARRAY[8], optimizer => 'adam', seed => 12);
SELECT (monolith.train_query('other_seed', 'SELECT * FROM shop ORDER BY n', 'liked')).examples;
SELECT monolith.score('other_seed', 1, 1, 0, 0) <> monolith.score('by_query_adam', 1, 1, 0, 0) AS differs;

-- hashed rows: every ID shares a few rows, so the table stays that small
SELECT monolith.create_model('hashed', ARRAY['user_id', 'item_id'], dim => 4, hash_rows => 8);
SELECT (monolith.train_query('hashed', 'SELECT * FROM shop', 'liked')).examples;
SELECT ids <= 8 AS at_most_8_rows FROM monolith.models WHERE name = 'hashed';

SELECT count(monolith.drop_model(name)) AS dropped FROM monolith.models
 WHERE name IN ('deep', 'other_seed', 'hashed') OR name LIKE 'per\_row\_%' OR name LIKE 'by\_query\_%';
DROP FUNCTION same_model(text);
DROP TABLE shop, deep_pv;
