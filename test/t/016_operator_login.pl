# During a connection storm that the limits are refusing, the operator who
# must lift them can always log in: superusers (and, from 16, members of
# pg_use_reserved_connections) are not limited, unless
# guardrails.connection_limit_exempt_superusers is turned off.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('operator');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE app LOGIN;
	CREATE ROLE dba LOGIN SUPERUSER;
});
my $major = $node->safe_psql('postgres', q{SELECT current_setting('server_version_num')::int / 10000});
$node->safe_psql('postgres', 'CREATE ROLE oncall LOGIN IN ROLE pg_use_reserved_connections')
  if $major >= 16;

# One login; true when it got in.  The statement is on the command line:
# a refused login ends psql before it would read its standard input.
sub login
{
	my ($user) = @_;
	my ($out, $err);
	my $ok = IPC::Run::run(
		[ 'psql', '-X', '-A', '-t', '-d', $node->connstr('postgres'), '-U', $user,
		  '-c', 'SELECT 1' ],
		'<', \undef, '>', \$out, '2>', \$err);
	return $ok && $out =~ /^1$/m;
}

# No role is exempt by name: only the default protects the operator.
$node->append_conf('postgresql.conf', qq{
guardrails.connection_rate = 1
guardrails.connection_burst = 1
guardrails.connection_limit_exempt_roles = ''
});
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT current_setting('guardrails.connection_rate') = '1'});

# The storm: an application reconnecting as fast as it can, bounded.
my $connstr = $node->connstr('postgres');
my $storm = IPC::Run::start(
	[ 'bash', '-c',
	  "for i in \$(seq 400); do psql -X -d '$connstr' -U app -c 'SELECT 1' </dev/null >/dev/null 2>&1; done" ]);
sleep 1;

my $ok = 0;
$ok++ for grep { login('dba') } 1 .. 10;
is($ok, 10, 'a superuser logs in ten times in a row during the storm');
if ($major >= 16)
{
	$ok = 0;
	$ok++ for grep { login('oncall') } 1 .. 10;
	is($ok, 10, 'so does a member of pg_use_reserved_connections');
}
my $bootstrap = $node->safe_psql('postgres', 'SELECT current_user');
$ok = 0;
$ok++ for grep { login($bootstrap) } 1 .. 10;
is($ok, 10, 'and the bootstrap superuser');

$storm->finish;
cmp_ok($node->safe_psql('postgres', q{
	SELECT value FROM guardrails.status WHERE name = 'connections_refused'}),
	'>', 0, 'the storm was being refused meanwhile');
ok(!login('app') || !login('app') || !login('app'),
	'an ordinary role is still limited');

# The operator may choose to limit superusers too.
$node->append_conf('postgresql.conf',
	"guardrails.connection_limit_exempt_superusers = off\n");
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT NOT current_setting('guardrails.connection_limit_exempt_superusers')::bool});
my $refused = 0;
$refused++ for grep { !login('dba') } 1 .. 10;
cmp_ok($refused, '>', 0,
	'with connection_limit_exempt_superusers off, superusers are limited too');

$node->stop;
done_testing();
