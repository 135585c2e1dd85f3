# WAL budgets per workload class (issue 23, part 1): each top-level
# statement is charged the WAL it wrote (pgWalUsage), failed ones too; a
# statement of an overspent class waits and is admitted, or is refused
# with 53W01 once it has waited guardrails.wal_budget_max_wait; a waiter
# is released when the budget is raised; superusers, other classes,
# COMMIT and classes without a budget never wait; on 17+, an error at the
# injection point in the wait leaves the counters sane.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('wal_budgets');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.wal_budget_burst = 0
guardrails.wal_budget_max_wait = 300
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE app LOGIN; CREATE ROLE lo LOGIN; CREATE ROLE crit LOGIN;
	SELECT guardrails.set_workload_class('low', role => 'lo');
	SELECT guardrails.set_workload_class('critical', role => 'crit');
	CREATE TABLE t (k int, v text);
	GRANT ALL ON t TO PUBLIC;
});

sub view
{
	my ($col, $class) = @_;
	return $node->safe_psql('postgres',
		"SELECT $col FROM guardrails.wal_budgets WHERE class = '$class'");
}

# Run SQL as $role: 'ok' or the SQLSTATE it failed with.
sub attempt
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE $role; $sql",
		extra_params => [ '-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=1' ]);
	return 'ok' if $ret == 0;
	return $err =~ /ERROR:\s+(\w{5})/ ? $1 : $err;
}

my $big = "INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g";

# ---- nothing configured: counted per class, charged to nobody ----

is($node->safe_psql('postgres',
	q{SELECT count(*) FROM guardrails.wal_budgets WHERE budget_bytes_per_s IS NULL AND rate_limit_bytes_per_s IS NULL}),
	'4', 'no class has a budget by default');

# The WAL of one statement, as EXPLAIN (ANALYZE, WAL) counts it, is what
# its class is charged with.
my $before = view('wal_bytes', 'low');
my $plan = $node->safe_psql('postgres',
	"SET ROLE lo; EXPLAIN (ANALYZE, WAL, COSTS OFF, FORMAT JSON) $big");
my ($explained) = $plan =~ /"WAL Bytes": (\d+)/;
ok($explained > 500000, "the statement wrote $explained bytes of WAL");
is(view('wal_bytes', 'low') - $before, $explained,
	'its class counts exactly the WAL it wrote');
is(view('charged_bytes', 'low'), '0', 'and charges nothing without a budget');

# A failed statement's WAL is counted too.
$before = view('wal_bytes', 'normal');
like(attempt('app',
	"INSERT INTO t SELECT g, 'y' FROM generate_series(1, 3000) g WHERE 1 / (3000 - g) >= 0"),
	qr/22012/, 'a statement fails after writing');
cmp_ok(view('wal_bytes', 'normal') - $before, '>', 100000,
	'the failed statement\'s WAL is counted in its class');

# ---- a budget of 1 kB/s for low: every big statement overspends ----

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET guardrails.wal_budget_low = '1kB';
	SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
	"SELECT rate_limit_bytes_per_s = 1024 FROM guardrails.wal_budgets WHERE class = 'low'")
  or die 'the budget did not take effect';

# A transaction: its first statement is admitted (nothing spent yet), and
# its COMMIT, which comes after it overspent, does not wait.
is(attempt('lo', "BEGIN; $big; COMMIT;"), 'ok',
	'the first statement of an unspent class runs, and COMMIT never waits');
my $charged = view('charged_bytes', 'low');
cmp_ok($charged, '>', 500000, 'it is charged to the budget');
my $ahead = view('ahead_ms', 'low');
# at 1 kB/s, the class is ahead by its bytes / 1024 s, less the time since
ok($ahead <= $charged / 1024 * 1000 && $ahead > $charged / 1024 * 1000 - 60000,
	"the class is $ahead ms ahead of its budget: its bytes at its rate");

is(attempt('lo', 'INSERT INTO t VALUES (-1)'), '53W01',
	'the next statement of the class is refused with 53W01');
