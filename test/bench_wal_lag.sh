#!/bin/bash
# test/bench_wal_lag.sh: replica-lag backpressure against a standby whose
# replay is slow (issue 23, section 4, goal G4 and the negative control).
#
# A primary with pg_guardrails preloaded and a streaming standby on the
# same host (a physical replication slot keeps the WAL it has not got).
# The standby's replay capacity is limited by putting its startup process
# (the one that replays WAL) into a cgroup v1 cpu controller with a quota
# (--quota percent of one CPU); its WAL receiver is not limited.  Lag is
# never made with recovery_min_apply_delay, which does not respond to the
# write rate.  The phases:
#
#  1. Capacity: superuser UPDATE loops (exempt from budgets) write as fast
#     as they can for --capacity-seconds; the standby's replay position,
#     sampled every 100 ms, advances at its capacity while it is behind.
#  2. Baseline: app_hi (class critical) alone, pgbench -R --app-rate with
#     a per-transaction log: its write latency p50/p99 and its WAL rate.
#     Spare capacity = capacity - app_hi's WAL rate.
#  3. G4 without backpressure (no budgets, guardrails.wal_lag_target 0),
#     then with it (wal_lag_target --target, wal_lag_floor --floor): the
#     backfill (role backfill, class background; --backfill-clients
#     sessions, each a loop of UPDATE ... WHERE id BETWEEN a AND b, one
#     statement a transaction, as fast as it can) beside app_hi, for
#     --seconds each.  Lag is measured two ways: a heartbeat row updated
#     every 100 ms on the primary, read every 100 ms on the standby (lag =
#     the time now minus the replayed heartbeat's time: same host, same
#     clock), and pg_stat_replication.replay_lag, read every 200 ms.
#     Between phases the standby catches up with its quota lifted.
#  4. Negative control, with backpressure: the same load; after 10 s
#     replay is paused on the standby (pg_wal_replay_pause()) for
#     --pause-seconds, then resumed and watched for as long again.  The
#     backfill should fall to the floor rate, the controller should hold
#     it and say so (log line, guardrails.wal_lag, guardrails.status),
#     no statement should wait longer than guardrails.wal_budget_max_wait
#     (a longer one is refused with 53W01: counted), and after the resume
#     the rate should come back (time to recover).
#
# Goals (issue 23, G4), with backpressure: lag p99 <= 2 s, max <= 5 s,
# backfill >= 70% of the spare replay capacity, app_hi write p99 within
# 1.5x of its baseline.  The table says for each the figure and whether it
# was met.
#
# What it needs: root (or --cgroup=DIR, below) and the cgroup v1 cpu
# controller mounted at /sys/fs/cgroup/cpu with cpu.cfs_quota_us.  As
# root it makes a cgroup /sys/fs/cgroup/cpu/pg_guardrails_wal_lag_PID,
# gives its cgroup.procs and cpu.cfs_quota_us to the postgres user (who
# runs the servers and moves the startup process into it), and at the end
# moves any process left in it back to the root cgroup and removes it.
# Without root or the controller it says why and exits with status 0
# (skipped).  --cgroup=DIR uses an existing cgroup whose cgroup.procs and
# cpu.cfs_quota_us the running user may write (the script then neither
# makes nor removes it).
#
# Usage: bash test/bench_wal_lag.sh [options]
#   --major=N             PostgreSQL major (default 15, Debian's; 16-19 are
#                         the builds of test/build_postgres.sh)
#   --seconds=N           each G4 phase (env BENCH_SECONDS, default 40)
#   --baseline-seconds=N  app_hi alone (default 15)
#   --capacity-seconds=N  the burst that measures replay capacity (default 8)
#   --pause-seconds=N     replay paused in the negative control (default 15)
#   --quota=N             the startup process's CPU, percent of one CPU
#                         (default 5)
#   --app-rate=N          app_hi transactions per second (default 100)
#   --backfill-clients=N  backfill sessions (default 2)
#   --target=T            guardrails.wal_lag_target (default 1s)
#   --floor=R             guardrails.wal_lag_floor (default 512kB)
#   --cgroup=DIR          an existing, writable cgroup v1 cpu directory
#
# The default run takes about 5 minutes.  The results are printed and
# written to bench-wal-lag-results.txt in the run's directory under /tmp,
# with the logs.  Servers listen only on a unix socket of their own; every
# server it starts is stopped when it ends, however it ends.

# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"
shopt -s inherit_errexit

usage() {
	sed -n '/^# Usage:/,/^# The default run/{/^# The default run/d;s/^# \{0,1\}//;p}' "$0"
}

major=15
seconds=${BENCH_SECONDS:-40}
baseline_seconds=15
capacity_seconds=8
pause_seconds=15
quota=5
app_rate=100
backfill_clients=2
target=1s
floor=512kB
cgroup=""
source_rev=""
fwd=()
for arg in "$@"; do
	case "$arg" in
	--major=*) major=${arg#*=} ;;
	--seconds=*) seconds=${arg#*=} ;;
	--baseline-seconds=*) baseline_seconds=${arg#*=} ;;
	--capacity-seconds=*) capacity_seconds=${arg#*=} ;;
	--pause-seconds=*) pause_seconds=${arg#*=} ;;
	--quota=*) quota=${arg#*=} ;;
	--app-rate=*) app_rate=${arg#*=} ;;
	--backfill-clients=*) backfill_clients=${arg#*=} ;;
	--target=*) target=${arg#*=} ;;
	--floor=*) floor=${arg#*=} ;;
	--cgroup=*) cgroup=${arg#*=} ;;
	--source-rev=*) source_rev=${arg#*=}; continue ;; # passed on by the root run
	-h | --help) usage; exit 0 ;;
	*) usage >&2; grd_die "unknown option: $arg" ;;
	esac
	fwd+=("$arg")
