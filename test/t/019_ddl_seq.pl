# DDL log sequence numbers: concurrent statements are never handed
# numbers beyond the block reserved in the sequence file (a crash would
# hand them out again); and when the sequence file is lost, entries whose
# numbers the table already has are counted and logged as collisions, not
# skipped in silence.  The worker is kept from reserving and from storing
# by a prepared transaction that holds a lock on ddl_history (it survives
# a crash).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use GrdTestUtil;

my $node = PostgreSQL::Test::Cluster->new('ddl_seq');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
max_prepared_transactions = 2
restart_after_crash = on
guardrails.ddl_log_size = 4000
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
# CREATE EXTENSION is one entry; two more make numbers 1 to 3 stored.
$node->safe_psql('postgres', 'CREATE TABLE first (a int)');
$node->safe_psql('postgres', 'CREATE TABLE second (a int)');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM guardrails.ddl_history WHERE query = 'CREATE TABLE second (a int)'}),
	'the worker stores');
is($node->safe_psql('postgres', 'SELECT count(*) FROM guardrails.ddl_history WHERE seq <= 3'),
	'3', 'numbers 1 to 3 are in the table');

# The highest reserved number, as the sequence file says.
sub reserved
{
	return $node->safe_psql('postgres', q{
		SELECT sum(get_byte(f, 16 + i)::numeric * 256 ^ i)::bigint
		FROM pg_read_binary_file('pg_stat/pg_guardrails_ddl.seq') f,
			 generate_series(0, 7) i});
}
sub status
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT value FROM guardrails.status WHERE name = '$name'");
}

$node->safe_psql('postgres', q{
	BEGIN; LOCK TABLE guardrails.ddl_history IN ACCESS EXCLUSIVE MODE;
	PREPARE TRANSACTION 'hold_history'});
$node->safe_psql('postgres', 'CREATE TABLE wake_worker (a int)');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE NOT l.granted AND a.backend_type = 'pg_guardrails ddl history'}),
	'the worker waits for the lock, and reserves nothing meanwhile');

# 5. Use the block up to its last number but one, then let four
# statements start at once and end together.
my $reserved = reserved();
my $next = status('ddl_log_next_seq');
my $n = $reserved - 1 - $next;
$node->safe_psql('postgres', qq{
	DO \$\$ BEGIN
		FOR i IN 1 .. $n LOOP
			EXECUTE format('CREATE TABLE fill_%s (a int)', i);
		END LOOP;
	END \$\$});
is(status('ddl_log_next_seq'), $reserved - 1, 'one number is left in the block');
is($node->safe_psql('postgres', "SELECT count(*) FROM guardrails.ddl_log WHERE outcome <> 'ok'"),
	'0', 'nothing failed');
my @runs;
for my $i (1 .. 4)
{
	push @runs, IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
		'-c', "CREATE TABLE slow_$i AS SELECT 1 AS a FROM pg_sleep(2)" ]);
}
$_->finish for @runs;
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.ddl_log
	WHERE query LIKE 'CREATE TABLE slow_%' AND outcome = 'ok' AND duration_ms > 1500}),
	'4', 'the four statements ran together');
my $highest = $node->safe_psql('postgres', 'SELECT max(seq) FROM guardrails.ddl_log');
cmp_ok($highest, '>=', $reserved + 1, 'the four statements took numbers past the first block');
cmp_ok(reserved(), '>=', $highest, 'every number handed out is reserved in the file');

# 4. A crash, and the sequence file is lost: numbering starts over, and
# the first entries' numbers are in the table already.  They are counted
# and logged, not skipped.
my $victim = $node->background_psql('postgres');
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
unlink($node->data_dir . '/pg_stat/pg_guardrails_ddl.seq') or die "unlink: $!";
kill 'KILL', $victim_pid;
eval { $victim->quit };
wait_for_restart($node) or die 'no recovery after the crash';
$node->safe_psql('postgres', "CREATE TABLE again_$_ (a int)") for 1 .. 3;
is($node->safe_psql('postgres', q{
	SELECT string_agg(seq::text, ',' ORDER BY seq) FROM guardrails.ddl_log
	WHERE query LIKE 'CREATE TABLE again_%'}), '1,2,3', 'numbering started over');
$node->safe_psql('postgres', q{COMMIT PREPARED 'hold_history'});
ok($node->poll_query_until('postgres', q{
	SELECT (SELECT value FROM guardrails.status WHERE name = 'ddl_history_stored_seq')
		 = (SELECT value FROM guardrails.status WHERE name = 'ddl_log_next_seq') - 1}),
	'the worker catches up');
is(status('ddl_history_collided'), '3', 'the three entries are counted as collisions');
ok($node->log_contains(qr/DDL log entry 3 collides with a row of guardrails.ddl_history/),
	'and logged');
$node->safe_psql('postgres', 'CREATE TABLE after_collisions (a int)');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM guardrails.ddl_history
	WHERE query = 'CREATE TABLE after_collisions (a int)'
	  AND seq > (SELECT max(seq) FROM guardrails.ddl_history
				 WHERE query LIKE 'CREATE TABLE fill_%' OR query = 'CREATE TABLE first (a int)')}),
	'then numbers go on above the table\'s');

$node->stop;
done_testing();
