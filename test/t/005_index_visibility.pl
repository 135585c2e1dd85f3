# Disabled indexes on a real fleet: a streaming standby follows the
# primary's changes on replay (cached plans included), the rules survive a
# restart, and pg_dump/pg_restore carries them to another database.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_guardrails'");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE orders (id int PRIMARY KEY, customer int);
	CREATE INDEX orders_customer ON orders (customer);
	INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, 10000) g;
	ANALYZE orders;
});
$primary->backup('backup');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay');

my $explain = q{SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE customer = 42};
sub uses_index
{
	my ($node) = @_;
	return $node->safe_psql('postgres', $explain) =~ /orders_customer/ ? 1 : 0;
}

is(uses_index($standby), 1, 'standby uses the index at first');

# A standby session with a cached plan that uses the index.
my $session = $standby->background_psql('postgres');
$session->query_safe('SET enable_seqscan = off');
$session->query_safe('PREPARE q(int) AS SELECT count(*) FROM orders WHERE customer = $1');
like($session->query_safe('EXPLAIN (COSTS OFF) EXECUTE q(1)'), qr/orders_customer/,
	'standby prepared statement uses the index');

$primary->safe_psql('postgres', q{SELECT guardrails.disable_index('orders_customer')});
is(uses_index($primary), 0, 'primary stops using the disabled index');
$primary->wait_for_catchup($standby, 'replay');
is(uses_index($standby), 0, 'standby stops using it once the commit is replayed');
unlike($session->query_safe('EXPLAIN (COSTS OFF) EXECUTE q(1)'), qr/orders_customer/,
	'the standby session replans its prepared statement');
is($standby->safe_psql('postgres', q{
	SELECT index_name FROM guardrails.index_visibility}),
	'orders_customer', 'index_visibility on the standby');

# Nothing can be written on a standby; session experiments still work.
my ($ret, $out, $err) = $standby->psql('postgres',
	q{SELECT guardrails.enable_index('orders_customer')});
isnt($ret, 0, 'enable_index fails on a standby');
like($err, qr/read-only transaction/, 'with the read-only error');
is($standby->safe_psql('postgres', q{SET guardrails.use_disabled_indexes = on;
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE customer = 42}) =~ /orders_customer/ ? 1 : 0,
	1, 'use_disabled_indexes works on a standby');

$primary->safe_psql('postgres', q{SELECT guardrails.enable_index('orders_customer')});
$primary->wait_for_catchup($standby, 'replay');
is(uses_index($standby), 1, 'standby uses the index again after enable is replayed');
like($session->query_safe('EXPLAIN (COSTS OFF) EXECUTE q(1)'), qr/orders_customer/,
	'and the standby session replans again');
$session->quit;

# The rule survives a restart of both servers.
$primary->safe_psql('postgres', q{SELECT guardrails.disable_index('orders_customer', 'testing')});
$primary->restart;
$primary->wait_for_catchup($standby, 'replay');
$standby->restart;
is(uses_index($primary), 0, 'still disabled after a primary restart');
is(uses_index($standby), 0, 'still disabled after a standby restart');

# The DDL history: written by the primary's worker, replicated to the
# standby, which runs no worker of its own.
$primary->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM guardrails.ddl_history
	WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.orders'})
  or die 'the DDL history never received CREATE TABLE orders';
my $history = q{SELECT count(*) FROM guardrails.ddl_history
	WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.orders'};
$primary->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('postgres', $history), '1', 'the DDL history replicates to the standby');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_guardrails ddl history'}), '0',
	'where no DDL history worker runs');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_guardrails ddl history'}), '1',
	'as one does on the primary');

# pg_dump and pg_restore carry the rule to another database, where the
# index is created after the rows that name it; and the DDL history.
# A table above the policy's minimum size, with an index: restoring it
# builds the index on a filled table, which the policy (warn, by default)
# warns about.
$primary->safe_psql('postgres', q{
	SET guardrails.ddl_policy = off;
	CREATE TABLE restore_big AS SELECT g AS id, repeat('x', 100) AS pad
		FROM generate_series(1, 15000) g;
	CREATE INDEX restore_big_id ON restore_big (id);
});
my $dump = $primary->basedir . '/dump.custom';
$primary->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $primary->connstr('postgres') ],
	'pg_dump');
$primary->safe_psql('postgres', 'CREATE DATABASE restored');
my $log_offset = -s $primary->logfile;
my ($restore_out, $restore_err);
ok(IPC::Run::run([ 'pg_restore', '-d', $primary->connstr('restored'), $dump ],
		'>', \$restore_out, '2>', \$restore_err), 'pg_restore');
# Where the policy's warnings of a restore go (README, "Dumps"): not to
# pg_restore's output, which prints the server's messages only with
# --verbose, but to the server log and the DDL log.
is($restore_err, '', 'pg_restore prints no warning');
like(slurp_file($primary->logfile, $log_offset),
	qr/WARNING:  building an index on table "restore_big" without CONCURRENTLY violates schema-change rule "index_concurrently"/,
	'the warning is in the server log');
is($primary->safe_psql('restored', q{
	SELECT string_agg(DISTINCT array_to_string(policy_warnings, ','), ';')
	FROM guardrails.ddl_log
	WHERE database = 'restored' AND query LIKE 'CREATE INDEX restore_big_id%'}),
	'index_concurrently', 'and in the DDL log');
$primary->safe_psql('postgres', 'CREATE DATABASE restored_verbose');
IPC::Run::run([ 'pg_restore', '--verbose', '-d', $primary->connstr('restored_verbose'), $dump ],
	'>', \$restore_out, '2>', \$restore_err);
like($restore_err, qr/pg_restore: WARNING:  building an index on table "restore_big"/,
	'pg_restore --verbose prints it');
is($primary->safe_psql('restored', q{
	SELECT index_name || ' ' || reason || ' ' || (indexrelid = 'orders_customer'::regclass)
	FROM guardrails.disabled_indexes}),
	'orders_customer testing true', 'the rule is restored and points at the new index');
is($primary->safe_psql('restored', $explain) =~ /orders_customer/ ? 1 : 0, 0,
	'the restored index is disabled');
is($primary->safe_psql('restored', $history), '1', 'the DDL history is in the dump');

# DDL on a standby fails as PostgreSQL says, with no lock taken first and
# no schema-change rule applied (the statement cannot write anyway).
($ret, $out, $err) = $standby->psql('postgres', q{
	SET guardrails.ddl_policy = enforce;
	CREATE INDEX orders_id2 ON orders (id)});
like($err, qr/cannot execute CREATE INDEX in a read-only transaction/,
	'DDL on the standby gets PostgreSQL\'s read-only error');
($ret, $out, $err) = $standby->psql('postgres', 'ALTER TABLE orders ADD COLUMN x int');
like($err, qr/cannot execute ALTER TABLE in a read-only transaction/,
	'also when it would need an exclusive lock');

$standby->stop;
$primary->stop;
done_testing();
