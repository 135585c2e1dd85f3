# New query shapes, contained automatically (issue 22, section 3): a new
# digest whose executions are slow (pg_sleep) is contained once its
# executions complete, and executions beyond its cap are refused with
# 53C02 naming the digest and the reason; a cheap new digest is not; a
# digest that a workload rule puts in class critical, and a superuser's
# executions, are never refused; dry run refuses nothing but counts;
# an operator can release a digest; after the cool-down a digest is probed
# and released once its probes are cheap; a line is logged when a digest
# is contained and when it is released, none per refusal.
#
# Deterministic: the test waits for the worker's scans (contain_scans in
# guardrails.status), never for wall-clock time alone, and holds a slot
# with an execution that sleeps until the test has looked.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('contain');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.contain = on
guardrails.contain_min_ms = 100
guardrails.contain_max_concurrent = 1
guardrails.contain_cooldown = 600
guardrails.contain_probe_rate = 50
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE app LOGIN;
	CREATE ROLE admin LOGIN IN ROLE guardrails_admin;
	CREATE TABLE t AS SELECT g AS k FROM generate_series(1, 1000) g;
	GRANT SELECT ON t TO PUBLIC;
});

sub scans
{
	return $node->safe_psql('postgres',
		"SELECT value FROM guardrails.status WHERE name = 'contain_scans'");
}

# Wait until the worker has scanned twice more: what completed before
# this call has then been seen, and judged.
sub wait_scans
{
	my $s = scans();
	$node->poll_query_until('postgres',
		"SELECT value >= $s + 2 FROM guardrails.status WHERE name = 'contain_scans'")
	  or die 'the worker does not scan';
}

sub digest
{
	my ($sql) = @_;
	return $node->safe_psql('postgres',
		"SELECT guardrails.query_digest(\$q\$$sql\$q\$)");
}

sub contained
{
	my ($id, $col) = @_;
	return $node->safe_psql('postgres',
		"SELECT $col FROM guardrails.contained_digests WHERE queryid = $id");
}

# Run $sql as $role: 'ok', or the SQLSTATE and message it failed with.
sub attempt
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET ROLE $role; $sql",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return 'ok' if $ret == 0;
	return $err =~ /ERROR:\s+(\w{5}):\s+(.*)/ ? "$1 $2" : $err;
}

# The worker's first scan: what exists then is not new.
wait_scans();
my $log_offset = -s $node->logfile;

my $slow = digest('SELECT pg_sleep(0.2)');
my $cheap = digest('SELECT count(*) FROM t WHERE k < 10');
my $crit = digest('SELECT 1 FROM pg_sleep(0.2)');
$node->safe_psql('postgres',
	"SELECT guardrails.set_workload_class('critical', queryid => $crit)");

# 1. A cheap new digest is not contained.
is(attempt('app', 'SELECT count(*) FROM t WHERE k < 10'), 'ok', 'cheap digest runs')
  for 1 .. 3;
wait_scans();
is(contained($cheap, 'count(*)'), '0', 'a cheap new digest is not contained');

# 2. A new slow digest, run by several sessions, is contained.
my @bg = map { $node->background_psql('postgres') } 1 .. 3;
for my $s (@bg)
{
	$s->query_safe('SET ROLE app');
	$s->query_until(qr/started/, "\\echo started\nSELECT pg_sleep(0.2);\n");
}
$_->quit for @bg;
wait_scans();
is(contained($slow, q{reason || ' ' || state || ' ' || "limit"}),
	'new contained 1', 'a new slow digest is contained, with its reason and limit');
cmp_ok(contained($slow, 'cost_ms'), '>=', 150, 'its cost is its time per call');

# 3. Beyond its cap, executions are refused with 53C02.
my $holder = $node->background_psql('postgres', on_error_stop => 0);
my $holder_pid = $holder->query_safe('SELECT pg_backend_pid()');
$holder->query_safe('SET ROLE app');
$holder->query_until(qr/started/, "\\echo started\nSELECT pg_sleep(30.0);\n");
ok($node->poll_query_until('postgres',
	"SELECT running = 1 FROM guardrails.contained_digests WHERE queryid = $slow"),
	'one execution holds the slot');
my $r = attempt('app', 'SELECT pg_sleep(0.2)');
like($r, qr/^53C02 query digest $slow is contained: it is new and expensive/,
	'a second execution is refused with 53C02, naming the digest and reason');
is(attempt('app', 'SELECT pg_sleep(0.2)') =~ /^53C02/ ? 1 : 0, 1,
	'and again');
is(contained($slow, 'refused'), '2', 'refusals are counted');
is(attempt('postgres', 'SELECT pg_sleep(0.2)'), 'ok', 'a superuser is exempt');
is(attempt('app', 'BEGIN; SELECT 1; COMMIT'), 'ok',
	'transaction control and other digests run');

# 4. A digest in class critical is never refused.
my @crit = map { $node->background_psql('postgres') } 1 .. 3;
for my $s (@crit)
{
	$s->query_safe('SET ROLE app');
	$s->query_until(qr/started/, "\\echo started\nSELECT 1 FROM pg_sleep(0.2);\n");
}
$_->quit for @crit;
wait_scans();
my @c = map { attempt('app', 'SELECT 1 FROM pg_sleep(0.2)') } 1 .. 2;
is(join(',', @c), 'ok,ok', 'a digest of class critical is never refused');
is($node->safe_psql('postgres',
	"SELECT coalesce(sum(refused), 0) FROM guardrails.contained_digests WHERE queryid = $crit"),
	'0', 'nothing of it was refused');
cmp_ok(contained($crit, 'exempt'), '>=', 2,
	'it is contained, and its executions are let through as exempt');

