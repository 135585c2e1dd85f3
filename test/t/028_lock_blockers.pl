# guardrails.lock_blockers(): the sessions that hold or wait for a lock
# that conflicts with a mode, on a partitioned table, its partitions,
# indexes and TOAST tables; by mode; as each role may see them; bad input.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('blockers');
$node->init;
# The DDL lock guard off: the waiter's LOCK TABLE then waits in the lock
# queue, as an unguarded statement would.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_lock_timeout = 0
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE app LOGIN;
	CREATE ROLE viewer LOGIN;
	CREATE TABLE parted (id int, body text) PARTITION BY RANGE (id);
	CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
	CREATE INDEX ON parted (id);
	CREATE TABLE other (id int);
	GRANT ALL ON parted, parted_1, other TO app;
	GRANT SELECT ON parted TO viewer;
});

# A psql session that stays open; statements are fed to it one by one.
my @sessions;
sub session
{
	my ($user, $appname) = @_;
	my %s = (in => '', out => '', err => '');
	$s{h} = IPC::Run::start(
		[ 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', $user,
		  '-d', $node->connstr('postgres') . " application_name=$appname" ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err});
	push @sessions, \%s;
	return \%s;
}

# Send SQL and wait until the marker it prints comes back.
sub run_sql
{
	my ($s, $sql) = @_;
	my $marker = 'done_' . int(rand(1e9));
	$s->{in} .= "$sql\n\\echo $marker\n";
	$s->{h}->pump until $s->{out} =~ /$marker/;
}

my $reader = session('app', 'reader');
run_sql($reader, 'BEGIN; SELECT count(*) FROM parted;');
my $writer = session('app', 'writer');
run_sql($writer, q{BEGIN; INSERT INTO parted
	SELECT 1, string_agg(md5(i::text), '') FROM generate_series(1, 400) i;});
my $unrelated = session('app', 'unrelated');
run_sql($unrelated, 'BEGIN; SELECT count(*) FROM other;');
my $waiter = session('app', 'waiter');
$waiter->{in} .= "BEGIN; LOCK TABLE parted IN SHARE MODE;\n";
$waiter->{h}->pump_nb;
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE application_name = 'waiter' AND wait_event_type = 'Lock'})
  or die 'the waiter never waited';

sub blockers
{
	my ($args, $user) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(application_name || ':' || blocks, ',' ORDER BY application_name)
		FROM guardrails.lock_blockers($args)},
		extra_params => [ '-U', $user // 'postgres' ]);
}

is(blockers(q{'parted'}), 'reader:holds,waiter:waits,writer:holds',
	'access exclusive (the default): both holders and the waiter, not the session on another table');
is(blockers(q{'parted', 'ACCESS EXCLUSIVE'}), 'reader:holds,waiter:waits,writer:holds',
	'the mode in capitals');
is(blockers(q{'parted', 'AccessExclusiveLock'}), 'reader:holds,waiter:waits,writer:holds',
	'the mode as pg_locks names it');
is(blockers(q{'parted', 'share update exclusive'}), 'waiter:waits',
	'share update exclusive: only the waiter for share conflicts');
is(blockers(q{'parted', 'share'}), 'writer:holds',
	'share: the row-exclusive writer; not the waiter for share, which share does not conflict with');
is(blockers(q{'parted', 'share row exclusive'}), 'waiter:waits,writer:holds',
	'share row exclusive: the writer and the waiter');
is(blockers(q{'parted', 'access share'}), '',
	'access share: nothing conflicts');
is(blockers(q{'parted_1'}), 'reader:holds,writer:holds',
	'a partition: the sessions that locked it through its parent');
is(blockers(q{'other'}), 'unrelated:holds', 'another table: its own session');

like($node->safe_psql('postgres', q{
	SELECT relations::text FROM guardrails.lock_blockers('parted')
	WHERE application_name = 'writer'}),
	qr/^\{parted,parted_1,pg_toast\.pg_toast_\d+,pg_toast\.pg_toast_\d+_index\}$/,
	'the relations the writer locked: the TOAST table and its index among them');
like($node->safe_psql('postgres', q{
	SELECT relations::text FROM guardrails.lock_blockers('parted')
	WHERE application_name = 'reader'}),
	qr/parted_1_id_idx/, 'the reader\'s: the partition\'s index among them');
is($node->safe_psql('postgres', q{
	SELECT lock_modes::text FROM guardrails.lock_blockers('parted')
	WHERE application_name = 'waiter'}),
	'{ShareLock}', 'the waiter: the mode it waits for');
is($node->safe_psql('postgres', q{
	SELECT state || '|' || (xact_duration > '0'::interval)::int || '|' || query
	FROM guardrails.lock_blockers('parted') WHERE application_name = 'reader'}),
	'idle in transaction|1|SELECT count(*) FROM parted;',
	'a superuser sees state, durations and query');
is($node->safe_psql('postgres', q{
	SELECT wait_event_type || '|' || wait_event
	FROM guardrails.lock_blockers('parted') WHERE application_name = 'waiter'}),
	'Lock|relation', 'the waiter\'s wait');

# Other roles see what pg_stat_activity shows them.
is(blockers(q{'parted'}, 'viewer'), 'reader:holds,waiter:waits,writer:holds',
	'an ordinary role sees who blocks');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE state IS NULL AND xact_duration IS NULL
		AND query_duration IS NULL AND wait_event IS NULL
		AND query = '<insufficient privilege>')
	FROM guardrails.lock_blockers('parted')},
	extra_params => [ '-U', 'viewer' ]),
	'3', 'but not the state, times, wait or query of another role\'s sessions');
is($node->safe_psql('postgres', q{
	SELECT query FROM guardrails.lock_blockers('parted')
	WHERE application_name = 'reader'},
	extra_params => [ '-U', 'app' ]),
	'SELECT count(*) FROM parted;', 'a role sees the query of its own sessions');

# Bad input.
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT * FROM guardrails.lock_blockers('parted', 'exclusiveish')});
like($err, qr/ERROR:  invalid lock mode: "exclusiveish"/, 'a bad mode is an error');
like($err, qr/HINT:  Use one of ACCESS SHARE/, 'with the modes as a hint');
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT * FROM guardrails.lock_blockers(NULL)});
like($err, qr/ERROR:  relation must not be null/, 'a NULL relation is an error');
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT * FROM guardrails.lock_blockers('parted', NULL)});
like($err, qr/ERROR:  lock mode must not be null/, 'a NULL mode is an error');
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT * FROM guardrails.lock_blockers('no_such_table')});
like($err, qr/relation "no_such_table" does not exist/, 'an unknown relation is an error');

# The caller's own locks do not block its own statement.
is($node->safe_psql('postgres', q{
	BEGIN;
	LOCK TABLE other IN ROW EXCLUSIVE MODE;
	SELECT count(*) FROM guardrails.lock_blockers('other')
	WHERE pid = pg_backend_pid();
	COMMIT;}), '0', 'the caller\'s own locks are not listed');

for my $s (@sessions)
{
	$s->{h}->kill_kill;
}
$node->stop;
done_testing();
