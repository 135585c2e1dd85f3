--
-- What a utility statement is (ddl_statement.c): EXPLAIN ANALYZE is looked
-- through, and statements that lock an existing table in a mode stronger
-- than ROW EXCLUSIVE are in the DDL log with their object.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_guardrails;
RESET client_min_messages;
CREATE SCHEMA stm;
SET search_path = stm;
CREATE TABLE src (id int PRIMARY KEY, v int);
INSERT INTO src SELECT g, g FROM generate_series(1, 100) g;
CREATE MATERIALIZED VIEW src_mv AS SELECT id, v FROM src;
SELECT guardrails.ddl_log_reset() >= 0 AS reset;

-- EXPLAIN ANALYZE CREATE TABLE AS and SELECT INTO create tables: rule
-- new_tables refuses them as it refuses the statements themselves
SET guardrails.ddl_policy = enforce;
SET guardrails.allow_new_tables = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	CREATE TABLE via_explain AS SELECT * FROM src;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT * INTO via_select_into FROM src;
SELECT count(*) AS created FROM pg_class
WHERE relname IN ('via_explain', 'via_select_into');
-- warn: a WARNING, and the table is created (plans are not shown: their
-- text differs between majors)
SET guardrails.ddl_policy = warn;
\o /dev/null
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	CREATE TABLE via_explain AS SELECT * FROM src;
-- without ANALYZE, EXPLAIN creates nothing, and is not DDL
SET guardrails.ddl_policy = enforce;
EXPLAIN (COSTS OFF) CREATE TABLE not_created AS SELECT * FROM src;
\o
SELECT count(*) AS created FROM pg_class
WHERE relname IN ('via_explain', 'not_created');
RESET guardrails.allow_new_tables;
RESET guardrails.ddl_policy;

-- statements that lock an existing table beyond ROW EXCLUSIVE
SET guardrails.ddl_policy = off;
TRUNCATE via_explain;
BEGIN;
LOCK TABLE src IN SHARE MODE;
LOCK TABLE src IN ROW EXCLUSIVE MODE;
COMMIT;
REINDEX TABLE src;
REINDEX INDEX src_pkey;
VACUUM FULL via_explain;
CLUSTER src USING src_pkey;
REFRESH MATERIALIZED VIEW src_mv;
-- plain VACUUM and ANALYZE block no read and no write: not recorded
VACUUM src;
ANALYZE src;
RESET guardrails.ddl_policy;

SELECT command_tag, object_type, object_identity, outcome, sqlstate,
	   policy_warnings, query
FROM guardrails.ddl_log ORDER BY seq;

-- VACUUM FULL, which commits transactions of its own, holds its table's
-- lock for the session while it runs: none is left after it, whether it
-- succeeds or fails
VACUUM FULL stm.via_explain;
SELECT count(*) AS locks_left FROM pg_locks
WHERE pid = pg_backend_pid() AND mode = 'AccessExclusiveLock';
VACUUM FULL stm.via_explain, stm.no_such_table;
SELECT count(*) AS locks_left FROM pg_locks
WHERE pid = pg_backend_pid() AND mode = 'AccessExclusiveLock';

RESET search_path;
DROP SCHEMA stm CASCADE;
