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
# - a rule or a disabled index written by hand is signed by its writer,
#   whatever the admin puts in created_by and disabled_by;
# - a dump by the database owner carries no rule and no one else's DDL; a
#   superuser's dump and restore keep every rule as it was signed, and the
#   rules hold; the DDL history, with text from a SQL_ASCII database,
#   restores;
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
guardrails.connection_rate = 5
guardrails.connection_burst = 10
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

# --- 2. pg_dump and pg_restore of every table the extension owns -----------

# Rules in app, by the delegated admin; DDL with a secret-looking marker by
# the victim, stored in ddl_history (in postgres, guardrails.database).
# A digest depends on the OIDs of the tables it reads, so the block to
# check after a restore reads none.
my $blocked_sql = 'SELECT count(*) FROM public.t WHERE c > 0';
my $portable_sql = 'SELECT count(*) FROM generate_series(1, 10) g WHERE g > 0';
my $qid = $node->safe_psql('app', qq{
	SET ROLE admin;
	SELECT guardrails.block_query('$blocked_sql');
	SELECT guardrails.block_query('$portable_sql');
	SELECT guardrails.disable_index('public.t_c');
	SELECT guardrails.limit_digest(4242, 5, role => 'plain')});
($qid) = split /\n/, $qid;

# The admin writes the tables by hand, as the README allows, and signs a
# block and a disabled index with the superuser's name and a date long
# past: who made a rule, and when, must be the writer and now.
$node->safe_psql('app', 'CREATE INDEX t_c2 ON public.t (c, id)');
$node->safe_psql('app', q{
	SET ROLE admin;
	INSERT INTO guardrails.digest_limits (queryid, action, created_by, created_at)
	VALUES (31337, 'block', 'postgres', '2000-01-01');
	INSERT INTO guardrails.disabled_indexes
		(index_schema, index_name, disabled_by, disabled_at)
	VALUES ('public', 't_c2', 'postgres', '2000-01-01')});
is($node->safe_psql('app', q{
	SELECT created_by || ' ' || (created_at > now() - interval '1 hour')
	FROM guardrails.digest_limits WHERE queryid = 31337}),
	'admin true', 'a rule written by hand is signed by its writer, now');
is($node->safe_psql('app', q{
	SELECT disabled_by || ' ' || (disabled_at > now() - interval '1 hour')
	FROM guardrails.disabled_indexes WHERE index_name = 't_c2'}),
	'admin true', 'an index disabled by hand is signed by its writer, now');
$node->safe_psql('app', q{
	SET ROLE admin;
	UPDATE guardrails.digest_limits SET created_by = 'postgres',
		created_at = '2000-01-01' WHERE queryid = 31337;
	UPDATE guardrails.disabled_indexes SET disabled_by = 'postgres',
		disabled_at = '2000-01-01' WHERE index_name = 't_c2'});
is($node->safe_psql('app', q{
	SELECT created_by || ' ' || (created_at > now() - interval '1 hour')
	FROM guardrails.digest_limits WHERE queryid = 31337}
	. q{ UNION ALL SELECT disabled_by || ' ' || (disabled_at > now() - interval '1 hour')
	FROM guardrails.disabled_indexes WHERE index_name = 't_c2'}),
	"admin true\nadmin true", 'and an update cannot sign them otherwise');
$node->safe_psql('postgres', q{
	SET ROLE victim;
	CREATE TEMP TABLE victim_marker_8d1f (a int)});
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM guardrails.ddl_history
	WHERE query LIKE '%victim_marker_8d1f%'}) or die 'the worker stored nothing';

# The database owner's and the ordinary role's dumps: no rule, no one
# else's DDL (pg_dump reads the configuration tables, which they may not).
for my $role ('dbowner', 'plain', 'creator')
{
	for my $db ('app', 'postgres')
	{
		my ($dout, $derr) = ('', '');
		IPC::Run::run([ 'pg_dump', '-d', $node->connstr($db) . " user=$role" ],
			'>', \$dout, '2>', \$derr);
		unlike($dout, qr/victim_marker_8d1f/, "$role dumps $db: no one else's DDL");
		unlike($dout, qr/\Q$qid\E|4242/, "$role dumps $db: no rule");
		unlike($dout, qr/COPY guardrails\.\w+ .*\n[^\\]/,
			"$role dumps $db: no row of the extension's tables");
	}
}

