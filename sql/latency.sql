--
-- Latency histograms per query digest, checked against pg_stat_statements,
-- which is loaded after pg_guardrails (test/regress.conf).
--
CREATE EXTENSION pg_guardrails;
-- the version under development, in the schema the control file names
SELECT e.extname, n.nspname, e.extversion = a.default_version AS is_default_version
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     JOIN pg_available_extensions a ON a.name = e.extname
WHERE e.extname = 'pg_guardrails';

-- one statement resets both, so both record it the same way
SELECT pg_stat_statements_reset() IS NOT NULL AS pgss_reset,
       guardrails.latency_reset() >= 0 AS grd_reset;

-- A mixed workload: plain, repeated, prepared, nested, cursors, utility,
-- a failing statement.
CREATE TABLE items (id int PRIMARY KEY, v text);
INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 1000) g;
SELECT count(*) FROM items WHERE id < 50;
SELECT count(*) FROM items WHERE id < 600;
UPDATE items SET v = 'x' WHERE id = 3;
PREPARE one(int) AS SELECT v FROM items WHERE id = $1;
EXECUTE one(1);
EXECUTE one(2);
EXECUTE one(3);
DEALLOCATE one;
CREATE FUNCTION count_below(int) RETURNS bigint LANGUAGE plpgsql
  AS $$ BEGIN RETURN (SELECT count(*) FROM items WHERE id < $1); END $$;
SELECT count_below(10);
SELECT count_below(20);
DO $$ BEGIN PERFORM count(*) FROM items; END $$;
BEGIN;
DECLARE c CURSOR FOR SELECT * FROM items ORDER BY id;
FETCH 2 FROM c;
FETCH 2 FROM c;
CLOSE c;
COMMIT;
CREATE INDEX items_v ON items (v);
SET work_mem = '8MB';
RESET work_mem;
SELECT 1 / (id - id) FROM items WHERE id = 1;
EXPLAIN (COSTS OFF) SELECT * FROM items WHERE id = 1;
WITH x AS (SELECT 1 AS a) SELECT * FROM x;

-- Every digest has the same number of completed calls in both extensions.
SELECT count(*) >= 15 AS enough_digests FROM guardrails.latency;
SELECT coalesce(s.query, '(not in pg_stat_statements)') AS query,
       coalesce(s.calls, 0) AS pgss_calls, coalesce(l.calls, 0) AS grd_calls
FROM (SELECT * FROM pg_stat_statements WHERE toplevel) s
     FULL JOIN guardrails.latency l USING (dbid, userid, queryid)
WHERE coalesce(s.calls, 0) <> coalesce(l.calls, 0);

-- Planned statements read the same instrumentation, so their total times
-- are identical.
SELECT s.query, s.total_exec_time, l.total_ms
FROM pg_stat_statements s JOIN guardrails.latency l USING (dbid, userid, queryid)
WHERE s.query ~* '^(select|insert|update|delete|with|prepare) '
  AND abs(s.total_exec_time - l.total_ms) > 1e-5;
SELECT count(*) >= 8 AS planned_compared
FROM pg_stat_statements s JOIN guardrails.latency l USING (dbid, userid, queryid)
WHERE s.query ~* '^(select|insert|update|delete|with|prepare) ';
-- Utility statements are timed by each extension around its own hook:
-- pg_stat_statements, running its hook outside ours, also counts ours
-- (creating an entry the first time, and on a loaded machine any wait for
-- the CPU in between).  They agree to well within a millisecond.
SELECT s.query, s.total_exec_time, l.total_ms
FROM pg_stat_statements s JOIN guardrails.latency l USING (dbid, userid, queryid)
WHERE abs(s.total_exec_time - l.total_ms) > 0.01 * s.total_exec_time + 1;

-- The failed division is in "failed", not in "calls"; pg_stat_statements
-- has no trace of it.
SELECT l.calls, l.failed, l.p50_ms = l.max_ms AS one_value, s.calls AS pgss_calls
FROM guardrails.latency l LEFT JOIN pg_stat_statements s USING (dbid, userid, queryid)
WHERE l.failed > 0;

-- Utility statements are recorded under their own ids; EXECUTE under the
-- prepared statement's, PREPARE not at all.  (Core jumbles the value of SET
-- away from 18 on, and FETCH's count from 19: pg_stat_statements shows $1.)
SELECT regexp_replace(regexp_replace(s.query, '^SET work_mem = .*$', 'SET work_mem = <value>'),
                      '^FETCH \S+ FROM', 'FETCH <count> FROM') AS query, l.calls
