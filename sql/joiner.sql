-- monolith.create_joiner: actions join the impressions they answer and train
-- positives; impressions left unanswered when their window closes train
-- negatives; all at commit, each impression at most once either way.
-- Impressions are shown in 2100, so that the background worker's wall clock
-- never closes their windows: this test closes them with close_joiner.
-- Model 'joined' learns through the joiner; model 'replayed', made alike,
-- learns the same examples in the same order through train_query, so the
-- two must end bit for bit the same.
SET monolith.progress_interval = 0;
SELECT monolith.create_model('joined', ARRAY['u', 'i'], dim => 4, learning_rate => 0.1,
       min_count => 1, admit_probability => 1.0, seed => 5);
SELECT monolith.create_model('replayed', ARRAY['u', 'i'], dim => 4, learning_rate => 0.1,
       min_count => 1, admit_probability => 1.0, seed => 5);
CREATE TABLE shown (request bigint PRIMARY KEY, shown_at timestamptz NOT NULL, u int, i int);
CREATE INDEX ON shown (shown_at);
CREATE TABLE acted (request bigint, rating int, liked boolean GENERATED ALWAYS AS (rating >= 4) STORED);
CREATE INDEX ON acted (request);
SELECT monolith.create_joiner('j', 'joined', 'shown', 'acted', 'request', 'shown_at', 'liked',
       join_window => '1 hour', retention => '1 day');
SELECT name, owner, model, impressions, actions, join_window, retention, clock, late_actions,
       positives, negatives, late_positives
  FROM monolith.joiner_status;
-- the trigger on the actions table, which the impressions table cannot be dropped from under
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'acted'::regclass;
DROP TABLE shown;

-- impressions 1..20, a minute apart
INSERT INTO shown SELECT n, '2100-01-01 00:00+00'::timestamptz + n * interval '1 minute', n % 4, n
  FROM generate_series(1, 20) n;
-- positive actions train their impressions' positives, in the order shown;
-- a negative action, a repeated one and one for no impression train nothing
INSERT INTO acted VALUES (5, 5), (3, 4), (7, 1), (3, 5), (999, 5), (1, 4);
SELECT examples_committed FROM monolith.models WHERE name = 'joined';
SELECT key, positive, negative FROM monolith.joined ORDER BY key::int;
-- an action repeated later trains nothing more
INSERT INTO acted VALUES (5, 4);
SELECT examples_committed FROM monolith.models WHERE name = 'joined';
SELECT examples FROM monolith.train_query('replayed',
       'SELECT u, i, true AS label FROM shown WHERE request IN (1, 3, 5) ORDER BY shown_at', 'label');

-- rolled back, whole or to a savepoint: no positive, no record
BEGIN;
INSERT INTO acted VALUES (8, 5);
ROLLBACK;
BEGIN;
INSERT INTO acted VALUES (9, 5);
SAVEPOINT s;
INSERT INTO acted VALUES (10, 5);
ROLLBACK TO s;
COMMIT;
SELECT examples_committed, examples_rolled_back FROM monolith.models WHERE name = 'joined';
SELECT key, positive, negative FROM monolith.joined ORDER BY key::int;
SELECT examples FROM monolith.train_query('replayed',
       'SELECT u, i, true AS label FROM shown WHERE request = 9', 'label');

-- closing at 01:12 closes the windows of impressions shown up to 00:12:
-- the unanswered ones train negatives, in the order shown
SELECT monolith.close_joiner('j', '2100-01-01 01:12+00');
SELECT closed_until, positives, negatives, late_positives FROM monolith.joiner_status;
SELECT examples FROM monolith.train_query('replayed',
       $$SELECT u, i, false AS label FROM shown
          WHERE shown_at <= '2100-01-01 00:12+00' AND request NOT IN (1, 3, 5, 9) ORDER BY shown_at$$,
       'label');
-- closing again, or earlier, offers nothing twice
SELECT monolith.close_joiner('j', '2100-01-01 01:12+00');
SELECT monolith.close_joiner('j', '2100-01-01 01:00+00');
-- a rolled-back closing leaves its impressions to the next
BEGIN;
SELECT monolith.close_joiner('j', '2100-01-01 01:14+00');
ROLLBACK;
SELECT closed_until, negatives FROM monolith.joiner_status;

-- a late action, after its impression's negative, trains a positive too
-- (late_actions => 'train'); one whose window is still open is not late
INSERT INTO acted VALUES (2, 5), (15, 5);
SELECT key, positive, negative FROM monolith.joined WHERE key IN ('2', '15') ORDER BY key;
SELECT positives, negatives, late_positives FROM monolith.joiner_status;
SELECT examples FROM monolith.train_query('replayed',
       'SELECT u, i, true AS label FROM shown WHERE request IN (2, 15) ORDER BY shown_at', 'label');

