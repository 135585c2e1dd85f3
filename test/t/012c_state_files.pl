# The state files (pg_stat/pg_guardrails.stat, written at a clean shutdown,
# and pg_stat/pg_guardrails_ddl.seq, the DDL log's sequence reservation)
# carry a header and a CRC-32C: a damaged file is reported with what is
# wrong and ignored, the server starts, and none of its values are used.
# The state file is made of one section per module, each tagged, versioned
# and checksummed: a damaged section is reported and skipped on its own,
# and the other modules still get theirs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# CRC-32C (Castagnoli), as port/pg_crc32c.h computes it.
sub crc32c
{
	my ($data) = @_;
	my $crc = 0xFFFFFFFF;
	for my $byte (unpack('C*', $data))
	{
		$crc ^= $byte;
		for (1 .. 8)
		{
			$crc = ($crc & 1) ? (($crc >> 1) ^ 0x82F63B78) : ($crc >> 1);
		}
	}
	return $crc ^ 0xFFFFFFFF;
}

my $node = PostgreSQL::Test::Cluster->new('state_files');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.database = 'postgres'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_guardrails');
my $major = $node->safe_psql('postgres',
	"SELECT current_setting('server_version_num')::int / 100");

my $stat = $node->data_dir . '/pg_stat/pg_guardrails.stat';
my $seq = $node->data_dir . '/pg_stat/pg_guardrails_ddl.seq';

sub next_seq
{
	return $node->safe_psql('postgres',
		"SELECT value FROM guardrails.status WHERE name = 'ddl_log_next_seq'");
}

sub write_file
{
	my ($path, $data) = @_;
	open(my $fh, '>', $path) or die "could not write $path: $!";
	binmode $fh;
	print $fh $data;
	close $fh;
}

sub read_file
{
	my ($path) = @_;
	open(my $fh, '<', $path) or die "could not read $path: $!";
	binmode $fh;
	local $/;
	my $data = <$fh>;
	close $fh;
	return $data;
}

# A well-formed sequence file holding the given number.
sub seq_file
{
	my ($reserved) = @_;
	my $body = pack('V V V V Q<', 0x47534551, 1, $major, 0, $reserved);
	return $body . pack('V', crc32c($body));
}

sub latency_calls
{
	return $node->safe_psql('postgres', q{
		SELECT coalesce(sum(calls), 0) FROM guardrails.latency
		WHERE rolname = 'latency_marker'});
}

# The sections of a state file: [tag, version, offset of the body, length].
sub sections
{
	my ($data) = @_;
	my ($magic, $version, $pg_major, $nsections) = unpack('V V V V', $data);
	my @sections;
	my $offset = 32;
	for (1 .. $nsections)
	{
		my ($tag, $sversion, $length) = unpack('a4 V Q<', substr($data, $offset, 16));
		push @sections, [ scalar reverse($tag), $sversion, $offset + 24, $length ];
		$offset += 24 + $length;
	}
	return @sections;
}

# A clean restart keeps the ring and the histograms: the file is good.
$node->safe_psql('postgres', 'CREATE TABLE marker_abc (a int)');
$node->safe_psql('postgres', 'CREATE ROLE latency_marker LOGIN');
$node->safe_psql('postgres', 'SELECT 1', extra_params => [ '-U', 'latency_marker' ])
  for 1 .. 3;
$node->restart;
is($node->safe_psql('postgres',
	"SELECT count(*) FROM guardrails.ddl_log WHERE query ~ 'marker_abc'"),
	'1', 'a good state file is loaded');
is(latency_calls(), '3', 'with the latency histograms');
my $before = next_seq();

$node->stop;
my $data = read_file($stat);
is(join(' ', map { $_->[0] } sections($data)), 'LATN DDLR',
	'the state file has a latency section and a DDL log section');

# Random bytes inside the DDL log's section: that section alone is skipped.
ok($data =~ s/marker_abc/marker_xyz/, 'the state file holds the statement');
write_file($stat, $data);
my $offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $offset),
	qr/ignoring section "DDL log" of pg_guardrails state file "[^"]*pg_guardrails\.stat".*\n.*DETAIL:  The checksum does not match its contents/,
	'a section with changed bytes is reported');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM guardrails.ddl_log WHERE query ~ 'marker_'"),
	'0', 'and none of its entries are used');
cmp_ok(next_seq(), '>=', $before, 'numbering goes on after the reserved numbers');
is(latency_calls(), '3', 'the latency section is still loaded');

