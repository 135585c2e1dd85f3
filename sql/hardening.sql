--
-- Hardening: what guardrails_admin may disable, rules tables under a
-- publication, utility statements' digests, and bad rule input.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_guardrails;	-- when run alone
RESET client_min_messages;
-- Errors are shown through h_err(), with names that embed OIDs masked.
CREATE FUNCTION h_err(sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN 'ERROR ' || st || ':  ' ||
		regexp_replace(msg, '(pg_toast|pg_temp)_[0-9]+', '\1_N', 'g');
END
$$;
CREATE ROLE grd_h_admin LOGIN IN ROLE guardrails_admin;
GRANT CREATE ON SCHEMA public TO grd_h_admin;
GRANT EXECUTE ON FUNCTION h_err(text) TO grd_h_admin;

-- Catalog and TOAST indexes, and indexes of catalog tables, are refused
-- to everyone, forced or not, by the function and by a plain INSERT.
CREATE TABLE h_t (id int PRIMARY KEY, k int, b text);
CREATE INDEX h_t_k ON h_t (k);
CREATE SEQUENCE h_seq;
SELECT indexrelid::regclass::text AS toast_index
FROM pg_index WHERE indrelid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'h_t'::regclass) \gset
SET ROLE grd_h_admin;
SELECT h_err($$SELECT guardrails.disable_index('pg_catalog.pg_class_relname_nsp_index')$$);
SELECT h_err($$SELECT guardrails.disable_index('pg_catalog.pg_class_oid_index', force => true)$$);
SELECT h_err($$SELECT guardrails.disable_index('pg_catalog.pg_statistic_relid_att_inh_index', force => true)$$);
SELECT h_err($$SELECT guardrails.disable_index('pg_catalog.pg_class')$$);
SELECT h_err($$SELECT guardrails.disable_index('h_seq')$$);
SELECT h_err($$INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('pg_catalog', 'pg_class_relname_nsp_index')$$);
SELECT h_err($$INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('pg_catalog', 'no_such_index')$$);
SELECT h_err(format($$INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('pg_toast', %L)$$, split_part(:'toast_index', '.', 2)));
RESET ROLE;
-- not even a superuser, nor through a TOAST table's index
SELECT h_err(format($$SELECT guardrails.disable_index(%L, force => true)$$, :'toast_index'));
SELECT h_err($$SELECT guardrails.disable_index('pg_catalog.pg_class_oid_index', force => true)$$);
SELECT count(*) AS disabled FROM guardrails.disabled_indexes;
SET ROLE grd_h_admin;
-- an ordinary index still can be, and not be moved onto a catalog's name
SELECT guardrails.disable_index('h_t_k');
SELECT h_err($$UPDATE guardrails.disabled_indexes SET index_schema = 'pg_catalog', index_name = 'pg_class_oid_index'$$);
SELECT guardrails.enable_index('h_t_k');
-- Temporary indexes are refused: their rows would outlive them, and name
-- another session's index later.
CREATE TEMP TABLE h_tmp (k int);
CREATE INDEX h_tmp_k ON h_tmp (k);
SELECT h_err($$SELECT guardrails.disable_index('h_tmp_k')$$);
SELECT h_err(format($$INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES (%L, 'h_tmp_k')$$, pg_my_temp_schema()::regnamespace));
SELECT h_err($$INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('pg_temp_99', 'not_yet')$$);
DROP TABLE h_tmp;
RESET ROLE;

-- Renaming a disabled index onto a name that a hand-inserted row holds
-- merges the two: the renamed index stays disabled, with its own row.
CREATE INDEX h_t_a ON h_t (k, id);
INSERT INTO guardrails.disabled_indexes (index_schema, index_name, reason)
VALUES ('public', 'h_t_b', 'by hand, before the index exists');
SELECT guardrails.disable_index('h_t_a', reason => 'the real one');
ALTER INDEX h_t_a RENAME TO h_t_b;
SELECT index_schema, index_name, indexrelid = 'h_t_b'::regclass AS resolved, reason
FROM guardrails.disabled_indexes ORDER BY index_name;
SELECT guardrails.enable_index('h_t_b');

