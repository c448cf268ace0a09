-- Online training and scoring: progressive validation, learning, features.
SELECT monolith.create_model('likes', ARRAY['user_id', 'item_id', 'tags'], dim => 8,
       learning_rate => 0.1, seed => 7);

-- users like items of their own parity: a pattern only the interactions can learn
SELECT setseed(0.25);
CREATE TABLE events AS
SELECT n, user_id, item_id,
       ARRAY[CASE WHEN item_id % 3 = 0 THEN 'red' ELSE 'blue' END] AS tags,
       (user_id + item_id) % 2 = 0 AS liked
  FROM (SELECT n, 1 + floor(random() * 40)::int AS user_id,
               1 + floor(random() * 60)::int AS item_id
          FROM generate_series(1, 6000) n) r;

-- the first prediction on an empty model is the untrained bias
SELECT round(monolith.train('likes', liked, user_id, item_id, tags)::numeric, 4) AS first
  FROM events WHERE n = 1;

-- one pass, predicting each row before training on it
CREATE TABLE pv AS
SELECT n, monolith.train('likes', liked, user_id, item_id, tags) AS p, liked
  FROM events WHERE n > 1 ORDER BY n;
SELECT count(*) AS rows, bool_and(p > 0 AND p < 1) AS probabilities FROM pv;
SELECT monolith.auc(p, liked) > 0.6 AS learns_early,
       (SELECT monolith.auc(p, liked) FROM pv WHERE n > 4000) > 0.95 AS learned
  FROM pv;
SELECT ids, examples_trained FROM monolith.models WHERE name = 'likes';

-- scoring reads the model and changes nothing
SELECT round(monolith.score('likes', 2, 4, ARRAY['blue'])::numeric, 6) =
       round(monolith.score('likes', 2, 4, ARRAY['blue'])::numeric, 6) AS stable,
       monolith.score('likes', 2, 4, ARRAY['blue']) > 0.8 AS likes_same_parity,
       monolith.score('likes', 2, 5, ARRAY['blue']) < 0.2 AS dislikes_other_parity;
SELECT ids, examples_trained FROM monolith.models WHERE name = 'likes';

-- top items for a user, straight from SQL
SELECT bool_and(item_id % 2 = 0) AS all_even
  FROM (SELECT item_id FROM generate_series(1, 60) item_id
        ORDER BY monolith.score('likes', 10, item_id, ARRAY['blue']) DESC LIMIT 10) top;

-- unknown IDs contribute nothing: they score as the features absent
SELECT monolith.score('likes', 999, 4, ARRAY['blue']) = monolith.score('likes', NULL, 4, ARRAY['blue'])
       AS unknown_is_absent;
-- scoring an unknown ID does not add it
SELECT ids FROM monolith.models WHERE name = 'likes';

-- features: integers of any width share keys, text and arrays, NULLs inside arrays are skipped
SELECT monolith.score('likes', 2::smallint, 4::bigint, ARRAY['blue']) =
       monolith.score('likes', 2, 4, ARRAY['blue']) AS widths_agree,
       monolith.score('likes', 2, 4, ARRAY['blue', NULL]) =
       monolith.score('likes', 2, 4, ARRAY['blue']) AS null_elements_skipped,
       monolith.score('likes', 2, 4, 'blue'::text) =
       monolith.score('likes', 2, 4, ARRAY['blue']) AS scalar_is_one_element_array,
       monolith.score('likes', 2, 4, 'blue'::varchar) =
       monolith.score('likes', 2, 4, 'blue') AS varchar_and_unknown_literals;
-- a multi-valued slot mean-pools its IDs
SELECT monolith.score('likes', 2, 4, ARRAY['blue', 'blue']) =
       monolith.score('likes', 2, 4, ARRAY['blue']) AS pooled;
-- text and integer values of one slot are different IDs
SELECT monolith.score('likes', '2', 4, ARRAY['blue']) =
       monolith.score('likes', NULL, 4, ARRAY['blue']) AS text_two_is_not_int_two;

-- labels may be numbers in [0, 1]
SELECT round(monolith.train('likes', 1, 2, 4, ARRAY['blue'])::numeric, 2) > 0.5 AS int_label,
       monolith.train('likes', 0.75::numeric, 2, 4, ARRAY['blue']) > 0.5 AS numeric_label,
       monolith.train('likes', 0.25::real, 2, 4, ARRAY['blue']) > 0.5 AS real_label;

-- the same stream and seed give the same model
SELECT monolith.create_model('twin_a', ARRAY['u', 'i'], dim => 4, seed => 11);
SELECT monolith.create_model('twin_b', ARRAY['u', 'i'], dim => 4, seed => 11);
SELECT monolith.create_model('twin_c', ARRAY['u', 'i'], dim => 4, seed => 12);
SELECT sum(monolith.train('twin_a', liked, user_id, item_id)) AS a,
       sum(monolith.train('twin_b', liked, user_id, item_id)) AS b,
       sum(monolith.train('twin_c', liked, user_id, item_id)) AS c
  INTO TEMP twins FROM (SELECT * FROM events ORDER BY n LIMIT 500) e;
SELECT a = b AS same_seed_same_model, a <> c AS other_seed_other_model FROM twins;

-- one call may switch models from row to row
SELECT count(*) AS trained
  FROM (SELECT monolith.train(CASE WHEN n % 2 = 0 THEN 'twin_a' ELSE 'twin_b' END,
                              liked, user_id, item_id)
          FROM events WHERE n <= 10) t;
SELECT name, examples_trained FROM monolith.models WHERE name LIKE 'twin%' ORDER BY name;

-- frequency filter: an ID gets an entry on its third sighting, not before
SELECT monolith.create_model('frequent', ARRAY['id'], min_count => 3);
SELECT count(monolith.train('frequent', true, 77)) FROM generate_series(1, 2);
SELECT ids FROM monolith.models WHERE name = 'frequent';
SELECT round(monolith.score('frequent', 77)::numeric, 6) =
       round(monolith.score('frequent', NULL)::numeric, 6) AS unadmitted_is_absent;
SELECT monolith.train('frequent', true, 77) IS NOT NULL AS third;
SELECT ids FROM monolith.models WHERE name = 'frequent';

-- a filtered ID stays out even when the same example admits another
SELECT monolith.create_model('frequent_pair', ARRAY['u', 'i'], min_count => 2);
SELECT count(monolith.train('frequent_pair', true, 1, 2));
SELECT count(monolith.train('frequent_pair', true, 1, 3));
SELECT ids AS only_user_1 FROM monolith.models WHERE name = 'frequent_pair';

-- probabilistic filter: about half of the IDs seen once are admitted
SELECT monolith.create_model('sampled', ARRAY['id'], admit_probability => 0.5);
SELECT count(monolith.train('sampled', true, id)) FROM generate_series(1, 2000) id;
SELECT ids BETWEEN 850 AND 1150 AS about_half FROM monolith.models WHERE name = 'sampled';

SELECT count(monolith.drop_model(name)) AS dropped FROM monolith.models;
DROP TABLE events, pv;
