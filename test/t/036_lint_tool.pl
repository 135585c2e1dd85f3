# bin/pg_guardrails_lint against a real server: the sample project's
# Rails-, Django- and Flyway-style migrations (test/migrations), its exit
# codes, its three output formats, the file and line of each verdict (one
# script of many files, or one script per file), a hostile file name, and
# file contents that try to break out of the quoting that carries them to
# the server.
use strict;
use warnings;
use FindBin;
use File::Path qw(make_path);
use File::Spec;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = File::Spec->rel2abs("$FindBin::RealBin/../..");
my $lint = "$root/bin/pg_guardrails_lint";
my $samples = "$root/test/migrations";

my $node = PostgreSQL::Test::Cluster->new('lint_tool');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
guardrails.ddl_policy = enforce
guardrails.ddl_policy_min_size = 0
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
	CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, total int,
						 created_at timestamp);
	INSERT INTO orders SELECT g, g % 100, g, now() FROM generate_series(1, 2000) g;
	CREATE TABLE shop_customer (id bigint PRIMARY KEY, name varchar(100));
	INSERT INTO shop_customer SELECT g, 'c' || g FROM generate_series(1, 2000) g;
	CREATE TABLE shop_order (id bigint PRIMARY KEY, total int NOT NULL);
	INSERT INTO shop_order SELECT g, g FROM generate_series(1, 2000) g;
	CREATE TABLE account (id bigint PRIMARY KEY, email text);
	INSERT INTO account SELECT g, 'a' || g FROM generate_series(1, 2000) g;
	CREATE DATABASE warnonly;
	ALTER DATABASE warnonly SET guardrails.ddl_policy = warn;
});
$node->safe_psql('warnonly', q{
	CREATE EXTENSION pg_guardrails;
	CREATE TABLE account (id bigint PRIMARY KEY, email text);
	INSERT INTO account SELECT g, 'a' || g FROM generate_series(1, 2000) g;
});

