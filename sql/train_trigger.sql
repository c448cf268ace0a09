-- monolith.train_trigger: rows inserted into a table train a model when, and
-- only when, their transaction commits, in the order they were inserted.
-- Model 'online' learns through the trigger; model 'replayed', made alike,
-- learns afterwards from the committed rows in insertion order through
-- train_query.  Rolled-back rows never reach 'online', so the two must end
-- bit for bit the same.
SET monolith.progress_interval = 0;
SELECT monolith.create_model('online', ARRAY['u', 'i', 'tags'], dim => 4, learning_rate => 0.1,
       min_count => 1, admit_probability => 1.0, seed => 3);
SELECT monolith.create_model('replayed', ARRAY['u', 'i', 'tags'], dim => 4, learning_rate => 0.1,
       min_count => 1, admit_probability => 1.0, seed => 3);
CREATE TABLE events (seq bigserial, u int, i int, tags text[], rating real,
                     liked boolean GENERATED ALWAYS AS (rating >= 4) STORED);
CREATE TRIGGER events_train AFTER INSERT ON events
  REFERENCING NEW TABLE AS new FOR EACH STATEMENT
  EXECUTE FUNCTION monolith.train_trigger('online', 'liked');

-- a multi-row INSERT trains at commit
INSERT INTO events (u, i, tags, rating)
SELECT n % 7, n % 11, ARRAY['t' || n % 3], (n * 13) % 6 FROM generate_series(1, 50) n;
SELECT ids > 0 AS has_ids, examples_trained, examples_committed, examples_rolled_back, examples_failed
  FROM monolith.models WHERE name = 'online';

-- inside a transaction nothing trains until the commit
BEGIN;
INSERT INTO events (u, i, tags, rating) VALUES (100, 100, '{new}', 5), (101, 101, '{new}', 1);
SELECT examples_trained, examples_committed FROM monolith.models WHERE name = 'online';
COMMIT;
SELECT examples_trained, examples_committed FROM monolith.models WHERE name = 'online';

-- a rolled-back INSERT trains nothing, nor adds an ID
CREATE TEMP TABLE before_rollback AS
SELECT ids, examples_trained, monolith.score('online', 1, 2, ARRAY['t1']) AS p
  FROM monolith.models WHERE name = 'online';
BEGIN;
INSERT INTO events (u, i, tags, rating) VALUES (200, 200, '{gone}', 5), (201, 201, '{gone}', 0);
ROLLBACK;
SELECT m.ids = b.ids AS same_ids, m.examples_trained = b.examples_trained AS same_examples,
       monolith.score('online', 1, 2, ARRAY['t1']) = b.p AS same_score,
       m.examples_rolled_back
  FROM monolith.models m, before_rollback b WHERE m.name = 'online';
-- an error in the statement rolls it back as well
INSERT INTO events (u, i, tags, rating) VALUES (202, 202, '{gone}', 5), (203, 203, '{gone}', NULL);

-- savepoints: what is rolled back to goes, what is released stays
BEGIN;
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{s}', 5);
SAVEPOINT a;
INSERT INTO events (u, i, tags, rating) VALUES (300, 300, '{gone}', 5), (301, 301, '{gone}', 2);
SAVEPOINT b;
INSERT INTO events (u, i, tags, rating) VALUES (302, 302, '{gone}', 5);
ROLLBACK TO a;
INSERT INTO events (u, i, tags, rating) VALUES (2, 2, '{s}', 1);
SAVEPOINT c;
INSERT INTO events (u, i, tags, rating) VALUES (3, 3, '{s}', 4);
RELEASE c;
SAVEPOINT d;
INSERT INTO events (u, i, tags, rating) VALUES (303, 303, '{gone}', 4);
ROLLBACK TO d;
COMMIT;

-- a PL/pgSQL EXCEPTION block is a subtransaction too
DO $$
BEGIN
  INSERT INTO events (u, i, tags, rating) VALUES (4, 4, '{plpgsql}', 5);
  BEGIN
    INSERT INTO events (u, i, tags, rating) VALUES (304, 304, '{gone}', 5);
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN
    INSERT INTO events (u, i, tags, rating) VALUES (5, 5, '{plpgsql}', 0);
  END;
END $$;

