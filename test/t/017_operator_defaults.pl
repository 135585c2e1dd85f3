# Safety of the defaults: rules written where the library is not preloaded
# say that nothing enforces them; a digest rule that stops matching after
# a schema change is flagged; the schema-change policy stays silent for a
# role that may not run the statement (PostgreSQL's permission error comes
# first) and for tables under guardrails.ddl_policy_min_size; extension
# scripts do not flood the DDL log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# 1. Not preloaded: rules are stored, with a warning; views fail.
my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->append_conf('postgresql.conf', "compute_query_id = on\n");
$plain->start;
$plain->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE t (a int);
	CREATE INDEX t_a ON t (a);
});
is($plain->safe_psql('postgres', 'SELECT guardrails.preloaded()'), 'f',
	'preloaded() says the library is not preloaded');
for my $call (
	q{SELECT guardrails.block_digest(42)},
	q{SELECT guardrails.limit_digest(43, 10)},
	q{SELECT guardrails.block_query('SELECT a FROM t WHERE a = $1')},
	q{SELECT guardrails.unlimit_digest(42)},
	q{SELECT guardrails.disable_index('t_a')},
	q{SELECT guardrails.enable_index('t_a')},
	q{INSERT INTO guardrails.digest_limits (queryid, action) VALUES (44, 'block')})
{
	my ($ret, $out, $err) = $plain->psql('postgres', $call);
	is($ret, 0, "not preloaded, the rule is stored: $call");
	like($err, qr/WARNING:  the change to guardrails\.\w+ is stored, but not enforced on this server/,
		"and a warning says it is not enforced: $call");
}
my ($ret, $out, $err) = $plain->psql('postgres',
	q{BEGIN; SELECT guardrails.block_digest(45); SELECT guardrails.block_digest(46); COMMIT});
is(() = $err =~ /not enforced/g, 1, 'once per transaction');
($ret, $out, $err) = $plain->psql('postgres', 'SELECT * FROM guardrails.digest_limit_status');
like($err, qr/must be loaded via "shared_preload_libraries"/,
	'a view of shared memory fails with the hint');
$plain->stop;

# 2-4 on a preloaded server.
my $node = PostgreSQL::Test::Cluster->new('preloaded');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_policy = enforce
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE stranger LOGIN;
	CREATE TABLE orders (id int, customer_id int, amount int);
	INSERT INTO orders SELECT i, i % 100, i FROM generate_series(1, 50000) i;
	CREATE TABLE tiny (a int);
	INSERT INTO tiny VALUES (1);
	GRANT SELECT ON orders TO stranger;
});
is($node->safe_psql('postgres', 'SELECT guardrails.preloaded()'), 't',
	'preloaded() says it is');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM guardrails.ddl_log WHERE NOT toplevel AND command_tag <> 'CREATE EXTENSION'}),
	'0', 'statements of the extension script are not recorded one by one');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM guardrails.ddl_log WHERE command_tag = 'CREATE EXTENSION'}),
	'1', 'CREATE EXTENSION itself is');

