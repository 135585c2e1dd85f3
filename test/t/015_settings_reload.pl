# Every guardrails setting in postgresql.conf, list-valued ones included:
# the server starts, survives three reloads with changed values, and still
# answers.  From PostgreSQL 16 on, core frees a check hook's extra with
# pfree, so an extra allocated any other way kills the postmaster at the
# first reload (or at start); this test is what would show it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Three values for every setting; the first set is used at start.  A
# setting of pg_guardrails that is missing here fails the test below, so
# that a new setting cannot skip this check.
my %values = (
	'guardrails.max_digests' => ['1000'],
	'guardrails.max_window_digests' => ['10'],
	'guardrails.latency_window_slot' => ['5s'],
	'guardrails.track' => [qw(top all none)],
	'guardrails.track_utility' => [qw(on off on)],
	'guardrails.save' => [qw(on off on)],
	'guardrails.hidden_indexes' =>
	  ["'public.a_idx, b_idx'", "'\"Mixed Case\".\"Idx, 1\"'", "''"],
	'guardrails.use_disabled_indexes' => [qw(off on off)],
	'guardrails.ddl_lock_timeout' => [qw(5s 200ms 0)],
	'guardrails.ddl_lock_wait' => [qw(retry queue retry)],
	'guardrails.ddl_lock_retries' => [qw(0 3 1)],
	'guardrails.ddl_policy' => [qw(warn enforce off)],
	'guardrails.allow_new_tables' => [qw(on off on)],
	'guardrails.ddl_policy_min_size' => [qw(1MB 0 64kB)],
	'guardrails.ddl_policy_rules' => [
		"''", "'rename: warn, new_tables: enforce'", "'Table_Rewrite : off'"
	],
	'guardrails.ddl_log_size' => ['100'],
	'guardrails.ddl_log_max_query_len' => ['1024'],
	'guardrails.ddl_log_destination' =>
	  ["'view, log, table'", "'log'", "'table, view'"],
	'guardrails.database' => ['postgres'],
	'guardrails.ddl_history_retention' => [qw(90d 1h 0)],
	'guardrails.max_digest_limits' => ['100'],
	'guardrails.connection_rate' => [qw(1000 500.5 0)],
	'guardrails.connection_burst' => [qw(0 100 10)],
	'guardrails.connection_limits' => [
		"'role:app=100/s burst 200, database:analytics=20/s'",
		"'role:\"Odd Role\"=5/s'", "''"
	],
	'guardrails.connection_limit_exempt_superusers' => [qw(on off on)],
	'guardrails.connection_limit_exempt_roles' =>
	  ["'postgres, monitor'", "'\"Odd Role\"'", "''"],
	'guardrails.client_stall_timeout' => [qw(0 5min 30)],
	'guardrails.client_stall_superusers' => [qw(off on off)],
	'guardrails.client_stall_exempt_roles' =>
	  ["''", "'reporting, \"Odd Role\"'", "'monitor'"],
	'guardrails.default_workload_class' => [qw(normal low critical)],
	'guardrails.overload_control' => [qw(off dry_run on)],
	'guardrails.overload_threshold' => [qw(1.0 2.5 0.1)],
	'guardrails.overload_cores' => [qw(0 4 4096)],
	'guardrails.overload_queue_timeout' => [qw(1s 50ms 60s)],
	'guardrails.overload_queue_target' => [qw(100ms 0 10s)],
	'guardrails.contain' => [qw(off dry_run on)],
	'guardrails.contain_new_digest_interval' => [qw(10min 0 1h)],
	'guardrails.contain_min_ms' => [qw(100ms 1 5s)],
	'guardrails.contain_cost_jump' => [qw(10 0 2.5)],
	'guardrails.contain_max_concurrent' => [qw(2 1 100)],
	'guardrails.contain_cooldown' => [qw(1min 1 1h)],
	'guardrails.contain_probe_rate' => [qw(1 0.1 50)],
	'guardrails.wal_budget_critical' => [qw(-1 10MB 1kB)],
	'guardrails.wal_budget_normal' => [qw(-1 100MB -1)],
	'guardrails.wal_budget_low' => [qw(-1 1MB 64kB)],
	'guardrails.wal_budget_background' => [qw(-1 512kB 1GB)],
	'guardrails.wal_budget_burst' => [qw(1s 0 1h)],
	'guardrails.wal_budget_max_wait' => [qw(5s 0 100ms)],
	'guardrails.wal_lag_target' => [qw(0 2s 500ms)],
	'guardrails.wal_lag_floor' => [qw(1MB 1kB 10MB)],
	'guardrails.wal_lag_standby_timeout' => [qw(10s 100ms 1h)],);

sub settings
{
	my ($round) = @_;
	my $conf = '';
	for my $name (sort keys %values)
	{
		my @v = @{ $values{$name} };
		$conf .= "$name = " . $v[ $round < @v ? $round : 0 ] . "\n";
	}
	return $conf;
}

my $node = PostgreSQL::Test::Cluster->new('settings');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_guardrails'\n");
$node->append_conf('guardrails.conf', settings(0));
$node->append_conf('postgresql.conf', "include 'guardrails.conf'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');

my $defined = $node->safe_psql('postgres', q{
	SELECT string_agg(name, ' ' ORDER BY name) FROM pg_settings
	WHERE name LIKE 'guardrails.%'});
is($defined, join(' ', sort keys %values),
	'the test sets every setting pg_guardrails defines');

for my $round (1 .. 3)
{
	open my $fh, '>', $node->data_dir . '/guardrails.conf' or die $!;
	print $fh settings($round % 3);
	close $fh;
	$node->reload;
	# A reload is asynchronous: wait until this backend's view of a
	# changed setting shows the new file, in a fresh session each time.
	my $want = $values{'guardrails.ddl_lock_wait'}[ $round % 3 ];
	ok( $node->poll_query_until(
			'postgres',
			"SELECT current_setting('guardrails.ddl_lock_wait') = '$want'"),
		"reload $round took effect");
	is($node->safe_psql('postgres', 'SELECT 1'), '1',
		"the server answers after reload $round");
}

# The postmaster never restarted: no backend was reinitialised.
ok(!$node->log_contains(qr/terminated by signal|terminating any other active server processes|invalid pointer/),
	'no process died across the reloads');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'checkpointer'
	  AND backend_start > pg_postmaster_start_time() + interval '1 s'}),
	'0', 'the postmaster did not reinitialise');

$node->stop;
done_testing();