-- an impression committed after later-shown ones closed still trains its
-- negative, within allowed_lateness (10 seconds): 00:11:55 is, 00:05 is not
INSERT INTO shown VALUES (21, '2100-01-01 00:11:55+00', 1, 21), (22, '2100-01-01 00:05+00', 2, 22);
SELECT monolith.close_joiner('j', '2100-01-01 01:13+00');
SELECT key, positive, negative FROM monolith.joined WHERE key IN ('13', '21', '22') ORDER BY key;
SELECT examples FROM monolith.train_query('replayed',
       $$SELECT u, i, false AS label FROM shown WHERE request IN (21, 13) ORDER BY shown_at$$, 'label');

-- what the joiner taught equals what was replayed, bit for bit
SELECT j.examples_trained = r.examples_trained AS same_examples, j.ids = r.ids AS same_ids
  FROM monolith.models j, monolith.models r WHERE j.name = 'joined' AND r.name = 'replayed';
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE monolith.score('joined', u, i) = monolith.score('replayed', u, i)) AS equal
  FROM generate_series(0, 4) u, generate_series(0, 23) i;

-- the progressive AUC of what trained at commit; none for the replayed model
SELECT name, committed_auc BETWEEN 0 AND 1 AS has_auc FROM monolith.models
 WHERE name IN ('joined', 'replayed') ORDER BY name;

-- the joiner never closes a window that is still open: nothing shown after
-- 00:13 has a record unless an action answered it (15); nor has 22, too late
SELECT string_agg(s.request::text, ' ' ORDER BY s.request) AS without_record
  FROM shown s LEFT JOIN monolith.joined d ON d.key = s.request::text WHERE d.key IS NULL;
-- late_actions => 'ignore': an action after the negative trains nothing
CREATE TABLE shown2 (request int PRIMARY KEY, at timestamptz NOT NULL, u int, i int);
CREATE INDEX ON shown2 (at);
CREATE TABLE acted2 (request int);
CREATE INDEX ON acted2 (request);
SELECT monolith.create_joiner('j2', 'joined', 'shown2', 'acted2', 'request', 'at',
       late_actions => 'ignore');
INSERT INTO shown2 VALUES (1, '2100-01-01 00:00+00', 1, 1), (2, '2100-01-01 00:00+00', 2, 2);
INSERT INTO acted2 VALUES (1);
SELECT monolith.close_joiner('j2', '2100-01-01 02:00+00');
INSERT INTO acted2 VALUES (2), (1);
SELECT name, positives, negatives, late_positives FROM monolith.joiner_status ORDER BY name;

-- the event clock: windows close as impressions shown later arrive
-- (the background worker closes them too: what either closed shows);
-- impressions without a key or a finite time are ignored
CREATE TABLE shown3 (request text UNIQUE, at timestamptz, u int, i int);
CREATE INDEX ON shown3 (at);
CREATE TABLE acted3 (request text);
CREATE INDEX ON acted3 (request);
SELECT monolith.create_joiner('j3', 'joined', 'shown3', 'acted3', 'request', 'at',
       clock => 'event', join_window => '1 hour', retention => '1 day');
INSERT INTO shown3 VALUES ('a', '2000-01-01 00:00+00', 1, 1), ('b', '2000-01-01 00:30+00', 1, 2),
       (NULL, '2000-01-01 00:10+00', 1, 3), ('no time', NULL, 1, 4), ('forever', 'infinity', 1, 5),
       ('never', '-infinity', 1, 6);
SELECT monolith.close_joiner('j3') >= 0 AS closed;
SELECT closed_until, negatives FROM monolith.joiner_status WHERE name = 'j3';
INSERT INTO shown3 VALUES ('c', '2000-01-01 01:20+00', 1, 3);
SELECT monolith.close_joiner('j3') >= 0 AS closed;
SELECT closed_until, negatives FROM monolith.joiner_status WHERE name = 'j3';
INSERT INTO acted3 VALUES (NULL), ('forever'), ('no time');
SELECT positives FROM monolith.joiner_status WHERE name = 'j3';
-- an action the trigger did not see (it fires for INSERT only) still joins
-- its impression when the window closes: a positive, not a negative
ALTER TABLE acted3 DISABLE TRIGGER ALL;
INSERT INTO acted3 VALUES ('b');
ALTER TABLE acted3 ENABLE TRIGGER ALL;
INSERT INTO shown3 VALUES ('d', '2000-01-01 01:40+00', 1, 3);
SELECT monolith.close_joiner('j3') >= 0 AS closed;
SELECT key, positive, negative FROM monolith.joined d JOIN monolith.joiners j ON j.id = d.joiner
 WHERE j.name = 'j3' ORDER BY key;
