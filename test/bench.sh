#!/bin/bash
# test/bench.sh: the benchmark.  What pg_guardrails costs a busy server,
# next to what pg_stat_statements costs, measured two ways:
#
#  1. Throughput.  Four server configurations, differing only in
#     shared_preload_libraries:
#         plain       ''
#         pgss        'pg_stat_statements'
#         guardrails  'pg_guardrails'
#         both        'pg_guardrails, pg_stat_statements'
#     One data directory (pgbench -i -s 10) serves them all; the server is
#     restarted with each configuration in turn.  A round runs every
#     configuration once, in a shuffled order that differs from round to
#     round, and each configuration runs four pgbench tests (-M prepared):
#     select-only and tpcb-like, with 2 and with 8 clients.  The table
#     gives each configuration's median TPS over the rounds and its ratio
#     to plain's median.  TPS on a small shared machine is noisy (single
#     3-second runs differ by tens of percent): use the default rounds or
#     more before reading anything into the ratios.
#
#  2. Instructions per transaction, counted by callgrind: the figure to
#     optimise against, repeatable to well under 1%.  Each configuration's
#     server runs under valgrind; one pgbench client runs a fixed number
#     of transactions twice (500, then 2500, on separate connections), and
#     the difference of the two backends' instruction counts, divided by
#     the difference of the transaction counts, is the cost of one
#     transaction, without connection start-up and shutdown.  Besides the
#     two scripts with -M prepared, select-simple runs select-only with
#     -M simple, planning every query, and a fifth configuration,
#     "disabled", is pg_guardrails with one index disabled (on a table the
#     workloads do not use), to show what the planner hook costs, and a
#     sixth, "rules1000", has 1000 digest limits that match nothing, a
#     seventh, "stallguard", runs the stall guard's worker, and an eighth,
#     "overload", runs the overload controller, on and never triggered,
#     and a ninth, "contain", has the containment of new digests on,
#     with nothing contained.
#     Reading the
#     client's messages is left out of it: its cost depends on timing (see
#     "Part 2" below).
#
# Usage: bash test/bench.sh [options]        (also: make bench)
#   --quick            1 round of 3 s tests (a smoke test)
#   --churn            instead: the churn benchmark, test/bench_churn.sh
#                      (10,000 query shapes against 2,000 digest slots)
#   --tps-only         only part 1
#   --callgrind-only   only part 2
#   --rounds=N         rounds of part 1 (env BENCH_ROUNDS, default 3)
#   --seconds=N        seconds per pgbench test (env BENCH_SECONDS, default 10)
#   --cg-tx-low=N, --cg-tx-high=N
#                      select-only transaction counts of part 2
#                      (env BENCH_CG_TX_LOW/HIGH, default 500 and 2500)
#   --configs=a,b      only these configurations (plain is always kept: the
#                      ratios are to it)
#   --workloads=a,b    only these callgrind workloads
#   --cg-rw-tx-low=N, --cg-rw-tx-high=N
#                      tpcb-like transaction counts of part 2
#                      (env BENCH_CG_RW_TX_LOW/HIGH, default 200 and 1000)
#
# The default run takes about 10 minutes.  The results are printed at the
# end, ready to paste into a README, and written to bench-results.txt at
# the top of the (build) tree and in the run's directory under /tmp (which
# keeps the logs and the measured callgrind profiles).  Like test/check.sh,
# it works as root (the benchmark then runs as the postgres user in a copy
# of the tree) and as an ordinary user; servers listen only on a unix
# socket of their own, and every server it starts is stopped when it ends,
# however it ends.

# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"
# set -e also inside $(...): a failure there must stop the benchmark.
shopt -s inherit_errexit

usage() {
	sed -n '/^# Usage:/,/^# The default run/{/^# The default run/d;s/^# \{0,1\}//;p}' "$0"
}

# ---------------------------------------------------------------------------
# Options.  Environment variables give the defaults, options override them.

rounds=${BENCH_ROUNDS:-3}
seconds=${BENCH_SECONDS:-10}
cg_tx_low=${BENCH_CG_TX_LOW:-500}
cg_tx_high=${BENCH_CG_TX_HIGH:-2500}
cg_rw_tx_low=${BENCH_CG_RW_TX_LOW:-200}
cg_rw_tx_high=${BENCH_CG_RW_TX_HIGH:-1000}
do_tps=1
do_callgrind=1
only_configs=""
only_workloads=""
quick=0
source_rev=""