-- COPY trains through the same trigger
COPY events (u, i, tags, rating) FROM STDIN;
6	6	{copy}	5
7	7	{copy,x}	3
8	8	\N	4
\.

-- beyond work_mem the captured examples spill to a file, and a savepoint
-- rolled back within the file cuts it back
SET work_mem = '64kB';
BEGIN;
INSERT INTO events (u, i, tags, rating)
SELECT n % 500, n % 311, ARRAY['big' || n % 17], n % 6 FROM generate_series(1, 20000) n;
SAVEPOINT spilled;
INSERT INTO events (u, i, tags, rating)
SELECT 1000 + n, 1000 + n, '{gone}', 5 FROM generate_series(1, 5000) n;
ROLLBACK TO spilled;
INSERT INTO events (u, i, tags, rating)
SELECT n % 13, n % 17, '{after}', n % 5 FROM generate_series(1, 3000) n;
COMMIT;
RESET work_mem;

-- the rows never committed left no trace in the model
SELECT count(*) AS committed_rows FROM events;
SELECT examples_trained, examples_committed, examples_rolled_back, examples_failed
  FROM monolith.models WHERE name = 'online';
SELECT examples FROM monolith.train_query('replayed',
       'SELECT u, i, tags, liked FROM events ORDER BY seq', label => 'liked');
SELECT o.ids = r.ids AS same_ids, o.examples_trained = r.examples_trained AS same_examples
  FROM monolith.models o, monolith.models r WHERE o.name = 'online' AND r.name = 'replayed';
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE monolith.score('online', u, i, tags) =
                              monolith.score('replayed', u, i, tags)) AS bit_for_bit
  FROM (SELECT u, i, ARRAY['t' || (u + i) % 3, 'big' || i % 17] AS tags
          FROM generate_series(0, 520, 7) u, generate_series(0, 320, 9) i
        UNION ALL
        SELECT u, u, '{gone}' FROM generate_series(200, 6000, 97) u) pairs;

-- two triggers on one table both read every row
SELECT monolith.create_model('second', ARRAY['u', 'i'], dim => 4, min_count => 1,
       admit_probability => 1.0);
CREATE TRIGGER events_train_second AFTER INSERT ON events
  REFERENCING NEW TABLE AS new FOR EACH STATEMENT
  EXECUTE FUNCTION monolith.train_trigger('second', 'liked');
INSERT INTO events (u, i, tags, rating) VALUES (1, 2, '{}', 5), (3, 4, '{}', 1), (5, 6, '{}', 4);
SELECT name, examples_committed FROM monolith.models WHERE name IN ('online', 'second') ORDER BY name;

-- PREPARE TRANSACTION with captured examples is refused; with none left, it goes
BEGIN;
INSERT INTO events (u, i, tags, rating) VALUES (400, 400, '{gone}', 5);
PREPARE TRANSACTION 'captured';
BEGIN;
SAVEPOINT a;
INSERT INTO events (u, i, tags, rating) VALUES (401, 401, '{gone}', 5);
ROLLBACK TO a;
PREPARE TRANSACTION 'none_left';
ROLLBACK PREPARED 'none_left';

-- a model dropped and made again in the transaction that captured for it:
-- the dropped one's examples go with it, the new one's train
BEGIN;
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
SELECT monolith.drop_model('second');
SELECT monolith.create_model('second', ARRAY['u', 'i'], dim => 4);
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5), (2, 2, '{}', 1);
COMMIT;
SELECT name, examples_trained, examples_committed FROM monolith.models WHERE name = 'second';
DROP TRIGGER events_train_second ON events;
SELECT monolith.drop_model('second');

