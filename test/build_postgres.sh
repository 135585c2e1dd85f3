#!/bin/bash
# test/build_postgres.sh ARCHIVE: build one PostgreSQL source archive, once,
# into a cache keyed by the archive's checksum, and print the pg_config of
# the result.  Later calls with the same archive print it at once.
#
# The cache is $GRD_PG_CACHE, else /var/cache/pg_guardrails for root, else
# ${XDG_CACHE_HOME:-~/.cache}/pg_guardrails.  Each build is configured with
# TAP tests enabled (the TAP suites need PostgreSQL's Perl modules, which
# only such a build installs) and with pg_stat_statements and auto_explain,
# which the tests load beside pg_guardrails.  From 17 on, the build also
# has injection points (--enable-injection-points) and the injection_points
# test module, which the TAP suite uses to fail the extension where it
# holds a lock or has begun a record; the configure options are part of
# the cache key, so a build made without them is not reused.  A build is
# marked complete
# only at its very end, so an interrupted one is redone, never half used.
#
# Build progress goes to stderr and to build.log in the cache; stdout
# carries only the pg_config path.

set -euo pipefail

archive="${1:?usage: build_postgres.sh ARCHIVE}"
[ -r "$archive" ] || { echo "error: cannot read $archive" >&2; exit 1; }

if [ -n "${GRD_PG_CACHE:-}" ]; then
	cache="$GRD_PG_CACHE"
elif [ "$(id -u)" -eq 0 ]; then
	cache=/var/cache/pg_guardrails
else
	cache="${XDG_CACHE_HOME:-$HOME/.cache}/pg_guardrails"
fi
mkdir -p "$cache"

name=$(basename "$archive")
name=${name%.tar.*}
major=$(echo "$name" | sed 's/^postgresql-\([0-9]*\).*/\1/')
opts="--enable-tap-tests --without-icu --without-llvm"
[ "$major" -lt 17 ] || opts="$opts --enable-injection-points"
sum=$( { sha256sum "$archive" | cut -d' ' -f1; echo "$opts"; } | sha256sum | cut -c1-16)
prefix="$cache/$name-$sum"

if [ -x "$prefix/bin/pg_config" ] && [ -f "$prefix/.complete" ]; then
	echo "$prefix/bin/pg_config"
	exit 0
fi

# One builder at a time per archive: a second caller waits for the first.
exec 9>"$cache/.$name-$sum.lock"
flock 9
if [ -f "$prefix/.complete" ]; then
	echo "$prefix/bin/pg_config"
	exit 0
fi

work=$(mktemp -d "$cache/.build-$name-XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$cache/$name-$sum.build.log"
echo "building $name into $prefix (log: $log); this takes several minutes" >&2
{
	tar -C "$work" -xf "$archive"
	src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
	cd "$src"
	# shellcheck disable=SC2086
	./configure --prefix="$prefix" $opts
	make -j"$(nproc)" -s
	rm -rf "$prefix"
	make -s install
	make -s -C contrib/pg_stat_statements install
	make -s -C contrib/auto_explain install
	if [ "$major" -ge 17 ]; then
		make -s -C src/test/modules/injection_points install
	fi
} >"$log" 2>&1 || {
	echo "error: building $name failed; the end of $log:" >&2
	tail -30 "$log" >&2
	exit 1
}
touch "$prefix/.complete"
echo "$prefix/bin/pg_config"
