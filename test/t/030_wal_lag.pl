# Replica-lag backpressure (issue 23, part 2): the lag of each standby is
# read from the WAL senders; above the target, the low and background
# classes' WAL rate is cut step by step down to the floor, and raised and
# lifted as the lag drains; a standby whose replay is paused makes the
# controller hold the floor (fail open), and writers go on; a standby that
# goes away drops out of the signal after guardrails.wal_lag_standby_timeout;
# on 17+, an error at the injection point under the controller's lock
# leaves the lock free.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.wal_lag_target = 200
guardrails.wal_lag_floor = 64
guardrails.wal_lag_standby_timeout = 2000
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE lo LOGIN; CREATE ROLE app LOGIN;
	SELECT guardrails.set_workload_class('low', role => 'lo');
	CREATE TABLE t (k int, v text);
	GRANT ALL ON t TO PUBLIC;
});
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
# replies every second: the lag times of a caught-up standby clear sooner
$standby->append_conf('postgresql.conf', 'wal_receiver_status_interval = 1');
$standby->start;
$node->wait_for_catchup($standby);

sub q1 { return $node->safe_psql('postgres', $_[0]); }
sub cap { return q1("SELECT coalesce(lag_cap_bytes_per_s, 0) FROM guardrails.wal_budgets WHERE class = '$_[0]'"); }

# ---- the standbys, as the WAL senders tell ----

ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM guardrails.wal_lag WHERE state = 'streaming' AND counted AND replay_lsn IS NOT NULL}),
	'the standby is read from its WAL sender');
# pg_basebackup's WAL stream was a streaming sender too; gone, it drops out
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM guardrails.wal_lag}),
	'the sender of the base backup, gone, drops out');
is(q1(q{SELECT w.application_name FROM guardrails.wal_lag w}), 'standby',
	'named by its application_name');
is(q1(q{SELECT w.pid = r.pid FROM guardrails.wal_lag w, pg_stat_replication r}), 't',
	'and by the pid of its WAL sender');
is(q1('SELECT state FROM guardrails.wal_lag_controller()'), 'idle',
	'no lag, no throttling');

# ---- cut step by step to the floor, then raised and lifted ----

# some rate for the low class first, to cut from
$node->safe_psql('postgres',
	"SET ROLE lo; INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
q1('SELECT guardrails.wal_lag_inject(1000)');
ok($node->poll_query_until('postgres',
	q{SELECT state = 'cutting' FROM guardrails.wal_lag_controller()}),
	'a lag over the target: cutting');
my @caps;
for (1 .. 200)
{
	my $c = cap('low');
	push @caps, $c if $c > 0 && (!@caps || $caps[-1] != $c);
	last if $c == 65536;
	usleep(50_000);
}
note "caps of low: @caps";
cmp_ok(scalar(@caps), '>=', 2, 'the cap of low moved in steps');
is($caps[-1], 65536, 'down to the floor');
my @sorted = sort { $b <=> $a } @caps;
is("@caps", "@sorted", 'never rising while the lag is over the target');
cmp_ok(cap('background'), '>', 0, 'background is cut too');
is(cap('normal') + cap('critical'), 0, 'normal and critical are not');
is(q1("SELECT rate_limit_bytes_per_s FROM guardrails.wal_budgets WHERE class = 'low'"),
	'65536', 'the class is held to the cap');
ok($node->log_contains('WAL throttling started'), 'the start is logged');
is(q1(q{SELECT count(*) FROM guardrails.status WHERE name = 'wal_throttling' AND value = 1}),
	'1', 'guardrails.status says so');

q1('SELECT guardrails.wal_lag_inject(0)');
ok($node->poll_query_until('postgres',
	q{SELECT state = 'idle' AND throttling_since IS NULL FROM guardrails.wal_lag_controller()}),
	'the lag drained: the caps are lifted');
is(cap('low'), 0, 'low has no cap any more');
ok($node->log_contains('WAL throttling stopped'), 'the end is logged');

# ---- replay paused: hold the floor, writers go on ----

q1('SELECT guardrails.wal_lag_inject(NULL)');
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
# superuser writes: exempt, and keep WAL flowing to the standby
for (1 .. 3)
{
	q1("INSERT INTO t SELECT g, 'y' FROM generate_series(1, 1000) g");
	usleep(500_000);
}
ok($node->poll_query_until('postgres',
	q{SELECT state = 'paused' FROM guardrails.wal_lag}),
	'a standby whose replay does not advance is seen as paused');
ok($node->poll_query_until('postgres',
	q{SELECT state = 'holding' FROM guardrails.wal_lag_controller()}),
	'the controller holds rather than cuts');
is(cap('low'), '65536', 'at the floor');
ok($node->log_contains('WAL throttling holds the floor rate'), 'and says so in the log');
is($node->psql('postgres', 'SET ROLE lo; INSERT INTO t VALUES (-1)'), 0,
	'a writer of the low class goes on');

$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
ok($node->poll_query_until('postgres',
	q{SELECT state = 'idle' FROM guardrails.wal_lag_controller()}),
	'replay resumed: throttling stops');

# ---- a standby that goes away drops out ----

$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
q1("INSERT INTO t SELECT g, 'z' FROM generate_series(1, 1000) g");
ok($node->poll_query_until('postgres',
	q{SELECT state = 'holding' FROM guardrails.wal_lag_controller()}),
	'paused again: holding');
$standby->stop('immediate');
ok($node->poll_query_until('postgres',
	q{SELECT state = 'absent' AND counted FROM guardrails.wal_lag}),
	'a standby gone is still counted for a while');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM guardrails.wal_lag}),
	'then drops out');
ok($node->poll_query_until('postgres',
	q{SELECT state = 'idle' FROM guardrails.wal_lag_controller()}),
	'and no longer throttles the primary');

# ---- privileges ----

my ($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE app; SELECT guardrails.wal_lag_inject(5)');
like($err, qr/permission denied/, 'an ordinary role cannot inject a lag');
is($node->psql('postgres', 'SET ROLE app; SELECT * FROM guardrails.wal_lag_controller()'),
	0, 'but may read the controller');

# ---- an error under the controller's lock, 17 and later ----

SKIP:
{
	my $has_points = q1(
		q{SELECT count(*) FROM pg_available_extensions WHERE name = 'injection_points'});
	skip 'injection points need PostgreSQL 17 or later, built with --enable-injection-points', 2
	  unless $has_points;
	q1('CREATE EXTENSION injection_points');
	($ret, $out, $err) = $node->psql('postgres',
		"SELECT injection_points_set_local(); "
		  . "SELECT injection_points_attach('pg-guardrails-wal-lag-read', 'error'); "
		  . "SELECT * FROM guardrails.wal_lag;");
	like($err, qr/error triggered for injection point pg-guardrails-wal-lag-read/,
		'an error while the lock is held reaches the client');
	q1('SELECT guardrails.wal_lag_inject(1000)');
	ok($node->poll_query_until('postgres',
		q{SELECT state = 'cutting' FROM guardrails.wal_lag_controller()}),
		'the controller takes its lock again');
	q1('SELECT guardrails.wal_lag_inject(NULL)');
}

$node->stop;
done_testing();