-- the trigger's declaration and its table's columns are checked when it fires
CREATE TABLE wrong (u int, liked boolean, label int, weird float8, i int);
CREATE TRIGGER t AFTER INSERT ON wrong REFERENCING NEW TABLE AS new
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online', 'liked');
INSERT INTO wrong (u, liked) VALUES (1, true);
DROP TRIGGER t ON wrong;
CREATE TRIGGER t AFTER INSERT ON events REFERENCING NEW TABLE AS new
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online', 'missing');
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
DROP TRIGGER t ON events;
CREATE TRIGGER t AFTER INSERT ON events REFERENCING NEW TABLE AS new
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online', 'tags');
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
DROP TRIGGER t ON events;
CREATE TRIGGER t AFTER INSERT ON events REFERENCING NEW TABLE AS new
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online', 'rating');
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
DROP TRIGGER t ON events;
CREATE TRIGGER t AFTER INSERT ON events REFERENCING NEW TABLE AS new
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('no_such_model', 'liked');
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
DROP TRIGGER t ON events;
CREATE TRIGGER t AFTER INSERT ON events REFERENCING NEW TABLE AS new
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online');
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
DROP TRIGGER t ON events;
CREATE TRIGGER t AFTER INSERT ON events
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online', 'liked');
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
DROP TRIGGER t ON events;
CREATE TRIGGER t AFTER INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION monolith.train_trigger('online', 'liked');
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
DROP TRIGGER t ON events;
CREATE TRIGGER t BEFORE INSERT ON events
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online', 'liked');
INSERT INTO events (u, i, tags, rating) VALUES (1, 1, '{}', 5);
DROP TRIGGER t ON events;
CREATE TRIGGER t AFTER UPDATE ON events REFERENCING NEW TABLE AS new
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online', 'liked');
UPDATE events SET rating = 5 WHERE seq = 1;
DROP TRIGGER t ON events;
SELECT monolith.train_trigger();
-- none of it trained anything more
SELECT examples_committed, examples_failed FROM monolith.models WHERE name = 'online';

-- privileges: the role inserting and the table's owner both need train
CREATE ROLE regress_trig_trainer;
CREATE ROLE regress_trig_stranger;
GRANT USAGE ON SCHEMA monolith TO regress_trig_trainer, regress_trig_stranger;
SELECT monolith.grant_model('online', 'train', 'regress_trig_trainer');
GRANT INSERT ON events TO regress_trig_trainer, regress_trig_stranger;
GRANT USAGE ON SEQUENCE events_seq_seq TO regress_trig_trainer, regress_trig_stranger;
-- a role with train inserts into a table whose owner has it
SET ROLE regress_trig_trainer;
INSERT INTO events (u, i, tags, rating) VALUES (9, 9, '{granted}', 5);
RESET ROLE;
-- a role without it may not make the model learn by inserting
SET ROLE regress_trig_stranger;
INSERT INTO events (u, i, tags, rating) VALUES (9, 9, '{denied}', 5);
-- nor by a trigger on a table of its own, whoever inserts into that
RESET ROLE;
CREATE SCHEMA regress_trig_own AUTHORIZATION regress_trig_stranger;
SET ROLE regress_trig_stranger;
CREATE TABLE regress_trig_own.own_events (u int, i int, tags text[], liked boolean);
CREATE TRIGGER own_train AFTER INSERT ON regress_trig_own.own_events REFERENCING NEW TABLE AS new
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.train_trigger('online', 'liked');
INSERT INTO regress_trig_own.own_events VALUES (9, 9, '{denied}', true);
GRANT USAGE ON SCHEMA regress_trig_own TO regress_trig_trainer;
GRANT INSERT ON regress_trig_own.own_events TO regress_trig_trainer;
RESET ROLE;
SET ROLE regress_trig_trainer;
INSERT INTO regress_trig_own.own_events VALUES (9, 9, '{denied}', true);
RESET ROLE;
INSERT INTO regress_trig_own.own_events VALUES (9, 9, '{denied}', true);
-- a revoked grant is seen at once
SELECT monolith.revoke_model('online', 'train', 'regress_trig_trainer');
SET ROLE regress_trig_trainer;
INSERT INTO events (u, i, tags, rating) VALUES (9, 9, '{revoked}', 5);
RESET ROLE;
SELECT examples_committed, examples_failed FROM monolith.models WHERE name = 'online';
DROP SCHEMA regress_trig_own CASCADE;
REVOKE ALL ON events FROM regress_trig_trainer, regress_trig_stranger;
REVOKE ALL ON SEQUENCE events_seq_seq FROM regress_trig_trainer, regress_trig_stranger;
REVOKE USAGE ON SCHEMA monolith FROM regress_trig_trainer, regress_trig_stranger;
DROP ROLE regress_trig_trainer, regress_trig_stranger;

DROP TABLE events, wrong;
SELECT monolith.drop_model('online');
SELECT monolith.drop_model('replayed');
