/* schema/00_common.sql: the role, the schema's privileges, and what every
 * capability shares: whether the library is preloaded, the status view */

-- The role that may change behaviour: limits, blocks, index visibility and
-- resets.  Roles are shared by every database of the server, so it already
-- exists whenever the extension is in another database, and its members
-- then hold the same rights here.  But anyone with CREATEROLE can also
-- create it beforehand, with members of their choosing, and PostgreSQL 15
-- does not record who created a role, so the two cannot be told apart: say
-- who its members are (and what it can do beyond NOLOGIN), once, at CREATE
-- EXTENSION.  A role created earlier in this transaction is taken as made
-- for this install.
DO $$
DECLARE
	admin record;
	members text;
	powers text;
BEGIN
	SELECT a.oid, a.xmin OPERATOR(pg_catalog.=)
				  pg_catalog.xid(pg_catalog.pg_current_xact_id()) AS created_now,
		   a.rolsuper, a.rolcanlogin, a.rolcreaterole, a.rolcreatedb,
		   a.rolreplication, a.rolbypassrls
	  INTO admin
	FROM pg_catalog.pg_authid a WHERE a.rolname = 'guardrails_admin';
	IF NOT FOUND THEN
		CREATE ROLE guardrails_admin NOLOGIN;
		RETURN;
	END IF;
	IF admin.created_now THEN
		RETURN;
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.format('%I (granted by %s%s)',
				m.rolname, coalesce(pg_catalog.quote_ident(g.rolname), '?'),
				CASE WHEN am.admin_option THEN ', with admin option' ELSE '' END),
				', ' ORDER BY m.rolname)
	  INTO members
	FROM pg_catalog.pg_auth_members am
		 JOIN pg_catalog.pg_roles m ON m.oid OPERATOR(pg_catalog.=) am.member
		 LEFT JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) am.grantor
	WHERE am.roleid OPERATOR(pg_catalog.=) admin.oid;
	SELECT pg_catalog.string_agg(p, ', ')
	  INTO powers
	FROM (VALUES (admin.rolsuper, 'SUPERUSER'), (admin.rolcanlogin, 'LOGIN'),
				 (admin.rolcreaterole, 'CREATEROLE'), (admin.rolcreatedb, 'CREATEDB'),
				 (admin.rolreplication, 'REPLICATION'),
				 (admin.rolbypassrls, 'BYPASSRLS')) v(b, p)
	WHERE b;
	IF members IS NULL AND powers IS NULL THEN
		RETURN;
	END IF;
	RAISE WARNING 'role "guardrails_admin" already exists, and whoever holds it can change pg_guardrails'' rules in this database'
		USING DETAIL = pg_catalog.concat_ws(' ',
				'Members: ' || members || '.',
				'The role itself has ' || powers || '.'),
			  HINT = 'Roles are shared by every database of the server, so this is expected when pg_guardrails is created in another database. Otherwise, revoke the memberships that you did not grant (REVOKE guardrails_admin FROM member GRANTED BY grantor).';
END
$$;

-- Privileges: statistics are for everyone, changes for guardrails_admin.
-- Each object's GRANT and REVOKE follow it.
GRANT USAGE ON SCHEMA guardrails TO PUBLIC;

-- Whether this server loaded the library via shared_preload_libraries:
-- without it, rules are stored (the triggers of the rules tables say so
-- with a WARNING) but nothing enforces them, and the views fail.
CREATE FUNCTION guardrails.preloaded()
RETURNS boolean
AS 'MODULE_PATHNAME', 'grd_preloaded_sql'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- Status of every module, as (name, value) rows
CREATE FUNCTION guardrails.status_report(OUT name text, OUT value bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_status_report'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.status AS
	SELECT name, value FROM guardrails.status_report();
GRANT SELECT ON guardrails.status TO PUBLIC;
