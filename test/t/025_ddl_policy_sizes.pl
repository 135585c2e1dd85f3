# The policy and check_migration() read a table's size while TRUNCATE,
# VACUUM FULL and DROP give it new files or take them away.  The size must
# be that of the table as it is, read under a lock that keeps its files in
# place, never of files that are gone, and no concurrent change may make
# the check fail.
# - Deterministic: a transaction checks a script on an empty table; another
#   session empties and refills it (TRUNCATE, then 2 MB, so new files);
#   the same transaction checks again and must see 2 MB.  Read without a
#   lock, the relation cache still named the old, empty files (nothing had
#   processed the invalidation), and the check said nothing.
# - When another session holds ACCESS EXCLUSIVE, the check does not wait,
#   and falls back on pg_class.relpages.
# - Bounded in time: for 4 s, one client runs TRUNCATE, INSERT, VACUUM
#   FULL, DROP and CREATE on a table while another runs check_migration()
#   and a guarded statement under the policy on it; neither may fail.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('policy_sizes');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_policy = warn
log_statement = none
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE t (id int, pad text);
});

my $check = q{SELECT coalesce(string_agg(rule || ' ' || table_size, ','), 'none')
	FROM guardrails.check_migration('CREATE INDEX ON t (id)')};

my $a = $node->background_psql('postgres');
$a->query_safe('BEGIN');
is($a->query_safe($check), 'none', 'an empty table: no verdict');

$node->safe_psql('postgres', q{
	BEGIN;
	TRUNCATE t;
	INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
	COMMIT;});
my $size = $node->safe_psql('postgres', q{SELECT pg_relation_size('t')});
cmp_ok($size, '>', 2 * 1024 * 1024, "the table now holds $size bytes");

is($a->query_safe($check), "index_concurrently $size",
	'the same transaction sees the new files and their size');
$a->query_safe('COMMIT');

# Another session holds ACCESS EXCLUSIVE: the check does not wait for it,
# and takes the size pg_class has (as of the VACUUM).
$node->safe_psql('postgres', 'VACUUM t');
my $b = $node->background_psql('postgres');
$b->query_safe('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;');
$a->query_safe(q{SET statement_timeout = '5s'});
is($a->query_safe($check), "index_concurrently $size",
	'a locked table: no wait, the size of pg_class.relpages');
$b->query_safe('COMMIT');

# A filled table never vacuumed has relpages 0, which proves nothing: while
# another session holds its lock, it counts as at least
# guardrails.ddl_policy_min_size (1 MB), and the rules still apply (else
# queueing a lock would let a migration through).
$node->safe_psql('postgres', q{
	CREATE TABLE v (id int, pad text) WITH (autovacuum_enabled = off);
	INSERT INTO v SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;});
$b->query_safe('BEGIN; LOCK TABLE v IN ACCESS EXCLUSIVE MODE;');
(my $check_v = $check) =~ s/\bt\b/v/g;
is($a->query_safe($check_v), 'index_concurrently 1048576',
	'a locked table with relpages 0 still gets its verdict, as 1 MB');
$b->query_safe('COMMIT');
$b->quit;
$a->quit;

# The bounded race.
$node->safe_psql('postgres', q{CREATE TABLE u (id int, pad text)});
my $dir = $node->basedir;
open(my $fh, '>', "$dir/churn.sql") or die $!;
print $fh q{TRUNCATE u;
INSERT INTO u SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
VACUUM FULL u;
DROP TABLE u;
CREATE TABLE u (id int, pad text);
INSERT INTO u SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
};
close($fh);
open($fh, '>', "$dir/check.sql") or die $!;
print $fh q{SELECT count(*) FROM guardrails.check_migration('CREATE INDEX ON u (id); ALTER TABLE u ALTER COLUMN id SET NOT NULL; VACUUM FULL u');
};
close($fh);

my @common = ('-n', '-T', '4', '-h', $node->host, '-p', $node->port, 'postgres');
my ($cout, $cerr, $kout, $kerr) = ('', '', '', '');
my $churn = IPC::Run::start([ 'pgbench', '-f', "$dir/churn.sql", @common ],
	'>', \$cout, '2>', \$cerr);
my $checker = IPC::Run::start([ 'pgbench', '-f', "$dir/check.sql", @common ],
	'>', \$kout, '2>', \$kerr);
$churn->finish;
$checker->finish;
is($churn->result(0), 0, 'the churn ran') or diag($cerr);
is($checker->result(0), 0, 'check_migration() never failed meanwhile')
  or diag($kerr);
unlike($kerr, qr/could not open|could not read|cache lookup failed|missing/,
	'no error about files or catalog rows that went away');
like($kout, qr/number of transactions actually processed: [1-9]/,
	'and it ran ' . ($kout =~ /processed: (\d+)/ ? $1 : 0) . ' times');

$node->stop;
done_testing();
