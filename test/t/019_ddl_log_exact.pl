# The DDL audit log keeps every statement exactly once and counts every
# loss once: texts from a database of another encoding are converted (and
# ddl_history survives pg_dump/pg_restore), an entry that can never be
# inserted is given up alone and once, an overflow is counted once, a
# number that collides with a stored row is counted as such, a failed
# CREATE INDEX CONCURRENTLY says that its index remains, and the implicit
# index of CREATE TABLE does not lend its lock wait to the statement.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# the statements below are sent in UTF-8
$ENV{PGCLIENTENCODING} = 'UTF8';

my $node = PostgreSQL::Test::Cluster->new('ddl_exact');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_log_size = 8
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');

# Wait at most $secs for a query to return 't' (the default wait of
# poll_query_until is minutes, too long for a test that must fail fast).
sub wait_for
{
	my ($sql, $secs) = @_;
	for (1 .. ($secs // 30) * 2)
	{
		return 1 if $node->safe_psql('postgres', $sql) eq 't';
		select(undef, undef, undef, 0.5);
	}
	return 0;
}

sub status
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT value FROM guardrails.status WHERE name = '$name'");
}

sub caught_up
{
	return wait_for(q{
		SELECT (SELECT value FROM guardrails.status WHERE name = 'ddl_history_stored_seq')
			 = (SELECT value FROM guardrails.status WHERE name = 'ddl_log_next_seq') - 1});
}

# 1. A LATIN1 database: its statement is stored in UTF-8 in ddl_history,
# the whole table survives pg_dump/pg_restore, and a LATIN1 reader of the
# ring sees what LATIN1 can show, the rest replaced.
$node->safe_psql('postgres', q{
	CREATE DATABASE l1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
$node->safe_psql('l1', 'CREATE EXTENSION pg_guardrails');
$node->safe_psql('l1', 'CREATE TABLE café(a int)');
$node->safe_psql('postgres', 'CREATE TABLE "snow☃"(a int)');
ok(caught_up(), 'the worker stored the statements of both databases');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.ddl_history
	WHERE query = 'CREATE TABLE café(a int)' AND object_identity = 'public."café"'}),
	'1', 'a LATIN1 statement is stored converted to the table\'s encoding');
is($node->safe_psql('l1', q{
	SELECT query FROM guardrails.ddl_log WHERE query LIKE 'CREATE TABLE "snow%'}),
	'CREATE TABLE "snow?"(a int)',
	'a LATIN1 reader sees what LATIN1 cannot hold replaced');
is($node->safe_psql('postgres', q{
	SELECT query FROM guardrails.ddl_log WHERE query LIKE 'CREATE TABLE caf%'}),
	'CREATE TABLE café(a int)', 'a UTF-8 reader of the ring sees it converted');
my $dump = $node->basedir . '/history.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $dump ],
	'pg_dump of the database holding ddl_history');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ],
	'pg_restore of it');
is($node->safe_psql('restored', 'SELECT count(*) FROM guardrails.ddl_history'),
	$node->safe_psql('postgres', q{
		SELECT count(*) FROM guardrails.ddl_history
		WHERE seq <= (SELECT max(seq) FROM guardrails.ddl_history
					  WHERE query LIKE 'CREATE TABLE "snow%')}),
	'every row is restored');
$node->safe_psql('postgres', 'DROP DATABASE restored');

# 2. An entry that can never be inserted (a constraint refuses it) is
# given up alone, once, after three tries; the entries around it, in the
# same batch, are stored.
ok(caught_up(), 'caught up before the poisoned entry');
$node->safe_psql('postgres', q{
	ALTER TABLE guardrails.ddl_history ADD CONSTRAINT refuse_some
	CHECK (query NOT LIKE '%' || 'poi' || 'son' || '%')});