# Run the command with the PG* variables of the node (and no other), in
# directory $dir; return exit code, stdout, stderr.
sub lint
{
	my ($dir, @args) = @_;
	my %env = (PATH => $ENV{PATH}, PGHOST => $node->host,
			   PGPORT => $node->port, PGDATABASE => 'postgres',
			   PGUSER => $ENV{PGUSER} // scalar getpwuid($<));
	my ($out, $err) = ('', '');
	local %ENV = %env;
	IPC::Run::run([ $lint, @args ], '<', \undef, '>', \$out, '2>', \$err,
				  init => sub { chdir($dir) or die "chdir $dir: $!" });
	return ($? >> 8, $out, $err);
}

# The verdicts of text output, as "file:line rule".
sub text_verdicts
{
	my ($out) = @_;
	return join("\n", map { /^(.*?:\d+): \w+: .* \[(\w+)\]/ ? "$1 $2" : () }
		  split /\n/, $out);
}

# --- the sample project, one script per framework directory
my ($rc, $out, $err) = lint($samples, 'rails');
is($rc, 1, 'rails: exit 1, verdicts at enforce level') or diag($out, $err);
is(text_verdicts($out), join("\n",
	'rails/20261103091500_add_index_to_orders_customer_id.sql:5 index_concurrently',
	'rails/20261105111500_backfill_orders_region.sql:7 lock_held'),
	'rails: each verdict at its file and line');
like($out, qr/^2 verdicts \(2 enforce, 0 warn, 0 off\) in 4 files$/m, 'rails: summary');
like($out, qr/^  HINT: Build it with CREATE INDEX CONCURRENTLY\.$/m, 'text: the hint');

($rc, $out, $err) = lint($samples, 'django');
is($rc, 1, 'django: exit 1');
is(text_verdicts($out), join("\n",
	'django/0003_order_customer.sql:5 constraint_not_valid',
	'django/0003_order_customer.sql:6 index_concurrently',
	'django/0004_alter_order_total.sql:5 table_rewrite'),
	'django: each verdict at its file and line');
like($out, qr/^django\/0004\S+:5: enforce: .*\(uncertain\)$/m,
	'text: a verdict that is not certain says so');

($rc, $out, $err) = lint($samples, 'flyway');
is($rc, 1, 'flyway: exit 1');
is(text_verdicts($out), 'flyway/V2__account_tier.sql:5 set_not_null',
	'flyway: add, update, set not null is flagged; proven by a validated check it is not');

# as Flyway runs each file by default, in a transaction of its own: the
# ALTER's lock is held through the UPDATE, and the VALIDATE is in the
# ADD's transaction
($rc, $out, $err) = lint($samples, '--single-transaction', '--per-file', 'flyway');
is($rc, 1, 'flyway, each file one transaction: exit 1');
is(text_verdicts($out), join("\n",
	'flyway/V2__account_tier.sql:4 lock_held',
	'flyway/V2__account_tier.sql:5 set_not_null',
	'flyway/V3__account_tier_safe.sql:4 lock_held',
	'flyway/V3__account_tier_safe.sql:6 validate_separately'),
	'flyway, each file one transaction: the verdicts of the block, at the lines of the file');
($rc, $out, $err) = lint($samples, '-1', '--format=json', 'flyway');
is(join(',', map { "$_->{file}:$_->{line}:$_->{rule}" } @{ decode_json($out)->{verdicts} }),
	'flyway/V2__account_tier.sql:4:lock_held,flyway/V2__account_tier.sql:5:set_not_null,'
	. 'flyway/V3__account_tier_safe.sql:4:lock_held,flyway/V3__account_tier_safe.sql:6:validate_separately',
	'flyway, all files one transaction (-1): the same verdicts');

# the three together, as given: files of different directories, in order
($rc, $out, $err) = lint($samples, 'flyway/V3__account_tier_safe.sql',
	'flyway/V2__account_tier.sql', 'rails/20261102083000_add_status_to_orders.sql');
is($rc, 1, 'files named one by one: exit 1');
is(text_verdicts($out), 'flyway/V2__account_tier.sql:5 set_not_null',
	'files named one by one: the line in the second file');

# --- formats
($rc, $out, $err) = lint($samples, '--format=github', 'django');
is($rc, 1, 'github: exit 1');
my @ann = grep { /^::/ } split /\n/, $out;
is(scalar(@ann), 3, 'github: one annotation per verdict');
like($ann[0],
	qr/^::error file=django\/0003_order_customer\.sql,line=5,title=pg_guardrails%3A constraint_not_valid \(enforce\)::enforce: adding column "customer_id" .*%0ADETAIL: .*%0AHINT: /,
	'github: an error annotation with its file, line, title and text on one line');
like($ann[2], qr/^::error file=django\/0004_alter_order_total\.sql,line=5,/,
	'github: the last annotation');
is(scalar(grep { !/^::/ } split /\n/, $out), 0, 'github: nothing else on stdout');

($rc, $out, $err) = lint($samples, '--format=json', 'rails', 'django');
is($rc, 1, 'json: exit 1');
my $j = decode_json($out);
is($j->{mode}, 'one-script', 'json: the mode');
is(scalar(@{ $j->{files} }), 8, 'json: the files');
is($j->{files}[4], 'django/0001_initial.sql', 'json: files in the order given, each directory by name');
is_deeply($j->{counts}, { enforce => 5, warn => 0, off => 0 }, 'json: the counts');
is(join(',', map { "$_->{file}:$_->{line}:$_->{rule}:$_->{statement}" } @{ $j->{verdicts} }),
	join(',',
		'rails/20261103091500_add_index_to_orders_customer_id.sql:5:index_concurrently:6',
		'rails/20261105111500_backfill_orders_region.sql:7:lock_held:13',
		'django/0003_order_customer.sql:5:constraint_not_valid:26',
		'django/0003_order_customer.sql:6:index_concurrently:28',
		'django/0004_alter_order_total.sql:5:table_rewrite:31'),
	'json: file, line in the file, rule and statement of the script');
my ($v) = grep { $_->{rule} eq 'table_rewrite' } @{ $j->{verdicts} };
ok(!$v->{certain} && JSON::PP::is_bool($v->{certain}), 'json: certain is a boolean');
is($v->{table_name}, 'public.shop_order', 'json: the table');
ok($v->{table_size} > 0, 'json: its size');
is($v->{command}, 'ALTER TABLE', 'json: the command');

# --- one script, or one per file
my $tmp = PostgreSQL::Test::Utils::tempdir();
make_path("$tmp/split");
PostgreSQL::Test::Utils::append_to_file("$tmp/split/10_begin.sql",
	"-- opens a transaction\n\nBEGIN;\nALTER TABLE account ADD COLUMN x int;\n-- no newline at the end, no semicolon\nSELECT 1");
PostgreSQL::Test::Utils::append_to_file("$tmp/split/9_update.sql",
	"\n\nUPDATE account SET x = 1;\nCOMMIT;\n");
PostgreSQL::Test::Utils::append_to_file("$tmp/split/notes.txt", "CREATE INDEX ON account (email);\n");
($rc, $out, $err) = lint($tmp, 'split');
is($rc, 1, 'one script: the lock of a file is held in the next');
is(text_verdicts($out), 'split/9_update.sql:3 lock_held',
	'one script: in byte order of names, *.sql only, the line in its own file');
($rc, $out, $err) = lint($tmp, '--per-file', 'split');
is($rc, 0, 'per file: no verdict, exit 0') or diag($out);
like($out, qr/^0 verdicts \(0 enforce, 0 warn, 0 off\) in 2 files$/m, 'per file: summary');
($rc, $out, $err) = lint($tmp, '--per-file', '--format=json', 'split');
is(decode_json($out)->{mode}, 'per-file', 'json: the per-file mode');

# --- levels: under warn the verdicts are shown and the exit code is 0
($rc, $out, $err) = lint($samples, '-d', 'dbname=warnonly', '--format=github',
	'flyway/V2__account_tier.sql');
is($rc, 0, 'warn level: exit 0');
like($out, qr/^::warning file=flyway\/V2__account_tier\.sql,line=5,/m, 'warn level: a warning annotation');
($rc, $out, $err) = lint($samples, '-d', $node->connstr('warnonly'), 'flyway/V2__account_tier.sql');
is($rc, 0, 'a connection string: exit 0 there');
like($out, qr/^flyway\/V2__account_tier\.sql:5: warn: /m, 'a connection string is used');

# --- a hostile file name: the shell, the annotation format, a leading dash
my $evil = qq{-x,y:z%0A\$(touch PWNED_NAME)';"\n::error file=fake.sql,line=1::injected.sql};
PostgreSQL::Test::Utils::append_to_file("$tmp/$evil", "\nCREATE INDEX ON account (email);\n");
($rc, $out, $err) = lint($tmp, '--format=github', '--', $evil);
is($rc, 1, 'hostile name: checked, exit 1') or diag($err);
@ann = split /\n/, $out;
is(scalar(@ann), 1, 'hostile name: one line, no injected annotation');
like($ann[0],
	qr/^::error file=-x%2Cy%3Az%250A\$\(touch PWNED_NAME\)';"%0A%3A%3Aerror file=fake\.sql%2Cline=1%3A%3Ainjected\.sql,line=2,/,
	'hostile name: escaped as an annotation property, with the line');
ok(!-e "$tmp/PWNED_NAME", 'hostile name: no shell ran it');
($rc, $out, $err) = lint($tmp, '--format=json', '--', $evil);
is(decode_json($out)->{verdicts}[0]{file}, $evil, 'hostile name: exact in JSON');

# --- contents that try to break out of the quoting
my $table_count = q{SELECT count(*) FROM pg_class WHERE relname = 'account'};
my $cols = q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
	WHERE attrelid = 'account'::regclass AND attnum > 0 AND NOT attisdropped};
my $cols_before = $node->safe_psql('postgres', $cols);
# The tool's tag is $grd_ and 24 hex digits: one of each kind, and every
# other way out of a literal, inside literals, comments and identifiers.
my $breakout = <<'EOF';
-- ')); DROP TABLE account; --
/* $grd_000000000000000000000000$ ); DROP TABLE account; -- */
COMMENT ON TABLE account IS $grd_0123456789abcdef01234567$ $$ '); DROP TABLE account; -- $grd_0123456789abcdef01234567$;
COMMENT ON COLUMN account.email IS $$ $grd_ffffffffffffffffffffffff$ ) ; DROP TABLE account; \! touch PWNED_CONTENT
:'x' :x \gexec $$;
COMMENT ON TABLE account IS E'\' $grd_$ \\'' DROP TABLE account';
CREATE INDEX "$grd_$"")); DROP TABLE account; --" ON account (email);
EOF
PostgreSQL::Test::Utils::append_to_file("$tmp/breakout.sql", $breakout);
($rc, $out, $err) = lint($tmp, 'breakout.sql');
is($rc, 1, 'breakout: checked as it is, exit 1') or diag($out, $err);
is(text_verdicts($out), 'breakout.sql:7 index_concurrently',
	'breakout: the statement after the attempts, at its line');
