# Error paths that cannot hang the server (issue 20, part 1).
#
# A statement that fails while this backend holds one of the extension's
# locks must not take that lock again before abort cleanup has released
# it.  The first part reproduces the self-deadlock of 9066cb0 on every
# major: reading guardrails.latency_buckets into a tuplestore that cannot
# spill (temp_file_limit = 0) failed inside the latency table's lock, and
# the catch block of the COPY that read it recorded the COPY's time under
# that same lock, waiting on itself forever, and then every new query
# shape of every session waited behind it.
#
# The second part, on 17 and later built with injection points, makes the
# extension fail at each point where it holds a lock or has begun a record
# and checks that the server goes on serving new query shapes and that
# nothing is lost: the failed statement's latency and its DDL log entry
# are recorded, its concurrency slot and its locks are given back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('error_paths');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_guardrails'
guardrails.track_utility = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');

# Run sql in a session of its own; returns (exit code, stdout, stderr,
# timed out).  A backend stuck on an LWLock cannot be cancelled: the test
# then reports the hang and stops the server in immediate mode at the end.
sub run_within
{
	my ($sql, $seconds) = @_;
	my ($out, $err, $timed_out) = ('', '', 0);
	my $ret = $node->psql('postgres', $sql,
		stdout => \$out, stderr => \$err, on_error_stop => 0,
		timeout => $seconds, timed_out => \$timed_out);
	return ($ret, $out, $err, $timed_out);
}

# The server hangs: nothing more can be checked.  Its stuck backends
# cannot be cancelled, so stop it in immediate mode and end here.
sub hung
{
	my ($what) = @_;
	fail("the server hangs $what");
	$node->stop('immediate');
	done_testing();
	exit 0;
}

# A query shape the server has never seen, so that recording it must
# create a digest (which takes the latency table's lock exclusive).
my $shape = 0;
sub new_shape_runs
{
	my ($what) = @_;
	$shape++;
	my $cols = join(', ', map { "$_ AS c$_" } 1 .. (500 + $shape));
	my ($ret, $out, $err, $timed_out) = run_within("SELECT $cols", 30);
	hung("for a new query shape $what") if $timed_out;
	like($out, qr/^1\|2\|3\|/, "a new query shape still runs $what")
	  or diag($err);
}

sub digest
{
	my ($sql) = @_;
	return $node->safe_psql('postgres',
		"SELECT guardrails.query_digest(\$q\$$sql\$q\$)");
}

sub failed_calls
{
	my ($sql) = @_;
	my $id = digest($sql);
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(failed), 0) FROM guardrails.latency WHERE queryid = $id");
}

# ---- 1. The reproduction of the issue, every major ----

# 400 digests, so that the rows of latency_buckets pass 64 kB.
$node->safe_psql('postgres',
	join(";\n", map { 'SELECT ' . join(',', (1) x $_) } 1 .. 400));

my $copy = 'COPY (SELECT * FROM guardrails.latency_buckets) TO STDOUT';
my ($ret, $out, $err, $timed_out) = run_within(
	"SET work_mem = '64kB'; SET temp_file_limit = 0; $copy;", 60);
ok(!$timed_out, 'COPY of latency_buckets failing in its tuplestore returns');
new_shape_runs('after it') if $timed_out;
like($err, qr/temporary file size exceeds "?temp_file_limit/,
	'with the error of its temporary file');
new_shape_runs('after it');
is(failed_calls($copy), 1, 'the failed COPY is recorded as failed, once');

# The same for the other readers: each fails in its tuplestore and the
# server goes on.
for my $reader (
	'SELECT * FROM guardrails.latency',
	'SELECT * FROM guardrails.latency_recent',
	'SELECT * FROM guardrails.status',
	'SELECT * FROM guardrails.digest_limit_status')
{
	($ret, $out, $err, $timed_out) = run_within(
		"SET work_mem = '64kB'; SET temp_file_limit = 0; "
		  . "CREATE TEMP TABLE r AS $reader;", 60);
	ok(!$timed_out, "CREATE TABLE AS $reader returns");
}
new_shape_runs('after the other readers');

