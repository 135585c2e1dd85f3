# Release 1.0 upgraded to the version under development has exactly the
# objects of a fresh install of that version: the same members, the same
# definitions, the same privileges, the same configuration-table marks.
#
# pg_dump does not dump an extension's members (only CREATE EXTENSION), so
# the comparison reads the catalogs: every object that pg_depend says
# belongs to the extension, described with PostgreSQL's own deparsers, with
# its owner, privileges (of columns too), initial privileges (pg_init_privs,
# what pg_dump leaves out) and comment, and the extension's configuration
# tables (pg_extension_config_dump).
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
), objects AS (
	-- the members, and what belongs to a member table without being a
	-- member itself: its indexes, constraints, triggers and policies
	SELECT classid, objid FROM members
  UNION
	SELECT 'pg_class'::regclass, i.indexrelid
	FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass
		 AND i.indrelid = m.objid
  UNION
	SELECT 'pg_constraint'::regclass, co.oid
	FROM members m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass
		 AND co.conrelid = m.objid
  UNION
	SELECT 'pg_trigger'::regclass, t.oid
	FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass
		 AND t.tgrelid = m.objid
  UNION
	SELECT 'pg_policy'::regclass, po.oid
	FROM members m JOIN pg_policy po ON m.classid = 'pg_class'::regclass
		 AND po.polrelid = m.objid
)
SELECT line FROM (
	SELECT 'member ' || pg_describe_object(classid, objid, 0) AS line
	FROM members
  UNION ALL
	SELECT 'function ' || p.oid::regprocedure ||
		   ' owner=' || pg_get_userbyid(p.proowner) ||
		   ' acl=' || coalesce(p.proacl::text, '-') || E'\n' ||
		   pg_get_functiondef(p.oid)
	FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass
		 AND p.oid = m.objid
	WHERE p.prokind <> 'a'
  UNION ALL
	SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text ||
		   ' owner=' || pg_get_userbyid(c.relowner) ||
		   ' persistence=' || c.relpersistence::text ||
		   ' acl=' || coalesce(c.relacl::text, '-') ||
		   ' replident=' || c.relreplident::text ||
		   ' rowsecurity=' || c.relrowsecurity::text || '/' ||
		   c.relforcerowsecurity::text ||
		   ' options=' || coalesce(c.reloptions::text, '-') ||
		   coalesce(E'\n' || pg_get_viewdef(c.oid), '')
	FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass
		 AND c.oid = m.objid
  UNION ALL
	-- with its position: SELECT * and INSERT without a column list see it
	SELECT 'column ' || a.attrelid::regclass || '.' || a.attname ||
		   ' #' || a.attnum || ' ' ||
		   format_type(a.atttypid, a.atttypmod) ||
		   CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
		   coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '') ||
		   coalesce(' collate ' || nullif(a.attcollation, 0)::regcollation::text, '') ||
		   ' identity=' || a.attidentity::text ||
		   ' generated=' || a.attgenerated::text ||
		   ' acl=' || coalesce(a.attacl::text, '-')
	FROM members m JOIN pg_attribute a ON m.classid = 'pg_class'::regclass
		 AND a.attrelid = m.objid AND a.attnum > 0 AND NOT a.attisdropped
		 LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid
		 AND ad.adnum = a.attnum
  UNION ALL
	SELECT 'sequence ' || s.seqrelid::regclass || ' ' ||
		   format_type(s.seqtypid, NULL) || ' start ' || s.seqstart ||
		   ' increment ' || s.seqincrement || ' min ' || s.seqmin ||
		   ' max ' || s.seqmax || ' cache ' || s.seqcache ||
		   ' cycle ' || s.seqcycle::text
	FROM members m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass
		 AND s.seqrelid = m.objid
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
	SELECT 'trigger ' || pg_get_triggerdef(t.oid) ||
		   ' enabled ' || t.tgenabled::text
	FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass
		 AND t.tgrelid = m.objid
	WHERE NOT t.tgisinternal
  UNION ALL
	SELECT 'policy ' || po.polname || ' on ' || po.polrelid::regclass ||
		   ' cmd ' || po.polcmd::text ||
		   ' permissive ' || po.polpermissive::text ||
		   ' roles ' || po.polroles::regrole[]::text ||
		   ' using ' || coalesce(pg_get_expr(po.polqual, po.polrelid), '-') ||
		   ' check ' || coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '-')
	FROM members m JOIN pg_policy po ON m.classid = 'pg_class'::regclass
		 AND po.polrelid = m.objid
  UNION ALL
	SELECT 'event trigger ' || e.evtname || ' on ' || e.evtevent ||
		   ' executes ' || e.evtfoid::regproc ||
		   ' owner=' || pg_get_userbyid(e.evtowner) ||
		   ' tags ' || coalesce(e.evttags::text, '-') ||
		   ' enabled ' || e.evtenabled::text
	FROM members m JOIN pg_event_trigger e
		 ON m.classid = 'pg_event_trigger'::regclass AND e.oid = m.objid
  UNION ALL
	-- one line per table: which of them pg_dump dumps, and which rows;
	-- the order of the array means nothing
	SELECT 'config table ' || c.t::regclass || ' ' || coalesce(c.cond, '-')
	FROM pg_extension x,
		 unnest(x.extconfig, x.extcondition) AS c(t, cond)
	WHERE x.extname = 'pg_guardrails'
  UNION ALL
	SELECT 'comment on ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) ||
		   ': ' || d.description
	FROM objects o JOIN pg_description d ON d.classoid = o.classid
		 AND d.objoid = o.objid
  UNION ALL
	-- the privileges pg_dump takes as the extension's own, and leaves out
	SELECT 'initial privileges of ' ||
		   pg_describe_object(ip.classoid, ip.objoid, ip.objsubid) ||
		   ' ' || ip.privtype::text || ' ' || ip.initprivs::text
	FROM objects o JOIN pg_init_privs ip ON ip.classoid = o.classid
		 AND ip.objoid = o.objid
  UNION ALL
	SELECT 'schema ' || n.nspname || ' owner=' || pg_get_userbyid(n.nspowner) ||
		   ' acl=' || coalesce(n.nspacl::text, '-') ||
		   coalesce(' comment ' || obj_description(n.oid, 'pg_namespace'), '')
	FROM pg_namespace n WHERE n.nspname = 'guardrails'
  UNION ALL
	SELECT 'initial privileges of schema ' || n.nspname || ' ' ||
		   ip.privtype::text || ' ' || ip.initprivs::text
	FROM pg_namespace n JOIN pg_init_privs ip
		 ON ip.classoid = 'pg_namespace'::regclass AND ip.objoid = n.oid
	WHERE n.nspname = 'guardrails'
  UNION ALL
	SELECT 'extension owner=' || pg_get_userbyid(x.extowner) ||
		   ' relocatable=' || x.extrelocatable::text ||
		   ' schema=' || x.extnamespace::regnamespace::text
	FROM pg_extension x WHERE x.extname = 'pg_guardrails'
) s ORDER BY line};

my $upgraded = $node->safe_psql('upgraded', $describe);
my $fresh = $node->safe_psql('fresh', $describe);
cmp_ok(length($fresh), '>', 1000, 'the description of a fresh install is not empty');
my @fresh_members = $fresh =~ /^member /mg;
cmp_ok(scalar(@fresh_members), '>', 30, 'a fresh install has its members');
# the parts of the description that a mistake would leave empty
like($fresh, qr/^comment on table guardrails\.ddl_history: /m,
	'the description has comments');
like($fresh, qr/^initial privileges of function guardrails\.latency_reset\(\) /m,
	'the description has initial privileges');
like($fresh, qr/^config table guardrails\.digest_limits WHERE /m,
	'the description has the configuration tables');
like($fresh, qr/^column guardrails\.ddl_history\.timeline #25 integer not null /m,
	'the description has column positions');

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
