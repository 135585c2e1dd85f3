# The stall guard, with real stalls made by a client that speaks the wire
# protocol itself over the server's unix socket:
#   - Parse and Bind, and no Sync (active, in the extended protocol);
#   - COPY FROM STDIN that stops sending (primary; a standby refuses
#     COPY FROM);
#   - COPY TO STDOUT whose client stops reading (ClientWrite);
#   - idle in a transaction that holds a lock.
# Each is ended after guardrails.client_stall_timeout, logged and counted,
# on a primary and on a hot standby; an idle session, an idle transaction
# that holds nothing, a superuser's stall, an exempt role's stall and a
# slow COPY that keeps sending are left alone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::UNIX;
use IO::Select;
use Time::HiRes qw(time usleep);

my $timeout = 3;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.client_stall_timeout = ${timeout}s
guardrails.client_stall_exempt_roles = 'batch'
max_connections = 40
});
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE app LOGIN;
	CREATE ROLE batch LOGIN;
	CREATE TABLE t (a int);
	GRANT SELECT, INSERT ON t TO app, batch;
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay');
my $superuser = $primary->safe_psql('postgres', 'SELECT current_user');
my $walsender = $primary->safe_psql('postgres', 'SELECT pid FROM pg_stat_replication');

# ---- A minimal frontend of the wire protocol, version 3 ----

sub send_msg
{
	my ($conn, $type, $body) = @_;
	my $msg = (defined $type ? $type : '') . pack('N', length($body) + 4) . $body;
	my $off = 0;
	while ($off < length $msg)
	{
		my $n = syswrite($conn->{sock}, $msg, length($msg) - $off, $off);
		die "write: $!" unless defined $n;
		$off += $n;
	}
}

# Read messages until one of type $until arrives (or $secs pass); returns
# the types read.
sub read_until
{
	my ($conn, $until, $secs) = @_;
	my $sel = IO::Select->new($conn->{sock});
	my $deadline = time + ($secs // 10);
	my @types;
	for (;;)
	{
		while (length($conn->{buf}) >= 5)
		{
			my ($type, $len) = unpack('a N', $conn->{buf});
			last if length($conn->{buf}) < $len + 1;
			substr($conn->{buf}, 0, $len + 1, '');
			push @types, $type;
			return @types if $type eq $until;
		}
		my $left = $deadline - time;
		return @types if $left <= 0 || !$sel->can_read($left);
		my $n = sysread($conn->{sock}, my $chunk, 65536);
		return (@types, 'EOF') unless $n;
		$conn->{buf} .= $chunk;
	}
}

sub connect_as
{
	my ($node, $user, $appname) = @_;
	my $path = $node->host . '/.s.PGSQL.' . $node->port;
	my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path)
	  or die "connect $path: $!";
	my $conn = { sock => $sock, buf => '' };
	send_msg($conn, undef,
		pack('N', 196608)
		  . join('', map { "$_\0" } user => $user, database => 'postgres',
			application_name => $appname)
		  . "\0");
	my @types = read_until($conn, 'Z');
	die "login of $user failed: @types" unless $types[-1] eq 'Z';
	$conn->{pid} = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE application_name = '$appname'");
	return $conn;
}

sub simple_query
{
	my ($conn, $sql, $until) = @_;
	send_msg($conn, 'Q', "$sql\0");
	return read_until($conn, $until // 'Z');
}

# Parse and Bind of an unnamed statement, and no Sync: the transaction
# stays open, the session active, waiting for the next message.
sub parse_bind_no_sync
{
	my ($conn, $sql) = @_;
	send_msg($conn, 'P', "\0$sql\0" . pack('n', 0));
	send_msg($conn, 'B', "\0\0" . pack('nnn', 0, 0, 0));
}

sub wait_state
{
	my ($node, $conn, $state, $wait) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT state = '$state' AND wait_event = '$wait'
		FROM pg_stat_activity WHERE pid = $conn->{pid}})
	  or die "session $conn->{pid} never reached $state/$wait";
}

sub alive
{
	my ($node, $conn) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $conn->{pid}") == 1;
}

sub status
{
	my ($node, $name) = @_;
	return $node->safe_psql('postgres',
		"SELECT value FROM guardrails.status WHERE name = '$name'");
}

# Wait until every session of @$gone has ended, then give the guard two
# more scans (in which it would end the others, had it been going to).
sub wait_gone
{
	my ($node, $gone) = @_;
	my $pids = join(',', map { $_->{pid} } @$gone);
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid IN ($pids)")
	  or die "stalled sessions $pids were not ended";
	sleep 2;
}

