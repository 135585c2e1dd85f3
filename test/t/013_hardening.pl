# Hardening: the role guardrails_admin when it already exists at CREATE
# EXTENSION; rules of dropped roles across pg_dump and pg_restore; limits
# on utility statements' digests in both preload orders with
# pg_stat_statements, with concurrency slots given back however the
# statement ends.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hardening');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails, pg_stat_statements'
});
$node->start;

# --- guardrails_admin prepared beforehand by a CREATEROLE user ---

$node->safe_psql('postgres', q{
	CREATE ROLE carol LOGIN CREATEROLE;
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE db1;
	CREATE DATABASE db2;
	CREATE DATABASE db3;
});
$node->safe_psql('postgres', q{
	CREATE ROLE guardrails_admin NOLOGIN;
	GRANT guardrails_admin TO mallory;
}, extra_params => [ '-U', 'carol' ]);

my ($ret, $out, $err) = $node->psql('db1', 'CREATE EXTENSION pg_guardrails');
is($ret, 0, 'CREATE EXTENSION adopts a role that already exists');
# From 16 on, a CREATEROLE role that creates a role is granted it, with
# ADMIN OPTION, by the bootstrap superuser: carol is a member there.
my $major = $node->safe_psql('postgres', q{SELECT current_setting('server_version_num')::int / 10000});
my $members = $major >= 16
  ? qr/Members: carol \(granted by \w+, with admin option\), mallory \(granted by carol\)\./
  : qr/Members: mallory \(granted by carol\)\./;
like($err, qr/WARNING:  role "guardrails_admin" already exists.*DETAIL:  $members/s,
	'and names its members, with who granted them');
like($err, qr/HINT:  Roles are shared by every database/, 'with a hint');

# The normal case: the extension is in another database already.  Its
# members hold the same rights in the new one, which is said once.
$node->safe_psql('db1', 'REVOKE guardrails_admin FROM mallory GRANTED BY carol');
$node->safe_psql('postgres', 'CREATE ROLE alice; GRANT guardrails_admin TO alice');
($ret, $out, $err) = $node->psql('db2', 'CREATE EXTENSION pg_guardrails');
is($ret, 0, 'a second database creates the extension');
like($err, qr/Members: alice \(granted by [a-z]+\)[,.]/, 'naming the members it has');
unlike($err, qr/mallory/, 'a revoked member is not named');

# An update runs the same script, and says nothing.
$node->safe_psql('db3', q{CREATE EXTENSION pg_guardrails VERSION '1.0'});
($ret, $out, $err) = $node->psql('db3', 'ALTER EXTENSION pg_guardrails UPDATE');
is($ret, 0, 'ALTER EXTENSION UPDATE');
unlike($err, qr/WARNING/, 'with no warning');

# Indexes that 1.0 let anyone in guardrails_admin disable, and 1.1
# refuses, are enabled again by the update, each with a warning.
$node->safe_psql('postgres', 'CREATE DATABASE db4');
$node->safe_psql('db4', q{
	CREATE EXTENSION pg_guardrails VERSION '1.0';
	CREATE TABLE t (k int);
	CREATE INDEX t_k ON t (k);
	SELECT guardrails.disable_index('pg_catalog.pg_class_relname_nsp_index');
	SELECT guardrails.disable_index('t_k');
	INSERT INTO guardrails.disabled_indexes (index_schema, index_name)
	VALUES ('pg_temp_3', 'tmp_idx');
});
($ret, $out, $err) = $node->psql('db4', 'ALTER EXTENSION pg_guardrails UPDATE');
is($ret, 0, 'ALTER EXTENSION UPDATE with catalog and temporary indexes disabled');
like($err, qr/WARNING:  index "pg_catalog.pg_class_relname_nsp_index" is enabled again/,
	'a catalog index is enabled again');
like($err, qr/WARNING:  index "pg_temp_3.tmp_idx" is enabled again/,
	'a temporary index is enabled again');
is($node->safe_psql('db4', q{
	SELECT string_agg(index_schema || '.' || index_name, ', ') FROM guardrails.disabled_indexes}),
	'public.t_k', 'an ordinary index stays disabled');

# A role created by CREATE EXTENSION itself: nothing to say.
$node->safe_psql($_, 'DROP EXTENSION pg_guardrails') for qw(db1 db2 db3 db4);
$node->safe_psql('postgres', 'DROP ROLE guardrails_admin');
($ret, $out, $err) = $node->psql('db1', 'CREATE EXTENSION pg_guardrails');
is($ret, 0, 'CREATE EXTENSION creates the role');
is($err, '', 'silently');

# A role with more than NOLOGIN is reported even with no member.
$node->safe_psql('db1', 'ALTER ROLE guardrails_admin LOGIN');
($ret, $out, $err) = $node->psql('db2', 'CREATE EXTENSION pg_guardrails');
like($err, qr/DETAIL:  The role itself has LOGIN\./,
	'attributes beyond NOLOGIN are named');
$node->safe_psql('db1', 'ALTER ROLE guardrails_admin NOLOGIN');

