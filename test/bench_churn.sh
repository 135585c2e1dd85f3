#!/bin/bash
# test/bench_churn.sh: what a digest costs to create, keep and evict.
#
# An ORM-style workload: 10,000 query shapes against 2,000 digest slots,
# so that most statements find no entry and one is made by evicting
# another.  Every statement is
#     SELECT aid, abalance FROM pgbench_accounts
#      WHERE aid IN (n constants) AND bid IN (m constants)
# with n and m drawn from 1..100 (IN lists of every length: each (n, m)
# pair is a query id of its own up to PostgreSQL 17; 18 merges constant
# lists, so measure on 15 to 17).  Four clients (psql, the simple
# protocol, each statement its own transaction) read their statements
# from a generator with a fixed seed per client and round, so every
# configuration runs exactly the same statements.  Three configurations,
# restarted in a shuffled order in each round, on one data directory:
#     plain       shared_preload_libraries = ''
#     pgss        'pg_stat_statements', pg_stat_statements.max = 2000
#     guardrails  'pg_guardrails', guardrails.max_digests = 2000
# A run's rate is the statements of all four clients divided by the
# wall-clock time until the last one is done.  On a machine shared with
# other work, wall-clock time says as much about the others as about us,
# so the script also divides by the CPU time the run's backends used
# (counted by the kernel for the postmaster once it has reaped them): the
# statements per CPU-second of the server, which the other work on the
# machine moves much less.  The tables give each round's figure, the
# median, and the median's ratio to plain's.  test/bench.sh
# --churn runs this script.
#
# Usage: bash test/bench_churn.sh [--rounds=N] [--statements=N]
#   --rounds=N       rounds (env BENCH_ROUNDS, default 2)
#   --statements=N   statements per client and run (default 20000)
#
# As root it reruns itself as the postgres user in a copy of the tree, like
# test/bench.sh; its server listens on a unix socket only and is stopped
# when the script ends, however it ends.

# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"
shopt -s inherit_errexit

rounds=${BENCH_ROUNDS:-2}
statements=20000
source_rev=""
for arg in "$@"; do
	case "$arg" in
	--rounds=*) rounds=${arg#*=} ;;
	--statements=*) statements=${arg#*=} ;;
	--source-rev=*) source_rev=${arg#*=} ;; # passed on by the root run
	-h | --help) sed -n '/^# Usage:/,/^#   --statements/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) grd_die "unknown option: $arg" ;;
	esac
done
for v in rounds statements; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || grd_die "$v must be a positive integer, not '${!v}'"
done

if [ -z "$source_rev" ]; then
	source_rev=$(git -C "$GRD_SRC" describe --always --dirty 2>/dev/null || echo unknown)
fi
# shellcheck disable=SC2086 # a list of package names
grd_need_packages $GRD_BASE_PACKAGES
export BENCH_ROUNDS=$rounds
grd_reexec_as_postgres "$0" "--source-rev=$source_rev" "$@"

GRD_BUILD="$GRD_SRC"
cd "$GRD_BUILD"
grd_build_private_install

CONFIGS=(plain pgss guardrails)
declare -A LIBS=([plain]="" [pgss]="pg_stat_statements" [guardrails]="pg_guardrails")
CLIENTS=4
SHAPES_N=100 # n and m of the IN lists: 100 x 100 = 10,000 shapes
PORT=5441
SETTINGS=(
	"shared_buffers = 128MB"
	"max_connections = 20"
	"autovacuum = off"
	"fsync = off"
	"synchronous_commit = off"
	"pg_stat_statements.max = 2000"
	"guardrails.max_digests = 2000"
)