for arg in "$@"; do
	case "$arg" in
	--churn) exec bash "$(dirname "$0")/bench_churn.sh" ;;
	--quick) quick=1 rounds=1 seconds=3 ;;
	--tps-only) do_callgrind=0 ;;
	--callgrind-only) do_tps=0 ;;
	--rounds=*) rounds=${arg#*=} ;;
	--seconds=*) seconds=${arg#*=} ;;
	--cg-tx-low=*) cg_tx_low=${arg#*=} ;;
	--cg-tx-high=*) cg_tx_high=${arg#*=} ;;
	--cg-rw-tx-low=*) cg_rw_tx_low=${arg#*=} ;;
	--configs=*) only_configs=${arg#*=} ;;
	--workloads=*) only_workloads=${arg#*=} ;;
	--cg-rw-tx-high=*) cg_rw_tx_high=${arg#*=} ;;
	--source-rev=*) source_rev=${arg#*=} ;; # passed on by the root run
	-h | --help) usage; exit 0 ;;
	*) usage >&2; grd_die "unknown option: $arg" ;;
	esac
done

for v in rounds seconds cg_tx_low cg_tx_high cg_rw_tx_low cg_rw_tx_high; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || grd_die "$v must be a positive integer, not '${!v}'"
done
[ "$cg_tx_high" -gt "$cg_tx_low" ] || grd_die "the high transaction count must exceed the low one"
[ "$cg_rw_tx_high" -gt "$cg_rw_tx_low" ] || grd_die "the high transaction count must exceed the low one"
[ "$do_tps" -eq 1 ] || [ "$do_callgrind" -eq 1 ] ||
	grd_die "--tps-only and --callgrind-only exclude each other"

# Which source is measured; the copy made for the postgres user has no .git.
if [ -z "$source_rev" ]; then
	source_rev=$(git -C "$GRD_SRC" describe --always --dirty 2>/dev/null || echo unknown)
fi

# shellcheck disable=SC2086 # a list of package names
grd_need_packages $GRD_BASE_PACKAGES valgrind