# --- rules of a dropped role across pg_dump and pg_restore ---

$node->safe_psql('db1', q{
	CREATE ROLE gone;
	CREATE ROLE kept;
	SELECT guardrails.limit_digest(11, 10, role => 'gone');
	SELECT guardrails.limit_digest(11, 20, role => 'kept');
	SELECT guardrails.block_digest(12);
	DROP ROLE gone;
});
my $dump = $node->basedir . '/db1.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('db1') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE db1_restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('db1_restored'), $dump ], 'pg_restore');
is($node->safe_psql('db1_restored', q{
	SELECT string_agg(format('%s %s', queryid, coalesce(role::text, 'all')), ', ' ORDER BY queryid, role)
	FROM guardrails.digest_limits}),
	'11 kept, 12 all', "every rule restored but the dropped role's");

# A dump of 1.0 holds such rows: restoring one stores the others.
$node->safe_psql('db1_restored', 'TRUNCATE guardrails.digest_limits');
($ret, $out, $err) = $node->psql('db1_restored', q{
	COPY guardrails.digest_limits (queryid, role, action) FROM stdin;
21	4000000000	block
22	\N	block
\.
});
is($ret, 0, 'COPY of a rule naming a role that does not exist succeeds');
like($err, qr/WARNING:  rule for query digest 21 not stored: role with OID 4000000000 does not exist/,
	'with a warning');
is($node->safe_psql('db1_restored', 'SELECT string_agg(queryid::text, \',\') FROM guardrails.digest_limits'),
	'22', 'and stores the other rows');

# --- limits on utility statements, in both preload orders ---

for my $order ('pg_guardrails, pg_stat_statements', 'pg_stat_statements, pg_guardrails')
{
	$node->append_conf('postgresql.conf', "shared_preload_libraries = '$order'");
	$node->restart;
	$node->safe_psql('db2', q{
		DROP TABLE IF EXISTS u;
		CREATE TABLE u (id int);
		CREATE OR REPLACE PROCEDURE nap(s float8) LANGUAGE sql AS $$ SELECT pg_sleep(s) $$;
		DELETE FROM guardrails.digest_limits;
	});
	my $vacuum_id = $node->safe_psql('db2', q{SELECT guardrails.block_query('VACUUM u')});
	($ret, $out, $err) = $node->psql('db2', 'VACUUM u', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:  53B01: query digest $vacuum_id is blocked/, "VACUUM blocked ($order)");
	($ret, $out, $err) = $node->psql('db2', 'SELECT 1; VACUUM u', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/53B01/, "VACUUM blocked as the second statement of a string ($order)");
	$node->safe_psql('db2', "SELECT guardrails.unlimit_digest($vacuum_id)");
	($ret, $out, $err) = $node->psql('db2', 'VACUUM u');
	is($ret, 0, "VACUUM runs again once unblocked ($order)");

	# a concurrency cap on CALL: the slot is held while the procedure runs,
	# and given back when it ends, fails or its backend is terminated
	my $call_id = $node->safe_psql('db2', q{
		SELECT guardrails.limit_query('CALL nap(30)', NULL, max_concurrent => 1)});
	my $running = qq{SELECT (SELECT running FROM guardrails.digest_limit_status WHERE queryid = $call_id)};
	my $bg = $node->background_psql('db2');
	$bg->query_until(qr/started/, q{\echo started
CALL nap(30);
});
	$node->poll_query_until('db2', "$running = 1") or die 'the CALL holds no slot';
	($ret, $out, $err) = $node->psql('db2', 'CALL nap(30)');
	like($err, qr/is at its concurrency limit/, "a second CALL is refused ($order)");
	my $pid = $node->safe_psql('db2', q{
		SELECT pid FROM pg_stat_activity
		WHERE query LIKE 'CALL nap(30)%' AND state = 'active'
		  AND pid <> pg_backend_pid()});
	$node->safe_psql('db2', "SELECT pg_terminate_backend($pid)");
	eval { $bg->quit };	# psql has exited with its connection
	ok($node->poll_query_until('db2', "$running = 0"),
		"a terminated backend gives its slot back ($order)");
	($ret, $out, $err) = $node->psql('db2', q{SET statement_timeout = '100ms'; CALL nap(30)});
	like($err, qr/canceling statement due to statement timeout/, "a CALL cancelled ($order)");
	is($node->safe_psql('db2', $running), '0', "gives its slot back ($order)");

	# transaction control is never limited, and a block on it leaves
	# sessions able to end their transactions
	$node->safe_psql('db2', q{
		SELECT guardrails.block_query('BEGIN');
		SELECT guardrails.block_query('COMMIT');
		SELECT guardrails.block_query('ROLLBACK');
	});
	($ret, $out, $err) = $node->psql('db2', 'BEGIN; SELECT 1; COMMIT; BEGIN; SELECT 1/0; ROLLBACK; SELECT 2',
		on_error_stop => 0);
	is($out, "1\n2", "transaction control is never refused ($order)");
	$node->safe_psql('db2', 'DELETE FROM guardrails.digest_limits');
}

done_testing();
