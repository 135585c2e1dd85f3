# How DDL waits for its lock.  Session A holds a lock in an open
# transaction; session B's ALTER TABLE fails after about ddl_lock_timeout
# with 55P03 and A named in the detail; session C's SELECTs on the table
# are not delayed in retry mode, by one 30 ms slice at most in hybrid mode
# (the default), and by no more than the timeout in queue mode.  Retries
# of a top-level statement are logged, never inside a
# transaction block.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('ddl_wait');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_lock_timeout = '2s'
log_statement = none
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE t (id int PRIMARY KEY);
	INSERT INTO t SELECT generate_series(1, 1000);
});

# Session A: a report that has read the table and sits in its transaction.
my $a = $node->background_psql('postgres');
$a->query_safe(q{SET application_name = 'long_report'});
my $a_pid = $a->query_safe('SELECT pg_backend_pid()');
$a->query_safe('BEGIN; SELECT count(*) FROM t;');

# Session C: an application reading the table.
my $c = $node->background_psql('postgres');
my $c_pid = $c->query_safe('SELECT pg_backend_pid()');

# Start B's DDL in the background, run C's SELECTs while it waits, and
# return (B's stderr, B's seconds, C's slowest SELECT in seconds).
sub ddl_while_reading
{
	my ($setup, $ddl) = @_;
	my $b = $node->background_psql('postgres', on_error_stop => 0);
	$b->query_safe($setup) if $setup;
	my $start = time;
	$b->query_until(qr/started/, "\\echo started\n$ddl;\n\\echo done\n");
	usleep(100_000);			# B is now waiting for its lock
	my $slowest = 0;
	for (1 .. 10)
	{
		my $t0 = time;
		$c->query_safe('SELECT count(*) FROM t');
		my $took = time - $t0;
		$slowest = $took if $took > $slowest;
		usleep(100_000);
	}
	$b->query_until(qr/done/, '');
	my $secs = time - $start;
	my $err = $b->{stderr};
	$b->quit;
	return ($err, $secs, $slowest);
}

# retry
my ($err, $secs, $slowest) = ddl_while_reading(q{\set VERBOSITY verbose},
	"SET guardrails.ddl_lock_wait = 'retry';\nALTER TABLE t ADD COLUMN c int");
like($err, qr/55P03/, 'retry: the DDL fails with SQLSTATE 55P03');
like($err, qr/canceling statement due to lock timeout/, 'on its lock timeout');
like($err, qr/blocked by pid $a_pid holding AccessShareLock/, "the detail names A's pid ($a_pid) and its lock");
like($err, qr/application_name "long_report", state "idle in transaction", transaction age [\d.]+ s, query started at \d{4}-/,
	'with its application_name, state, transaction age and query start');
cmp_ok($secs, '>=', 1.9, "after the 2 s budget ($secs s)");
cmp_ok($secs, '<', 4, 'not much later');
cmp_ok($slowest, '<', 0.5, "C's SELECTs were not delayed (slowest $slowest s)");
is($node->safe_psql('postgres', q{
	SELECT outcome || ' ' || sqlstate || ' ' || (lock_wait_ms >= 1900)
	FROM guardrails.ddl_log WHERE command_tag = 'ALTER TABLE'
	ORDER BY seq DESC LIMIT 1}), 'error 55P03 true',
	'the DDL log records the lock timeout and the time spent waiting');
is($node->safe_psql('postgres', q{
	SELECT failed || ' ' || (max_ms >= 1900)
	FROM guardrails.latency l
	WHERE queryid = guardrails.query_digest('ALTER TABLE t ADD COLUMN c int')}),
	'1 true', "the latency histogram counts the timed-out DDL as failed, with its wait");

# queue: PostgreSQL's behaviour, C waits behind B until B's timeout
($err, $secs, $slowest) = ddl_while_reading(q{SET guardrails.ddl_lock_wait = 'queue'},
	'ALTER TABLE t ADD COLUMN c int');
like($err, qr/canceling statement due to lock timeout/, 'queue: the DDL times out too');
like($err, qr/blocked by pid $a_pid holding AccessShareLock/, 'and names A as well');
unlike($err, qr/pid $c_pid/, 'but not C, which got its lock only once B left the queue');
cmp_ok($secs, '>=', 1.9, "after the 2 s budget ($secs s)");
cmp_ok($slowest, '>', 1, "C's SELECT queued behind the waiting DDL ($slowest s)");
cmp_ok($slowest, '<', 2.5, 'but for no longer than the timeout');

# hybrid (the default): B queues for 30 ms at a time, so C waits that long
# at most, and B still gives up after its budget, naming A.
is($node->safe_psql('postgres', 'SHOW guardrails.ddl_lock_wait'), 'hybrid',
	'hybrid is the default');
