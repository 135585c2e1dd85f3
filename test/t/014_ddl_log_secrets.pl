# Secrets and privacy in the DDL audit log.
#
# Passwords in role statements, user-mapping and server options, and the
# connection strings of subscriptions and of ALTER SYSTEM are redacted
# before an entry is stored anywhere: the ring (guardrails.ddl_log), the
# server-log line and guardrails.ddl_history.  Error messages of such
# statements are redacted too (libpq echoes pieces of a bad connection
# string).
#
# Another role's entries show in ddl_log only what pg_stat_activity shows
# of another role's session; members of the entry's role and of
# pg_read_all_stats see everything.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ddl_secrets');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
listen_addresses = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');

# The server-log lines of the DDL log, decoded.
sub log_entries
{
	my @entries;
	for my $line (split /\n/, slurp_file($node->logfile))
	{
		push @entries, decode_json($1)
		  if $line =~ /pg_guardrails ddl: (\{.*\})$/;
	}
	return @entries;
}

# Every secret below contains "r1t-": that string must appear nowhere.
my $first = $node->safe_psql('postgres',
	'SELECT coalesce(max(seq), 0) + 1 FROM guardrails.ddl_log');

# Statements that succeed, each sent on its own.
my @ok = (
	q{CREATE ROLE r1 LOGIN PASSWORD 'Sekr1t-01'},
	q{CREATE ROLE r2 ENCRYPTED PASSWORD 'Sekr1t-02' VALID UNTIL 'infinity'},
	q{CREATE USER u3 WITH PASSWORD 'Sekr1t-03'},
	q{ALTER ROLE r1 PASSWORD 'Sekr1t-04'},
	q{ALTER USER u3 WITH ENCRYPTED PASSWORD E'Sek\\'r1t-05'},
	q{ALTER ROLE r2 PASSWORD $pw$Sekr1t-06$pw$},
	q{ALTER ROLE r2 PASSWORD U&'Sekr1t-\0030\0037'},
	q{ALTER ROLE r2 PASSWORD 'Säkr1t-08 ''quoted'''},
	q{CREATE FOREIGN DATA WRAPPER w},
	q{CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (host 'localhost', password 'Sekr1t-09')},
	q{ALTER SERVER s OPTIONS (SET password 'Sekr1t-10')},
	q{CREATE USER MAPPING FOR r1 SERVER s OPTIONS (user 'r1', password 'Sekr1t-11')},
	q{ALTER USER MAPPING FOR r1 SERVER s OPTIONS (SET password 'Sekr1t-12')},
	q{ALTER USER MAPPING FOR r1 SERVER s OPTIONS (ADD sslpassword 'Sekr1t-13')},
	q{CREATE USER MAPPING FOR PUBLIC SERVER s OPTIONS ("password" 'Sekr1t-14')},
	q{CREATE FOREIGN TABLE ft (a int OPTIONS (column_name 'a', secret 'Sekr1t-26')) SERVER s OPTIONS (table_name 't', api_key 'Sekr1t-27')},
	q{ALTER FOREIGN TABLE ft OPTIONS (ADD "Password" 'Sekr1t-28')},
	q{CREATE SUBSCRIPTION sub1 CONNECTION 'host=localhost port=1 dbname=postgres password=Sekr1t-15' PUBLICATION p WITH (connect = false)},
	q{ALTER SUBSCRIPTION sub1 CONNECTION 'dbname=postgres password=Sekr1t-16'},
	q{ALTER ROLE r1 SET myapp.password = 'Sekr1t-17'},
	q{ALTER SYSTEM SET primary_conninfo = 'host=primary password=Sekr1t-18'},
	q{ALTER SYSTEM RESET primary_conninfo},
	q{ALTER SYSTEM SET primary_conninfo = "host=primary password=Sekr1t-24"},
	q{ALTER SYSTEM RESET primary_conninfo},
	q{ALTER DATABASE postgres SET myapp.api_token = 'Sekr1t-25'},
	# Every form again with its names in mixed case: a quoted name keeps
	# its case, and settings and options are found whatever their case.
	q{CREATE ROLE r5 LOGIN PaSsWoRd 'Sekr1t-30'},
	q{AlTeR UsEr r5 WITH EnCrYpTeD PASSWORD 'Sekr1t-31'},
	q{CREATE FOREIGN DATA WRAPPER w2 OPTIONS ("Api_Key" 'Sekr1t-32')},
	q{ALTER FOREIGN DATA WRAPPER w2 OPTIONS (SET "Api_Key" 'Sekr1t-33')},
	q{CREATE SERVER s2 FOREIGN DATA WRAPPER w OPTIONS ("PassWord" 'Sekr1t-34')},
	q{ALTER SERVER s2 OPTIONS (SET "PassWord" 'Sekr1t-35')},
	q{CREATE USER MAPPING FOR r5 SERVER s OPTIONS ("User" 'r5', "PASSWORD" 'Sekr1t-36')},
	q{ALTER USER MAPPING FOR r5 SERVER s OPTIONS (SET "PASSWORD" 'Sekr1t-37')},
	q{CREATE FOREIGN TABLE ft2 (a int OPTIONS ("SeCret" 'Sekr1t-38')) SERVER s OPTIONS ("Api_Token" 'Sekr1t-39')},
	q{ALTER FOREIGN TABLE ft2 ALTER COLUMN a OPTIONS (SET "SeCret" 'Sekr1t-40')},
	# a foreign table altered with the words ALTER TABLE
	q{ALTER TABLE ft2 OPTIONS (ADD "Credential" 'Sekr1t-41')},
	q{ALTER TABLE ft2 ALTER COLUMN a OPTIONS (ADD "Token" 'Sekr1t-42')},
	q{ALTER TABLE ft2 ADD COLUMN b int OPTIONS ("Key" 'Sekr1t-43')},
	q{CrEaTe SuBsCrIpTiOn sub4 CoNnEcTiOn 'password=Sekr1t-44' PUBLICATION p WITH (connect = false)},
	q{ALTER SUBSCRIPTION sub4 CoNnEcTiOn 'password=Sekr1t-45'},
	q{ALTER ROLE r5 SET "App.ConnInfo" = 'host=x password=Sekr1t-46'},
	q{ALTER ROLE r5 IN DATABASE postgres SET "App.Deploy_Command" = 'curl -u me:Sekr1t-47'},
	q{ALTER ROLE r5 SET myapp."PassWord" = 'Sekr1t-48'},
	q{ALTER SYSTEM SET "Primary_Conninfo" = 'host=primary password=Sekr1t-49'},
	q{ALTER SYSTEM RESET "Primary_Conninfo"},
	q{ALTER SYSTEM SET "Archive_Command" = 'scp -i Sekr1t-50 %p host:'},
	q{ALTER SYSTEM RESET "Archive_Command"},
	q{ALTER DATABASE postgres SET "MyApp.Api_Token" = 'Sekr1t-51'},
	q{ALTER DATABASE postgres SET "MyApp.ConnInfo" TO 'password=Sekr1t-52'},
);
$node->safe_psql('postgres', $_) for @ok;

# Several statements in one query string: each entry has its own text.
$node->safe_psql('postgres',
	q{CREATE ROLE r4 PASSWORD 'Sekr1t-19' \; ALTER ROLE r4 PASSWORD 'Sekr1t-20' \; CREATE TABLE plain_t (a text DEFAULT 'visible')});

# Statements that fail are recorded, redacted, with their message redacted.
my @fail = (
	q{CREATE ROLE r1 PASSWORD 'Sekr1t-21'},
	q{CREATE SUBSCRIPTION sub2 CONNECTION 'host=127.0.0.1 port=1 password=Sekr1t-22' PUBLICATION p},
	q{CREATE SUBSCRIPTION sub3 CONNECTION 'dbname=postgres password=Sek r1t-23' PUBLICATION p WITH (connect = false)},
);
for my $sql (@fail)
{
	my ($ret) = $node->psql('postgres', $sql);
	isnt($ret, 0, "fails: $sql");
}

my $nstatements = scalar(@ok) + 3 + scalar(@fail);
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM guardrails.ddl_log WHERE seq >= $first}),
	$nstatements, 'every statement is in the ring');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(l::text, E'\n') FROM guardrails.ddl_log l
	WHERE seq >= $first AND l::text ~ 'r1t-'}),
	'', 'no secret in the ring');

