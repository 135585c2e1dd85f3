# An attacker's view of pg_guardrails.  Three roles attack it: an
# ordinary role, the owner of the databases (among them the one named by
# guardrails.database) and a non-superuser member of guardrails_admin.
# They try every write to the extension's tables, every function and every
# guardrails.* setting, found from the catalogs so that an object added
# later is covered too, and compare the outcome with what the README's
# Privileges section allows each of them; then search_path tricks against
# the SECURITY DEFINER event triggers and the worker, settings of the
# worker's database, look-alike tables, absurd rule values and blocks on
# the extension's own statements.  Nothing must succeed that the README
# does not allow, and the server must never restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @roles = qw(plain dbowner admin);

my $node = PostgreSQL::Test::Cluster->new('attack');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.database = 'ops'
guardrails.track = all
});
$node->start;

# --- setup, as the superuser ---

# ops (the worker's database), app and pol belong to dbowner; the
# extension is created in ops and app by the superuser.  app has the
# permissive defaults of PostgreSQL before 15 (anyone creates schemas and
# objects in public), which gives the attackers the most to work with.
$node->safe_psql('postgres', q{
	CREATE ROLE plain LOGIN;
	CREATE ROLE dbowner LOGIN;
	CREATE DATABASE ops OWNER dbowner;
	CREATE DATABASE app OWNER dbowner;
	CREATE DATABASE pol OWNER dbowner;
	CREATE DATABASE noext OWNER dbowner;
});
for my $db (qw(ops app))
{
	$node->safe_psql($db, q{
		CREATE EXTENSION pg_guardrails;
		GRANT CREATE ON DATABASE } . $db . q{ TO PUBLIC;
		GRANT CREATE ON SCHEMA public TO PUBLIC;
		-- a table and index of the superuser's, with a TOAST table
		CREATE TABLE public.victim (id int, doc text);
		CREATE INDEX victim_idx ON public.victim (id);
		GRANT SELECT ON public.victim TO PUBLIC;
		-- run a statement, roll back whatever it did, say how it ended
		CREATE SCHEMA harness;
		GRANT USAGE ON SCHEMA harness TO PUBLIC;
		CREATE FUNCTION harness.attempt(sql text) RETURNS text
		LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
		BEGIN
			EXECUTE sql;
			RAISE EXCEPTION USING ERRCODE = 'GR999';
		EXCEPTION WHEN OTHERS THEN
			IF SQLSTATE = 'GR999' THEN
				RETURN 'ok';
			END IF;
			RETURN SQLSTATE || ' ' || pg_catalog.replace(SQLERRM, E'\n', ' ');
		END $$;
		CREATE TABLE public.attack_log (cur name, sess name, what text,
										at timestamptz DEFAULT pg_catalog.now());
		GRANT INSERT, SELECT ON public.attack_log TO PUBLIC;
	});
}
$node->safe_psql('postgres', 'CREATE ROLE admin LOGIN IN ROLE guardrails_admin');

# --- the worker's database, prepared by its owner before the worker
# connects: a search_path of its own, operators that escalate, look-alike
# ddl_history tables, and settings that could keep the worker from
# writing ---

# each attack function records who ran it, and tries to make its author
# superuser
sub trap_function
{
	my ($schema, $name, $owner) = @_;
	return qq{
	CREATE FUNCTION $schema.$name(what text) RETURNS void LANGUAGE plpgsql AS \$f\$
	BEGIN
		INSERT INTO public.attack_log (cur, sess, what)
		VALUES (current_user, session_user, '$schema.' || what);
		BEGIN
			EXECUTE 'ALTER ROLE $owner SUPERUSER';
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
	END \$f\$;};
}

# Operators that the worker's and the extension's SQL would use if they
# were resolved through search_path, each calling the trap first.
sub trap_operators
{
	my ($schema) = @_;
	my $sql = '';
	my $n = 0;
	for my $op (
		[ '=', 'bigint', 'bigint' ],
		[ '=', 'text', 'text' ],
		[ '=', 'name', 'name' ],
		[ '=', 'oid', 'oid' ],
		[ '=', 'oid', 'regclass' ],
		[ '=', 'regclass', 'oid' ],
		[ '=', 'oid', 'regrole' ],
		[ '<', 'oid', 'integer' ],
		[ '<', 'timestamptz', 'timestamptz' ],
		[ '<=', 'timestamptz', 'timestamptz' ],
		[ '-', 'timestamptz', 'interval' ],
		[ '<>', 'text', 'text' ],
		[ '~', 'name', 'text' ])
	{
		my ($o, $l, $r) = @$op;
		my $ret = $o eq '-' ? 'timestamptz' : 'boolean';
		$n++;
		$sql .= qq{
	CREATE FUNCTION $schema.op$n($l, $r) RETURNS $ret LANGUAGE plpgsql AS \$f\$
	BEGIN
		PERFORM $schema.trap('$o($l, $r)');
		RETURN \$1 OPERATOR(pg_catalog.$o) \$2;
	END \$f\$;
	CREATE OPERATOR $schema.$o (LEFTARG = $l, RIGHTARG = $r, FUNCTION = $schema.op$n);};
	}
	return $sql;
}