ok(caught_up(), 'caught up after adding the constraint');
my $not_stored = status('ddl_history_not_stored');
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE guardrails.ddl_history IN ACCESS EXCLUSIVE MODE');
$node->safe_psql('postgres', "CREATE TABLE good_$_ (a int)") for 1 .. 3;
$node->safe_psql('postgres', 'CREATE TABLE poison_1 (a int)');
$node->safe_psql('postgres', "CREATE TABLE good_$_ (a int)") for 4 .. 6;
my $poison_seq = $node->safe_psql('postgres',
	q{SELECT seq FROM guardrails.ddl_log WHERE query LIKE '%poison_1%'});
$locker->query_safe('COMMIT');
ok(wait_for(q{
	SELECT count(*) = 6 FROM guardrails.ddl_history WHERE query LIKE 'CREATE TABLE good_%'}),
	'the entries around the one that cannot be inserted are stored');
ok(caught_up(), 'the worker gets past it');
sleep 3;
is(status('ddl_history_not_stored') - $not_stored, 1, 'it is counted once');
my $said = () = slurp_file($node->logfile) =~
  /could not store DDL log entry $poison_seq in guardrails.ddl_history/g;
is($said, 1, 'and logged once');
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT seq) || '|' || count(DISTINCT query)
	FROM guardrails.ddl_history WHERE query LIKE 'CREATE TABLE good_%'}), '6|6',
	'no entry is stored twice');

# An overflow of the ring of 8 while such an entry is retried: the range
# overwritten is counted and logged once.
my $missed = status('ddl_history_missed');
my $log_offset = -s $node->logfile;
$locker->query_safe('BEGIN; LOCK TABLE guardrails.ddl_history IN ACCESS EXCLUSIVE MODE');
$node->safe_psql('postgres', "CREATE TABLE over_$_ (a int)") for 1 .. 20;
$node->safe_psql('postgres', 'CREATE TABLE poison_2 (a int)');
$locker->query_safe('COMMIT');
ok(caught_up(), 'the worker gets past the overflow and the entry it gives up');
sleep 3;
is(status('ddl_history_missed') - $missed, 14,
	'22 entries (the LOCK TABLE, which is audited, 20 CREATE TABLE and the poisoned one) in a ring of 8: the 14 overwritten are counted once');
my $ranges = () = substr(slurp_file($node->logfile), $log_offset) =~
  /were not stored in guardrails.ddl_history: the ring overflowed/g;
is($ranges, 1, 'and the range is logged once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.ddl_history WHERE query LIKE 'CREATE TABLE over_%'}),
	'7', 'the 7 still in the ring are stored');
$node->safe_psql('postgres',
	'ALTER TABLE guardrails.ddl_history DROP CONSTRAINT refuse_some');
$locker->quit;

# 3. A number that collides with a row already in ddl_history is not
# counted as stored, but as a collision, and logged.
ok(caught_up(), 'caught up before the collision');
my $stored = status('ddl_history_stored');
my $next = status('ddl_log_next_seq');
$node->safe_psql('postgres', qq{
	INSERT INTO guardrails.ddl_history (system_identifier, timeline, seq,
		start_time, duration_ms, command_tag, outcome)
	SELECT system_identifier, timeline_id, s, now(), 0, 'IMPOSTOR', 'ok'
	FROM pg_control_system(), pg_control_checkpoint(),
		 generate_series($next, $next + 1) s});
$node->safe_psql('postgres', 'CREATE TABLE coll_1 (a int)');
$node->safe_psql('postgres', 'CREATE TABLE coll_2 (a int)');
ok(caught_up(), 'caught up after the collision');
is(status('ddl_history_stored') - $stored, 0, 'colliding entries are not counted as stored');
is(status('ddl_history_collided'), '2', 'but as collided');
ok($node->log_contains(qr/DDL log entry $next collides with a row of guardrails.ddl_history/),
	'and logged');

# 8. A failed CREATE INDEX CONCURRENTLY leaves an invalid index: its entry
# says so (rolled_back is false) and names the index.
$node->safe_psql('postgres', q{
	CREATE TABLE cic_t (a int); INSERT INTO cic_t VALUES (1), (1)});