# A section of another format, and one this version does not know (added
# at the end, with a header that counts it): each is skipped, the DDL log's
# section is loaded.
$node->safe_psql('postgres', 'CREATE TABLE marker_ghi (a int)');
$node->stop;
$data = read_file($stat);
my ($lat) = sections($data);
substr($data, $lat->[2] - 20, 4) = pack('V', $lat->[1] + 1);
my $body = 'a module of a later version';
$data .= pack('a4 V Q< V V', 'XXXX', 1, length($body), crc32c($body), 0) . $body;
my ($magic, $fversion, $pg_major, $nsections) = unpack('V V V V', $data);
my $header = pack('V V V V Q<', $magic, $fversion, $pg_major, $nsections + 1,
	length($data));
substr($data, 0, 32) = $header . pack('V V', crc32c($header), 0);
write_file($stat, $data);
$offset = -s $node->logfile;
$node->start;
my $log = slurp_file($node->logfile, $offset);
like($log,
	qr/ignoring section "latency" of pg_guardrails state file.*\n.*DETAIL:  It has format version \d+, this server reads version $lat->[1]\./,
	'a section of another format is reported');
like($log,
	qr/ignoring section "XXXX" of pg_guardrails state file.*\n.*DETAIL:  No module of this version of pg_guardrails reads it\./,
	'a section of an unknown module is reported');
is(latency_calls(), '0', 'the latency section of another format is not used');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM guardrails.ddl_log WHERE query ~ 'marker_ghi'"),
	'1', 'the DDL log section of the file is used');

# A header with changed bytes: the whole file is ignored.
$node->safe_psql('postgres', 'SELECT 1', extra_params => [ '-U', 'latency_marker' ]);
$node->stop;
$data = read_file($stat);
substr($data, 12, 1) = chr(ord(substr($data, 12, 1)) ^ 1);
write_file($stat, $data);
$offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $offset),
	qr/ignoring invalid pg_guardrails state file "[^"]*pg_guardrails\.stat".*\n.*DETAIL:  The checksum of its header does not match/,
	'a state file with a changed header is reported');
is(latency_calls(), '0', 'and none of its sections are used');

# A truncated state file.
$node->safe_psql('postgres', 'CREATE TABLE marker_def (a int)');
$node->stop;
$data = read_file($stat);
write_file($stat, substr($data, 0, int(length($data) / 2)));
$offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $offset),
	qr/ignoring invalid pg_guardrails state file.*\n.*DETAIL:  The file is truncated/,
	'a truncated state file is reported');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM guardrails.ddl_log WHERE query ~ 'marker_def'"),
	'0', 'and not used');

# A state file of another PostgreSQL major.
$node->stop;
$data = read_file($stat);
substr($data, 8, 4) = pack('V', 1100);
write_file($stat, $data);
$offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $offset),
	qr/ignoring invalid pg_guardrails state file.*\n.*DETAIL:  The file was written by PostgreSQL 11/,
	'a state file of another major is reported');

# A sequence file holding a number near 2^64, well-formed otherwise, after
# a crash (no state file: numbering starts from the sequence file).
$node->stop('immediate');
unlink $stat;
write_file($seq, seq_file(18446744073709551360));
$offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $offset),
	qr/ignoring invalid pg_guardrails file "[^"]*pg_guardrails_ddl\.seq".*\n.*DETAIL:  The sequence number 18446744073709551360 is out of range/,
	'a huge reserved number is reported');
ok(next_seq() > 0 && next_seq() < 2**40, 'and not used');

# The file of the old format (8 bytes) with the same number.
$node->stop('immediate');
unlink $stat;
write_file($seq, pack('Q<', 18446744073709551360));
$offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $offset),
	qr/ignoring invalid pg_guardrails file "[^"]*pg_guardrails_ddl\.seq".*\n.*DETAIL:  The file has 8 bytes, expected 28/,
	'a sequence file of the wrong size is reported');
ok(next_seq() > 0 && next_seq() < 2**40, 'and not used');

# Random bytes in the sequence file.
$node->stop('immediate');
unlink $stat;
$data = seq_file(5000);
substr($data, 17, 1) = 'x';
write_file($seq, $data);
$offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $offset),
	qr/ignoring invalid pg_guardrails file "[^"]*pg_guardrails_ddl\.seq".*\n.*DETAIL:  The checksum/,
	'a sequence file with changed bytes is reported');

# A good sequence file is used: numbering resumes above it.
$node->stop('immediate');
unlink $stat;
write_file($seq, seq_file(700000));
$node->start;
cmp_ok(next_seq(), '>', 700000, 'a good sequence file is used');
$node->safe_psql('postgres', 'CREATE TABLE after_all (a int)');
is($node->safe_psql('postgres',
	"SELECT seq > 700000 FROM guardrails.ddl_log WHERE query ~ 'after_all'"),
	't', 'and DDL is numbered after it');

unlike(slurp_file($node->logfile), qr/terminated by signal/,
	'no process was terminated by a signal');
$node->stop;
done_testing();