-- retention (a day) deletes closed impressions, and their records, shown a
-- day before the clock; an action for a deleted impression joins nothing
INSERT INTO shown3 VALUES ('e', '2000-01-02 12:00+00', 1, 3);
SELECT monolith.close_joiner('j3') >= 0 AS closed;
SELECT string_agg(coalesce(request, 'NULL'), ' ' ORDER BY request) AS impressions_left FROM shown3;
SELECT key FROM monolith.joined d JOIN monolith.joiners j ON j.id = d.joiner
 WHERE j.name = 'j3' ORDER BY key;
INSERT INTO acted3 VALUES ('a');
SELECT positives FROM monolith.joiner_status WHERE name = 'j3';

-- captured examples cannot be prepared
BEGIN;
INSERT INTO acted VALUES (20, 5);
PREPARE TRANSACTION 'joined';
SELECT positives FROM monolith.joiner_status WHERE name = 'j';

-- bad arguments
SELECT monolith.create_joiner('j', 'joined', 'shown2', 'acted2', 'request', 'at');
SELECT monolith.create_joiner('x', 'nope', 'shown2', 'acted2', 'request', 'at');
SELECT monolith.create_joiner(NULL, 'joined', 'shown2', 'acted2', 'request', 'at');
SELECT monolith.create_joiner('', 'joined', 'shown2', 'acted2', 'request', 'at');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'shown2', 'request', 'at');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'nokey', 'at');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'nowhen');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'u');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'at', 'nope');
SELECT monolith.create_joiner('x', 'joined', 'shown', 'acted', 'request', 'shown_at', 'rating');
SELECT monolith.create_joiner('x', 'joined', 'shown', 'acted2', 'request', 'shown_at');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'at', join_window => '0');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'at', retention => '-1 day');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'at', join_window => NULL);
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'at', late_actions => 'keep');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'at', clock => 'lunar');
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted2', 'request', 'at',
       allowed_lateness => '-1 second');
CREATE TABLE no_index (request int PRIMARY KEY, at timestamptz, u int, i int);
SELECT monolith.create_joiner('x', 'joined', 'no_index', 'acted2', 'request', 'at');
CREATE TABLE acted_no_index (request int);
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted_no_index', 'request', 'at');
CREATE TABLE acted_parted (request int) PARTITION BY RANGE (request);
CREATE TABLE acted_part PARTITION OF acted_parted FOR VALUES FROM (0) TO (100);
CREATE INDEX ON acted_parted (request);
SELECT monolith.create_joiner('x', 'joined', 'shown2', 'acted_part', 'request', 'at');
CREATE TABLE no_unique (request int, at timestamptz, u int, i int);
CREATE INDEX ON no_unique (at);
SELECT monolith.create_joiner('x', 'joined', 'no_unique', 'acted2', 'request', 'at');
CREATE UNIQUE INDEX ON no_unique (request) WHERE u > 0;
SELECT monolith.create_joiner('x', 'joined', 'no_unique', 'acted2', 'request', 'at');
CREATE TABLE no_features (request int PRIMARY KEY, at timestamptz, u int);
CREATE INDEX ON no_features (at);
SELECT monolith.create_joiner('x', 'joined', 'no_features', 'acted2', 'request', 'at');
CREATE VIEW shown_view AS SELECT * FROM shown2;
SELECT monolith.create_joiner('x', 'joined', 'shown_view', 'acted2', 'request', 'at');
SELECT monolith.close_joiner('nope');
SELECT monolith.close_joiner('j', 'infinity');
SELECT monolith.drop_joiner('nope');
-- the trigger works only for its joiner's actions table, and only as made
CREATE TRIGGER stray AFTER INSERT ON acted2 REFERENCING NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION monolith.joiner_trigger('j');
INSERT INTO acted2 VALUES (1);
DROP TRIGGER stray ON acted2;
CREATE TRIGGER stray AFTER INSERT ON acted2 FOR EACH ROW EXECUTE FUNCTION monolith.joiner_trigger('j2');
INSERT INTO acted2 VALUES (1);
DROP TRIGGER stray ON acted2;

