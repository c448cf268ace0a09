-- Bad input gets a clear error and leaves every model as it was.
SELECT monolith.create_model('guarded', ARRAY['user_id', 'item_id'], dim => 4);
SELECT count(monolith.train('guarded', true, u, u + 1)) FROM generate_series(1, 3) u;
CREATE TEMP TABLE before AS
SELECT ids, examples_trained, monolith.score('guarded', 1, 2) AS p
  FROM monolith.models WHERE name = 'guarded';

-- unknown model
SELECT monolith.train('nope', true, 1, 2);
SELECT monolith.score('nope', 1, 2);
SELECT monolith.expire('nope', interval '1 day');
SELECT monolith.drop_model('nope');
-- NULL model name, label or age
SELECT monolith.train(NULL, true, 1, 2);
SELECT monolith.score(NULL, 1, 2);
SELECT monolith.train('guarded', NULL::boolean, 1, 2);
SELECT monolith.expire('guarded', NULL);
SELECT monolith.drop_model(NULL);
-- wrong number of features
SELECT monolith.train('guarded', true, 1);
SELECT monolith.score('guarded', 1, 2, 3);
-- unsupported feature and label types
SELECT monolith.train('guarded', true, 1, 2.5);
SELECT monolith.score('guarded', true, 2);
SELECT monolith.score('guarded', 1, ARRAY[1.5]);
SELECT monolith.score('guarded', 1, now());
SELECT monolith.train('guarded', 'yes'::text, 1, 2);
SELECT monolith.train('guarded', now(), 1, 2);
-- more IDs in one example than a step may hold its lock for
SELECT monolith.score('guarded', 1, (SELECT array_agg(i) FROM generate_series(1, 100001) i));
SELECT monolith.train('guarded', true, 1, (SELECT array_agg(i) FROM generate_series(1, 100001) i));
-- features as one VARIADIC array
SELECT monolith.score('guarded', VARIADIC ARRAY[1, 2]);
-- labels out of range, NaN, infinite
SELECT monolith.train('guarded', 'NaN'::float8, 1, 2);
SELECT monolith.train('guarded', -0.5, 1, 2);
SELECT monolith.train('guarded', 2, 1, 2);
SELECT monolith.train('guarded', 'Infinity'::float8, 1, 2);
SELECT monolith.train('guarded', 1.5::numeric, 1, 2);
SELECT monolith.train('guarded', 'NaN'::numeric, 1, 2);
-- a negative age
SELECT monolith.expire('guarded', interval '-1 day');

-- bad definitions
SELECT monolith.create_model('guarded', ARRAY['a']);
SELECT monolith.create_model('', ARRAY['a']);
SELECT monolith.create_model(repeat('x', 64), ARRAY['a']);
SELECT monolith.create_model(NULL, ARRAY['a']);
SELECT monolith.create_model('bad', NULL);
SELECT monolith.create_model('bad', ARRAY[]::text[]);
SELECT monolith.create_model('bad', ARRAY['a', NULL]);
SELECT monolith.create_model('bad', ARRAY['a', '']);
SELECT monolith.create_model('bad', ARRAY['a', 'b', 'a']);
SELECT monolith.create_model('bad', ARRAY[ARRAY['a'], ARRAY['b']]);
SELECT monolith.create_model('bad', (SELECT array_agg('s' || i) FROM generate_series(1, 256) i));
-- definitions that could never be used: more inputs than train can pass, names
-- longer than a column's, rates that are zero or denormal as floats
SELECT monolith.create_model('bad', (SELECT array_agg('s' || i) FROM generate_series(1, 99) i));
SELECT monolith.create_model('bad', (SELECT array_agg('s' || i) FROM generate_series(1, 90) i),
       numeric_features => (SELECT array_agg('x' || i) FROM generate_series(1, 9) i));
SELECT monolith.create_model('bad', ARRAY['a', repeat('s', 64)]);
SELECT monolith.create_model('bad', ARRAY['a'], numeric_features => ARRAY[repeat('x', 64)]);
SELECT monolith.create_model('bad', ARRAY['a'], learning_rate => 1e-40);
SELECT monolith.create_model('bad', ARRAY['a'], dense_learning_rate => 1e-39);
SELECT monolith.create_model('bad', ARRAY['a'], l2 => 1e-45);
-- at the limits, usable: 98 inputs, names of 63 bytes, the smallest normal rate
SELECT monolith.create_model('wide', (SELECT array_agg('s' || i) FROM generate_series(1, 97) i),
       numeric_features => ARRAY[repeat('x', 63)], learning_rate => 1.2e-38, dim => 2);
