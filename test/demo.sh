#!/bin/bash
# test/demo.sh: what pg_guardrails sees and does, on a throwaway server.
#
# Installs what is missing, builds, starts a temporary PostgreSQL with
# pg_guardrails (and pg_stat_statements, for the query texts) preloaded,
# drives a small workload of fast and slow query digests, some of them
# cancelled by statement_timeout, and shows the latency percentiles, one
# histogram, the Prometheus buckets, the DDL audit log of its migrations
# and the status.  The server and its
# directory are removed at the end.

. "$(dirname "$0")/lib.sh"

grd_prepare "$0" "$@"

DATA=$(mktemp -d /tmp/pg_guardrails-demo-data-XXXXXX)
trap 'grd_stop_server "$DATA/pgdata"; rm -rf "$DATA"' EXIT

grd_log "starting a throwaway server in $DATA"
grd_start_server "$DATA/pgdata" \
	"shared_preload_libraries = 'pg_guardrails, pg_stat_statements'" \
	"max_connections = 20" \
	"cluster_name = 'demo'"
export PGHOST="$DATA/pgdata" PGPORT=5439 PGUSER=postgres PGDATABASE=postgres
PSQL=("$GRD_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" -c 'CREATE EXTENSION pg_guardrails' -c 'CREATE EXTENSION pg_stat_statements'
"$GRD_BINDIR/pgbench" -i -q -s 5 >/dev/null 2>&1

grd_log "workload: 10 s of a fast lookup, a report with a slow tail, a few cancels"
# A lookup by primary key: fast and steady.
"$GRD_BINDIR/pgbench" -n -M prepared -S -c 3 -j 2 -T 10 >/dev/null 2>&1 &
lookup=$!
# A "report" whose mean looks healthy but 2% of executions take 150 ms.
cat > "$DATA/report.sql" <<'EOF'
\set r random(1, 100)
SELECT count(*), pg_sleep(CASE WHEN :r > 98 THEN 0.15 WHEN :r > 80 THEN 0.01 ELSE 0.002 END)
FROM pgbench_branches WHERE bid > 0;
EOF
"$GRD_BINDIR/pgbench" -n -M prepared -f "$DATA/report.sql" -c 2 -j 2 -T 10 >/dev/null 2>&1 &
report=$!
# An export that statement_timeout cancels now and then: pg_stat_statements
# never sees those executions, pg_guardrails counts them as failed.
for i in $(seq 1 12); do
	"${PSQL[@]}" -c "SET statement_timeout = '300ms'" \
		-c "SELECT count(*), pg_sleep(CASE WHEN $i % 4 = 0 THEN 1 ELSE 0.05 END) FROM pgbench_accounts WHERE aid < 1000" \
		>/dev/null 2>&1 || true
done
wait $lookup $report

grd_log "guardrails.latency: percentiles per digest (query text from pg_stat_statements)"
"${PSQL[@]}" <<'EOF'
\pset footer off
SELECT left(regexp_replace(s.query, '\s+', ' ', 'g'), 48) AS query,
       l.calls, l.failed,
       round(l.mean_ms::numeric, 3) AS mean_ms,
       round(s.stddev_exec_time::numeric, 3) AS pgss_stddev,
       round(l.p50_ms::numeric, 3) AS p50_ms,
       round(l.p95_ms::numeric, 3) AS p95_ms,
       round(l.p99_ms::numeric, 3) AS p99_ms,
       round(l.max_ms::numeric, 3) AS max_ms
FROM guardrails.latency l
     JOIN pg_stat_statements s USING (dbid, userid, queryid)
WHERE s.query LIKE 'SELECT%' AND s.query NOT LIKE '%guardrails%'
ORDER BY l.calls + l.failed DESC
LIMIT 5;
EOF

REPORT_ID=$("${PSQL[@]}" -Atc "SELECT queryid FROM pg_stat_statements WHERE query LIKE 'SELECT count(*), pg_sleep(CASE WHEN \$1%' ORDER BY calls DESC LIMIT 1")
EXPORT_ID=$("${PSQL[@]}" -Atc "SELECT queryid FROM guardrails.latency WHERE failed > 0 ORDER BY failed DESC LIMIT 1")

grd_log "the report's mean is $("${PSQL[@]}" -Atc "SELECT round(mean_ms::numeric, 1) FROM guardrails.latency WHERE queryid = $REPORT_ID") ms; its p99 is $("${PSQL[@]}" -Atc "SELECT round(guardrails.quantile($REPORT_ID, 0.99)::numeric, 1)") ms. Its histogram:"
"${PSQL[@]}" <<EOF
\pset footer off
SELECT round(lower_ms::numeric, 3) AS from_ms, round(upper_ms::numeric, 3) AS to_ms,
       count, round(cumulative_fraction::numeric, 3) AS cumulative, bar
FROM guardrails.latency_histogram($REPORT_ID, per_octave => 5);
EOF

grd_log "the report over the last 1, 5, 15 and 60 minutes, and its histogram exported: mergeable exactly with other servers' exports"
"${PSQL[@]}" <<EOF
\pset footer off
SELECT last, calls, failed, round(p50_ms::numeric, 1) AS p50_ms, round(p99_ms::numeric, 1) AS p99_ms
FROM guardrails.latency_recent WHERE queryid = $REPORT_ID ORDER BY last;
SELECT length(histogram) AS export_bytes,
       round(guardrails.histogram_quantile(histogram, 0.99)::numeric, 1) AS p99_ms,
       round(guardrails.histogram_quantile(guardrails.latency_merge(histogram) OVER (), 0.99)::numeric, 1) AS p99_merged_ms
FROM guardrails.latency_export() WHERE queryid = $REPORT_ID;
EOF

grd_log "the export: cancelled executions are counted as failed and are its p95"
"${PSQL[@]}" <<EOF
\pset footer off
SELECT l.calls, l.failed, s.calls AS pgss_calls,
       round(l.p50_ms::numeric, 1) AS p50_ms, round(l.p95_ms::numeric, 1) AS p95_ms,
       round(s.max_exec_time::numeric, 1) AS pgss_max_ms, round(l.max_ms::numeric, 1) AS max_ms
FROM guardrails.latency l JOIN pg_stat_statements s USING (dbid, userid, queryid)
WHERE l.queryid = $EXPORT_ID;
EOF

grd_log "guardrails.latency_buckets: the report as a Prometheus histogram"
"${PSQL[@]}" <<EOF
\pset footer off
SELECT le, count FROM guardrails.latency_buckets
WHERE queryid = $REPORT_ID AND le IN (0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 'Infinity');
EOF

grd_log "disabling an index before dropping it: the plan changes, the index is still maintained"
"${PSQL[@]}" <<'EOF'
\pset footer off
CREATE INDEX pgbench_accounts_bid ON pgbench_accounts (bid);
ANALYZE pgbench_accounts;
\echo 'before:'
EXPLAIN (COSTS OFF) SELECT count(*) FROM pgbench_accounts WHERE bid = 3;
SELECT guardrails.disable_index('pgbench_accounts_bid', reason => 'looks unused: watch a week, then drop');
\echo 'after disable_index():'
EXPLAIN (COSTS OFF) SELECT count(*) FROM pgbench_accounts WHERE bid = 3;
SELECT index, table_name, size, reason, scans_since_disabled FROM guardrails.index_visibility;
\echo 'one session can still try its plan with it:'
SET guardrails.use_disabled_indexes = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM pgbench_accounts WHERE bid = 3;
RESET guardrails.use_disabled_indexes;
\echo 'a primary key is refused unless forced:'
\set ON_ERROR_STOP off
SELECT guardrails.disable_index('pgbench_accounts_pkey');
EOF

grd_log "a storm of one query shape: block its digest, and its clients get a clear error"
"${PSQL[@]}" <<'SQL'
\pset footer off
SELECT guardrails.block_query('SELECT count(*), pg_sleep(CASE WHEN $1 > 98 THEN 0.15 WHEN $2 > 80 THEN 0.01 ELSE 0.002 END) FROM pgbench_branches WHERE bid > 0',
                              note => 'report storm, ticket 4711',
                              expires_at => now() + interval '15 minutes') AS blocked_queryid;
SQL
"$GRD_BINDIR/pgbench" -n -M prepared -f "$DATA/report.sql" -c 1 -t 1 2>&1 |
	grep -E "ERROR|DETAIL|HINT" | sed 's/^/    /' | head -3 || true
"${PSQL[@]}" <<'SQL'
\pset footer off
SELECT action, admitted, rejected, note, expires_at > now() AS expires_later
FROM guardrails.digest_limit_status;
\echo 'a rate limit instead: 20 executions per second, bursts of 5'
SELECT guardrails.limit_query('SELECT count(*), pg_sleep(CASE WHEN $1 > 98 THEN 0.15 WHEN $2 > 80 THEN 0.01 ELSE 0.002 END) FROM pgbench_branches WHERE bid > 0',
                              per_second => 20, burst => 5) IS NOT NULL AS limited;
SQL
"$GRD_BINDIR/pgbench" -n -M prepared -f "$DATA/report.sql" -c 1 -T 2 >/dev/null 2>&1 || true
"${PSQL[@]}" -c '\pset footer off' \
	-c "SELECT action, per_second, burst, admitted, rejected FROM guardrails.digest_limit_status"

grd_log "a migration behind a long-running report: stopped by its lock timeout, with the blocker named"
"${PSQL[@]}" -c "SET application_name = 'nightly_report'" -c 'BEGIN' \
	-c 'SELECT count(*) FROM pgbench_accounts' -c 'SELECT pg_sleep(5)' -c 'COMMIT' >/dev/null &
report=$!
sleep 1
PGOPTIONS='-c guardrails.ddl_lock_timeout=3s' "${PSQL[@]}" \
	-c 'ALTER TABLE pgbench_accounts ADD COLUMN note text' 2>&1 | sed 's/^/    /' &
migration=$!
sleep 1
echo "meanwhile, readers of the table wait 30 ms at most behind the ALTER TABLE:"
"${PSQL[@]}" -c '\timing on' -c 'SELECT count(*) FROM pgbench_accounts WHERE aid <= 10' |
	grep Time | sed 's/^/    /'
wait $migration $report

grd_log "a deployment pipeline asks check_migration() first: the verdicts, before anything runs"
"${PSQL[@]}" <<'SQL'
\pset footer off
SELECT statement AS stmt, rule, level, certain, table_name, pg_size_pretty(table_size) AS size
FROM guardrails.check_migration($m$
ALTER TABLE pgbench_accounts ALTER COLUMN filler SET NOT NULL;
ALTER TABLE pgbench_accounts RENAME COLUMN filler TO padding;
DROP INDEX pgbench_accounts_bid;
$m$);
SQL

grd_log "the schema-change policy in enforce: a few migrations and their verdicts"
"${PSQL[@]}" -v ON_ERROR_STOP=0 <<'SQL' 2>&1 | sed 's/^psql:<stdin>:[0-9]*: //'
SET guardrails.ddl_policy = enforce;
\echo '-- a nullable column: fine'
ALTER TABLE pgbench_accounts ADD COLUMN note text;
\echo '-- a NOT NULL column without a default:'
ALTER TABLE pgbench_accounts ADD COLUMN region text NOT NULL;
\echo '-- an index built in place, then concurrently:'
CREATE INDEX accounts_bid ON pgbench_accounts (bid);
CREATE INDEX CONCURRENTLY accounts_bid ON pgbench_accounts (bid);
\echo '-- int -> bigint rewrites the table (PostgreSQL says so), text -> varchar does not:'
ALTER TABLE pgbench_accounts ALTER COLUMN abalance TYPE bigint;
ALTER TABLE pgbench_accounts ALTER COLUMN note TYPE varchar;
\echo '-- a foreign key without NOT VALID, then with it:'
ALTER TABLE pgbench_accounts ADD FOREIGN KEY (bid) REFERENCES pgbench_branches;
ALTER TABLE pgbench_accounts ADD FOREIGN KEY (bid) REFERENCES pgbench_branches NOT VALID;
SQL

grd_log "the DDL audit log: the migrations above, and a few more, whatever became of them"
"${PSQL[@]}" <<'SQL' 2>&1 | sed 's/^/    /'
\set ON_ERROR_STOP off
ALTER TABLE pgbench_accounts ADD COLUMN memo text;
BEGIN;
ALTER TABLE pgbench_branches ADD COLUMN region text;
ROLLBACK;
CREATE INDEX pgbench_accounts_bid ON pgbench_accounts (bid);
DO $$ BEGIN EXECUTE 'CREATE TABLE migration_marks (id int)'; END $$;
SQL
"${PSQL[@]}" <<'SQL'
\pset footer off
SELECT seq, command_tag, object_identity, toplevel AS top, outcome, sqlstate,
       rolled_back, round(duration_ms::numeric, 1) AS ms, left(query, 40) AS query
FROM guardrails.ddl_log
WHERE seq > (SELECT max(seq) FROM guardrails.ddl_log WHERE command_tag = 'CREATE EXTENSION')
ORDER BY seq;
SQL
sleep 2
"${PSQL[@]}" -c '\pset footer off' -c "SELECT count(*) AS rows_in_ddl_history,
	count(*) FILTER (WHERE outcome <> 'ok') AS failed,
	count(*) FILTER (WHERE rolled_back) AS rolled_back
FROM guardrails.ddl_history"
echo "the same entries in the server log, one JSON line each; the last one:"
grep 'pg_guardrails ddl:' "$DATA/pgdata/server.log" | tail -1 | sed 's/^.*pg_guardrails ddl: /    /'

grd_log "no secret in the DDL log, and another role sees only what pg_stat_activity would show"
"${PSQL[@]}" <<'SQL'
\pset footer off
CREATE ROLE demo_app LOGIN PASSWORD 'correct horse battery staple';
CREATE ROLE demo_reader LOGIN;
SELECT command_tag, query FROM guardrails.ddl_log WHERE command_tag = 'CREATE ROLE';
SET ROLE demo_reader;
SELECT seq, role, command_tag, object_identity, query
FROM guardrails.ddl_log ORDER BY seq DESC LIMIT 3;
RESET ROLE;
SQL

grd_log "a connection storm at guardrails.connection_rate = 2: the application is refused, the operator gets in"
"${PSQL[@]}" -qc "ALTER SYSTEM SET guardrails.connection_rate = 2" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
refused=0
for i in $(seq 20); do
	"$GRD_BINDIR/psql" -X -U demo_app -c 'SELECT 1' </dev/null >/dev/null 2>&1 || refused=$((refused + 1))
done
ok=0
for i in $(seq 5); do
	"$GRD_BINDIR/psql" -X -U postgres -Atc 'SELECT 1' </dev/null >/dev/null 2>&1 && ok=$((ok + 1))
done
echo "    demo_app: $refused of 20 new connections refused; the superuser: $ok of 5 logins in"
{ "$GRD_BINDIR/psql" -X -U demo_app -c 'SELECT 1' </dev/null 2>&1 || true; } | sed 's/^/    /' | head -3
"${PSQL[@]}" -qc "ALTER SYSTEM RESET guardrails.connection_rate" -c "SELECT pg_reload_conf()" >/dev/null

grd_log "what would block ALTER TABLE pgbench_branches, now: guardrails.lock_blockers()"
"${PSQL[@]}" -qc "GRANT SELECT, INSERT ON pgbench_branches, pgbench_history TO demo_app"
{ echo "BEGIN; SELECT count(*) FROM pgbench_branches;"; sleep 3; } |
	"$GRD_BINDIR/psql" -X -q -U demo_app -o /dev/null &
holder=$!
sleep 1
"${PSQL[@]}" -c '\pset footer off' -c "SELECT pid, role, state, blocks, lock_modes, relations, query
FROM guardrails.lock_blockers('pgbench_branches')"
wait $holder

grd_log "the stall guard at guardrails.client_stall_timeout = 2s: a COPY FROM STDIN whose client stops sending, an idle transaction that holds a lock"
"${PSQL[@]}" -qc "ALTER SYSTEM SET guardrails.client_stall_timeout = '2s'" -c "SELECT pg_reload_conf()" >/dev/null
{ echo "COPY pgbench_history FROM STDIN;"; sleep 5; } |
	"$GRD_BINDIR/psql" -X -q -U demo_app >/dev/null 2>&1 &
copier=$!
{ echo "BEGIN; SELECT count(*) FROM pgbench_branches;"; sleep 5; } |
	"$GRD_BINDIR/psql" -X -q -U demo_app -o /dev/null 2>/dev/null &
idler=$!
wait $copier $idler || true
grep -A1 'stalled on its client' "$DATA/pgdata/server.log" | sed 's/^[^]]*] //; s/^/    /'
"${PSQL[@]}" -qc "ALTER SYSTEM RESET guardrails.client_stall_timeout" -c "SELECT pg_reload_conf()" >/dev/null

grd_log "index usage: this server's export, gathered twice, and the indexes unused for 2 seconds"
"${PSQL[@]}" <<'SQL'
\pset footer off
INSERT INTO guardrails.index_usage_reports
	SELECT * FROM guardrails.index_usage_export();
SELECT pg_sleep(3);
SELECT count(*) FROM pgbench_accounts WHERE aid = 7;   -- pgbench_accounts_pkey is used
SELECT pg_sleep(1.5);   -- a backend reports its counters at most once a second
INSERT INTO guardrails.index_usage_reports
	SELECT * FROM guardrails.index_usage_export();
SELECT index, table_name, unused_for, pg_size_pretty(size_bytes) AS size,
       round(table_writes_per_second) AS writes_per_s, constraint_name, disabled
FROM guardrails.unused_indexes('2 seconds');
SQL

grd_log "workload classes: a critical lookup at 50/s beside a retry storm of a low-priority report, without and with guardrails.overload_control"
"${PSQL[@]}" -o /dev/null <<'SQL'
CREATE ROLE app_hi LOGIN;
CREATE ROLE batch_lo LOGIN;
GRANT SELECT, UPDATE ON pgbench_accounts TO app_hi, batch_lo;
SELECT guardrails.set_workload_class('critical', role => 'app_hi');
SELECT guardrails.set_workload_class('low', role => 'batch_lo');
SQL
echo '\set aid random(1, 500000)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;' >"$DATA/lookup.sql"
# One phase: 8 s of the lookup, open loop (pgbench -R, per-transaction
# log), and 8 clients that run the report and, refused or not, run it
# again at once, reconnecting each time, as a retry storm does.
storm_phase() {
	local name=$1 end=$(($(date +%s) + 8))
	rm -f "$DATA"/hi_log* "$DATA"/lo_*
	for c in $(seq 8); do
		(while [ "$(date +%s)" -lt $end ]; do
			if "$GRD_BINDIR/psql" -X -Atq -U batch_lo -c 'SELECT bid, count(*), sum(abalance) FROM pgbench_accounts GROUP BY bid' </dev/null >/dev/null 2>"$DATA/lo_err_$c"; then
				echo ok >>"$DATA/lo_done_$c"
			else
				echo refused >>"$DATA/lo_refused_$c"
				cp "$DATA/lo_err_$c" "$DATA/lo_last_error"
			fi
		done) &
	done
	(cd "$DATA" && "$GRD_BINDIR/pgbench" -n -U app_hi -c 2 -R 50 -T 8 -l --log-prefix=hi_log \
		-f "$DATA/lookup.sql" >/dev/null 2>&1) || true
	wait
	# per-transaction log: the third field is the latency in microseconds,
	# counted from the transaction's scheduled start (open loop)
	awk '{ print $3 / 1000 }' "$DATA"/hi_log* | sort -n |
		awk -v name="$name" '{ t[++n] = $1 }
		END { printf "    %-34s lookups %4d, p50 %7.1f ms, p99 %7.1f ms", name, n, t[int(n * 0.5) + 1], t[int(n * 0.99) + 1] }'
	printf ', reports done %3d, refused %3d\n' \
		"$(cat "$DATA"/lo_done_* 2>/dev/null | wc -l)" "$(cat "$DATA"/lo_refused_* 2>/dev/null | wc -l)"
}
storm_phase "controller off:"
"${PSQL[@]}" -qc "ALTER SYSTEM SET guardrails.overload_control = on" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
storm_phase "guardrails.overload_control = on:"
"${PSQL[@]}" -c '\pset footer off' -c "SELECT class, statements, admitted, shed, waited, round(wait_ms) AS wait_ms, parallel_denied
FROM guardrails.workload_classes WHERE class IN ('critical', 'low') ORDER BY priority"
{ grep -m2 'overload: shedding' "$DATA/pgdata/server.log" || true; } | sed 's/^[^]]*] //; s/^/    /'
sed 's/^/    /' "$DATA/lo_last_error" 2>/dev/null || true
"${PSQL[@]}" -qc "ALTER SYSTEM RESET guardrails.overload_control" -c "SELECT pg_reload_conf()" >/dev/null

grd_log "a backfill held to its class's WAL budget (guardrails.wal_budget_low = 1MB a second), with no change to its code"
"${PSQL[@]}" -qc "ALTER SYSTEM SET guardrails.wal_budget_low = '1MB'" -c "ALTER SYSTEM SET guardrails.wal_budget_burst = '0.5s'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
start=$(date +%s%N)
for i in $(seq 0 19); do
	echo "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $((i * 2000 + 1)) AND $(((i + 1) * 2000));"
done | "$GRD_BINDIR/psql" -X -q -U batch_lo >/dev/null
echo "    20 UPDATEs of 2,000 rows each took $((($(date +%s%N) - start) / 1000000)) ms in all"
"${PSQL[@]}" -c '\pset footer off' -c "SELECT class, pg_size_pretty(wal_bytes) AS wal, budget_bytes_per_s, waited, round(wait_ms) AS wait_ms, refused
FROM guardrails.wal_budgets WHERE class = 'low'"
"${PSQL[@]}" -qc "ALTER SYSTEM RESET guardrails.wal_budget_low" -c "ALTER SYSTEM RESET guardrails.wal_budget_burst" -c "SELECT pg_reload_conf()" >/dev/null

grd_log "guardrails.status"
"${PSQL[@]}" -c '\pset footer off' -c 'SELECT * FROM guardrails.status'

grd_log "done; stopping the server and removing $DATA"