# Functions of pg_catalog that the extension's functions call, shadowed.
sub trap_functions
{
	my ($schema) = @_;
	my $sql = '';
	for my $f (
		[ 'now()', 'timestamptz', 'pg_catalog.now()' ],
		[ 'current_setting(text)', 'text', 'pg_catalog.current_setting($1)' ],
		[ 'to_regclass(text)', 'regclass', 'pg_catalog.to_regclass($1)' ],
		[ 'pg_stat_get_numscans(regclass)', 'bigint', 'pg_catalog.pg_stat_get_numscans($1)' ],
		[ 'quote_literal(text)', 'text', 'pg_catalog.quote_literal($1)' ],
		[ 'ceil(double precision)', 'double precision', 'pg_catalog.ceil($1)' ],
		[ 'pg_xact_status(xid8)', 'text', 'pg_catalog.pg_xact_status($1)' ],
		[ 'string_to_array(text, text)', 'text[]', 'pg_catalog.string_to_array($1, $2)' ],
		[ 'make_interval(years integer, months integer, weeks integer, days integer, hours integer, mins integer, secs double precision)',
		  'interval', 'pg_catalog.make_interval($1, $2, $3, $4, $5, $6, $7)' ],
		[ 'format(text, text, text)', 'text', 'pg_catalog.format($1, $2, $3)' ],
		[ 'left(text, integer)', 'text', 'pg_catalog.left($1, $2)' ])
	{
		my ($sig, $ret, $body) = @$f;
		(my $fname = $sig) =~ s/\(.*//;
		$sql .= qq{
	CREATE FUNCTION $schema.$sig RETURNS $ret LANGUAGE plpgsql AS \$f\$
	BEGIN
		PERFORM $schema.trap('$fname');
		RETURN $body;
	END \$f\$;};
	}
	return $sql;
}

# A look-alike ddl_history, with the columns of the real one and a
# trigger that escalates.
sub lookalike_history
{
	my ($schema, $trap) = @_;
	return qq{
	CREATE TABLE $schema.ddl_history (
		system_identifier bigint NOT NULL, seq bigint NOT NULL,
		start_time timestamptz NOT NULL, duration_ms double precision NOT NULL,
		database name, role name, session_role name, client_addr inet,
		application_name text, pid integer, xid xid8, statement_xid xid8,
		toplevel boolean, command_tag text NOT NULL, object_type text,
		object_identity text, query text, query_truncated boolean,
		outcome text NOT NULL, sqlstate text, message text,
		policy_warnings text[], lock_wait_ms double precision,
		rolled_back boolean, PRIMARY KEY (system_identifier, seq));
	CREATE FUNCTION $schema.history_trigger() RETURNS trigger LANGUAGE plpgsql AS \$f\$
	BEGIN PERFORM $trap('trigger on $schema.ddl_history'); RETURN NEW; END \$f\$;
	CREATE TRIGGER escalate BEFORE INSERT OR UPDATE OR DELETE ON $schema.ddl_history
		FOR EACH ROW EXECUTE FUNCTION $schema.history_trigger();};
}

$node->safe_psql('ops', 'SET ROLE dbowner;'
	  . 'CREATE SCHEMA evil;'
	  . trap_function('evil', 'trap', 'dbowner')
	  . trap_operators('evil')
	  . trap_functions('evil')
	  . lookalike_history('evil', 'evil.trap')
	  . lookalike_history('public', 'evil.trap'));

# What it must not be able to do to the real ddl_history.
for my $attack (
	'CREATE TRIGGER t BEFORE INSERT ON guardrails.ddl_history FOR EACH ROW EXECUTE FUNCTION evil.history_trigger()',
	'CREATE RULE r AS ON INSERT TO guardrails.ddl_history DO ALSO SELECT evil.trap($$rule$$)',
	'ALTER TABLE guardrails.ddl_history ENABLE ROW LEVEL SECURITY',
	'CREATE POLICY p ON guardrails.ddl_history USING (false)',
	'ALTER TABLE guardrails.ddl_history RENAME TO old_history',
	'ALTER TABLE guardrails.ddl_history ADD COLUMN x boolean DEFAULT (evil.trap($$default$$) IS NULL)',
	'ALTER TABLE guardrails.ddl_history OWNER TO dbowner',
	'CREATE TABLE guardrails.x (a int)',
	'ALTER SCHEMA guardrails RENAME TO guardrails_old',
	'DROP SCHEMA guardrails CASCADE',
	'ALTER EXTENSION pg_guardrails DROP TABLE guardrails.ddl_history',
	'DROP EXTENSION pg_guardrails',
	'ALTER EVENT TRIGGER guardrails_disabled_indexes_follow DISABLE',
	'ALTER FUNCTION guardrails.disabled_indexes_follow_ddl() SET search_path = evil',
	'GRANT INSERT ON guardrails.ddl_history TO dbowner',
	'BEGIN; LOCK TABLE guardrails.ddl_history IN ACCESS EXCLUSIVE MODE')
{
	my ($ret, $out, $err) = $node->psql('ops', "SET search_path = pg_catalog; $attack",
		extra_params => [ '-U', 'dbowner' ]);
	like($err, qr/ERROR:  (must be owner|permission denied)/,
		"the owner of ops is refused: $attack");
}

# What the owner of ops may set for its database (settings of context
# user), none of which the worker must obey.  All in one session: they
# apply to the owner's own sessions too, from the next one on.  Some do
# not exist in every release (transaction_timeout from 17), or take no
# such value (standard_conforming_strings from 19).
my @worker_settings = (
	search_path => 'evil, public, pg_catalog',
	default_transaction_isolation => 'serializable',
	lock_timeout => '1ms',
	transaction_timeout => '1ms',
	role => 'dbowner',
	session_authorization => 'dbowner',
	DateStyle => 'SQL, DMY',
	IntervalStyle => 'iso_8601',
	TimeZone => 'Pacific/Chatham',
	extra_float_digits => '-15',
	bytea_output => 'escape',
	standard_conforming_strings => 'off',
	row_security => 'off',
	default_tablespace => 'pg_global',
	temp_buffers => '100',
	work_mem => '64',
	default_transaction_read_only => 'on');
my %worker_settings = @worker_settings;
$node->psql('ops', join('', map { "ALTER DATABASE ops SET $_ = '$worker_settings{$_}';\n" }
		@worker_settings[ grep { $_ % 2 == 0 } 0 .. $#worker_settings ]),
	extra_params => [ '-U', 'dbowner' ], on_error_stop => 0);
my $taken = $node->safe_psql('postgres', q{
	SELECT string_agg(split_part(s, '=', 1), ', ' ORDER BY s)
	FROM pg_db_role_setting, unnest(setconfig) s
	WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'ops')
	  AND setrole = 0});
like($taken, qr/^(?=.*\bsearch_path\b)(?=.*\bdefault_transaction_read_only\b)(?=.*\brole\b)(?=.*\bsession_authorization\b)/,
	'the owner of the worker\'s database sets its search_path, role, session user and read-only default');
note("settings the owner of ops set: $taken");

# The worker connects with all of that in place.
$node->restart;

# The test's own sessions in ops override what its owner set (a client's
# options win over the database's settings).
my $ops_options = '-c role=none -c default_transaction_read_only=off '
  . '-c search_path=pg_catalog,public -c lock_timeout=0 -c default_tablespace= '
  . '-c standard_conforming_strings=on -c default_transaction_isolation=read\\ committed';
$ops_options .= ' -c transaction_timeout=0'
  if $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_settings WHERE name = 'transaction_timeout'}) eq '1';
sub options_for
{
	my ($db) = @_;
	return $db eq 'ops' ? $ops_options : '';
}

# From here on the server must not restart: its postmaster and
# checkpointer are those of now.
sub postmaster_pid
{
	my ($n) = @_;
	return $n->safe_psql('postgres', q{
		SELECT pg_catalog.split_part(pg_catalog.pg_read_file('postmaster.pid'), E'\n', 1)});
}
my $postmaster_pid = postmaster_pid($node);
my $postmaster_start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $t0 = $node->safe_psql('postgres', 'SELECT pg_catalog.now()');
my $log_offset = -s $node->logfile;

