# The extension's own statements are never limited by digest rules: the
# DDL-history worker's INSERT, the statements of its event triggers and
# those inside its functions (unlimit_digest's DELETE).  An ordinary
# statement, also one run inside a user's function, still is.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('own_statements');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails, pg_stat_statements'
pg_stat_statements.track = all
guardrails.database = 'postgres'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE EXTENSION pg_stat_statements;
	CREATE ROLE admin1 LOGIN IN ROLE guardrails_admin;
	CREATE TABLE t (id int PRIMARY KEY);
	CREATE FUNCTION user_func() RETURNS bigint LANGUAGE plpgsql AS
		$$ DECLARE n bigint;
		BEGIN SELECT count(*) INTO n FROM t WHERE id > 100; RETURN n; END $$;
	GRANT EXECUTE ON FUNCTION user_func() TO admin1;
	GRANT SELECT ON t TO admin1;
});

# The digest of the worker's INSERT: the same statement with the same
# parameter types (src/ddl/ddl_worker.c).
my $insert = $node->safe_psql('postgres', q{
	PREPARE ins(int8, int8, timestamptz, float8, name, name, name, text, text,
				int4, xid8, xid8, bool, text, text, text, text, bool, text,
				text, text, text, float8, bool) AS
	INSERT INTO guardrails.ddl_history (system_identifier, seq, start_time, duration_ms, database, role, session_role, client_addr, application_name, pid, xid, statement_xid, toplevel, command_tag, object_type, object_identity, query, query_truncated, outcome, sqlstate, message, policy_warnings, lock_wait_ms, rolled_back) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.inet, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, pg_catalog.string_to_array($22, ','), $23, $24) ON CONFLICT DO NOTHING;
	EXPLAIN (VERBOSE, COSTS OFF) EXECUTE ins(1, 1, now(), 0, '', '', '', NULL, '',
		0, NULL, NULL, true, '', '', '', '', false, 'ok', '', '', '', 0, false);
});
ok($insert =~ /Query Identifier: (-?\d+)/, 'the digest of the worker\'s INSERT');
my $insert_id = $1;

# The digests of statements inside the extension's functions.
$node->safe_psql('postgres', q{
	SELECT guardrails.unlimit_digest(424242);
	CREATE TABLE t2 (a int);
});
my $delete_id = $node->safe_psql('postgres', q{
	SELECT queryid FROM pg_stat_statements
	WHERE query LIKE 'DELETE FROM guardrails.digest_limits%'});
ok($delete_id =~ /^-?\d+$/, 'the digest of unlimit_digest\'s DELETE');
my $trigger_id = $node->safe_psql('postgres', q{
	SELECT queryid FROM pg_stat_statements
	WHERE query LIKE 'NOT EXISTS (SELECT $1 FROM guardrails.disabled_indexes)%'});
ok($trigger_id =~ /^-?\d+$/, 'the digest of an event trigger\'s statement');
my $user_id = $node->safe_psql('postgres',
	q{SELECT guardrails.query_digest('SELECT count(*) FROM t WHERE id > 100')});

# A non-superuser operator blocks all of them.
$node->safe_psql('postgres', qq{
	SET ROLE admin1;
	SELECT guardrails.block_digest($insert_id);
	SELECT guardrails.block_digest($delete_id);
	SELECT guardrails.block_digest($trigger_id);
	SELECT guardrails.block_digest($user_id);
});

# The worker still stores every entry.
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE TABLE after_block (a int)');
is($ret, 0, 'DDL runs: the event trigger\'s statements are not blocked');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM guardrails.ddl_history
	WHERE object_identity = 'public.after_block'}),
	'the worker\'s INSERT is never blocked');
unlike(slurp_file($node->logfile), qr/could not store DDL log entry/,
	'no entry was given up');

# The event triggers still run (DDL works) and unlimit_digest works.
($ret, $out, $err) = $node->psql('postgres', 'CREATE TABLE t3 (a int)');
is($ret, 0, 'and DDL keeps running');
is($err, '', 'without an error');
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE admin1; SELECT guardrails.unlimit_digest($user_id)");
is($ret, 0, 'unlimit_digest works although its DELETE\'s digest is blocked');
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE admin1; SELECT guardrails.block_digest($user_id)");
is($ret, 0, 'and block_digest');

# Ordinary statements are still blocked, at top level and in a user's
# function.
($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE admin1; SELECT count(*) FROM t WHERE id > 100');
like($err, qr/query digest -?\d+ is blocked/, 'a user statement is blocked');
($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE admin1; SELECT user_func()');
like($err, qr/query digest -?\d+ is blocked/,
	'also inside a user\'s function');
# After an error inside the extension's function, the next statements are
# subject to the rules again.
($ret, $out, $err) = $node->psql('postgres', q{
	SET ROLE admin1;
	SELECT guardrails.unlimit_digest(NULL);
	SELECT count(*) FROM t WHERE id > 100});
like($err, qr/queryid must not be null/, 'an extension function fails');
($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE admin1; DO $$ BEGIN PERFORM guardrails.unlimit_digest(NULL); EXCEPTION WHEN OTHERS THEN NULL; END $$; SELECT count(*) FROM t WHERE id > 100');
like($err, qr/query digest -?\d+ is blocked/,
	'and after it, user statements are blocked again');

$node->stop;
done_testing();