is($node->safe_psql('postgres', $table_count), '1', 'breakout: nothing was dropped');
is($node->safe_psql('postgres', $cols), $cols_before, 'breakout: nothing was changed');
ok(!-e "$tmp/PWNED_CONTENT", 'breakout: no psql meta-command ran');

# psql's meta-commands outside any literal are no SQL: a syntax error
PostgreSQL::Test::Utils::append_to_file("$tmp/meta.sql",
	"CREATE INDEX ON account (email);\n\\! touch PWNED_META\n\\gexec\n");
($rc, $out, $err) = lint($tmp, '--format=github', 'meta.sql');
is($rc, 2, 'meta-commands: a syntax error, exit 2');
like($out, qr/^::error file=meta\.sql,line=2,title=pg_guardrails_lint%3A not checked::ERROR:  syntax error at or near "\\"/m,
	'meta-commands: reported as not checked, at the line of the first');
ok(!-e "$tmp/PWNED_META", 'meta-commands: none ran');

# a syntax error in the second file of one script, after multibyte
# characters: its file and line
PostgreSQL::Test::Utils::append_to_file("$tmp/mb.sql",
	"COMMENT ON TABLE account IS \$\$\x{c3}\x{a9}\n\x{e2}\x{82}\x{ac}\x{f0}\x{9f}\x{98}\x{80}\$\$;\n"
	  . "SELECT 1 AS \x{c3}\x{bc},\n  2 \x{c3}\x{bc} \x{c3}\x{bc};\nSELECT 2;\n");
