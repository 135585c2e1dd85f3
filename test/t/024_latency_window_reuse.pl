# The reuse of a window slot, stopped half-way.  When an execution is the
# first of its digest in a new slot, its backend claims the digest's
# windows, adds the old slot's counts into its coarse block and empties
# the slot; the windows' change counter is odd meanwhile.  An injection
# point (servers built with --enable-injection-points, 17 and later) stops
# that backend there, with the claim held, and the test checks that:
# - a reader of the windows waits for the reuse to end and then sees the
#   digest's row, with all its executions (it used to give up after 10
#   quick retries and drop the row, or keep a torn copy);
# - a second execution of the same digest meanwhile waits for the reuse
#   too, and is counted;
# - readers of the cumulative histograms do not wait.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $point = 'pg-guardrails-window-reuse';

my $node = PostgreSQL::Test::Cluster->new('window_reuse');
$node->init;
# Only the sessions that set guardrails.track record anything: the others
# must not stop at the injection point while they serve the test.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.latency_window_slot = 1
guardrails.track = none
});
$node->start;

if ($node->safe_psql('postgres', q{SELECT count(*) FROM pg_available_extensions
	WHERE name = 'injection_points'}) ne '1')
{
	plan skip_all => 'this server has no injection points';
}
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE EXTENSION injection_points;
});

# The digest, with three executions in one slot.
my $w = $node->background_psql('postgres', on_error_stop => 0);
$w->query_safe('SET guardrails.track = top');
$w->query_safe('SELECT 42 AS answer') for 1 .. 3;
my $qid = $node->safe_psql('postgres',
	q{SELECT queryid FROM guardrails.latency WHERE calls = 3});
like($qid, qr/^-?\d+$/, 'the digest is recorded');

# The next execution, in a later slot, reuses a slot and stops there.
$node->safe_psql('postgres',
	qq{SELECT injection_points_attach('$point', 'wait')});
sleep(1.2);
$w->query_until(qr/started/, "\\echo started\nSELECT 42 AS answer;\n\\echo done\n");
$node->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE wait_event = '$point'})
  or die "the execution did not stop at $point";

# A second execution of the digest.
my $w2 = $node->background_psql('postgres', on_error_stop => 0);
$w2->query_safe('SET guardrails.track = top');
$w2->query_until(qr/started/, "\\echo started\nSELECT 42 AS answer;\n\\echo done\n");

# A reader of the windows.
my $r = $node->background_psql('postgres', on_error_stop => 0);
$r->query_until(qr/started/, qq{\\echo started
SELECT count(*) || ' rows, ' || coalesce(max(calls), 0) || ' calls'
FROM guardrails.latency_recent WHERE queryid = $qid;
\\echo done
});

# The cumulative histograms are read at once (both executions are in
# them: they are counted there before the windows).
my $t0 = time;
is($node->safe_psql('postgres', qq{SELECT calls FROM guardrails.latency
	WHERE queryid = $qid}), '5', 'the cumulative histogram is read meanwhile');
cmp_ok(time - $t0, '<', 5, 'without waiting for the reuse');

sleep(0.5);
$node->safe_psql('postgres', qq{
	SELECT injection_points_wakeup('$point');
	SELECT injection_points_detach('$point');});

my $out = $r->query_until(qr/done/, '');
like($out, qr/^4 rows, [345] calls$/m,
	"the reader waited for the reuse, and has the digest's row in every window");
is($r->{stderr}, '', 'without an error');
$w->query_until(qr/done/, '');
$w2->query_until(qr/done/, '');
is($w->{stderr} . $w2->{stderr}, '', 'both executions completed');
is($node->safe_psql('postgres', qq{SELECT string_agg(calls::text, ' ' ORDER BY last)
	FROM guardrails.latency_recent WHERE queryid = $qid AND last >= interval '15 s'}),
	'5 5', 'and are both counted in the windows, with the three before');

$_->quit for ($w, $w2, $r);
$node->stop;
done_testing();