# The superuser's dump, restored by the superuser into a database that the
# database owner owns: every rule comes back and holds.
my $dump = $node->basedir . '/app.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('app') ],
	'the superuser dumps app');
$node->safe_psql('postgres', 'CREATE DATABASE restored OWNER dbowner');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ],
	'the superuser restores it');
my $rules = q{
	SELECT string_agg(queryid || ':' || action || ':' || created_by || ':'
		|| created_at, ',' ORDER BY queryid)
	FROM guardrails.digest_limits
	UNION ALL
	SELECT string_agg(index_name || ':' || disabled_by || ':' || disabled_at,
		',' ORDER BY index_name)
	FROM guardrails.disabled_indexes};
is($node->safe_psql('restored', $rules), $node->safe_psql('app', $rules),
	'the restored rules are the dumped ones, signed as they were');
($ret, $out, $err) = $node->psql('restored', "SET ROLE plain; $portable_sql");
like($err, qr/query digest -?\d+ is blocked/, 'the restored block holds');
is($node->safe_psql('restored', q{
	SELECT count(*) FROM guardrails.disabled_indexes
	WHERE indexrelid = 'public.t_c'::regclass}),
	'1', 'the restored disabled index names the restored index');
unlike($node->safe_psql('restored', q{
	SET enable_seqscan = off; SET enable_bitmapscan = on;
	EXPLAIN (COSTS OFF) SELECT * FROM public.t WHERE c = 5}),
	qr/t_c/, 'and the planner does not use it');
is($node->safe_psql('restored', q{
	SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
	WHERE c.relnamespace = 'guardrails'::regnamespace AND NOT r.rolsuper}),
	'0', 'the restored extension\'s relations belong to a superuser');

# The same restore into databases whose owner made the schema first.  The
# dump gives the schema to its owner in the dump (a superuser), so an
# empty one is taken over, and its maker loses it; one that holds an
# object of its maker is refused (the object could shadow the extension's
# functions), and the extension is not installed there.
$node->safe_psql('postgres', 'CREATE DATABASE restored2 OWNER dbowner');
$node->safe_psql('restored2', 'SET ROLE dbowner; CREATE SCHEMA guardrails');
my ($rout, $rerr) = ('', '');
IPC::Run::run([ 'pg_restore', '-d', $node->connstr('restored2'), $dump ],
	'>', \$rout, '2>', \$rerr);
is($node->safe_psql('restored2', q{
	SELECT r.rolsuper FROM pg_extension e
		JOIN pg_namespace n ON n.oid = e.extnamespace
		JOIN pg_roles r ON r.oid = n.nspowner
	WHERE e.extname = 'pg_guardrails'}),
	't', 'a restore over the database owner\'s empty schema: a superuser owns it then');
($ret, $out, $err) = $node->psql('restored2', 'SET ROLE dbowner; DROP SCHEMA guardrails CASCADE');
like($err, qr/must be owner of schema guardrails/,
	'and the database owner cannot drop it');

$node->safe_psql('postgres', 'CREATE DATABASE restored3 OWNER dbowner');
$node->safe_psql('restored3', q{SET ROLE dbowner; CREATE SCHEMA guardrails;
	CREATE FUNCTION guardrails.bait() RETURNS int LANGUAGE sql AS 'SELECT 1'});
($rout, $rerr) = ('', '');
IPC::Run::run([ 'pg_restore', '-d', $node->connstr('restored3'), $dump ],
	'>', \$rout, '2>', \$rerr);
like($rerr, qr/role "dbowner" owns objects in schema "guardrails"/,
	'a restore over a schema holding the database owner\'s function: CREATE EXTENSION refused');
is($node->safe_psql('restored3', q{
	SELECT count(*) FROM pg_extension WHERE extname = 'pg_guardrails'}),
	'0', 'and the extension is not there');

