# DDL runs with lock_timeout = min(session's, guardrails.ddl_lock_timeout):
# behind a long transaction it fails with 55P03 instead of queueing; the
# session's own value is back right after; it applies in DO blocks and
# functions; CONCURRENTLY builds are left alone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('ddl');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_lock_timeout = '1s'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE t (id int PRIMARY KEY);
	INSERT INTO t SELECT generate_series(1, 1000);
});

# A long transaction that has read the table, and keeps its snapshot (so
# that CREATE INDEX CONCURRENTLY, below, has to wait for it).
my $reader = $node->background_psql('postgres');
$reader->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM t;');

# Run $sql, return (exit status, stderr, seconds taken).
sub timed
{
	my ($sql) = @_;
	my $start = time;
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	return ($ret, $err, time - $start, $out);
}

my ($ret, $err, $secs, $out) = timed(q{ALTER TABLE t ADD COLUMN c int; SHOW lock_timeout});
isnt($ret, 0, 'ALTER TABLE behind a long transaction fails');
like($err, qr/canceling statement due to lock timeout/, 'on its lock timeout');
cmp_ok($secs, '>=', 0.9, "after the DDL lock timeout ($secs s)");
cmp_ok($secs, '<', 4, 'not after waiting longer');
($ret, $err) = timed(q{\set VERBOSITY verbose
ALTER TABLE t ADD COLUMN c int});
like($err, qr/55P03/, 'SQLSTATE 55P03, as retry logic expects');

# The session's own value is back right after, even in the same
# transaction, and after an error.
is($node->safe_psql('postgres', q{
	SET lock_timeout = '7s';
	BEGIN;
	CREATE TABLE u (a int);
	SHOW lock_timeout;
	COMMIT;}), '7s', 'the session value is back after a DDL');
is($node->safe_psql('postgres', q{
	SET lock_timeout = '7s';
	DO $$ BEGIN ALTER TABLE t ADD COLUMN c int; EXCEPTION WHEN lock_not_available THEN NULL; END $$;
	SHOW lock_timeout;}), '7s', 'and after a DDL that failed on its lock');

# The smaller of the two wins.
($ret, $err, $secs) = timed(q{SET lock_timeout = '200ms'; ALTER TABLE t ADD COLUMN c int});
isnt($ret, 0, 'a stricter session lock_timeout still applies');
cmp_ok($secs, '<', 0.9, "and wins ($secs s)");
($ret, $err, $secs) = timed(q{SET lock_timeout = '1min'; ALTER TABLE t ADD COLUMN c int});
cmp_ok($secs, '<', 4, "a laxer session lock_timeout does not ($secs s)");

# At every nesting level.
($ret, $err, $secs) = timed(q{DO $$ BEGIN EXECUTE 'ALTER TABLE t ADD COLUMN c int'; END $$});
isnt($ret, 0, 'DDL in a DO block times out too');
cmp_ok($secs, '<', 4, "as fast ($secs s)");
$node->safe_psql('postgres', q{
	CREATE FUNCTION add_col() RETURNS void LANGUAGE plpgsql
	AS $$ BEGIN ALTER TABLE t ADD COLUMN d int; END $$});
($ret, $err) = timed(q{SELECT add_col()});
like($err, qr/lock timeout/, 'and in a function');

# LOCK TABLE is not DDL for PostgreSQL, but in a mode stronger than ROW
# EXCLUSIVE it freezes the table as DDL would: it is guarded the same way
# (test/t/020_ddl_lock_guard.pl covers the other such statements).
($ret, $err, $secs) = timed(q{BEGIN; SET LOCAL statement_timeout = '3s';
	LOCK TABLE t IN ACCESS EXCLUSIVE MODE; COMMIT});
like($err, qr/lock timeout/, 'LOCK TABLE IN ACCESS EXCLUSIVE MODE gets the DDL lock timeout');

# guardrails.ddl_lock_timeout = 0 turns it off.
($ret, $err) = timed(q{SET guardrails.ddl_lock_timeout = 0; SET statement_timeout = '2s';
	ALTER TABLE t ADD COLUMN c int});
like($err, qr/statement timeout/, 'ddl_lock_timeout = 0 waits like PostgreSQL');

# It is superuser-only.
$node->safe_psql('postgres', 'CREATE ROLE dev LOGIN');
($ret, $out, $err) = $node->psql('postgres', 'SELECT current_user; SET guardrails.ddl_lock_timeout = 0',
	extra_params => [ '-U', 'dev' ]);
is($out, 'dev', 'connected as an ordinary user');
like($err, qr/permission denied to set parameter/, 'an ordinary user cannot turn it off');

# CREATE INDEX CONCURRENTLY waits for the old transaction and succeeds.
my $builder = $node->background_psql('postgres', on_error_stop => 0);
$builder->query_until(qr/started/, "\\echo started\nCREATE INDEX CONCURRENTLY t_id2 ON t (id);\n\\echo built\n");
sleep 2;
$reader->query_safe('COMMIT');
$builder->query_until(qr/built/, '');
is($node->safe_psql('postgres', q{
	SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id2'::regclass}),
	't', 'CREATE INDEX CONCURRENTLY outlasted the lock timeout and is valid');
$builder->quit;

# Without the blocker, DDL goes through.
is($node->safe_psql('postgres', 'ALTER TABLE t ADD COLUMN c int; SELECT 1'), '1',
	'DDL runs once nothing holds the table');

# A DDL statement that commits and starts transactions of its own (CLUSTER
# of every clustered table) leaves the settings intact.
is($node->safe_psql('postgres', q{
	CLUSTER t USING t_pkey;
	SET lock_timeout = '3s';
	CLUSTER;
	SHOW lock_timeout;}), '3s', 'lock_timeout intact after a multi-transaction DDL');
is($node->safe_psql('postgres', q{
	SET lock_timeout = '3s';
	CLUSTER;
	BEGIN; SET LOCAL lock_timeout = '4s'; CREATE TABLE v (a int); SHOW lock_timeout; COMMIT;}),
	'4s', 'and GUC nesting still works after it');

$reader->quit;
$node->stop;
done_testing();
