-- CREATE EXTENSION refuses a monolith schema that someone prepared: what it
-- holds, or what its owner could add, might stand in for the extension's
-- own functions and run as whoever calls them.
CREATE ROLE regress_squatter;
-- a schema of another role, holding a function that outranks
-- monolith.score(text, VARIADIC "any") for a call with two integers
CREATE SCHEMA monolith AUTHORIZATION regress_squatter;
SET ROLE regress_squatter;
CREATE FUNCTION monolith.score(text, int, int) RETURNS float8
LANGUAGE sql AS 'SELECT 0.5';
RESET ROLE;
CREATE EXTENSION monolith;
-- the same schema emptied: its owner could add the function afterwards
DROP FUNCTION monolith.score(text, int, int);
CREATE EXTENSION monolith;
-- a superuser's schema that another role, or everyone, may create in
ALTER SCHEMA monolith OWNER TO CURRENT_USER;
GRANT CREATE ON SCHEMA monolith TO regress_squatter;
CREATE EXTENSION monolith;
REVOKE CREATE ON SCHEMA monolith FROM regress_squatter;
GRANT CREATE ON SCHEMA monolith TO PUBLIC;
CREATE EXTENSION monolith;
REVOKE CREATE ON SCHEMA monolith FROM PUBLIC;
-- a superuser's schema that holds anything at all
CREATE TYPE monolith.leftover AS (a int);
CREATE EXTENSION monolith;
DROP TYPE monolith.leftover;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'monolith';
-- an empty schema of a superuser, whose others may only use it, will do
GRANT USAGE ON SCHEMA monolith TO regress_squatter;
CREATE EXTENSION monolith;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'monolith';
DROP EXTENSION monolith;
DROP SCHEMA monolith;
DROP ROLE regress_squatter;