my ($ret) = $node->psql('postgres', 'CREATE UNIQUE INDEX CONCURRENTLY cic_idx ON cic_t (a)');
isnt($ret, 0, 'CREATE UNIQUE INDEX CONCURRENTLY fails on duplicates');
is($node->safe_psql('postgres', q{
	SELECT indisvalid FROM pg_index WHERE indexrelid = 'cic_idx'::regclass}), 'f',
	'and leaves an invalid index');
ok(caught_up(), 'caught up after the failed build');
is($node->safe_psql('postgres', q{
	SELECT format('%s|%s|%s', outcome, object_identity, rolled_back)
	FROM guardrails.ddl_history WHERE query LIKE 'CREATE UNIQUE INDEX CONCURRENTLY%'}),
	'error|public.cic_idx|f', 'its entry names the index and says it remains');

# 10. The index CREATE TABLE makes for its primary key is part of the
# statement: its lock wait is not the statement's.
$node->safe_psql('postgres', 'CREATE TABLE lw_t (id int PRIMARY KEY)');
$node->safe_psql('postgres', 'ALTER TABLE lw_t ADD COLUMN b int');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s|%s', command_tag, coalesce(lock_wait_ms::text, 'null')), ',' ORDER BY seq)
	FROM guardrails.ddl_log WHERE object_identity = 'public.lw_t'}),
	'CREATE TABLE|null,ALTER TABLE|0',
	'CREATE TABLE took no lock of its own; ALTER TABLE waited 0 ms');

# 6. ddl_history emptied by hand, then the worker restarts: it goes on
# where it was, re-inserts nothing and reports no gap.
ok(caught_up(), 'caught up before emptying the table');
my $gaps = status('ddl_history_missed') . '|' . status('ddl_history_crash_gap');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DELETE FROM guardrails.ddl_history');
my $worker_sql = q{SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'pg_guardrails ddl history'};
my $worker = $node->safe_psql('postgres', $worker_sql);
$node->safe_psql('postgres', "SELECT pg_terminate_backend($worker)");
ok(wait_for(qq{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_guardrails ddl history' AND pid <> $worker}, 60),
	'the worker restarts');
$node->safe_psql('postgres', 'CREATE TABLE after_delete (a int)');
ok(caught_up(), 'and stores what comes next');
is($node->safe_psql('postgres', 'SELECT string_agg(query, \',\') FROM guardrails.ddl_history'),
	'CREATE TABLE after_delete (a int)', 'and nothing deleted comes back');
is(status('ddl_history_missed') . '|' . status('ddl_history_crash_gap'), $gaps,
	'no gap is counted');
unlike(substr(slurp_file($node->logfile), $log_offset),
	qr/were not stored in guardrails\.ddl_history/, 'nor logged');

# 7. While ddl_log_destination leaves out the table (and the view), the
# ring wraps around: that is no overflow.
$missed = status('ddl_history_missed');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET guardrails.ddl_log_destination = 'log'});
$node->reload;
$node->safe_psql('postgres', "CREATE TABLE log_only_$_ (a int)") for 1 .. 20;
$node->safe_psql('postgres', 'ALTER SYSTEM RESET guardrails.ddl_log_destination');
$node->reload;
$node->safe_psql('postgres', 'CREATE TABLE table_again (a int)');
ok(wait_for(q{SELECT count(*) = 1 FROM guardrails.ddl_history
	WHERE query = 'CREATE TABLE table_again (a int)'}), 'the table is written again');
sleep 2;
is(status('ddl_history_missed') - $missed, 0, 'no overflow is counted');
unlike(substr(slurp_file($node->logfile), $log_offset),
	qr/the ring overflowed/, 'nor logged');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.ddl_history WHERE query LIKE 'CREATE TABLE log_only_%'}),
	'0', 'what went to the log only is not stored');

$node->stop;
done_testing();
