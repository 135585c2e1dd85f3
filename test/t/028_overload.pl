# The overload controller (issue 22, part 2), checked through its test
# signal (guardrails.overload_inject_signal(), superuser-only), not real
# load: classes are shed from the lowest up; critical, superusers and
# transactions already admitted are not; a shed transaction waits, and is
# admitted when its class is no longer shed, or refused with 53C01; dry
# run refuses nothing; episodes are logged, not statements; a standby
# sheds on its own signal; low classes lose their parallel workers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('overload');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.overload_control = on
guardrails.overload_cores = 2
guardrails.overload_queue_timeout = 300
guardrails.overload_queue_target = 50
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE crit LOGIN; CREATE ROLE app LOGIN;
	CREATE ROLE lo LOGIN; CREATE ROLE bg LOGIN;
	CREATE ROLE admin LOGIN IN ROLE guardrails_admin;
	SELECT guardrails.set_workload_class('critical', role => 'crit');
	SELECT guardrails.set_workload_class('low', role => 'lo');
	SELECT guardrails.set_workload_class('background', role => 'bg');
	CREATE TABLE t AS SELECT g AS k FROM generate_series(1, 100000) g;
	GRANT SELECT ON t TO PUBLIC;
	ANALYZE t;
});
# The measured signal counts live processes only: up to 16, a backend
# that exits leaves its pid in its PGPROC, and an idle server that had many
# sessions at once must not look overloaded (it did: 8 sessions ended
# made a signal of 4 on 2 cores, and shedding never stopped).
my @sessions = map { $node->background_psql('postgres') } 1 .. 8;
$_->query_safe('SELECT 1') for @sessions;
$_->quit for @sessions;
sleep 1;
my $idle_signal = $node->safe_psql('postgres',
	q{SELECT value FROM guardrails.status WHERE name = 'overload_signal_milli'});
cmp_ok($idle_signal, '<', 2500,
	"after 8 sessions at once ended, an idle server's measured signal is low ($idle_signal / 1000)");
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM guardrails.workload_classes WHERE shedding_since IS NOT NULL}),
	'0', 'and it sheds nothing');

$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;

sub view
{
	my ($n, $col, $class) = @_;
	return $n->safe_psql('postgres',
		"SELECT $col FROM guardrails.workload_classes WHERE class = '$class'");
}

# Drive the share to between $lo and $hi, slowly (a signal 10% off the
# threshold moves it by 0.05 a tick), then hold it there (a signal at the
# threshold moves it no more).
sub hold_share
{
	my ($n, $lo, $hi) = @_;
	my $cur = view($n, 'shed_share', 'normal');
	$n->safe_psql('postgres', 'SELECT guardrails.overload_inject_signal('
		  . ($cur < $lo ? '1.1' : '0.9') . ')');
	$n->poll_query_until('postgres',
		"SELECT shed_share >= $lo AND shed_share <= $hi FROM guardrails.workload_classes LIMIT 1")
	  or die "the share did not reach [$lo, $hi]";
	$n->safe_psql('postgres', 'SELECT guardrails.overload_inject_signal(1.0)');
	my $held = view($n, 'shed_share', 'normal');
	die "the share overshot to $held" if $held < $lo - 0.3 || $held > $hi + 0.3;
	return $held;
}

# Run one transaction as $role: 'ok' or the SQLSTATE it failed with.
sub attempt
{
	my ($n, $role) = @_;
	my ($ret, $out, $err) = $n->psql('postgres',
		"SET ROLE $role; SELECT count(*) FROM t WHERE k < 10",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return 'ok' if $ret == 0;
	return $err =~ /ERROR:\s+(\w{5})/ ? $1 : $err;
}
sub attempts
{
	my ($n, $role, $count) = @_;
	my %seen;
	$seen{ attempt($n, $role) }++ for 1 .. $count;
	return join(',', map { "$_=$seen{$_}" } sort keys %seen);
}

# 1. Not overloaded: nothing is shed.
$node->safe_psql('postgres', 'SELECT guardrails.overload_inject_signal(0.2)');
$node->poll_query_until('postgres',
	'SELECT bool_and(shed_share = 0 AND signal = 0.2) FROM guardrails.workload_classes')
  or die 'the controller did not take the test signal';
is(attempts($node, 'bg', 3), 'ok=3', 'below the threshold, background runs');
# (the measured signal, before the test one, may have shed something)
my $log_offset = -s $node->logfile;
is(view($node, 'control', 'low'), 'on', 'the view shows the mode');

# 2. An ordinary role, guardrails_admin included, cannot inject a signal.
for my $role ('app', 'admin')
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET ROLE $role; SELECT guardrails.overload_inject_signal(5)");
	like($err, qr/permission denied for function overload_inject_signal/,
		"$role cannot inject a signal");
}

