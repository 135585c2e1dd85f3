#!/bin/bash
# test/check.sh: install what is missing, build, and run every test on every
# PostgreSQL major it is given: the bucket-math unit test, the pg_regress
# suites and the TAP tests, each against real temporary servers.  Prints a
# table of majors by steps and ends with "N passed, N failed"; exits
# non-zero on any failure.
#
#   bash test/check.sh [--majors 15,16,...] [--sources DIR]
#
# PostgreSQL 15 comes from Debian's packages.  16 and later are built once
# from source archives (postgresql-<version>.tar.*) found in --sources
# (default: $GRD_PG_SOURCES, else ../shared/postgresql beside the
# repository), into a cache keyed by each archive's checksum (see
# test/build_postgres.sh); later runs reuse the builds.  Without --majors,
# every major with a server or an archive is tested, and the others are
# named as skipped; with --majors, a major that cannot be had fails.  With
# PG_CONFIG set, only that server is tested.
#
# Works as root (servers and suites then run as the postgres user) and as an
# ordinary user with PostgreSQL installed.  Nothing is installed into any
# server's own directories: each major gets a private install tree.

. "$(dirname "$0")/lib.sh"

usage() {
	sed -n 's/^#   //p' "$0"
}

majors=""
sources="${GRD_PG_SOURCES:-}"
fwd=()
while [ $# -gt 0 ]; do
	case "$1" in
	--majors) majors="$2"; fwd+=("$1" "$2"); shift 2 ;;
	--majors=*) majors="${1#*=}"; fwd+=("$1"); shift ;;
	--sources) sources="$2"; shift 2 ;;
	--sources=*) sources="${1#*=}"; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; grd_die "unknown option: $1" ;;
	esac
