-- What every role gets by default (the pseudo-role PUBLIC) and none of ours needs, taken away
-- in the database psql is connected to. Run by docker/postgres/10-restrict-public.sh, once per
-- database, as the superuser POSTGRES_USER (who, as superuser, is not affected). Idempotent.
--
-- Roles that need a database get CONNECT on it by name (the Conektor's reader: its Source
-- database only, api_service/sql/reader_role.sql), so a role that exists on this server cannot
-- reach the server's other databases (`postgres`, `template1`) nor make temporary tables, and
-- cannot write large objects (lo_from_bytea, lo_create, lowrite, ...: they ignore a read-only
-- grant set). Doing it in template1 too gives the same ACLs to any database created later.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

BEGIN;

SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database())
\gexec

-- Nobody but the owner uses schema public unless granted (PostgreSQL 15+ already grants no
-- CREATE; older servers granted CREATE too).
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- Every large-object function (server-side lo_import/lo_export are superuser-only already).
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', p.oid::regprocedure)
FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace = 'pg_catalog'::regnamespace
  AND (p.proname LIKE 'lo\_%' OR p.proname IN ('loread', 'lowrite'))
ORDER BY 1
\gexec

COMMIT;