# 3. A transaction admitted before shedding starts runs to its end.
my $txn = $node->background_psql('postgres', on_error_stop => 0);
$txn->query_safe('SET ROLE bg');
$txn->query_safe('BEGIN');
$txn->query_safe('SELECT count(*) FROM t WHERE k < 10');

# 4. Shedding from the lowest class up: background all, low some, normal
#    and critical nothing.
my $share = hold_share($node, 1.2, 1.8);
note "share held at $share";
is(view($node, 'shed_fraction', 'background'), '1', 'background fully shed');
my $low_fraction = view($node, 'shed_fraction', 'low');
ok($low_fraction > 0 && $low_fraction < 1, "low partly shed ($low_fraction)");
is(view($node, 'shed_fraction', 'normal'), '0', 'normal not shed');
is(view($node, 'shed_fraction', 'critical'), '0', 'critical not shed');
ok($node->poll_query_until('postgres',
	"SELECT shedding_since IS NOT NULL FROM guardrails.workload_classes LIMIT 1"),
	'the episode has a start');
is(attempts($node, 'bg', 4), '53C01=4', 'background transactions are refused with 53C01');
my ($ret, $out, $err) = $node->psql('postgres', 'SET ROLE bg; SELECT 1');
like($err, qr/server is overloaded: transaction of workload class "background" refused/,
	'the message names the class');
like($err, qr/HINT:  Retry after a pause that grows with each attempt/, 'and says to back off');
is(attempts($node, 'app', 10), 'ok=10', 'normal transactions run');
is(attempts($node, 'crit', 10), 'ok=10', 'critical transactions run');
my $low = attempts($node, 'lo', 20);
like($low, qr/ok=\d+/, "some low transactions run ($low)");
is($node->safe_psql('postgres', "SET guardrails.default_workload_class = 'background'; SELECT count(*) FROM t WHERE k < 10"),
	'9', 'a superuser is never shed, whatever its class');
is($txn->query_safe('SELECT count(*) FROM t WHERE k < 10'), '9',
	'a transaction admitted before shedding is not refused mid-way');
$txn->query_safe('COMMIT');
cmp_ok(view($node, 'shed', 'background'), '>=', 5, 'refusals are counted');

# 5. Parallel workers are taken from low classes while shedding (inside a
#    transaction admitted before, so that admission plays no part).
$node->safe_psql('postgres', 'SELECT guardrails.overload_inject_signal(0.2)');
$node->poll_query_until('postgres',
	'SELECT shed_share = 0 FROM guardrails.workload_classes LIMIT 1');
my $par = $node->background_psql('postgres');
$par->query_safe(q{SET ROLE lo; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2});
$par->query_safe('BEGIN');
$par->query_safe('SELECT 1');
hold_share($node, 1.2, 1.8);
my $denied = view($node, 'parallel_denied', 'low');
is($par->query_safe('SELECT count(*) FROM t'), '100000', 'a low statement runs without workers');
is(view($node, 'parallel_denied', 'low'), $denied + 1, 'and is counted');
$par->query_safe('COMMIT');
$par->quit;

# 6. A shed transaction waits, using its latch, and is admitted once its
#    class is no longer shed.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET guardrails.overload_queue_timeout = '60s';
	ALTER SYSTEM SET guardrails.overload_queue_target = '60s';
	SELECT pg_reload_conf()});
my $waited = view($node, 'waited', 'background');
my $waiter = $node->background_psql('postgres');
my $waiter_pid = $waiter->query_safe('SELECT pg_backend_pid()');
$waiter->query_safe('SET ROLE bg');    # (run as the superuser: exempt)
$waiter->query_until(qr/started/, "\\echo started\nSELECT count(*) FROM t WHERE k < 10;\n");
ok($node->poll_query_until('postgres',
	"SELECT queued = 1 FROM guardrails.workload_classes WHERE class = 'background'"),
	'the background transaction waits in its queue');
