#!/bin/bash
# test/bench_overload.sh: overload protection measured with open-loop
# load (issue 22, goals G1 and G2).
#
# One server (PostgreSQL 15 by default) with pg_guardrails preloaded,
# pgbench -i -s 10, and two roles in two workload classes:
#     app_hi    critical  a primary-key lookup, -M prepared
#     batch_lo  low       a report: count and sum over 50,000 accounts
# The load comes from pgbench -R (open loop: a client's next transaction
# is due on a schedule, whatever became of the last one, so a slow server
# is not hidden by slower clients), with per-transaction logs, from which
# the percentiles are computed; latencies count from each transaction's
# scheduled start.  A refused transaction must not end its client, so the
# pgbench is one with --continue-on-error (19; it drives a 15 server): by
# default the one built from the 19 archive in ../shared/postgresql by
# test/build_postgres.sh (built first if missing), or --pgbench=PATH.
#
#  capacity  X = the report's throughput, closed loop, 4 clients (2 cores
#            here), and each class's unloaded p50/p99 at 0.3 X (app_hi at
#            0.2 X, the rate G1 offers it, alone).
#  G1        app_hi offers 0.2 X (2 clients); batch_lo offers 3 X through
#            16 clients, each of which runs its next report at once when
#            the last one was refused or late, as in a retry storm.  Run
#            with guardrails.overload_control off, then on, in each of
#            --rounds rounds.  Goals with the controller: app_hi p99 within
#            2x of its unloaded p99, no app_hi error; a refused report
#            learns it within its class's wait (guardrails.
#            overload_queue_timeout, 1 s, and the queue target); goodput
#            (reports done per second) at least 85% of X.
#  G2        batch_lo at 0.7 X for --seconds: no shedding at all.  Then 3 X
#            at once: the time until shedding starts (goal: 1 s); then no
#            load: the time until it stops (goal: 5 s).  Polled every 100
#            ms from guardrails.workload_classes.shedding_since.
#  G3        app_hi at 0.2 X and batch_lo at 0.3 X for 30 s, with
#            guardrails.contain = on; at 10 s a new 4-way join (a few
#            hundred ms a call) starts at 15 a second from 8 clients.  The
#            time until guardrails.contained_digests shows it (goal 2 s),
#            and each class's p99 in each second after it started against
#            its p99 before (goal: within 1.5x for good within 5 s).
#
# Usage: bash test/bench_overload.sh [options]
#   --rounds=N       rounds of G1 (env BENCH_ROUNDS, default 2)
#   --seconds=N      seconds of each G1 run and of G2's quiet part
#                    (env BENCH_SECONDS, default 20)
#   --pgbench=PATH   a pgbench that has --continue-on-error
#   --sources=DIR    where the PostgreSQL 19 archive is (default
#                    ../shared/postgresql from the top of the tree)
#
# As root it reruns itself as the postgres user in a copy of the tree, like
# test/bench.sh; its server listens on a unix socket only and is stopped
# when the script ends, however it ends.

# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"
shopt -s inherit_errexit

rounds=${BENCH_ROUNDS:-2}
seconds=${BENCH_SECONDS:-20}
pgbench=""
sources=""
source_rev=""
for arg in "$@"; do
	case "$arg" in
	--rounds=*) rounds=${arg#*=} ;;
	--seconds=*) seconds=${arg#*=} ;;
	--pgbench=*) pgbench=${arg#*=} ;;
	--sources=*) sources=${arg#*=} ;;
	--source-rev=*) source_rev=${arg#*=} ;; # passed on by the root run
	-h | --help) sed -n '/^# Usage:/,/^#                    \.\.\/shared/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) grd_die "unknown option: $arg" ;;
	esac
done
for v in rounds seconds; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || grd_die "$v must be a positive integer, not '${!v}'"
done

if [ -z "$source_rev" ]; then
	source_rev=$(git -C "$GRD_SRC" describe --always --dirty 2>/dev/null || echo unknown)
fi
# shellcheck disable=SC2086 # a list of package names
grd_need_packages $GRD_BASE_PACKAGES

# The pgbench that goes on after an error: found (or built) once, as root.
if [ -z "$pgbench" ]; then
	sources=${sources:-$GRD_SRC/../shared/postgresql}
	archive=$(ls "$sources"/postgresql-19*.tar.* 2>/dev/null | head -1 || true)
	[ -n "$archive" ] ||
		grd_die "no PostgreSQL 19 archive in $sources for a pgbench with --continue-on-error; give one with --pgbench=PATH"
	grd_need_packages bison flex libreadline-dev zlib1g-dev
	pgc=$(bash "$GRD_SRC/test/build_postgres.sh" "$archive")
	pgbench="$("$pgc" --bindir)/pgbench"
