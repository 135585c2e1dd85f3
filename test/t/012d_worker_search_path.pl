# The DDL-history worker runs as the bootstrap superuser in the database
# named by guardrails.database: the owner of that database must not be able
# to run code in it through search_path (ALTER DATABASE ... SET
# search_path) and an operator of their own.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker_search_path');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.database = 'ops'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE ops OWNER mallory;
});
$node->safe_psql('ops', 'CREATE EXTENSION pg_guardrails');

# What the owner of ops can do: a search_path for the database, an
# operator for every type the worker compares, each one escalating.
$node->safe_psql('ops', q{
	SET ROLE mallory;
	CREATE SCHEMA evil;
	CREATE FUNCTION evil.escalate() RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		EXECUTE 'ALTER ROLE mallory SUPERUSER';
	EXCEPTION WHEN OTHERS THEN NULL;
	END $$;
	CREATE FUNCTION evil.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM evil.escalate(); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
	CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.eq);
	CREATE FUNCTION evil.teq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM evil.escalate(); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
	CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.teq);
	CREATE FUNCTION evil.lt(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM evil.escalate(); RETURN $1 OPERATOR(pg_catalog.<) $2; END $$;
	CREATE OPERATOR evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.lt);
	CREATE FUNCTION evil.minus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS $$
	BEGIN PERFORM evil.escalate(); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
	CREATE OPERATOR evil.- (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = evil.minus);
	ALTER DATABASE ops SET search_path = evil, pg_catalog;
});
# the worker picks the database's settings up when it connects
$node->restart;

# The test's own sessions in ops must not fall for it either: they pin
# their search_path or qualify their operators.
$node->safe_psql('ops', q{
	SET search_path = public, pg_catalog;
	CREATE TABLE t1 (a int);
	BEGIN; CREATE TABLE t2 (a int); SELECT pg_sleep(1.5); COMMIT;
});
ok($node->poll_query_until('ops', q{
	SELECT pg_catalog.count(*) OPERATOR(pg_catalog.=) 2
	FROM guardrails.ddl_history
	WHERE object_identity OPERATOR(pg_catalog.=) ANY ('{public.t1,public.t2}')}),
	'the worker stores the DDL history');
ok($node->poll_query_until('ops', q{
	SELECT NOT EXISTS (SELECT FROM guardrails.ddl_history
					   WHERE rolled_back IS NULL)}),
	'and settles rolled_back');
sleep 2;
is($node->safe_psql('postgres',
	"SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"),
	'f', 'the owner of its database did not become superuser');

$node->stop;
done_testing();