# A standby, which replays whatever rules the attackers manage to write.
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
my $standby_pid = postmaster_pid($standby);

sub server_unharmed
{
	my ($section) = @_;
	my @crashes = grep { /terminated by signal|server process .* was terminated|terminating any other active server processes|database system was interrupted/ }
	  split /\n/, slurp_file($node->logfile, $log_offset);
	is(join("\n", @crashes), '', "$section: no process crashed");
	is(postmaster_pid($node), $postmaster_pid, "$section: the postmaster is the same");
	is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
		$postmaster_start, "$section: with the same start time");
	is($node->safe_psql('postgres', qq{
		SELECT backend_start < '$t0' FROM pg_stat_activity
		WHERE backend_type = 'checkpointer'}),
		't', "$section: the checkpointer started before the test");
	is($node->safe_psql('postgres', q{
		SELECT pg_catalog.string_agg(rolname, ',') FROM pg_roles
		WHERE rolsuper AND rolname IN ('plain', 'dbowner', 'admin')}),
		'', "$section: no attacker is superuser");
}

# Whether $role can connect to $db with these PGOPTIONS (psql given its
# statement on the command line: a refused connection reads no input).
sub connects
{
	my ($db, $role, $options) = @_;
	local $ENV{PGOPTIONS} = $options;
	return run_log([ 'psql', '-XAtq', '-d', $node->connstr($db), '-U', $role,
		'-c', 'SELECT 1' ]) ? 1 : '';
}

# --- 1. privileges on every table, view and function of the extension ---

# What the README's "Privileges" section allows each role, per object.
# Roles: all (ordinary role, database owner, guardrails_admin), admin
# (guardrails_admin only), none (superusers only).  An object missing here
# is expected to be usable by superusers only.
my %relation_privs = (
	'guardrails.disabled_indexes' =>
	  { admin => [qw(SELECT INSERT UPDATE DELETE TRUNCATE)] },
	'guardrails.digest_limits' =>
	  { admin => [qw(SELECT INSERT UPDATE DELETE TRUNCATE)] },
	'guardrails.ddl_history' => { admin => ['SELECT'] },
	'guardrails.index_usage_reports' =>
	  { admin => [qw(SELECT INSERT DELETE TRUNCATE)] },
	'guardrails.latency' => { all => ['SELECT'] },
	'guardrails.latency_buckets' => { all => ['SELECT'] },
	'guardrails.latency_recent' => { all => ['SELECT'] },
	'guardrails.status' => { all => ['SELECT'] },
	'guardrails.index_visibility' => { all => ['SELECT'] },
	'guardrails.digest_limit_status' => { all => ['SELECT'] },
	'guardrails.ddl_log' => { all => ['SELECT'] },
	'guardrails.workload_rules' =>
	  { admin => [qw(SELECT INSERT UPDATE DELETE TRUNCATE)] },
	'guardrails.workload_classes' => { all => ['SELECT'] },
	'guardrails.contained_digests' => { all => ['SELECT'] },
	'guardrails.wal_budgets' => { all => ['SELECT'] },
	'guardrails.wal_lag' => { all => ['SELECT'] });

# Functions: who may execute it, and a call with valid arguments (others
# are called with NULLs of their argument types).  The functions behind
# the views are PostgreSQL's default, executable by PUBLIC; the trigger
# and event-trigger functions by no one (README "Internals").  The
# support functions of the aggregate latency_merge take an "internal",
# which no SQL statement can pass: "uncallable", for every role.
my %function_privs = (
	'guardrails.latency_stats()' => [ 'all', '()' ],
	'guardrails.latency_bucket_counts()' => [ 'all', '()' ],
	'guardrails.status_report()' => [ 'all', '()' ],
	'guardrails.digest_limit_stats()' => [ 'all', '()' ],
	'guardrails.ddl_log_entries()' => [ 'all', '()' ],
	'guardrails.quantile(bigint,double precision,oid,oid,interval)' => [ 'all', '(1, 0.5)' ],
	'guardrails.latency_recent_stats()' => [ 'all', '()' ],
	'guardrails.latency_export(interval)' => [ 'all', '()' ],
	'guardrails.latency_merge(bytea)' => [ 'all', '(NULL::bytea)' ],
	'guardrails.latency_merge_trans(internal,bytea)' => [ 'uncallable', '(NULL::internal, NULL::bytea)' ],
	'guardrails.latency_merge_final(internal)' => [ 'uncallable', '(NULL::internal)' ],
	'guardrails.histogram_quantile(bytea,double precision)' => [ 'all', '(NULL, 0.5)' ],
	'guardrails.histogram_stats(bytea)' => [ 'all', '(NULL)' ],
	'guardrails.histogram_prometheus(bytea)' => [ 'all', '(NULL)' ],
	'guardrails.latency_histogram(bigint,oid,oid,integer)' => [ 'all', '(1)' ],
	'guardrails.query_digest(text)' => [ 'all', q{('SELECT 1')} ],
	'guardrails.preloaded()' => [ 'all', '()' ],
	'guardrails.check_migration(text)' =>
	  [ 'all', q{('ALTER TABLE public.victim RENAME TO v2')} ],
	'guardrails.lock_blockers(regclass,text)' => [ 'all', q{('public.victim')} ],
	'guardrails.index_usage_export()' => [ 'all', '()' ],
	'guardrails.current_workload_class()' => [ 'all', '()' ],
	'guardrails.workload_class_stats()' => [ 'all', '()' ],
	'guardrails.contained_digest_stats()' => [ 'all', '()' ],
	'guardrails.release_contained(bigint)' => [ 'admin', '(42)' ],
	'guardrails.wal_budget_stats()' => [ 'all', '()' ],
	'guardrails.wal_lag_standbys()' => [ 'all', '()' ],
	'guardrails.wal_lag_controller()' => [ 'all', '()' ],
	'guardrails.set_workload_class(text,regrole,name,text,bigint,text)' =>
	  [ 'admin', q{('low', queryid => 42)} ],
	'guardrails.unset_workload_class(regrole,name,text,bigint)' =>
	  [ 'admin', q{(queryid => 42)} ],
	'guardrails.unused_indexes(interval)' => [ 'admin', q{('1 day')} ],
	'guardrails.latency_reset()' => [ 'admin', '()' ],
	'guardrails.latency_reset(bigint)' => [ 'admin', '(1)' ],
	'guardrails.ddl_log_reset()' => [ 'admin', '()' ],
	'guardrails.disable_index(regclass,text,boolean)' =>
	  [ 'admin', q{('public.victim_idx', 'attack')} ],
	'guardrails.enable_index(regclass)' => [ 'admin', q{('public.victim_idx')} ],
	'guardrails.limit_digest(bigint,double precision,integer,integer,regrole,text,timestamp with time zone,text)' =>
	  [ 'admin', '(1, 10)' ],
	'guardrails.block_digest(bigint,regrole,timestamp with time zone,text)' =>
	  [ 'admin', '(1)' ],
	'guardrails.unlimit_digest(bigint,regrole)' => [ 'admin', '(1)' ],
	'guardrails.limit_query(text,double precision,integer,integer,regrole,text,timestamp with time zone,text)' =>
	  [ 'admin', q{('SELECT 1', 10)} ],
	'guardrails.block_query(text,regrole,timestamp with time zone,text)' =>
	  [ 'admin', q{('SELECT 1')} ],
	'guardrails.disabled_indexes_check(name,name,oid)' =>
	  [ 'admin', q{('public', 'victim_idx', 'public.victim_idx'::regclass)} ],
	'guardrails.digest_limits_check_args(regrole,timestamp with time zone)' =>
	  [ 'admin', '(NULL, NULL)' ],
	'guardrails.disabled_indexes_resolve()' => [ 'none', '()' ],
	'guardrails.disabled_indexes_changed()' => [ 'none', '()' ],
	'guardrails.disabled_indexes_follow_ddl()' => [ 'none', '()' ],
	'guardrails.disabled_indexes_forget_dropped()' => [ 'none', '()' ],
	'guardrails.digest_limits_check()' => [ 'none', '()' ],
	'guardrails.ddl_policy_table_rewrite()' => [ 'none', '()' ]);