# A non-superuser cannot restore the extension's tables at all.
$node->safe_psql('postgres', 'CREATE DATABASE restored4 OWNER dbowner');
($rout, $rerr) = ('', '');
IPC::Run::run([ 'pg_restore', '-d', $node->connstr('restored4') . ' user=dbowner', $dump ],
	'>', \$rout, '2>', \$rerr);
is($node->safe_psql('restored4', q{
	SELECT count(*) FROM pg_extension WHERE extname = 'pg_guardrails'}),
	'0', 'the database owner\'s restore creates no extension');

# --- 3. ALTER EXTENSION UPDATE from 1.0, prepared by the attackers --------

$node->safe_psql('postgres', 'CREATE DATABASE old OWNER dbowner');
$node->safe_psql('old', q{
	CREATE EXTENSION pg_guardrails VERSION '1.0';
	GRANT CREATE ON SCHEMA public TO creator;
	CREATE TABLE public.ot (id int PRIMARY KEY, c int);
	CREATE INDEX ot_c ON public.ot (c)});
# What each attacker leaves for the superuser's update: traps in public
# (the function and operators the update script calls, with exact
# argument types), and, by the admin, rows 1.0 let it write.
$node->safe_psql('old', q{
	SET ROLE creator;
	CREATE TABLE public.trap_log (who name, what text);
	GRANT INSERT ON public.trap_log TO PUBLIC;
	CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.trap_log VALUES (current_user, 'format'); RETURN $1; END$$;
	CREATE FUNCTION public.eq(name, text) RETURNS bool LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.trap_log VALUES (current_user, 'eq'); RETURN $1::text = $2; END$$;
	CREATE OPERATOR public.= (LEFTARG = name, RIGHTARG = text, FUNCTION = public.eq);
	CREATE FUNCTION public.pg_xact_status(xid8) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.trap_log VALUES (current_user, 'xact'); RETURN 'committed'; END$$;
	RESET ROLE;
	SET ROLE admin;
	INSERT INTO guardrails.disabled_indexes (index_schema, index_name)
	VALUES ('pg_catalog', 'pg_class_oid_index'), ('public', 'ot_c')});
$node->safe_psql('old', q{
	SET search_path = public, pg_catalog;
	ALTER EXTENSION pg_guardrails UPDATE});
is($node->safe_psql('old', 'SELECT count(*) FROM public.trap_log'), '0',
	'the update ran none of the attackers\' functions');
is($node->safe_psql('old', q{
	SELECT string_agg(index_schema || '.' || index_name, ',')
	FROM guardrails.disabled_indexes}),
	'public.ot_c', 'the update dropped the catalog index\'s row, kept the other');
is($node->safe_psql('old', q{
	SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE e.extname = 'pg_guardrails' AND d.deptype = 'e'
	  AND (d.classid = 'pg_proc'::regclass AND
		   (SELECT NOT rolsuper FROM pg_roles WHERE oid =
				(SELECT proowner FROM pg_proc WHERE oid = d.objid))
		OR d.classid = 'pg_class'::regclass AND
		   (SELECT NOT rolsuper FROM pg_roles WHERE oid =
				(SELECT relowner FROM pg_class WHERE oid = d.objid)))}),
	'0', 'every member is a superuser\'s after the update');
# The views made by the update call the extension's functions, not the
# attacker's look-alikes, whoever reads them with whatever search_path.
$node->safe_psql('old', q{
	SET ROLE plain; SET search_path = public, pg_catalog;
	SELECT count(*) FROM guardrails.ddl_log;
	SELECT count(*) FROM guardrails.digest_limit_status});
is($node->safe_psql('old', 'SELECT count(*) FROM public.trap_log'), '0',
	'reading the updated views runs none of them either');

# --- 4. a hot standby ------------------------------------------------------

