# A transaction that already holds a lock on a table strengthens it while
# writers are queued behind its first lock: BEGIN; CREATE INDEX (SHARE);
# two INSERTs queue for ROW EXCLUSIVE behind it; then ALTER TABLE asks for
# ACCESS EXCLUSIVE.  PostgreSQL grants that at once (the writers wait for
# this transaction anyway, so it goes ahead of them), and so must every
# guardrails.ddl_lock_wait mode.  A conditional attempt fails whenever a
# conflicting request is queued, so retry used to try for the whole
# ddl_lock_timeout, fail, and keep the writers blocked all that time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('lock_strengthen');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_policy = off
guardrails.ddl_lock_timeout = '5s'
log_statement = none
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE t (id int, v int);
	INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;
});

my $a = $node->background_psql('postgres', on_error_stop => 0);
my $n = 0;
for my $mode (qw(retry hybrid queue))
{
	$n++;
	$a->query_safe("SET guardrails.ddl_lock_wait = '$mode'");
	$a->query_safe("BEGIN; CREATE INDEX t_v_idx_$n ON t (v);");

	# two writers queue behind the SHARE lock of the index build
	my @w;
	for my $i (1 .. 2)
	{
		my $w = $node->background_psql('postgres', on_error_stop => 0);
		$w->query_until(qr/started/,
			"\\echo started\nINSERT INTO t VALUES ($n$i, 0);\n\\echo done\n");
		push @w, $w;
	}
	$node->poll_query_until('postgres', q{
		SELECT count(*) = 2 FROM pg_locks
		WHERE relation = 't'::regclass AND NOT granted})
	  or die "the writers did not queue";

	my $t0 = time;
	my $out = $a->query("ALTER TABLE t ADD COLUMN c$n int");
	my $secs = time - $t0;
	my $err = $a->{stderr};
	$a->{stderr} = '';
	is($err, '', "$mode: the ALTER strengthens the transaction's lock");
	cmp_ok($secs, '<', 1, "$mode: at once, not after the 5 s budget ($secs s)");
	$a->query_safe('COMMIT');

	$t0 = time;
	$_->query_until(qr/done/, '') for @w;
	$secs = time - $t0;
	is(join('', map { $_->{stderr} } @w), '', "$mode: the writers succeed");
	cmp_ok($secs, '<', 2, "$mode: as soon as the transaction commits ($secs s)");
	$_->quit for @w;
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM t}), '1006',
	'every write is there');

$a->quit;
$node->stop;
done_testing();
