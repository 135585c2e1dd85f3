# Issue 15's new surface, attacked by hostile roles that are not the
# superuser: guardrails.check_migration() (callable by PUBLIC), the
# classification of utility statements and the DDL lock guard that now
# covers TRUNCATE, LOCK TABLE, REINDEX, VACUUM FULL and CLUSTER (with
# session locks for VACUUM FULL), and the hybrid lock wait.
#
# Each test asserts the safe behaviour:
# - check_migration() executes nothing: no function of the caller's or of
#   anyone else's runs, not through the constant folding of a check
#   constraint, not through a cast;
# - check_migration() can be cancelled, however long the script;
# - malformed, huge, deeply nested or multibyte scripts give errors or
#   verdicts, never a crash;
# - a statement the role may not run on someone else's table takes no lock
#   there, and does not stall that table's readers;
# - no session lock outlives its statement (errors, cancels, terminations);
# - a read-only transaction does not open a way around the no-queue wait.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('attack15');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_lock_timeout = '2s'
guardrails.ddl_policy_min_size = 0
guardrails.database = 'postgres'
});
$node->start;
my $connstr = $node->connstr('postgres');

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE attacker LOGIN;
	CREATE ROLE victim LOGIN;
	GRANT CREATE ON SCHEMA public TO attacker, victim;
	SET ROLE victim;
	CREATE TABLE vt (id int PRIMARY KEY, c int);
	INSERT INTO vt SELECT g, g FROM generate_series(1, 20000) g;
	RESET ROLE;
	SET ROLE attacker;
	CREATE TABLE at (id int PRIMARY KEY, c int);
	INSERT INTO at SELECT g, g FROM generate_series(1, 20000) g;
	CREATE TABLE log (who text);
	GRANT INSERT, SELECT ON log TO PUBLIC;
	-- what the attacker wants to run in other sessions: any side effect,
	-- here an insert, and in real life ALTER ROLE attacker SUPERUSER
	CREATE FUNCTION h() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
	BEGIN
		IF current_setting('atk.go', true) = 'on' THEN
			INSERT INTO public.log VALUES (current_user);
		END IF;
		RETURN 1;
	END$$;
	-- immutable, so that constant folding evaluates it
	CREATE FUNCTION g() RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN PERFORM public.h(); RETURN true; END$$;
	ALTER TABLE at ADD CONSTRAINT at_g CHECK (g() OR c > 0);
	CREATE TYPE mood AS ENUM ('ok');
	CREATE FUNCTION g2() RETURNS mood LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN PERFORM public.h(); RETURN 'ok'; END$$;
	-- a SQL cast function that inlines to a constant call of g2()
	CREATE FUNCTION tomood(int) RETURNS mood LANGUAGE sql IMMUTABLE
		AS $$ SELECT public.g2() $$;
	CREATE CAST (int AS mood) WITH FUNCTION tomood(int) AS ASSIGNMENT;
	RESET ROLE;
});

# --- check_migration() executes nothing --------------------------------

for my $role ('attacker', 'postgres')
{
	for my $sql ('ALTER TABLE public.at ALTER COLUMN c SET NOT NULL',
		'ALTER TABLE public.at ALTER COLUMN c TYPE public.mood')
	{
		$node->safe_psql('postgres', 'TRUNCATE log');
		my ($ret, $out, $err) = $node->psql('postgres', qq{
			SET ROLE $role; SET atk.go = 'on';
			SELECT rule, certain FROM guardrails.check_migration('$sql')});
		is($ret, 0, "check_migration as $role: $sql: runs");
		is($node->safe_psql('postgres', 'SELECT count(*) FROM log'), '0',
			"check_migration as $role: $sql: ran no user function");
	}
}

# A type change through a user-defined cast is reported, as uncertain.
is($node->safe_psql('postgres', q{
	SELECT string_agg(rule || ':' || certain, ',')
	FROM guardrails.check_migration('ALTER TABLE public.at ALTER COLUMN c TYPE public.mood')}),
	'table_rewrite:false', 'a type change through a user cast: uncertain rewrite');

