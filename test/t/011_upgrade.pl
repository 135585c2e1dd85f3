# Release 1.0 upgraded to the version under development has exactly the
# objects of a fresh install of that version: the same members, the same
# definitions, the same privileges, the same configuration-table marks.
#
# pg_dump does not dump an extension's members (only CREATE EXTENSION), so
# the comparison reads the catalogs: every object that pg_depend says
# belongs to the extension, described with PostgreSQL's own deparsers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_guardrails'
});
$node->start;

my $current = $node->safe_psql('postgres', q{
	SELECT default_version FROM pg_available_extensions
	WHERE name = 'pg_guardrails'});
isnt($current, '1.0', "the version under development is $current");

$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('upgraded', q{CREATE EXTENSION pg_guardrails VERSION '1.0'});
is($node->safe_psql('upgraded', q{
	SELECT extversion FROM pg_extension WHERE extname = 'pg_guardrails'}),
	'1.0', 'release 1.0 installs');
$node->safe_psql('upgraded', 'ALTER EXTENSION pg_guardrails UPDATE');
is($node->safe_psql('upgraded', q{
	SELECT extversion FROM pg_extension WHERE extname = 'pg_guardrails'}),
	$current, "1.0 updates to $current");
$node->safe_psql('fresh', 'CREATE EXTENSION pg_guardrails');

# One line per member object and per property worth comparing.  OIDs are
# never printed, only names and definitions.
my $describe = q{
WITH ext AS (
	SELECT oid FROM pg_extension WHERE extname = 'pg_guardrails'
), members AS (
	SELECT d.classid, d.objid
	FROM pg_depend d, ext
	WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
	  AND d.deptype = 'e'
)
SELECT line FROM (
	SELECT 'member ' || pg_describe_object(classid, objid, 0) AS line
	FROM members
  UNION ALL
	SELECT 'function ' || p.oid::regprocedure || ' acl=' ||
		   coalesce(p.proacl::text, '-') || E'\n' || pg_get_functiondef(p.oid)
	FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass
		 AND p.oid = m.objid
	WHERE p.prokind <> 'a'
  UNION ALL
	SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text ||
		   ' acl=' || coalesce(c.relacl::text, '-') ||
		   ' replident=' || c.relreplident::text ||
		   ' options=' || coalesce(c.reloptions::text, '-') ||
		   coalesce(E'\n' || pg_get_viewdef(c.oid), '')
	FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass
		 AND c.oid = m.objid
  UNION ALL
	SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' ||
		   format_type(a.atttypid, a.atttypmod) ||
		   CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
		   coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '') ||
		   ' acl=' || coalesce(a.attacl::text, '-')
	FROM members m JOIN pg_attribute a ON m.classid = 'pg_class'::regclass
		 AND a.attrelid = m.objid AND a.attnum > 0 AND NOT a.attisdropped
		 LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid
		 AND ad.adnum = a.attnum
  UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass
		 AND i.indrelid = m.objid
  UNION ALL
	SELECT 'constraint ' || co.conrelid::regclass || ' ' || co.conname ||
		   ' ' || pg_get_constraintdef(co.oid)
	FROM members m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass
		 AND co.conrelid = m.objid
  UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid)
	FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass
		 AND t.tgrelid = m.objid
	WHERE NOT t.tgisinternal
  UNION ALL
	SELECT 'event trigger ' || e.evtname || ' on ' || e.evtevent ||
		   ' executes ' || e.evtfoid::regproc ||
		   ' tags ' || coalesce(e.evttags::text, '-') ||
		   ' enabled ' || e.evtenabled::text
	FROM members m JOIN pg_event_trigger e
		 ON m.classid = 'pg_event_trigger'::regclass AND e.oid = m.objid
  UNION ALL
	SELECT 'config table ' || x.extconfig::regclass[]::text || ' ' ||
		   coalesce(x.extcondition::text, '-')
	FROM pg_extension x WHERE x.extname = 'pg_guardrails'
  UNION ALL
	SELECT 'schema ' || n.nspname || ' acl=' || coalesce(n.nspacl::text, '-')
	FROM pg_namespace n WHERE n.nspname = 'guardrails'
) s ORDER BY line};

my $upgraded = $node->safe_psql('upgraded', $describe);
my $fresh = $node->safe_psql('fresh', $describe);
cmp_ok(length($fresh), '>', 1000, 'the description of a fresh install is not empty');
my @fresh_members = $fresh =~ /^member /mg;
cmp_ok(scalar(@fresh_members), '>', 30, 'a fresh install has its members');

if ($upgraded eq $fresh)
{
	pass('1.0 upgraded is identical to a fresh install');
}
else
{
	# Show the lines that differ, not two pages of catalog.
	my %u = map { $_ => 1 } split /\n/, $upgraded;
	my %f = map { $_ => 1 } split /\n/, $fresh;
	diag("only after the upgrade: $_") for grep { !$f{$_} } sort keys %u;
	diag("only in a fresh install: $_") for grep { !$u{$_} } sort keys %f;
	fail('1.0 upgraded is identical to a fresh install');
}

$node->stop;
done_testing();