sub allowed
{
	my ($who, $role) = @_;
	return $who eq 'all' || ($who eq 'admin' && $role eq 'admin');
}

for my $db (qw(ops app))
{
	my $members = q{
		FROM pg_depend d
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_guardrails')};
	local $ENV{PGOPTIONS} = options_for($db);
	my @relations = split /\n/, $node->safe_psql($db, qq{
		SET search_path = pg_catalog;
		SELECT c.oid::regclass || ' ' || c.relkind::text || ' ' ||
			   (SELECT pg_catalog.quote_ident(attname) FROM pg_attribute
				WHERE attrelid = c.oid AND attnum = 1)
		FROM pg_class c
		WHERE c.oid IN (SELECT d.objid $members AND d.classid = 'pg_class'::regclass)
		ORDER BY 1});
	my @functions = split /\n/, $node->safe_psql($db, qq{
		SET search_path = pg_catalog;
		SELECT p.oid::regprocedure || '|' ||
			   coalesce((SELECT pg_catalog.string_agg('NULL::' || pg_catalog.format_type(t, NULL), ', ' ORDER BY n)
						 FROM pg_catalog.unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, n)), '')
		FROM pg_proc p
		WHERE p.oid IN (SELECT d.objid $members AND d.classid = 'pg_proc'::regclass)
		ORDER BY 1});
	ok(@relations >= 9 && @functions >= 26,
		"$db: the extension's relations and functions are found in the catalogs");
	my %found = map { $_ => 1 } (map { (split / /)[0] } @relations),
	  (map { (split /\|/)[0] } @functions);
	is(join(', ', sort grep { !$found{$_} } keys %relation_privs, keys %function_privs),
		'', "$db: every object of the table of privileges is the extension's");

	# every attempt: [label, role's expected outcome (1 allowed), SQL]
	my @attempts;
	for my $rel (@relations)
	{
		my ($name, $kind, $col) = split / /, $rel;
		my $privs = $relation_privs{$name} // {};
		my @writes = $kind =~ /^[rpS]$/ ? qw(INSERT UPDATE DELETE TRUNCATE) : ();
		for my $priv ('SELECT', @writes)
		{
			my $sql = {
				SELECT => "SELECT count(*) FROM $name",
				INSERT => "INSERT INTO $name ($col) SELECT NULL WHERE false",
				UPDATE => "UPDATE $name SET $col = NULL WHERE false",
				DELETE => "DELETE FROM $name WHERE false",
				TRUNCATE => "TRUNCATE $name" }->{$priv};
			push @attempts, [ "$priv $name", sub {
					my ($role) = @_;
					return scalar grep { $_ eq $priv }
					  (@{ $privs->{all} // [] },
					   ($role eq 'admin' ? @{ $privs->{admin} // [] } : ()));
				}, $sql ];
		}
	}
	for my $f (@functions)
	{
		my ($sig, $nulls) = split /\|/, $f, 2;
		my ($fname) = $sig =~ /^([^(]+)\(/;
		my ($who, $args) = @{ $function_privs{$sig} // [ 'none', "($nulls)" ] };
		push @attempts, [ "EXECUTE $sig", sub { allowed($who, $_[0]) },
			"SELECT $fname$args",
			# no SQL value is of type internal: 42846 (no cast to it) on
			# 15, 0A000 (cannot accept a value of type internal) from 16
			$who eq 'uncallable' ? qr/^(?:42846|0A000) / : undef ];
	}

	for my $role (@roles)
	{
		my $script = '';
		for my $a (@attempts)
		{
			$script .= "SELECT \$l\$$a->[0]\$l\$, harness.attempt(\$s\$$a->[2]\$s\$);\n";
		}
		my $out = $node->safe_psql($db, $script, extra_params => [ '-U', $role ]);
		my %got = map { split /\|/, $_, 2 } split /\n/, $out;
		for my $a (@attempts)
		{
			my $result = $got{ $a->[0] } // 'no answer';
			if (defined $a->[3])
			{
				like($result, $a->[3], "$db, $role: $a->[0] cannot be called");
			}
			elsif ($a->[1]->($role))
			{
				is($result, 'ok', "$db, $role: $a->[0] succeeds");
			}
			else
			{
				like($result, qr/^42501 /, "$db, $role: $a->[0] is refused");
			}
		}
	}

	# Calling the trigger functions directly, even as a superuser, is an
	# error and nothing worse.
	for my $f (@functions)
	{
		my ($sig) = split /\|/, $f;
		next unless ($function_privs{$sig} // [''])->[0] eq 'none';
		my ($fname) = $sig =~ /^([^(]+)\(/;
		like($node->safe_psql($db, "SELECT harness.attempt('SELECT $fname()')"),
			qr/^(0A000|39P01|39P03|P0001|XX000|42809) /,
			"$db: a superuser calling $sig gets an error");
	}
}
server_unharmed('privileges');

# --- 2. every guardrails.* setting, every way a role can set one ---

my @settings = map { [ split /\|/ ] } split /\n/, $node->safe_psql('app', q{
	SELECT name, context, setting FROM pg_settings
	WHERE name LIKE 'guardrails.%' ORDER BY name});
ok(@settings >= 20, 'the settings are found in pg_settings');
for my $role (@roles)
{
	my (@attempts, $script);
	for my $s (@settings)
	{
		my ($name, $context, $value) = @$s;
		(my $short = $name) =~ s/^guardrails\.//;
		my $user = $context eq 'user';
		push @attempts,
		  [ "SET $name", $user, "SET $name = '$value'" ],
		  [ "SET LOCAL $name", $user, "SET LOCAL $name = '$value'" ],
		  [ "set_config $name", $user, "SELECT pg_catalog.set_config('$name', '$value', false)" ],
		  [ "set_config local $name", $user, "SELECT pg_catalog.set_config('$name', '$value', true)" ],
		  [ "ALTER ROLE SET $name", $user, "ALTER ROLE CURRENT_USER SET $name = '$value'" ],
		  [ "ALTER ROLE IN DATABASE SET $name", $user,
			"ALTER ROLE CURRENT_USER IN DATABASE app SET $name = '$value'" ],
		  [ "ALTER DATABASE SET $name", $user && $role eq 'dbowner',
			"ALTER DATABASE app SET $name = '$value'" ],
		  [ "CREATE FUNCTION SET $name", $user,
			"CREATE FUNCTION pg_temp.f_$short() RETURNS int LANGUAGE sql SET $name = '$value' AS 'SELECT 1'" ];
	}
	# a temporary schema for pg_temp.f_*
	$script = "CREATE TEMP TABLE anchor (a int);\n";
	$script .= "SELECT \$l\$$_->[0]\$l\$, harness.attempt(\$s\$$_->[2]\$s\$);\n" for @attempts;
	my %got = map { split /\|/, $_, 2 } split /\n/,
	  $node->safe_psql('app', $script, extra_params => [ '-U', $role ]);
	for my $a (@attempts)
	{
		my $result = $got{ $a->[0] } // 'no answer';
		if ($a->[1])
		{
			is($result, 'ok', "$role: $a->[0] succeeds");
		}
		else
		{
			isnt($result, 'ok', "$role: $a->[0] is refused");
			note("$role: $a->[0]: $result") if $result !~ /^(42501|55P02) /;
		}
	}
	# at connection
	for my $s (@settings)
	{
		my ($name, $context, $value) = @$s;
		(my $escaped = $value) =~ s/ /\\ /g;
		is(connects('app', $role, "-c $name=$escaped"), $context eq 'user',
			"$role: PGOPTIONS -c $name is " . ($context eq 'user' ? 'taken' : 'refused'));
	}
}

# By behaviour: a policy and a block set for these roles by the superuser
# hold whatever the role tries.
$node->safe_psql('pol', 'GRANT CREATE ON SCHEMA public TO PUBLIC');
for my $role (@roles)
{
	$node->safe_psql('postgres', qq{
		ALTER ROLE $role IN DATABASE pol SET guardrails.ddl_policy = 'enforce';
		ALTER ROLE $role IN DATABASE pol SET guardrails.allow_new_tables = off;
	});
}
# Probes of distinct digests (an alias is not part of a digest, a table is).
my $blocked_probe = 'SELECT 4242 FROM pg_catalog.pg_am LIMIT 1';
my $track_probe = 'SELECT 9191 FROM pg_catalog.pg_language LIMIT 1';
$node->safe_psql('app', "SELECT guardrails.block_query('$blocked_probe')");
for my $role (@roles)
{
	my ($ret, $out, $err) = $node->psql('pol', qq{
		CREATE TEMP TABLE anchor (a int);
		SET guardrails.ddl_policy = off;
		SET guardrails.allow_new_tables = on;
		SELECT pg_catalog.set_config('guardrails.ddl_policy', 'off', false);
		RESET ALL;
		RESET guardrails.ddl_policy;
		ALTER ROLE CURRENT_USER IN DATABASE pol RESET ALL;
		ALTER ROLE CURRENT_USER IN DATABASE pol RESET guardrails.ddl_policy;
		ALTER ROLE CURRENT_USER RESET ALL;
		ALTER DATABASE pol RESET ALL;
		ALTER DATABASE pol SET guardrails.ddl_policy = 'off';
		CREATE FUNCTION pg_temp.escape() RETURNS void LANGUAGE sql
			SET guardrails.allow_new_tables = on
			AS 'CREATE TABLE public.escape_fn_$role (a int)';
		SELECT pg_temp.escape();
		DO \$\$ BEGIN
			PERFORM pg_catalog.set_config('guardrails.ddl_policy', 'off', true);
		EXCEPTION WHEN OTHERS THEN NULL; END \$\$;
		CREATE TABLE public.escape_$role (a int);
	}, extra_params => [ '-U', $role ], on_error_stop => 0);
	like($err, qr/creating table "escape_$role" violates schema-change rule "new_tables"/,
		"$role: the schema-change policy still applies after every attempt to lift it");
	($ret, $out, $err) = $node->psql('pol', "CREATE TABLE public.escape2_$role (a int)",
		extra_params => [ '-U', $role ]);
	like($err, qr/violates schema-change rule "new_tables"/,
		"$role: and in its next session");
	ok(!connects('pol', $role, '-c guardrails.ddl_policy=off -c guardrails.allow_new_tables=on'),
		"$role: a connection asking to lift it is refused");

	($ret, $out, $err) = $node->psql('app', qq{
		SET guardrails.track = none;
		SET guardrails.track_utility = off;
		SET guardrails.ddl_lock_timeout = 0;
		SET guardrails.use_disabled_indexes = on;
		$track_probe;
		$blocked_probe;
	}, extra_params => [ '-U', $role ], on_error_stop => 0);
	like($err, qr/query digest -?\d+ is blocked/, "$role: a blocked digest stays blocked");
	is($node->safe_psql('app', qq{
		SELECT count(*) FROM guardrails.latency
		WHERE queryid = guardrails.query_digest('$track_probe')
		  AND rolname = '$role' AND datname = 'app'}),
		'1', "$role: and its statements are still timed");
}
is($node->safe_psql('pol', q{
	SELECT count(*) FROM pg_class WHERE relname LIKE 'escape%' AND relkind = 'r'}),
	'0', 'no role created a table against the policy');
server_unharmed('settings');

# --- 3. search_path tricks against the extension's functions and event
# triggers, by each role in app ---

for my $role (@roles)
{
	my $schema = "trap_$role";
	$node->safe_psql('app', "CREATE SCHEMA $schema;"
		  . trap_function($schema, 'trap', $role)
		  . trap_operators($schema)
		  . trap_functions($schema) . qq{
		CREATE TABLE $schema.t (id int, doc text);
		CREATE INDEX t_i ON $schema.t (id);
		CREATE INDEX t_j ON $schema.t (doc);
		CREATE TABLE $schema.u (id int);
		CREATE INDEX u_i ON $schema.u (id);
	}, extra_params => [ '-U', $role ]);
	# the superuser disables two of its indexes: the event triggers then
	# have rows to update and delete when they change
	$node->safe_psql('app', qq{
		SELECT guardrails.disable_index('$schema.t_i');
		SELECT guardrails.disable_index('$schema.t_j');
	});

	my $admin_part = $role ne 'admin' ? '' : qq{
		SELECT guardrails.disable_index('$schema.u_i');
		SELECT guardrails.enable_index('$schema.u_i');
		SELECT guardrails.limit_query('SELECT now()', 5);
		SELECT guardrails.block_query('SELECT now() = now()');
		SELECT guardrails.limit_digest(77, 1, role => '$role');
		SELECT guardrails.block_digest(78, expires_at => 'infinity');
		SELECT guardrails.unlimit_digest(77, '$role');
		SELECT guardrails.unlimit_digest(78);
		SELECT guardrails.unlimit_digest(guardrails.query_digest('SELECT now()'));
		SELECT guardrails.unlimit_digest(guardrails.query_digest('SELECT now() = now()'));
		SELECT guardrails.latency_reset(1);
		SELECT count(*) FROM guardrails.ddl_history;
		INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('$schema', 'u_i');
		DELETE FROM guardrails.disabled_indexes WHERE index_name OPERATOR(pg_catalog.=) 'u_i';
	};
	my ($ret, $out, $err) = $node->psql('app', qq{
		CREATE TEMP TABLE pg_class (oid oid, relname name, relnamespace oid, relkind "char");
		CREATE TEMP VIEW pg_namespace AS
			SELECT 0::oid AS oid, 'x'::name AS nspname FROM $schema.now();
		CREATE TEMP VIEW pg_roles AS
			SELECT 0::oid AS oid, 'x'::name AS rolname FROM $schema.now();
		CREATE TEMP VIEW pg_index AS
			SELECT 0::oid AS indexrelid, 0::oid AS indrelid FROM $schema.now();
		CREATE TEMP VIEW pg_constraint AS
			SELECT 0::oid AS conindid, 'p'::"char" AS contype FROM $schema.now();
		CREATE TEMP TABLE disabled_indexes (index_schema name, index_name name);
		SET search_path = pg_temp, $schema, public, pg_catalog;
		SELECT now();
		ALTER INDEX $schema.t_i RENAME TO t_i2;
		ALTER TABLE $schema.t RENAME TO t_renamed;
		ALTER TABLE $schema.t_renamed ALTER COLUMN id TYPE bigint;
		CREATE TABLE $schema.t3 (id int);
		CREATE INDEX t3_i ON $schema.t3 (id);
		DROP INDEX $schema.t_j;
		SELECT guardrails.query_digest('SELECT now()');
		SELECT count(*) FROM guardrails.latency;
		SELECT count(*) FROM guardrails.latency_buckets;
		SELECT count(*) FROM guardrails.status;
		SELECT count(*) FROM guardrails.index_visibility;
		SELECT count(*) FROM guardrails.digest_limit_status;
		SELECT count(*) FROM guardrails.ddl_log;
		SELECT guardrails.quantile(1, 0.5);
		$admin_part
		DROP TABLE $schema.t_renamed;
	}, extra_params => [ '-U', $role ], on_error_stop => 0);
	note("$role: $err") if $err =~ /ERROR/;
	is($node->safe_psql('app', qq{
		SELECT string_agg(cur || ' ' || what, ', ') FROM public.attack_log
		WHERE what LIKE '$schema.%'}),
		"$role $schema.now", "$role: only its own call ran its functions, as itself");
	is($node->safe_psql('app', qq{
		SELECT count(*) FROM guardrails.disabled_indexes
		WHERE index_schema = '$schema'}),
		'0', "$role: the event triggers kept disabled_indexes right (rows of dropped indexes gone)");
}
is($node->safe_psql('app', q{
	SELECT count(*) FROM public.attack_log a JOIN pg_roles r ON r.rolname = a.cur
	WHERE r.rolsuper}),
	'0', 'nothing an attacker defined ran as a superuser');
server_unharmed('search_path');

# --- 4. the worker, in the database whose owner set everything above ---

$node->safe_psql('app', 'CREATE TABLE public.worker_probe_app (a int)',
	extra_params => [ '-U', 'plain' ]);
{
	local $ENV{PGOPTIONS} = $ops_options;
	$node->safe_psql('ops', 'CREATE TABLE public.worker_probe_ops (a int)',
		extra_params => [ '-U', 'dbowner' ]);
	my $stored = '';
	for (1 .. 20)
	{
		$stored = $node->safe_psql('ops', q{
			SELECT string_agg(object_identity, ',' ORDER BY object_identity)
			FROM guardrails.ddl_history
			WHERE object_identity LIKE 'public.worker_probe%'});
		last if $stored eq 'public.worker_probe_app,public.worker_probe_ops';
		sleep 1;
	}
	is($stored, 'public.worker_probe_app,public.worker_probe_ops',
		'the worker stores the DDL history in the real ddl_history');
	is($node->safe_psql('ops', q{
		SELECT (SELECT count(*) FROM evil.ddl_history) + (SELECT count(*) FROM public.ddl_history)}),
		'0', 'and nothing in the look-alikes');
	is($node->safe_psql('ops', 'SELECT count(*) FROM public.attack_log'),
		'0', 'no function or operator of the owner of ops ran');
}
my @given_up = grep { /could not store DDL log entry|permission denied for table ddl_history|read-only transaction/ }
  grep { !/018_attack\.pl/ } split /\n/, slurp_file($node->logfile, $log_offset);
is(join("\n", @given_up), '', 'the worker met no error');
server_unharmed('worker');

# --- 5. look-alike tables with bad columns and rows ---

my $probe = 'SELECT 5353 FROM pg_catalog.pg_collation LIMIT 1';
my $probe_id = $node->safe_psql('app', "SELECT guardrails.query_digest('$probe')");
my $lookalikes = qq{
	CREATE TABLE %s.disabled_indexes (index_schema int, index_name int, indexrelid text);
	INSERT INTO %s.disabled_indexes VALUES (1, 2, 'public.victim_idx');
	CREATE TABLE %s.digest_limits (queryid text, role text, per_second text,
		burst text, max_concurrent text, action int, note int);
	INSERT INTO %s.digest_limits VALUES ('$probe_id', 'x', 'NaN', '-1', 'y', 7, 8);
	CREATE TABLE %s.ddl_history (system_identifier text, seq text, start_time int);
	INSERT INTO %s.ddl_history VALUES ('a', 'b', 3);
};
$node->safe_psql('noext', 'CREATE TABLE public.victim (id int); CREATE INDEX victim_idx ON public.victim (id);'
	  . 'GRANT SELECT ON public.victim TO PUBLIC');
$node->safe_psql('noext', 'CREATE SCHEMA guardrails; CREATE SCHEMA look;'
	  . sprintf($lookalikes, ('guardrails') x 6) . sprintf($lookalikes, ('look') x 6),
	extra_params => [ '-U', 'dbowner' ]);
$node->safe_psql('app', 'CREATE SCHEMA look;' . sprintf($lookalikes, ('look') x 6),
	extra_params => [ '-U', 'dbowner' ]);
for my $db (qw(noext app))
{
	my ($ret, $out, $err) = $node->psql($db, qq{
		SET search_path = look, guardrails, public;
		$probe;
		$probe;
		CREATE TABLE public.lookalike_ddl (a int);
		DROP TABLE public.lookalike_ddl;
		SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT * FROM public.victim WHERE id = 1;
	}, extra_params => [ '-U', 'dbowner' ]);
	is($ret, 0, "$db: look-alike rules tables with bad columns break nothing");
	like($out, qr/^5353\n5353\n.*victim_idx/s,
		"$db: their rows neither block a digest nor disable an index");
}
server_unharmed('look-alikes');

# --- 6. what guardrails_admin may not disable, absurd rule values, blocks
# on the extension's own statements, the DDL log's privacy ---

my $toast_index = $node->safe_psql('app', q{
	SELECT i.indexrelid FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid
	WHERE c.oid = 'public.victim'::regclass});
my %admin_attempts = (
	q{SELECT guardrails.disable_index('pg_catalog.pg_class_oid_index', force => true)} => qr/^42501 .*system catalog/,
	q{SELECT guardrails.disable_index('pg_catalog.pg_authid_rolname_index')} => qr/^42501 .*system catalog/,
	qq{SELECT guardrails.disable_index($toast_index, force => true)} => qr/^42501 .*TOAST/,
	q{CREATE TEMP TABLE tt (a int); CREATE INDEX tt_i ON tt (a); PERFORM guardrails.disable_index('tt_i')} => qr/^0A000 /,
	q{INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('pg_catalog', 'pg_class_oid_index')} => qr/^42501 /,
	q{INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('pg_toast', 'pg_toast_1255_index')} => qr/^42501 /,
	q{INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('pg_temp_1', 'x')} => qr/^0A000 /,
	q{UPDATE guardrails.disabled_indexes SET index_schema = 'pg_catalog', index_name = 'pg_class_oid_index'} => qr/^(ok|42501 )/,
	q{SELECT guardrails.disable_index('public.victim')} => qr/^42809 /,
	q{SELECT guardrails.disable_index('public.victim_idx')} => qr/^ok$/,
	q{SELECT guardrails.limit_digest(1, 'NaN')} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, 'Infinity')} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, '-Infinity')} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, -1)} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, 0)} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, NULL)} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(NULL, 1)} => qr/^22004 /,
	q{SELECT guardrails.limit_digest(1, 1, burst => 0)} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, 1, burst => -2147483648)} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, NULL, max_concurrent => 0)} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, 1, action => 'block')} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, 1, action => NULL)} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, 1, role => 0::oid::regrole)} => qr/^42704 /,
	q{SELECT guardrails.limit_digest(1, 1, expires_at => '-infinity')} => qr/^22023 /,
	q{SELECT guardrails.limit_digest(1, 1e308)} => qr/^ok$/,
	q{SELECT guardrails.limit_digest(1, 1e-300)} => qr/^ok$/,
	q{SELECT guardrails.limit_digest(1, 1, 2147483647, 2147483647, expires_at => 'infinity')} => qr/^ok$/,
	q{SELECT guardrails.limit_digest(-9223372036854775808, 1)} => qr/^ok$/,
	q{SELECT guardrails.block_digest(1, expires_at => 'infinity')} => qr/^ok$/,
	q{INSERT INTO guardrails.digest_limits (queryid, per_second) VALUES (1, 'NaN')} => qr/^23514 /,
	q{INSERT INTO guardrails.digest_limits (queryid, per_second) VALUES (1, 'Infinity')} => qr/^23514 /,
	q{INSERT INTO guardrails.digest_limits (queryid, per_second, burst) VALUES (1, 1, 0)} => qr/^23514 /,
	q{INSERT INTO guardrails.digest_limits (queryid, action) VALUES (1, 'bogus')} => qr/^23514 /,
	q{INSERT INTO guardrails.digest_limits (queryid, action) VALUES (1, 'limit')} => qr/^23514 /,
	q{INSERT INTO guardrails.digest_limits (queryid, per_second, burst, max_concurrent) VALUES (1, 4.9e-324, 2147483647, 2147483647)} => qr/^ok$/);