is($node->safe_psql('postgres', qq{
	SELECT string_agg(query, E'\n' ORDER BY seq) FROM guardrails.ddl_log
	WHERE seq >= $first AND query <> 'CREATE FOREIGN DATA WRAPPER w'}),
	q{CREATE ROLE r1 LOGIN PASSWORD <REDACTED>
CREATE ROLE r2 ENCRYPTED PASSWORD <REDACTED> VALID UNTIL 'infinity'
CREATE USER u3 WITH PASSWORD <REDACTED>
ALTER ROLE r1 PASSWORD <REDACTED>
ALTER USER u3 WITH ENCRYPTED PASSWORD <REDACTED>
ALTER ROLE r2 PASSWORD <REDACTED>
<REDACTED>
ALTER ROLE r2 PASSWORD <REDACTED>
CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (host 'localhost', password <REDACTED>)
ALTER SERVER s OPTIONS (SET password <REDACTED>)
CREATE USER MAPPING FOR r1 SERVER s OPTIONS (user <REDACTED>, password <REDACTED>)
ALTER USER MAPPING FOR r1 SERVER s OPTIONS (SET password <REDACTED>)
ALTER USER MAPPING FOR r1 SERVER s OPTIONS (ADD sslpassword <REDACTED>)
CREATE USER MAPPING FOR PUBLIC SERVER s OPTIONS ("password" <REDACTED>)
CREATE FOREIGN TABLE ft (a int OPTIONS (column_name 'a', secret <REDACTED>)) SERVER s OPTIONS (table_name 't', api_key <REDACTED>)
ALTER FOREIGN TABLE ft OPTIONS (ADD "Password" <REDACTED>)
CREATE SUBSCRIPTION sub1 CONNECTION <REDACTED> PUBLICATION p WITH (connect = false)
ALTER SUBSCRIPTION sub1 CONNECTION <REDACTED>
ALTER ROLE r1 SET myapp.password = <REDACTED>
ALTER SYSTEM SET primary_conninfo = <REDACTED>
ALTER SYSTEM RESET primary_conninfo
ALTER SYSTEM SET primary_conninfo = <REDACTED>
ALTER SYSTEM RESET primary_conninfo
ALTER DATABASE postgres SET myapp.api_token = <REDACTED>
CREATE ROLE r5 LOGIN PaSsWoRd <REDACTED>
AlTeR UsEr r5 WITH EnCrYpTeD PASSWORD <REDACTED>
CREATE FOREIGN DATA WRAPPER w2 OPTIONS ("Api_Key" <REDACTED>)
ALTER FOREIGN DATA WRAPPER w2 OPTIONS (SET "Api_Key" <REDACTED>)
CREATE SERVER s2 FOREIGN DATA WRAPPER w OPTIONS ("PassWord" <REDACTED>)
ALTER SERVER s2 OPTIONS (SET "PassWord" <REDACTED>)
CREATE USER MAPPING FOR r5 SERVER s OPTIONS ("User" <REDACTED>, "PASSWORD" <REDACTED>)
ALTER USER MAPPING FOR r5 SERVER s OPTIONS (SET "PASSWORD" <REDACTED>)
CREATE FOREIGN TABLE ft2 (a int OPTIONS ("SeCret" <REDACTED>)) SERVER s OPTIONS ("Api_Token" <REDACTED>)
ALTER FOREIGN TABLE ft2 ALTER COLUMN a OPTIONS (SET "SeCret" <REDACTED>)
ALTER TABLE ft2 OPTIONS (ADD "Credential" <REDACTED>)
ALTER TABLE ft2 ALTER COLUMN a OPTIONS (ADD "Token" <REDACTED>)
ALTER TABLE ft2 ADD COLUMN b int OPTIONS ("Key" <REDACTED>)
CrEaTe SuBsCrIpTiOn sub4 CoNnEcTiOn <REDACTED> PUBLICATION p WITH (connect = false)
ALTER SUBSCRIPTION sub4 CoNnEcTiOn <REDACTED>
ALTER ROLE r5 SET "App.ConnInfo" = <REDACTED>
ALTER ROLE r5 IN DATABASE postgres SET "App.Deploy_Command" = <REDACTED>
ALTER ROLE r5 SET myapp."PassWord" = <REDACTED>
ALTER SYSTEM SET "Primary_Conninfo" = <REDACTED>
ALTER SYSTEM RESET "Primary_Conninfo"
ALTER SYSTEM SET "Archive_Command" = <REDACTED>
ALTER SYSTEM RESET "Archive_Command"
ALTER DATABASE postgres SET "MyApp.Api_Token" = <REDACTED>
ALTER DATABASE postgres SET "MyApp.ConnInfo" TO <REDACTED>
CREATE ROLE r4 PASSWORD <REDACTED>
ALTER ROLE r4 PASSWORD <REDACTED>
CREATE TABLE plain_t (a text DEFAULT 'visible')
CREATE ROLE r1 PASSWORD <REDACTED>
CREATE SUBSCRIPTION sub2 CONNECTION <REDACTED> PUBLICATION p
CREATE SUBSCRIPTION sub3 CONNECTION <REDACTED> PUBLICATION p WITH (connect = false)},
	'the statements keep their text, less the secrets');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(format('%s|%s|%s', command_tag, sqlstate, message), E'\n' ORDER BY seq)
	FROM guardrails.ddl_log WHERE seq >= $first AND outcome <> 'ok'}),
	q{CREATE ROLE|42710|<REDACTED>
CREATE SUBSCRIPTION|08006|<REDACTED>
CREATE SUBSCRIPTION|42601|<REDACTED>},
	'failures keep their SQLSTATE; their messages are redacted');