# The precision is kept: widening a varchar rewrites nothing.
$node->safe_psql('postgres', q{
	SET ROLE attacker;
	CREATE TABLE vc (s varchar(10));
	INSERT INTO vc SELECT 'x' FROM generate_series(1, 20000)});
is($node->safe_psql('postgres', q{
	SET ROLE attacker;
	SELECT count(*) FROM guardrails.check_migration('ALTER TABLE vc ALTER COLUMN s TYPE varchar(20)')}),
	'0', 'widening a varchar: no verdict');

# --- check_migration() on hostile scripts -------------------------------

# A long script never outlives statement_timeout by much: it is cancelled,
# or done before the timeout.  (The old code, quadratic in the script and
# deaf to interrupts, took a minute for 60000 statements.)
{
	my $start = time;
	my ($ret, $out, $err) = $node->psql('postgres', q{
		SET ROLE attacker; SET statement_timeout = '200ms';
		SELECT count(*) FROM guardrails.check_migration(
			repeat('ALTER TABLE public.at RENAME COLUMN c TO d; ', 400000))});
	my $secs = time - $start;
	ok($err =~ /statement timeout/ || ($ret == 0 && $secs < 1),
		"a 400000-statement script: cancelled by statement_timeout, or done before it ($secs s)");
	cmp_ok($secs, '<', 6, "a 400000-statement script: promptly ($secs s)");
}

# Malformed and deeply nested scripts: errors, never a crash.
for my $script (
	q{repeat('(', 100000)},
	q{'SELECT ' || repeat('(', 5000) || '1' || repeat(')', 5000)},
	q{'ALTER TABLE at ADD COLUMN z int DEFAULT 1' || repeat('+1', 100000)},
	q{'ALTER TABLE at ALTER COLUMN c TYPE bigint USING 1' || repeat('+1', 100000)},
	q{'ALTER TABLE at ADD CONSTRAINT k CHECK (c > 1' || repeat(' AND c > 1', 100000) || ')'},
	q{'EXPLAIN ANALYZE ' || repeat('EXPLAIN ANALYZE ', 1000) || 'CREATE TABLE x AS SELECT 1'},
	q{'ALTER TABLE at ALTER COLUMN c TYPE ' || repeat('a', 10000)},
	q{'ALTER TABLE a.b.c.d.e RENAME TO f; DROP TABLE a.b.c.d.e'},
	q{'bogus'}, q{''}, q{';;;;'}, q{'/* unterminated'}, q{E'\\\\'},
	q{'BEGIN; COMMIT; COMMIT; ROLLBACK; PREPARE TRANSACTION ''x'''})
{
	$node->psql('postgres', qq{SET ROLE attacker;
		SELECT count(*) FROM guardrails.check_migration($script)});
	is($node->safe_psql('postgres', 'SELECT 1'), '1',
		'server alive after check_migration(' . substr($script, 0, 40) . ')');
}

# Multibyte text before a statement: the line is counted in lines.
is($node->safe_psql('postgres', q{SET ROLE attacker;
	SELECT line FROM guardrails.check_migration('-- ' || chr(233) || chr(26085)
		|| E'\n/* ' || chr(252) || E'\n */ ALTER TABLE at RENAME TO x')}),
	'3', 'the line of a statement after multibyte comments');

# Other users' tables: no size shown for a table the caller may not change.
is($node->safe_psql('postgres', q{SET ROLE attacker;
	SELECT count(*) FROM guardrails.check_migration('ALTER TABLE vt RENAME TO x; VACUUM FULL vt; CREATE INDEX ON vt (c)')
	WHERE table_size > 0}),
	'0', 'no size of a table the caller does not own');

# --- statements on someone else's table ---------------------------------

# A reader holds ACCESS SHARE on vt and at throughout.
my $reader = $node->background_psql('postgres');
$reader->query_safe(
	'BEGIN; SELECT count(*) FROM vt; SELECT count(*) FROM at; SELECT count(*) FROM vc;');