WORK=$(mktemp -d /tmp/pg_guardrails-churn-XXXXXX)
SOCK="$WORK/sock"
DATA="$WORK/data"
LOGS="$WORK/logs"
mkdir -p "$SOCK" "$LOGS"
PSQL=("$GRD_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres)

RUNNING=""
stop_server() {
	if [ -n "$RUNNING" ] && [ -f "$DATA/postmaster.pid" ]; then
		"$GRD_BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			"$GRD_BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
	fi
	RUNNING=""
}
cleanup() {
	local rc=$?
	set +e
	trap - INT TERM
	# the clients of an interrupted run
	jobs -p | xargs -r kill 2>/dev/null
	stop_server
	rm -rf "$DATA" "$SOCK"
	[ "$rc" -eq 0 ] || echo "churn benchmark failed (exit status $rc); logs are in $LOGS" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# CPU time, in clock ticks, of the postmaster and of its children that
# have exited (the backends of a run, once their clients disconnected).
server_cpu_ticks() {
	local pid
	pid=$(head -n 1 "$DATA/postmaster.pid")
	# fields 14-17 of /proc/PID/stat: utime stime cutime cstime; the
	# command (field 2) contains no space for the postmaster
	awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat"
}

start_server() {
	RUNNING=1
	"$GRD_BINDIR/pg_ctl" -D "$DATA" -l "$LOGS/server.log" -w -t 120 \
		-o "-c shared_preload_libraries='$1'" start >/dev/null ||
		{ tail -n 20 "$LOGS/server.log" >&2; grd_die "server did not start"; }
	[ "$("${PSQL[@]}" -c "SHOW shared_preload_libraries")" = "$1" ] ||
		grd_die "server does not run with shared_preload_libraries '$1'"
}

# The statements of one client: $1 is the generator's seed.
generate() {
	awk -v seed="$1" -v count="$statements" -v shapes="$SHAPES_N" 'BEGIN {
		srand(seed);
		for (i = 0; i < count; i++) {
			n = 1 + int(rand() * shapes);
			m = 1 + int(rand() * shapes);
			s = "SELECT aid, abalance FROM pgbench_accounts WHERE aid IN (";
			for (k = 0; k < n; k++)
				s = s (k ? "," : "") (1 + int(rand() * 100000));
			s = s ") AND bid IN (";
			for (k = 0; k < m; k++)
				s = s (k ? "," : "") (1 + int(rand() * 10));
			print s ");";
		}
	}'
}

grd_log "initialising the data directory (pgbench -i -s 1)"
"$GRD_BINDIR/initdb" -D "$DATA" -A trust -U postgres --no-sync >"$LOGS/initdb.log"
{
	echo "listen_addresses = ''"
	echo "unix_socket_directories = '$SOCK'"
	echo "port = $PORT"
	printf '%s\n' "${SETTINGS[@]}"
} >>"$DATA/postgresql.conf"
start_server ""
"$GRD_BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U postgres -i -s 1 -q postgres >"$LOGS/pgbench-init.log" 2>&1
"${PSQL[@]}" -c "CREATE EXTENSION pg_guardrails" -c "CHECKPOINT"
stop_server

declare -A RATE=() # config -> the rate of each round, space-separated
declare -A CPURATE=() # config -> statements per server CPU-second, likewise
HZ=$(getconf CLK_TCK)
grd_log "churn: $rounds round(s), $CLIENTS clients x $statements statements"
for ((round = 1; round <= rounds; round++)); do
	order=$(printf '%s\n' "${CONFIGS[@]}" | shuf | paste -sd' ')
	echo "round $round/$rounds, order: $order"
	for config in $order; do
		start_server "${LIBS[$config]}"
		# warm the catalog caches and the table's pages
		"${PSQL[@]}" -c "SELECT count(*) FROM pgbench_accounts" >/dev/null
		sleep 0.5 # the warm-up's backend is gone and reaped
		c0=$(server_cpu_ticks)
		t0=$(date +%s.%N)
		pids=()
		for ((c = 1; c < CLIENTS + 1; c++)); do
			generate $((round * 100 + c)) |
				"${PSQL[@]}" >/dev/null 2>"$LOGS/client-$round-$config-$c.log" &
			pids+=("$!")
		done
		for p in "${pids[@]}"; do
			wait "$p" || grd_die "a client failed (see $LOGS/client-$round-$config-*.log)"
		done
		t1=$(date +%s.%N)
		sleep 1 # the clients' backends exit and are reaped
		c1=$(server_cpu_ticks)
		rate=$(awk -v n=$((CLIENTS * statements)) -v a="$t0" -v b="$t1" \
			'BEGIN { printf "%.1f", n / (b - a) }')
		cpurate=$(awk -v n=$((CLIENTS * statements)) -v a="$c0" -v b="$c1" -v hz="$HZ" \
			'BEGIN { printf "%.1f", n / ((b - a) / hz) }')
		extra=""
		if [ "$config" = guardrails ]; then
			extra=$("${PSQL[@]}" -c "SELECT 'evictions ' || value FROM guardrails.status WHERE name = 'latency_evictions'")
		fi
		printf '  %-11s %10s statements/s %10s per server CPU-second  %s\n' \
			"$config" "$rate" "$cpurate" "$extra"
		RATE[$config]+="$rate "
		CPURATE[$config]+="$cpurate "
		stop_server
	done
done

# Shared memory at the default settings (guardrails.max_digests 5000), as
# pg_shmem_allocations shows it: the named allocations of pg_guardrails,
# and the difference of all allocations with and without it, which counts
# the elements of its hash tables too (they are anonymous).
grd_log "shared memory of pg_guardrails at its defaults"
sed -i '/^guardrails.max_digests/d' "$DATA/postgresql.conf"
ALLOCATED="SELECT sum(size) FROM pg_shmem_allocations WHERE name IS NOT NULL"
start_server ""
without=$("${PSQL[@]}" -c "$ALLOCATED")
stop_server
start_server "pg_guardrails"
with=$("${PSQL[@]}" -c "$ALLOCATED")
MEMORY=$("${PSQL[@]}" -c "
	SELECT format('  %-42s %8s kB', name, round(size / 1024.0))
	  FROM pg_shmem_allocations
	 WHERE name LIKE 'pg_guardrails%' AND size >= 10240 ORDER BY size DESC")
MEMORY+=$(printf '\n  %-42s %8s kB' "total (all allocations, with - without)" $(((with - without) / 1024)))
stop_server

median() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# print_table ARRAY TITLE: a configuration a line, with its median's
# ratio to plain's.
print_table() {
	local -n values=$1
	local plain med config
	printf '%-12s %-36s %10s %8s\n' config "$2, each round" median ratio
	# shellcheck disable=SC2086 # the values are space-separated
	plain=$(median ${values[plain]})
	for config in "${CONFIGS[@]}"; do
		# shellcheck disable=SC2086
		med=$(median ${values[$config]})
		printf '%-12s %-36s %10s %8s\n' "$config" "$(echo ${values[$config]} | sed 's/ / \/ /g')" "$med" \
			"$(awk -v a="$med" -v b="$plain" 'BEGIN { printf "%.3f", a / b }')"
	done
}

results="$WORK/churn-results.txt"
{
	echo "pg_guardrails churn benchmark (source $source_rev)"
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'), $("$GRD_BINDIR/postgres" --version)"
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p;T;q' /proc/cpuinfo)"
	echo "load:    $CLIENTS psql clients x $statements statements a run, 10,000 shapes, 2,000 slots"
	echo
	print_table RATE "statements/s (wall clock)"
	echo
	print_table CPURATE "statements per server CPU-second"
	echo
	echo "shared memory of pg_guardrails at its defaults (allocations of 10 kB and more):"
	echo "$MEMORY"
} >"$results"
grd_log "results"
cat "$results"
echo "(logs in $LOGS)"