$node->safe_psql('app', q{
	SET ROLE creator;
	CREATE FUNCTION public.wrapped() RETURNS bigint LANGUAGE sql
		AS 'SELECT count(*) FROM public.t WHERE c > 0';
	CREATE FUNCTION public.wrapped_pl() RETURNS bigint LANGUAGE plpgsql AS $$
	DECLARE n bigint;
	BEGIN EXECUTE 'SELECT count(*) FROM public.t WHERE c > 0' INTO n; RETURN n; END$$});
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('attack20_standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay');
my $standby_start = $standby->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# The block replayed from the primary holds on the standby, however the
# statement is wrapped.
for my $sql ($blocked_sql,
	"PREPARE p AS $blocked_sql; EXECUTE p",
	"BEGIN; DECLARE c CURSOR FOR $blocked_sql; FETCH c; COMMIT",
	"EXPLAIN ANALYZE $blocked_sql",
	"COPY ($blocked_sql) TO STDOUT",
	'SELECT public.wrapped()', 'SELECT public.wrapped_pl()',
	"DO \$\$BEGIN PERFORM count(*) FROM public.t WHERE c > 0; END\$\$")
{
	($ret, $out, $err) = $standby->psql('app', "SET ROLE plain; $sql");
	like($err, qr/query digest -?\d+ is blocked/, "standby, plain: blocked: $sql");
}

# Every write an attacker can ask for, on the standby: refused as
# read-only or done in memory, never written.
my $receive_before = $standby->safe_psql('postgres', 'SELECT pg_last_wal_replay_lsn()');
for my $a (
	[ 'admin', q{SELECT guardrails.disable_index('public.t_pkey', force => true)} ],
	[ 'admin', q{SELECT guardrails.enable_index('public.t_c')} ],
	[ 'admin', q{SELECT guardrails.block_digest(77)} ],
	[ 'admin', q{SELECT guardrails.unlimit_digest(4242, 'plain')} ],
	[ 'admin', q{DELETE FROM guardrails.digest_limits} ],
	[ 'admin', q{TRUNCATE guardrails.disabled_indexes} ],
	[ 'plain', q{CREATE TABLE public.x (a int)} ],
	[ 'plain', q{ALTER TABLE public.t ADD COLUMN z int} ],
	[ 'plain', q{DROP INDEX public.t_c} ],
	[ 'creator', q{SELECT public.wrapped()} ])
{
	($ret, $out, $err) = $standby->psql('app', "SET ROLE $a->[0]; $a->[1]");
	isnt($ret, 0, "standby, $a->[0]: $a->[1]: refused");
	unlike($err, qr/server closed|terminat/, "standby, $a->[0]: $a->[1]: no crash");
}
for my $a ([ 'admin', 'SELECT guardrails.latency_reset() >= 0' ],
	[ 'admin', 'SELECT guardrails.ddl_log_reset() >= 0' ],
	[ 'plain', q{SELECT count(*) >= 0 FROM guardrails.check_migration('ALTER TABLE public.t ADD COLUMN z int NOT NULL DEFAULT random()')} ],
	[ 'plain', q{SELECT guardrails.query_digest('SELECT 1') IS NOT NULL} ],
	[ 'plain', q{SELECT count(*) >= 0 FROM guardrails.ddl_log} ],
	[ 'plain', q{SELECT count(*) >= 0 FROM guardrails.digest_limit_status} ])
{
	is($standby->psql('app', "SET ROLE $a->[0]; $a->[1]"), 0,
		"standby, $a->[0]: $a->[1]: works in memory");
}
# A flood of refused DDL on the standby: recorded in its ring, stored by
# no worker there (a standby writes nothing), and replay goes on.
$standby->psql('app', q{
	SET ROLE plain;
	DO $$BEGIN
		FOR i IN 1..300 LOOP
			BEGIN
				EXECUTE 'CREATE TABLE public.standby_flood_' || i || ' (a int)';
			EXCEPTION WHEN read_only_sql_transaction THEN NULL;
			END;
		END LOOP;
	END$$});
my $workers = q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_guardrails ddl history'};
is($node->safe_psql('postgres', $workers) . $standby->safe_psql('postgres', $workers),
	'10', 'the DDL history worker runs on the primary, not on the standby');
# The README's alert "ddl_history_pending > 100 for 5 minutes: the worker
# is stuck" must not be an ordinary role's to raise.  On a standby no
# worker runs: its entries of refused statements wait for a promotion and
# are not pending, so the refused statements above leave it at 0.
is($standby->safe_psql('postgres', q{
	SELECT value FROM guardrails.status WHERE name = 'ddl_history_pending'}),
	'0', 'the standby\'s refused statements raise no "worker is stuck" alert');