done
for v in major seconds baseline_seconds capacity_seconds pause_seconds quota app_rate backfill_clients; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || grd_die "$v must be a positive integer, not '${!v}'"
done
[ "$quota" -le 100 ] || grd_die "--quota is a percentage of one CPU, at most 100"

if [ -z "$source_rev" ]; then
	source_rev=$(git -C "$GRD_SRC" describe --always --dirty 2>/dev/null || echo unknown)
fi

# The server: Debian's 15, or a build of test/build_postgres.sh.
if [ -z "${PG_CONFIG:-}" ] && [ "$major" != "$PG_MAJOR" ]; then
	for d in /var/cache/pg_guardrails/postgresql-"$major".* /var/cache/pg_guardrails/postgresql-"$major"beta* \
		"${XDG_CACHE_HOME:-$HOME/.cache}"/pg_guardrails/postgresql-"$major".*; do
		if [ -e "$d/.complete" ] && [ -x "$d/bin/pg_config" ]; then
			PG_CONFIG="$d/bin/pg_config"
			export PG_CONFIG
			break
		fi
	done
	[ -n "${PG_CONFIG:-}" ] || grd_die "no build of PostgreSQL $major (run test/check.sh --majors $major once, or set PG_CONFIG)"
fi

# ---------------------------------------------------------------------------
# As the invoking user: the cgroup.  Only root may make one; the postgres
# user gets the two files it writes.

skip() {
	echo "bench_wal_lag: skipped: $*"
	exit 0
}

CG_ROOT=/sys/fs/cgroup/cpu
made_cgroup=""
remove_cgroup() {
	local pid
	[ -n "$made_cgroup" ] && [ -d "$made_cgroup" ] || return 0
	# move whatever is left back to the root cgroup first
	while read -r pid; do
		echo "$pid" >"$CG_ROOT/cgroup.procs" 2>/dev/null || true
	done <"$made_cgroup/cgroup.procs"
	rmdir "$made_cgroup" 2>/dev/null ||
		echo "bench_wal_lag: could not remove the cgroup $made_cgroup" >&2
}

if [ -z "$cgroup" ] && [ "$(id -u)" -ne 0 ]; then
	skip "limiting the standby's replay needs root (to make a cgroup under $CG_ROOT), or --cgroup=DIR, a cgroup v1 cpu directory this user may write"
fi
if [ -z "$cgroup" ]; then
	if ! grep -q " $CG_ROOT cgroup .*\bcpu\b" /proc/mounts || [ ! -w "$CG_ROOT" ] ||
		[ ! -e "$CG_ROOT/cpu.cfs_quota_us" ]; then
		skip "no writable cgroup v1 cpu controller at $CG_ROOT (cpu.cfs_quota_us); the standby's replay cannot be limited"
	fi
	# shellcheck disable=SC2086 # a list of package names
	grd_need_packages $GRD_BASE_PACKAGES
	cgroup="$CG_ROOT/pg_guardrails_wal_lag_$$"
	mkdir "$cgroup"
	made_cgroup="$cgroup"
	trap remove_cgroup EXIT
	echo 100000 >"$cgroup/cpu.cfs_period_us"
	echo $((quota * 1000)) >"$cgroup/cpu.cfs_quota_us"
	chown postgres: "$cgroup/cgroup.procs" "$cgroup/cpu.cfs_quota_us"
	fwd+=("--cgroup=$cgroup")
	echo "cgroup $cgroup: cpu.cfs_quota_us $((quota * 1000)) of cpu.cfs_period_us 100000"
fi
for f in cgroup.procs cpu.cfs_quota_us; do
	[ -w "$cgroup/$f" ] || [ "$(id -u)" -eq 0 ] ||
		skip "$cgroup/$f is not writable by $(id -un)"
done

export BENCH_SECONDS=$seconds
grd_reexec_as_postgres "$0" "--source-rev=$source_rev" "${fwd[@]}"

# ---------------------------------------------------------------------------
# As the user who runs the servers.

GRD_BUILD="$GRD_SRC"
cd "$GRD_BUILD"
grd_build_private_install

ROWS=100000 # the backfill's table
CHUNK=1000  # rows an UPDATE of the backfill
PPORT=5451
SPORT=5452
WORK=$(mktemp -d /tmp/pg_guardrails-wal-lag-XXXXXX)
SOCK="$WORK/sock"
PDATA="$WORK/primary"
SDATA="$WORK/standby"
LOGS="$WORK/logs"
mkdir -p "$SOCK" "$LOGS"
PSQL=("$GRD_BINDIR/psql" -X -At -v ON_ERROR_STOP=1 -h "$SOCK" -U postgres -d postgres)
P=("${PSQL[@]}" -p "$PPORT")
S=("${PSQL[@]}" -p "$SPORT")
# the quota, in microseconds of the cgroup's period
CG_QUOTA=$(($(cat "$cgroup/cpu.cfs_period_us") * quota / 100))

