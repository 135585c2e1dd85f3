# A statement that succeeded keeps its DDL log entry when the catalog
# lookup that names its object afterwards fails.
#
# ALTER TABLE t ... names t without a schema: once the statement has
# succeeded, the audit log looks t up in search_path.  That lookup can wait
# for a lock.  The statement waited for s.p, the table its foreign key
# references; meanwhile a GRANT on schema public committed, so that the
# backend's cached entries for public are gone, and the lookup must read
# pg_namespace, which another session has locked.  That session waits for
# s.p, which the statement now holds: a deadlock, found by the statement's
# backend, which gets the error.  The entry is written all the same,
# outcome ok (the statement did succeed; rolled_back says that its
# transaction then aborted) and with the name as written, and the error
# reaches the client.
#
# Not CREATE TABLE: PostgreSQL writes the schema into its parse tree, which
# the audit log shares, so that its entry needs no lookup afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ddl_lookup');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_guardrails'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE reader;
	CREATE SCHEMA s;
	CREATE TABLE s.p (a int PRIMARY KEY);
});

# Wait at most 30 s for a query in session $h to return 't'.
sub wait_in
{
	my ($h, $sql) = @_;
	for (1 .. 60)
	{
		return 1 if $h->query_safe($sql) eq 't';
		select(undef, undef, undef, 0.5);
	}
	return 0;
}

my $p_oid = $node->safe_psql('postgres', q{SELECT 's.p'::regclass::oid});
my $nsp_oid = $node->safe_psql('postgres',
	q{SELECT 'pg_catalog.pg_namespace'::regclass::oid});
my $ddl = 'ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES s.p NOT VALID';

# A: the statement; its backend is the one to find the deadlock.  No
# lock_timeout for DDL: A waits for s.p as long as the test takes.  A has
# run DDL before, so the extension's ddl_command_end trigger is compiled
# and reads no catalog that could make A wait in its turn.
my $a = $node->background_psql('postgres', on_error_stop => 0);
$a->query_safe(q{SET deadlock_timeout = '200ms'});
$a->query_safe(q{SET guardrails.ddl_lock_timeout = 0});
my $a_pid = $a->query_safe('SELECT pg_backend_pid()');
$a->query_safe('CREATE TABLE t (a int)');

# B holds the referenced table; C will lock pg_namespace.
my $b = $node->background_psql('postgres');
my $c = $node->background_psql('postgres', on_error_stop => 0);
$c->query_safe(q{SET deadlock_timeout = '1min'});
# C's LOCK TABLE must wait in the queue holding pg_namespace, as plain
# PostgreSQL's does: without the DDL lock guard, which would give
# pg_namespace back between its attempts.
$c->query_safe(q{SET guardrails.ddl_lock_timeout = 0});
my $c_pid = $c->query_safe('SELECT pg_backend_pid()');

# D watches.  Not B: its GRANT invalidates its own cache at once, so that
# B would need pg_namespace too.
my $d = $node->background_psql('postgres');

$b->query_safe('BEGIN; LOCK TABLE s.p IN ACCESS EXCLUSIVE MODE');
$a->query_until(qr/started/, "\\echo started\n$ddl;\n\\echo done\n");
ok(wait_in($d, qq{SELECT count(*) > 0 FROM pg_locks
	WHERE pid = $a_pid AND NOT granted AND relation = $p_oid}),
	'the statement waits for s.p');

# B's GRANT invalidates the cache entries of schema public when B
# commits, before B's locks go.  C takes pg_namespace, then queues for s.p
# behind the statement.
$b->query_safe('GRANT USAGE ON SCHEMA public TO reader');
$c->query_until(qr/started/, "\\echo started\nBEGIN;\n"
	  . "LOCK TABLE pg_namespace, s.p IN ACCESS EXCLUSIVE MODE;\n\\echo locked\n");
ok(wait_in($d, qq{SELECT count(*) = 2 FROM pg_locks WHERE pid = $c_pid
	AND ((relation = $nsp_oid AND granted) OR (relation = $p_oid AND NOT granted))}),
	'the other session holds pg_namespace and waits for s.p');
$b->query_safe('COMMIT');

$a->query_until(qr/done/, '');
like($a->{stderr}, qr/deadlock detected/,
	'the error of the lookup after success reaches the client');
like($a->{stderr},
	qr/Process $a_pid waits for AccessShareLock on relation $nsp_oid /,
	'the statement\'s backend waited to read pg_namespace');
$c->query_until(qr/locked/, '');
$c->query_safe('ROLLBACK');
is($c->{stderr}, '', 'the other session got its locks');

is($node->safe_psql('postgres', qq{
	SELECT string_agg(format('%s|%s|%s|%s', outcome, object_type,
							 object_identity, rolled_back), ',')
	FROM guardrails.ddl_log WHERE query = '$ddl' AND pid = $a_pid}),
	'ok|table|t|t',
	'the statement has one entry: it succeeded, named as written, and its transaction rolled back');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.t'::regclass AND contype = 'f'}),
	'0', 'and the foreign key is gone with the transaction');

$a->quit;
$b->quit;
$c->quit;
$d->quit;
$node->stop;
done_testing();