($err, $secs, $slowest) = ddl_while_reading(q{\set VERBOSITY verbose},
	'ALTER TABLE t ADD COLUMN c int');
like($err, qr/55P03/, 'hybrid: the DDL fails with SQLSTATE 55P03');
like($err, qr/blocked by pid $a_pid holding AccessShareLock/, 'and names A');
unlike($err, qr/pid $c_pid/, 'but not C');
cmp_ok($secs, '>=', 1.9, "after the 2 s budget ($secs s)");
cmp_ok($secs, '<', 4, 'not much later');
cmp_ok($slowest, '<', 0.5, "C's SELECTs waited one slice at most (slowest $slowest s)");

# Retries: a top-level statement outside a transaction block, logged.
my $log_offset = -s $node->logfile;
($err, $secs) = ddl_while_reading(q{SET guardrails.ddl_lock_timeout = '300ms'; SET guardrails.ddl_lock_retries = 2},
	'ALTER TABLE t ADD COLUMN c int');
like($err, qr/lock timeout/, 'retried statement fails in the end');
my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/could not lock relation "public.t" within 300 ms, retry 1 of 2 in \d+ ms/, 'first retry logged');
like($log, qr/retry 2 of 2/, 'second retry logged');
like($log, qr/Blocked by pid $a_pid/, 'with the blocker');
cmp_ok($secs, '>=', 0.9 + 1.0, "three attempts and two pauses ($secs s)");

$log_offset = -s $node->logfile;
($err, $secs) = ddl_while_reading(q{SET guardrails.ddl_lock_timeout = '300ms'; SET guardrails.ddl_lock_retries = 2},
	'BEGIN; ALTER TABLE t ADD COLUMN c int; COMMIT');
like($err, qr/lock timeout/, 'in a transaction block the statement fails');
$log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/retry 1 of/, 'without a retry');

# A retry pause lasts as long as its log line says, even when the latch
# of the waiting backend is set meanwhile (here, every 100 ms, by
# pg_log_backend_memory_contexts(); in production by any signal).
$log_offset = -s $node->logfile;
my $bp = $node->background_psql('postgres', on_error_stop => 0);
my $bp_pid = $bp->query_safe('SELECT pg_backend_pid()');
$bp->query_safe(q{SET guardrails.ddl_lock_timeout = '300ms'; SET guardrails.ddl_lock_retries = 1});
my $bp_start = time;
$bp->query_until(qr/started/, "\\echo started\nALTER TABLE t ADD COLUMN c int;\n\\echo done\n");
usleep(100_000);				# B is now waiting for its lock
$secs = undef;
while (time - $bp_start < 10)
{
	if ($c->query_safe("SELECT state FROM pg_stat_activity WHERE pid = $bp_pid") ne 'active')
	{
		$secs = time - $bp_start;
		last;
	}
	$c->query_safe("SELECT pg_log_backend_memory_contexts($bp_pid)");
	usleep(100_000);
}
$bp->query_until(qr/done/, '');
$secs //= time - $bp_start;
like($bp->{stderr}, qr/lock timeout/, 'the poked statement fails in the end');
$bp->quit;
$log = slurp_file($node->logfile, $log_offset);
my ($paused) = $log =~ /retry 1 of 1 in (\d+) ms/;
ok(defined $paused, 'its retry is logged with its pause');
$paused //= 0;
cmp_ok($secs, '>=', 0.6 + $paused / 1000 - 0.05,
	"two attempts and the whole pause of $paused ms ($secs s)");

# When the blocker goes away during the budget, the DDL gets its lock.
my $b = $node->background_psql('postgres', on_error_stop => 0);
my $start = time;
$b->query_until(qr/started/, "\\echo started\nSET guardrails.ddl_lock_timeout = '10s';\nALTER TABLE t ADD COLUMN c int;\n\\echo done\n");
sleep 1;
$a->query_safe('COMMIT');
$b->query_until(qr/done/, '');
$secs = time - $start;
is($b->{stderr}, '', 'the DDL succeeded once A committed');
cmp_ok($secs, '<', 3, "soon after ($secs s)");
$b->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_attribute
	WHERE attrelid = 't'::regclass AND attname = 'c'}), '1', 'and the column is there');

# A non-owner's DDL does not take locks on tables it cannot alter.
$node->safe_psql('postgres', 'CREATE ROLE dev LOGIN');
$a->query_safe('BEGIN; SELECT count(*) FROM t;');
my ($ret, $out, $perr) = $node->psql('postgres', 'ALTER TABLE t ADD COLUMN d int',
	extra_params => [ '-U', 'dev' ]);
like($perr, qr/must be owner of table t/, 'a non-owner gets the permission error, not a lock wait');
$a->query_safe('COMMIT');

$a->quit;
$c->quit;
$node->stop;
done_testing();