SELECT format('SELECT monolith.train(%L, true, %s) > 0 AS trains_with_98_features', 'wide',
              string_agg(i::text, ', ')) FROM generate_series(1, 98) i \gexec
SELECT count(*) AS wide_models FROM monolith.models WHERE name = 'wide';
SELECT monolith.drop_model('wide');
SELECT monolith.create_model('bad', ARRAY['a'], dim => 0);
SELECT monolith.create_model('bad', ARRAY['a'], dim => 1025);
SELECT monolith.create_model('bad', ARRAY['a'], dim => NULL);
SELECT monolith.create_model('bad', ARRAY['a'], learning_rate => 0);
SELECT monolith.create_model('bad', ARRAY['a'], learning_rate => -0.1);
SELECT monolith.create_model('bad', ARRAY['a'], learning_rate => 'NaN');
SELECT monolith.create_model('bad', ARRAY['a'], learning_rate => 'Infinity');
SELECT monolith.create_model('bad', ARRAY['a'], min_count => 0);
SELECT monolith.create_model('bad', ARRAY['a'], min_count => 70000);
SELECT monolith.create_model('bad', ARRAY['a'], admit_probability => 0);
SELECT monolith.create_model('bad', ARRAY['a'], admit_probability => 1.5);
SELECT monolith.create_model('bad', ARRAY['a'], admit_probability => 'NaN');
SELECT monolith.create_model('bad', ARRAY['a'], seed => NULL);
SELECT count(*) AS bad_models FROM monolith.models WHERE name = 'bad';

-- auc input
SELECT monolith.auc(p, y) FROM (VALUES ('NaN'::float8, true)) v(p, y);
SELECT monolith.auc(p, y) FROM (VALUES (0.5, 1.5::float8)) v(p, y);

-- nothing above changed the model
SELECT m.ids = b.ids AS same_ids, m.examples_trained = b.examples_trained AS same_examples,
       monolith.score('guarded', 1, 2) = b.p AS same_prediction
  FROM monolith.models m, before b WHERE m.name = 'guarded';

-- a definition edited by hand into nonsense is refused on use
UPDATE monolith.model_definitions SET dim = 0 WHERE name = 'guarded';
SELECT monolith.score('guarded', 1, 2);
-- and so is one that no longer matches the parameters in memory
UPDATE monolith.model_definitions SET dim = 8 WHERE name = 'guarded';
SELECT monolith.score('guarded', 1, 2);
UPDATE monolith.model_definitions SET slots = ARRAY['user_id'] WHERE name = 'guarded';
SELECT monolith.score('guarded', 1);
SELECT monolith.drop_model('guarded');

