# The corpus of labelled migrations (test/corpus): each file is checked
# as a script of its own by bin/pg_guardrails_lint, against the tables of
# test/corpus/setup.sql, under guardrails.ddl_policy = enforce with every
# table counted (ddl_policy_min_size = 0).  Prints the counts (hazards
# flagged of N, safe migrations flagged of M), and fails on any hazard
# missed or safe migration flagged that test/corpus/INDEX does not list as
# known, and on any listed one that is no longer so.
use strict;
use warnings;
use FindBin;
use File::Spec;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = File::Spec->rel2abs("$FindBin::RealBin/../..");
my $lint = "$root/bin/pg_guardrails_lint";
my $corpus = "$root/test/corpus";

# The labels, from each file's header.
my (%label, %source);
opendir(my $dh, "$corpus/migrations") or die "$corpus/migrations: $!";
my @files = sort grep { /\.sql\z/ } readdir($dh);
closedir($dh);
for my $f (@files)
{
	my $text = slurp_file("$corpus/migrations/$f");
	($label{$f}) = $text =~ /^-- label: (hazard|safe)$/m;
	($source{$f}) = $text =~ /^-- source: (.+)$/m;
	ok(defined $label{$f} && defined $source{$f}, "$f has a label and a source");
}
cmp_ok(scalar(@files), '>=', 60, 'at least 60 migrations');

# The known misses and false positives, from the index.
my (%known_miss, %known_fp);
for (split /\n/, slurp_file("$corpus/INDEX"))
{
	$known_miss{$1} = $2 if /^known-miss: (\S+)\s+(.*)/;
	$known_fp{$1} = $2 if /^known-false-positive: (\S+)\s+(.*)/;
}
for my $f (keys %known_miss)
{
	is($label{$f} // 'missing', 'hazard', "known miss $f is a hazard of the corpus");
}
for my $f (keys %known_fp)
{
	is($label{$f} // 'missing', 'safe', "known false positive $f is a safe migration of the corpus");
}

my $node = PostgreSQL::Test::Cluster->new('lint_corpus');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_policy = enforce
guardrails.ddl_policy_min_size = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
# the setup itself builds indexes on filled tables: not under the policy
$node->safe_psql('postgres',
	"SET guardrails.ddl_policy = off;\n" . slurp_file("$corpus/setup.sql"));

my ($out, $err) = ('', '');
{
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	IPC::Run::run([ $lint, '--per-file', '--format=json', "$corpus/migrations" ],
				  '<', \undef, '>', \$out, '2>', \$err);
}
my $rc = $? >> 8;
is($rc, 1, 'the corpus: verdicts at enforce level, exit 1') or diag($err);
my $result = decode_json($out);
is_deeply($result->{errors}, [], 'every migration was checked (no syntax error)');
is(scalar(@{ $result->{files} }), scalar(@files), 'every file was read');

my %flagged;
for my $v (@{ $result->{verdicts} })
{
	my (undef, undef, $f) = File::Spec->splitpath($v->{file});
	push @{ $flagged{$f} }, $v->{rule} if $v->{level} ne 'off';
}

my @hazards = grep { $label{$_} eq 'hazard' } @files;
my @safe = grep { $label{$_} eq 'safe' } @files;
my @hit = grep { $flagged{$_} } @hazards;
my @fp = grep { $flagged{$_} } @safe;
diag(sprintf("corpus: hazards flagged %d of %d, safe migrations flagged %d of %d",
			 scalar(@hit), scalar(@hazards), scalar(@fp), scalar(@safe)));

for my $f (@hazards)
{
	if ($known_miss{$f})
	{
		ok(!$flagged{$f}, "$f: a known miss, not flagged")
		  or diag("$f is flagged now (@{ $flagged{$f} }): take it off the known misses in test/corpus/INDEX");
	}
	else
	{
		ok($flagged{$f}, "$f: hazard flagged" . ($flagged{$f} ? " (@{ $flagged{$f} })" : ''))
		  or diag("$f ($source{$f}) is not flagged");
	}
}
for my $f (@safe)
{
	if ($known_fp{$f})
	{
		ok($flagged{$f}, "$f: a known false positive, flagged")
		  or diag("$f is no longer flagged: take it off the known false positives in test/corpus/INDEX");
	}
	else
	{
		ok(!$flagged{$f}, "$f: safe, not flagged")
		  or diag("$f ($source{$f}) is flagged: @{ $flagged{$f} }");
	}
}

$node->stop;
done_testing();
