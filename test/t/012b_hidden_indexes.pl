# guardrails.hidden_indexes: a bad value is refused wherever it comes from
# (ALTER SYSTEM, postgresql.conf, PGOPTIONS), naming the bad item; a name
# that does not resolve when a query is planned is skipped, never an error
# in that query.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hidden_indexes');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE TABLE t1 (id int PRIMARY KEY, v int);
	CREATE INDEX t1_v ON t1 (v);
});

my $query = 'SELECT count(*) FROM t1 WHERE v = 1';

# ALTER SYSTEM: refused, naming the item.
my ($ret, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET guardrails.hidden_indexes = 'public.t1_pkey, otherdb.public.t1_v'");
isnt($ret, 0, 'ALTER SYSTEM refuses a cross-database index name');
like($err, qr/invalid value for parameter "guardrails\.hidden_indexes".*\n.*DETAIL:.*otherdb\.public\.t1_v/,
	'naming the bad item');
$node->reload;
($ret, $out, $err) = $node->psql('postgres', $query);
is($ret, 0, 'and queries still run');

for my $bad ('a.b.c.d', 'otherdb.public.t1_v', 'postgres.public.t1_v',
	'"unterminated', 'public.', '1abc')
{
	($ret, $out, $err) = $node->psql('postgres',
		"SET guardrails.hidden_indexes = '$bad'");
	isnt($ret, 0, "SET refuses \"$bad\"");
	like($err, qr/DETAIL:/, "with a detail ($bad)");
}

# PGOPTIONS: the connection is refused rather than every query failing.
($ret, $out, $err) = $node->psql('postgres', $query,
	connstr => $node->connstr('postgres')
	  . " options='-c guardrails.hidden_indexes=otherdb.public.t1_v'");
unlike($err, qr/cross-database references are not implemented/,
	'PGOPTIONS with a cross-database name never reaches a query');
like($err, qr/invalid value for parameter "guardrails\.hidden_indexes"/,
	'it is refused at connection');

# postgresql.conf: the bad value is refused at reload, the old one kept.
$node->append_conf('postgresql.conf',
	"guardrails.hidden_indexes = 'otherdb.public.t1_v'\n");
my $offset = -s $node->logfile;
$node->reload;
ok($node->wait_for_log(qr/invalid value for parameter "guardrails\.hidden_indexes"/, $offset),
	'a bad value in postgresql.conf is reported');
($ret, $out, $err) = $node->psql('postgres', $query);
is($ret, 0, 'and queries run');
is($err, '', 'without an error');
($ret, $out, $err) = $node->psql('postgres',
	'SELECT count(*) FROM pg_class WHERE oid = 1259');
is($ret, 0, 'catalog queries run too');

# A name that resolves to nothing at plan time is skipped.
$node->adjust_conf('postgresql.conf', 'guardrails.hidden_indexes',
	"'nosuchschema.t1_v, nosuchindex, t1_v'");
$node->reload;
sleep 1;
like($node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	EXPLAIN (COSTS OFF) SELECT * FROM t1 WHERE v = 1}),
	qr/Seq Scan/, 'names that resolve are hidden, the others skipped');
($ret, $out, $err) = $node->psql('postgres',
	"SET search_path = nosuchschema; SELECT count(*) FROM public.t1 WHERE v = 1");
is($ret, 0, 'a search_path where nothing resolves breaks no query');

$node->stop;
done_testing();