-- options of this version
SELECT monolith.create_model('bad', ARRAY['a'], numeric_features => ARRAY['x', NULL]);
SELECT monolith.create_model('bad', ARRAY['a'], numeric_features => ARRAY['a']);
SELECT monolith.create_model('bad', ARRAY['a'], numeric_features => ARRAY['']);
SELECT monolith.create_model('bad', ARRAY['a'], numeric_features => (SELECT array_agg('x' || i) FROM generate_series(1, 65) i));
SELECT monolith.create_model('bad', ARRAY['a'], numeric_features => NULL);
SELECT monolith.create_model('bad', ARRAY['a'], hidden => ARRAY[0]);
SELECT monolith.create_model('bad', ARRAY['a'], hidden => ARRAY[8, -1]);
SELECT monolith.create_model('bad', ARRAY['a'], hidden => ARRAY[4097]);
SELECT monolith.create_model('bad', ARRAY['a'], hidden => ARRAY[8, NULL]);
SELECT monolith.create_model('bad', ARRAY['a'], hidden => ARRAY[1, 1, 1, 1, 1]);
SELECT monolith.create_model('bad', ARRAY['a'], hidden => ARRAY[ARRAY[1], ARRAY[2]]);
SELECT monolith.create_model('bad', ARRAY['a', 'b', 'c', 'd'], dim => 1024, hidden => ARRAY[4096, 4096]);
SELECT monolith.create_model('bad', ARRAY['a'], optimizer => 'rmsprop');
SELECT monolith.create_model('bad', ARRAY['a'], optimizer => NULL);
SELECT monolith.create_model('bad', ARRAY['a'], weight_optimizer => 'Adam');
SELECT monolith.create_model('bad', ARRAY['a'], dense_optimizer => '');
SELECT monolith.create_model('bad', ARRAY['a'], dense_learning_rate => 0);
SELECT monolith.create_model('bad', ARRAY['a'], learning_rate => 1e39);
SELECT monolith.create_model('bad', ARRAY['a'], dense_learning_rate => 1001);
SELECT monolith.create_model('bad', ARRAY['a'], l1 => 1e39);
SELECT monolith.create_model('bad', ARRAY['a'], l1 => -1);
SELECT monolith.create_model('bad', ARRAY['a'], l2 => 'NaN');
SELECT monolith.create_model('bad', ARRAY['a'], l2 => 'Infinity');
SELECT monolith.create_model('bad', ARRAY['a'], negative_sample_rate => 0);
SELECT monolith.create_model('bad', ARRAY['a'], negative_sample_rate => 1.01);
SELECT monolith.create_model('bad', ARRAY['a'], hash_rows => -1);
SELECT count(*) AS bad_models FROM monolith.models WHERE name = 'bad';

-- numeric features: wrong types, NaN, infinities, too large for a real
SELECT monolith.create_model('numeric', ARRAY['u'], numeric_features => ARRAY['x'], hidden => ARRAY[4]);
SELECT round(monolith.train('numeric', true, 1, 0.5)::numeric, 4) AS first_prediction;
CREATE TEMP TABLE numeric_before AS
SELECT ids, examples_trained, monolith.score('numeric', 1, 0.5) AS p FROM monolith.models WHERE name = 'numeric';
SELECT monolith.train('numeric', true, 1, 'x'::text);
SELECT monolith.train('numeric', true, 1, ARRAY[0.5]);
SELECT monolith.train('numeric', true, 1, true);
SELECT monolith.train('numeric', true, 1, 'NaN'::float8);
SELECT monolith.train('numeric', true, 1, '-Infinity'::float4);
SELECT monolith.train('numeric', true, 1, 'NaN'::numeric);
SELECT monolith.train('numeric', true, 1, 1e300::float8);
SELECT monolith.train('numeric', true, 1, -2e6);
SELECT monolith.score('numeric', 1, 1e39::numeric);
SELECT monolith.score('numeric', 1);
SELECT * FROM monolith.train_query('numeric', 'SELECT 1 AS u, ''NaN''::float8 AS x, true AS label');
SELECT * FROM monolith.train_query('numeric', 'SELECT 1 AS u, true AS label');
SELECT m.ids = b.ids AND m.examples_trained = b.examples_trained AND
       monolith.score('numeric', 1, 0.5) = b.p AS unchanged
  FROM monolith.models m, numeric_before b WHERE m.name = 'numeric';
-- a definition whose optimizer or tower was edited no longer matches memory
UPDATE monolith.model_definitions SET optimizer = 'adam' WHERE name = 'numeric';
SELECT monolith.score('numeric', 1, 0.5);
UPDATE monolith.model_definitions SET optimizer = 'adagrad', hidden = '{8}' WHERE name = 'numeric';
SELECT monolith.score('numeric', 1, 0.5);
UPDATE monolith.model_definitions SET hidden = '{4}', optimizer = 'lion' WHERE name = 'numeric';
SELECT monolith.score('numeric', 1, 0.5);
SELECT monolith.drop_model('numeric');

-- negative sampling needs labels of 0 or 1
SELECT monolith.create_model('sampling', ARRAY['u'], negative_sample_rate => 0.5);
SELECT monolith.train('sampling', 0.5, 1);
SELECT * FROM monolith.train_query('sampling', 'SELECT 1 AS u, 0.25 AS label');
SELECT examples_trained FROM monolith.models WHERE name = 'sampling';
SELECT monolith.drop_model('sampling');
