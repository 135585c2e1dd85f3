# The queries file for postgres_exporter (prometheus/postgres_exporter.yaml)
# against the real exporter: start it on loopback against a test server,
# scrape /metrics, and check the histogram series: the top 20 digests by
# executions each with its queryid, one "other" series for the rest, counts
# and sums equal to guardrails.latency's, and histogram_quantile() (as
# Prometheus computes it) within the width of a bucket of
# guardrails.quantile().  test/check.sh installs the exporter (Debian
# package prometheus-postgres-exporter); without it this test runs nothing
# and says so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd ();
use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(sleep);

my ($exporter) = grep { defined $_ && -x $_ } (
	$ENV{GRD_POSTGRES_EXPORTER},
	'/usr/bin/prometheus-postgres-exporter',
	map { "$_/postgres_exporter" } split /:/, ($ENV{PATH} // ''));
plan skip_all => 'prometheus-postgres-exporter is not installed: this test ran nothing'
  unless $exporter;

my $node = PostgreSQL::Test::Cluster->new('exporter');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_guardrails'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
$node->safe_psql('postgres', 'SELECT guardrails.latency_reset()');

# 25 filler digests, SELECT with 1 to 25 columns, run 100 + n times each,
# and pg_sleep, 200 times, log-uniform between 1 and 20 ms: the top 20 are
# pg_sleep and the fillers of 7 to 25 columns.
for my $n (1 .. 25)
{
	my $sql = 'SELECT ' . join(', ', ('1') x $n) . ";\n";
	$node->safe_psql('postgres', $sql x (100 + $n));
}
srand(11);
$node->safe_psql('postgres', join('', map {
	sprintf("SELECT pg_sleep(%.4f);\n", exp(log(0.001) + rand() * (log(0.020) - log(0.001))))
} 1 .. 200));
my $sleep_id = $node->safe_psql('postgres',
	q{SELECT queryid FROM guardrails.latency WHERE calls = 200});
ok($sleep_id, 'pg_sleep digest found');

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = sprintf('host=%s port=%d user=%s dbname=postgres sslmode=disable',
	$node->host, $node->port, scalar getpwuid($<));
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ $exporter, "--web.listen-address=127.0.0.1:$port",
		'--extend.query-path=' . Cwd::abs_path(($ENV{GRD_SRCDIR} // '.') . '/prometheus/postgres_exporter.yaml'),
		'--disable-default-metrics', '--disable-settings-metrics' ],
	'>', \$out, '2>', \$err,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn });

my $metrics;
for (1 .. 100)
{
	my $res = HTTP::Tiny->new(timeout => 10)->get("http://127.0.0.1:$port/metrics");
	if ($res->{success} && $res->{content} =~ /pg_guardrails_latency_seconds_count/)
	{
		$metrics = $res->{content};
		last;
	}
	sleep(0.2);
}
ok(defined $metrics, 'scraped /metrics with the histograms') or diag($err);
$metrics //= '';

my (%bucket, %count, %sum);
for my $line (split /\n/, $metrics)
{
	next unless $line =~ /^pg_guardrails_latency_seconds_(bucket|count|sum)\{([^}]*)\} (\S+)$/;
	my ($kind, $labels, $value) = ($1, $2, $3);
	my ($qid) = $labels =~ /queryid="([^"]*)"/;
	if ($kind eq 'bucket')
	{
		my ($le) = $labels =~ /le="([^"]*)"/;
		$bucket{$qid}{$le} = $value;
	}
	elsif ($kind eq 'count') { $count{$qid} = $value; }
	else { $sum{$qid} = $value; }
}

# Cardinality: 20 digests and "other".
is(scalar keys %count, 21, '21 series: the top 20 digests and other');
ok(exists $count{other}, 'an "other" series');
my @top = split /\n/, $node->safe_psql('postgres', q{
	SELECT queryid FROM guardrails.latency GROUP BY queryid
	ORDER BY sum(calls + failed) DESC, queryid LIMIT 19});
is(scalar(grep { exists $count{$_} } @top), 19,
	'the 19 busiest digests have their own series');
ok(exists $count{$sleep_id}, 'pg_sleep has its own series');
cmp_ok($count{other}, '>=', 6 * 100 + 21, 'other holds the 6 least busy fillers');

# pg_sleep's series against the server.
my ($calls, $total_ms) = split /\|/, $node->safe_psql('postgres',
	"SELECT calls, total_ms FROM guardrails.latency WHERE queryid = $sleep_id");
