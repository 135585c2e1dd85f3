# Identity of DDL log entries across a fleet: a standby is promoted after
# its primary used (and stored) numbers beyond those its copy of the
# sequence file reserved.  The promoted server stores its entries, those
# it recorded as a standby included, each exactly once, on its own
# timeline, with no false gap, no collision and nothing skipped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('fleet_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_log_size = 4000
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
$primary->safe_psql('postgres', 'CREATE TABLE before_backup (a int)');

sub caught_up
{
	my ($node) = @_;
	return $node->poll_query_until('postgres', q{
		SELECT (SELECT value FROM guardrails.status WHERE name = 'ddl_history_stored_seq')
			 = (SELECT value FROM guardrails.status WHERE name = 'ddl_log_next_seq') - 1});
}
ok(caught_up($primary), 'the primary stored its entries');

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('fleet_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

# A fresh standby has an empty ring, and nothing waits for the worker
# (which runs only after promotion): its copy of the sequence file
# reserved numbers, but none of them was given to an entry.
sub pending
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM guardrails.ddl_log) || ' ' ||
			   (SELECT value FROM guardrails.status WHERE name = 'ddl_history_pending')});
}
is(pending($standby), '0 0', 'a fresh standby: empty ring, ddl_history_pending 0');

# More numbers than the block the standby's copy of the sequence file
# reserved (1024): the primary's next numbers are beyond it.
$primary->safe_psql('postgres', q{
	DO $$ BEGIN
		FOR i IN 1 .. 1100 LOOP
			EXECUTE format('CREATE TABLE p_%s (a int)', i);
		END LOOP;
	END $$});
ok(caught_up($primary), 'the primary stored those too');
$primary->wait_for_catchup($standby);

# A statement on the standby fails (read-only): it has an entry there.
my ($ret) = $standby->psql('postgres', 'CREATE TABLE on_standby (a int)');
isnt($ret, 0, 'DDL fails on the standby');
is(pending($standby), '1 0',
	'its entry waits for a promotion, and is not pending: no worker runs on a standby');

$primary->stop('fast');
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby was not promoted';
$standby->safe_psql('postgres', "CREATE TABLE s_$_ (a int)") for 1 .. 5;
ok(caught_up($standby), 'the promoted server stored its entries');

is($standby->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE n <> 1) || '|' || count(*)
	FROM (SELECT query, count(*) AS n FROM guardrails.ddl_history
		  WHERE query ~ '^CREATE TABLE (p|s)_\d+ \(a int\)$'
			 OR query IN ('CREATE TABLE on_standby (a int)',
						  'CREATE TABLE before_backup (a int)')
		  GROUP BY query) q}),
	'0|1107', 'every statement of both servers is in ddl_history exactly once');
is($standby->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT timeline::text, ',') FROM guardrails.ddl_history
	WHERE query ~ '^CREATE TABLE s_' OR query = 'CREATE TABLE on_standby (a int)'}),
	'2', 'the promoted server stores on its own timeline');
is($standby->safe_psql('postgres', q{
	SELECT string_agg(name || '=' || value, ',' ORDER BY name) FROM guardrails.status
	WHERE name IN ('ddl_history_crash_gap', 'ddl_history_missed',
				   'ddl_history_collided', 'ddl_history_not_stored')}),
	'ddl_history_collided=0,ddl_history_crash_gap=0,ddl_history_missed=0,ddl_history_not_stored=0',
	'no gap, no collision, nothing given up');
is($standby->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.ddl_log l
	WHERE NOT EXISTS (SELECT FROM guardrails.ddl_history h
					  WHERE h.seq = l.seq AND h.timeline = 2
						AND h.query = l.query)}),
	'0', 'every entry of the promoted server\'s ring is stored under its number');
ok(!$standby->log_contains(qr/were not stored in guardrails.ddl_history/),
	'no gap is logged');

$standby->stop;
done_testing();