# Permission errors come first, and nothing about the table is said.
($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE stranger; CREATE INDEX ON orders (amount)', extra_params => ['-v', 'VERBOSITY=verbose']);
like($err, qr/42501.*must be owner of table orders/s, 'a non-owner gets PostgreSQL\'s permission error');
unlike($err, qr/42G01|schema-change rule|holds/, 'and no policy message, no size');
($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE stranger; ALTER TABLE orders ADD COLUMN x int NOT NULL');
like($err, qr/must be owner of table orders/, 'ALTER TABLE: the permission error');
unlike($err, qr/schema-change rule/, 'ALTER TABLE: no policy message');
($ret, $out, $err) = $node->psql('postgres',
	q{SET guardrails.allow_new_tables = off; CREATE SCHEMA closed; GRANT USAGE ON SCHEMA closed TO stranger;
	  SET ROLE stranger; SET search_path = closed; CREATE TABLE t (a int)});
like($err, qr/permission denied for schema closed/, 'new_tables: the permission error');
unlike($err, qr/schema-change rule/, 'new_tables: no policy message');
($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE stranger; REINDEX SCHEMA public');
like($err, qr/must be owner of schema public/, 'REINDEX SCHEMA: the permission error');
unlike($err, qr/schema-change rule/, 'REINDEX SCHEMA: no policy message');
($ret, $out, $err) = $node->psql('postgres', 'REINDEX SCHEMA no_such_schema');
like($err, qr/schema "no_such_schema" does not exist/, 'REINDEX SCHEMA of no schema: PostgreSQL\'s error');
($ret, $out, $err) = $node->psql('postgres', 'CREATE INDEX ON orders (amount)');
like($err, qr/violates schema-change rule "index_concurrently"/, 'the owner still gets the policy');

# Tiny tables are exempt by default (1 MB), and the setting turns it off.
($ret, $out, $err) = $node->psql('postgres', 'CREATE INDEX ON tiny (a)');
is($ret, 0, 'an 8 kB table is under guardrails.ddl_policy_min_size');
($ret, $out, $err) = $node->psql('postgres',
	'SET guardrails.ddl_policy_min_size = 0; CREATE INDEX ON tiny (a)');
like($err, qr/violates schema-change rule "index_concurrently"/, 'with 0 it is not');
($ret, $out, $err) = $node->psql('postgres',
	'SET guardrails.ddl_policy_min_size = 0; ALTER TABLE tiny ADD COLUMN id serial');
like($err, qr/adding column "id" of type serial violates/, 'serial is named as such');
($ret, $out, $err) = $node->psql('postgres',
	'SET guardrails.ddl_policy_min_size = 0; ALTER TABLE tiny ADD COLUMN id int GENERATED ALWAYS AS IDENTITY');
like($err, qr/adding column "id" as an identity column violates/, 'so is identity');

# A rule that stops matching after a schema change is flagged.
my $id = $node->safe_psql('postgres', q{
	SELECT guardrails.block_query('SELECT * FROM orders WHERE customer_id = $1')});
($ret, $out, $err) = $node->psql('postgres',
	q{PREPARE q(int) AS SELECT * FROM orders WHERE customer_id = $1; EXECUTE q(1)});
like($err, qr/is blocked/, 'the rule matches before the change');
is($node->safe_psql('postgres', qq{
	SELECT last_matched_at IS NOT NULL AND warning IS NULL
	FROM guardrails.digest_limit_status WHERE queryid = $id}), 't',
	'last_matched_at is set, and no warning');
$node->safe_psql('postgres', q{
	SET guardrails.ddl_policy = off; ALTER TABLE orders ADD COLUMN note text});
($ret, $out, $err) = $node->psql('postgres',
	q{PREPARE q(int) AS SELECT * FROM orders WHERE customer_id = $1; EXECUTE q(1)});
is($ret, 0, 'after ADD COLUMN, the statement has a new digest: not blocked');
like($node->safe_psql('postgres', qq{
	SELECT warning FROM guardrails.digest_limit_status WHERE queryid = $id}),
	qr/^not matched since .*1 schema change ran in this database since \(the last: ALTER TABLE public\.orders/,
	'the view warns that the rule may no longer match');

# Counters of a replaced rule are not shown as the new rule's.
$node->safe_psql('postgres', 'SELECT guardrails.unlimit_digest(' . $id . ')');
my $q2 = $node->safe_psql('postgres', q{
	SELECT guardrails.block_query('SELECT * FROM orders WHERE customer_id = $1')});
$node->psql('postgres', q{PREPARE q(int) AS SELECT * FROM orders WHERE customer_id = $1; EXECUTE q(1)});
is($node->safe_psql('postgres', qq{SELECT rejected FROM guardrails.digest_limit_status WHERE queryid = $q2}),
	'1', 'one rejection counted');
$node->safe_psql('postgres', qq{SELECT guardrails.block_digest($q2, note => 'replaced')});
is($node->safe_psql('postgres', qq{SELECT rejected FROM guardrails.digest_limit_status WHERE queryid = $q2}),
	'0', 'a replaced rule shows zero at once, before the digest runs again');

# The DDL history's database: the table says where it is filled.
like($node->safe_psql('postgres', q{
	SELECT obj_description('guardrails.ddl_history'::regclass, 'pg_class')}),
	qr/in the database named by the setting guardrails\.database only/,
	'ddl_history says that it is filled in guardrails.database only');

# Messages: counts of one in the singular.
my $one = $node->safe_psql('postgres', q{
	SELECT guardrails.limit_query('SELECT count(*) FROM tiny', 1, burst => 1)});
($ret, $out, $err) = $node->psql('postgres',
	'SELECT count(*) FROM tiny; SELECT count(*) FROM tiny');
like($err, qr/DETAIL:  The limit is 1 execution per second with bursts of 1; 2 were attempted in the last second\./,
	'a rate of one is "1 execution"');
$node->safe_psql('postgres', qq{SELECT guardrails.unlimit_digest($one)});
$node->append_conf('postgresql.conf', "guardrails.connection_rate = 1\n");
$node->reload;
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN');
my $refused = '';
for (1 .. 3)
{
	($ret, $out, $err) = $node->psql('postgres', 'SELECT 1', extra_params => ['-U', 'app']);
	$refused .= $err;
}
like($refused, qr/DETAIL:  At most 1 new connection per second is allowed, with bursts of 1\./,
	'a rate of one is "1 new connection"');
$node->append_conf('postgresql.conf', "guardrails.connection_rate = 0\n");
$node->reload;

# A clean shutdown whose state file cannot be used: the numbers skipped
# are reported without claiming a crash.
$node->safe_psql('postgres', 'CREATE TABLE before_restart (a int)');
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM guardrails.ddl_log WHERE NOT stored});
$node->stop;
my $stat = $node->data_dir . '/pg_stat/pg_guardrails.stat';
my $data = slurp_file($stat);
substr($data, 40, 1) = chr(ord(substr($data, 40, 1)) ^ 0xff);
open(my $fh, '>', $stat) or die; binmode $fh; print $fh $data; close $fh;
$node->start;
$node->safe_psql('postgres', 'CREATE TABLE after_restart (a int)');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM guardrails.ddl_history
	WHERE object_identity = 'public.after_restart'}), 'the worker stores again');
my $log = slurp_file($node->logfile);
like($log, qr/were not stored in guardrails.ddl_history: the server started without the ring saved at its last shutdown/,
	'the skipped numbers are reported');
unlike($log, qr/the server crashed first/, 'without claiming a crash');

$node->stop;
done_testing();