-- The rules tables can be changed in a database that publishes all its
-- tables (every CDC setup): each has a replica identity.
SET client_min_messages = error;	-- no "wal_level is insufficient"
CREATE PUBLICATION h_all FOR ALL TABLES;
RESET client_min_messages;
SELECT guardrails.limit_digest(1001, 10);
SELECT guardrails.limit_digest(1001, 20, role => 'grd_h_admin');
SELECT guardrails.block_digest(1002);
SELECT guardrails.limit_query('SELECT 1001', per_second => 5) <> 0 AS limited;
SELECT guardrails.block_query('SELECT 1002') <> 0 AS blocked;
SELECT guardrails.limit_digest(1001, 30);
SELECT guardrails.unlimit_digest(1001);
SELECT guardrails.unlimit_digest(1001, 'grd_h_admin');
INSERT INTO guardrails.digest_limits (queryid, action) VALUES (1003, 'block');
UPDATE guardrails.digest_limits SET note = 'by hand' WHERE queryid = 1003;
DELETE FROM guardrails.digest_limits;
SELECT guardrails.disable_index('h_t_k');
UPDATE guardrails.disabled_indexes SET reason = 'changed';
SELECT guardrails.enable_index('h_t_k');
DELETE FROM guardrails.ddl_history WHERE false;
UPDATE guardrails.ddl_history SET rolled_back = rolled_back WHERE false;
DELETE FROM guardrails.index_usage_reports WHERE false;
SELECT c.relname, c.relreplident
FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND c.relkind = 'r'
ORDER BY 1;
DROP PUBLICATION h_all;

-- Bad rule input gets a clear error.
SELECT h_err($$SELECT guardrails.limit_digest(2001, 3e9)$$);
SELECT per_second, burst FROM guardrails.digest_limits WHERE queryid = 2001;
SELECT h_err($$SELECT guardrails.limit_digest(2002, 10, role => 0)$$);
SELECT h_err($$SELECT guardrails.limit_digest(2002, 10, role => 4294967295)$$);
SELECT h_err($$SELECT guardrails.block_digest(2002, role => 0)$$);
SELECT h_err($$SELECT guardrails.block_digest(2002, role => 4294967295)$$);
SELECT h_err($$SELECT guardrails.limit_digest(2002, 10, expires_at => now() - interval '1 minute')$$);
SELECT h_err($$SELECT guardrails.block_digest(2002, expires_at => now() - interval '1 minute')$$);
-- by hand: a rule for a role that does not exist is not stored (a restore
-- of an old dump must not fail on it), with a warning
INSERT INTO guardrails.digest_limits (queryid, role, action) VALUES (2003, 0, 'block');
INSERT INTO guardrails.digest_limits (queryid, role, action) VALUES (2003, 4294967295, 'block');
SELECT count(*) AS stored FROM guardrails.digest_limits WHERE queryid IN (2002, 2003);
DELETE FROM guardrails.digest_limits;

-- Limits and blocks on utility statements' digests are enforced, at top
-- level (the digest's number is in the message: show the SQLSTATE only).
CREATE PROCEDURE h_proc() LANGUAGE sql AS $$ SELECT 1 $$;
\set VERBOSITY sqlstate
SELECT guardrails.block_query('VACUUM h_t') AS vacuum_id \gset
VACUUM h_t;
SELECT guardrails.unlimit_digest(:vacuum_id);
VACUUM h_t;
SELECT guardrails.limit_query('CALL h_proc()', per_second => 0.001, burst => 1) AS call_id \gset
CALL h_proc();
CALL h_proc();
SELECT action, admitted, rejected FROM guardrails.digest_limit_status WHERE queryid = :call_id;
SELECT guardrails.unlimit_digest(:call_id);
-- a concurrency cap
SELECT guardrails.limit_query('CALL h_proc()', NULL, max_concurrent => 1) AS call_id \gset
CALL h_proc();
SELECT action, admitted, rejected, running FROM guardrails.digest_limit_status WHERE queryid = :call_id;
SELECT guardrails.unlimit_digest(:call_id);
-- a role-scoped block applies to its role only
SELECT guardrails.block_query('TRUNCATE h_t', role => 'grd_h_admin') AS trunc_id \gset
TRUNCATE h_t;
GRANT ALL ON h_t TO grd_h_admin;
SET ROLE grd_h_admin;
TRUNCATE h_t;
RESET ROLE;
SELECT guardrails.unlimit_digest(:trunc_id, 'grd_h_admin');
-- EXPLAIN is never refused; transaction control is never limited, so a
-- rule cannot wedge a session
SELECT guardrails.block_query('EXPLAIN (COSTS OFF) SELECT 1') AS explain_id \gset
EXPLAIN (COSTS OFF) SELECT 1;
SELECT guardrails.block_query('BEGIN') AS begin_id \gset
SELECT guardrails.block_query('COMMIT') AS commit_id \gset
SELECT guardrails.block_query('ROLLBACK') AS rollback_id \gset
BEGIN;
COMMIT;
BEGIN;
ROLLBACK;
SELECT count(*) AS rules, sum(admitted + rejected) AS counted FROM guardrails.digest_limit_status;
DELETE FROM guardrails.digest_limits;
\set VERBOSITY default

DROP PROCEDURE h_proc();
DROP TABLE h_t;
DROP SEQUENCE h_seq;
REVOKE CREATE ON SCHEMA public FROM grd_h_admin;
DROP FUNCTION h_err(text);
DROP ROLE grd_h_admin;
