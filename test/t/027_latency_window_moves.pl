# Windows go to the digests that ran most lately, not to the first ones
# seen: with all guardrails.max_window_digests (100) windows held by 100
# digests that ran a few times and then fell quiet, a digest that arrives
# after them and keeps running gets windows within a slot or two (1 s
# here), and one of the quiet digests gives its windows back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('window_moves');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.latency_window_slot = 1s
guardrails.max_window_digests = 100
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');

sub status
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT value FROM guardrails.status WHERE name = '$name'");
}

# 100 digests (SELECT with 1 to 100 columns), three executions each.
my $old = '';
for my $k (1 .. 100)
{
	$old .= 'SELECT ' . join(', ', (1) x $k) . ";\n";
}
$node->safe_psql('postgres', $old x 3);
is(status('latency_window_digests'), '100', 'the first 100 digests hold every window');

# The newcomer runs for about three seconds, while the old ones are quiet.
my $new = q{SELECT count(*) FROM pg_class WHERE relname = 'window_newcomer'};
my $until = time + 3.2;
while (time < $until)
{
	$node->safe_psql('postgres', "$new;\n" x 20);
	sleep(0.1);
}
my $id = $node->safe_psql('postgres', qq{
	SELECT queryid FROM guardrails.latency WHERE calls >= 100});
like($id, qr/^-?\d+$/, 'the newcomer has a digest');

my $recent = $node->safe_psql('postgres', qq{
	SELECT calls FROM guardrails.latency_recent
	WHERE queryid = $id AND last = interval '60 s'});
cmp_ok($recent || 0, '>', 0, "the newcomer has windows, with calls ($recent)");
is(status('latency_window_digests'), '100', 'still 100 digests with windows');
cmp_ok(status('latency_window_rebalances'), '>=', 1, 'the windows were rebalanced');
# It got them at the latest in the second slot of its three seconds.
cmp_ok($recent, '>=', 20, 'its windows hold at least its last batch');

$node->stop;
done_testing();