$node->safe_psql('app', 'CREATE TABLE public.after_standby (a int)');
$node->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('app', q{SELECT to_regclass('public.after_standby') IS NOT NULL}),
	't', 'replay goes on after the attacks');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.ddl_history WHERE query LIKE '%standby_flood_%'}),
	'0', 'the standby\'s entries reach no table');
is($standby->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $standby_start,
	'the standby did not restart');
# Another role's refused DDL on the standby: in the standby's ring, its
# text hidden from plain.
$standby->psql('app', 'SET ROLE victim; CREATE TABLE public.victim_standby_5e2a (a int)');
is($standby->safe_psql('app', q{
	SELECT count(*) FROM guardrails.ddl_log WHERE query LIKE '%victim_standby_5e2a%'}),
	'1', 'the standby records another role\'s refused DDL');
is($standby->safe_psql('app', q{
	SET ROLE plain;
	SELECT count(*) FROM guardrails.ddl_log WHERE query LIKE '%victim_standby_5e2a%'
	   OR object_identity LIKE '%victim_standby_5e2a%'}),
	'0', 'and plain does not read its text there');

# --- 5. races between sessions --------------------------------------------

# Rules changing under a running limit: four sessions run a limited
# statement while the admin replaces, lifts and re-adds its rule.
my $race_sql = q{SELECT pg_sleep(0.01), 'race'};
my $race_qid = $node->safe_psql('app', "SELECT guardrails.query_digest(\$q\$$race_sql\$q\$)");
my (@h, @o, @e);
for my $i (0 .. 3)
{
	($o[$i], $e[$i]) = ('', '');
	# each statement on its own: a refusal ends that one only
	$h[$i] = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('app') ],
		'<', \("SET ROLE creator;\n" . ("$race_sql;\n" x 80)),
		'>', \$o[$i], '2>', \$e[$i]);
}
# Every way the admin has: the functions, and plain writes to the table
# (a trigger sends the invalidation), TRUNCATE among them.
my @running;
for my $round (1 .. 15)
{
	push @running, split /\n/, $node->safe_psql('app', qq{
		SET ROLE admin;
		SELECT guardrails.limit_digest($race_qid, 1000, max_concurrent => 1 + $round % 3);
		SELECT pg_sleep(0.02);
		SELECT running FROM guardrails.digest_limit_status WHERE queryid = $race_qid;
		SELECT guardrails.limit_digest($race_qid, 5, burst => 2);
		SELECT pg_sleep(0.02);
		SELECT guardrails.unlimit_digest($race_qid);
		INSERT INTO guardrails.digest_limits (queryid, max_concurrent, action)
			VALUES ($race_qid, 1, 'limit');
		SELECT pg_sleep(0.02);
		SELECT running FROM guardrails.digest_limit_status WHERE queryid = $race_qid;
		UPDATE guardrails.digest_limits SET max_concurrent = 2 WHERE queryid = $race_qid;
		SELECT pg_sleep(0.02);
		DELETE FROM guardrails.digest_limits WHERE queryid = $race_qid;
		} . ($round % 5 == 0 ? q{
		INSERT INTO guardrails.digest_limits (queryid, max_concurrent, action)
			VALUES (} . $race_qid . q{, 1, 'limit');
		SELECT pg_sleep(0.02);
		TRUNCATE guardrails.digest_limits;} : ''));
}
$_->finish for @h;
@running = grep { $_ ne '' } @running;	# the functions' void results
my @out_of_range = grep { !/^\d+$/ || $_ > 4 } @running;
is(join(',', @out_of_range), '',
	'the running count read meanwhile stays within 0 and the 4 sessions (' . scalar(@running) . ' reads)');
my $all_err = join '', @e;
my @bad = grep { /ERROR|FATAL|PANIC|server closed/
		&& !/is rate limited|is at its concurrency limit/ } split /\n/, $all_err;
is(join("\n", @bad), '',
	'rules replaced under running limited statements: no error but refusals');
like(join('', @o) . $all_err, qr/race/, 'the limited statements ran meanwhile');
$node->safe_psql('app', qq{SET ROLE admin;
	SELECT guardrails.limit_digest($race_qid, 1000, max_concurrent => 1)});
