/* schema/00_common.sql: the role, the schema's privileges, and what every
 * capability shares: whether the library is preloaded, the status view */

-- The schema: CREATE EXTENSION makes it, unless a schema "guardrails"
-- already exists, which it then uses as it is.  One that a role other than
-- a superuser owns, or may create objects in, or holds objects of, is
-- refused: its owner could drop the extension, every rule and the DDL
-- history with DROP SCHEMA ... CASCADE, and objects of others there could
-- shadow what the extension's SQL calls (a database owner can make the
-- schema before a superuser installs or restores the extension).
DO $$
DECLARE
	sch record;
	creator name;
	holder name;
BEGIN
	SELECT n.oid, r.rolname AS owner, r.rolsuper INTO sch
	FROM pg_catalog.pg_namespace n
		 JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	WHERE n.nspname OPERATOR(pg_catalog.=) 'guardrails';
	IF NOT sch.rolsuper THEN
		RAISE EXCEPTION 'schema "guardrails" is owned by role "%", which is not a superuser', sch.owner
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Its owner could drop the extension with the schema, and with it every rule.',
				  HINT = 'Drop the schema, or make a superuser its owner (ALTER SCHEMA guardrails OWNER TO ...), then try again.';
	END IF;
	SELECT coalesce(r.rolname, 'public') INTO creator
	FROM pg_catalog.pg_namespace n,
		 pg_catalog.aclexplode(n.nspacl) a
		 LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
	WHERE n.oid OPERATOR(pg_catalog.=) sch.oid
	  AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
	  AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
	  AND NOT coalesce(r.rolsuper, false)
	LIMIT 1;
	IF creator IS NOT NULL THEN
		RAISE EXCEPTION 'role "%" may create objects in schema "guardrails"', creator
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Objects of that role in the extension''s schema could shadow what pg_guardrails calls.',
				  HINT = 'Revoke the privilege (REVOKE CREATE ON SCHEMA guardrails FROM ...), then try again.';
	END IF;
	SELECT r.rolname INTO holder
	FROM (SELECT relowner AS owner FROM pg_catalog.pg_class
		  WHERE relnamespace OPERATOR(pg_catalog.=) sch.oid
		  UNION ALL
		  SELECT proowner FROM pg_catalog.pg_proc
		  WHERE pronamespace OPERATOR(pg_catalog.=) sch.oid
		  UNION ALL
		  SELECT typowner FROM pg_catalog.pg_type
		  WHERE typnamespace OPERATOR(pg_catalog.=) sch.oid
		  UNION ALL
		  SELECT oprowner FROM pg_catalog.pg_operator
		  WHERE oprnamespace OPERATOR(pg_catalog.=) sch.oid) o
		 JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) o.owner
	WHERE NOT r.rolsuper
	LIMIT 1;
	IF holder IS NOT NULL THEN
		RAISE EXCEPTION 'role "%" owns objects in schema "guardrails"', holder
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'They could shadow what pg_guardrails calls.',
				  HINT = 'Drop them or move them to another schema, then try again.';
	END IF;
END
$$;

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
