# Latency histograms survive a clean restart, not a crash, and a damaged
# state file is reported and ignored.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use GrdTestUtil;

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');

# A workload with a few digests, one of them failing.
$node->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY);
	INSERT INTO t SELECT generate_series(1, 100);
});
for my $i (1 .. 20)
{
	$node->safe_psql('postgres', "SELECT count(*) FROM t WHERE id < $i");
	$node->safe_psql('postgres', "SELECT pg_sleep(0.00$i)") if $i < 10;
}
$node->psql('postgres', 'SELECT 1 / (id - id) FROM t WHERE id = 1');

# Everything but the statement that reads the view (it records itself).
my $snapshot_sql = q{
	SELECT queryid, calls, failed, round(total_ms::numeric, 6),
		   round(p50_ms::numeric, 6), round(p99_ms::numeric, 6),
		   round(max_ms::numeric, 6)
	FROM guardrails.latency
	WHERE queryid <> (SELECT query_id FROM pg_stat_activity
					  WHERE pid = pg_backend_pid())
	ORDER BY queryid};
my $before = $node->safe_psql('postgres', $snapshot_sql);
my $ndigests = () = $before =~ /\n/g;
cmp_ok($ndigests, '>=', 4, 'workload recorded several digests');
like($before, qr/\|0\|1\|/, 'the failed statement is recorded as failed');

$node->restart;
is($node->safe_psql('postgres', $snapshot_sql), $before,
	'histograms are identical after a clean restart');
ok(!-e $node->data_dir . '/pg_stat/pg_guardrails.stat',
	'state file is removed once loaded');

# A backend killed by SIGKILL makes the postmaster reinitialise shared
# memory: like pg_stat_statements, we start empty rather than stale.
my $psql = $node->background_psql('postgres');
my $pid = $psql->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $pid;
eval { $psql->quit };
wait_for_restart($node) or die 'no recovery';
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.latency WHERE calls + failed > 1}),
	'0', 'histograms start empty after a crash');

# guardrails.save = off: nothing is carried over.
$node->safe_psql('postgres', 'SELECT count(*) FROM t');
$node->append_conf('postgresql.conf', 'guardrails.save = off');
$node->restart;
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.latency WHERE calls + failed > 1}),
	'0', 'nothing saved with guardrails.save = off');

# A damaged state file is reported and ignored; the server starts.
$node->append_conf('postgresql.conf', 'guardrails.save = on');
$node->stop;
open my $fh, '>', $node->data_dir . '/pg_stat/pg_guardrails.stat' or die;
print $fh "not a state file";
close $fh;
my $log_offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/ignoring invalid pg_guardrails state file/, $log_offset),
	'damaged state file is reported');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server runs after a damaged state file');

$node->stop;
done_testing();