# The server log: one line per statement, none with a secret.
my @logged = grep { $_->{seq} >= $first } log_entries();
is(scalar @logged, $nstatements, 'every statement is in the server log');
my @leaks = grep { encode_json($_) =~ /r1t-/ } @logged;
is(scalar @leaks, 0, 'no secret in the server-log lines')
  or diag explain \@leaks;

# The table.
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = $nstatements FROM guardrails.ddl_history WHERE seq >= $first}),
	'every statement reaches ddl_history');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(h::text, E'\n') FROM guardrails.ddl_history h
	WHERE seq >= $first AND h::text ~ 'r1t-'}),
	'', 'no secret in ddl_history');
is($node->safe_psql('postgres', qq{
	SELECT (SELECT string_agg(query, E'\n' ORDER BY seq) FROM guardrails.ddl_history
			WHERE seq >= $first)
		 = (SELECT string_agg(query, E'\n' ORDER BY seq) FROM guardrails.ddl_log
			WHERE seq >= $first)}),
	't', 'ddl_history has the same redacted texts');

# A clean restart saves the ring to a file: it holds no secret either.
$node->restart;
my $state = join '', map { slurp_file($_) }
  glob($node->data_dir . '/pg_stat/pg_guardrails*');
unlike($state, qr/r1t-/, 'no secret in the saved state');

