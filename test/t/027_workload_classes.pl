# Workload classes (issue 22, part 1): the most specific rule of
# guardrails.workload_rules gives a statement's class; an application name
# only ever lowers it, and no setting a client may SET raises it; the rules
# are guardrails_admin's to write, reach running sessions at commit and
# standbys on replay; superusers are exempt; the view counts what runs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('classes');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE ROLE app LOGIN;
	CREATE ROLE batch LOGIN;
	CREATE ROLE admin LOGIN IN ROLE guardrails_admin;
	CREATE DATABASE other;
	GRANT USAGE ON SCHEMA guardrails TO app, batch;
});
$node->safe_psql('other', 'CREATE EXTENSION pg_guardrails');

# The class of a statement run as $role with application_name $app.
my $probe = 'SELECT class FROM guardrails.current_workload_class()';
sub class_of
{
	my ($role, $app, $db, $n) = @_;
	$n //= $node;
	return $n->safe_psql($db // 'postgres',
		"SET application_name = '$app'; SET ROLE $role; $probe");
}
sub admin_sql
{
	my ($sql, $db) = @_;
	return $node->safe_psql($db // 'postgres', "SET ROLE admin; $sql");
}

# 1. No rule: the default, which only a superuser may change.
is(class_of('app', 'web'), 'normal', 'no rule: normal');
my ($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE app; SET guardrails.default_workload_class = 'critical'");
like($err, qr/permission denied to set parameter "guardrails.default_workload_class"/,
	'a client cannot set the default class');
is($node->safe_psql('postgres', "SET guardrails.default_workload_class = 'low'; $probe"),
	'low', 'a superuser may set the default');

# 2. Privileges: ordinary roles may not write rules, guardrails_admin may.
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE app; SELECT guardrails.set_workload_class('critical', role => 'app')");
like($err, qr/permission denied for function set_workload_class/,
	'an ordinary role cannot call set_workload_class()');
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE app; INSERT INTO guardrails.workload_rules (class, role) VALUES ('critical', 'app')");
like($err, qr/permission denied for table workload_rules/,
	'an ordinary role cannot write the rules table');
admin_sql(q{SELECT guardrails.set_workload_class('critical', role => 'app')});
is(class_of('app', 'web'), 'critical', 'role rule: critical');
is(class_of('batch', 'web'), 'normal', 'another role keeps the default');
is($node->safe_psql('postgres', 'SELECT created_by FROM guardrails.workload_rules'),
	'admin', 'the rule is signed by its writer');

# 3. Application names: a more specific rule lowers the class; one that
#    would raise it does not.
admin_sql(q{SELECT guardrails.set_workload_class('low', role => 'app', application_name => 'report%')});
is(class_of('app', 'report-daily'), 'low', 'role + application rule lowers critical to low');
is(class_of('app', 'web'), 'critical', 'the pattern does not match another application');
admin_sql(q{SELECT guardrails.set_workload_class('critical', application_name => 'vip_')});
is(class_of('batch', 'vip1'), 'normal',
	'an application rule cannot raise a class above its role\'s (default normal)');
is(class_of('batch', 'vip12'), 'normal', '_ matches one character only');
admin_sql(q{SELECT guardrails.set_workload_class('background', role => 'batch')});
is(class_of('batch', 'vip1'), 'background',
	'an application rule cannot raise a background role');
admin_sql(q{SELECT guardrails.set_workload_class('low', application_name => '100\%')});
is(class_of('app', '100%'), 'critical',
	'a less specific application rule loses to the role rule');
is(class_of('batch', '100%'), 'background', 'an application rule never raises');
admin_sql(q{SELECT guardrails.set_workload_class('background', application_name => 'etl%')});
is(class_of('app', 'etl-1'), 'critical', 'a role rule is more specific than an application rule');
admin_sql(q{SELECT guardrails.set_workload_class('low', role => 'app', application_name => 'e%')});
admin_sql(q{SELECT guardrails.set_workload_class('background', role => 'app', application_name => 'et%')});
is(class_of('app', 'etl-1'), 'background', 'two equally specific rules: the lower class wins');

# 4. Digests: a digest rule beats any without one; with a role it beats
#    the digest alone.
my $qid = $node->safe_psql('postgres', "SELECT guardrails.query_digest('$probe')");
admin_sql(qq{SELECT guardrails.set_workload_class('background', queryid => $qid)});
is(class_of('app', 'web'), 'background', 'digest rule beats the role rule');
admin_sql(qq{SELECT guardrails.set_workload_class('low', queryid => $qid, role => 'app')});
is(class_of('app', 'web'), 'low', 'digest + role beats the digest alone');
is(class_of('batch', 'web'), 'background', 'the digest alone for another role');
is($node->safe_psql('postgres', "SET ROLE app; SELECT 1; $probe"), "1\nlow",
	'the class is the statement\'s own');
admin_sql(qq{SELECT guardrails.unset_workload_class(queryid => $qid)});
admin_sql(qq{SELECT guardrails.unset_workload_class(queryid => $qid, role => 'app')});
is(class_of('app', 'web'), 'critical', 'digest rules removed');

# 5. Databases: a rule naming another database does not apply; one naming
#    this one does, and is more specific than none.
admin_sql(q{SELECT guardrails.set_workload_class('low', database => 'postgres')}, 'other');
is(class_of('batch', 'web', 'other'), 'normal', 'a rule naming another database does not apply');
admin_sql(q{SELECT guardrails.set_workload_class('low', database => 'other')}, 'other');
is(class_of('batch', 'web', 'other'), 'low', 'a rule naming this database applies');
is(class_of('batch', 'web'), 'background', 'rules are per database');

# 6. Input errors.
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE admin; SELECT guardrails.set_workload_class('urgent', role => 'app')");
like($err, qr/workload class must be critical, normal, low or background, not 'urgent'/,
	'an unknown class is refused');
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE admin; SELECT guardrails.set_workload_class('low')");
like($err, qr/a workload rule needs role, database, application_name or queryid/,
	'a rule that names nothing is refused');

# 7. A running session sees a change at commit, without reconnecting.
my $bg = $node->background_psql('postgres');
$bg->query_safe("SET application_name = 'web'; SET ROLE batch");
is($bg->query_safe($probe), 'background', 'session: background');
admin_sql(q{UPDATE guardrails.workload_rules SET class = 'low' WHERE role = 'batch'::regrole AND application_name IS NULL});
is($bg->query_safe($probe), 'low', 'session: a plain UPDATE of the table reaches it');
$bg->query_safe("SET application_name = 'vip1'");
is($bg->query_safe($probe), 'low', 'session: a new application name is seen, and cannot raise');

# 8. Superusers are exempt; the others are not.
is($node->safe_psql('postgres', 'SELECT exempt FROM guardrails.current_workload_class()'),
	't', 'a superuser is exempt');
is($node->safe_psql('postgres', 'SET ROLE app; SELECT exempt FROM guardrails.current_workload_class()'),
	'f', 'an ordinary role is not');

# 9. The view: what runs in each class, and that an error ends it.
my $before = $node->safe_psql('postgres',
	"SELECT statements FROM guardrails.workload_classes WHERE class = 'critical'");
my $sleeper = $node->background_psql('postgres', on_error_stop => 0);
$sleeper->query_safe("SET ROLE app; SET application_name = 'web'");
my $pid = $sleeper->query_safe('SELECT pg_backend_pid()');
$sleeper->query_until(qr/started/, "\\echo started\nSELECT pg_sleep(60);\n");
ok($node->poll_query_until('postgres',
	"SELECT active = 1 FROM guardrails.workload_classes WHERE class = 'critical'"),
	'a running critical statement is active');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
ok($node->poll_query_until('postgres',
	"SELECT active = 0 FROM guardrails.workload_classes WHERE class = 'critical'"),
	'a cancelled statement is no longer active');
cmp_ok($node->safe_psql('postgres',
	"SELECT statements FROM guardrails.workload_classes WHERE class = 'critical'"),
	'>=', $before + 3, 'critical statements are counted');
is($node->safe_psql('postgres', 'SELECT string_agg(class, \',\' ORDER BY priority) FROM guardrails.workload_classes'),
	'critical,normal,low,background', 'one row per class, by priority');
$sleeper->quit;
$bg->quit;

# 10. A standby classifies by the primary's rules after replay.
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
is(class_of('app', 'report-x', 'postgres', $standby), 'low', 'standby: the rules apply');
admin_sql(q{SELECT guardrails.set_workload_class('background', role => 'app', application_name => 'report%')});
$node->wait_for_catchup($standby);
is(class_of('app', 'report-x', 'postgres', $standby), 'background', 'standby: a change is replayed');

$standby->stop;
$node->stop;
done_testing();
