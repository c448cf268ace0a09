-- A call site answers for the model it is passed, every call: a name held in
-- a PL/pgSQL variable is a parameter, the same expression for every name.
SELECT monolith.create_model('pa', ARRAY['x'], dim => 4, seed => 1);
SELECT monolith.create_model('pb', ARRAY['x'], dim => 4, seed => 2);
SELECT count(monolith.train('pa', true, x)) FROM generate_series(1, 30) x;
CREATE FUNCTION score_of(n text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	p float8;
BEGIN
	p := monolith.score(n, 1);
	RETURN p;
END
$$;
CREATE FUNCTION train_each(names text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	n text;
BEGIN
	FOREACH n IN ARRAY names LOOP
		PERFORM monolith.train(n, true, 1);
	END LOOP;
END
$$;
-- in one transaction, where PL/pgSQL keeps its expressions' call sites
BEGIN;
SELECT score_of('pa') = monolith.score('pa', 1) AS pa_is_pa,
       score_of('pb') = monolith.score('pb', 1) AS pb_is_pb,
       score_of('pa') <> score_of('pb') AS differ;
SELECT score_of('nope');
ROLLBACK;
SELECT name, examples_trained FROM monolith.models ORDER BY name;
SELECT train_each(ARRAY['pa', 'pb', 'pb']);
SELECT name, examples_trained FROM monolith.models ORDER BY name;
-- a column of names in one query, changing every row
SELECT n, monolith.score(n, 1) = CASE n WHEN 'pa' THEN (SELECT monolith.score('pa', 1))
                                     ELSE (SELECT monolith.score('pb', 1)) END AS right_model
  FROM unnest(ARRAY['pa', 'pb', 'pa', 'pb', 'pb']) WITH ORDINALITY AS t(n, k) ORDER BY k;

-- a model dropped and made again under its name, in the transaction whose
-- call site knew the first: the new one answers, empty
BEGIN;
SELECT score_of('pa') = monolith.score('pa', 1) AS cached;
SELECT monolith.drop_model('pa');
SAVEPOINT s;
SELECT score_of('pa');
ROLLBACK TO SAVEPOINT s;
SELECT monolith.create_model('pa', ARRAY['x'], dim => 4, seed => 1);
SELECT score_of('pa') = monolith.score('pa', NULL) AS new_model_is_empty;
COMMIT;
SELECT name, ids, examples_trained FROM monolith.models ORDER BY name;

-- DROP EXTENSION and CREATE EXTENSION in one transaction: the new models
-- keep what they learn, at commit and after
BEGIN;
DROP EXTENSION monolith;
CREATE EXTENSION monolith;
SELECT monolith.create_model('fresh', ARRAY['x'], dim => 4);
SELECT count(monolith.train('fresh', true, x)) FROM generate_series(1, 10) x;
COMMIT;
SELECT name, ids, examples_trained FROM monolith.models;
SELECT monolith.train('fresh', true, 1) > 0.5 AS still_learning;
SELECT live_models FROM monolith.memory_usage();
SELECT monolith.drop_model('fresh');
DROP FUNCTION score_of(text), train_each(text[]);