my $script = '';
my @admin_attempts = sort keys %admin_attempts;
for my $i (0 .. $#admin_attempts)
{
	(my $sql = $admin_attempts[$i]) =~ s/^SELECT /PERFORM /;
	$sql = "DO \$d\$ BEGIN $sql; END \$d\$" if $sql =~ /^PERFORM|; PERFORM/;
	$script .= "SELECT $i, harness.attempt(\$s\$$sql\$s\$);\n";
}
my %admin_got = map { split /\|/, $_, 2 } split /\n/,
  $node->safe_psql('app', $script, extra_params => [ '-U', 'admin' ]);
for my $i (0 .. $#admin_attempts)
{
	like($admin_got{$i} // 'no answer', $admin_attempts{ $admin_attempts[$i] },
		"admin: $admin_attempts[$i]");
}

# Absurd but valid rules, enforced for real.
my ($huge, $tiny, $denormal) = ('SELECT 6161 FROM pg_catalog.pg_ts_parser LIMIT 1',
	'SELECT 6262 FROM pg_catalog.pg_ts_template LIMIT 1',
	'SELECT 6363 FROM pg_catalog.pg_opfamily LIMIT 1');
$node->safe_psql('app', qq{
	SELECT guardrails.limit_query('$huge', 1e308, 2147483647, 2147483647, expires_at => 'infinity');
	SELECT guardrails.limit_query('$tiny', 1e-300);
	INSERT INTO guardrails.digest_limits (queryid, per_second, burst, max_concurrent)
	VALUES (guardrails.query_digest('$denormal'), 4.9e-324, 2147483647, 1);
	INSERT INTO guardrails.digest_limits (queryid, action, expires_at)
	VALUES (guardrails.query_digest('$blocked_probe'), 'block', '-infinity')
	ON CONFLICT ON CONSTRAINT digest_limits_rule DO UPDATE SET expires_at = '-infinity';
}, extra_params => [ '-U', 'admin' ]);
my ($ret, $out, $err) = $node->psql('app', "$huge; $huge; $huge; $denormal; $denormal",
	extra_params => [ '-U', 'plain' ]);
is($out, "6161\n6161\n6161\n6363\n6363", 'a rule of 1e308 per second, and one of the smallest double, let everything through');
($ret, $out, $err) = $node->psql('app', "$tiny; $tiny", extra_params => [ '-U', 'plain' ]);
like($err, qr/query digest -?\d+ is rate limited/, 'a rule of 1e-300 per second refuses the second execution');
($ret, $out, $err) = $node->psql('app', $blocked_probe, extra_params => [ '-U', 'plain' ]);
is($out, '4242', 'a block that expired at -infinity does not apply');
($ret, $out, $err) = $node->psql('app', q{
	SELECT count(*) FILTER (WHERE tokens = 'NaN') FROM guardrails.digest_limit_status},
	extra_params => [ '-U', 'plain' ]);
is($err, '', 'digest_limit_status reads with these rules');
is($out, '0', 'and no token count is NaN');

# Blocks on every digest ever run in app, the extension's own statements
# among them (guardrails.track = all times statements inside functions):
# the extension keeps working, and ordinary statements are blocked.
my $control = 'SELECT 7171 FROM pg_catalog.pg_tablespace LIMIT 1';
$node->safe_psql('app', $control);
my $blocked = $node->safe_psql('app', q{
	SELECT count(*) FROM (
		SELECT guardrails.block_digest(queryid, expires_at => now() + interval '5 min',
									   note => 'block everything')
		FROM (SELECT DISTINCT queryid FROM guardrails.latency
			  WHERE datname = 'app' AND queryid <> 0
				AND queryid NOT IN (SELECT queryid FROM guardrails.digest_limits)) q) b
}, extra_params => [ '-U', 'admin' ]);
cmp_ok($blocked, '>', 50, 'guardrails_admin blocks every digest run in app so far');
($ret, $out, $err) = $node->psql('app', $control);
like($err, qr/is blocked/, 'a statement seen before is blocked');
($ret, $out, $err) = $node->psql('app', q{
	SELECT 1 AS fresh1 FROM guardrails.disable_index('public.victim_idx');
	ALTER INDEX public.victim_idx RENAME TO victim_idx_renamed;
	ALTER INDEX public.victim_idx_renamed RENAME TO victim_idx;
	SELECT 2 AS fresh2, index_name FROM guardrails.disabled_indexes WHERE index_schema = 'public';
	SELECT 3 AS fresh3 FROM guardrails.enable_index('public.victim_idx');
	CREATE TABLE public.after_block (a int);
	SELECT 4 AS fresh4 FROM guardrails.limit_digest(999, 1);
	SELECT 5 AS fresh5 FROM guardrails.unlimit_digest(999);
});
is($ret, 0, 'the extension\'s functions and event triggers still work');
like($out, qr/^1\n2\|victim_idx\n3\n4\n5$/, 'and do their work');
$node->safe_psql('app', q{DELETE FROM guardrails.digest_limits WHERE note = 'block everything' AND queryid <> 0});

# The DDL log: guardrails_admin sees other roles' statements in
# ddl_history, not in ddl_log; no one else sees them in ddl_log.
$node->safe_psql('app', 'CREATE TABLE public.secret_of_plain (a int)',
	extra_params => [ '-U', 'plain' ]);
for my $role (qw(admin dbowner))
{
	is($node->safe_psql('app', q{
		SELECT string_agg(DISTINCT coalesce(query, 'NULL') || ' ' || coalesce(object_identity, 'NULL'), ',')
		FROM guardrails.ddl_log WHERE role = 'plain'},
		extra_params => [ '-U', $role ]),
		'<insufficient privilege> NULL', "$role does not read plain's statements in ddl_log");
}
is($node->safe_psql('app', q{
	SELECT count(*) FROM guardrails.ddl_log
	WHERE role = 'plain' AND query = 'CREATE TABLE public.secret_of_plain (a int)'},
	extra_params => [ '-U', 'plain' ]),
	'1', 'plain reads its own');
is($node->safe_psql('app', q{
	SELECT count(*) FROM guardrails.ddl_log
	WHERE role = 'postgres' AND query <> '<insufficient privilege>'},
	extra_params => [ '-U', 'plain' ]),
	'0', 'but not the superuser\'s');
is($node->safe_psql('app', q{
	SELECT count(*) FROM guardrails.ddl_log_entries()
	WHERE role = 'postgres' AND (query <> '<insufficient privilege>' OR
								 object_identity IS NOT NULL OR outcome IS NOT NULL)},
	extra_params => [ '-U', 'plain' ]),
	'0', 'nor by calling the function behind the view');
{
	local $ENV{PGOPTIONS} = $ops_options;
	my $seen = 0;
	for (1 .. 20)
	{
		$seen = $node->safe_psql('ops', q{
			SELECT count(*) FROM guardrails.ddl_history
			WHERE query = 'CREATE TABLE public.secret_of_plain (a int)'},
			extra_params => [ '-U', 'admin' ]);
		last if $seen;
		sleep 1;
	}
	is($seen, '1',
		'guardrails_admin reads it in ddl_history, as the README says');
}
my $entries = $node->safe_psql('app', 'SELECT count(*) FROM guardrails.ddl_log');
for my $f ('guardrails.ddl_log_reset()', 'guardrails.latency_reset()')
{
	($ret, $out, $err) = $node->psql('app', "SELECT $f", extra_params => [ '-U', 'plain' ]);
	like($err, qr/permission denied for function/, "plain: $f is refused");
}
cmp_ok($node->safe_psql('app', 'SELECT count(*) FROM guardrails.ddl_log'), '>=', $entries,
	'and the DDL log is still there');
server_unharmed('the end');

# The standby replayed every rule written above, the absurd ones among
# them, and enforces them (with its own token buckets) without harm.
$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
($ret, $out, $err) = $standby->psql('app', "$huge; $huge; $denormal; $tiny; $tiny",
	extra_params => [ '-U', 'plain' ]);
like($out, qr/^6161\n6161\n6363\n6262$/, 'the standby applies the absurd rules');
like($err, qr/is rate limited/, 'and refuses what they refuse');
($ret, $out, $err) = $standby->psql('app', 'SELECT count(*) FROM guardrails.digest_limit_status');
is($err, '', 'digest_limit_status reads on the standby');
my @standby_crashes = grep { /terminated by signal|server process .* was terminated|terminating any other active server processes/ }
  split /\n/, slurp_file($standby->logfile);
is(join("\n", @standby_crashes), '', 'no process of the standby crashed');
is(postmaster_pid($standby), $standby_pid, 'the standby\'s postmaster is the same');

done_testing();
