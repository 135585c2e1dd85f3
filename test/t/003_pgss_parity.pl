# pg_guardrails agrees with pg_stat_statements whichever comes first in
# shared_preload_libraries, works without it, and says clearly when it is
# not preloaded at all.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('parity');
$node->init;
$node->append_conf('postgresql.conf', qq{
pg_stat_statements.track = top
pg_stat_statements.track_utility = on
pg_stat_statements.max = 5000
});
$node->start;

# Simple and extended protocol, prepared statements, utility statements,
# cursors, functions, and failures.
my $utility_script = q{
CREATE TABLE IF NOT EXISTS parity (id int PRIMARY KEY, v text);
TRUNCATE parity;
INSERT INTO parity SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
CREATE INDEX IF NOT EXISTS parity_v ON parity (v);
ANALYZE parity;
SET work_mem = '16MB';
RESET work_mem;
PREPARE p(int) AS SELECT v FROM parity WHERE id = $1;
EXECUTE p(1);
EXECUTE p(2);
DEALLOCATE p;
BEGIN;
DECLARE c CURSOR FOR SELECT * FROM parity ORDER BY id;
FETCH 100 FROM c;
FETCH 100 FROM c;
CLOSE c;
COMMIT;
DO $$ BEGIN PERFORM count(*) FROM parity; END $$;
SELECT count(*) FROM parity WHERE v LIKE 'a%';
VACUUM parity;
};

sub run_workload
{
	my ($node) = @_;
	$node->safe_psql('postgres', $utility_script) for 1 .. 5;
	$node->psql('postgres', 'SELECT 1 / (id - id) FROM parity WHERE id = 1') for 1 .. 3;
	$node->psql('postgres', "SET statement_timeout = '50ms'; SELECT pg_sleep(1)");
	$node->pgbench('-n -c 4 -j 2 -t 200 -M prepared', 0, [qr/processed: 800\/800/], [qr/^$/],
		'tpcb-like, prepared');
	$node->pgbench('-n -c 4 -j 2 -t 200 -M simple -S', 0, [qr/processed: 800\/800/], [qr/^$/],
		'select-only, simple');
	$node->pgbench('-n -c 2 -j 2 -t 200 -M extended -S', 0, [qr/processed: 400\/400/], [qr/^$/],
		'select-only, extended');
}

for my $order ('pg_guardrails, pg_stat_statements', 'pg_stat_statements, pg_guardrails')
{
	$node->append_conf('postgresql.conf', "shared_preload_libraries = '$order'");
	$node->restart;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION IF NOT EXISTS pg_guardrails;
		CREATE EXTENSION IF NOT EXISTS pg_stat_statements});
	$node->command_ok([ 'pgbench', '-i', '-s', '1', '-q', $node->connstr('postgres') ],
		"pgbench tables ($order)");
	$node->safe_psql('postgres',
		'SELECT pg_stat_statements_reset(), guardrails.latency_reset()');

	run_workload($node);

	my $compare = q{
		WITH s AS (SELECT * FROM pg_stat_statements WHERE toplevel),
		both_ AS (
			SELECT coalesce(s.queryid, l.queryid) AS queryid, s.query,
				   coalesce(s.calls, 0) AS pgss_calls, coalesce(l.calls, 0) AS grd_calls,
				   coalesce(s.total_exec_time, 0) AS pgss_ms, coalesce(l.total_ms, 0) AS grd_ms
			FROM s FULL JOIN guardrails.latency l USING (dbid, userid, queryid)
			WHERE l.queryid IS DISTINCT FROM
				  (SELECT query_id FROM pg_stat_activity WHERE pid = pg_backend_pid()))
		SELECT };
	is($node->safe_psql('postgres', $compare . q{
		string_agg(format('%s: %s vs %s', query, pgss_calls, grd_calls), E'\n')
		FROM both_ WHERE pgss_calls <> grd_calls}),
		'', "calls equal pg_stat_statements.calls for every queryid ($order)");
	cmp_ok($node->safe_psql('postgres', $compare . 'count(*) FROM both_ WHERE grd_calls > 0'),
		'>=', 15, "many digests compared ($order)");
	# Planned statements: both read the executor's own clock, so the times
	# agree within 1%.  Utility statements are timed by each extension
	# around its whole hook, which for DDL includes pg_guardrails' own work
	# (the audit record, the schema-change rules, taking the lock): the
	# outer of the two counts the inner one's work too, which on a loaded
	# machine can reach a millisecond for one statement.
	my $planned = q{pgss_calls > 0 AND query ~* '^\s*(select|insert|update|delete|with|values|table) '};
	my ($pgss_total, $grd_total) = split /\|/, $node->safe_psql('postgres',
		$compare . "sum(pgss_ms), sum(grd_ms) FROM both_ WHERE $planned");
	cmp_ok($pgss_total, '>', 0, "planned statements compared ($order)");
	cmp_ok(abs($pgss_total - $grd_total), '<=', 0.01 * $pgss_total,
		"planned statements' total_ms within 1% of total_exec_time: $grd_total vs $pgss_total ($order)");
	is($node->safe_psql('postgres', $compare . qq{
		string_agg(format('%s: %s vs %s', query, pgss_ms, grd_ms), E'\n')
		FROM both_ WHERE $planned AND abs(pgss_ms - grd_ms) > 0.01 * pgss_ms + 0.1}),
		'', "per-digest total times of planned statements agree ($order)");
	is($node->safe_psql('postgres', $compare . qq{
		string_agg(format('%s: %s vs %s', query, pgss_ms, grd_ms), E'\n')
		FROM both_ WHERE NOT ($planned)
		  AND abs(pgss_ms - grd_ms) > 0.01 * pgss_ms + 2 * pgss_calls}),
		'', "per-digest total times of utility statements agree within 2 ms a call ($order)");
	is($node->safe_psql('postgres', q{
		SELECT sum(failed) FROM guardrails.latency}),
		'4', "errors and cancels counted as failed ($order)");
}

# Without pg_stat_statements: utility statements keep their own ids.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_guardrails'");
$node->restart;
$node->safe_psql('postgres', 'SELECT guardrails.latency_reset()');
$node->safe_psql('postgres', $utility_script);
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM guardrails.latency'),
	'>=', 12, 'utility and planned statements recorded without pg_stat_statements');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM guardrails.latency WHERE queryid = 0}),
	'0', 'no statement recorded without a query id');
is($node->safe_psql('postgres', 'SHOW compute_query_id'), 'auto',
	'works with compute_query_id = auto');
$node->stop;

# Not preloaded: CREATE EXTENSION works; every function says what to do.
my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
for my $sql ('SELECT * FROM guardrails.latency', 'SELECT * FROM guardrails.status',
	'SELECT guardrails.quantile(1, 0.5)', 'SELECT guardrails.latency_reset()',
	'SELECT * FROM guardrails.latency_histogram(1)', 'SELECT * FROM guardrails.latency_buckets')
{
	my ($ret, $out, $err) = $plain->psql('postgres', $sql);
	isnt($ret, 0, "fails without preload: $sql");
	like($err, qr/ERROR:  pg_guardrails must be loaded via "shared_preload_libraries".*HINT:  Add pg_guardrails/s,
		"error and hint without preload: $sql");
}
is($plain->safe_psql('postgres', 'SELECT 1'), '1', 'server unharmed');
$plain->stop;

done_testing();