is($count{$sleep_id}, $calls, '_count is the executions');
ok(abs($sum{$sleep_id} - $total_ms / 1000) <= 1e-6 * $total_ms,
	"_sum is the total time ($sum{$sleep_id} s)");
is($bucket{$sleep_id}{'+Inf'}, $calls, 'the +Inf bucket counts every execution');

# histogram_quantile() as Prometheus computes it: linear interpolation in
# the bucket where the rank falls, the first bucket starting at 0.
my @les = sort { $a <=> $b } grep { $_ ne '+Inf' } keys %{ $bucket{$sleep_id} };
for my $q (0.5, 0.9, 0.99)
{
	my $rank = $q * $count{$sleep_id};
	my ($lower, $below) = (0, 0);
	my ($prom, $width);
	for my $le (@les)
	{
		my $c = $bucket{$sleep_id}{$le};
		if ($c >= $rank)
		{
			$prom = $lower + ($le - $lower) * ($rank - $below) / ($c - $below);
			$width = $le - $lower;
			last;
		}
		($lower, $below) = ($le, $c);
	}
	my $grd = $node->safe_psql('postgres', "SELECT guardrails.quantile($sleep_id, $q)") / 1000;
	ok(defined $prom && abs($prom - $grd) <= $width,
		sprintf('q=%.2f: histogram_quantile %.5f s, guardrails.quantile %.5f s, bucket width %.5f s',
			$q, $prom // -1, $grd, $width // 0));
}

# The workload classes: one series per class, as the view says.
my %stmts = map { /class="([^"]*)"[^}]*\} (\S+)$/ ? ($1 => $2) : () }
  grep { /^pg_guardrails_workload_statements\{/ } split /\n/, $metrics;
is(join(',', sort keys %stmts), 'background,critical,low,normal',
	'a workload series per class');
ok(($stmts{normal} // 0) > 0, 'normal statements are counted');
like($metrics, qr/^pg_guardrails_workload_shed_share\{class="normal"[^}]*\} 0$/m,
	'the shed share is exported');

# Every metric that the README's example alert expressions name is in the
# scrape, with the labels they select on: an alert on a series nobody
# exports never fires.  A digest limit first, so that the rule series
# exist.
$node->safe_psql('postgres', "SELECT guardrails.block_digest($sleep_id)");
my $scrape = HTTP::Tiny->new(timeout => 10)->get("http://127.0.0.1:$port/metrics");
my $all = $scrape->{success} ? $scrape->{content} : '';
my $readme = slurp_file(($ENV{GRD_SRCDIR} // '.') . '/README.md');
my ($alerts) = $readme =~ /Example Prometheus alert expressions[^\n]*\n\n```\n(.*?)```/s;
ok(defined $alerts, 'the README has example alert expressions');
my @selectors = ($alerts // '') =~ /(pg_guardrails_[a-z_]+(?:\{[^}]*\})?)/g;
cmp_ok(scalar @selectors, '>=', 5, 'they name at least five metrics');
for my $sel (@selectors)
{
	my ($metric, $labels) = $sel =~ /^([a-z_]+)(?:\{(.*)\})?$/;
	my @want = map { [ /^(\w+)="([^"]*)"$/ ] } grep { $_ ne '' && !/^le$/ }
	  split /,\s*/, ($labels // '');
	@want = grep { $_->[0] ne 'queryid' } @want;
	my $found = grep {
		my $line = $_;
		$line =~ /^\Q$metric\E(?:\{|\s)/
		  && !grep { $line !~ /\b$_->[0]="\Q$_->[1]\E"/ } @want
	} split /\n/, $all;
	ok($found, "alert selector $sel matches a scraped series");
}

# WAL budgets and the replica-lag controller (issue 23): a series per
# class, and the controller idle on a server without standbys.
my %wal;
for my $line (split /\n/, $metrics)
{
	$wal{$1} = $2
	  if $line =~ /^pg_guardrails_wal_wal_bytes\{[^}]*class="(\w+)"[^}]*\} (\S+)$/;
}
is(join(',', sort keys %wal), 'background,critical,low,normal',
	'WAL bytes, one series per class');
cmp_ok($wal{normal}, '>', 0, 'the normal class wrote WAL (CREATE EXTENSION)');
like($metrics, qr/^pg_guardrails_wal_lag_throttling(\{[^}]*\})? 0$/m,
	'the lag controller is not throttling');
like($metrics, qr/^pg_guardrails_wal_refused_statements\{[^}]*class="low"[^}]*\} 0$/m,
	'nothing refused');

$h->kill_kill;
$node->stop;
done_testing();
