# Several backends at once: exact counts under concurrency, eviction of
# the least-used digests when the table is full, resets racing with
# recording, and a table that stays consistent throughout.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('concurrency');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.max_digests = 100
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
$node->command_ok([ 'pgbench', '-i', '-s', '1', '-q', $node->connstr('postgres') ],
	'pgbench tables');

# 250 tables, so that 250 distinct digests compete for 100 slots.
$node->safe_psql('postgres', join('',
	map { "CREATE TABLE churn_$_ (a int);" } 1 .. 250));
my $churn = join('', map { "SELECT count(*) FROM churn_$_;\n" } 1 .. 250);

my $select_id;

# 8 clients x 300 transactions of one digest, while 2 other sessions churn
# through the digests.  The hot digest is warmed up first (200 calls):
# eviction takes the least used, and a digest with a single call, like
# every churning one, may rightly be among them.
my $hot = "\\set aid random(1, 100000)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n";
$node->safe_psql('postgres', 'SELECT guardrails.latency_reset()');
$node->pgbench('-n -c 8 -j 2 -t 25 -M prepared', 0, [qr/processed: 200\/200/], [qr/^$/],
	'hot digest warmed up', { 'hot_warmup' => $hot });
my @churners = map {
	my $bg = $node->background_psql('postgres');
	$bg->query_until(qr/started/, "\\echo started\n" . ($churn x 3));
	$bg;
} 1 .. 2;
$node->pgbench('-n -c 8 -j 2 -t 300 -M prepared', 0, [qr/processed: 2400\/2400/], [qr/^$/],
	'hot digest from 8 clients', { 'hot' => $hot });
$_->quit for @churners;

$select_id = $node->safe_psql('postgres', q{
	SELECT queryid FROM guardrails.latency ORDER BY calls DESC LIMIT 1});
is($node->safe_psql('postgres', "SELECT calls || '/' || failed FROM guardrails.latency WHERE queryid = $select_id"),
	'2600/0', 'every execution of the hot digest counted exactly once');
cmp_ok($node->safe_psql('postgres', "SELECT value FROM guardrails.status WHERE name = 'latency_evictions'"),
	'>', 0, 'least-used digests were evicted');
cmp_ok($node->safe_psql('postgres', "SELECT value FROM guardrails.status WHERE name = 'latency_digests'"),
	'<=', 100, 'the table never exceeds guardrails.max_digests');

my $consistency = q{
	SELECT count(*) FROM guardrails.latency l
	WHERE (SELECT sum(count) FROM guardrails.latency_histogram(l.queryid, l.dbid, l.userid))
		  <> l.calls + l.failed
	   OR l.min_ms > l.p50_ms OR l.p50_ms > l.p99_ms OR l.p99_ms > l.max_ms};
is($node->safe_psql('postgres', $consistency), '0',
	'bucket counts add up to calls + failed, quantiles are ordered');

# Resets racing with recording and with eviction: nothing breaks.
my @resetters = map {
	my $bg = $node->background_psql('postgres');
	$bg->query_until(qr/started/, "\\echo started\n" .
		("SELECT guardrails.latency_reset();\nSELECT guardrails.latency_reset($select_id);\n" . $churn) x 2);
	$bg;
} 1 .. 2;
$node->pgbench('-n -c 6 -j 2 -t 300 -M extended', 0, [qr/processed: 1800\/1800/], [qr/^$/],
	'recording while resets and evictions run',
	{ 'hot_racing' => "\\set aid random(1, 100000)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n" });
$_->quit for @resetters;
is($node->safe_psql('postgres', $consistency), '0', 'still consistent after racing resets');
is($node->safe_psql('postgres', "SELECT value FROM guardrails.status WHERE name = 'latency_dropped'"),
	'0', 'no execution dropped');

$node->stop;
done_testing();
