# test/lib.sh: shared set-up for test/check.sh, test/demo.sh, test/bench.sh.
#
# Sourced, not run.  What it gives the scripts:
#   grd_need_packages PKG...  install missing Debian packages (root or sudo)
#   grd_reexec_as_postgres    when root, rerun the calling script as the
#                             postgres user in a copy of the tree it can write
#   grd_build_private_install build the extension and install it, with the
#                             server binaries, into $GRD_BUILD/tmp_install,
#                             a private tree that needs no root and leaves
#                             the system's PostgreSQL untouched
#   grd_prepare "$0" "$@"     all three, as a script's first step
#
# PG_CONFIG may name the pg_config of the server to use; by default it is
# Debian's PostgreSQL $PG_MAJOR (15).

set -euo pipefail

GRD_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}

grd_log() { printf '\n== %s\n' "$*"; }
grd_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

grd_pg_config() {
	if [ -n "${PG_CONFIG:-}" ]; then
		echo "$PG_CONFIG"
	elif [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" ]; then
		echo "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
	elif command -v pg_config >/dev/null; then
		command -v pg_config
	else
		echo "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
	fi
}

# The packages every script needs: a compiler, PGXS, the server with its
# contrib modules, and the Perl modules of PostgreSQL's TAP framework.
# libkrb5-dev: Debian's server headers include GSSAPI's (libpq-be.h).
GRD_BASE_PACKAGES="make gcc libc6-dev libkrb5-dev postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libipc-run-perl"

grd_need_packages() {
	local missing=() pkg
	if ! command -v dpkg-query >/dev/null; then
		echo "not a Debian system: assuming $* are installed"
		return 0
	fi
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0

	grd_log "installing ${missing[*]}"
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo="sudo"
		else
			grd_die "missing packages: ${missing[*]}; install them (as root: apt-get install ${missing[*]}) and rerun"
		fi
	fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}

# initdb and pg_regress refuse to run as root.  When root, copy the tree to a
# directory the postgres user owns and rerun the calling script there as
# postgres; its exit status becomes ours.  After a failure (or with
# GRD_KEEP_WORK set) the copy is kept and its path printed, for the logs.
grd_reexec_as_postgres() {
	local script="$1"
	shift
	[ "$(id -u)" -ne 0 ] && return 0
	id postgres >/dev/null 2>&1 || grd_die "running as root needs a postgres user (it comes with the postgresql package)"

	local work
	work=$(mktemp -d "/tmp/pg_guardrails-$(basename "$script" .sh)-XXXXXX")
	tar -C "$GRD_SRC" --exclude=./.git --exclude='./tmp_*' --exclude='*.o' \
		--exclude='*.bc' --exclude='*.so' -cf - . | tar -C "$work" -xf -
	chown -R postgres: "$work"
	echo "running as postgres in $work"
	set +e
	runuser -u postgres -- env PATH="$PATH" PG_MAJOR="$PG_MAJOR" \
		${PG_CONFIG:+PG_CONFIG="$PG_CONFIG"} ${CI:+CI="$CI"} \
		${BENCH_ROUNDS:+BENCH_ROUNDS="$BENCH_ROUNDS"} \
		${GRD_PG_CONFIGS:+GRD_PG_CONFIGS="$GRD_PG_CONFIGS"} \
		${GRD_SKIPPED_MAJORS:+GRD_SKIPPED_MAJORS="$GRD_SKIPPED_MAJORS"} \
		${BENCH_SECONDS:+BENCH_SECONDS="$BENCH_SECONDS"} \
		${GRD_TAP_TESTS:+GRD_TAP_TESTS="$GRD_TAP_TESTS"} \
		${GRD_REGRESS:+GRD_REGRESS="$GRD_REGRESS"} \
		bash "$work/test/$(basename "$script")" "$@"
	local rc=$?
	set -e
	if [ $rc -eq 0 ] && [ -z "${GRD_KEEP_WORK:-}" ]; then
		rm -rf "$work"
	else
		echo "(work tree and logs kept in $work)"
	fi
	exit $rc
}

# Symlink every entry of directory $1 into $2, except our own files, so
# that installing pg_guardrails into $2 never writes through a link.
grd_mirror_dir() {
	local src="$1" dst="$2" f
	mkdir -p "$dst"
	for f in "$src"/*; do
		[ -e "$f" ] || continue
		case "$(basename "$f")" in
		pg_guardrails*) continue ;;
		esac
		ln -sfn "$f" "$dst/"
	done
}

# Build, then assemble $GRD_BUILD/tmp_install: a copy of the server's
# programs (real files, because PostgreSQL finds its library and share
# directories relative to its own executable), links to the rest of its
# installation, and pg_guardrails installed into it.  Sets GRD_BINDIR.
grd_build_private_install() {
	local pgc bindir pkglibdir sharedir dest
	pgc=$(grd_pg_config)
	[ -x "$pgc" ] || grd_die "pg_config not found (set PG_CONFIG)"
	bindir=$("$pgc" --bindir)
	pkglibdir=$("$pgc" --pkglibdir)
	sharedir=$("$pgc" --sharedir)
	dest="$GRD_BUILD/tmp_install"

	grd_log "building pg_guardrails against $("$pgc" --version)"
	make -s -C "$GRD_BUILD" PG_CONFIG="$pgc" >/dev/null

	rm -rf "$dest"
	mkdir -p "$dest$bindir"
	cp -a "$bindir/." "$dest$bindir/"
	grd_mirror_dir "$pkglibdir" "$dest$pkglibdir"
	if [ -d "$pkglibdir/bitcode" ]; then
		rm -f "$dest$pkglibdir/bitcode"
		grd_mirror_dir "$pkglibdir/bitcode" "$dest$pkglibdir/bitcode"
	fi
	grd_mirror_dir "$sharedir" "$dest$sharedir"
	rm -f "$dest$sharedir/extension"
	grd_mirror_dir "$sharedir/extension" "$dest$sharedir/extension"
	make -s -C "$GRD_BUILD" PG_CONFIG="$pgc" DESTDIR="$dest" install >/dev/null

	GRD_BINDIR="$dest$bindir"
	export GRD_BINDIR
}

# The usual start of a script: install what is missing, rerun as postgres
# when root, then build and install into the private tree, from the top of
# the (copied) tree.  Sets GRD_BUILD and GRD_BINDIR.
grd_prepare() {
	grd_need_packages $GRD_BASE_PACKAGES
	grd_reexec_as_postgres "$@"
	GRD_BUILD="$GRD_SRC"
	cd "$GRD_BUILD"
	grd_build_private_install
}

# Start a throwaway server in $1 (created if missing) listening only on a
# unix socket in that directory; extra "name = value" settings follow.
grd_start_server() {
	local data="$1"
	shift
	if [ ! -d "$data" ]; then
		"$GRD_BINDIR/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
	fi
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$data'"
		echo "port = 5439"
		for setting in "$@"; do echo "$setting"; done
	} > "$data/postgresql.auto.conf"
	"$GRD_BINDIR/pg_ctl" -D "$data" -l "$data/server.log" -w -t 120 start >/dev/null
}

grd_stop_server() {
	"$GRD_BINDIR/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true
}