done
majors=${majors//,/ }
explicit_majors=${majors:+yes}
[ -n "$sources" ] || sources="$GRD_SRC/../shared/postgresql"

# ---- As the invoking user (root, usually): find or build every server ----
if [ -z "${GRD_PG_CONFIGS:-}" ]; then
	grd_need_packages $GRD_BASE_PACKAGES prometheus-postgres-exporter
	configs=""
	skipped=()
	if [ -n "${PG_CONFIG:-}" ]; then
		configs="$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')=$PG_CONFIG"
	else
		if [ -z "$majors" ]; then
			majors=15
			for a in "$sources"/postgresql-*.tar.*; do
				[ -e "$a" ] || continue
				m=$(basename "$a" | sed 's/^postgresql-\([0-9]*\).*/\1/')
				[ "$m" = 15 ] || majors="$majors $m"
			done
			for m in 16 17 18 19; do
				case " $majors " in *" $m "*) ;; *) skipped+=("$m (no source archive in $sources)") ;; esac
			done
		fi
		need_build=""
		for m in $majors; do
			[ "$m" = "$PG_MAJOR" ] || need_build=yes
		done
		[ -z "$need_build" ] || grd_need_packages bison flex libreadline-dev zlib1g-dev
		for m in $majors; do
			if [ "$m" = "$PG_MAJOR" ]; then
				configs="$configs $m=$(grd_pg_config)"
				continue
			fi
			archive=$(ls "$sources"/postgresql-"$m".*.tar.* "$sources"/postgresql-"$m"beta*.tar.* \
				"$sources"/postgresql-"$m"rc*.tar.* 2>/dev/null | head -1 || true)
			if [ -z "$archive" ]; then
				echo "no source archive of PostgreSQL $m in $sources"
				configs="$configs $m=missing"
				continue
			fi
			grd_log "PostgreSQL $m from $(basename "$archive")"
			if pgc=$(bash "$GRD_SRC/test/build_postgres.sh" "$archive"); then
				configs="$configs $m=$pgc"
			else
				configs="$configs $m=failed"
			fi
		done
	fi
	export GRD_PG_CONFIGS="${configs# }"
	if [ ${#skipped[@]} -gt 0 ]; then
		export GRD_SKIPPED_MAJORS
		GRD_SKIPPED_MAJORS=$(printf '%s; ' "${skipped[@]}")
	fi
fi
grd_reexec_as_postgres "$0" "${fwd[@]}"

# ---- As the user who runs the servers ----
cd "$GRD_SRC"

# The metadata must agree with the control file: one version everywhere.
check_metadata() {
	perl -MJSON::PP -e '
		my ($file, $ver) = @ARGV;
		local $/; open my $fh, "<", $file or die "$file: $!";
		my $m = JSON::PP->new->decode(<$fh>);
		for my $k (qw(name abstract version maintainer license provides meta-spec)) {
			die "META.json: missing $k\n" unless exists $m->{$k};
		}
		die "META.json: meta-spec must be 1.0.0\n" unless $m->{"meta-spec"}{version} eq "1.0.0";
		# PGXN wants semantic versions: control 1.0 is META 1.0.0
		$ver .= ".0" if $ver =~ /^\d+\.\d+$/;
		die "META.json: version $m->{version} != control $ver\n" unless $m->{version} eq $ver;
		die "META.json: provides version differs\n" unless $m->{provides}{pg_guardrails}{version} eq $ver;
		print "META.json valid, version $ver\n";
	' META.json "$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" pg_guardrails.control)"
}

# No compiler warnings: build from clean and look.
check_warnings() {
	local log
	log=$(make -s clean PG_CONFIG="$PG_CONFIG" >/dev/null && make PG_CONFIG="$PG_CONFIG" 2>&1 >/dev/null)
	if printf '%s' "$log" | grep -q 'warning:'; then
		printf '%s\n' "$log"
		return 1
	fi
	echo "no compiler warnings"
}

# pg_regress, then the number of suites that passed as the cell's note.
run_regress() {
	local out n
	if ! out=$(make -s installcheck-regress PG_CONFIG="$PG_CONFIG" bindir="$GRD_BINDIR" \
		${GRD_REGRESS:+REGRESS="$GRD_REGRESS"} 2>&1); then
		printf '%s\n' "$out"
		cat regression.diffs 2>/dev/null
		return 1
	fi
	printf '%s\n' "$out"
	n=$(printf '%s\n' "$out" | sed -n 's/^#* *All \([0-9]*\) tests passed.*/\1/p' | tail -1)
	[ -n "$n" ] || { echo "pg_regress ran no test"; return 1; }
	NOTE="$n suites"
}

# The TAP tests; a run that executed none fails (PGXS only prints a line
# when the server was built without --enable-tap-tests).
run_tap() {
	local log="$1" files tests
	make -s installcheck-tap PG_CONFIG="$PG_CONFIG" bindir="$GRD_BINDIR" \
		PROVE_FLAGS="--timer" ${GRD_TAP_TESTS:+PROVE_TESTS="$GRD_TAP_TESTS"} >"$log" 2>&1
	local rc=$?
	cat "$log"
	files=$(sed -n 's/^Files=\([0-9]*\), Tests=\([0-9]*\),.*/\1/p' "$log" | tail -1)
	tests=$(sed -n 's/^Files=\([0-9]*\), Tests=\([0-9]*\),.*/\2/p' "$log" | tail -1)
	if [ -z "$files" ] || [ "$files" -eq 0 ] || [ "$tests" -eq 0 ]; then
		echo "no TAP test ran against this server (was it built with --enable-tap-tests?)"
		return 1
	fi
	NOTE="$files files, $tests tests"
	[ $rc -eq 0 ] && grep -q '^Result: PASS' "$log"
}

steps=("build, no warnings" "unit test" "pg_regress" "TAP")
declare -A cell
passed=0
failed=0

# Run one step of one major; its output goes to the terminal and its
# verdict (and NOTE, if the step sets one) into the table.
step() {
	local major="$1" name="$2"
	shift 2
	NOTE=""
	grd_log "PostgreSQL $major: $name"
	if "$@"; then
		cell["$major/$name"]="ok${NOTE:+ ($NOTE)}"
		passed=$((passed + 1))
	else
		cell["$major/$name"]="FAILED${NOTE:+ ($NOTE)}"
		failed=$((failed + 1))
	fi
}

grd_log "metadata"
if check_metadata; then passed=$((passed + 1)); meta=ok; else failed=$((failed + 1)); meta=FAILED; fi

tested=()
for spec in $GRD_PG_CONFIGS; do
	major=${spec%%=*}
	pgc=${spec#*=}
	tested+=("$major")
	if [ ! -x "$pgc" ]; then
		grd_log "PostgreSQL $major: no server ($pgc)"
		for s in "${steps[@]}"; do cell["$major/$s"]="FAILED (no server: $pgc)"; done
		failed=$((failed + ${#steps[@]}))
		continue
	fi
	# Each major builds in a copy of its own, so object files never mix.
	dir="$GRD_SRC/tmp_matrix/$major"
	rm -rf "$dir"
	mkdir -p "$dir"
	tar -C "$GRD_SRC" --exclude=./tmp_matrix --exclude=./.git --exclude='./tmp_*' \
		--exclude='*.o' --exclude='*.bc' --exclude='*.so' -cf - . | tar -C "$dir" -xf -
	set +e
	(
		set -e
		cd "$dir"
		export PG_CONFIG="$pgc"
		GRD_BUILD="$dir"
		grd_build_private_install
	) >"$dir/install.log" 2>&1
	rc=$?
	set -e
	if [ $rc -ne 0 ]; then
		cat "$dir/install.log"
		for s in "${steps[@]}"; do cell["$major/$s"]="FAILED (build)"; done
		failed=$((failed + ${#steps[@]}))
		continue
	fi
	export PG_CONFIG="$pgc"
	GRD_BINDIR="$dir/tmp_install$("$pgc" --bindir)"
	cd "$dir"
	step "$major" "build, no warnings" check_warnings
	step "$major" "unit test" make -s unittest PG_CONFIG="$pgc"
	step "$major" "pg_regress" run_regress
	step "$major" "TAP" run_tap "$dir/tap.log"
	cd "$GRD_SRC"
	unset PG_CONFIG
done

grd_log "summary"
printf '%-20s' "metadata"
echo "$meta"
printf '%-20s' "step \\ PostgreSQL"
for m in "${tested[@]}"; do printf '%-30s' "$m"; done
echo
for s in "${steps[@]}"; do
	printf '%-20s' "$s"
	for m in "${tested[@]}"; do printf '%-30s' "${cell[$m/$s]:--}"; done
	echo
done
[ -z "${GRD_SKIPPED_MAJORS:-}" ] || echo "not tested: ${GRD_SKIPPED_MAJORS%; }"
[ -z "${GRD_TAP_TESTS:-}${GRD_REGRESS:-}" ] ||
	echo "partial run: only ${GRD_REGRESS:+pg_regress suites $GRD_REGRESS }${GRD_TAP_TESTS:+TAP tests $GRD_TAP_TESTS}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