# Privacy: what another role's entry shows.
my $super = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', q{
	CREATE ROLE alice;
	CREATE ROLE stats IN ROLE pg_read_all_stats;
	CREATE ROLE bob LOGIN;
	CREATE ROLE bob_member IN ROLE bob;
	GRANT CREATE ON SCHEMA public TO bob;
	CREATE TABLE secret_plans (a int);
});
my $tcp = 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres';
$node->safe_psql('postgres', 'ALTER TABLE secret_plans ADD COLUMN b int',
	connstr => "$tcp application_name=payroll-batch");
$node->safe_psql('postgres', 'CREATE TABLE bob_t (a int)',
	connstr => "$tcp user=bob application_name=bob-app");

# Every column of the view, NULL spelled out.
my $columns = q{concat_ws('|', database, role, session_role, pid IS NOT NULL,
	coalesce(start_time::text, 'NULL') <> 'NULL',
	coalesce(duration_ms::text, 'NULL') <> 'NULL',
	coalesce(host(client_addr), 'NULL'), coalesce(application_name, 'NULL'),
	coalesce(toplevel::text, 'NULL'), coalesce(command_tag, 'NULL'),
	coalesce(object_type, 'NULL'), coalesce(object_identity, 'NULL'),
	query, coalesce(query_truncated::text, 'NULL'),
	coalesce(outcome, 'NULL'), coalesce(sqlstate, 'NULL'),
	coalesce(message, 'NULL'), coalesce(policy_warnings::text, 'NULL'),
	coalesce(lock_wait_ms::text, 'NULL') = 'NULL',
	coalesce(rolled_back::text, 'NULL'), stored IS NOT NULL)};

