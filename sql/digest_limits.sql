--
-- Limits and blocks per query digest.
--
CREATE TABLE kv (k int PRIMARY KEY, v text);
INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 100) g;
SELECT guardrails.query_digest('SELECT v FROM kv WHERE k = 1') AS kv_id \gset
-- Digests hash table OIDs, which any object created before this test
-- shifts: errors that name a digest are shown through show_error(), with
-- this test's digests named.
CREATE TABLE digest_names (id bigint PRIMARY KEY, name text);
INSERT INTO digest_names VALUES (:kv_id, '<kv>');
CREATE FUNCTION show_error(sql text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	hnt text;
	n record;
BEGIN
	EXECUTE sql;
	RETURN NEXT 'no error';
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
	FOR n IN SELECT * FROM digest_names LOOP
		msg := replace(msg, n.id::text, n.name);
		det := replace(det, n.id::text, n.name);
	END LOOP;
	RETURN NEXT 'ERROR ' || st || ':  ' || msg;
	IF det <> '' THEN RETURN NEXT 'DETAIL:  ' || det; END IF;
	IF hnt <> '' THEN RETURN NEXT 'HINT:  ' || hnt; END IF;
END $$;
-- the same id whatever the constant; a parameter ($1, as a prepared
-- statement has) makes another digest, as in pg_stat_statements
SELECT guardrails.query_digest('SELECT v FROM kv WHERE k = 99') = :kv_id AS same_digest,
       guardrails.query_digest('SELECT v FROM kv WHERE k = $1') <> :kv_id AS param_differs,
       guardrails.query_digest('SELECT k FROM kv WHERE k = 1') <> :kv_id AS other_digest;

-- A block refuses every execution, with its own SQLSTATE.
SELECT guardrails.block_digest(:kv_id, note => 'runaway report');
SELECT show_error('SELECT v FROM kv WHERE k = 1');
SELECT show_error('SELECT v FROM kv WHERE k = 2');
-- other digests run
SELECT k FROM kv WHERE k = 1;
-- EXPLAIN executes nothing and is not refused; EXPLAIN ANALYZE is
EXPLAIN (COSTS OFF) SELECT v FROM kv WHERE k = 1;
SELECT show_error('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT v FROM kv WHERE k = 1');
SELECT queryid = :kv_id AS ours, action, rejected, admitted, note
FROM guardrails.digest_limit_status;
-- so is the same statement wrapped in a utility statement that runs it:
-- its query reaches the executor with its own digest on every major
\set VERBOSITY sqlstate
CREATE TABLE kv_copy AS SELECT v FROM kv WHERE k = 1;
SELECT v INTO kv_copy FROM kv WHERE k = 1;
CREATE MATERIALIZED VIEW kv_mv AS SELECT v FROM kv WHERE k = 1;
BEGIN;
DECLARE kv_cursor CURSOR FOR SELECT v FROM kv WHERE k = 1;
ROLLBACK;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	CREATE TABLE kv_copy AS SELECT v FROM kv WHERE k = 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	DECLARE kv_cursor CURSOR FOR SELECT v FROM kv WHERE k = 1;
COPY (SELECT v FROM kv WHERE k = 1) TO STDOUT;
PREPARE kv_prepared AS SELECT v FROM kv WHERE k = 1;
CREATE TABLE kv_copy AS EXECUTE kv_prepared;
DEALLOCATE kv_prepared;
\set VERBOSITY default
SELECT to_regclass('kv_copy') IS NULL AND to_regclass('kv_mv') IS NULL AS nothing_created;
-- a materialized view created empty runs nothing (REFRESH: TAP 026)
CREATE MATERIALIZED VIEW kv_mv AS SELECT v FROM kv WHERE k = 1 WITH NO DATA;
DROP MATERIALIZED VIEW kv_mv;
SELECT rejected FROM guardrails.digest_limit_status WHERE queryid = :kv_id;
SELECT guardrails.unlimit_digest(:kv_id);
SELECT v FROM kv WHERE k = 1;

-- A rate limit admits its burst, then refuses, with SQLSTATE 53R01.
SELECT guardrails.limit_digest(:kv_id, per_second => 0.001, burst => 3);
SELECT v FROM kv WHERE k = 1;
SELECT v FROM kv WHERE k = 2;
SELECT v FROM kv WHERE k = 3;
SELECT show_error('SELECT v FROM kv WHERE k = 4');
SELECT admitted, rejected, running, tokens < 1 AS empty, last_rejection IS NOT NULL AS rejected_once
FROM guardrails.digest_limit_status;

-- A concurrency cap counts running executions.  This statement runs
-- itself again, through dynamic SQL, while it runs: with a cap of 1 the
-- inner execution is refused, and the error releases the outer one's slot.
CREATE FUNCTION kv_again(depth int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r int;
BEGIN
	IF depth > 0 THEN
		EXECUTE format('SELECT k FROM kv WHERE k = kv_again(%s)', depth - 1) INTO r;
	END IF;
	RETURN 1;
END $$;
SELECT guardrails.query_digest('SELECT k FROM kv WHERE k = kv_again(1)') AS again_id \gset
INSERT INTO digest_names VALUES (:again_id, '<kv_again>');
SELECT guardrails.limit_digest(:again_id, per_second => NULL, max_concurrent => 1);
SELECT max_concurrent, per_second, burst FROM guardrails.digest_limit_status
WHERE queryid = :again_id;
SELECT show_error('SELECT k FROM kv WHERE k = kv_again(1)');
SELECT running, rejected > 0 AS refused FROM guardrails.digest_limit_status
WHERE queryid = :again_id;
-- with room for two, both run, one after the other, and leave no slot taken
SELECT guardrails.limit_digest(:again_id, per_second => NULL, max_concurrent => 2);
SELECT k FROM kv WHERE k = kv_again(1);
SELECT running, admitted > 0 AS admitted, rejected FROM guardrails.digest_limit_status
WHERE queryid = :again_id;
SELECT guardrails.unlimit_digest(:again_id);

-- limit_query computes the digest from a sample statement
SELECT guardrails.limit_query('SELECT v FROM kv WHERE k = 1000', per_second => 100) = :kv_id
       AS same_digest;
SELECT per_second, burst, note FROM guardrails.digest_limit_status;

-- A dry run rejects nothing, and counts what it would have rejected.
SELECT guardrails.limit_digest(:kv_id, per_second => 0.001, burst => 1, action => 'dry_run');
SELECT v FROM kv WHERE k = 1;
SELECT v FROM kv WHERE k = 2;
SELECT v FROM kv WHERE k = 3;
SELECT action, rejected >= 2 AS would_have_rejected
FROM guardrails.digest_limit_status WHERE queryid = :kv_id;

-- An expired rule does nothing.  (The functions refuse an expiry in the
-- past; a rule expires while it is in force, or is written by hand.)
UPDATE guardrails.digest_limits SET action = 'block', per_second = NULL,
	expires_at = now() - interval '1 second'
WHERE queryid = :kv_id;
SELECT v FROM kv WHERE k = 1;
SELECT expired FROM guardrails.digest_limit_status WHERE queryid = :kv_id;

-- Role-scoped rules apply to that role only.
CREATE ROLE grd_app LOGIN;
GRANT SELECT ON kv, digest_names TO grd_app;
SELECT guardrails.block_digest(:kv_id, role => 'grd_app');
SELECT v FROM kv WHERE k = 1;
SET ROLE grd_app;
SELECT show_error('SELECT v FROM kv WHERE k = 1');
RESET ROLE;
SELECT guardrails.unlimit_digest(:kv_id, role => 'grd_app');
SELECT guardrails.unlimit_digest(:kv_id);
SELECT guardrails.unlimit_digest(12345);

-- block_query computes the digest of a sample statement.
SELECT guardrails.block_query('SELECT v FROM kv WHERE k = 42') = :kv_id AS same_id;
SELECT show_error('SELECT v FROM kv WHERE k = 8');
-- plain DELETE on the table lifts it, like the functions
DELETE FROM guardrails.digest_limits;
SELECT v FROM kv WHERE k = 8;

-- Bad input.
SELECT guardrails.limit_digest(NULL, 10);
SELECT guardrails.limit_digest(:kv_id, -1);
SELECT guardrails.limit_digest(:kv_id, 'NaN');
SELECT guardrails.limit_digest(:kv_id, 'Infinity');
SELECT guardrails.limit_digest(:kv_id, NULL);
SELECT guardrails.limit_digest(:kv_id, 10, burst => 0);
SELECT guardrails.limit_digest(:kv_id, 10, max_concurrent => 0);
SELECT guardrails.limit_digest(:kv_id, 10, action => 'maybe');
SELECT guardrails.limit_digest(12345, 10, role => 'no_such_role');
SELECT guardrails.block_digest(NULL);
SELECT guardrails.unlimit_digest(NULL);
SELECT guardrails.query_digest('SELECT 1; SELECT 2');
SELECT guardrails.query_digest('SELEC 1');
SELECT guardrails.query_digest(NULL);
\set VERBOSITY terse
INSERT INTO guardrails.digest_limits (queryid, per_second) VALUES (1, -5);
\set VERBOSITY default

-- Privileges: an ordinary role can neither set a limit nor lift one.
SELECT guardrails.block_digest(:kv_id);
SET ROLE grd_app;
SELECT guardrails.limit_digest(1, 10);
SELECT guardrails.unlimit_digest(:kv_id);
SELECT guardrails.block_query('SELECT 1');
DELETE FROM guardrails.digest_limits;
SELECT count(*) AS visible FROM guardrails.digest_limit_status;
RESET ROLE;
SELECT guardrails.unlimit_digest(:kv_id);
DROP OWNED BY grd_app;
DROP ROLE grd_app;