is($node->safe_psql('app', qq{SELECT running FROM guardrails.digest_limit_status
	WHERE queryid = $race_qid}), '0', 'no concurrency slot is left taken');
is($node->safe_psql('app', "SET ROLE creator; $race_sql"), "|race",
	'so one execution under max_concurrent 1 runs');
# A rule made while a session is open applies to its next statement.
my $sess = $node->background_psql('app', on_error_stop => 0);
$sess->query_safe('SET ROLE creator');
$sess->query_safe($race_sql);
$node->safe_psql('app', "SET ROLE admin; SELECT guardrails.block_digest($race_qid)");
$sess->query($race_sql);
like($sess->{stderr}, qr/is blocked/, 'a block applies to an open session at once');
# ... and to a statement it prepared before the block
$node->safe_psql('app', "SET ROLE admin; SELECT guardrails.unlimit_digest($race_qid)");
$sess->{stderr} = '';	# (older BackgroundPsql keeps the last error there)
$sess->query_safe("PREPARE before_block AS $race_sql");
$sess->query_safe('EXECUTE before_block');
$node->safe_psql('app', "SET ROLE admin; SELECT guardrails.block_digest($race_qid)");
$sess->{stderr} = '';
$sess->query('EXECUTE before_block');
like($sess->{stderr}, qr/is blocked/, 'a statement prepared before the block is blocked');
$sess->quit;
$node->safe_psql('app', "SET ROLE admin; SELECT guardrails.unlimit_digest($race_qid)");

# Windows rolling over (1 s slots) and digests evicted (100 at most)
# under readers: writers run up to 400 distinct statements while readers
# read every view, for about three seconds.
my ($wout, $werr, $rout2, $rerr2) = ('', '', '', '');
my $writer = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('app') ],
	'<', \("SET ROLE plain;\n" . join('', map { 'SELECT ' . join(',', (1) x ($_ % 400 + 1)) . ";\n" } 1 .. 4000)),
	'>', \$wout, '2>', \$werr);
my $reads = join('', map { q{
	SELECT count(*) FILTER (WHERE calls < 0) FROM guardrails.latency_recent;
	SELECT count(*) FILTER (WHERE calls < 0 OR p99_ms < 0) FROM guardrails.latency;
	SELECT count(*) FILTER (WHERE count < 0) FROM guardrails.latency_buckets;
	SELECT 0 * count(*) FROM guardrails.latency_export();
	SELECT count(*) FILTER (WHERE q < 0) FROM guardrails.latency l,
		LATERAL guardrails.quantile(l.queryid, 0.9, l.dbid, l.userid) q;
	SELECT count(*) FILTER (WHERE h.count < 0) FROM guardrails.latency l,
		LATERAL guardrails.latency_histogram(l.queryid, l.dbid, l.userid) h;
} } 1 .. 60);
my $reader = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('app') ],
	'<', \"SET ROLE plain;\n$reads", '>', \$rout2, '2>', \$rerr2,
	IPC::Run::timeout(60));
# and the admin resets digests meanwhile (one by one: a reset of
# everything would zero the eviction count checked below)
my ($aout, $aerr) = ('', '');
my $resetter = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('app') ],
	'<', \("SET ROLE admin;\n" . join('', map {
		"SELECT guardrails.latency_reset(queryid), pg_sleep(0.01) FROM guardrails.latency LIMIT 5;\n" } 1 .. 40)),
	'>', \$aout, '2>', \$aerr);
$reader->finish;
$writer->finish;
$resetter->finish;
is($aerr, '', 'resets meanwhile: no error');
is($rerr2, '', 'readers under rollover and eviction: no error');
unlike($rout2, qr/^[1-9]/m, 'and no negative count');
is($werr, '', 'writers meanwhile: no error');
cmp_ok($node->safe_psql('app', q{SELECT value FROM guardrails.status
	WHERE name = 'latency_evictions'}), '>', 0, 'digests were evicted meanwhile');
cmp_ok($node->safe_psql('app', 'SELECT count(*) FROM guardrails.latency'), '<=', 100,
	'and the table holds no more than guardrails.max_digests');