my $payroll_hidden = "postgres|$super|$super|t|f|f|NULL|NULL|NULL|NULL|NULL|NULL|<insufficient privilege>|NULL|NULL|NULL|NULL|NULL|t|NULL|t";
my $payroll_full = "postgres|$super|$super|t|t|t|127.0.0.1|payroll-batch|true|ALTER TABLE|table|public.secret_plans|ALTER TABLE secret_plans ADD COLUMN b int|false|ok|NULL|NULL|{}";
my $bob_hidden = "postgres|bob|bob|t|f|f|NULL|NULL|NULL|NULL|NULL|NULL|<insufficient privilege>|NULL|NULL|NULL|NULL|NULL|t|NULL|t";
my $bob_full = "postgres|bob|bob|t|t|t|127.0.0.1|bob-app|true|CREATE TABLE|table|public.bob_t|CREATE TABLE bob_t (a int)|false|ok|NULL|NULL|{}";

# the superuser's statement, seen by an ordinary role and by bob
my $payroll_seq = $node->safe_psql('postgres', q{
	SELECT max(seq) FROM guardrails.ddl_log WHERE object_identity = 'public.secret_plans'});
my $bob_seq = $node->safe_psql('postgres', q{
	SELECT max(seq) FROM guardrails.ddl_log WHERE object_identity = 'public.bob_t'});

sub seq_as
{
	my ($viewer, $seq) = @_;
	return $node->safe_psql('postgres', qq{
		SET ROLE $viewer;
		SELECT $columns FROM guardrails.ddl_log WHERE seq = $seq});
}

is(seq_as('alice', $payroll_seq), $payroll_hidden,
	'an ordinary role sees of a superuser\'s entry only what pg_stat_activity would show');
is(seq_as('bob', $payroll_seq), $payroll_hidden, 'so does another role');
like(seq_as('stats', $payroll_seq), qr/^\Q$payroll_full\E\|[tf]\|false\|t$/,
	'a member of pg_read_all_stats sees everything');
like(seq_as($super, $payroll_seq), qr/^\Q$payroll_full\E\|[tf]\|false\|t$/,
	'so does a superuser');
is(seq_as('alice', $bob_seq), $bob_hidden, 'an ordinary role does not see bob\'s entry');
like(seq_as('bob', $bob_seq), qr/^\Q$bob_full\E\|[tf]\|false\|t$/, 'bob sees his own entry');
like(seq_as('bob_member', $bob_seq), qr/^\Q$bob_full\E\|[tf]\|false\|t$/, 'and so does a member of bob');

done_testing();