for my $sql ('TRUNCATE vt',
	'BEGIN; LOCK TABLE vt IN ACCESS EXCLUSIVE MODE; COMMIT',
	'BEGIN; LOCK TABLE vt IN SHARE MODE; COMMIT',
	'VACUUM FULL vt', 'REINDEX TABLE vt', 'REINDEX INDEX vt_pkey',
	'CLUSTER vt USING vt_pkey', 'DROP TABLE vt', 'DROP INDEX vt_pkey',
	'ALTER TABLE vt ADD COLUMN q int', 'CREATE INDEX ON vt (c)',
	'ALTER TABLE vt RENAME TO vt2',
	'CREATE TABLE fk (id int REFERENCES vt (id))')
{
	my $start = time;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET ROLE attacker; SET statement_timeout = '6s'; $sql");
	my $secs = time - $start;
	unlike($err, qr/lock timeout|statement timeout/,
		"attacker: $sql: refused without waiting for a lock");
	cmp_ok($secs, '<', 1, "attacker: $sql: at once ($secs s)");
}

# --- session locks --------------------------------------------------------

# Run $sql as the attacker in the background, as one query string (psql
# -c), with extra options $opts; return the handle.
sub start_attacker
{
	my ($sql, $out, $err, $opts) = @_;
	$opts //= '';
	return IPC::Run::start(
		[ 'psql', '-XAtq', '-d',
		  "$connstr user=attacker options='-c statement_timeout=8s $opts'",
		  '-c', $sql ],
		'>', $out, '2>', $err);
}

# The attacker's backend (the one running $pattern), once it waits.
sub waiting_pid
{
	my ($pattern) = @_;
	for (1 .. 100)
	{
		my $pid = $node->safe_psql('postgres', qq{
			SELECT pid FROM pg_stat_activity
			WHERE usename = 'attacker' AND query LIKE '$pattern%'
			  AND state = 'active'});
		return $pid if $pid ne '';
		sleep(0.05);
	}
	return '';
}

# Relation locks held or awaited by sessions other than the reader.
sub other_locks
{
	return $node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname IN ('at', 'vt', 'at_pkey', 'vt_pkey')
		  AND l.pid <> pg_backend_pid()
		  AND l.pid NOT IN (SELECT pid FROM pg_stat_activity
							WHERE state = 'idle in transaction')});
}

# VACUUM FULL times out behind the reader: no lock left behind.
{
	my ($ret, $out, $err) = $node->psql('postgres',
		'SET ROLE attacker; VACUUM FULL at');
	like($err, qr/lock timeout/, 'VACUUM FULL behind a reader: times out');
	is(other_locks(), '0', 'VACUUM FULL timed out: no lock left');
}

# VACUUM FULL cancelled, or its session terminated, in its lock wait, in
# each wait mode: it ends at once, and leaves no lock behind.
for my $mode ('queue', 'hybrid', 'retry')
{
	$node->safe_psql('postgres', qq{
		ALTER SYSTEM SET guardrails.ddl_lock_wait = '$mode';
		ALTER SYSTEM SET guardrails.ddl_lock_timeout = '20s';
		SELECT pg_reload_conf()});
	sleep(0.3);
	for my $how ('pg_cancel_backend', 'pg_terminate_backend')
	{
		my ($out, $err) = ('', '');
		my $h = start_attacker('VACUUM FULL at', \$out, \$err);
		my $pid = waiting_pid('VACUUM FULL at');
		isnt($pid, '', "$mode, $how: VACUUM FULL is waiting");
		sleep(0.3);
		my $start = time;
		$node->safe_psql('postgres', "SELECT $how($pid)");
		$h->finish;
		my $secs = time - $start;
		{
			# Known defect, found by issue 20's CI run on 18: in hybrid
			# mode the statement waits in the lock queue under a 30 ms
			# lock_timeout, and a cancel that arrives between that timeout
			# firing and the backend handling it is reported by
			# PostgreSQL as the lock timeout, which hybrid mode takes as
			# the end of a slice: the cancel is lost (a second one works).
			local $TODO = 'a cancel that coincides with a 30 ms slice is lost'
			  if $mode eq 'hybrid' && $how eq 'pg_cancel_backend';
			cmp_ok($secs, '<', 1, "$mode, $how: VACUUM FULL ends at once ($secs s)");
		}
		is(other_locks(), '0', "$mode, $how: no lock left");
		# a reader is not blocked by anything left over
		my ($rret) = $node->psql('postgres',
			"SET lock_timeout = '200ms'; SELECT count(*) FROM at");
		is($rret, 0, "$mode, $how: at is readable afterwards");
	}
}
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET guardrails.ddl_lock_wait;
	ALTER SYSTEM RESET guardrails.ddl_lock_timeout;
	SELECT pg_reload_conf()});