# ---- 2. Injection points, 17 and later ----

my $has_points = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_available_extensions WHERE name = 'injection_points'});
SKIP:
{
	skip 'injection points need PostgreSQL 17 or later, built with --enable-injection-points', 1
	  unless $has_points;
	my $enabled = $node->safe_psql('postgres',
		q{SELECT current_setting('server_version_num')::int >= 170000});
	skip 'injection points need PostgreSQL 17 or later', 1 unless $enabled eq 't';

	$node->safe_psql('postgres', q{
		CREATE EXTENSION injection_points;
		CREATE TABLE ip_locked (a int);
		INSERT INTO ip_locked VALUES (1);
	});

	# Each point is attached in the session that runs the statement only
	# (injection_points_set_local), so that the checks see a sane server.
	my $attach = sub {
		my ($point) = @_;
		return "SELECT injection_points_set_local(); "
		  . "SELECT injection_points_attach('$point', 'error');\n";
	};

	# The latency table's lock held shared, by a reader inside a timed
	# utility statement.
	my $sql = 'COPY (SELECT * FROM guardrails.latency) TO STDOUT';
	($ret, $out, $err, $timed_out) = run_within(
		$attach->('pg-guardrails-latency-read') . "$sql;", 60);
	ok(!$timed_out, 'an error with the latency lock held returns');
	like($err, qr/error triggered for injection point pg-guardrails-latency-read/,
		'with the injected error');
	new_shape_runs('after an error under the latency lock');
	is(failed_calls($sql), 1, 'and the failed statement is recorded');

	# A DDL statement whose record has begun.
	$sql = 'CREATE TABLE ip_run (a int)';
	($ret, $out, $err, $timed_out) = run_within(
		$attach->('pg-guardrails-utility-run') . "$sql;", 60);
	ok(!$timed_out, 'an error inside an audited statement returns');
	like($err, qr/error triggered for injection point pg-guardrails-utility-run/,
		'with the injected error');
	new_shape_runs('after an error in an audited statement');
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(outcome || ' ' || sqlstate || ' ' || message, ',')
		FROM guardrails.ddl_log WHERE query = '$sql'}),
		'error XX000 error triggered for injection point pg-guardrails-utility-run',
		'its DDL log entry says it failed, and why, once');
	is(failed_calls($sql), 1, 'and its time is recorded as failed');

	# The lookup after success (issue 14, item 9): the statement succeeded,
	# naming its object failed; the entry says ok, the client the error.
	$sql = 'CREATE TABLE ip_lookup (a int)';
	($ret, $out, $err, $timed_out) = run_within(
		$attach->('pg-guardrails-ddl-audit-lookup') . "$sql;", 60);
	ok(!$timed_out, 'an error naming the object of a statement that succeeded returns');
	like($err, qr/error triggered for injection point pg-guardrails-ddl-audit-lookup/,
		'with the injected error');
	new_shape_runs('after an error in the lookup after success');
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(outcome || ' ' || rolled_back, ',')
		FROM guardrails.ddl_log WHERE query = '$sql'}),
		'ok true', 'its entry is written once, as ok and rolled back');

	# A concurrency slot held by a utility statement.
	$sql = 'CREATE TABLE ip_slot (a int)';
	my $id = digest($sql);
	$node->safe_psql('postgres',
		"SELECT guardrails.limit_digest($id, NULL, max_concurrent => 1)");
	($ret, $out, $err, $timed_out) = run_within(
		$attach->('pg-guardrails-digest-slots-held') . "$sql;", 60);
	ok(!$timed_out, 'an error while a concurrency slot is held returns');
	like($err, qr/error triggered for injection point pg-guardrails-digest-slots-held/,
		'with the injected error');
	is($node->safe_psql('postgres',
		"SELECT running FROM guardrails.digest_limit_status WHERE queryid = $id"),
		'0', 'the slot is given back');
	($ret, $out, $err) = $node->psql('postgres', "$sql;");
	is($ret, 0, 'and the statement runs at its limit of one');

	# Concurrency slots taken by a planned statement, before the callback
	# that gives them back when it ends is allocated.
	$sql = 'SELECT count(*) FROM ip_locked WHERE a > 0';
	$id = digest($sql);
	$node->safe_psql('postgres',
		"SELECT guardrails.limit_digest($id, NULL, max_concurrent => 1)");
	($ret, $out, $err, $timed_out) = run_within(
		$attach->('pg-guardrails-digest-hold') . "$sql;", 60);
	like($err, qr/error triggered for injection point pg-guardrails-digest-hold/,
		'an error before the slots are handed to their callback');
	is($node->safe_psql('postgres',
		"SELECT running FROM guardrails.digest_limit_status WHERE queryid = $id"),
		'0', 'gives the slot back');
	($ret, $out, $err) = $node->psql('postgres', "$sql;");
	is($out, '1', 'and the statement runs at its limit of one');

	# The rules being loaded, the rules table locked: the copy built so far
	# is the failed transaction's, and goes with it.  A session fails to
	# load 60 times (each statement tries again); its TopMemoryContext,
	# which pg_log_backend_memory_contexts() writes to the server log, must
	# not grow by the copies (2000 rules, about 100 kB each).
	$node->safe_psql('postgres',
		'SELECT count(guardrails.limit_digest(g, 1000)) FROM generate_series(1, 2000) g');
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	my $top = sub {
		my $offset = -s $node->logfile;
		$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
		my $found;
		for (1 .. 100)
		{
			my $log = slurp_file($node->logfile, $offset);
			if ($log =~ /\[$pid\][^\n]*level: \d+; TopMemoryContext: (\d+) total/)
			{
				$found = $1;
				last;
			}
			usleep(100_000);
		}
		return $found;
	};
	$s->query_safe('SELECT injection_points_set_local()');
	my $before = $top->();
	$s->query_safe(q{SELECT injection_points_attach('pg-guardrails-rules-load', 'error')});
	$node->safe_psql('postgres', 'SELECT guardrails.limit_digest(1, 999)');
	my $failures = 0;
	for (1 .. 60)
	{
		my ($r, $failed) = $s->query('SELECT 1');
		$failures++ if $failed;
	}
	is($failures, 60, 'loading the rules failed in each of 60 statements');
	my $after = $top->();
	ok(defined $before && defined $after && $after - $before < 1024 * 1024,
		'and the session kept none of the copies')
	  or diag('TopMemoryContext: ' . ($before // 'undef') . ' -> ' . ($after // 'undef'));
	$s->quit;
	$node->safe_psql('postgres',
		'SELECT count(guardrails.unlimit_digest(g)) FROM generate_series(1, 2000) g');
	new_shape_runs('after failed loads of the rules');

	# The lock guard holding the lock it took for an ALTER TABLE.
	$sql = 'ALTER TABLE ip_locked ADD COLUMN b int';
	($ret, $out, $err, $timed_out) = run_within(
		$attach->('pg-guardrails-ddl-lock-held') . "$sql;\n"
		  . q{SELECT 'held: ' || count(*) FROM pg_locks
			  WHERE relation = 'ip_locked'::regclass AND pid = pg_backend_pid();}, 60);
	ok(!$timed_out, 'an error while the lock guard holds its lock returns');
	like($err, qr/error triggered for injection point pg-guardrails-ddl-lock-held/,
		'with the injected error');
	like($out, qr/held: 0/, 'the session holds no lock on the table after it');
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(outcome, ',') FROM guardrails.ddl_log WHERE query = '$sql'}),
		'error', 'and its entry says it failed');
	new_shape_runs('after an error under the lock guard');
}

$node->stop('immediate');
done_testing();
