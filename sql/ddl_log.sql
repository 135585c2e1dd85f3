--
-- The DDL audit log: every DDL statement, at any nesting level, whatever
-- its outcome, in guardrails.ddl_log.
--
SELECT guardrails.ddl_log_reset() >= 0 AS reset;

-- statements that succeed
CREATE TABLE ddl_t (id int);
CREATE INDEX ddl_t_id_idx ON ddl_t (id);
ALTER TABLE ddl_t ADD COLUMN note text;

-- statements that fail, with their SQLSTATE
CREATE TABLE ddl_t (id int);
ALTER TABLE ddl_missing ADD COLUMN x int;

-- rolled back with their transaction, or their savepoint
BEGIN;
CREATE TABLE ddl_rolled (a int);
ROLLBACK;
BEGIN;
SAVEPOINT s;
CREATE TABLE ddl_savepoint (a int);
ROLLBACK TO SAVEPOINT s;
CREATE TABLE ddl_kept (a int);
-- while the transaction is open, whether it will be rolled back is unknown
SELECT object_identity, rolled_back FROM guardrails.ddl_log
WHERE object_identity IN ('public.ddl_savepoint', 'public.ddl_kept') ORDER BY seq;
COMMIT;

-- nested in a DO block and in a function, one of them failing and caught
DO $$ BEGIN EXECUTE 'CREATE TABLE ddl_in_do (a int)'; END $$;
CREATE FUNCTION ddl_fn() RETURNS void LANGUAGE plpgsql
AS $$ BEGIN CREATE TABLE ddl_in_fn (a int); END $$;
SELECT ddl_fn();
DO $$ BEGIN CREATE TABLE ddl_t (id int); EXCEPTION WHEN duplicate_table THEN NULL; END $$;

-- several statements in one query string: each gets its own text
CREATE TABLE ddl_multi1 (a int) \; CREATE TABLE ddl_multi2 (a int);

-- a table with a serial key is one statement, not its implied pieces
CREATE TABLE ddl_serial (id serial PRIMARY KEY);

-- names found through search_path are qualified (a failed CREATE, above,
-- names its table as written)
CREATE SCHEMA ddl_s;
SET search_path = ddl_s, public;
CREATE TABLE ddl_in_s (a int);
RESET search_path;
DROP TABLE ddl_s.ddl_in_s, ddl_multi1;
DROP SCHEMA ddl_s;

-- not DDL: not recorded
INSERT INTO ddl_t VALUES (1);
SET work_mem = '8MB';
RESET work_mem;
SELECT count(*) FROM ddl_t;

SELECT command_tag, object_type, object_identity, toplevel, outcome,
	   sqlstate, message, rolled_back, query
FROM guardrails.ddl_log ORDER BY seq;

-- every entry has its times and its session
SELECT count(*) AS entries,
	   bool_and(duration_ms >= 0 AND start_time <= now()) AS timed,
	   bool_and(database = current_database()) AS database,
	   bool_and(pid = pg_backend_pid()) AS pid,
	   bool_and(application_name = 'pg_regress/ddl_log') AS application_name,
	   bool_and(policy_warnings = '{}') AS no_warnings,
	   count(xid) > 0 AS some_xid
FROM guardrails.ddl_log;

-- the text is truncated at guardrails.ddl_log_max_query_len
SHOW guardrails.ddl_log_max_query_len;
DO $$ BEGIN EXECUTE format('CREATE TABLE ddl_long (a int) /* %s */', repeat('x', 5000)); END $$;
SELECT length(query), query_truncated, left(query, 30) AS starts
FROM guardrails.ddl_log WHERE object_identity = 'public.ddl_long';
SELECT query_truncated FROM guardrails.ddl_log
WHERE object_identity = 'public.ddl_t' AND command_tag = 'CREATE TABLE' AND outcome = 'ok';

-- a bad destination is refused, with the item named
ALTER SYSTEM SET guardrails.ddl_log_destination = 'view, syslog';

-- counters
SELECT name, value > 0 AS positive FROM guardrails.status
WHERE name IN ('ddl_log_next_seq', 'ddl_log_size', 'ddl_log_memory_bytes')
ORDER BY name;

-- privileges: another role's statement text is hidden, as in pg_stat_statements
CREATE ROLE ddl_user;
GRANT CREATE ON SCHEMA public TO ddl_user;
SET ROLE ddl_user;
CREATE TABLE ddl_user_t (a int);
CREATE TABLE ddl_user_t (a int);
SELECT object_identity, outcome, query, message, application_name
FROM guardrails.ddl_log
WHERE role = 'ddl_user'
ORDER BY seq;
-- of other roles' entries, only what pg_stat_activity shows of other
-- roles' sessions: database, roles, pid, xid (and seq, stored)
SELECT count(*) > 0 AS others,
	   bool_and(query = '<insufficient privilege>') AS query_hidden,
	   bool_and(num_nonnulls(start_time, duration_ms, client_addr,
							 application_name, toplevel, command_tag,
							 object_type, object_identity, query_truncated,
							 outcome, sqlstate, message, policy_warnings,
							 lock_wait_ms, rolled_back) = 0) AS rest_hidden,
	   bool_and(num_nulls(seq, database, role, session_role, pid,
						  stored) = 0) AS shown
