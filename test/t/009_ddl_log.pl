# The DDL audit log: the background worker copies every entry into
# guardrails.ddl_history within seconds; the ring survives a clean restart;
# after a crash, the table and the server log together hold every DDL
# statement that ran; an overflowing ring is counted and the server log
# still has every entry.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use GrdTestUtil;

my $node = PostgreSQL::Test::Cluster->new('ddl_log');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
restart_after_crash = on
});
$node->start;

# The server-log lines of the DDL log, decoded.
sub log_entries
{
	my ($n) = @_;
	my @entries;
	for my $line (split /\n/, slurp_file($n->logfile))
	{
		push @entries, decode_json($1) if $line =~ /pg_guardrails ddl: (\{.*\})$/;
	}
	return @entries;
}

# Before the extension exists in guardrails.database, the worker says so,
# once, and waits.
$node->safe_psql('postgres', 'CREATE TABLE before_extension (a int)');
sleep 3;
my $missing = () = slurp_file($node->logfile) =~ /extension "pg_guardrails" is not created in database "postgres"/g;
is($missing, 1, 'the worker says once that the extension is missing');

$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM guardrails.ddl_history
	WHERE query = 'CREATE TABLE before_extension (a int)'}),
	'then stores what was waiting in the ring');

# Every entry reaches the table within seconds, failures and rollbacks
# included.
$node->safe_psql('postgres', q{
	CREATE TABLE t1 (id int PRIMARY KEY);
	CREATE INDEX t1_idx ON t1 (id);
	DO $$ BEGIN EXECUTE 'ALTER TABLE t1 ADD COLUMN c int'; END $$;
	BEGIN; CREATE TABLE t_rolled (a int); ROLLBACK;
});
$node->psql('postgres', 'CREATE TABLE t1 (id int)');
my $start = time;
ok($node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM guardrails.ddl_history)
		 = (SELECT count(*) FROM guardrails.ddl_log)
	   AND (SELECT count(*) FROM guardrails.ddl_log WHERE NOT stored) = 0}),
	'ddl_history holds every entry of the ring');
cmp_ok(time - $start, '<=', 5, 'within a few seconds');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s|%s|%s|%s|%s', command_tag, object_identity,
							 outcome, coalesce(sqlstate, ''), toplevel), E'\n' ORDER BY seq)
	FROM guardrails.ddl_history
	WHERE object_identity ~ '^(public\.)?t(1|1_idx|_rolled)$'}),
	"CREATE TABLE|public.t1|ok||t
CREATE INDEX|public.t1_idx|ok||t
ALTER TABLE|public.t1|ok||f
CREATE TABLE|public.t_rolled|ok||t
CREATE TABLE|t1|error|42P07|t",
	'with command, object, outcome, SQLSTATE and nesting');
ok($node->poll_query_until('postgres', q{
	SELECT rolled_back FROM guardrails.ddl_history
	WHERE object_identity = 'public.t_rolled'}),
	'a statement rolled back with its transaction is marked so in the table');
is($node->safe_psql('postgres', q{
	SELECT rolled_back FROM guardrails.ddl_history
	WHERE object_identity = 'public.t1_idx'}), 'f',
	'a committed one is not');

# The server log has one parsable line per entry, with the same numbers.
my %logged = map { $_->{seq} => $_ } log_entries($node);
my $ring = $node->safe_psql('postgres', 'SELECT string_agg(seq::text, \',\' ORDER BY seq) FROM guardrails.ddl_log');
my @missing_from_log = grep { !$logged{$_} } split /,/, $ring;
is(scalar @missing_from_log, 0, 'every entry of the ring is in the server log');
my ($failed) = grep { $_->{outcome} eq 'error' } values %logged;
is($failed->{sqlstate}, '42P07', 'the log line has the SQLSTATE of a failure');
like($failed->{message}, qr/already exists/, 'and its message');

# A statement cancelled, and one whose backend is terminated, are recorded
# as failed.
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET statement_timeout = '100ms';
	CREATE TABLE cancelled AS SELECT 1 AS a FROM pg_sleep(5)});
like($err, qr/statement timeout/, 'a DDL statement is cancelled');
my $victim = $node->background_psql('postgres', on_error_stop => 0);
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
$victim->query_until(qr/started/, "\\echo started\nCREATE TABLE terminated AS SELECT 1 AS a FROM pg_sleep(30);\n");
$node->poll_query_until('postgres', qq{
	SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = $victim_pid});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($victim_pid)");
eval { $victim->quit };
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 2 FROM guardrails.ddl_history
	WHERE object_identity IN ('cancelled', 'terminated')}),
	'both reach the table');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s|%s|%s|%s', object_identity, outcome, sqlstate, message), E'\n' ORDER BY seq)
	FROM guardrails.ddl_log WHERE object_identity IN ('cancelled', 'terminated')}),
	"cancelled|error|57014|canceling statement due to statement timeout
terminated|error|57P01|backend exited while the statement ran",
	'as errors, with their SQLSTATE');

# A clean restart keeps the ring, and numbering continues.
my $ring_sql = q{SELECT seq, command_tag, object_identity, outcome, query
				 FROM guardrails.ddl_log ORDER BY seq};
