# Digest limits under load and on a fleet: a flood from many sessions is
# admitted at rate x time + burst within 5%; a concurrency cap holds and
# its slots come back after errors and cancels; rules are per database;
# a streaming standby enforces the primary's rules after replay.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('limits');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE flood (k int PRIMARY KEY);
	INSERT INTO flood SELECT generate_series(1, 10);
	CREATE DATABASE other;
});
$node->safe_psql('other', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE flood (k int PRIMARY KEY);
	INSERT INTO flood SELECT generate_series(1, 10);
});
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;

# 1. A flood from 6 sessions for 4 seconds against 100/s, burst 20.
my ($rate, $burst, $seconds, $sessions) = (100, 20, 4, 6);
my $id = $node->safe_psql('postgres', qq{
	SELECT guardrails.limit_query('SELECT k FROM flood WHERE k = 1',
								  per_second => $rate, burst => $burst)});
my ($start, $end) = split /\|/, $node->safe_psql('postgres', q{
	SELECT clock_timestamp() + interval '2 s', clock_timestamp() + interval '6 s'});
my $loop = qq{DO \$\$
DECLARE r int;
BEGIN
	PERFORM pg_sleep_until('$start');
	WHILE clock_timestamp() < '$end' LOOP
		BEGIN
			SELECT k INTO r FROM flood WHERE k = 1;
		EXCEPTION WHEN SQLSTATE '53R01' THEN NULL;
		END;
	END LOOP;
END \$\$;
};
my @flooders = map {
	my $bg = $node->background_psql('postgres');
	$bg->query_until(qr/started/, "\\echo started\n$loop");
	$bg;
} 1 .. $sessions;
$_->quit for @flooders;
my ($admitted, $rejected) = split /\|/, $node->safe_psql('postgres',
	"SELECT admitted, rejected FROM guardrails.digest_limit_status WHERE queryid = $id");
my $expected = $burst + $rate * $seconds;
note "admitted $admitted, rejected $rejected, expected $expected";
cmp_ok($rejected, '>', $admitted, 'the flood was mostly refused');
cmp_ok(abs($admitted - $expected), '<=', 0.05 * $expected,
	"admitted $admitted within 5% of rate x time + burst = $expected");

# 2. A concurrency cap of 2 on a slow statement.  (Integer literals
#    throughout: pg_sleep(0.1) would be another digest, a numeric cast.)
$node->safe_psql('postgres', q{SELECT guardrails.unlimit_digest(guardrails.query_digest('SELECT k FROM flood WHERE k = 1'))});
my $slow = $node->safe_psql('postgres', q{
	SELECT guardrails.limit_query('SELECT pg_sleep(30)', per_second => NULL, max_concurrent => 2)});
my @sleepers = map {
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/started/, "\\echo started\nSELECT pg_backend_pid();\nSELECT pg_sleep(30);\n");
	$bg;
} 1 .. 2;
$node->poll_query_until('postgres',
	"SELECT running = 2 FROM guardrails.digest_limit_status WHERE queryid = $slow")
  or die 'the two sleepers did not start';
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT pg_sleep(1)');
isnt($ret, 0, 'a third concurrent execution is refused');
like($err, qr/query digest -?\d+ is at its concurrency limit/, 'with the concurrency message');

# a cancel releases its slot
$node->safe_psql('postgres', q{
	SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE query = 'SELECT pg_sleep(30);' LIMIT 1});
$node->poll_query_until('postgres',
	"SELECT running = 1 FROM guardrails.digest_limit_status WHERE queryid = $slow")
  or die 'the cancelled execution kept its slot';
pass('a cancelled execution gives its slot back');
is($node->safe_psql('postgres', 'SELECT pg_sleep(0)'), '', 'and the next one runs');

# a statement_timeout releases its slot too
($ret) = $node->psql('postgres', "SET statement_timeout = '200ms'; SELECT pg_sleep(5)");
isnt($ret, 0, 'statement_timeout cancels a capped execution');
is($node->safe_psql('postgres',
	"SELECT running FROM guardrails.digest_limit_status WHERE queryid = $slow"),
	'1', 'and its slot is released');
