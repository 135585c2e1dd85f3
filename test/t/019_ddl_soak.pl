# Soak test of the DDL audit log.  Load: 8 clients run a random mix of DDL
# (succeeding, failing, rolled back, nested, cancelled and terminated
# statements) for GRD_SOAK_SECONDS seconds (20 by default, so that the
# suite stays short on a small machine; the issue's figure is 60).
# Statements are cancelled and terminated in the middle of their execution
# (their pg_sleep): one stopped before it started running (in parse
# analysis, which on a loaded machine after the crash can take longer than
# any fixed timeout) is not a statement that ran, and is audited by no one.
# Faults meanwhile: a backend is killed with kill -9 in the middle of a
# DDL statement (the server restarts), the ring overflows once (the worker
# is held off by a lock on ddl_history until it does), and the worker is
# terminated (it restarts).  Checks: every statement whose end a client saw
# (success, or an error with its SQLSTATE) is in ddl_history, with that
# outcome, or its number is in a gap the worker logged; none is stored
# twice; and the counters of guardrails.status add up to the gaps logged
# and the rows stored since the restart.
use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use GrdTestUtil;

my $duration = $ENV{GRD_SOAK_SECONDS} // 20;
my $nclients = 8;

my $node = PostgreSQL::Test::Cluster->new('ddl_soak');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
restart_after_crash = on
guardrails.ddl_log_size = 100
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
my $dir = $node->basedir;

sub status
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT value FROM guardrails.status WHERE name = '$name'");
}

# One statement of a client: what it sent, and what it saw.
sub run_statement
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose',
					'-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$out, '2>', \$err);
	# An error the statement ended with, once the server finished its
	# abort: a crash between the ERROR and the end of the abort (the
	# connection lost after it) leaves it unknown, as a statement still
	# running would be.  A FATAL ends the connection by itself.
	return 'unknown'
	  if $err =~ /ERROR:/ && $err =~ /server closed the connection|connection to server was lost/;
	return "error:$1" if $err =~ /(?:ERROR|FATAL):\s+([0-9A-Z]{5}):/ && $1 ne '57P02';
	return 'unknown' if $err ne '' || $? != 0;
	return 'ok';
}

# The clients: each writes "tag<TAB>kind<TAB>outcome" per statement.
my @children;
my $end_at = time + $duration;
for my $c (1 .. $nclients)
{
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		srand($c);
		open(my $fh, '>', "$dir/client_$c") or POSIX::_exit(1);
		$fh->autoflush(1);
		for (my $i = 0; time < $end_at; $i++)
		{
			my $tag = "s_c${c}_${i}x";
			my $kind = (qw(ok fail rollback nested cancel terminate ok ok))[ int(rand(8)) ];
			my $sql =
				$kind eq 'ok' ? "CREATE TABLE $tag (a int)"
			  : $kind eq 'fail' ? "CREATE TABLE $tag (a no_such_type)"
			  : $kind eq 'rollback' ? "BEGIN; CREATE TABLE $tag (a int); ROLLBACK"
			  : $kind eq 'nested'
			  ? "DO \$\$ BEGIN EXECUTE 'CREATE TABLE $tag (a int)'; END \$\$"
			  : $kind eq 'cancel'
			  ? "CREATE TABLE $tag AS SELECT 1 AS a FROM pg_sleep(1)"
			  : "CREATE TABLE $tag AS SELECT 1 AS a FROM pg_sleep(3)";
			print $fh join("\t", $tag, $kind, run_statement($sql)), "\n";
		}
		close($fh);
		POSIX::_exit(0);
	}
	push @children, $pid;
}

