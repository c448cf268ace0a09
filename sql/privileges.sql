-- Models belong to the role that made them; others need a grant, checked
-- with PostgreSQL's ACLs.  Roles need no privilege on the extension's tables,
-- only USAGE on its schema, which the administrator gives.
CREATE ROLE regress_owner;
CREATE ROLE regress_owners_member IN ROLE regress_owner;
CREATE ROLE regress_scorer;
CREATE ROLE regress_trainer;
CREATE ROLE regress_stranger;
GRANT USAGE ON SCHEMA monolith TO regress_owner, regress_owners_member, regress_scorer,
      regress_trainer, regress_stranger;

-- an ordinary role creates, trains, scores, grants and drops its own models
SET ROLE regress_owner;
SELECT monolith.create_model('m', ARRAY['u', 'i'], dim => 4);
SELECT count(monolith.train('m', u % 2 = 0, u, u + 1)) FROM generate_series(1, 20) u;
SELECT monolith.score('m', 1, 2) > 0 AS scores;
SELECT monolith.grant_model('m', 'score', 'regress_scorer');
SELECT monolith.grant_model('m', 'train', 'regress_trainer');
SELECT name, owner, privileges FROM monolith.models;
RESET ROLE;

-- every function, as every role: ok, or denied (insufficient_privilege).
-- Each call runs in a subtransaction that is rolled back, so that all start
-- from the same catalog.
CREATE TABLE roles (ord int, role text);
INSERT INTO roles VALUES (1, 'regress_owner'), (2, 'regress_owners_member'),
       (3, 'regress_scorer'), (4, 'regress_trainer'), (5, 'regress_stranger'),
       (6, current_user);
CREATE TABLE calls (ord int, call text);
INSERT INTO calls VALUES
  (1, $$SELECT monolith.score('m', 1, 2)$$),
  (2, $$SELECT monolith.evaluate('m', 'SELECT 1 AS u, 2 AS i, true AS label')$$),
  (3, $$SELECT monolith.train('m', true, 1, 2)$$),
  (4, $$SELECT monolith.train_query('m', 'SELECT 1 AS u, 2 AS i, true AS label')$$),
  (5, $$SELECT monolith.expire('m', interval '1 day')$$),
  (6, $$SELECT monolith.drop_model('m')$$),
  (7, $$SELECT monolith.grant_model('m', 'score', 'regress_stranger')$$),
  (8, $$SELECT monolith.revoke_model('m', 'score', 'regress_scorer')$$),
  (9, $$SELECT monolith.alter_model_owner('m', 'regress_owners_member')$$),
  (10, $$SELECT monolith.create_model('another', ARRAY['a'])$$),
  (11, $$SELECT * FROM monolith.model_definitions$$),
  (12, $$SELECT monolith.memory_usage()$$);
