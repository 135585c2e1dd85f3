# The state files (pg_stat/pg_guardrails.stat, written at a clean shutdown,
# and pg_stat/pg_guardrails_ddl.seq, the DDL log's sequence reservation)
# carry a header and a CRC-32C: a damaged file is reported with what is
# wrong and ignored, the server starts, and none of its values are used.
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

# A clean restart keeps the ring: the file is good.
$node->safe_psql('postgres', 'CREATE TABLE marker_abc (a int)');
$node->restart;
is($node->safe_psql('postgres',
	"SELECT count(*) FROM guardrails.ddl_log WHERE query ~ 'marker_abc'"),
	'1', 'a good state file is loaded');
my $before = next_seq();

# Random bytes inside a file of the right length.
$node->stop;
my $data = read_file($stat);
ok($data =~ s/marker_abc/marker_xyz/, 'the state file holds the statement');
write_file($stat, $data);
$node->start;
like(slurp_file($node->logfile),
	qr/ignoring invalid pg_guardrails state file "[^"]*pg_guardrails\.stat".*\n.*DETAIL:  The checksum/,
	'a state file with changed bytes is reported');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM guardrails.ddl_log WHERE query ~ 'marker_'"),
	'0', 'and none of its entries are used');
cmp_ok(next_seq(), '>=', $before, 'numbering goes on after the reserved numbers');

# A truncated state file.
$node->safe_psql('postgres', 'CREATE TABLE marker_def (a int)');
$node->stop;
$data = read_file($stat);
write_file($stat, substr($data, 0, int(length($data) / 2)));
my $offset = -s $node->logfile;
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