for my $node ($primary, $standby)
{
	my $name = $node->name;
	my $offset = -s $node->logfile;
	my $begin = time;

	my $idle = connect_as($node, 'app', "idle_$name");
	my $begin_only = connect_as($node, 'app', "begin_$name");
	simple_query($begin_only, 'BEGIN');

	my $pb = connect_as($node, 'app', "pb_$name");
	parse_bind_no_sync($pb, 'SELECT 1');
	wait_state($node, $pb, 'active', 'ClientRead');

	my $pb_super = connect_as($node, $superuser, "pbsuper_$name");
	parse_bind_no_sync($pb_super, 'SELECT 1');
	my $pb_exempt = connect_as($node, 'batch', "pbexempt_$name");
	parse_bind_no_sync($pb_exempt, 'SELECT 1');

	my $locked = connect_as($node, 'app', "locked_$name");
	simple_query($locked, 'BEGIN; SELECT count(*) FROM t');
	wait_state($node, $locked, 'idle in transaction', 'ClientRead');

	# A large result to a client that stops reading: ClientWrite.
	my $writer = connect_as($node, 'app', "writer_$name");
	send_msg($writer, 'Q',
		"COPY (SELECT repeat('x', 1000) FROM generate_series(1, 100000)) TO STDOUT\0");
	wait_state($node, $writer, 'active', 'ClientWrite');

	my @stalled = ($pb, $locked, $writer);
	my ($copy, $slow, @t);
	if ($name eq 'primary')
	{
		$copy = connect_as($node, 'app', "copy_$name");
		@t = simple_query($copy, 'COPY t FROM STDIN', 'G');
		is($t[-1], 'G', 'COPY FROM STDIN started');
		send_msg($copy, 'd', "1\n");
		wait_state($node, $copy, 'active', 'ClientRead');
		push @stalled, $copy;

		# A COPY that keeps sending, a row every half second, for
		# longer than the timeout: never stalled.
		$slow = connect_as($node, 'app', "slow_$name");
		@t = simple_query($slow, 'COPY t FROM STDIN', 'G');
		for my $i (1 .. 4 * $timeout)
		{
			# (a session ended by mistake fails the test below)
			last unless eval { send_msg($slow, 'd', "$i\n"); 1 };
			usleep(500_000);
		}
		ok(alive($node, $slow),
			"$name: a slow COPY that kept sending for 4 timeouts is untouched");
		send_msg($slow, 'c', '');
		@t = read_until($slow, 'Z');
		is($t[-1], 'Z', "$name: and completes");
	}

	wait_gone($node, \@stalled);
	my $elapsed = time - $begin;
	my $log = slurp_file($node->logfile, $offset);

	for my $s (@stalled)
	{
		like($log,
			qr/terminating process $s->{pid} of role "app": stalled on its client inside a transaction for (\d+) s/,
			"$name: stalled session $s->{pid} terminated and logged");
		my ($secs) = $log =~ /terminating process $s->{pid} of role "app": stalled on its client inside a transaction for (\d+) s/;
		cmp_ok($secs // 0, '>=', $timeout, "$name: not before the timeout");
	}
	like($log, qr/wait event ClientWrite/, "$name: the ClientWrite stall named as such");
	is(status($node, 'client_stalls_terminated'), scalar @stalled,
		"$name: every termination counted");

	ok(alive($node, $idle), "$name: an idle session is untouched");
	@t = simple_query($idle, 'SELECT 1');
	is($t[-1], 'Z', "$name: and still answers");
	ok(alive($node, $begin_only), "$name: an idle transaction that holds nothing is untouched");
	ok(alive($node, $pb_super), "$name: a superuser's stall is untouched");
	ok(alive($node, $pb_exempt), "$name: an exempt role's stall is untouched");
	is(status($node, 'client_stalls_exempt'), 2,
		"$name: the superuser's and the exempt role's stalls counted once each as exempt");
	like($log, qr/process $pb_exempt->{pid} of role "batch" stalled on its client inside a transaction for \d+ s, left running: the role is exempt\n.*The role is in guardrails.client_stall_exempt_roles/,
		"$name: the exempt stall is logged");
	like($log, qr/process $pb_super->{pid} of role "$superuser" stalled on its client inside a transaction for \d+ s, left running: the role is exempt\n.*The role is a superuser/,
		"$name: so is the superuser's");

	close($_->{sock}) for ($idle, $begin_only, $pb_super, $pb_exempt, $slow // ());
}

is($primary->safe_psql('postgres', 'SELECT pid FROM pg_stat_replication'), $walsender,
	'the walsender of the standby was never touched');

# Superusers opt in: the superuser's stall is ended after a reload.
$primary->append_conf('postgresql.conf', 'guardrails.client_stall_superusers = on');
$primary->reload;
my $su = connect_as($primary, $superuser, 'optin');
parse_bind_no_sync($su, 'SELECT 1');
wait_gone($primary, [$su]);
ok(1, 'with guardrails.client_stall_superusers, a superuser stall is ended');

# Off: nothing is ended.
$primary->append_conf('postgresql.conf', 'guardrails.client_stall_timeout = 0');
$primary->reload;
my $off = connect_as($primary, 'app', 'off');
parse_bind_no_sync($off, 'SELECT 1');
sleep $timeout + 2;
ok(alive($primary, $off), 'with the timeout at 0, a stall is left alone');
is(status($primary, 'client_stalls_terminated'), 5, 'and nothing more counted');

$standby->stop;
$primary->stop;
done_testing();