($rc, $out, $err) = lint($tmp, 'breakout.sql', 'mb.sql');
is($rc, 2, 'a syntax error: exit 2');
like($out, qr/^mb\.sql:4: not checked: ERROR:  syntax error at or near "\x{c3}\x{bc}"$/m,
	'a syntax error: at its file and line, the message in UTF-8');
($rc, $out, $err) = lint($tmp, '--format=json', 'breakout.sql', 'mb.sql');
my $e = decode_json($out)->{errors}[0];
is("$e->{file}:$e->{line}", 'mb.sql:4', 'a syntax error in JSON: its file and line');
is(scalar(@{ $e->{files} }), 2, 'a syntax error in JSON: the files of the script');

# --- usage and connection errors
($rc, $out, $err) = lint($tmp);
is($rc, 2, 'no file: exit 2');
like($err, qr/no migration file given/, 'no file: the message');
($rc, $out, $err) = lint($tmp, '--format=xml', 'breakout.sql');
is($rc, 2, 'an unknown format: exit 2');
($rc, $out, $err) = lint($tmp, 'missing.sql');
is($rc, 2, 'a missing file: exit 2');
($rc, $out, $err) = lint($tmp, '--bogus', 'breakout.sql');
is($rc, 2, 'an unknown option: exit 2');
PostgreSQL::Test::Utils::append_to_file("$tmp/latin1.sql", "COMMENT ON TABLE account IS 'caf\xe9';\n");
($rc, $out, $err) = lint($tmp, 'latin1.sql');
is($rc, 2, 'a file that is not UTF-8: exit 2');
like($err, qr/not valid UTF-8/, 'a file that is not UTF-8: the message');
($rc, $out, $err) = lint($tmp, '-d', 'host=' . $tmp . '/nowhere port=1', 'breakout.sql');
is($rc, 2, 'no server: exit 2');
like($out, qr/not checked: .*connection/s, 'no server: the error is shown');
($rc, $out, $err) = lint($tmp, '-d', 'dbname=template1', 'breakout.sql');
is($rc, 2, 'no extension in that database: exit 2');
like($out, qr/guardrails.*does not exist/, 'no extension: the error is shown');
($rc, $out, $err) = lint($tmp, '--help');
is($rc, 0, '--help: exit 0');
like($out, qr/By default all files.*one script/s, '--help says the default mode');

$node->stop;
done_testing();
