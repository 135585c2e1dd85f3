# Limits on new connections: a flood is refused at the configured rate
# with FATAL and SQLSTATE 53300, per role and per database too, while
# replication connections and exempt roles always get in; a bad setting
# is reported at reload, naming the bad item, and the old one kept.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('connlimits');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
log_error_verbosity = verbose
max_connections = 50
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE app LOGIN;
	CREATE ROLE batch LOGIN;
	CREATE ROLE ops LOGIN SUPERUSER;
	CREATE DATABASE analytics;
});
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay');

sub status
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(value), 0) FROM guardrails.status WHERE name = '$name'",
		extra_params => [ '-U', 'ops' ]);
}

# Open connections one after another as fast as they come for $seconds,
# as $user to $db; return (accepted, refused, elapsed, last error).
sub flood
{
	my ($user, $db, $seconds) = @_;
	my ($ok, $refused, $err) = (0, 0, '');
	my $start = time;
	while (time - $start < $seconds)
	{
		# The statement goes on the command line, not through psql's
		# standard input: a refused connection ends psql before it reads
		# it, and writing to it would then fail with EPIPE.
		my ($stdout, $stderr);
		my $ret = IPC::Run::run(
			[
				'psql', '-X', '-A', '-t', '-d', $node->connstr($db),
				'-U', $user, '-c', 'SELECT 1'
			],
			'<', \undef, '>', \$stdout, '2>', \$stderr) ? 0 : 1;
		if ($ret == 0) { $ok++ }
		else { $refused++; $err = $stderr; }
	}
	return ($ok, $refused, time - $start, $err);
}

# A server-wide rate: 5 per second, bursts of 5.  The framework's own
# connections (as the bootstrap superuser) are exempt, like ops.
my $admin = $node->safe_psql('postgres', 'SELECT current_user');
$node->append_conf('postgresql.conf', qq{
guardrails.connection_rate = 5
guardrails.connection_burst = 5
guardrails.connection_limit_exempt_roles = 'ops, "$admin"'
});
$node->reload;
sleep 2;    # let the bucket fill

my ($ok, $refused, $elapsed, $err) = flood('app', 'postgres', 3);
note "accepted $ok, refused $refused in ${elapsed}s";
cmp_ok($refused, '>', 0, 'a flood of new connections is refused');
cmp_ok($ok, '<=', 5 + 5 * $elapsed + 1, 'no more accepted than burst + rate x time');
cmp_ok($ok, '>=', 5 * $elapsed - 2, 'and about that many');
like($err, qr/FATAL:  connection rate limit exceeded for the server/, 'FATAL names the limit');
ok($node->log_contains(qr/FATAL:  53300: connection rate limit exceeded/),
	'with SQLSTATE 53300');

# While the bucket is empty, exempt roles and replication still get in,
# and the standby stays connected.
flood('app', 'postgres', 0.5);
is($node->safe_psql('postgres', 'SELECT 1', extra_params => [ '-U', 'ops' ]), '1',
	'an exempt role gets in');
my ($ret, $out) = (undef, undef);
($ret, $out) = $node->psql('postgres', 'IDENTIFY_SYSTEM',
	extra_params => [ '-d', $node->connstr('postgres') . ' replication=database' ]);
is($ret, 0, 'a replication connection gets in');
$node->safe_psql('postgres', 'CREATE TABLE after_flood (a int)', extra_params => [ '-U', 'ops' ]);
$node->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'after_flood'}),
	'1', 'the standby stays connected and replays');

cmp_ok(status('connections_refused_by_connection_rate'), '>', 0,
	'refusals counted in guardrails.status');
cmp_ok(status('connections_exempt'), '>', 0, 'exempt connections counted');

# Per role and per database.
$node->append_conf('postgresql.conf', qq{
guardrails.connection_rate = 0
guardrails.connection_limits = 'role:batch=2/s burst 2, database:analytics=3/s'
});
$node->reload;
sleep 2;
# Every limit's counter is there from the start, at 0, named as its
# neighbours are (no space).
is($node->safe_psql('postgres', q{
	SELECT string_agg(name || '=' || value, ',' ORDER BY name) FROM guardrails.status
	WHERE name LIKE 'connections%' AND name ~ '(role|database):'},
	extra_params => [ '-U', 'ops' ]),
	'connections_refused_by_database:analytics=0,connections_refused_by_role:batch=0',
	'a counter per limit, at 0 before any refusal');
($ok, $refused, $elapsed, $err) = flood('batch', 'postgres', 2);
cmp_ok($refused, '>', 0, 'a role limit refuses');
cmp_ok($ok, '<=', 2 + 2 * $elapsed + 1, 'at its rate');
like($err, qr/connection rate limit exceeded for role "batch"/, 'naming the role');
($ok, $refused) = flood('app', 'postgres', 1);
is($refused, 0, 'other roles are not limited');
($ok, $refused, $elapsed, $err) = flood('app', 'analytics', 2);
cmp_ok($refused, '>', 0, 'a database limit refuses');
like($err, qr/connection rate limit exceeded for database "analytics"/, 'naming the database');
cmp_ok(status('connections_refused_by_role:batch'), '>', 0, 'per-limit counter');
cmp_ok(status('connections_refused_by_database:analytics'), '>', 0, 'of each limit');

# A syntax error at reload names the item, and the old value stays.
my $offset = -s $node->logfile;
$node->append_conf('postgresql.conf',
	"guardrails.connection_limits = 'role:batch=2/s, database:x=fast/s'\n");
$node->reload;
ok($node->wait_for_log(qr/Item 2, "database:x=fast\/s": expected a positive number/, $offset),
	'the bad item is named in the log');
is($node->safe_psql('postgres', 'SHOW guardrails.connection_limits', extra_params => [ '-U', 'ops' ]),
	'role:batch=2/s burst 2, database:analytics=3/s', 'the old value is kept');
($ret, $out, $err) = $node->psql('postgres',
	q{ALTER SYSTEM SET guardrails.connection_limits = 'role:a=-1/s'});
like($err, qr/expected a positive number of connections per second/, 'ALTER SYSTEM checks too');
($ret, $out, $err) = $node->psql('postgres',
	q{ALTER SYSTEM SET guardrails.connection_limit_exempt_roles = 'ops,,x'});
like($err, qr/invalid value for parameter "guardrails.connection_limit_exempt_roles"/,
	'a malformed exempt list is refused');

$standby->stop;
$node->stop;
done_testing();