BG=() # pids of the background loops
# the parent first, so that it cannot report its child's death
kill_tree() {
	local pid=$1 child children
	children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
	kill "$pid" 2>/dev/null || true
	for child in $children; do
		kill_tree "$child"
	done
}
stop_bg() {
	local pid
	for pid in "${BG[@]}"; do
		kill_tree "$pid"
	done
	for pid in "${BG[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	BG=()
}
stop_server() {
	[ -f "$1/postmaster.pid" ] || return 0
	"$GRD_BINDIR/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null 2>&1 ||
		"$GRD_BINDIR/pg_ctl" -D "$1" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
}
cleanup() {
	local rc=$?
	set +e
	trap - INT TERM
	touch "$WORK/stop"
	echo "$CG_QUOTA" >"$cgroup/cpu.cfs_quota_us" 2>/dev/null
	{ stop_bg; } 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	stop_server "$SDATA"
	stop_server "$PDATA"
	rm -rf "$PDATA" "$SDATA" "$SOCK"
	[ "$rc" -eq 0 ] || echo "WAL lag benchmark failed (exit status $rc); logs are in $LOGS" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { echo "$EPOCHREALTIME"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

grd_log "primary and standby ($("$GRD_BINDIR/postgres" --version)), load average $(load)"
"$GRD_BINDIR/initdb" -D "$PDATA" -A trust -U postgres --no-sync >"$LOGS/initdb.log"
{
	echo "listen_addresses = ''"
	echo "unix_socket_directories = '$SOCK'"
	echo "port = $PPORT"
	echo "shared_preload_libraries = 'pg_guardrails'"
	echo "shared_buffers = 256MB"
	echo "fsync = off"
	echo "max_wal_size = 8GB"
	echo "checkpoint_timeout = 30min"
	echo "wal_receiver_status_interval = 1s"
	echo "hot_standby_feedback = off"
	echo "log_line_prefix = '%m [%p] '"
} >>"$PDATA/postgresql.conf"
"$GRD_BINDIR/pg_ctl" -D "$PDATA" -l "$LOGS/primary.log" -w -t 120 start >/dev/null ||
	{ tail -n 20 "$LOGS/primary.log" >&2; grd_die "the primary did not start"; }
# The heartbeat and the samplers in database postgres; the backfill and
# app_hi in database work, so that the recovery conflicts their cleanup
# causes on the standby (a query there is cancelled at once once replay is
# max_standby_streaming_delay behind) never cancel the samplers.
"${P[@]}" -q <<SQL
CREATE EXTENSION pg_guardrails;
CREATE TABLE hb (id int PRIMARY KEY, ts timestamptz NOT NULL);
INSERT INTO hb VALUES (1, clock_timestamp());
CREATE ROLE app_hi LOGIN;
CREATE ROLE backfill LOGIN;
CREATE DATABASE work;
SQL
"${P[@]}" -d work -q <<SQL
CREATE EXTENSION pg_guardrails;
CREATE TABLE bf (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL) WITH (fillfactor = 50);
INSERT INTO bf SELECT i, 0, repeat('x', 100) FROM generate_series(1, $ROWS) i;
CREATE TABLE app (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO app SELECT i, 0 FROM generate_series(1, 10000) i;
VACUUM ANALYZE;
GRANT SELECT, UPDATE ON app TO app_hi;
GRANT SELECT, UPDATE ON bf TO backfill;
SELECT guardrails.set_workload_class('critical', role => 'app_hi');
SELECT guardrails.set_workload_class('background', role => 'backfill');
CHECKPOINT;
SQL
"$GRD_BINDIR/pg_basebackup" -h "$SOCK" -p "$PPORT" -U postgres -D "$SDATA" -R -X stream \
	-C -S bench_standby --no-sync >"$LOGS/basebackup.log" 2>&1
echo "port = $SPORT" >>"$SDATA/postgresql.conf"
sed -i "s/^primary_conninfo = '/primary_conninfo = 'application_name=standby /" "$SDATA/postgresql.auto.conf"
"$GRD_BINDIR/pg_ctl" -D "$SDATA" -l "$LOGS/standby.log" -w -t 120 start >/dev/null ||
	{ tail -n 20 "$LOGS/standby.log" >&2; grd_die "the standby did not start"; }
for _ in $(seq 100); do
	[ "$("${P[@]}" -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby' AND state = 'streaming'")" = 1 ] && break
	sleep 0.2
done
[ "$("${P[@]}" -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby'")" = 1 ] ||
	grd_die "the standby does not stream"

STARTUP_PID=$("${S[@]}" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'startup'")
[[ "$STARTUP_PID" =~ ^[0-9]+$ ]] || grd_die "no startup process on the standby"
echo "$STARTUP_PID" >"$cgroup/cgroup.procs"
grep -qx "$STARTUP_PID" "$cgroup/cgroup.procs" || grd_die "the startup process $STARTUP_PID is not in $cgroup"
echo "standby's startup process $STARTUP_PID in $cgroup, quota $quota% of a CPU"

# ---------------------------------------------------------------------------
# Background loops: they run until $WORK/stop exists, and a psql that stops
# (a query cancelled by a recovery conflict ends \watch) is started again.

loop() {
	local out=$1
	shift
	(while [ ! -e "$WORK/stop" ]; do
		"$@" >>"$out" 2>>"$LOGS/loops.err" || true
		sleep 0.1
	done) &
	BG+=("$!")
}
# heartbeat: the primary's clock, every 100 ms, as the superuser (never
# waits for a budget)
loop /dev/null sh -c "printf '%s\n' 'UPDATE hb SET ts = clock_timestamp() WHERE id = 1' '\\watch 0.1' |
	$(printf '%q ' "${P[@]}")"
# standby: the time, the heartbeat's lag and the replay position, every 100 ms
loop "$LOGS/standby-samples" sh -c "printf '%s\n' \"SELECT extract(epoch FROM clock_timestamp()), extract(epoch FROM clock_timestamp() - ts), pg_last_wal_replay_lsn() - '0/0' FROM hb WHERE id = 1\" '\\watch 0.1' |
	stdbuf -oL $(printf '%q ' "${S[@]}") -F ' '"
# primary: replay_lag, the controller, the background class, every 200 ms
loop "$LOGS/primary-samples" sh -c "printf '%s\n' \"SELECT extract(epoch FROM clock_timestamp()),
	coalesce((SELECT extract(epoch FROM replay_lag) FROM pg_stat_replication WHERE application_name = 'standby'), 0),
	c.state, round(c.lag_ms), coalesce(b.rate_limit_bytes_per_s, -1), b.recent_bytes_per_s, b.waiting,
	pg_current_wal_lsn() - '0/0'
	FROM guardrails.wal_lag_controller() c, guardrails.wal_budgets b WHERE b.class = 'background'\" '\\watch 0.2' |
	stdbuf -oL $(printf '%q ' "${P[@]}") -F ' '"
sleep 1

primary_lsn() { "${P[@]}" -c "SELECT pg_current_wal_lsn() - '0/0'"; }
replay_lsn() {
	"${S[@]}" -c "SELECT pg_last_wal_replay_lsn() - '0/0'" 2>>"$LOGS/loops.err" || echo 0
}
class_wal() { "${P[@]}" -c "SELECT wal_bytes FROM guardrails.wal_budgets WHERE class = '$1'"; }

# Let the standby replay everything the primary has written, with its
# quota lifted, then put the quota back.
catch_up() {
	local want t0
	want=$(primary_lsn)
	t0=$(now)
	echo -1 >"$cgroup/cpu.cfs_quota_us"
	for _ in $(seq 3000); do
		[ "$(replay_lsn)" -ge "$want" ] && break
		sleep 0.2
	done
	echo "$CG_QUOTA" >"$cgroup/cpu.cfs_quota_us"
	[ "$(replay_lsn)" -ge "$want" ] || grd_die "the standby did not catch up in 10 minutes"
	printf '  (standby caught up with its quota lifted in %.1f s)\n' "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')"
}

# One backfill session until epoch $2: UPDATE loops over ranges of
# $CHUNK rows, one statement a transaction, as role $1, starting at range
# $3.  Logs a line a statement: start, end, rows, ok/refused/error.
backfill_client() {
	local role=$1 end=$2 next=$3 log=$4 lo t0 line rows status
	coproc BF { stdbuf -oL "$GRD_BINDIR/psql" -X -At -h "$SOCK" -p "$PPORT" -U "$role" -d work \
		-v VERBOSITY=verbose 2>&1; }
	while :; do
		t0=$EPOCHREALTIME
		[ "${t0%.*}" -lt "$end" ] || break
		lo=$(((next * CHUNK) % ROWS + 1))
		printf 'UPDATE bf SET v = v + 1 WHERE id BETWEEN %d AND %d;\n\\echo __done\n' \
			"$lo" $((lo + CHUNK - 1)) >&"${BF[1]}"
		rows=0
		status=ok
		while IFS= read -r line <&"${BF[0]}"; do
			case "$line" in
			__done) break ;;
			"UPDATE "*) rows=${line#UPDATE } ;;
			*53W01*) status=refused ;;
			*ERROR*) status=error; echo "$line" >>"$log.err" ;;
			esac
		done
		echo "$t0 $EPOCHREALTIME $rows $status" >>"$log"
		next=$((next + 1))
	done
	eval "exec ${BF[1]}>&-"
	wait "$BF_PID" 2>/dev/null || true
}
# $1 clients as role $2 until epoch $3, logging to $4.N
backfill() {
	local c
	for ((c = 0; c < $1; c++)); do
		backfill_client "$2" "$3" $((c * ROWS / CHUNK / $1)) "$4.$c" &
		BG+=("$!")
	done
}
# app_hi for $1 seconds, per-transaction log with prefix $2
app_hi() {
	printf '%s\n' '\set id random(1, 10000)' 'UPDATE app SET v = v + 1 WHERE id = :id;' >"$WORK/app.sql"
	mkdir -p "$LOGS/pgbench"
	(cd "$LOGS/pgbench" && "$GRD_BINDIR/pgbench" -n -h "$SOCK" -p "$PPORT" -U app_hi -d work -c 2 -j 1 \
		-R "$app_rate" -T "$1" -l --log-prefix="$2" -f "$WORK/app.sql" >"$LOGS/pgbench-$2.out" 2>&1)
}
# latency percentile $2 (0-1) in ms of the pgbench logs $1.*: the third
# field is microseconds from the scheduled start (open loop)
pct() {
	cat "$LOGS/pgbench/$1".* | awk '{ print $3 / 1000 }' | sort -g |
		awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p); if (i < NR * p) i++; if (i < 1) i = 1; printf "%.2f", v[i] }'
}
# percentile $3 and max of column $2 of the samples file $1 between epochs $4 and $5
sample_stats() {
	awk -v c="$2" -v a="$4" -v b="$5" '$1 >= a && $1 <= b { print $c }' "$1" | sort -g |
		awk -v p="$3" '{ v[NR] = $1 } END { if (NR == 0) { print "- -"; exit } i = int(NR * p); if (i < NR * p) i++; printf "%.2f %.2f\n", v[i], v[NR] }'
}
# rows of the backfill logs $1.* that ended between epochs $2 and $3
rows_between() {
	cat "$1".* | awk -v a="$2" -v b="$3" '$2 >= a && $2 < b && $4 == "ok" { n += $3 } END { print n + 0 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
setting() {
	"${P[@]}" -q -c "ALTER SYSTEM SET guardrails.$1 = '$2'" -c "SELECT pg_reload_conf()" >/dev/null
}

# ---------------------------------------------------------------------------
grd_log "1. replay capacity: $backfill_clients superuser sessions write for $capacity_seconds s, load average $(load)"
catch_up
t0=$(now)
end=$((${t0%.*} + capacity_seconds))
backfill "$backfill_clients" postgres "$end" "$LOGS/capacity"
for pid in "${BG[@]:3}"; do wait "$pid"; done
BG=("${BG[@]:0:3}")
t1=$(now)
# replay's advance over the burst, after its first second, while behind
CAPACITY=$(awk -v a="$t0" -v b="$t1" '$1 >= a + 1 && $1 <= b { if (!n++) { t = $1; l = $3 } tl = $1; ll = $3 }
	END { if (tl > t) printf "%.0f", (ll - l) / (tl - t); else print 0 }' "$LOGS/standby-samples")
written=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { if (!n++) l = $8; ll = $8 } END { printf "%.0f", (ll - l) / (b - a) }' "$LOGS/primary-samples")
behind=$(($(primary_lsn) - $(replay_lsn)))
printf '  primary wrote %.1f MB/s; standby replayed %.2f MB/s; %.1f MB behind at the end\n' \
	"$(awk -v x="$written" 'BEGIN { print x / 1048576 }')" "$(awk -v x="$CAPACITY" 'BEGIN { print x / 1048576 }')" \
	"$(awk -v x="$behind" 'BEGIN { print x / 1048576 }')"
[ "$behind" -gt 0 ] || echo "  warning: the standby kept up: the capacity measured is a lower bound (lower --quota)"
catch_up

# ---------------------------------------------------------------------------
grd_log "2. baseline: app_hi alone at $app_rate/s for $baseline_seconds s, load average $(load)"
w0=$(class_wal critical)
t0=$(now)
app_hi "$baseline_seconds" app-base
t1=$(now)
APP_WAL=$(awk -v a="$w0" -v b="$(class_wal critical)" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.0f", (b - a) / (y - x) }')
BASE_P50=$(pct app-base 0.5)
BASE_P99=$(pct app-base 0.99)
SPARE=$((CAPACITY - APP_WAL))
printf '  app_hi p50 %s ms, p99 %s ms, WAL %.1f kB/s; spare replay capacity %.2f MB/s\n' \
	"$BASE_P50" "$BASE_P99" "$(awk -v x="$APP_WAL" 'BEGIN { print x / 1024 }')" "$(awk -v x="$SPARE" 'BEGIN { print x / 1048576 }')"

# ---------------------------------------------------------------------------
# One G4 phase: $1 is its name.  Sets the figures of R_*[$1].
declare -A R_LAG_P99 R_LAG_MAX R_RL_P99 R_RL_MAX R_ROWS R_WAL R_SHARE R_P50 R_P99 R_LOAD R_EPISODES R_CAPPED R_SAMPLES
episodes() { "${P[@]}" -c "SELECT episodes FROM guardrails.wal_lag_controller()"; }
g4_phase() {
	local name=$1 t0 t1 end w0 w1 dt s e0
	catch_up
	if [ "$name" = on ]; then
		setting wal_lag_target "$target"
		setting wal_lag_floor "$floor"
		sleep 0.5
	fi
	R_LOAD[$name]=$(load)
	e0=$(episodes)
	w0=$(class_wal background)
	t0=$(now)
	end=$((${t0%.*} + seconds))
	backfill "$backfill_clients" backfill "$end" "$LOGS/bf-$name"
	app_hi "$seconds" "app-$name"
	for pid in "${BG[@]:3}"; do wait "$pid"; done
	BG=("${BG[@]:0:3}")
	t1=$(now)
	w1=$(class_wal background)
	dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	s=$(sample_stats "$LOGS/standby-samples" 2 0.99 "$t0" "$t1")
	R_LAG_P99[$name]=${s% *}
	R_LAG_MAX[$name]=${s#* }
	s=$(sample_stats "$LOGS/primary-samples" 2 0.99 "$t0" "$t1")
	R_RL_P99[$name]=${s% *}
	R_RL_MAX[$name]=${s#* }
	R_ROWS[$name]=$(awk -v n="$(rows_between "$LOGS/bf-$name" 0 1e12)" -v t="$dt" 'BEGIN { printf "%.0f", n / t }')
	R_WAL[$name]=$(awk -v a="$w0" -v b="$w1" -v t="$dt" 'BEGIN { printf "%.0f", (b - a) / t }')
	R_SHARE[$name]=$(awk -v w="${R_WAL[$name]}" -v s="$SPARE" 'BEGIN { printf "%.0f", 100 * w / s }')
	R_P50[$name]=$(pct "app-$name" 0.5)
	R_EPISODES[$name]=$(($(episodes) - e0))
	# share of the primary's samples with a cap on the background class
	R_SAMPLES[$name]=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { n++ } END { printf "%.1f", n / (b - a) }' "$LOGS/standby-samples")
	R_CAPPED[$name]=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { n++; if ($5 > 0) c++ } END { printf "%.0f", n ? 100 * c / n : 0 }' "$LOGS/primary-samples")
	# a line a second: lag (heartbeat), replay_lag, controller, cap and
	# recent rate of the background class (kB/s), backfill rows
	{
		echo "# s lag replay_lag state cap_kB/s recent_kB/s rows"
		awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { s = int($1 - a); if (!(s in seen)) { seen[s] = 1; print "P", s, $2, $3, int($5 / 1024), int($6 / 1024) } }' "$LOGS/primary-samples"
		awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { s = int($1 - a); if (!(s in seen)) { seen[s] = 1; print "S", s, $2 } }' "$LOGS/standby-samples"
		cat "$LOGS/bf-$name".* | awk -v a="$t0" '$4 == "ok" { n[int($2 - a)] += $3 } END { for (s in n) print "R", s, n[s] }'
	} | awk '$1 == "P" { p[$2] = $3 " " $4 " " $5 " " $6 } $1 == "S" { l[$2] = $3 } $1 == "R" { r[$2] = $3 }
		END { for (s = 0; s in p || s in l; s++) printf "%3d %6.2f %s %d\n", s, l[s], p[s], r[s] }' >"$LOGS/timeline-$name.txt"
	R_P99[$name]=$(pct "app-$name" 0.99)
	printf '  lag (heartbeat) p99 %s s, max %s s; replay_lag p99 %s s, max %s s\n' \
		"${R_LAG_P99[$name]}" "${R_LAG_MAX[$name]}" "${R_RL_P99[$name]}" "${R_RL_MAX[$name]}"
	printf '  backfill %s rows/s, %.2f MB/s of WAL = %s%% of the spare capacity; app_hi p50 %s ms, p99 %s ms\n' \
		"${R_ROWS[$name]}" "$(awk -v x="${R_WAL[$name]}" 'BEGIN { print x / 1048576 }')" "${R_SHARE[$name]}" \
		"${R_P50[$name]}" "${R_P99[$name]}"
	printf '  throttling episodes %s, background class capped %s%% of the time; %s heartbeat samples a second\n' \
		"${R_EPISODES[$name]}" "${R_CAPPED[$name]}" "${R_SAMPLES[$name]}"
	echo "  (a second a line: $LOGS/timeline-$name.txt)"
}

grd_log "3a. G4 without backpressure: backfill ($backfill_clients sessions) and app_hi for $seconds s, load average $(load)"
g4_phase off
grd_log "3b. G4 with backpressure: wal_lag_target $target, wal_lag_floor $floor, load average $(load)"
g4_phase on
"${P[@]}" -c '\pset footer off' -F ' | ' -c "SELECT class, pg_size_pretty(wal_bytes) AS wal, waited, round(wait_ms) AS wait_ms, refused
	FROM guardrails.wal_budgets WHERE class IN ('critical', 'background')" | sed 's/^/  /'

# ---------------------------------------------------------------------------
grd_log "4. negative control: replay paused for $pause_seconds s under the same load, load average $(load)"
catch_up
NC_LOAD=$(load)
MAX_WAIT=$("${P[@]}" -c "SELECT round(setting::int / 1000.0, 1) FROM pg_settings WHERE name = 'guardrails.wal_budget_max_wait'")
FLOOR_BYTES=$("${P[@]}" -c "SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'guardrails.wal_lag_floor'")
TARGET_S=$("${P[@]}" -c "SELECT round(setting::int / 1000.0, 3) FROM pg_settings WHERE name = 'guardrails.wal_lag_target'")
log_lines0=$(wc -l <"$LOGS/primary.log")
t0=$(now)
pre=10
end=$((${t0%.*} + pre + 2 * pause_seconds))
backfill "$backfill_clients" backfill "$end" "$LOGS/bf-nc"
app_hi $((pre + 2 * pause_seconds)) app-nc &
apppid=$!
sleep "$pre"
tp=$(now)
"${S[@]}" -c "SELECT pg_wal_replay_pause()" >/dev/null
sleep 5
w_a=$(class_wal background)
ta=$(now)
sleep $((pause_seconds - 5))
w_b=$(class_wal background)
tb=$(now)
NC_VIEW=$("${P[@]}" -F ' ' -c "SELECT state, round(replay_lag_ms), counted FROM guardrails.wal_lag")
NC_CTL=$("${P[@]}" -F ' ' -c "SELECT state, round(lag_ms), episodes FROM guardrails.wal_lag_controller()")
NC_STATUS=$("${P[@]}" -F '=' -c "SELECT name, value FROM guardrails.status WHERE name IN ('wal_throttling', 'wal_lag_us', 'wal_throttling_episodes') ORDER BY name" | paste -sd' ')
tr=$(now)
"${S[@]}" -c "SELECT pg_wal_replay_resume()" >/dev/null
wait "$apppid"
for pid in "${BG[@]:3}"; do wait "$pid"; done
BG=("${BG[@]:0:3}")
te=$(now)
NC_HOLD_LOG=$(tail -n +"$((log_lines0 + 1))" "$LOGS/primary.log" | grep -m1 'WAL throttling holds the floor rate' | sed 's/^.*LOG: *//' || true)
NC_RATE=$(awk -v a="$w_a" -v b="$w_b" -v x="$ta" -v y="$tb" 'BEGIN { printf "%.0f", (b - a) / (y - x) }')
NC_PRE_ROWS=$(awk -v n="$(rows_between "$LOGS/bf-nc" "$(awk -v a="$t0" 'BEGIN { print a + 3 }')" "$tp")" -v t="$(awk -v a="$t0" -v b="$tp" 'BEGIN { print b - a - 3 }')" 'BEGIN { printf "%.0f", n / t }')
NC_PAUSE_ROWS=$(awk -v n="$(rows_between "$LOGS/bf-nc" "$ta" "$tb")" -v t="$(awk -v a="$ta" -v b="$tb" 'BEGIN { print b - a }')" 'BEGIN { printf "%.0f", n / t }')
# every statement: how long it took (its wait included), refused ones apart
NC_STMT_MAX=$(cat "$LOGS"/bf-nc.* | awk '$4 == "ok" { d = $2 - $1; if (d > m) m = d } END { printf "%.2f", m }')
NC_REFUSED=$(cat "$LOGS"/bf-nc.* | awk '$4 == "refused" { n++ } END { print n + 0 }')
NC_ERRORS=$(cat "$LOGS"/bf-nc.* | awk '$4 == "error" { n++ } END { print n + 0 }')
NC_STMTS=$(cat "$LOGS"/bf-nc.* | wc -l)
# recovery: the first whole second after the resume in which the
# backfill's rows reach half the spare replay capacity (in rows, at the
# WAL per row of phase 3b); and the first heartbeat sample after the
# resume under the target
HALF_SPARE_ROWS=$(awk -v s="$SPARE" -v r="${R_ROWS[on]}" -v w="${R_WAL[on]}" 'BEGIN { printf "%.0f", (w > 0 ? s * r / w / 2 : 0) }')
NC_RECOVER=$(cat "$LOGS"/bf-nc.* | awk -v r="$tr" -v e="$te" -v want="$HALF_SPARE_ROWS" '
	$4 == "ok" && $2 >= r { s = int($2 - r); n[s] += $3 }
	END { for (s = 0; s < e - r; s++) if (n[s] >= want) { printf "%d", s + 1; exit } print "never" }')
NC_LAG_OK=$(awk -v r="$tr" -v t="$TARGET_S" '$1 > r && $2 <= t { printf "%.1f", $1 - r; found = 1; exit } END { if (!found) print "never" }' "$LOGS/standby-samples")
NC_APP_P99=$(pct app-nc 0.99)
# app_hi while paused, from 5 s in (the backfill at the floor rate): the
# fifth and sixth fields of pgbench's log are when the transaction ended
NC_APP_P99_PAUSED=$(cat "$LOGS"/pgbench/app-nc.* | awk -v a="$ta" -v b="$tb" '$5 + $6 / 1e6 >= a && $5 + $6 / 1e6 <= b { print $3 / 1000 }' | sort -g |
	awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1; printf "%.2f", v[i] }')
echo "  before the pause: backfill $NC_PRE_ROWS rows/s"
echo "  while paused (from 5 s in): background class $(awk -v x="$NC_RATE" 'BEGIN { printf "%.0f", x / 1024 }') kB/s of WAL, floor $((FLOOR_BYTES / 1024)) kB/s; backfill $NC_PAUSE_ROWS rows/s"
echo "  guardrails.wal_lag (state, replay_lag_ms, counted): $NC_VIEW"
echo "  guardrails.wal_lag_controller() (state, lag_ms, episodes): $NC_CTL"
echo "  guardrails.status: $NC_STATUS"
echo "  log: ${NC_HOLD_LOG:-(no line 'WAL throttling holds the floor rate')}"
echo "  backfill statements: $NC_STMTS, longest $NC_STMT_MAX s (wal_budget_max_wait $MAX_WAIT s), refused with 53W01 $NC_REFUSED, other errors $NC_ERRORS"
echo "  after the resume: backfill at half the spare capacity ($HALF_SPARE_ROWS rows/s) after ${NC_RECOVER} s, heartbeat lag under the target after ${NC_LAG_OK} s"
echo "  app_hi p99 over the whole control: $NC_APP_P99 ms; while paused, from 5 s in (the backfill at the floor rate): $NC_APP_P99_PAUSED ms"
"${P[@]}" -q -c "ALTER SYSTEM RESET ALL" -c "SELECT pg_reload_conf()" >/dev/null

# ---------------------------------------------------------------------------
# yes_no A OP B: whether the number A is OP (<= or >=) B
yes_no() {
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		if (a !~ /^[0-9.]+$/) { print "NO"; exit }
		print ((op == "<=" ? a + 0 <= b + 0 : a + 0 >= b + 0) ? "yes" : "NO") }'
}
# "after N s", or that it did not happen in the time watched
after() {
	if [ "$1" = never ]; then echo "not within $pause_seconds s"; else echo "after $1 s"; fi
}
mb() { awk -v x="$1" 'BEGIN { printf "%.2f", x / 1048576 }'; }
results="$WORK/bench-wal-lag-results.txt"
{
	echo "pg_guardrails WAL lag benchmark (source $source_rev)"
	echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC'), $("$GRD_BINDIR/postgres" --version)"
	echo "machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p;T;q' /proc/cpuinfo); load average (1, 5, 15 min) at the start of each phase: off ${R_LOAD[off]}, on ${R_LOAD[on]}, control $NC_LOAD"
	echo "standby:  startup process at $quota% of a CPU (cgroup v1 cpu): replays $(mb "$CAPACITY") MB/s of the backfill's WAL"
	echo "app_hi:   $app_rate UPDATEs/s (pgbench -R, 2 clients), class critical: $(awk -v x="$APP_WAL" 'BEGIN { printf "%.1f", x / 1024 }') kB/s of WAL; spare capacity $(mb "$SPARE") MB/s"
	echo "backfill: $backfill_clients sessions, UPDATE of $CHUNK rows a statement, class background; $seconds s a phase"
	echo "backpressure: guardrails.wal_lag_target $target, wal_lag_floor $floor, wal_budget_max_wait ${MAX_WAIT} s"
	echo
	printf '%-44s %12s %12s\n' "" "without" "with"
	printf '%-44s %12s %12s\n' "lag p99, heartbeat (s)" "${R_LAG_P99[off]}" "${R_LAG_P99[on]}"
	printf '%-44s %12s %12s\n' "lag max, heartbeat (s)" "${R_LAG_MAX[off]}" "${R_LAG_MAX[on]}"
	printf '%-44s %12s %12s\n' "replay_lag p99 (s)" "${R_RL_P99[off]}" "${R_RL_P99[on]}"
	printf '%-44s %12s %12s\n' "replay_lag max (s)" "${R_RL_MAX[off]}" "${R_RL_MAX[on]}"
	printf '%-44s %12s %12s\n' "backfill rows/s" "${R_ROWS[off]}" "${R_ROWS[on]}"
	printf '%-44s %12s %12s\n' "backfill WAL MB/s" "$(mb "${R_WAL[off]}")" "$(mb "${R_WAL[on]}")"
	printf '%-44s %11s%% %11s%%\n' "backfill share of spare capacity" "${R_SHARE[off]}" "${R_SHARE[on]}"
	printf '%-44s %12s %12s\n' "app_hi p50 ms (baseline $BASE_P50)" "${R_P50[off]}" "${R_P50[on]}"
	printf '%-44s %12s %12s\n' "app_hi p99 ms (baseline $BASE_P99)" "${R_P99[off]}" "${R_P99[on]}"
	printf '%-44s %12s %12s\n' "app_hi p99 / baseline" "$(ratio "${R_P99[off]}" "$BASE_P99")" "$(ratio "${R_P99[on]}" "$BASE_P99")"
	printf '%-44s %12s %12s\n' "throttling episodes" "${R_EPISODES[off]}" "${R_EPISODES[on]}"
	printf '%-44s %11s%% %11s%%\n' "time the backfill was capped" "${R_CAPPED[off]}" "${R_CAPPED[on]}"
	echo
	printf '%-52s %-30s %s\n' "goal (with backpressure)" "figure" "met"
	printf '%-52s %-30s %s\n' "G4 lag p99 <= 2 s (heartbeat)" "${R_LAG_P99[on]} s" "$(yes_no "${R_LAG_P99[on]}" "<=" 2)"
	printf '%-52s %-30s %s\n' "G4 lag max <= 5 s (heartbeat)" "${R_LAG_MAX[on]} s" "$(yes_no "${R_LAG_MAX[on]}" "<=" 5)"
	printf '%-52s %-30s %s\n' "G4 backfill >= 70% of spare replay capacity" "${R_SHARE[on]}%" "$(yes_no "${R_SHARE[on]}" ">=" 70)"
	printf '%-52s %-30s %s\n' "G4 app_hi p99 <= 1.5x baseline" "$(ratio "${R_P99[on]}" "$BASE_P99")x" "$(yes_no "$(ratio "${R_P99[on]}" "$BASE_P99")" "<=" 1.5)"
	printf '%-52s %-30s %s\n' "paused: background class at the floor rate" "$(awk -v x="$NC_RATE" 'BEGIN { printf "%.0f", x / 1024 }') kB/s (floor $((FLOOR_BYTES / 1024)))" \
		"$(yes_no "$NC_RATE" "<=" $((FLOOR_BYTES * 3 / 2)))"
	printf '%-52s %-30s %s\n' "paused: alert (log line, controller holding)" "$(echo "$NC_CTL" | cut -d' ' -f1)$([ -n "$NC_HOLD_LOG" ] && echo ', logged')" \
		"$(yes_no "$([ -n "$NC_HOLD_LOG" ] && [ "${NC_CTL%% *}" = holding ] && echo 1 || echo 0)" ">=" 1)"
	printf '%-52s %-30s %s\n' "paused: no statement waits past max_wait" "longest $NC_STMT_MAX s, $NC_REFUSED refused" \
		"$(yes_no "$NC_STMT_MAX" "<=" "$MAX_WAIT")"
	printf '%-52s %-30s %s\n' "resumed: backfill back to half the spare capacity" "$(after "$NC_RECOVER")" "$(yes_no "$NC_RECOVER" ">=" 0)"
	printf '%-52s %-30s %s\n' "resumed: heartbeat lag under the target" "$(after "$NC_LAG_OK")" "$(yes_no "$NC_LAG_OK" ">=" 0)"
} >"$results"
grd_log "results"
cat "$results"
echo "(written to $results, with the logs in $LOGS)"