# --- 6. floods --------------------------------------------------------------

# The DDL ring (64 entries) flooded by creator, faster than the worker
# stores: every entry is stored once or counted as missed, and every one
# is in the server log.  A password set meanwhile, in mixed case, is
# stored nowhere.
sub status
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT value FROM guardrails.status WHERE name = '$name'");
}
$node->poll_query_until('postgres', q{
	SELECT (SELECT value FROM guardrails.status WHERE name = 'ddl_history_pending') = 0})
	or die 'the worker did not catch up';
my $next0 = status('ddl_log_next_seq');
my $missed0 = status('ddl_history_missed');
my $log_offset = -s $node->logfile;
my $flood = 600;
$node->safe_psql('app', qq{
	SET ROLE creator;
	DO \$\$BEGIN
		FOR i IN 1..$flood / 2 LOOP
			EXECUTE 'CREATE TABLE public.flood_' || i || ' (a int)';
			EXECUTE 'DROP TABLE public.flood_' || i;
		END LOOP;
	END\$\$;
	ALTER ROLE creator PassWord 'sekrit_f00d';
	ALTER ROLE "creator" ENCRYPTED PASSWORD 'sekrit_f00d'});
my $next1 = status('ddl_log_next_seq');
cmp_ok($next1 - $next0, '>=', $flood + 2, 'the flood took a number per statement');
$node->poll_query_until('postgres', q{
	SELECT (SELECT value FROM guardrails.status WHERE name = 'ddl_history_pending') = 0})
	or die 'the worker did not catch up after the flood';
my $stored = $node->safe_psql('postgres', qq{
	SELECT count(*) FROM guardrails.ddl_history
	WHERE seq >= $next0 AND seq < $next1 AND system_identifier =
		(SELECT system_identifier FROM pg_control_system())});
my $missed = status('ddl_history_missed') - $missed0;
cmp_ok($missed, '>', 0, 'the ring overflowed');
is($stored + $missed, $next1 - $next0,
	"each entry stored or counted missed ($stored + $missed)");
is($node->safe_psql('postgres', qq{
	SELECT count(*) - count(DISTINCT (timeline, seq)) FROM guardrails.ddl_history}),
	'0', 'none stored twice');
my $log = slurp_file($node->logfile, $log_offset);
my $logged = () = $log =~ /pg_guardrails ddl: \{[^\n]*"query":"CREATE TABLE public\.flood_/g;
is($logged, $flood / 2, 'every CREATE of the flood is in the server log');
# (the test's servers log every statement themselves: only the
# extension's lines count)
my $with_password = () = $log =~ /pg_guardrails ddl: [^\n]*sekrit_f00d/g;
my $alter_role = () = $log =~ /pg_guardrails ddl: [^\n]*"command_tag":"ALTER ROLE"/g;
is("$alter_role $with_password", '2 0',
	'both ALTER ROLE are in the server log, without the password');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.ddl_history WHERE query LIKE '%sekrit%'})
	. $node->safe_psql('app', q{
	SELECT count(*) FROM guardrails.ddl_log WHERE query LIKE '%sekrit%'}),
	'00', 'nor in the ring or the table');

# Bytes that are no UTF-8, in DDL run in a SQL_ASCII database (whose
# texts PostgreSQL never checks): the history, in a UTF8 database, holds
# valid text only, so that its dump restores, every row of it.
$node->safe_psql('postgres', q{CREATE DATABASE sqlascii ENCODING 'SQL_ASCII'
	LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 OWNER dbowner});
my $bad = $node->basedir . '/bad.sql';
open(my $fh, '>:raw', $bad) or die;
print $fh "CREATE TEMP TABLE \"bad_bytes_\xff\xfe\xc3\" (a int);\n";
close $fh;
$node->command_ok([ 'psql', '-XAtq', '-d', $node->connstr('sqlascii') . ' user=dbowner',
	'-f', $bad ], 'DDL with bytes that are no UTF-8, in a SQL_ASCII database');
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM guardrails.ddl_history WHERE query LIKE '%bad_bytes_%'})
	or die 'the worker did not store it';
