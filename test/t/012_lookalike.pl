# Rules tables and the DDL history are the extension's only when pg_depend
# says so and their columns are the expected ones: a database owner who
# builds look-alikes in a schema called guardrails, where the extension is
# not created, neither crashes the server nor gets rules applied, nor has
# the superuser worker write into (and fire triggers on) a table of theirs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lookalike');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
restart_after_crash = on
guardrails.database = 'ops'
});
$node->start;

# A database for the DDL history owned by an ordinary role, with a
# look-alike guardrails.ddl_history that has the right columns and a
# trigger that would make its owner superuser if the worker inserted.
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE ops OWNER mallory;
	CREATE DATABASE lookalike OWNER mallory;
	CREATE EXTENSION pg_guardrails;
});
$node->safe_psql('ops', q{
	SET ROLE mallory;
	CREATE SCHEMA guardrails;
	CREATE TABLE guardrails.ddl_history (
		system_identifier bigint NOT NULL, seq bigint NOT NULL,
		start_time timestamptz NOT NULL, duration_ms double precision NOT NULL,
		database name, role name, session_role name, client_addr inet,
		application_name text, pid integer, xid xid8, statement_xid xid8,
		toplevel boolean, command_tag text NOT NULL, object_type text,
		object_identity text, query text, query_truncated boolean,
		outcome text NOT NULL, sqlstate text, message text,
		policy_warnings text[], lock_wait_ms double precision,
		rolled_back boolean, PRIMARY KEY (system_identifier, seq));
	CREATE FUNCTION guardrails.escalate() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; RETURN NEW; END $$;
	CREATE TRIGGER escalate BEFORE INSERT ON guardrails.ddl_history
		FOR EACH ROW EXECUTE FUNCTION guardrails.escalate();
});
# Look-alike rules tables with the right columns: no rule applies.
my $probe = 'SELECT 1 AS lookalike_probe';
my $queryid = $node->safe_psql('postgres',
	"SELECT guardrails.query_digest('$probe')");
$node->safe_psql('lookalike', qq{
	SET ROLE mallory;
	CREATE SCHEMA guardrails;
	CREATE TABLE guardrails.digest_limits (
		queryid bigint NOT NULL, role regrole, per_second double precision,
		burst integer, max_concurrent integer, action text NOT NULL DEFAULT 'limit',
		note text, created_by name NOT NULL DEFAULT CURRENT_USER,
		created_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz);
	INSERT INTO guardrails.digest_limits (queryid, action) VALUES ($queryid, 'block');
	CREATE TABLE guardrails.disabled_indexes (
		index_schema name NOT NULL, index_name name NOT NULL, indexrelid oid,
		disabled_at timestamptz NOT NULL DEFAULT now(),
		disabled_by name NOT NULL DEFAULT CURRENT_USER, reason text,
		scans_at_disable bigint);
	CREATE TABLE t (id int PRIMARY KEY);
	INSERT INTO guardrails.disabled_indexes (index_schema, index_name)
		VALUES ('public', 't_pkey');
});
my ($ret, $out, $err) = $node->psql('lookalike', $probe);
is($ret, 0, 'a digest "blocked" by a look-alike digest_limits runs');
like($node->safe_psql('lookalike', q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT * FROM t WHERE id = 1}),
	qr/Index Only Scan using t_pkey|Index Scan using t_pkey/,
	'an index "disabled" by a look-alike disabled_indexes is used');

# Look-alikes with other columns: the statements of the issue, for both
# rules tables, in a fresh database each.
for my $table ('disabled_indexes', 'digest_limits')
{
	my $db = "bad_$table";
	$node->safe_psql('postgres', "CREATE DATABASE $db OWNER mallory");
	($ret, $out, $err) = $node->psql($db, q{
		SET ROLE mallory;
		CREATE SCHEMA guardrails;
		CREATE TABLE guardrails.} . $table . q{ (a int, b int);
		INSERT INTO guardrails.} . $table . q{ VALUES (1, 1);
		CREATE TABLE t(id int PRIMARY KEY);
		SELECT * FROM t WHERE id = 1;
		SELECT * FROM t WHERE id = 1;
		SELECT count(*) FROM pg_class WHERE oid = 1259;
	});
	is($ret, 0, "a look-alike $table (a int, b int) breaks no query");
	like($err, qr/^$/, "and says nothing to the client ($table)");
}
my $log = slurp_file($node->logfile);
ok($log !~ /terminated by signal/, 'no process was terminated by a signal');
my $said = () = $log =~ /table "guardrails\.digest_limits" in database "bad_digest_limits" is not the one of extension "pg_guardrails"/g;
is($said, 1, 'a bad look-alike is logged once per backend, not per query');
ok($log =~ /"guardrails\.disabled_indexes" in database "bad_disabled_indexes".*\n.*DETAIL:  Extension "pg_guardrails" is not created in this database/,
	'with what is wrong with it');

# The real tables keep working, in the database where the extension is.
$node->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY);
	SELECT guardrails.disable_index('t_pkey', force => true);
});
like($node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT * FROM t WHERE id = 1}),
	qr/Seq Scan/, 'the extension\'s own disabled_indexes applies');
$node->safe_psql('postgres', "SELECT guardrails.block_digest($queryid)");
($ret, $out, $err) = $node->psql('postgres', $probe);
like($err, qr/query digest -?\d+ is blocked/, 'and its own digest_limits');
$node->safe_psql('postgres', "SELECT guardrails.unlimit_digest($queryid)");

# The worker, with the look-alike ddl_history.
# the worker started before ops existed: give it a fresh start
$node->restart;
$node->safe_psql('postgres', 'CREATE TABLE some_ddl (a int)');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM guardrails.ddl_log WHERE query ~ 'some_ddl'}),
	'the DDL is in the ring');
my $said_history = 0;
for (1 .. 20)
{
	$said_history = slurp_file($node->logfile) =~
	  /table "guardrails\.ddl_history" in database "ops" is not the one of extension "pg_guardrails"/;
	last if $said_history;
	sleep 1;
}
ok($said_history, 'the worker says the look-alike ddl_history is not the extension\'s');
is($node->safe_psql('ops', 'SELECT count(*) FROM guardrails.ddl_history'),
	'0', 'the worker inserted nothing into the look-alike');
is($node->safe_psql('postgres',
	"SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"),
	'f', 'its trigger never ran as superuser');


$node->stop;
done_testing();