# The terminator: a statement sleeping in its pg_sleep(1) is cancelled
# (its client sees ERROR 57014), one that has slept half a second of its
# pg_sleep(3) is terminated (its client sees FATAL 57P01).
my $terminator = fork();
die "fork: $!" unless defined $terminator;
if ($terminator == 0)
{
	while (time < $end_at)
	{
		IPC::Run::run([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
			q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
			  WHERE query ~ '^CREATE TABLE s_c[0-9]+_[0-9]+x AS SELECT 1 AS a FROM pg_sleep\(1\)'
				AND wait_event = 'PgSleep';
			  SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			  WHERE query ~ '^CREATE TABLE s_c[0-9]+_[0-9]+x AS SELECT 1 AS a FROM pg_sleep\(3\)'
				AND wait_event = 'PgSleep' AND now() - query_start > interval '0.5 s'} ],
			'>', \my $out, '2>', \my $err);
		sleep 0.1;
	}
	POSIX::_exit(0);
}
push @children, $terminator;

# Fault 1, at a quarter: kill -9 a backend in the middle of a DDL.
sleep($duration / 4);
my $victim = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
	'-c', 'CREATE TABLE soak_killed AS SELECT 1 AS a FROM pg_sleep(60)' ],
	'>', \my $vout, '2>', \my $verr);
my $victim_pid;
for (1 .. 100)
{
	$victim_pid = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE TABLE soak_killed%'});
	last if $victim_pid;
	sleep 0.1;
}
ok($victim_pid, 'a backend is in the middle of a DDL statement');
kill 'KILL', $victim_pid;
$victim->finish;
wait_for_restart($node) or die 'no recovery after the crash';

# Fault 2, at half: the worker is held off until the ring overflows.
sleep($duration / 4);
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE guardrails.ddl_history IN ACCESS EXCLUSIVE MODE');
# On a slow machine the clients may be done by now (the crash's restart
# took their time): the test then writes the DDL that overflows the ring
# itself, under names the checks below do not count as a client's.
my $t0 = time;
my $fill = 0;
until (status('ddl_log_next_seq') - status('ddl_history_stored_seq') > 100 + 20
	   || time - $t0 > 60)
{
	if (time >= $end_at)
	{
		$node->safe_psql('postgres', 'CREATE TABLE soak_fill_' . $fill++ . ' (a int)');
		next;
	}
	sleep 0.2;
}
$locker->query_safe('COMMIT');
$locker->quit;
cmp_ok(status('ddl_log_overwritten'), '>', 0, 'the ring overflowed');

# Fault 3, at three quarters: the worker is terminated.
sleep($duration / 4);
my $worker = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_guardrails ddl history'});
ok($worker, 'the worker runs');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($worker)");

waitpid($_, 0) for @children;
ok($node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_guardrails ddl history') = 1
	   AND (SELECT value FROM guardrails.status WHERE name = 'ddl_history_stored_seq')
		 = (SELECT value FROM guardrails.status WHERE name = 'ddl_log_next_seq') - 1}),
	'the worker restarted and caught up');
sleep 2;

# What the clients saw.
my %client;
for my $c (1 .. $nclients)
{
	for my $line (split /\n/, slurp_file("$dir/client_$c"))
	{
		my ($tag, $kind, $outcome) = split /\t/, $line;
		$client{$tag} = { kind => $kind, outcome => $outcome };
	}
}
my @finished = grep { $client{$_}{outcome} ne 'unknown' } keys %client;
note sprintf('%d statements, %d seen to finish', scalar(keys %client), scalar(@finished));
cmp_ok(scalar(@finished), '>', 100, 'the clients ran statements');