$node->safe_psql('postgres', q{
	SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30);'});
eval { $_->quit } for @sleepers;
$node->poll_query_until('postgres',
	"SELECT running = 0 FROM guardrails.digest_limit_status WHERE queryid = $slow")
  or die 'slots left taken';
pass('no slot left taken');

# 3. Rules are per database.
my $kid = $node->safe_psql('postgres', q{
	SELECT guardrails.block_query('SELECT k FROM flood WHERE k = 2')});
($ret) = $node->psql('postgres', 'SELECT k FROM flood WHERE k = 2');
isnt($ret, 0, 'blocked in the database of the rule');
is($node->safe_psql('other', 'SELECT k FROM flood WHERE k = 2'), '2',
	'the same statement runs in another database');

# 4. The standby enforces the primary's rules once replayed.
$node->wait_for_catchup($standby, 'replay');
($ret, $out, $err) = $standby->psql('postgres', q{\set VERBOSITY verbose
SELECT k FROM flood WHERE k = 3});
isnt($ret, 0, 'the standby refuses the blocked digest');
like($err, qr/53B01: query digest -?\d+ is blocked/, 'with SQLSTATE 53B01');
($ret, $out, $err) = $standby->psql('postgres', "SELECT guardrails.unlimit_digest($kid)");
like($err, qr/cannot execute DELETE in a read-only transaction/,
	'rules cannot be changed on a standby');
is($standby->safe_psql('postgres', q{SELECT guardrails.query_digest('SELECT k FROM flood WHERE k = 9')}),
	$kid, 'query_digest works on a standby, with the same ids');
$node->safe_psql('postgres', "SELECT guardrails.unlimit_digest($kid)");
$node->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('postgres', 'SELECT k FROM flood WHERE k = 3'), '3',
	'and runs it again once the block is lifted');
# Refused executions never started: only the standby's one run is recorded,
# in the standby's own histograms.
is($standby->safe_psql('postgres', qq{
	SELECT sum(calls) FROM guardrails.latency WHERE queryid = $kid}),
	'1', 'the standby records its own executions');
# (In database postgres: from 18 on, digests name tables rather than OIDs,
# so the run in database other has the same query id.)
is($node->safe_psql('postgres', qq{
	SELECT coalesce(sum(calls + failed), 0) FROM guardrails.latency
	WHERE queryid = $kid AND dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')}),
	'0', 'the primary, which only refused it, recorded none');

# 5. More rules in use than guardrails.max_digest_limits: idle entries are
#    recycled, concurrently, and no execution fails for it.
$node->append_conf('postgresql.conf', 'guardrails.max_digest_limits = 10');
$node->restart;
# OR lists of different lengths are different digests (IN lists of
# constants are not, from 18 on)
my @stmts = map { 'SELECT count(*) FROM flood WHERE k = 0' . (' OR k = 1' x $_) } 1 .. 30;
$node->safe_psql('postgres', 'DELETE FROM guardrails.digest_limits');
$node->safe_psql('postgres', join('',
	map { "SELECT guardrails.limit_query('$_', per_second => 100000);\n" } @stmts));
my $script = join('', map { "$_;\n" } @stmts) x 20;
my @users = map {
	my $bg = $node->background_psql('postgres');
	$bg->query_until(qr/started/, "\\echo started\n$script");
	$bg;
} 1 .. 3;
$_->quit for @users;
is($node->safe_psql('postgres', q{SELECT count(*) FROM guardrails.digest_limits}), '30',
	'30 rules');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM guardrails.digest_limit_stats()}),
	'<=', 10, 'at most max_digest_limits entries in shared memory');
is($node->safe_psql('postgres', q{SELECT sum(rejected) FROM guardrails.digest_limit_status}),
	'0', 'nothing rejected while entries were recycled');

$standby->stop;
$node->stop;
done_testing();