fi
"$pgbench" --help 2>/dev/null | grep -q -- --continue-on-error ||
	grd_die "$pgbench has no --continue-on-error"

export BENCH_ROUNDS=$rounds BENCH_SECONDS=$seconds
grd_reexec_as_postgres "$0" "--source-rev=$source_rev" "--pgbench=$pgbench" "$@"

GRD_BUILD="$GRD_SRC"
cd "$GRD_BUILD"
grd_build_private_install

PORT=5442
WORK=$(mktemp -d /tmp/pg_guardrails-overload-XXXXXX)
SOCK="$WORK/sock"
DATA="$WORK/data"
LOGS="$WORK/logs"
mkdir -p "$SOCK" "$LOGS"
PSQL=("$GRD_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres)
BENCH=("$pgbench" -h "$SOCK" -p "$PORT" -d postgres -n)

cleanup() {
	local rc=$?
	set +e
	trap - INT TERM
	jobs -p | xargs -r kill 2>/dev/null
	"$GRD_BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 60 stop >/dev/null 2>&1
	rm -rf "$DATA" "$SOCK"
	[ "$rc" -eq 0 ] || echo "overload benchmark failed (exit status $rc); logs are in $LOGS" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

grd_log "a server with pg_guardrails, pgbench -i -s 10, classes critical (app_hi) and low (batch_lo)"
"$GRD_BINDIR/initdb" -D "$DATA" -A trust -U postgres --no-sync >"$LOGS/initdb.log"
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$SOCK'
port = $PORT
shared_preload_libraries = 'pg_guardrails'
shared_buffers = 256MB
max_connections = 60
autovacuum = off
EOF
"$GRD_BINDIR/pg_ctl" -D "$DATA" -l "$LOGS/server.log" -w -t 120 start >/dev/null
"$GRD_BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U postgres -i -s 10 -q postgres >"$LOGS/init.log" 2>&1
"${PSQL[@]}" -o /dev/null <<'SQL'
CREATE EXTENSION pg_guardrails;
CREATE ROLE app_hi LOGIN;
CREATE ROLE batch_lo LOGIN;
GRANT SELECT ON pgbench_accounts TO app_hi, batch_lo;
SELECT guardrails.set_workload_class('critical', role => 'app_hi');
SELECT guardrails.set_workload_class('low', role => 'batch_lo');
VACUUM ANALYZE pgbench_accounts;
SELECT count(*) FROM pgbench_accounts;
SQL
cat >"$WORK/hi.sql" <<'EOF'
\set aid random(1, 1000000)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
EOF
cat >"$WORK/lo.sql" <<'EOF'
\set a random(1, 950000)
SELECT bid, count(*), sum(abalance) FROM pgbench_accounts WHERE aid BETWEEN :a AND :a + 49999 GROUP BY bid;
EOF

set_control() {
	"${PSQL[@]}" -c "ALTER SYSTEM SET guardrails.overload_control = '$1'" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 1
}

# pgbench's figures from its output: the transactions done and failed.
done_of() { sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1"; }
failed_of() { sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1"; }

# p50 and p99, in ms, of the successful transactions of per-transaction
# logs $1*: their third field is the latency in microseconds ("failed"
# for a failed one).
percentiles() {
	cat "$1"* 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $3 / 1000 }' | sort -g |
		awk '{ v[++n] = $1 }
			END { if (n == 0) print "- -"; else printf "%.1f %.1f\n", v[int(n * 0.50) + 1], v[int(n * 0.99) + 1] }'
}

class_row() {
	"${PSQL[@]}" -F' ' -c "SELECT statements, shed, waited, round(wait_ms) FROM guardrails.workload_classes WHERE class = '$1'"
}

grd_log "capacity: batch_lo's report, closed loop, 4 clients, $seconds s"
"${BENCH[@]}" -U batch_lo -c 4 -j 2 -T "$seconds" -M prepared -f "$WORK/lo.sql" >"$LOGS/capacity.out" 2>&1
X=$(awk -v n="$(done_of "$LOGS/capacity.out")" -v t="$seconds" 'BEGIN { printf "%.0f", n / t }')
[ "$X" -gt 0 ] || grd_die "no report ran (see $LOGS/capacity.out)"
HI_RATE=$(awk -v x="$X" 'BEGIN { r = int(x * 0.2); print (r < 1 ? 1 : r) }')
LO_QUIET=$(awk -v x="$X" 'BEGIN { r = int(x * 0.3); print (r < 1 ? 1 : r) }')
LO_STORM=$((X * 3))
LO_SUB=$(awk -v x="$X" 'BEGIN { r = int(x * 0.7); print (r < 1 ? 1 : r) }')
echo "X = $X reports/s; app_hi offers $HI_RATE/s (0.2 X); the storm offers $LO_STORM/s (3 X)"

grd_log "unloaded: app_hi at $HI_RATE/s alone, batch_lo at $LO_QUIET/s (0.3 X) alone"
rm -f "$WORK"/base_hi*
(cd "$WORK" && "${BENCH[@]}" -U app_hi -c 2 -j 1 -R "$HI_RATE" -T "$seconds" -M prepared \
	-f "$WORK/hi.sql" -l --log-prefix=base_hi >"$LOGS/base_hi.out" 2>&1)
read -r HI_P50 HI_P99 < <(percentiles "$WORK/base_hi")
rm -f "$WORK"/base_lo*
(cd "$WORK" && "${BENCH[@]}" -U batch_lo -c 4 -j 2 -R "$LO_QUIET" -T "$seconds" -M prepared \
	-f "$WORK/lo.sql" -l --log-prefix=base_lo >"$LOGS/base_lo.out" 2>&1)
read -r LO_P50 LO_P99 < <(percentiles "$WORK/base_lo")
echo "app_hi p50 $HI_P50 ms, p99 $HI_P99 ms; batch_lo p50 $LO_P50 ms, p99 $LO_P99 ms"

# One G1 run: both classes for $seconds s; prints a line of the table.
g1_run() {
	local control=$1 tag=$2 before after
	set_control "$control"
	read -r -a before < <(class_row low)
	rm -f "$WORK/${tag}_hi"* "$WORK/${tag}_lo"*
	(cd "$WORK" && "${BENCH[@]}" -U batch_lo -c 16 -j 2 -R "$LO_STORM" -T "$seconds" -M prepared \
		--continue-on-error --verbose-errors -f "$WORK/lo.sql" -l --log-prefix="${tag}_lo" \
		>"$LOGS/$tag-lo.out" 2>"$LOGS/$tag-lo.err") &
	local storm=$!
	(cd "$WORK" && "${BENCH[@]}" -U app_hi -c 2 -j 1 -R "$HI_RATE" -T "$seconds" -M prepared \
		-f "$WORK/hi.sql" -l --log-prefix="${tag}_hi" >"$LOGS/$tag-hi.out" 2>&1) || true
	wait "$storm" || true
	read -r -a after < <(class_row low)
	local hi_p50 hi_p99 hi_done hi_failed lo_done lo_failed max_wait
	read -r hi_p50 hi_p99 < <(percentiles "$WORK/${tag}_hi")
	hi_done=$(done_of "$LOGS/$tag-hi.out")
	hi_failed=$(failed_of "$LOGS/$tag-hi.out")
	lo_done=$(done_of "$LOGS/$tag-lo.out")
	lo_failed=$(failed_of "$LOGS/$tag-lo.out")
	# the longest a refused report waited, from the DETAIL of its 53C01
	max_wait=$({ grep -o 'It waited [0-9]* ms' "$LOGS/$tag-lo.err" || true; } |
		awk '{ if ($3 > m) m = $3 } END { print m + 0 }')
	printf '%-6s %-4s %8s %8s %6s %6s %9s %7s %8s %8s %9s\n' "$tag" "$control" \
		"$hi_p50" "$hi_p99" "${hi_done:-0}" "${hi_failed:-0}" \
		"$(awk -v n="${lo_done:-0}" -v t="$seconds" -v x="$X" 'BEGIN { printf "%.2f", n / t / x }')" \
		"${lo_failed:-0}" $((after[1] - before[1])) $((after[2] - before[2])) "$max_wait"
}

grd_log "G1: app_hi at 0.2 X beside a storm of batch_lo at 3 X, $rounds round(s) of $seconds s"
G1=$(
	printf '%-6s %-4s %8s %8s %6s %6s %9s %7s %8s %8s %9s\n' run ctl \
		hi_p50 hi_p99 hi_ok hi_err goodput lo_err lo_shed lo_waited maxwait
	for ((r = 1; r <= rounds; r++)); do
		g1_run off "r$r"
		g1_run on "r$r"
	done
)
echo "$G1"

grd_log "G2: batch_lo at 0.7 X for $seconds s, then 3 X, then nothing; controller on"
set_control on
status() { "${PSQL[@]}" -c "SELECT value FROM guardrails.status WHERE name = '$1'"; }
episodes0=$(status overload_episodes)
shed0=$(status overload_shed)
"${BENCH[@]}" -U batch_lo -c 8 -j 2 -R "$LO_SUB" -T "$seconds" -M prepared --continue-on-error \
	-f "$WORK/lo.sql" >"$LOGS/g2-sub.out" 2>&1
sub_episodes=$(($(status overload_episodes) - episodes0))
sub_shed=$(($(status overload_shed) - shed0))
# whether it sheds; each poll's signal and share go to g2-poll.log
shedding() {
	"${PSQL[@]}" -F' ' -c "SELECT shedding_since IS NOT NULL, round(signal::numeric, 2), round(shed_share::numeric, 2)
		FROM guardrails.workload_classes LIMIT 1" | tee -a "$LOGS/g2-poll.log" | cut -d' ' -f1
}
t0=$(date +%s%N)
"${BENCH[@]}" -U batch_lo -c 16 -j 2 -R "$LO_STORM" -T 15 -M prepared --continue-on-error \
	-f "$WORK/lo.sql" >"$LOGS/g2-storm.out" 2>&1 &
storm=$!
start_ms=""
while [ $((($(date +%s%N) - t0) / 1000000)) -lt 10000 ]; do
	if [ "$(shedding)" = t ]; then
		start_ms=$((($(date +%s%N) - t0) / 1000000))
		break
	fi
	sleep 0.1
done
wait "$storm" || true
t1=$(date +%s%N)
stop_ms=""
while [ $((($(date +%s%N) - t1) / 1000000)) -lt 30000 ]; do
	if [ "$(shedding)" = f ]; then
		stop_ms=$((($(date +%s%N) - t1) / 1000000))
		break
	fi
	sleep 0.1
done
if [ -z "$stop_ms" ]; then
	"${PSQL[@]}" -c "SELECT pid, backend_type, wait_event, state, left(query, 60) FROM pg_stat_activity" >"$LOGS/g2-activity.log"
fi
G2=$(
	echo "at 0.7 X ($LO_SUB/s) for $seconds s: $sub_episodes shedding episode(s), $sub_shed transaction(s) shed"
	echo "3 X: shedding started after ${start_ms:-more than 10000} ms (goal 1000)"
	echo "load gone: shedding stopped after ${stop_ms:-more than 30000} ms (goal 5000)"
)
echo "$G2"

grd_log "G3: a new expensive join at 15/s beside app_hi (0.2 X) and batch_lo (0.3 X), guardrails.contain = on"
"${PSQL[@]}" -o /dev/null <<'SQL'
CREATE ROLE feature LOGIN;
GRANT SELECT ON pgbench_accounts, pgbench_tellers, pgbench_branches TO feature;
ALTER SYSTEM SET guardrails.contain = on;
SELECT pg_reload_conf();
SQL
cat >"$WORK/join.sql" <<'EOF'
\set n random(150000, 250000)
SELECT sum(a.abalance + t.tbalance + b.bbalance) FROM pgbench_accounts a
  JOIN pgbench_tellers t ON t.bid = a.bid AND t.tid = a.aid % 100 + 1
  JOIN pgbench_branches b ON b.bid = a.bid
  JOIN pgbench_accounts a2 ON a2.aid = a.aid
 WHERE a.aid <= :n;
EOF
sleep 1
rm -f "$WORK"/g3_*
g3_start=$(date +%s.%N)
(cd "$WORK" && "${BENCH[@]}" -U app_hi -c 2 -j 1 -R "$HI_RATE" -T 30 -M prepared \
	-f "$WORK/hi.sql" -l --log-prefix=g3_hi >"$LOGS/g3-hi.out" 2>&1) &
g3_hi=$!
(cd "$WORK" && "${BENCH[@]}" -U batch_lo -c 4 -j 2 -R "$LO_QUIET" -T 30 -M prepared --continue-on-error \
	-f "$WORK/lo.sql" -l --log-prefix=g3_lo >"$LOGS/g3-lo.out" 2>&1) &
g3_lo=$!
sleep 10
join_start=$(date +%s.%N)
(cd "$WORK" && "${BENCH[@]}" -U feature -c 8 -j 2 -R 15 -T 20 -M prepared --continue-on-error \
	--verbose-errors -f "$WORK/join.sql" -l --log-prefix=g3_join >"$LOGS/g3-join.out" 2>"$LOGS/g3-join.err") &
g3_join=$!
contained_ms=""
while [ -z "$contained_ms" ] && kill -0 "$g3_join" 2>/dev/null; do
	if [ "$("${PSQL[@]}" -c "SELECT count(*) FROM guardrails.contained_digests")" != 0 ]; then
		contained_ms=$(awk -v a="$join_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
	else
		sleep 0.1
	fi
done
"${PSQL[@]}" -F' ' -c 'SELECT reason, round(cost_ms::numeric), state, "limit" FROM guardrails.contained_digests' \
	>"$LOGS/g3-contained.txt"
wait "$g3_hi" "$g3_lo" "$g3_join" || true

# The p99 of the successful transactions of logs $1* over [$4, $2) (the
# baseline), then in each second from $2 on, for $3 seconds; -1 for a
# second with none.  A log line's fifth and sixth fields are when the
# transaction ended.
windows_p99() {
	cat "$1"* 2>/dev/null | awk -v t0="$2" -v n="$3" -v b0="$4" '
		function p99(arr, k,   i, j, x) {
			for (i = 2; i <= k; i++) {
				x = arr[i]
				for (j = i - 1; j > 0 && arr[j] > x; j--) arr[j + 1] = arr[j]
				arr[j + 1] = x
			}
			return k ? arr[int(k * 0.99) + 1] : -1
		}
		$3 ~ /^[0-9]+$/ {
			t = $5 + $6 / 1e6
			if (t >= b0 && t < t0) base[++nb] = $3 / 1000
			else if (t >= t0 && t < t0 + n) { s = int(t - t0); v[s, ++c[s]] = $3 / 1000 }
		}
		END {
			printf "%.1f", p99(base, nb)
			for (s = 0; s < n; s++) {
				split("", one)
				for (i = 1; i <= c[s]; i++) one[i] = v[s, i]
				printf " %.1f", p99(one, c[s] + 0)
			}
			print ""
		}'
}
# The seconds after which every window's p99 stays within 1.5x of the
# baseline (the first field).
recovered_after() {
	awk '{ for (i = NF; i >= 2; i--) if ($i > 1.5 * $1) { print i - 1; exit } print 0 }'
}
base_from=$(awk -v a="$g3_start" 'BEGIN { printf "%.3f", a + 2 }')
hi_w=$(windows_p99 "$WORK/g3_hi" "$join_start" 20 "$base_from")
lo_w=$(windows_p99 "$WORK/g3_lo" "$join_start" 20 "$base_from")
G3=$(
	echo "the join: $(done_of "$LOGS/g3-join.out") done, $(failed_of "$LOGS/g3-join.out") failed ($({ grep -c "is contained" "$LOGS/g3-join.err" || true; }) refused as contained, 53C02)"
	echo "contained after ${contained_ms:-never} ms (goal 2000): $(cat "$LOGS/g3-contained.txt")"
	echo "app_hi p99 (ms), the baseline, then each second after the join started: $hi_w"
	echo "  within 1.5x of the baseline for good after $(echo "$hi_w" | recovered_after) s (goal 5)"
	echo "batch_lo p99 (ms), likewise: $lo_w"
	echo "  within 1.5x of the baseline for good after $(echo "$lo_w" | recovered_after) s (goal 5)"
)
echo "$G3"

results="$WORK/overload-results.txt"
{
	echo "pg_guardrails overload benchmark (source $source_rev)"
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'), $("$GRD_BINDIR/postgres" --version), load from $("$pgbench" --version)"
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p;T;q' /proc/cpuinfo), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	echo
	echo "capacity X = $X reports/s (closed loop, 4 clients)"
	echo "unloaded: app_hi at $HI_RATE/s: p50 $HI_P50 ms, p99 $HI_P99 ms; batch_lo at $LO_QUIET/s: p50 $LO_P50 ms, p99 $LO_P99 ms"
	echo
	echo "G1 (hi_* ms from the per-transaction log; goodput = reports done per second / X;"
	echo "lo_shed, lo_waited from guardrails.workload_classes; maxwait = longest wait of a refused report, ms):"
	echo "$G1"
	echo
	echo "G2:"
	echo "$G2"
	echo
	echo "G3:"
	echo "$G3"
} >"$results"
grd_log "results"
cat "$results"
cp "$results" "$LOGS/"
echo
echo "written to $results and $LOGS/"