FROM guardrails.latency l JOIN pg_stat_statements s USING (dbid, userid, queryid)
WHERE s.query LIKE 'CREATE INDEX%' OR s.query LIKE 'SET work_mem%'
   OR s.query LIKE 'PREPARE%' OR s.query LIKE 'FETCH%'
ORDER BY s.query;
-- DEALLOCATE is counted as pg_stat_statements counts it: not at all up to
-- 16, and from 17 on (where core jumbles it) with the same calls.
SELECT count(*) AS deallocate_calls_differ
FROM pg_stat_statements s FULL JOIN guardrails.latency l USING (dbid, userid, queryid)
WHERE coalesce(s.query, '') LIKE 'DEALLOCATE%'
  AND s.calls IS DISTINCT FROM l.calls;

-- Statements inside functions are not top-level: not tracked by default...
SELECT count(*) AS not_in_pgss FROM guardrails.latency
WHERE queryid NOT IN (SELECT queryid FROM pg_stat_statements) AND calls > 0;

-- ...but are with guardrails.track = all.
SET guardrails.track = 'all';
SELECT count_below(30);
SET guardrails.track = 'top';
SELECT count(*) AS not_in_pgss FROM guardrails.latency
WHERE queryid NOT IN (SELECT queryid FROM pg_stat_statements) AND calls > 0;

-- Statements cancelled by statement_timeout are recorded as failed, with
-- their elapsed time, and move the tail of the distribution.
SELECT guardrails.latency_reset() >= 0 AS reset;
PREPARE nap(float8) AS SELECT pg_sleep($1);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
EXECUTE nap(0.001);
SELECT queryid AS nap_id FROM pg_stat_statements
WHERE query = 'PREPARE nap(float8) AS SELECT pg_sleep($1)' \gset
SELECT calls, failed, guardrails.quantile(:nap_id, 0.99) < 100 AS p99_fast
FROM guardrails.latency WHERE queryid = :nap_id;
SET statement_timeout = '150ms';
EXECUTE nap(5);
EXECUTE nap(5);
RESET statement_timeout;
SELECT calls, failed,
       p99_ms >= 150 * 0.99 AND p99_ms < 5000 AS p99_is_the_cancel,
       p50_ms < 100 AS p50_still_fast,
       max_ms >= 150 AS max_is_the_cancel,
       total_ms < 100 AS total_counts_completed_only
FROM guardrails.latency WHERE queryid = :nap_id;
-- the histogram shows the two populations
SELECT count(*) >= 2 AS buckets, sum(count) AS executions,
       max(cumulative_fraction) AS last_fraction
FROM guardrails.latency_histogram(:nap_id);
SELECT lower_ms >= 140 AS slow_bucket, count, cumulative_fraction, length(bar) > 0 AS has_bar
FROM guardrails.latency_histogram(:nap_id, per_octave => 1)
ORDER BY lower_ms DESC LIMIT 1;

-- Prometheus-style cumulative buckets: monotonic, ending with every execution.
SELECT bool_and(count >= 0) AS nonnegative,
       max(count) FILTER (WHERE le = 'Infinity') AS total,
       max(count) FILTER (WHERE le = 0.1) AS le_100ms,
       max(count) FILTER (WHERE le = 0.25) AS le_250ms
FROM guardrails.latency_buckets WHERE queryid = :nap_id;
SELECT count(*) AS non_monotonic FROM (
  SELECT count < lag(count) OVER (ORDER BY le) AS dec
  FROM guardrails.latency_buckets WHERE queryid = :nap_id) x WHERE dec;

-- Reset of one digest.
SELECT guardrails.latency_reset(:nap_id) AS removed;
SELECT count(*) AS left_for_nap FROM guardrails.latency WHERE queryid = :nap_id;
SELECT guardrails.latency_reset(:nap_id) AS removed_again;

-- status reports the table
SELECT name FROM guardrails.status
WHERE name LIKE 'latency%' OR name = 'shared_memory_bytes' ORDER BY name;
SELECT value AS max_digests FROM guardrails.status WHERE name = 'latency_max_digests';
SELECT value > 0 AS some_digests FROM guardrails.status WHERE name = 'latency_digests';
