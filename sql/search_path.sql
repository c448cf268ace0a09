-- No object in the caller's search_path is ever run or read by the
-- extension: internal queries name every table, function and operator with
-- its schema, and run with search_path = pg_catalog, pg_temp.  Here a schema
-- of traps that log every call stands first in a superuser's search_path,
-- and every function of the extension is called; none may spring.
CREATE SCHEMA hostile;
CREATE TABLE hostile.sprung (trap text);
CREATE FUNCTION hostile.trap(what text) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO hostile.sprung VALUES (what);
	RETURN true;
END
$$;
CREATE FUNCTION hostile.eq(text, text) RETURNS bool LANGUAGE sql AS $$SELECT hostile.trap('= text')$$;
CREATE FUNCTION hostile.eq(bigint, bigint) RETURNS bool LANGUAGE sql AS $$SELECT hostile.trap('= bigint')$$;
CREATE FUNCTION hostile.eq(oid, oid) RETURNS bool LANGUAGE sql AS $$SELECT hostile.trap('= oid')$$;
CREATE FUNCTION hostile.eq(name, name) RETURNS bool LANGUAGE sql AS $$SELECT hostile.trap('= name')$$;
CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.eq);
CREATE OPERATOR hostile.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = hostile.eq);
CREATE OPERATOR hostile.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = hostile.eq);
CREATE OPERATOR hostile.= (LEFTARG = name, RIGHTARG = name, FUNCTION = hostile.eq);
CREATE OPERATOR hostile.<> (LEFTARG = oid, RIGHTARG = oid, FUNCTION = hostile.eq);
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT hostile.trap('now') AND false; SELECT pg_catalog.now()$$;
CREATE FUNCTION hostile.pg_get_userbyid(oid) RETURNS name LANGUAGE sql AS $$SELECT hostile.trap('pg_get_userbyid'); SELECT 'x'::name$$;
CREATE FUNCTION hostile.aclexplode(aclitem[], OUT grantor oid, OUT grantee oid, OUT privilege_type text, OUT is_grantable bool)
RETURNS SETOF record LANGUAGE sql AS $$SELECT hostile.trap('aclexplode'); SELECT 0::oid, 0::oid, 'CREATE', false WHERE false$$;
CREATE FUNCTION hostile.int8eq(bigint, bigint) RETURNS bool LANGUAGE sql AS $$SELECT hostile.trap('int8eq')$$;
-- a table and a view of the extension's names, in the hostile schema and as temporary tables
CREATE TABLE hostile.model_definitions (LIKE monolith.model_definitions);
CREATE TABLE hostile.models (name text);
CREATE TEMP TABLE model_definitions (LIKE monolith.model_definitions);
CREATE FUNCTION hostile.trap_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM hostile.trap('row of ' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
	RETURN NULL;
END
$$;
CREATE TRIGGER trap BEFORE INSERT OR UPDATE OR DELETE ON hostile.model_definitions
	FOR EACH ROW EXECUTE FUNCTION hostile.trap_row();
CREATE TRIGGER trap BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.model_definitions
	FOR EACH ROW EXECUTE FUNCTION hostile.trap_row();

CREATE ROLE regress_grantee;
CREATE TABLE hostile_events AS SELECT u, u + 1 AS i, u % 2 = 0 AS label FROM generate_series(1, 50) u;

-- every function, with the traps first in the path, and then pg_temp first
CREATE FUNCTION every_call() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM monolith.create_model('h', ARRAY['u', 'i'], dim => 4);
	PERFORM monolith.train('h', label, u, i) FROM public.hostile_events;
	PERFORM monolith.score('h', 1, 2);
	PERFORM monolith.train_query('h', 'SELECT u, i, label FROM public.hostile_events');
	PERFORM monolith.evaluate('h', 'SELECT u, i, label FROM public.hostile_events');
	PERFORM monolith.auc(monolith.score('h', u, i), label) FROM public.hostile_events;
	PERFORM monolith.expire('h', interval '1 day');
	PERFORM monolith.grant_model('h', 'score', 'regress_grantee');
	PERFORM monolith.revoke_model('h', 'score', 'regress_grantee');
	PERFORM monolith.alter_model_owner('h', 'regress_grantee');
	PERFORM * FROM monolith.models;
	PERFORM * FROM monolith.model_stats();
	PERFORM * FROM monolith.memory_usage();
	PERFORM monolith.drop_model('h');
END
$$;
SET search_path = hostile, pg_catalog, public;
SELECT public.every_call();
SET search_path = pg_temp, hostile, pg_catalog, public;
SELECT public.every_call();
-- installing and dropping the extension, too
DROP EXTENSION monolith;
CREATE EXTENSION monolith;
RESET search_path;
SELECT count(*) AS traps_sprung FROM hostile.sprung;
SELECT count(*) AS hostile_rows FROM hostile.model_definitions;

-- and the traps do spring when called: the test can fail
SET search_path = hostile, pg_catalog;
SELECT 'a'::text = 'a'::text AS sprung;
RESET search_path;
SELECT trap, count(*) FROM hostile.sprung GROUP BY trap;

DROP FUNCTION every_call();
DROP TABLE hostile_events, pg_temp.model_definitions;
DROP SCHEMA hostile CASCADE;
DROP ROLE regress_grantee;
