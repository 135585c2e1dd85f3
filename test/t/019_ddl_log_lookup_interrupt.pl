# The catalog lookup that names a statement's object after it succeeded
# can be interrupted: a backend that waits there for a lock is cancelled
# by pg_cancel_backend and ended by pg_terminate_backend within seconds,
# and the statement keeps its DDL log entry, once, outcome ok.
#
# The wait is set up as in 019_ddl_log_lookup.pl: ALTER TABLE t ... names
# t without a schema, and waits for s.p, the table its foreign key
# references; meanwhile a GRANT on schema public commits, so that the
# backend's cached entries for public are gone, and the lookup after
# success must read pg_namespace, which another session has locked.  Here
# that session waits for nothing: there is no deadlock, and nothing but
# the interrupt can end the wait.  The guardrail must never be what keeps
# a backend from being cancelled or terminated.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ddl_lookup_interrupt');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_guardrails'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE reader1;
	CREATE ROLE reader2;
	CREATE SCHEMA s;
	CREATE TABLE s.p (a int PRIMARY KEY);
	CREATE DATABASE watch;
});

my $p_oid = $node->safe_psql('postgres', q{SELECT 's.p'::regclass::oid});
my $nsp_oid = $node->safe_psql('postgres',
	q{SELECT 'pg_catalog.pg_namespace'::regclass::oid});

# D watches, from another database: in this one, its own lookups would
# wait for pg_namespace too.
my $d = $node->background_psql('watch');

# Wait at most $secs seconds for a query in D to return 't'.
sub wait_for
{
	my ($secs, $sql) = @_;
	for (1 .. 2 * $secs)
	{
		return 1 if $d->query_safe($sql) eq 't';
		select(undef, undef, undef, 0.5);
	}
	return 0;
}

# Put a new session in the lookup after its ALTER TABLE on table $t
# succeeded, waiting to read pg_namespace, which the returned session C
# holds.  Returns (A, A's pid, C).
sub wait_in_lookup
{
	my ($t, $role) = @_;
	my $ddl = "ALTER TABLE $t ADD FOREIGN KEY (a) REFERENCES s.p NOT VALID";

	# A has run DDL before, so the extension's ddl_command_end trigger is
	# compiled and reads no catalog that could make A wait in its turn.
	my $a = $node->background_psql('postgres', on_error_stop => 0);
	$a->query_safe(q{SET guardrails.ddl_lock_timeout = 0});
	my $a_pid = $a->query_safe('SELECT pg_backend_pid()');
	$a->query_safe("CREATE TABLE $t (a int)");

	my $b = $node->background_psql('postgres');
	my $c = $node->background_psql('postgres');

	$b->query_safe('BEGIN; LOCK TABLE s.p IN ACCESS EXCLUSIVE MODE');
	$a->query_until(qr/started/, "\\echo started\n$ddl;\n\\echo done\n");
	ok(wait_for(30, qq{SELECT count(*) > 0 FROM pg_locks
		WHERE pid = $a_pid AND NOT granted AND relation = $p_oid}),
		"$t: the statement waits for s.p");

	# B's GRANT invalidates the cache entries of schema public when B
	# commits; C holds pg_namespace and waits for nothing.
	$b->query_safe("GRANT USAGE ON SCHEMA public TO $role");
	$c->query_safe('BEGIN; LOCK TABLE pg_namespace IN ACCESS EXCLUSIVE MODE');
	$b->query_safe('COMMIT');
	$b->quit;
	ok(wait_for(30, qq{SELECT count(*) > 0 FROM pg_locks
		WHERE pid = $a_pid AND NOT granted AND relation = $nsp_oid}),
		"$t: the statement, done, waits to read pg_namespace");
	return ($a, $a_pid, $c);
}

# The entries of $t's ALTER TABLE, once its transaction is known to have
# rolled back.
sub entries_of
{
	my ($t, $pid) = @_;
	my $where = "query LIKE 'ALTER TABLE $t %' AND pid = $pid";

	$node->poll_query_until('postgres',
		"SELECT bool_and(rolled_back IS NOT NULL) FROM guardrails.ddl_log WHERE $where");
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(format('%s|%s|%s|%s|%s', outcome, object_type,
								 object_identity, rolled_back,
								 coalesce(sqlstate, '-')), ',')
		FROM guardrails.ddl_log WHERE $where});
}

# pg_cancel_backend: the client gets the cancel; the statement succeeded,
# and its transaction rolled back.
my $failed_before = $node->safe_psql('postgres',
	'SELECT coalesce(sum(failed), 0) FROM guardrails.latency');
my ($a, $a_pid, $c) = wait_in_lookup('t1', 'reader1');
$d->query_safe("SELECT pg_cancel_backend($a_pid)");
ok(wait_for(10, qq{SELECT count(*) = 0 FROM pg_locks
	WHERE pid = $a_pid AND NOT granted}),
	'pg_cancel_backend ends the wait of the lookup after success');
$c->query_safe('ROLLBACK');
$a->query_until(qr/done/, '');
like($a->{stderr}, qr/canceling statement due to user request/,
	'the client gets the cancel');
is(entries_of('t1', $a_pid), 'ok|table|t1|t|-',
	'the statement has one entry: it succeeded, named as written, and its transaction rolled back');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.t1'::regclass AND contype = 'f'}),
	'0', 'and the foreign key is gone with the transaction');
is($node->safe_psql('postgres',
	'SELECT coalesce(sum(failed), 0) FROM guardrails.latency') - $failed_before,
	1, 'its latency is recorded as one failed execution');
$a->{stderr} = '';
is($a->query_safe('SELECT 1'), '1', 'the cancelled session goes on');
$a->quit;
$c->quit;

# pg_terminate_backend: the backend exits, and its exit callback records
# the statement, which did succeed, as ok.
($a, $a_pid, $c) = wait_in_lookup('t2', 'reader2');
$d->query_safe("SELECT pg_terminate_backend($a_pid)");
ok(wait_for(10, qq{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE pid = $a_pid}),
	'pg_terminate_backend ends the backend waiting in the lookup after success');
$c->query_safe('ROLLBACK');
eval { $a->quit };
like(slurp_file($node->logfile),
	qr/\[$a_pid\] .*FATAL:  terminating connection due to administrator command/,
	'the backend ended with the FATAL error of pg_terminate_backend');
is(entries_of('t2', $a_pid), 'ok|table|t2|t|-',
	'the statement has one entry: it succeeded, named as written, and its transaction rolled back');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.t2'::regclass AND contype = 'f'}),
	'0', 'and the foreign key is gone with the transaction');
$c->quit;

$d->quit;
$node->stop;
done_testing();
