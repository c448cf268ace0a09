-- From 0.1.0 through 0.2.0, 0.3.0, 0.4.0, 0.5.0, 0.6.0 and 0.7.0 to 0.8.0.  The library refuses to use models
-- until the installed SQL is brought up to date: before 0.3.0 models had no
-- owners, so nobody's privileges on them could be checked.
DROP EXTENSION monolith;
CREATE EXTENSION monolith VERSION '0.1.0';
-- a model made under 0.1.0, as its create_model wrote it
INSERT INTO monolith.model_definitions (name, slots, dim, learning_rate, min_count, admit_probability, seed)
VALUES ('old', ARRAY['u', 'i'], 4, 0.05, 1, 1.0, 9);
SELECT monolith.score('old', 2, 3);
SELECT monolith.create_model('new', ARRAY['u']);
-- roles come and go as before, with no model owners to check yet
CREATE ROLE regress_passing;
DROP ROLE regress_passing;
ALTER EXTENSION monolith UPDATE TO '0.2.0';
SELECT monolith.score('old', 2, 3);
ALTER EXTENSION monolith UPDATE TO '0.3.0';
SELECT extversion FROM pg_extension WHERE extname = 'monolith';

-- the old model keeps its definition, a plain FM on Adagrad, and belongs to
-- the extension's owner
SELECT name, owner = (SELECT extowner FROM pg_extension WHERE extname = 'monolith')::regrole
         AS owned_by_extension_owner,
       privileges, slots, numeric_features, hidden, optimizer, weight_optimizer, dense_optimizer,
       negative_sample_rate, hash_rows, ids, examples_trained
  FROM monolith.models;
SELECT count(monolith.train('old', u % 2 = 0, u, u + 1)) FROM generate_series(1, 10) u;
SELECT examples FROM monolith.train_query('old', 'SELECT 1 AS u, 2 AS i, true AS label');
SELECT ids, examples_trained FROM monolith.models;
SELECT monolith.create_model('new', ARRAY['u'], hidden => ARRAY[4]);
SELECT name, hidden FROM monolith.models ORDER BY name;
-- the triggers that tie a model's parameters to its row came with the update
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'monolith.model_definitions'::regclass ORDER BY 1;

-- 0.4.0: rows inserted into a table train at commit, and monolith.models
-- counts what became of them
ALTER EXTENSION monolith UPDATE TO '0.4.0';
CREATE TABLE upgraded_events (u int, i int, label boolean);
CREATE TRIGGER upgraded_train AFTER INSERT ON upgraded_events
  REFERENCING NEW TABLE AS new FOR EACH STATEMENT
  EXECUTE FUNCTION monolith.train_trigger('old', 'label');
INSERT INTO upgraded_events VALUES (1, 2, true), (3, 4, false);
BEGIN;
INSERT INTO upgraded_events VALUES (5, 6, true);
ROLLBACK;
SELECT name, examples_trained, examples_committed, examples_rolled_back, examples_failed
  FROM monolith.models ORDER BY name;
DROP TABLE upgraded_events;

-- 0.5.0: online joiners
ALTER EXTENSION monolith UPDATE TO '0.5.0';
CREATE TABLE upgraded_shown (r int PRIMARY KEY, at timestamptz NOT NULL, u int, i int);
CREATE INDEX ON upgraded_shown (at);
CREATE TABLE upgraded_acted (r int);
CREATE INDEX ON upgraded_acted (r);
SELECT monolith.create_joiner('upgraded', 'old', 'upgraded_shown', 'upgraded_acted', 'r', 'at');
INSERT INTO upgraded_shown VALUES (1, '2100-01-01 00:00+00', 1, 2), (2, '2100-01-01 00:00+00', 3, 4);
INSERT INTO upgraded_acted VALUES (1);
SELECT monolith.close_joiner('upgraded', '2100-01-01 02:00+00');
SELECT name, positives, negatives FROM monolith.joiner_status;
SELECT monolith.drop_joiner('upgraded');
DROP TABLE upgraded_shown, upgraded_acted;

-- 0.6.0: the parameter sync ships the old model's keys, which were in memory before
ALTER EXTENSION monolith UPDATE TO '0.6.0';
SELECT count(monolith.train('old', u % 2 = 0, u, u + 1)) FROM generate_series(1, 10) u;
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		EXIT WHEN (SELECT keys_waiting = 0 AND rounds > 0 FROM monolith.sync_status WHERE model = 'old');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT model, rounds > 0 AS shipped, keys_waiting FROM monolith.sync_status ORDER BY model;
SELECT count(*) > 0 AS rows_written FROM monolith.sync_batches b
  JOIN monolith.model_definitions d ON d.id = b.model_id WHERE d.name = 'old';

-- 0.7.0: expiry by ttl; the models made before have none, and keep their IDs
ALTER EXTENSION monolith UPDATE TO '0.7.0';
SELECT name, ttl, slot_ttl, ids > 0 AS holds_ids, expired FROM monolith.models ORDER BY name;
SELECT monolith.create_model('aged', ARRAY['u'], ttl => interval '30 days');
SELECT name, ttl FROM monolith.models WHERE name = 'aged';

-- 0.8.0: snapshots of the models made before, listed and restored
ALTER EXTENSION monolith UPDATE TO '0.8.0';
SELECT ids > 0 AS holds_ids FROM monolith.snapshot('old');
SELECT model, status, ids > 0 AS holds_ids FROM monolith.snapshots ORDER BY model;
SELECT monolith.restore('old') > 0 AS restored;
DROP EXTENSION monolith;
CREATE EXTENSION monolith;
