# Index usage judged across a fleet: a primary and two streaming standbys.
# An index used only on one standby is never listed as unused; an index
# used nowhere is, with its size, constraint and disabled state; an index
# used once is listed only after the reports show it unused for the
# interval asked; a standby restart (counters lost) restarts its count.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_guardrails'");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE t (id int PRIMARY KEY, a int, b int, c int);
	INSERT INTO t SELECT i, i, i, i FROM generate_series(1, 10000) i;
	CREATE INDEX t_a ON t (a);
	CREATE INDEX t_b ON t (b);
	CREATE INDEX t_c ON t (c);
	CREATE INDEX t_d ON t (b, c);
	ANALYZE t;
	CREATE ROLE admin LOGIN IN ROLE guardrails_admin;
	CREATE ROLE nobody LOGIN;
});
$primary->backup('backup');
my @standbys;
for my $name ('standby1', 'standby2')
{
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, 'backup', has_streaming => 1);
	$standby->start;
	push @standbys, $standby;
}
my ($standby1, $standby2) = @standbys;
$primary->wait_for_catchup($_, 'replay') for @standbys;
my @nodes = ($primary, @standbys);

# Scans: t_a on standby1 only, t_c on the primary only.
my $scan = q{SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*) FROM t WHERE %s = 5;};
$standby1->safe_psql('postgres', sprintf($scan, 'a'));
$primary->safe_psql('postgres', sprintf($scan, 'c'));
$standby1->poll_query_until('postgres',
	q{SELECT idx_scan > 0 FROM pg_stat_user_indexes WHERE indexrelname = 't_a'})
  or die 't_a scan not counted on standby1';
is($primary->safe_psql('postgres',
	q{SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 't_a'}),
	'0', 'the primary never used t_a: per server, it looks unused');

# The exports travel as a script would carry them: COPY out of each server,
# COPY into the primary's table.
sub gather
{
	for my $node (@nodes)
	{
		my $rows = $node->safe_psql('postgres',
			'COPY (SELECT * FROM guardrails.index_usage_export()) TO STDOUT');
		$primary->safe_psql('postgres',
			"COPY guardrails.index_usage_reports FROM STDIN;\n$rows\n\\.\n");
	}
}

sub unused
{
	my ($interval) = @_;
	return $primary->safe_psql('postgres', qq{
		SELECT string_agg(index::text, ',' ORDER BY index::text)
		FROM guardrails.unused_indexes('$interval')},
		extra_params => [ '-U', 'admin' ]);
}

sleep 2;
gather();
is($primary->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT server || ':' || in_recovery, ',')
	FROM guardrails.index_usage_reports}),
	'primary:false,standby1:true,standby2:true',
	'each server identifies itself (cluster_name) and says whether it is a standby');
is($primary->safe_psql('postgres', q{
	SELECT count(DISTINCT system_identifier) FROM guardrails.index_usage_reports}),
	'1', 'one fleet');
is(unused('1 second'), 't_b,t_d,t_pkey',
	'unused on every server for a second: not t_a (standby1) nor t_c (primary)');

is($primary->safe_psql('postgres', q{
	SELECT table_name || '|' || servers || '|' || (size_bytes > 0)::int || '|'
		   || coalesce(constraint_name, '-') || '|' || disabled
		   || '|' || (table_writes_per_second > 0)::int
	FROM guardrails.unused_indexes('1 second') WHERE index = 't_pkey'::regclass},
	extra_params => [ '-U', 'admin' ]),
	't|3|1|t_pkey|false|1',
	'its table, the servers that reported, size, the constraint it backs, its writes');
is(unused('1 hour'), '', 'nothing unused for an hour: the servers started seconds ago');

# Disabled (on the primary, replicated): shown as such.
$primary->safe_psql('postgres', q{SELECT guardrails.disable_index('t_b', 'fleet-wide unused')});
is($primary->safe_psql('postgres', q{
	SELECT disabled FROM guardrails.unused_indexes('1 second') WHERE index = 't_b'::regclass},
	extra_params => [ '-U', 'admin' ]),
	't', 'a disabled index is marked');

# Later reports with no further scan of t_a on standby1: t_a has been
# unused there since the first report.
sleep 3;
gather();
is(unused('2 seconds'), 't_a,t_b,t_c,t_d,t_pkey',
	'no scan of t_a (standby1) nor t_c (primary) between two reports 3 s apart: unused for 2 s on every server');
is(unused('1 hour'), '', 'but not for an hour');

# A new scan on standby1 makes it used again.
$standby1->safe_psql('postgres', sprintf($scan, 'a'));
$standby1->poll_query_until('postgres',
	q{SELECT idx_scan > 1 FROM pg_stat_user_indexes WHERE indexrelname = 't_a'})
  or die 'second t_a scan not counted on standby1';
gather();
is(unused('1 second'), 't_b,t_c,t_d,t_pkey', 't_a scanned again on standby1: no longer listed');

# A server that has not reported an index: not listed.
$primary->safe_psql('postgres', q{CREATE INDEX t_e ON t (c, a)});
$primary->wait_for_catchup($_, 'replay') for @standbys;
sleep 2;
my $rows = $primary->safe_psql('postgres',
	'COPY (SELECT * FROM guardrails.index_usage_export()) TO STDOUT');
$primary->safe_psql('postgres',
	"COPY guardrails.index_usage_reports FROM STDIN;\n$rows\n\\.\n");
unlike(unused('1 second'), qr/t_e/,
	'an index only the primary has reported is not judged (the standbys may use it)');

# Privileges and bad input.
my ($ret, $out, $err) = $primary->psql('postgres',
	q{SELECT * FROM guardrails.unused_indexes('1 day')},
	extra_params => [ '-U', 'nobody' ]);
like($err, qr/permission denied for function unused_indexes/,
	'unused_indexes is for guardrails_admin');
($ret, $out, $err) = $primary->psql('postgres',
	q{INSERT INTO guardrails.index_usage_reports SELECT * FROM guardrails.index_usage_export()},
	extra_params => [ '-U', 'nobody' ]);
like($err, qr/permission denied for table index_usage_reports/,
	'and so are the reports');
isnt($primary->safe_psql('postgres', q{SELECT count(*) FROM guardrails.index_usage_export()},
	extra_params => [ '-U', 'nobody' ]), '0', 'the export is for everyone');
($ret, $out, $err) = $primary->psql('postgres',
	q{SELECT * FROM guardrails.unused_indexes(NULL)});
like($err, qr/ERROR:  min_unused must not be null/, 'a NULL interval is an error');
($ret, $out, $err) = $primary->psql('postgres',
	q{SELECT * FROM guardrails.unused_indexes('-1 day')});
like($err, qr/ERROR:  min_unused must be positive/, 'a negative interval is an error');

$_->stop for reverse @nodes;
done_testing();
