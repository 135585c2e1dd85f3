# Every statement that takes a lock stronger than ROW EXCLUSIVE on an
# existing table is guarded as DDL is: while a reader holds ACCESS SHARE,
# it gives up within guardrails.ddl_lock_timeout (+ 1 s) with 55P03, the
# detail names the blocker, and a reader arriving meanwhile is not queued
# behind it (it waits under 0.5 s).  The DDL log records each of them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('lock_guard');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_lock_timeout = '2s'
guardrails.ddl_policy = off
guardrails.database = 'postgres'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE t (id int PRIMARY KEY, v int);
	INSERT INTO t SELECT g, g FROM generate_series(1, 10000) g;
	CREATE INDEX t_v_idx ON t (v);
	CREATE MATERIALIZED VIEW mv AS SELECT id, v FROM t;
	CREATE TABLE p (id int, v int) PARTITION BY RANGE (id);
	CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (1000);
	CREATE TABLE p2 (id int, v int);
	INSERT INTO p SELECT g, g FROM generate_series(0, 999) g;
	INSERT INTO p2 SELECT g, g FROM generate_series(1000, 1999) g;
	CREATE DOMAIN t_d AS int;
	ALTER TABLE t ADD COLUMN d t_d;
	CREATE INDEX p_v_idx ON ONLY p (v);
	CREATE INDEX p1_v_idx ON p1 (v);
	CREATE FUNCTION t_noop() RETURNS trigger LANGUAGE plpgsql
		AS 'BEGIN RETURN NEW; END';
	CREATE TRIGGER t_noop BEFORE INSERT ON t
		FOR EACH ROW EXECUTE FUNCTION t_noop();
});

# The reader: a transaction that has read every table and keeps its locks.
my $reader = $node->background_psql('postgres');
$reader->query_safe(q{BEGIN;
	SELECT count(*) FROM t; SELECT count(*) FROM mv;
	SELECT count(*) FROM p; SELECT count(*) FROM p2;});
my $reader_pid = $reader->query_safe('SELECT pg_backend_pid()');
chomp $reader_pid;

# [statement, table a later reader reads]
my @cases = (
	[ 'TRUNCATE t', 't' ],
	[ 'BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; COMMIT', 't' ],
	[ 'REINDEX TABLE t', 't' ],
	[ 'VACUUM FULL t', 't' ],
	[ 'CLUSTER t USING t_pkey', 't' ],
	[ 'REFRESH MATERIALIZED VIEW mv', 'mv' ],
	[ 'ALTER INDEX t_v_idx SET TABLESPACE pg_default', 't' ],
	[ 'ALTER TABLE p ATTACH PARTITION p2 FOR VALUES FROM (1000) TO (2000)', 'p2' ],
	[ 'ALTER TABLE p DETACH PARTITION p1', 'p' ],
	# the relation's kind decides what is locked, not the statement's words:
	# ALTER INDEX renames a table, ALTER TYPE a table's column, both under
	# ACCESS EXCLUSIVE, and so do renames of a table's trigger
	[ 'ALTER INDEX t RENAME TO t_renamed', 't' ],
	[ 'ALTER TYPE t RENAME ATTRIBUTE v TO w', 't' ],
	[ 'ALTER TRIGGER t_noop ON t RENAME TO t_noop2', 't' ],
	# ATTACH PARTITION of an index: ACCESS EXCLUSIVE on the partition's index
	[ 'ALTER INDEX p_v_idx ATTACH PARTITION p1_v_idx', 'p' ],
);

my $connstr = $node->connstr('postgres');
for my $case (@cases)
{
	my ($sql, $read) = @$case;
	my ($out, $err) = ('', '');
	my $start = time;
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
		  '-d', "$connstr options='-c statement_timeout=6s'", '-c', $sql ],
		'>', \$out, '2>', \$err);

	# A reader arriving while the statement waits for its lock.
	sleep(0.5);
	my $rstart = time;
	my ($rret) = $node->psql('postgres',
		"SET statement_timeout = '8s'; SELECT count(*) FROM $read");
	my $rwait = time - $rstart;

	$h->finish;
	my $secs = time - $start;
	my $ret = $h->result(0);

	isnt($ret, 0, "$sql: gives up behind the reader");
	note("stderr: $err");
	like($err, qr/55P03/, "$sql: with SQLSTATE 55P03");
	like($err, qr/pid $reader_pid/, "$sql: the blocker is named");
	cmp_ok($secs, '<', 3, "$sql: within ddl_lock_timeout + 1 s ($secs s)");
	is($rret, 0, "$sql: the later reader succeeds");
	cmp_ok($rwait, '<', 0.5, "$sql: and waits under 0.5 s ($rwait s)");
}

# Each of them is in the DDL log, as a failed statement.
for my $case (@cases)
{
	my ($sql) = @$case;
	my $stmt = $sql;
	$stmt =~ s/^BEGIN; (.*); COMMIT$/$1/;
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM guardrails.ddl_log
		WHERE query LIKE '%' || \$q\$$stmt\$q\$ || '%' AND outcome = 'error'}),
		'1', "$stmt: in the DDL log once, as an error");
}

$reader->quit;

# A lock taken later in the statement, on another table: a new foreign key
# (or ALTER DOMAIN, which checks stored values under SHARE on each table)
# locks the table it references in SHARE ROW EXCLUSIVE, which a writer's
# ROW EXCLUSIVE blocks.  It comes out of the same budget, without queueing:
# the blocker is named, and another writer arriving meanwhile waits under
# 0.5 s.
$node->safe_psql('postgres', q{
	CREATE TABLE child (id int, t_id int)});
my $writer = $node->background_psql('postgres');
$writer->query_safe(q{BEGIN; UPDATE t SET v = v WHERE id = 1;});
my $writer_pid = $writer->query_safe('SELECT pg_backend_pid()');
chomp $writer_pid;
for my $sql ('ALTER TABLE child ADD FOREIGN KEY (t_id) REFERENCES t (id)',
	'ALTER TABLE child ADD COLUMN t2_id int REFERENCES t (id)',
	'CREATE TABLE child2 (t_id int REFERENCES t (id))',
	# ALTER DOMAIN checks the stored values under SHARE on each table
	'ALTER DOMAIN t_d ADD CONSTRAINT t_d_positive CHECK (VALUE > 0)',
	'ALTER DOMAIN t_d SET NOT NULL')
{
	my ($out, $err) = ('', '');
	my $start = time;
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
		  '-d', "$connstr options='-c statement_timeout=6s'", '-c', $sql ],
		'>', \$out, '2>', \$err);
	sleep(0.5);
	my $wstart = time;
	my ($wret) = $node->psql('postgres',
		"SET statement_timeout = '8s'; UPDATE t SET v = v WHERE id = 2");
	my $wwait = time - $wstart;
	$h->finish;
	my $secs = time - $start;

	isnt($h->result(0), 0, "$sql: gives up behind the writer");
	like($err, qr/55P03/, "$sql: with SQLSTATE 55P03");
	like($err, qr/pid $writer_pid/, "$sql: the blocker is named");
	cmp_ok($secs, '<', 3, "$sql: within ddl_lock_timeout + 1 s ($secs s)");
	is($wret, 0, "$sql: the later writer succeeds");
	cmp_ok($wwait, '<', 0.5, "$sql: and waits under 0.5 s ($wwait s)");
}
$writer->quit;

$node->stop;
done_testing();
