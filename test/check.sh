#!/bin/bash
# test/check.sh: install what is missing, build, and run every test:
# the bucket-math unit test, the pg_regress suites and the TAP tests, each
# against real temporary servers.  Exits non-zero on any failure.
#
# Works as root (servers and suites then run as the postgres user) and as an
# ordinary user with PostgreSQL installed.  Nothing is installed into the
# system's PostgreSQL: the tests use a private install tree.

. "$(dirname "$0")/lib.sh"

grd_prepare "$0" "$@"
PGC=$(grd_pg_config)

failed=0
summary=()
run_step() {
	local name="$1"
	shift
	grd_log "$name"
	if "$@"; then
		summary+=("ok      $name")
	else
		summary+=("FAILED  $name")
		failed=$((failed + 1))
	fi
}

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

# No compiler warnings: rebuild from clean and look.
check_warnings() {
	local log
	log=$(make -s clean PG_CONFIG="$PGC" >/dev/null && make PG_CONFIG="$PGC" 2>&1 >/dev/null)
	if printf '%s' "$log" | grep -q 'warning:'; then
		printf '%s\n' "$log"
		return 1
	fi
	echo "no compiler warnings"
}

show_regress_diffs() {
	[ -f regression.diffs ] && cat regression.diffs
	return 1
}

run_step "metadata" check_metadata
run_step "compiler warnings" check_warnings
run_step "unit test: histogram bucket math" make -s unittest PG_CONFIG="$PGC"
run_step "pg_regress suites" bash -c \
	'make -s installcheck-regress PG_CONFIG="$1" bindir="$2" || { cat regression.diffs 2>/dev/null; exit 1; }' \
	_ "$PGC" "$GRD_BINDIR"
run_step "TAP tests" make -s installcheck-tap PG_CONFIG="$PGC" bindir="$GRD_BINDIR" \
	PROVE_FLAGS="--timer"

grd_log "summary"
printf '%s\n' "${summary[@]}"
total=${#summary[@]}
echo "$((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