FROM guardrails.ddl_log WHERE role <> 'ddl_user';
SELECT count(*) FROM guardrails.ddl_history;
SELECT guardrails.ddl_log_reset();
RESET ROLE;
-- pg_read_all_stats sees every entry whole
GRANT pg_read_all_stats TO ddl_user;
SET ROLE ddl_user;
SELECT count(*) AS hidden FROM guardrails.ddl_log
WHERE query = '<insufficient privilege>' OR command_tag IS NULL;
RESET ROLE;

-- secrets are redacted from the text (and from the message of a failure,
-- which may echo them); the rest of the statement is kept
CREATE ROLE ddl_pw PASSWORD 'hunter2';
ALTER ROLE ddl_pw ENCRYPTED PASSWORD E'hunter\'3' VALID UNTIL 'infinity';
CREATE ROLE ddl_pw PASSWORD 'hunter4';
ALTER ROLE ddl_pw PASSWORD NULL;
SELECT command_tag, outcome, sqlstate, message, query
FROM guardrails.ddl_log WHERE command_tag LIKE '% ROLE' AND query ~ 'ddl_pw|REDACTED'
ORDER BY seq;
SELECT count(*) AS leaks FROM guardrails.ddl_log l WHERE l::text ~ 'hunter';
DROP ROLE ddl_pw;

-- the schema-change policy: a rejection, and the warnings of statements
-- that ran anyway
CREATE TABLE ddl_policy_t AS SELECT g AS id FROM generate_series(1, 1000) g;
SET guardrails.ddl_policy = enforce;
-- (terse: the size of a table written in bulk depends on the major)
\set VERBOSITY terse
CREATE INDEX ddl_policy_t_id ON ddl_policy_t (id);
\set VERBOSITY default
SET guardrails.ddl_policy = warn;
SET client_min_messages = error;
CREATE INDEX ddl_policy_t_id ON ddl_policy_t (id);
ALTER TABLE ddl_policy_t ALTER COLUMN id TYPE bigint;
ALTER TABLE ddl_policy_t RENAME COLUMN id TO ident;
-- a rule set off on its own warns of nothing
SET guardrails.ddl_policy_rules = 'rename: off';
ALTER TABLE ddl_policy_t RENAME COLUMN ident TO id;
RESET guardrails.ddl_policy_rules;
RESET client_min_messages;
RESET guardrails.ddl_policy;
SELECT command_tag, outcome, sqlstate, policy_warnings, message
FROM guardrails.ddl_log WHERE query LIKE '%ddl\_policy\_t%' ORDER BY seq;

-- roles and types are named, as the statement writes them
SELECT guardrails.ddl_log_reset() >= 0 AS reset;
CREATE ROLE ddl_obj_role;
ALTER ROLE ddl_obj_role NOLOGIN;
ALTER ROLE ddl_obj_role SET work_mem = '8MB';
ALTER ROLE ddl_obj_role RENAME TO ddl_obj_role2;
CREATE USER ddl_obj_user;
DROP ROLE ddl_obj_role2, ddl_obj_user;
DROP ROLE ddl_obj_missing;
CREATE TYPE ddl_comp AS (a int, b text);
CREATE TYPE public.ddl_comp2 AS (a int);
ALTER TYPE ddl_comp ADD ATTRIBUTE c int;
CREATE TYPE ddl_enum AS ENUM ('a');
ALTER TYPE ddl_enum ADD VALUE 'b';
CREATE TYPE ddl_range AS RANGE (subtype = int4);
CREATE TYPE ddl_shell;
CREATE DOMAIN ddl_dom AS int;
ALTER DOMAIN ddl_dom SET DEFAULT 0;
DROP TYPE ddl_comp, ddl_comp2, ddl_enum, ddl_range, ddl_shell;
DROP DOMAIN ddl_dom;
SELECT command_tag, object_type, object_identity, outcome
FROM guardrails.ddl_log WHERE pid = pg_backend_pid() ORDER BY seq;
-- the object is named by the relation's kind, not by the statement's
-- words: ALTER INDEX renames a table, ALTER TABLE an index or a view
SET guardrails.ddl_policy = off;
CREATE INDEX ddl_policy_t_id2 ON ddl_policy_t (id);
CREATE VIEW ddl_view AS SELECT 1 AS one;
ALTER INDEX ddl_policy_t RENAME TO ddl_policy_t2;
ALTER TABLE ddl_policy_t_id2 RENAME TO ddl_policy_t_id3;
ALTER TABLE ddl_view RENAME TO ddl_view2;
ALTER TABLE ddl_view2 SET SCHEMA public;
ALTER TABLE ddl_view2 OWNER TO CURRENT_USER;
ALTER INDEX ddl_policy_t2 RENAME TO ddl_policy_t;
RESET guardrails.ddl_policy;
SELECT command_tag, object_type, object_identity
FROM guardrails.ddl_log
WHERE query ~ '^ALTER .* (RENAME|SET SCHEMA|OWNER)' AND query ~ 'ddl_(policy|view)'
  AND query !~ 'COLUMN'
ORDER BY seq;
DROP VIEW ddl_view2;

DROP TABLE ddl_user_t, ddl_policy_t;
REVOKE CREATE ON SCHEMA public FROM ddl_user;
DROP ROLE ddl_user;
DROP TABLE ddl_t, ddl_kept, ddl_in_do, ddl_in_fn, ddl_multi2, ddl_serial, ddl_long;
DROP FUNCTION ddl_fn();