CREATE FUNCTION try_as(role text, call text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', role);
	EXECUTE call;
	RAISE SQLSTATE 'MN000';
EXCEPTION
	WHEN SQLSTATE 'MN000' THEN RETURN 'ok';
	WHEN insufficient_privilege THEN RETURN 'denied';
	WHEN OTHERS THEN RETURN SQLSTATE;
END
$$;
SELECT c.call,
       string_agg(try_as(r.role, c.call), ' | ' ORDER BY r.ord) AS "owner | member | scorer | trainer | stranger | superuser"
  FROM calls c, roles r GROUP BY c.ord, c.call ORDER BY c.ord;

-- the messages say what is missing
SET ROLE regress_stranger;
SELECT monolith.score('m', 1, 2);
SELECT monolith.train('m', true, 1, 2);
SELECT monolith.drop_model('m');
RESET ROLE;

-- monolith.models and monolith.model_stats() show a role only what it may use
SET ROLE regress_scorer;
SELECT monolith.create_model('scorers_own', ARRAY['a']);
RESET ROLE;
CREATE FUNCTION models_of(role text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	names text;
	stats bigint;
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', role);
	SELECT string_agg(name, ', ' ORDER BY name) INTO names FROM monolith.models;
	SELECT count(*) INTO stats FROM monolith.model_stats();
	RAISE SQLSTATE 'MN000' USING MESSAGE = coalesce(names, '') || ' (figures: ' || stats || ')';
EXCEPTION
	WHEN SQLSTATE 'MN000' THEN RETURN SQLERRM;
END
$$;
SELECT role, models_of(role) AS sees FROM roles ORDER BY ord;
SELECT monolith.drop_model('scorers_own');

-- a grant to public reaches everyone; revoking takes effect at once, also
-- at call sites that already checked (here a PL/pgSQL function's)
SET ROLE regress_owner;
SELECT monolith.grant_model('m', 'score', 'public');
SELECT privileges FROM monolith.models WHERE name = 'm';
RESET ROLE;
CREATE FUNCTION score_m() RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
	RETURN monolith.score('m', 1, 2);
END
$$;
BEGIN;
SET LOCAL ROLE regress_stranger;
SELECT score_m() > 0 AS stranger_scores;
RESET ROLE;
SET LOCAL ROLE regress_owner;
SELECT monolith.revoke_model('m', 'score', 'public');
SET LOCAL ROLE regress_stranger;
SELECT score_m();
ROLLBACK;
-- the same call site answers for each user as himself
SET ROLE regress_owner;
SELECT monolith.revoke_model('m', 'score', 'public');
RESET ROLE;
BEGIN;
SET LOCAL ROLE regress_scorer;
SELECT score_m() > 0 AS scorer_scores;
SET LOCAL ROLE regress_stranger;
SELECT score_m();
ROLLBACK;

-- several privileges at once, and all of them; bad lists and roles
SET ROLE regress_owner;
SELECT monolith.grant_model('m', 'Score, TRAIN', 'regress_stranger');
SELECT privileges FROM monolith.models WHERE name = 'm';
SELECT monolith.revoke_model('m', 'all', 'regress_stranger');
SELECT monolith.revoke_model('m', 'all', 'public');
SELECT privileges FROM monolith.models WHERE name = 'm';
SELECT monolith.grant_model('m', 'drop', 'regress_stranger');
SELECT monolith.grant_model('m', '', 'regress_stranger');
SELECT monolith.grant_model('m', 'score', 'regress_nobody');
SELECT monolith.grant_model('m', NULL, 'regress_stranger');
SELECT monolith.grant_model('m', 'score', NULL);
SELECT monolith.alter_model_owner('m', 'regress_nobody');
-- handing a model over: as with ALTER ... OWNER TO, only to a role one is a
-- member of (regress_owners_member is a member of regress_owner, not the
-- other way round), or as a superuser; the grants follow the owner
SELECT monolith.grant_model('m', 'score', 'regress_scorer');
SELECT monolith.alter_model_owner('m', 'regress_stranger');
RESET ROLE;
SELECT monolith.alter_model_owner('m', 'regress_owners_member');
SELECT name, owner, privileges FROM monolith.models WHERE name = 'm';
-- a role that owns a model, or holds a grant on one, cannot be dropped
DROP ROLE regress_owners_member;
DROP ROLE regress_scorer;
-- the former owner is no member of the new one: the model is his no more
SET ROLE regress_owner;
SELECT count(*) AS owner_sees FROM monolith.models WHERE name = 'm';
RESET ROLE;
SET ROLE regress_owners_member;
SELECT monolith.drop_model('m');
RESET ROLE;

DROP FUNCTION score_m(), try_as(text, text), models_of(text);
DROP TABLE roles, calls;
REVOKE USAGE ON SCHEMA monolith FROM regress_owner, regress_owners_member, regress_scorer,
       regress_trainer, regress_stranger;
DROP ROLE regress_owners_member, regress_owner, regress_scorer, regress_trainer, regress_stranger;

-- the replica's trigger writes parameters only from the extension's own sync tables
CREATE TABLE fake_sync (model_id int8, incarnation timestamptz, round int8, part int4,
                        shipped_at timestamptz, keys int4, data bytea);
CREATE TRIGGER fake AFTER INSERT ON fake_sync FOR EACH ROW EXECUTE FUNCTION monolith.apply_sync();
INSERT INTO fake_sync VALUES (1, now(), 1, 0, now(), 0, '\x00');
DROP TABLE fake_sync;