# What ddl_history holds, what the server log holds, the gaps logged.
my %stored;
for my $row (split /\n/, $node->safe_psql('postgres', q{
	SELECT substring(query from 's_c[0-9]+_[0-9]+x') || '|' || outcome || '|' || coalesce(sqlstate, '')
	FROM guardrails.ddl_history WHERE query ~ 's_c[0-9]+_[0-9]+x'}))
{
	my ($tag, $outcome, $sqlstate) = split /\|/, $row;
	push @{ $stored{$tag} }, $outcome eq 'ok' ? 'ok' : "error:$sqlstate";
}
my $log = slurp_file($node->logfile);
my %logged_seq;
while ($log =~ /pg_guardrails ddl: (\{.*\})$/mg)
{
	my $e = decode_json($1);
	$logged_seq{$1} = $e->{seq} if $e->{query} =~ /(s_c\d+_\d+x)/;
}
my @gaps;
my ($missed_after, $crash_after) = (0, 0);
# ("server process" up to 17, the backend type, "client backend", from 18)
$log =~ /(?:server process|client backend) \(PID $victim_pid\) was terminated by signal 9/
  or die 'no crash in the log';
my $crash_log_offset = $-[0];
while ($log =~ /DDL log entries (\d+) to (\d+) were not stored in guardrails\.ddl_history: the (ring overflowed|server started without the ring saved at its last shutdown)/g)
{
	push @gaps, [ $1, $2 ];
	if ($-[0] > $crash_log_offset)
	{
		$missed_after += $2 - $1 + 1 if $3 eq 'ring overflowed';
		$crash_after += $2 - $1 + 1 if $3 ne 'ring overflowed';
	}
}

my (@lost, @wrong, @twice);
for my $tag (@finished)
{
	my $rows = $stored{$tag} // [];
	push @twice, $tag if @$rows > 1;
	if (@$rows)
	{
		push @wrong, "$tag: client $client{$tag}{outcome}, stored $rows->[0]"
		  if $rows->[0] ne $client{$tag}{outcome};
		next;
	}
	my $seq = $logged_seq{$tag};
	push @lost, $tag
	  unless defined $seq && grep { $seq >= $_->[0] && $seq <= $_->[1] } @gaps;
}
push @twice, grep { @{ $stored{$_} } > 1 && !$client{$_} } keys %stored;
is(scalar(@lost), 0, 'every statement seen to finish is stored or in a logged gap')
  or diag join("\n", map {
	  "lost: $_ ($client{$_}{kind}, client saw $client{$_}{outcome}, "
		. (defined $logged_seq{$_} ? "logged as seq $logged_seq{$_}" : 'not in the server log')
		. ')' } @lost[0 .. ($#lost < 9 ? $#lost : 9)]),
	'gaps logged: ' . join(', ', map { "$_->[0]-$_->[1]" } @gaps);
is(scalar(@wrong), 0, 'with the outcome its client saw')
  or diag join("\n", @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)]);
is(scalar(@twice), 0, 'no statement is stored twice') or diag "@twice";
cmp_ok(scalar(grep { $client{$_}{kind} eq 'terminate' && $client{$_}{outcome} eq 'error:57P01' } @finished),
	'>', 0, 'some statements were terminated');
cmp_ok(scalar(grep { $client{$_}{outcome} eq 'error:57014' } @finished),
	'>', 0, 'some were cancelled');

# The counters (zeroed by the crash) against what the log says since.
is(status('ddl_history_missed'), $missed_after,
	'ddl_history_missed is the sum of the overflowed ranges logged');
cmp_ok($missed_after, '>', 0, 'which are not empty');
is(status('ddl_history_crash_gap'), $crash_after,
	'ddl_history_crash_gap is the sum of the crash gaps logged');
is(status('ddl_history_not_stored') . '|' . status('ddl_history_collided'), '0|0',
	'nothing was given up, nothing collided');
my $first_after = 0;
while ($log =~ /DDL log entries \d+ to (\d+) were not stored in guardrails\.ddl_history: the server started without the ring saved at its last shutdown/g)
{
	$first_after = $1 + 1;
}
is(status('ddl_history_stored'), $node->safe_psql('postgres',
	"SELECT count(*) FROM guardrails.ddl_history WHERE seq >= $first_after"),
	'ddl_history_stored counts the rows stored since the restart');

$node->stop;
done_testing();