sleep(0.3);

# VACUUM FULL where PostgreSQL refuses it: no lock taken, none left.
for my $sql ('BEGIN; VACUUM FULL at; COMMIT', 'VACUUM FULL at; SELECT 1',
	'DO $$BEGIN EXECUTE $q$VACUUM FULL at$q$; END$$')
{
	my ($out, $err) = ('', '');
	my $start = time;
	my $h = start_attacker($sql, \$out, \$err);
	$h->finish;
	my $secs = time - $start;
	like($err, qr/cannot run inside a transaction block|cannot be executed from a function/,
		"$sql: refused");
	cmp_ok($secs, '<', 1, "$sql: at once ($secs s)");
	is(other_locks(), '0', "$sql: no lock left");
}

# --- a read-only transaction is no way around the no-queue wait -----------

for my $case (
	[ 'BEGIN READ ONLY; LOCK TABLE at IN ACCESS EXCLUSIVE MODE; COMMIT', 'at' ],
	[ 'VACUUM FULL at', 'at' ],
	[ 'REINDEX TABLE at', 'at' ],
	[ 'CLUSTER at USING at_pkey', 'at' ])
{
	my ($sql, $read) = @$case;
	my ($out, $err) = ('', '');
	my $h = start_attacker($sql, \$out, \$err,
		'-c default_transaction_read_only=on');
	sleep(0.5);
	my $rstart = time;
	my ($rret) = $node->psql('postgres',
		"SET statement_timeout = '8s'; SELECT count(*) FROM $read");
	my $rwait = time - $rstart;
	$h->finish;
	like($err, qr/lock timeout/, "read only: $sql: gives up behind the reader");
	is($rret, 0, "read only: $sql: the later reader succeeds");
	cmp_ok($rwait, '<', 0.5, "read only: $sql: and waits under 0.5 s ($rwait s)");
}

$reader->quit;

# --- a database owner ----------------------------------------------------

# The owner of a database may VACUUM every table there but the shared
# catalogs, its owners' or not: its VACUUM FULL of the superuser's table is
# guarded as the table owner's would be.  A whole-database VACUUM FULL
# names no table to lock beforehand, and VACUUM's first commit ends the
# transaction that held the statement's lock_timeout: its waits for each
# table are not bounded (TODO: not a small fix).
$node->safe_psql('postgres', 'CREATE DATABASE atkdb OWNER attacker');
$node->safe_psql('atkdb', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE st (id int);
	INSERT INTO st SELECT generate_series(1, 1000)});
my $dbconn = $node->connstr('atkdb');
my $dbreader = $node->background_psql('atkdb');
$dbreader->query_safe('BEGIN; SELECT count(*) FROM st;');
for my $sql ('VACUUM FULL st', 'VACUUM FULL')
{
	local $TODO = 'a whole-database VACUUM FULL has no lock timeout after its first commit'
	  if $sql eq 'VACUUM FULL';
	my ($out, $err) = ('', '');
	my $start = time;
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d',
		  "$dbconn user=attacker options='-c statement_timeout=8s'",
		  '-c', $sql ],
		'>', \$out, '2>', \$err);
	sleep(0.5);
	my $rstart = time;
	my ($rret) = $node->psql('atkdb',
		"SET statement_timeout = '9s'; SELECT count(*) FROM st");
	my $rwait = time - $rstart;
	$h->finish;
	my $secs = time - $start;
	like($err, qr/lock timeout/, "database owner: $sql: gives up behind the reader");
	cmp_ok($secs, '<', 3, "database owner: $sql: within ddl_lock_timeout + 1 s ($secs s)");
	cmp_ok($rwait, '<', 0.5, "database owner: $sql: a later reader waits under 0.5 s ($rwait s)");
}
$dbreader->quit;

# No backend crashed at any point.
unlike(slurp_file($node->logfile), qr/terminated by signal/,
	'no backend terminated by a signal');
$node->stop;
done_testing();