my $before = $node->safe_psql('postgres', $ring_sql);
my $last_seq = $node->safe_psql('postgres', 'SELECT max(seq) FROM guardrails.ddl_log');
$node->restart;
is($node->safe_psql('postgres', $ring_sql), $before, 'the ring survives a clean restart');
$node->safe_psql('postgres', 'CREATE TABLE after_restart (a int)');
is($node->safe_psql('postgres', q{
	SELECT seq FROM guardrails.ddl_log WHERE object_identity = 'public.after_restart'}),
	$last_seq + 1, 'numbering continues after a clean restart');

# A crash: the worker is blocked on the table (a session holds a lock on
# it), DDL keeps coming, and a backend is killed.  Afterwards the table and
# the server log together hold every statement.
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM guardrails.ddl_log WHERE NOT stored});
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE guardrails.ddl_history IN ACCESS EXCLUSIVE MODE');
for my $i (1 .. 10)
{
	$node->safe_psql('postgres', "CREATE TABLE crash_$i (a int)");
}
my $pid = $locker->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $pid;
eval { $locker->quit };
wait_for_restart($node) or die 'no recovery after the crash';

$node->safe_psql('postgres', 'CREATE TABLE after_crash (a int)');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM guardrails.ddl_history
	WHERE object_identity = 'public.after_crash'}),
	'the worker resumes after the crash');
%logged = map { $_->{seq} => $_ } log_entries($node);
my %in_table = map { $_ => 1 } split /\n/, $node->safe_psql('postgres', q{
	SELECT query FROM guardrails.ddl_history WHERE query LIKE 'CREATE TABLE crash_%'});
my %in_log = map { $_->{query} => 1 } values %logged;
my @lost = grep { !$in_table{$_} && !$in_log{$_} }
  map { "CREATE TABLE crash_$_ (a int)" } 1 .. 10;
is(scalar @lost, 0, 'every DDL before the crash is in the table or the server log')
  or diag "lost: @lost";
my ($crash_max) = sort { $b <=> $a } map { $_->{seq} }
  grep { $_->{query} =~ /crash_/ } values %logged;
cmp_ok($node->safe_psql('postgres', q{
	SELECT seq FROM guardrails.ddl_history WHERE object_identity = 'public.after_crash'}),
	'>', $crash_max, 'sequence numbers still increase after a crash');
ok($node->log_contains(qr/DDL log entries \d+ to \d+ were not stored in guardrails.ddl_history: the server started without the ring saved at its last shutdown/),
	'the entries lost with the ring are reported as a gap');
cmp_ok($node->safe_psql('postgres', q{
	SELECT value FROM guardrails.status WHERE name = 'ddl_history_crash_gap'}),
	'>=', 10 - scalar(keys %in_table), 'and counted');

# A tiny ring overflows while the worker is blocked: the overwritten
# entries are counted, and the server log still has every one.
my $tiny = PostgreSQL::Test::Cluster->new('tiny_ring');
$tiny->init;
$tiny->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_log_size = 4
});
$tiny->start;
$tiny->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
$tiny->safe_psql('postgres', 'CREATE TABLE settle (a int)');
$tiny->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM guardrails.ddl_history WHERE object_identity = 'public.settle'});
$tiny->safe_psql('postgres', 'SELECT guardrails.ddl_log_reset()');
$locker = $tiny->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE guardrails.ddl_history IN ACCESS EXCLUSIVE MODE');
for my $i (1 .. 10)
{
	$tiny->safe_psql('postgres', "CREATE TABLE over_$i (a int)");
}
is($tiny->safe_psql('postgres', q{
	SELECT value FROM guardrails.status WHERE name = 'ddl_log_overwritten'}),
	'7', '11 entries (the LOCK TABLE, which is audited, and 10 CREATE TABLE) in a ring of 4: 7 overwritten before they were stored');
is($tiny->safe_psql('postgres', 'SELECT count(*) FROM guardrails.ddl_log'), '4',
	'the view shows the last 4');
$locker->query_safe('COMMIT');
$locker->quit;
ok($tiny->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM guardrails.ddl_log WHERE NOT stored}),
	'the worker catches up once the table is free');
my %tiny_logged = map { $_->{query} => 1 } log_entries($tiny);
my @not_logged = grep { !$tiny_logged{$_} }
  map { "CREATE TABLE over_$_ (a int)" } 1 .. 10;
is(scalar @not_logged, 0, 'every overwritten entry is in the server log');
my $stored = $tiny->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.ddl_history WHERE query LIKE 'CREATE TABLE over_%'});
my $missed = $tiny->safe_psql('postgres', q{
	SELECT value FROM guardrails.status WHERE name = 'ddl_history_missed'});
is($stored + $missed, 11,
	"stored ($stored) and reported missing ($missed) add up to all 11 (the LOCK TABLE was overwritten first)");
ok($tiny->log_contains(qr/DDL log entries \d+ to \d+ were not stored in guardrails.ddl_history: the ring overflowed/),
	'the gap is reported in the server log');

$tiny->stop;
$node->stop;
done_testing();