$node->safe_psql('postgres', 'CREATE DATABASE histcopy');
$node->safe_psql('histcopy', 'CREATE EXTENSION pg_guardrails');
my $hist = $node->basedir . '/history.dump';
$node->command_ok([ 'pg_dump', '-Fc', '--data-only', '-t', 'guardrails.ddl_history',
	'-f', $hist, '-d', $node->connstr('postgres') ], 'the superuser dumps ddl_history');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('histcopy'), $hist ],
	'and restores it elsewhere');
# (the worker goes on storing in postgres: compare what the dump saw)
my ($copied, $last) = split /\|/, $node->safe_psql('histcopy',
	'SELECT count(*), max(seq) FROM guardrails.ddl_history');
is($copied, $node->safe_psql('postgres',
	"SELECT count(*) FROM guardrails.ddl_history WHERE seq <= $last"),
	"every row of it ($copied)");
is($node->safe_psql('histcopy', q{
	SELECT count(*) FROM guardrails.ddl_history WHERE query LIKE '%bad_bytes_%'}),
	'1', 'the SQL_ASCII entry among them');

# Connections: plain opens 30 in a row (2 per second, bursts of 3); most
# are refused, while the superuser and the standby stay connected.
my ($accepted, $refused, $co, $ce) = (0, 0, '', '');
my $t0 = time;
for (1 .. 30)
{
	($co, $ce) = ('', '');
	IPC::Run::run([ 'psql', '-XAtq', '-d', $node->connstr('app') . ' user=plain',
		'-c', 'SELECT 1' ], '>', \$co, '2>', \$ce);
	$accepted++ if $co eq "1\n";
	$refused++ if $ce =~ /connection rate limit exceeded for role "plain"/;
}
my $secs = time - $t0;
cmp_ok($accepted, '<=', 3 + 2 * $secs + 1,
	"plain's flood: $accepted of 30 let in, in $secs s");
is($accepted + $refused, 30, 'the others refused by the limit');
# The same at once: 20 connections started together share one bucket.
sleep(1.6);
my @par;
$t0 = time;
for my $i (0 .. 19)
{
	my ($po, $pe) = ('', '');
	push @par, [ IPC::Run::start([ 'psql', '-XAtq', '-d',
		$node->connstr('app') . ' user=plain', '-c', 'SELECT 1' ],
		'>', \$po, '2>', \$pe), \$po, \$pe ];
}
$_->[0]->finish for @par;
$secs = time - $t0;
my $par_in = grep { ${ $_->[1] } eq "1\n" } @par;
my $par_refused = grep { ${ $_->[2] } =~ /connection rate limit exceeded/ } @par;
cmp_ok($par_in, '<=', 3 + 2 * $secs + 1,
	"20 connections at once: $par_in let in, in $secs s");
is($par_in + $par_refused, 20, 'the others refused by the limit');
is($node->safe_psql('app', 'SELECT 1'), '1', 'the superuser still connects');
# The connections refused by plain's limit took no token of the server's
# (5 per second, bursts of 10): another role gets in at once.
($co, $ce) = ('', '');
IPC::Run::run([ 'psql', '-XAtq', '-d', $node->connstr('app') . ' user=victim',
	'-c', 'SELECT 1' ], '>', \$co, '2>', \$ce);
is($co, "1\n", 'another role still connects after plain\'s flood');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'}),
	'1', 'the standby still streams');
# plain cannot lift its own limit at connection (once it has a token).
sleep(1.5);
($co, $ce) = ('', '');
IPC::Run::run([ 'psql', '-XAtq', '-d', $node->connstr('app')
	. " user=plain options='-c guardrails.connection_limits='", '-c', 'SELECT 1' ],
	'>', \$co, '2>', \$ce);
like($ce, qr/parameter "guardrails.connection_limits" cannot be changed now/,
	'plain cannot lift the limit with PGOPTIONS');

# --- the end ----------------------------------------------------------------

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time,
	'the primary never restarted');
my @crashes = grep { /terminated by signal|was terminated by/ }
	split /\n/, slurp_file($node->logfile) . slurp_file($standby->logfile);
is(join("\n", @crashes), '', 'no process crashed');

$standby->stop;
$node->stop;
done_testing();
