# The README stays true: every ```sql block of its reference sections
# ("Installing on a server", "Configuration", "SQL reference" and
# "Operating it") runs, in order, against a server with pg_guardrails
# preloaded and a small fixture naming the tables, indexes and roles the
# examples use (the first block creates the extension).  A block may fail only if it says so:
# a line "-- ERROR:  ..." in the block, the convention the README uses to
# show an error, whose text must then appear in the error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $readme = slurp_file("$ENV{GRD_SRCDIR}/README.md") if $ENV{GRD_SRCDIR};
$readme //= slurp_file('README.md');

# the reference sections: from a "## " title to the next one
my $sql_text = '';
for my $section ('Installing on a server', 'Configuration', 'SQL reference',
	'Operating it')
{
	$readme =~ /^## \Q$section\E\n(.*?)(?=^## )/ms
	  or die "README has no section \"$section\"";
	$sql_text .= $1;
}
my @blocks = $sql_text =~ /^ *```sql\n(.*?)^ *```$/msg;
cmp_ok(scalar @blocks, '>=', 20, 'the reference sections have SQL examples');

my $node = PostgreSQL::Test::Cluster->new('readme');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails, pg_stat_statements'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE DATABASE app;
	CREATE DATABASE ops;
	CREATE ROLE mallory;
	CREATE ROLE reporting; CREATE ROLE migrations; CREATE ROLE maintenance;
	CREATE ROLE alice; CREATE ROLE ops;
	CREATE EXTENSION pg_stat_statements;
	CREATE SCHEMA archive;
	CREATE TABLE archive.orders (created_at timestamptz);
	CREATE INDEX orders_created_idx ON archive.orders (created_at);
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	CREATE UNIQUE INDEX customers_email_key ON customers (email);
	CREATE TABLE customer_refs (email text REFERENCES customers (email));
	CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount int,
						 created_at timestamptz);
	CREATE INDEX orders_created_at_idx ON orders (created_at);
	CREATE INDEX orders_customer_idx ON orders (customer_id);
	CREATE TABLE counters (id int PRIMARY KEY, n int);
	CREATE TABLE feed (user_id int);
	SELECT count(*) FROM orders;
});

my $ran = 0;
for my $i (0 .. $#blocks)
{
	my $block = $blocks[$i];
	my ($expected) = $block =~ /^-- (ERROR:  .*)$/m;
	my ($ret, $out, $err) = $node->psql('postgres', $block,
		extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	my $first = (split /\n/, $block)[0];
	if (defined $expected)
	{
		like($err, qr/\Q$expected\E/, "block $i fails as the README shows: $first");
	}
	else
	{
		is($ret, 0, "block $i runs: $first") or diag($err);
		unlike($err, qr/ERROR:/, "block $i has no error");
	}
	$ran++;
}
note("$ran SQL blocks of the README ran");
diag("$ran SQL blocks of the README ran");

$node->stop;
done_testing();