# 5. Release, by an operator (guardrails_admin), not by anyone.
like(attempt('app', "SELECT guardrails.release_contained($slow)"),
	qr/^42501 permission denied for function release_contained/,
	'an ordinary role cannot release');
like(attempt('admin', 'SELECT guardrails.release_contained(NULL)'),
	qr/^22004 queryid must not be null/, 'a NULL queryid is an error');
my ($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE admin; SELECT guardrails.release_contained(12345)');
is($out, 'f', 'a digest that is not contained is not released');
like($err, qr/NOTICE:  query digest 12345 is not contained on this server/,
	'and a notice says so');
is($node->safe_psql('postgres',
	"SET ROLE admin; SELECT guardrails.release_contained($slow)"), 't',
	'guardrails_admin releases it');
is(attempt('app', 'SELECT pg_sleep(0.2)'), 'ok',
	'released: it runs at once, beside the one still running');
wait_scans();
is(contained($slow, 'count(*)'), '0', 'the worker freed its entry');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($holder_pid)");
$holder->quit;
wait_scans();
is(contained($slow, 'count(*)'), '0', 'a released digest is not contained again');

# 6. Dry run: counted, never refused.
$node->safe_psql('postgres',
	"ALTER SYSTEM SET guardrails.contain = 'dry_run'; SELECT pg_reload_conf()");
$node->poll_query_until('postgres',
	"SELECT current_setting('guardrails.contain') = 'dry_run'");
wait_scans();
my $dry = digest('SELECT count(*) FROM pg_sleep(0.2)');
is(attempt('app', 'SELECT count(*) FROM pg_sleep(0.2)'), 'ok', 'dry run: first run');
wait_scans();
is(contained($dry, q{state || ' ' || mode}), 'contained dry_run',
	'dry run: the digest is shown contained');
my $dholder = $node->background_psql('postgres', on_error_stop => 0);
my $dholder_pid = $dholder->query_safe('SELECT pg_backend_pid()');
$dholder->query_safe('SET ROLE app');
$dholder->query_until(qr/started/, "\\echo started\nSELECT count(*) FROM pg_sleep(30.0);\n");
ok($node->poll_query_until('postgres',
	"SELECT running = 1 FROM guardrails.contained_digests WHERE queryid = $dry"),
	'dry run: one execution holds the slot');
is(join(',', map { attempt('app', 'SELECT count(*) FROM pg_sleep(0.01)') } 1 .. 3),
	'ok,ok,ok', 'dry run: executions beyond the cap run');
is(contained($dry, 'refused'), '3', 'dry run: and are counted');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($dholder_pid)");
$dholder->quit;
$node->safe_psql('postgres', qq{
	SELECT guardrails.release_contained($dry);
	ALTER SYSTEM SET guardrails.contain = 'on';
	ALTER SYSTEM SET guardrails.contain_cooldown = '5s';
	SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM guardrails.contained_digests")
  or die 'the dry-run digest was not released';
$node->poll_query_until('postgres',
	"SELECT current_setting('guardrails.contain_cooldown') = '5s'");

# 7. The cool-down: probed, then released once its probes are cheap.
my $probe = digest('SELECT pg_sleep(0.2)::text');
is(attempt('app', 'SELECT pg_sleep(0.2)::text'), 'ok', 'another new slow digest');
wait_scans();
is(contained($probe, 'state'), 'contained', 'it is contained');
ok($node->poll_query_until('postgres',
	"SELECT state = 'probing' FROM guardrails.contained_digests WHERE queryid = $probe"),
	'after the cool-down it is probed');
my @p;
for (1 .. 5)
{
	push @p, attempt('app', 'SELECT pg_sleep(0.001)::text');
	select(undef, undef, undef, 0.05);
}
is(join(',', @p), 'ok,ok,ok,ok,ok', 'probes at the probe rate run');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM guardrails.contained_digests WHERE queryid = $probe"),
	'cheap probes release it');

# 9. A known digest whose cost per second jumps is contained as a cost
#    jump (no digest is new now; a jump is 2x the baseline, and never
#    less than contain_min_ms a second).
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET guardrails.contain_new_digest_interval = 0;
	ALTER SYSTEM SET guardrails.contain_cost_jump = 2;
	SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
	"SELECT current_setting('guardrails.contain_cost_jump') = '2'");
my $jump = digest('SELECT 3, pg_sleep(0.3)');
is(attempt('app', 'SELECT 3, pg_sleep(0.001)'), 'ok', 'a cheap known digest');
my $s0 = scans();
$node->poll_query_until('postgres',
	"SELECT value >= $s0 + 12 FROM guardrails.status WHERE name = 'contain_scans'")
  or die 'the worker does not scan';
is(contained($jump, 'count(*)'), '0', 'cheap, it is not contained');
is(attempt('app', 'SELECT 3, pg_sleep(0.3)'), 'ok', 'its cost jumps');
wait_scans();
is(contained($jump, 'reason'), 'cost jump', 'it is contained as a cost jump');

# 8. Lines: one when contained, one when released, none per refusal.
my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/query digest $slow of database \d+ contained: new and expensive/,
	'a line when contained');
like($log, qr/query digest $slow of database \d+ released after [\d.]+ s: released by an operator/,
	'a line when released by an operator');
like($log, qr/query digest $probe of database \d+ released after [\d.]+ s: its probes were cheap/,
	'a line when released after its probes');
like($log, qr/query digest $dry of database \d+ contained \(dry run\)/,
	'dry run: a line when it would be contained');
my $lines = () = $log =~ /query digest $slow of database \d+ contained/g;
is($lines, 1, 'no line per refusal');

$node->stop;
done_testing();
