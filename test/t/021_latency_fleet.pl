# A fleet: a primary and two streaming standbys each serve a known spread
# of durations.  Their exported histograms, merged, give quantiles within
# 1% of the exact nearest-rank quantiles of the union of the durations the
# servers logged (auto_explain logs the executor time of each execution,
# the very interval pg_guardrails records), for the cumulative histograms
# and for the 60-slot windows, which also work on the standbys.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX qw(ceil);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails, auto_explain'
auto_explain.log_min_duration = 0
guardrails.latency_window_slot = 5s
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
$primary->backup('backup');
my @nodes = ($primary);
for my $name ('standby1', 'standby2')
{
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, 'backup', has_streaming => 1);
	$standby->start;
	push @nodes, $standby;
}
$primary->wait_for_catchup($_, 'replay') for @nodes[1 .. 2];

sub exact_quantile
{
	my ($q, @sorted) = @_;
	my $rank = ceil($q * @sorted);
	$rank = 1 if $rank < 1;
	return $sorted[ $rank - 1 ];
}

# Each node its own spread, log-uniform: 1-20 ms, 5-60 ms, 20-150 ms.
srand(7);
my @spreads = ([ 0.001, 0.020, 120 ], [ 0.005, 0.060, 80 ], [ 0.020, 0.150, 40 ]);
my @all;
my @ids;
for my $i (0 .. 2)
{
	my ($lo, $hi, $n) = @{ $spreads[$i] };
	my $node = $nodes[$i];
	my @sleeps = map { sprintf('%.4f', exp(log($lo) + rand() * (log($hi) - log($lo)))) } 1 .. $n;
	$node->safe_psql('postgres', 'SELECT guardrails.latency_reset()') if $i == 0;
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', join('', map { "SELECT pg_sleep($_);\n" } @sleeps));
	my $log = slurp_file($node->logfile, $offset);
	my @ms = ($log =~ /duration: ([0-9.]+) ms  plan:\n\s*Query Text: SELECT pg_sleep/g);
	is(scalar @ms, $n, $node->name . ': one logged duration per execution');
	push @all, @ms;
	push @ids, $node->safe_psql('postgres',
		q{SELECT queryid FROM guardrails.latency ORDER BY calls DESC LIMIT 1});
}
is(scalar(grep { $_ eq $ids[0] } @ids), 3, 'the same digest on every node');
my $id = $ids[0];
@all = sort { $a <=> $b } @all;

# Exports travel as hex text, as a monitoring script would carry them.
for my $last ('NULL', q{interval '5 min'})
{
	my @hex = map {
		$_->safe_psql('postgres', qq{
			SELECT encode(histogram, 'hex')
			FROM guardrails.latency_export($last) WHERE queryid = $id})
	} @nodes;
	is(scalar(grep { length $_ } @hex), 3, "window $last: one export per node");
	my $values = join(', ', map { "(decode('$_', 'hex'))" } @hex);
	my $merged = "(SELECT guardrails.latency_merge(h) FROM (VALUES $values) v(h))";
	is($primary->safe_psql('postgres',
		"SELECT calls FROM guardrails.histogram_stats($merged)"),
		scalar @all, "window $last: merged calls are the fleet's");
	for my $q (0.01, 0.1, 0.5, 0.9, 0.99)
	{
		my $exact = exact_quantile($q, @all);
		my $got = $primary->safe_psql('postgres',
			"SELECT guardrails.histogram_quantile($merged, $q)");
		ok(abs($got - $exact) <= 0.01 * $exact + 0.001,
			sprintf('window %s: merged q=%.2f exact %.3f ms, reported %.3f ms',
				$last, $q, $exact, $got));
	}
}

# The standbys keep windows of their own executions.
for my $node (@nodes[1 .. 2])
{
	ok($node->safe_psql('postgres', qq{
		SELECT count(*) = 4 FROM guardrails.latency_recent WHERE queryid = $id}),
		$node->name . ': every window has the digest');
}

$_->stop for reverse @nodes;
done_testing();