is(view('refused', 'low'), '1', 'refused is counted');
cmp_ok(view('wait_ms', 'low'), '>=', 300,
	'after waiting guardrails.wal_budget_max_wait');
my ($ret, $out, $err) = $node->psql('postgres', 'SET ROLE lo; INSERT INTO t VALUES (-1)');
like($err, qr/WAL budget of workload class "low" exhausted/, 'the message names the class');
like($err, qr/HINT:  Retry after a pause/, 'with a hint');
is(attempt('lo', 'SELECT 1'), '53W01', 'a read of the class waits too');

is(attempt('app', 'INSERT INTO t VALUES (-2)'), 'ok', 'another class does not wait');
is(attempt('crit', 'INSERT INTO t VALUES (-3)'), 'ok', 'nor does critical, without a budget');
$node->safe_psql('postgres',
	q{SELECT guardrails.set_workload_class('low', role => current_user::regrole)});
is($node->safe_psql('postgres',
	"INSERT INTO t VALUES (-4); SELECT class || ' ' || exempt FROM guardrails.current_workload_class()"),
	'low true', 'nor does a superuser in that class');

# ---- a waiter is admitted when its budget allows it ----

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET guardrails.wal_budget_max_wait = '1h';
	SELECT pg_reload_conf()});
my $waiter = $node->background_psql('postgres', on_error_stop => 0);
$waiter->query_safe('SET ROLE lo');
$waiter->query_until(qr/started/, "\\echo started\nINSERT INTO t VALUES (-5);\n");
ok($node->poll_query_until('postgres',
	"SELECT waiting = 1 FROM guardrails.wal_budgets WHERE class = 'low'"),
	'a statement of the overspent class waits');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE k = -5'), '0',
	'and has not run');
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET guardrails.wal_budget_low = '1GB';
	SELECT pg_reload_conf()});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM t WHERE k = -5'),
	'it runs once the budget is raised');
is(view('waited', 'low'), '1', 'admitted after a wait is counted');
is(view('waiting', 'low'), '0', 'no one waits any more');
$waiter->quit;

# ---- pacing: with a budget that allows it, each statement waits its share ----

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET guardrails.wal_budget_low = '100MB';
	ALTER SYSTEM SET guardrails.wal_budget_max_wait = '10s';
	SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
	"SELECT rate_limit_bytes_per_s = 100 * 1024 * 1024 FROM guardrails.wal_budgets WHERE class = 'low'")
  or die 'the budget did not take effect';
my $waited = view('waited', 'low');
is(attempt('lo', "$big; $big; $big"), 'ok',
	'statements within a budget that allows them run');
cmp_ok(view('waited', 'low'), '>', $waited,
	'the second and third waited their share (about 7 ms each)');

# ---- an error at the injection point of the wait, 17 and later ----

SKIP:
{
	my $has_points = $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_available_extensions WHERE name = 'injection_points'});
	skip 'injection points need PostgreSQL 17 or later, built with --enable-injection-points', 4
	  unless $has_points;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION injection_points;
		ALTER SYSTEM SET guardrails.wal_budget_low = '1kB';
		SELECT pg_reload_conf()});
	$node->poll_query_until('postgres',
		"SELECT rate_limit_bytes_per_s = 1024 FROM guardrails.wal_budgets WHERE class = 'low'")
	  or die 'the budget did not take effect';
	is(attempt('lo', $big), 'ok', 'the class overspends its budget');
	($ret, $out, $err) = $node->psql('postgres',
		"SELECT injection_points_set_local(); "
		  . "SELECT injection_points_attach('pg-guardrails-wal-budget-wait', 'error'); "
		  . "SET ROLE lo; INSERT INTO t VALUES (-6);");
	like($err, qr/error triggered for injection point pg-guardrails-wal-budget-wait/,
		'an error in the wait reaches the client');
	is(view('waiting', 'low'), '0', 'the waiter is no longer counted');
	is(attempt('app', 'INSERT INTO t VALUES (-7)'), 'ok', 'the server goes on');
}

$node->stop;
done_testing();
