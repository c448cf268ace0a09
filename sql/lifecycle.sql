-- A model's parameters live exactly as long as its definition row, however
-- the row goes: by drop_model, by hand, by TRUNCATE, or by a rolled-back
-- insert.  monolith.memory_usage() counts the live states of the cluster,
-- counted here beyond those of earlier tests.
SELECT live_models AS before FROM monolith.memory_usage() \gset
CREATE VIEW live AS SELECT live_models - :before AS live_models FROM monolith.memory_usage();
SELECT monolith.create_model('a', ARRAY['x'], dim => 4);
SELECT monolith.create_model('b', ARRAY['x'], dim => 4);
SELECT count(monolith.train(m, true, x)) FROM unnest(ARRAY['a', 'b']) m, generate_series(1, 10) x;
SELECT live_models FROM live;

-- a row deleted by hand frees its state at commit, not before
BEGIN;
DELETE FROM monolith.model_definitions WHERE name = 'a';
SELECT live_models FROM live;
COMMIT;
SELECT live_models FROM live;
-- and not at all if the delete rolls back
BEGIN;
DELETE FROM monolith.model_definitions WHERE name = 'b';
ROLLBACK;
SELECT live_models, (SELECT ids FROM monolith.models WHERE name = 'b') AS b_ids
  FROM live;

-- TRUNCATE frees every model of the installation at commit
SELECT monolith.create_model('c', ARRAY['x'], dim => 4);
BEGIN;
TRUNCATE monolith.model_definitions;
COMMIT;
SELECT live_models FROM live;

-- a row inserted by hand, used, then rolled back, leaves nothing; so does
-- one rolled back in a subtransaction
BEGIN;
INSERT INTO monolith.model_definitions (owner, name, slots, dim, learning_rate, min_count,
       admit_probability, seed)
VALUES (current_user::regrole, 'by_hand', ARRAY['x'], 4, 0.05, 1, 1, 42);
SELECT monolith.train('by_hand', true, 1) > 0 AS trained;
SELECT live_models FROM live;
ROLLBACK;
SELECT live_models FROM live;
BEGIN;
SAVEPOINT s;
SELECT monolith.create_model('in_savepoint', ARRAY['x'], dim => 4);
SELECT monolith.train('in_savepoint', true, 1) > 0 AS trained;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT live_models FROM live;

-- an id cannot be edited; an id of 0 or below is an id like any other
SELECT monolith.create_model('d', ARRAY['x'], dim => 4);
SELECT monolith.create_model('e', ARRAY['x'], dim => 4);
SELECT count(monolith.train(m, true, 1)) FROM unnest(ARRAY['d', 'e']) m;
UPDATE monolith.model_definitions SET id = 0 WHERE name = 'd';
INSERT INTO monolith.model_definitions (id, owner, name, slots, dim, learning_rate, min_count,
       admit_probability, seed)
VALUES (0, current_user::regrole, 'zero', ARRAY['x'], 4, 0.05, 1, 1, 42);
SELECT monolith.train('zero', true, 1) > 0 AS trained;
SELECT live_models FROM live;
DELETE FROM monolith.model_definitions WHERE id = 0;
SELECT name, ids FROM monolith.models ORDER BY name;
SELECT live_models FROM live;

-- the trigger runs only on monolith.model_definitions, where it belongs
CREATE TABLE not_definitions (id bigint);
CREATE TRIGGER frees AFTER DELETE ON not_definitions
	FOR EACH ROW EXECUTE FUNCTION monolith.definitions_changed();
INSERT INTO not_definitions SELECT id FROM monolith.model_definitions;
DELETE FROM not_definitions;
DROP TABLE not_definitions;
SELECT monolith.drop_model('d');
SELECT monolith.drop_model('e');
SELECT live_models FROM live;
DROP VIEW live;