is($node->safe_psql('postgres',
	"SELECT wait_event_type FROM pg_stat_activity WHERE pid = $waiter_pid"),
	'Extension', 'waiting on its latch');
is(attempts($node, 'app', 3), 'ok=3', 'a higher class does not wait behind it');
$node->safe_psql('postgres', 'SELECT guardrails.overload_inject_signal(0.2)');
ok($node->poll_query_until('postgres',
	"SELECT queued = 0 FROM guardrails.workload_classes WHERE class = 'background'"),
	'it leaves the queue when shedding ends');
is(view($node, 'waited', 'background'), $waited + 1, 'admitted after a wait');
$waiter->quit;
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET guardrails.overload_queue_timeout;
	ALTER SYSTEM RESET guardrails.overload_queue_target;
	SELECT pg_reload_conf()});

# 7. Episodes are logged, not statements.
ok($node->poll_query_until('postgres',
	'SELECT shedding_since IS NULL FROM guardrails.workload_classes LIMIT 1'),
	'the episode ended');
my $log = slurp_file($node->logfile, $log_offset);
my $started = () = $log =~ /overload: shedding started: signal/g;
my $stopped = () = $log =~ /overload: shedding stopped after/g;
is($started, 2, 'two episodes started');
is($stopped, 2, 'two episodes stopped');

# 8. Dry run: the same decisions, counted, and nothing refused.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET guardrails.overload_control = 'dry_run';
	SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
	"SELECT control = 'dry_run' FROM guardrails.workload_classes LIMIT 1");
my $shed = view($node, 'shed', 'background');
hold_share($node, 1.2, 1.8);
is(attempts($node, 'bg', 5), 'ok=5', 'dry run: background runs');
is(view($node, 'shed', 'background'), $shed + 5, 'dry run: counted as shed');
like(slurp_file($node->logfile), qr/overload: shedding started \(dry run\)/,
	'dry run: the episode is logged as one');
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET guardrails.overload_control = 'on';
	SELECT guardrails.overload_inject_signal(0.2);
	SELECT pg_reload_conf()});

# 9. A standby sheds on its own signal, by the primary's rules.
$node->wait_for_catchup($standby);
$standby->safe_psql('postgres', 'SELECT guardrails.overload_inject_signal(0.2)');
$node->poll_query_until('postgres',
	'SELECT shed_share = 0 FROM guardrails.workload_classes LIMIT 1');
hold_share($standby, 1.2, 1.8);
is(attempts($standby, 'bg', 3), '53C01=3', 'standby: background refused on its own signal');
is(attempts($node, 'bg', 3), 'ok=3', 'primary: background runs');
is(attempts($standby, 'app', 3), 'ok=3', 'standby: normal runs');

# 10. An error while a transaction waits (17 and later, with injection
#     points): it leaves the queue, and the class runs again once no longer shed.
my $has_points = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_available_extensions WHERE name = 'injection_points'
	  AND current_setting('server_version_num')::int >= 170000});
SKIP:
{
	skip 'injection points need PostgreSQL 17 or later, built with --enable-injection-points', 4
	  unless $has_points;
	$node->safe_psql('postgres', 'CREATE EXTENSION injection_points');
	hold_share($node, 1.2, 1.8);
	my ($r, $o, $e) = $node->psql('postgres', q{
		SELECT injection_points_set_local();
		SELECT injection_points_attach('pg-guardrails-overload-wait', 'error');
		SET ROLE bg;
		SELECT count(*) FROM t WHERE k < 10;});
	like($e, qr/error triggered for injection point pg-guardrails-overload-wait/,
		'an error while waiting reaches the client');
	is(view($node, 'queued', 'background'), '0', 'and the queue is empty again');
	$node->safe_psql('postgres', 'SELECT guardrails.overload_inject_signal(0.2)');
	ok($node->poll_query_until('postgres',
		'SELECT shed_share = 0 FROM guardrails.workload_classes LIMIT 1'),
		'shedding ends');
	is(attempts($node, 'bg', 2), 'ok=2', 'and the class runs again');
}

$standby->stop;
$node->stop;
done_testing();