# lib.sh passes on only BENCH_ROUNDS and BENCH_SECONDS to the postgres
# user's run: pass the other settings as options (before the user's own
# options, so that these still win).
fwd=("--source-rev=$source_rev")
for v in BENCH_CG_TX_LOW BENCH_CG_TX_HIGH BENCH_CG_RW_TX_LOW BENCH_CG_RW_TX_HIGH; do
	if [ -n "${!v:-}" ]; then
		opt=${v#BENCH_}
		opt=${opt,,}
		fwd+=("--${opt//_/-}=${!v}")
	fi
done
grd_reexec_as_postgres "$0" "${fwd[@]}" "$@"

GRD_BUILD="$GRD_SRC"
cd "$GRD_BUILD"
grd_build_private_install

# ---------------------------------------------------------------------------
# Configurations and fixed settings.

CONFIGS=(plain pgss guardrails both)
# Part 2 also measures pg_guardrails with a disabled index (on a table the
# workloads do not touch), which only planning sees: throughput with
# prepared statements would not show it.
CG_CONFIGS=(plain pgss guardrails both disabled rules1000 stallguard overload contain)
declare -A LIBS=(
	[plain]=""
	[pgss]="pg_stat_statements"
	[guardrails]="pg_guardrails"
	[both]="pg_guardrails, pg_stat_statements"
	[disabled]="pg_guardrails"
	[rules1000]="pg_guardrails"
	[stallguard]="pg_guardrails"
	[overload]="pg_guardrails"
	[contain]="pg_guardrails"
)
# Settings of a configuration besides the library: "stallguard" runs the
# stall guard's worker scanning the backends; "overload" runs the overload
# controller, on and never triggered (its threshold out of reach), so that
# it shows what the check at each statement costs; "contain" has the
# containment of new digests on, with nothing contained (pgbench's
# statements are far below guardrails.contain_min_ms).
declare -A CONFIG_SETTINGS=(
	[stallguard]="-c guardrails.client_stall_timeout=300"
	[overload]="-c guardrails.overload_control=on -c guardrails.overload_threshold=100"
	[contain]="-c guardrails.contain=on"
)
# Callgrind workloads: name -> pgbench protocol and builtin script.
CG_WORKLOADS=(select-only tpcb-like select-simple)
declare -A CG_MODE=([select-only]=prepared [tpcb-like]=prepared [select-simple]=simple)
declare -A CG_SCRIPT=([select-only]=select-only [tpcb-like]=tpcb-like [select-simple]=select-only)
# --configs and --workloads narrow the lists (plain stays: ratios need it).
keep_only() {
	local -n list=$1
	local wanted=",$2," kept=() x
	for x in "${list[@]}"; do
		if [[ "$wanted" == *",$x,"* ]] || { [ "$1" != CG_WORKLOADS ] && [ "$x" = plain ]; }; then
			kept+=("$x")
		fi
	done
	[ ${#kept[@]} -gt 0 ] || grd_die "nothing left to measure in $1"
	list=("${kept[@]}")
}
if [ -n "$only_configs" ]; then
	keep_only CONFIGS "$only_configs"
	keep_only CG_CONFIGS "$only_configs"
fi
if [ -n "$only_workloads" ]; then
	keep_only CG_WORKLOADS "$only_workloads"
fi
SCALE=10
PORT=5440
# Written into postgresql.conf; printed with the results.
SETTINGS=(
	"shared_buffers = 256MB"
	"max_connections = 50"
	"autovacuum = off"
	"fsync = off"
	"synchronous_commit = off"
)
TPS_TESTS=("select-only 2" "select-only 8" "tpcb-like 2" "tpcb-like 8")

# Everything the benchmark writes, except the results file, goes here.
WORK=$(mktemp -d /tmp/pg_guardrails-bench-run-XXXXXX)
SOCK="$WORK/sock"
LOGS="$WORK/logs"
PRISTINE="$WORK/pristine" # the data directory as pgbench -i left it
mkdir -p "$SOCK" "$LOGS"

PGBENCH=("$GRD_BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U postgres)
PSQL=("$GRD_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres)

# ---------------------------------------------------------------------------
# Servers.  At most one runs at a time: either started by pg_ctl
# (PGCTL_DATA) or under valgrind in the background (VG_PID, VG_DATA).

PGCTL_DATA=""
VG_PID=""
VG_DATA=""

stop_servers() {
	if [ -n "$PGCTL_DATA" ]; then
		if [ -f "$PGCTL_DATA/postmaster.pid" ]; then
			"$GRD_BINDIR/pg_ctl" -D "$PGCTL_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
				"$GRD_BINDIR/pg_ctl" -D "$PGCTL_DATA" -m immediate -w -t 60 stop >/dev/null 2>&1 ||
				true
		fi
		PGCTL_DATA=""
	fi
	if [ -n "$VG_PID" ]; then
		if kill -0 "$VG_PID" 2>/dev/null; then
			# A server under valgrind shuts down slowly; if it never got
			# as far as postmaster.pid, pg_ctl cannot stop it: kill it.
			"$GRD_BINDIR/pg_ctl" -D "$VG_DATA" -m fast -w -t 300 stop >/dev/null 2>&1 ||
				kill -TERM "$VG_PID" 2>/dev/null || true
			local i
			for ((i = 0; i < 300; i++)); do
				kill -0 "$VG_PID" 2>/dev/null || break
				sleep 1
			done
			if kill -0 "$VG_PID" 2>/dev/null; then
				kill -KILL "$VG_PID" 2>/dev/null
			fi
		fi
		wait "$VG_PID" 2>/dev/null || true
		VG_PID=""
	fi
}

cleanup() {
	local rc=$?
	set +e
	trap - INT TERM
	stop_servers
	if [ "$rc" -eq 0 ]; then
		# Keep the logs and the measured callgrind profiles, which are
		# small; drop the data directories, which are not.
		rm -rf "$PRISTINE" "$WORK/data" "$WORK/cg-data" "$SOCK"
	else
		echo "benchmark failed (exit status $rc); its servers are stopped, logs are in $LOGS" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# interruptible LOG COMMAND...: run a command, its output going to LOG, in
# the background, and wait for it: a signal to this script then runs its
# trap at once, not only when the command is over.  (When root runs the
# benchmark, runuser passes a Ctrl-C on as SIGTERM and kills this shell 2 s
# later: the trap must have begun to stop the server by then.)  The
# redirection must stay on the command: were it on this function, the trap
# would run with its output going to LOG too.
interruptible() {
	local log="$1"
	shift
	"$@" >"$log" 2>&1 &
	wait "$!"
}

# Append the fixed settings to a new data directory's postgresql.conf.
configure_datadir() {
	{
		echo
		echo "# test/bench.sh"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$SOCK'"
		echo "port = $PORT"
		printf '%s\n' "${SETTINGS[@]}"
	} >>"$1/postgresql.conf"
}

# The server must run with the libraries we asked for.
check_preload() {
	local want="$1" got
	got=$("${PSQL[@]}" -c "SHOW shared_preload_libraries")
	[ "${got// /}" = "${want// /}" ] ||
		grd_die "server runs with shared_preload_libraries '$got', not '$want'"
}

# Read pgbench's tables and indexes into shared buffers, so that no test
# starts with a cold cache (a restart empties shared_buffers; the data is
# still in the kernel's page cache).
prewarm() {
	"${PSQL[@]}" -c "SELECT sum(pg_prewarm(c.oid::regclass))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname LIKE 'pgbench%'
		  AND c.relkind IN ('r', 'i')" >/dev/null
}

pgctl_start() {
	local data="$1" libs="$2" settings="${3:-}"
	PGCTL_DATA="$data"
	"$GRD_BINDIR/pg_ctl" -D "$data" -l "$LOGS/server.log" -w -t 120 \
		-o "-c shared_preload_libraries='$libs' $settings" start >/dev/null ||
		{ tail -n 20 "$LOGS/server.log" >&2; grd_die "server did not start (log: $LOGS/server.log)"; }
}

pgctl_stop() {
	"$GRD_BINDIR/pg_ctl" -D "$PGCTL_DATA" -m fast -w -t 120 stop >/dev/null
	PGCTL_DATA=""
}

# Initialise the one data directory: pgbench -i -s 10 (which vacuums and
# analyses its tables), and pg_prewarm for prewarm().
init_pristine() {
	grd_log "initialising the data directory (pgbench -i -s $SCALE)"
	"$GRD_BINDIR/initdb" -D "$PRISTINE" -A trust -U postgres --no-sync >"$LOGS/initdb.log"
	configure_datadir "$PRISTINE"
	pgctl_start "$PRISTINE" ""
	interruptible "$LOGS/pgbench-init.log" "${PGBENCH[@]}" -i -s "$SCALE" -q postgres ||
		{ cat "$LOGS/pgbench-init.log" >&2; grd_die "pgbench -i failed"; }
	"${PSQL[@]}" -c "CREATE EXTENSION pg_prewarm" \
		-c "CREATE EXTENSION pg_guardrails" \
		-c "CREATE TABLE bench_side (id int)" \
		-c "CREATE INDEX bench_side_id ON bench_side (id)" \
		-c "CHECKPOINT"
	pgctl_stop
}

# The rules of a configuration: one disabled index for "disabled", 1000
# digest limits that match no statement of the workloads for "rules1000",
# none for the others.
apply_rules() {
	"${PSQL[@]}" -c "DELETE FROM guardrails.disabled_indexes" \
		-c "DELETE FROM guardrails.digest_limits" >/dev/null
	case "$1" in
	disabled)
		"${PSQL[@]}" -c "SELECT guardrails.disable_index('bench_side_id')" >/dev/null
		;;
	rules1000)
		"${PSQL[@]}" -c "INSERT INTO guardrails.digest_limits (queryid, per_second)
			SELECT g * 7919, 100 FROM generate_series(1, 1000) g" >/dev/null
		;;
	esac
}

# ---------------------------------------------------------------------------
# Part 1: throughput.

declare -A TPS=() # "test|config" -> the TPS of each round, space-separated

# Run pgbench; set TPS_RESULT to the TPS it reports.
TPS_RESULT=""
run_pgbench_tps() {
	local script="$1" clients="$2" log="$3"
	interruptible "$log" "${PGBENCH[@]}" -n -M prepared -b "$script" -c "$clients" -j 2 \
		-T "$seconds" postgres || { cat "$log" >&2; grd_die "pgbench failed"; }
	TPS_RESULT=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$log")
	[ -n "$TPS_RESULT" ] || { cat "$log" >&2; grd_die "no TPS in pgbench's output ($log)"; }
}

# Set ORDER to a random order of the configurations, unlike those of
# earlier rounds (while there are orders left that differ from all of them).
ORDER=""
USED_ORDERS=" "
shuffle_configs() {
	local try
	for ((try = 0; try < 1000; try++)); do
		ORDER=$(printf '%s\n' "${CONFIGS[@]}" | shuf | paste -sd,)
		if [[ "$USED_ORDERS" != *" $ORDER "* ]]; then
			break
		fi
	done
	USED_ORDERS+="$ORDER "
}

run_tps() {
	local data="$WORK/data" round config test script clients tps
	grd_log "throughput: $rounds round(s), ${seconds} s per test"
	rm -rf "$data"
	cp -a "$PRISTINE" "$data"
	for ((round = 1; round <= rounds; round++)); do
		shuffle_configs
		echo "round $round/$rounds, order: ${ORDER//,/, }"
		for config in ${ORDER//,/ }; do
			pgctl_start "$data" "${LIBS[$config]}" "${CONFIG_SETTINGS[$config]:-}"
			check_preload "${LIBS[$config]}"
			apply_rules "$config"
			prewarm
			for test in "${TPS_TESTS[@]}"; do
				read -r script clients <<<"$test"
				run_pgbench_tps "$script" "$clients" \
					"$LOGS/tps-r$round-$config-$script-c$clients.log"
				tps=$TPS_RESULT
				TPS["$test|$config"]+="$tps "
				printf '  %-11s %-11s c%-2s %12.1f tps\n' "$config" "$script" "$clients" "$tps"
			done
			pgctl_stop
		done
	done
}

median() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

tps_table() {
	local test script clients config values med plain_med min max
	echo "Throughput: TPS, median of $rounds round(s) of ${seconds} s; ratio = median / plain's median"
	echo
	printf '%-16s %-11s %11s %8s %11s %11s\n' "test" "config" "median TPS" "ratio" "min TPS" "max TPS"
	for test in "${TPS_TESTS[@]}"; do
		read -r script clients <<<"$test"
		# shellcheck disable=SC2086 # the values are space-separated
		plain_med=$(median ${TPS["$test|plain"]})
		for config in "${CONFIGS[@]}"; do
			values=${TPS["$test|$config"]}
			# shellcheck disable=SC2086
			med=$(median $values)
			# shellcheck disable=SC2086,SC2016
			read -r min max <<<"$(printf '%s\n' $values | sort -g | sed -n '1h;${H;x;s/\n/ /;p}')"
			printf '%-16s %-11s %11.1f %8.3f %11.1f %11.1f\n' "$script c$clients" "$config" \
				"$med" "$(awk -v a="$med" -v b="$plain_med" 'BEGIN { printf "%.3f", a / b }')" \
				"$min" "$max"
		done
	done
}

# ---------------------------------------------------------------------------
# Part 2: instructions per transaction, under callgrind.
#
# valgrind follows fork() (an exec would need --trace-children=yes, but
# PostgreSQL's backends are forked and never exec), so every process of
# the server, the postmaster and each backend, writes its own profile,
# cg.<pid>.out, when it exits.  A forked child starts with the counts its
# parent had at the fork, so a backend's total includes the postmaster's
# instructions up to then; that cancels in the difference of two runs
# (bar the postmaster's ~12k instructions per connection in between: about
# 12 instructions per transaction, the same in every configuration).
#
# The one cost that is not the same from run to run is reading the
# client's messages: when the backend asks for the next query before the
# client has sent it, recv() fails with EAGAIN and the backend waits in
# WaitEventSetWait(); when the query is already there, it does not.  Which
# happens is a race between the server under valgrind and pgbench, worth up
# to a few hundred instructions per transaction.  The figure reported
# therefore leaves out secure_read() and all it calls (the reads from the
# client socket, and the waits); the whole backend's count is shown too.
# Everything else repeats to within a few instructions per transaction.

CG_DIR=""    # where the server's processes write their profiles
CG_PM_PID="" # the postmaster's pid (valgrind keeps the pid)

# The pids of the postmaster's children, dead ones not yet reaped included.
postmaster_children() {
	local f line rest
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		rest=${line##*) } # after "pid (comm) ": state ppid ...
		rest=${rest#* }
		if [ "${rest%% *}" = "$CG_PM_PID" ]; then
			echo "${f//[^0-9]/}"
		fi
	done
}

# The Ir total of a complete profile, or nothing while it is incomplete
# (its last line, "totals:", is written last).
profile_total() {
	sed -n 's/^totals: \([0-9]*\).*/\1/p' "$1" 2>/dev/null
}

# The instructions spent in secure_read() and below: reading from the
# client, waiting for it included.
profile_client_reads() {
	callgrind_annotate --inclusive=yes --threshold=100 "$1" |
		awk '/:secure_read \[/ { gsub(",", "", $1); sum += $1 } END { print sum + 0 }'
}

# Run a command that opens connections to the server under valgrind, wait
# until the backends it started have exited and written their profiles,
# and move those profiles to $CG_DIR/$label/.  Sets CG_PROFILE to the
# largest: that of the backend that ran the transactions (pgbench also
# opens a short connection of its own first, to read the scale).
CG_PROFILE=""
cg_run() {
	local label="$1" before new f pid total best=0 i
	shift
	before=" $(postmaster_children | tr '\n' ' ') "
	interruptible "$LOGS/cg-$label.log" "$@" || { cat "$LOGS/cg-$label.log" >&2; grd_die "$label: $1 failed"; }

	# Wait until no child started since is still alive ...
	for ((i = 0; ; i++)); do
		new=""
		for pid in $(postmaster_children); do
			[[ "$before" == *" $pid "* ]] || new+=" $pid"
		done
		if [ -z "$new" ]; then
			break
		fi
		[ "$i" -lt 1200 ] || grd_die "$label: backends$new did not exit"
		sleep 0.1
	done
	# ... and collect the profiles of processes that were not children
	# before.  (Profiles of processes that were, if any, are left over from
	# an earlier step: they go to $CG_DIR/leftover.)
	mkdir -p "$CG_DIR/$label" "$CG_DIR/leftover"
	CG_PROFILE=""
	for f in "$CG_DIR"/cg.*.out; do
		[ -e "$f" ] || continue
		pid=${f##*/cg.}
		pid=${pid%.out}
		[ "$pid" != "$CG_PM_PID" ] || continue
		for ((i = 0; i < 300; i++)); do
			total=$(profile_total "$f")
			[ -z "$total" ] || break
			sleep 0.1
		done
		[ -n "$total" ] || grd_die "$label: profile $f stays incomplete"
		if [[ "$before" == *" $pid "* ]]; then
			mv "$f" "$CG_DIR/leftover/"
		else
			mv "$f" "$CG_DIR/$label/"
			if [ "$total" -gt "$best" ]; then
				best=$total
				CG_PROFILE="$CG_DIR/$label/${f##*/}"
			fi
		fi
	done
	[ -n "$CG_PROFILE" ] || grd_die "$label: no callgrind profile appeared in $CG_DIR"
}

cg_start() {
	local config="$1" data="$2" i
	CG_DIR="$WORK/callgrind/$config"
	rm -rf "$CG_DIR"
	mkdir -p "$CG_DIR"
	VG_DATA="$data"
	valgrind --tool=callgrind --trace-children=no \
		--callgrind-out-file="$CG_DIR/cg.%p.out" --dump-instr=no --collect-atstart=yes \
		"$GRD_BINDIR/postgres" -D "$data" -c "shared_preload_libraries=${LIBS[$config]}" \
		${CONFIG_SETTINGS[$config]:-} \
		>"$LOGS/server-callgrind-$config.log" 2>&1 &
	VG_PID=$!
	for ((i = 0; ; i++)); do
		if "$GRD_BINDIR/pg_isready" -q -h "$SOCK" -p "$PORT"; then
			break
		fi
		if ! kill -0 "$VG_PID" 2>/dev/null || [ "$i" -ge 120 ]; then
			tail -n 20 "$LOGS/server-callgrind-$config.log" >&2
			grd_die "the server under valgrind did not start"
		fi
		sleep 1
	done
	CG_PM_PID=$(head -n 1 "$data/postmaster.pid")
	[ "$CG_PM_PID" = "$VG_PID" ] || grd_die "postmaster pid $CG_PM_PID is not valgrind's $VG_PID"
}

cg_stop() {
	"$GRD_BINDIR/pg_ctl" -D "$VG_DATA" -m fast -w -t 300 stop >/dev/null
	wait "$VG_PID" || true
	VG_PID=""
	# Keep only the profiles of the measured runs.
	find "$CG_DIR" -mindepth 1 -maxdepth 1 ! -name '*-low' ! -name '*-high' -exec rm -rf {} +
}

declare -A IPT=()     # "workload|config" -> instructions/transaction, without client reads
declare -A IPT_ALL=() # "workload|config" -> instructions/transaction, whole backend
CG_READS_MISSING=0

# Instructions per transaction of one workload (a builtin pgbench script
# and a protocol): one client, a fixed seed, $low then $high transactions.
cg_workload() {
	local config="$1" script="$2" low="$3" high="$4"
	local all_low all_high reads_low reads_high
	local args=(-n -M "${CG_MODE[$script]}" -b "${CG_SCRIPT[$script]}" -c 1)
	cg_run "$script-warmup" "${PGBENCH[@]}" "${args[@]}" -t 100 \
		--random-seed=3 postgres
	cg_run "$script-low" "${PGBENCH[@]}" "${args[@]}" -t "$low" \
		--random-seed=1 postgres
	all_low=$(profile_total "$CG_PROFILE")
	reads_low=$(profile_client_reads "$CG_PROFILE")
	cg_run "$script-high" "${PGBENCH[@]}" "${args[@]}" -t "$high" \
		--random-seed=2 postgres
	all_high=$(profile_total "$CG_PROFILE")
	reads_high=$(profile_client_reads "$CG_PROFILE")
	if [ "$reads_low" -eq 0 ] || [ "$reads_high" -eq 0 ]; then
		CG_READS_MISSING=1 # no symbol secure_read in the server?
	fi

	IPT_ALL["$script|$config"]=$(awk -v a="$all_low" -v b="$all_high" -v n=$((high - low)) \
		'BEGIN { printf "%.1f", (b - a) / n }')
	IPT["$script|$config"]=$(awk -v a=$((all_low - reads_low)) -v b=$((all_high - reads_high)) \
		-v n=$((high - low)) 'BEGIN { printf "%.1f", (b - a) / n }')
	printf '  %-11s %-11s Ir %d/%d tx = %d/%d, client reads %d/%d: %s/tx (whole backend %s/tx)\n' \
		"$config" "$script" "$low" "$high" "$all_low" "$all_high" "$reads_low" "$reads_high" \
		"${IPT["$script|$config"]}" "${IPT_ALL["$script|$config"]}"
}

run_callgrind() {
	local config workload data="$WORK/cg-data"
	grd_log "instructions per transaction (callgrind)"
	for config in "${CG_CONFIGS[@]}"; do
		# Each configuration starts from the same data, so that the
		# tpcb-like runs of one leave nothing behind for the next.
		rm -rf "$data"
		cp -a "$PRISTINE" "$data"
		cg_start "$config" "$data"
		cg_run check check_preload "${LIBS[$config]}"
		cg_run rules apply_rules "$config"
		cg_run prewarm prewarm
		for workload in "${CG_WORKLOADS[@]}"; do
			if [ "$workload" = tpcb-like ]; then
				cg_workload "$config" "$workload" "$cg_rw_tx_low" "$cg_rw_tx_high"
			else
				cg_workload "$config" "$workload" "$cg_tx_low" "$cg_tx_high"
			fi
		done
		cg_stop
	done
}

callgrind_table() {
	local script low high config
	echo "Instructions per transaction: callgrind, 1 client, the backend's Ir"
	echo "over N2 transactions less its Ir over N1, divided by N2 - N1; -M prepared,"
	echo "but select-simple is select-only with -M simple (planned every time)."
	echo "instr/tx leaves out secure_read() (reading the client's messages, and"
	echo "waiting for them: their count depends on timing); whole = all of it."
	echo "disabled = pg_guardrails with one index disabled, on another table;"
	echo "rules1000 = pg_guardrails with 1000 digest limits matching no statement;"
	echo "stallguard = pg_guardrails with guardrails.client_stall_timeout = 300 (its worker scans the backends once a second);"
	echo "overload = pg_guardrails with the overload controller on, never triggered."
	echo "contain = pg_guardrails with guardrails.contain = on, nothing contained."
	if [ "$CG_READS_MISSING" -eq 1 ]; then
		echo "WARNING: secure_read() was not found in some profiles: there instr/tx"
		echo "includes the reads from the client, and is less repeatable."
	fi
	echo
	printf '%-11s %-11s %9s %9s %7s %9s   %s\n' \
		"workload" "config" "instr/tx" "vs plain" "ratio" "whole" "N1 -> N2"
	for script in "${CG_WORKLOADS[@]}"; do
		if [ "$script" = tpcb-like ]; then
			low=$cg_rw_tx_low high=$cg_rw_tx_high
		else
			low=$cg_tx_low high=$cg_tx_high
		fi
		for config in "${CG_CONFIGS[@]}"; do
			awk -v s="$script" -v c="$config" -v x="${IPT["$script|$config"]}" \
				-v p="${IPT["$script|plain"]}" -v w="${IPT_ALL["$script|$config"]}" \
				-v n="$low -> $high" 'BEGIN {
				d = (c == "plain") ? "-" : sprintf("%+.0f", x - p)
				printf "%-11s %-11s %9.0f %9s %7.3f %9.0f   %s\n", s, c, x, d, x / p, w, n
			}'
		done
	done
}

# ---------------------------------------------------------------------------
# Run, then report.

started=$(date +%s)
init_pristine
if [ "$do_tps" -eq 1 ]; then
	run_tps
fi
if [ "$do_callgrind" -eq 1 ]; then
	run_callgrind
fi
elapsed=$(($(date +%s) - started))

results="$GRD_BUILD/bench-results.txt"
{
	echo "pg_guardrails $(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" pg_guardrails.control) benchmark (source $source_rev)"
	echo
	echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "server:      $("$GRD_BINDIR/postgres" --version)"
	echo "machine:     $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p;T;q' /proc/cpuinfo)"
	echo "             $(uname -sr), $(valgrind --version)"
	echo "data:        pgbench -i -s $SCALE, one data directory; unix socket only"
	echo "settings:    ${SETTINGS[0]}"
	for ((i = 1; i < ${#SETTINGS[@]}; i++)); do
		echo "             ${SETTINGS[$i]}"
	done
	echo "configs:     shared_preload_libraries ="
	for config in "${CONFIGS[@]}"; do
		printf "             %-11s '%s'\n" "$config" "${LIBS[$config]}"
	done
	echo "pgbench:     -M prepared -n; builtin select-only and tpcb-like scripts;"
	echo "             tables and indexes prewarmed (pg_prewarm) after every start"
	if [ "$quick" -eq 1 ]; then
		echo "mode:        --quick (a smoke test: too short for conclusions)"
	fi
	echo "run time:    $((elapsed / 60)) min $((elapsed % 60)) s"
	if [ "$do_tps" -eq 1 ]; then
		echo
		echo "Each round restarts the server with every configuration, in a shuffled"
		echo "order, and runs the four tests on it: -T $seconds, -j 2, -c 2 or 8."
		echo
		tps_table
	fi
	if [ "$do_callgrind" -eq 1 ]; then
		echo
		echo "Each configuration starts from a copy of the freshly initialised data,"
		echo "prewarmed, and runs 100 transactions to warm up before the two measured runs."
		echo
		callgrind_table
	fi
} >"$results"

# When root runs the benchmark, lib.sh deletes the copy of the tree that
# holds $results once it succeeds: keep a copy with the logs as well.
cp "$results" "$WORK/bench-results.txt"

grd_log "results"
cat "$results"
echo
echo "written to $results"
echo "and to $WORK/bench-results.txt, with the logs"
if [ "$do_callgrind" -eq 1 ]; then
	echo "callgrind profiles of the measured backends: $WORK/callgrind/<config>/<workload>-{low,high}/"
	echo "(e.g. callgrind_annotate --inclusive=yes $WORK/callgrind/guardrails/select-only-high/cg.*.out)"
fi