-- privileges: a joiner's owner owns both tables and holds train on the
-- model; a role inserting actions needs train too
CREATE ROLE regress_joiner_owner;
CREATE ROLE regress_joiner_other;
GRANT USAGE ON SCHEMA monolith, public TO regress_joiner_owner, regress_joiner_other;
GRANT CREATE ON SCHEMA public TO regress_joiner_owner;
SELECT monolith.create_model('theirs', ARRAY['u', 'i'], dim => 2, seed => 1);
SELECT monolith.grant_model('theirs', 'train', 'regress_joiner_owner');
SET ROLE regress_joiner_owner;
CREATE TABLE owned_shown (request int PRIMARY KEY, at timestamptz NOT NULL, u int, i int);
CREATE INDEX ON owned_shown (at);
CREATE TABLE owned_acted (request int);
CREATE INDEX ON owned_acted (request);
-- not the owner of shown2, nor allowed to train 'joined'
SELECT monolith.create_joiner('x', 'theirs', 'shown2', 'owned_acted', 'request', 'at');
SELECT monolith.create_joiner('x', 'joined', 'owned_shown', 'owned_acted', 'request', 'at');
SELECT monolith.create_joiner('mine', 'theirs', 'owned_shown', 'owned_acted', 'request', 'at');
GRANT INSERT ON owned_acted, owned_shown TO regress_joiner_other;
-- a superuser, or a member of the owning role, must create it as the owner
RESET ROLE;
SELECT monolith.create_joiner('x', 'theirs', 'owned_shown', 'owned_acted', 'request', 'at');
SET ROLE regress_joiner_owner;
INSERT INTO owned_shown VALUES (1, '2100-01-01', 1, 1), (2, '2100-01-01', 2, 2);
-- others see neither the joiner nor its record
SET ROLE regress_joiner_other;
SELECT name FROM monolith.joiner_status;
SELECT count(*) FROM monolith.joined;
SELECT count(*) FROM monolith.joiners;
SELECT monolith.close_joiner('mine', '2100-01-02');
SELECT monolith.drop_joiner('mine');
-- inserting actions needs train on the model
INSERT INTO owned_acted VALUES (1);
RESET ROLE;
SELECT monolith.grant_model('theirs', 'train', 'regress_joiner_other');
SET ROLE regress_joiner_other;
INSERT INTO owned_acted VALUES (1);
RESET ROLE;
SELECT name, positives FROM monolith.joiner_status WHERE name = 'mine';
-- an owner who loses train on the model can no longer make it learn
SELECT monolith.revoke_model('theirs', 'train', 'regress_joiner_owner');
SET ROLE regress_joiner_other;
INSERT INTO owned_acted VALUES (2);
SET ROLE regress_joiner_owner;
SELECT monolith.close_joiner('mine', '2100-01-02');
RESET ROLE;
SELECT monolith.grant_model('theirs', 'train', 'regress_joiner_owner');
SET ROLE regress_joiner_owner;
SELECT monolith.close_joiner('mine', '2100-01-02');
SELECT monolith.drop_joiner('mine');
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'owned_acted'::regclass;
RESET ROLE;

-- hostile objects in search_path change nothing: the joiner's queries name
-- pg_catalog's operators and functions
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.raise(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
  AS $$BEGIN RAISE EXCEPTION 'hostile operator ran'; END$$;
CREATE OPERATOR hostile.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = hostile.raise);
CREATE FUNCTION hostile.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql
  AS $$BEGIN RAISE EXCEPTION 'hostile unnest ran'; END$$;
CREATE FUNCTION hostile.max(timestamptz) RETURNS timestamptz LANGUAGE sql AS 'SELECT NULL::timestamptz';
SET search_path = hostile, public;
INSERT INTO shown VALUES (100, '2100-01-03 00:00+00', 1, 100);
INSERT INTO acted VALUES (100, 5);
SELECT monolith.close_joiner('j', '2100-01-03 02:00+00');
RESET search_path;
SELECT key, positive, negative FROM monolith.joined WHERE key = '100';
DROP SCHEMA hostile CASCADE;

-- dropping a joiner drops its trigger and its record; the tables stay
SELECT monolith.drop_joiner('j');
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'acted'::regclass;
SELECT count(*) FROM monolith.joined d JOIN monolith.joiners j ON j.id = d.joiner WHERE j.name = 'j';
INSERT INTO acted VALUES (100, 5);
DROP TABLE shown, acted;
-- a joiner whose actions table was dropped can still be dropped
DROP TABLE acted2;
SELECT monolith.close_joiner('j2', '2100-01-02');
SELECT monolith.drop_joiner('j2');
SELECT monolith.drop_joiner('j3');
SELECT name FROM monolith.joiner_status;
DROP TABLE shown2, shown3, acted3, no_unique, no_features, no_index, acted_no_index, acted_parted CASCADE;
SELECT monolith.drop_model('theirs');
DROP TABLE owned_shown, owned_acted;
DROP OWNED BY regress_joiner_owner, regress_joiner_other;
DROP ROLE regress_joiner_owner, regress_joiner_other;
SELECT monolith.drop_model('joined');
SELECT monolith.drop_model('replayed');
