/* pg_guardrails--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_guardrails UPDATE TO '1.1'" to load this file. \quit


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


-- DDL audit log, privacy: ddl_log_entries() shows another role's entry
-- with its outcome NULL (as pg_stat_activity shows another role's
-- session); rolled_back is then unknown, not false.
CREATE OR REPLACE VIEW guardrails.ddl_log AS
	SELECT seq, start_time, duration_ms, database, role, session_role,
		   client_addr, application_name, pid, xid, toplevel, command_tag,
		   object_type, object_identity, query, query_truncated, outcome,
		   sqlstate, message,
		   pg_catalog.string_to_array(policy_warnings, ',') AS policy_warnings,
		   lock_wait_ms,
		   CASE WHEN outcome IS NULL THEN NULL
				WHEN outcome <> 'ok' THEN true
				WHEN statement_xid IS NULL THEN false
				ELSE CASE pg_catalog.pg_xact_status(statement_xid)
						 WHEN 'aborted' THEN true
						 WHEN 'committed' THEN false
					 END
		   END AS rolled_back,
		   stored
	FROM guardrails.ddl_log_entries();

-- Hardening (issue items 8 to 12): what guardrails_admin may disable, the
-- role guardrails_admin when it already exists, replica identity of the
-- rules tables, and bad rule input.

-- Which indexes may be disabled, checked by disable_index() and by the
-- trigger that resolves the rows of guardrails.disabled_indexes, so that a
-- plain INSERT is held to the same rules.  Refused to everyone, superusers
-- included: indexes of system catalogs and TOAST tables (PostgreSQL's own
-- lookups and pg_dump's queries depend on them), temporary indexes (their
-- row would outlive the session and name another session's index later),
-- and relations that are not indexes.  A name that resolves to nothing
-- (a restore, before the index exists) is checked by its schema only.
CREATE FUNCTION guardrails.disabled_indexes_check(
	index_schema name,
	index_name name,
	indexrelid oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kind "char";
	persistence "char";
	builtin boolean;
	table_kind "char";
	table_schema name;
BEGIN
	IF indexrelid IS NOT NULL THEN
		SELECT c.relkind, c.relpersistence, c.oid < 16384, t.relkind,
			   tn.nspname
		  INTO kind, persistence, builtin, table_kind, table_schema
		FROM pg_class c
			 LEFT JOIN pg_index i ON i.indexrelid = c.oid
			 LEFT JOIN pg_class t ON t.oid = i.indrelid
			 LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
		WHERE c.oid = disabled_indexes_check.indexrelid;
	END IF;
	IF kind NOT IN ('i', 'I') THEN
		RAISE EXCEPTION '"%.%" is not an index', index_schema, index_name
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'Only indexes can be disabled.';
	END IF;
	IF index_schema = 'pg_catalog' OR table_schema = 'pg_catalog' OR builtin THEN
		RAISE EXCEPTION 'cannot disable index "%.%" of a system catalog',
			index_schema, index_name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Only indexes of ordinary tables, partitioned tables and materialized views can be disabled.';
	END IF;
	IF index_schema = 'pg_toast' OR index_schema ~ '^pg_toast_temp_[0-9]+$' OR
	   table_kind = 't' THEN
		RAISE EXCEPTION 'cannot disable index "%.%" of a TOAST table',
			index_schema, index_name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Only indexes of ordinary tables, partitioned tables and materialized views can be disabled.';
	END IF;
	IF index_schema ~ '^pg_temp_[0-9]+$' OR persistence = 't' THEN
		RAISE EXCEPTION 'cannot disable temporary index "%"', index_name
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'A temporary index belongs to one session; its row would outlive it, and disable another session''s index of the same name.',
				  HINT = 'In this session, hide it with SET guardrails.hidden_indexes instead.';
	END IF;
END
$$;

-- Called as the caller of disable_index() and the writer of the table.
REVOKE ALL ON FUNCTION guardrails.disabled_indexes_check(name, name, oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.disabled_indexes_check(name, name, oid) TO guardrails_admin;

CREATE OR REPLACE FUNCTION guardrails.disabled_indexes_resolve()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	SELECT c.oid INTO NEW.indexrelid
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = NEW.index_schema AND c.relname = NEW.index_name;
	PERFORM guardrails.disabled_indexes_check(NEW.index_schema, NEW.index_name,
											  NEW.indexrelid);
	-- Who disabled an index, and when, is what disable_index() says: the
	-- writer and now, kept by an update.  Only a superuser (a restore, the
	-- event triggers that follow a rename) writes other values.
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER) THEN
		IF TG_OP = 'INSERT' THEN
			NEW.disabled_by := CURRENT_USER;
			NEW.disabled_at := now();
		ELSE
			NEW.disabled_by := OLD.disabled_by;
			NEW.disabled_at := OLD.disabled_at;
		END IF;
	END IF;
	RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION guardrails.disable_index(
	index regclass,
	reason text DEFAULT NULL,
	force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	idx record;
	fks text;
BEGIN
	IF index IS NULL THEN
		RAISE EXCEPTION 'index must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT c.oid, c.relkind, c.relname, n.nspname, t.relname AS tablename
	  INTO idx
	FROM pg_class c
		 JOIN pg_namespace n ON n.oid = c.relnamespace
		 LEFT JOIN pg_index i ON i.indexrelid = c.oid
		 LEFT JOIN pg_class t ON t.oid = i.indrelid
	WHERE c.oid = index;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', index::oid
			USING ERRCODE = 'undefined_table';
	END IF;
	IF idx.relkind NOT IN ('i', 'I') THEN
		RAISE EXCEPTION '"%" is not an index', index
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'Only indexes can be disabled.';
	END IF;
	-- catalog, TOAST and temporary indexes: never, not even forced
	PERFORM guardrails.disabled_indexes_check(idx.nspname, idx.relname, idx.oid);

	-- Foreign-key checks are planned queries: hiding the index that a
	-- primary key or a referenced unique key uses makes them scan.
	IF EXISTS (SELECT 1 FROM pg_constraint
			   WHERE conindid = index AND contype = 'p') THEN
		IF NOT force THEN
			RAISE EXCEPTION 'cannot disable index "%" because it is the primary key of table "%"',
				idx.relname, idx.tablename
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Lookups by primary key, foreign-key checks among them, would scan the table. Pass force => true to disable it anyway.';
		END IF;
		RAISE WARNING 'disabling index "%", the primary key of table "%"',
			idx.relname, idx.tablename
			USING DETAIL = 'Queries that look rows up by primary key will scan the table.';
	END IF;
	SELECT string_agg(format('%I on %s', conname, conrelid::regclass), ', ' ORDER BY conname)
	  INTO fks
	FROM pg_constraint WHERE conindid = index AND contype = 'f';
	IF fks IS NOT NULL THEN
		IF NOT force THEN
			RAISE EXCEPTION 'cannot disable index "%" because foreign keys reference it', idx.relname
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('Foreign-key checks of %s use it.', fks),
					  HINT = 'Every insert or update checked against it would scan the table. Pass force => true to disable it anyway.';
		END IF;
		RAISE WARNING 'foreign-key checks of % will scan table "%"', fks, idx.tablename
			USING DETAIL = format('Index "%s" is disabled.', idx.relname);
	END IF;

	INSERT INTO guardrails.disabled_indexes
		(index_schema, index_name, reason, scans_at_disable)
	VALUES (idx.nspname, idx.relname, reason, pg_stat_get_numscans(index))
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		RAISE NOTICE 'index "%" is already disabled', index;
	END IF;
END
$$;

-- Rows that 1.0 accepted and the check refuses (a catalog, TOAST or
-- temporary index) are removed on update, each with a WARNING: such an
-- index is used by the planner again.  (A fresh install has no rows.)
DO $$
DECLARE
	d record;
BEGIN
	FOR d IN SELECT index_schema, index_name, indexrelid
			 FROM guardrails.disabled_indexes
	LOOP
		BEGIN
			PERFORM guardrails.disabled_indexes_check(d.index_schema,
													  d.index_name,
													  d.indexrelid);
		EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR
					   wrong_object_type THEN
			DELETE FROM guardrails.disabled_indexes
			WHERE index_schema = d.index_schema AND index_name = d.index_name;
			RAISE WARNING 'index "%.%" is enabled again', d.index_schema, d.index_name
				USING DETAIL = format('%s.', SQLERRM),
					  HINT = 'pg_guardrails no longer disables indexes of system catalogs or TOAST tables, nor temporary indexes.';
		END;
	END LOOP;
END
$$;

-- A disabled index renamed (or moved) onto a name that another row holds:
-- that row names no index (names are unique), typically one inserted by
-- hand ahead of the index.  The renamed index's own row wins, with a
-- NOTICE, instead of a unique violation that would fail the rename.
CREATE OR REPLACE FUNCTION guardrails.disabled_indexes_follow_ddl()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone record;
BEGIN
	-- the common case, and nothing can be renamed in a read-only transaction
	IF NOT EXISTS (SELECT 1 FROM guardrails.disabled_indexes) OR
	   current_setting('transaction_read_only')::boolean THEN
		RETURN;
	END IF;
	FOR gone IN
		DELETE FROM guardrails.disabled_indexes o
		USING guardrails.disabled_indexes d,
			  pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = d.indexrelid
		  AND (d.index_schema, d.index_name) IS DISTINCT FROM (n.nspname, c.relname)
		  AND (o.index_schema, o.index_name) = (n.nspname, c.relname)
		  AND o.indexrelid IS DISTINCT FROM c.oid
		RETURNING o.index_schema, o.index_name, d.index_name AS old_name
	LOOP
		RAISE NOTICE 'the row of guardrails.disabled_indexes for "%.%" is replaced by that of index "%", renamed to it',
			gone.index_schema, gone.index_name, gone.old_name;
	END LOOP;
	UPDATE guardrails.disabled_indexes d
	SET index_schema = n.nspname, index_name = c.relname
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = d.indexrelid
	  AND (d.index_schema, d.index_name) IS DISTINCT FROM (n.nspname, c.relname);
	UPDATE guardrails.disabled_indexes d
	SET indexrelid = c.oid
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE d.indexrelid IS NULL
	  AND n.nspname = d.index_schema AND c.relname = d.index_name;
END
$$;

-- Replica identity: in a database with a publication FOR ALL TABLES (every
-- CDC setup) a table without one refuses UPDATE and DELETE.
-- disabled_indexes and ddl_history have primary keys.  digest_limits'
-- rule key includes role, NULL for "every role", which no key index may
-- hold; its whole row is its identity.  (A key column generated from role
-- would not do: from PostgreSQL 18 a replica identity may not include a
-- generated column that the publication does not publish.)
ALTER TABLE guardrails.digest_limits REPLICA IDENTITY FULL;

-- A rule whose role is dropped keeps the role's number.  It applies to
-- nobody, and is not dumped: restoring it would name a role that the
-- target cluster may give to someone else.  Rows naming no role are not
-- stored either (a dump of 1.0 may hold them), with a WARNING, so that a
-- restore never fails on one row and loses every rule.
SELECT pg_catalog.pg_extension_config_dump('guardrails.digest_limits',
	'WHERE role IS NULL OR role::pg_catalog.oid IN (SELECT oid FROM pg_catalog.pg_roles)');

CREATE FUNCTION guardrails.digest_limits_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.role IS NOT NULL AND
	   NOT EXISTS (SELECT 1 FROM pg_roles WHERE oid = NEW.role) THEN
		RAISE WARNING 'rule for query digest % not stored: role with OID % does not exist',
			NEW.queryid, NEW.role::oid
			USING HINT = 'Leave role NULL for a rule that applies to every role.';
		RETURN NULL;
	END IF;
	-- Who made a rule, and when, is what the functions say: the writer
	-- and now.  Only a superuser (a restore) writes other values.
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER) THEN
		NEW.created_by := CURRENT_USER;
		NEW.created_at := now();
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER check_role BEFORE INSERT OR UPDATE ON guardrails.digest_limits
	FOR EACH ROW EXECUTE FUNCTION guardrails.digest_limits_check();

REVOKE ALL ON FUNCTION guardrails.digest_limits_check() FROM PUBLIC;

-- The role argument of limit_digest() and block_digest(): NULL (every
-- role) or an existing role.  regrole accepts any number.
CREATE FUNCTION guardrails.digest_limits_check_args(
	role regrole,
	expires_at timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF role IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE oid = role) THEN
		RAISE EXCEPTION 'role with OID % does not exist', role::oid
			USING ERRCODE = 'undefined_object',
				  HINT = 'Leave role NULL for a rule that applies to every role.';
	END IF;
	IF expires_at <= now() THEN
		RAISE EXCEPTION 'expires_at must be in the future'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('It is %s, and the time is %s.', expires_at, now()),
				  HINT = 'A rule that has expired never applies.';
	END IF;
END
$$;

REVOKE ALL ON FUNCTION guardrails.digest_limits_check_args(regrole, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.digest_limits_check_args(regrole, timestamptz) TO guardrails_admin;

CREATE OR REPLACE FUNCTION guardrails.limit_digest(
	queryid bigint,
	per_second double precision,
	burst integer DEFAULT NULL,
	max_concurrent integer DEFAULT NULL,
	role regrole DEFAULT NULL,
	action text DEFAULT 'limit',
	expires_at timestamptz DEFAULT NULL,
	note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF queryid IS NULL THEN
		RAISE EXCEPTION 'queryid must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF per_second IS NULL AND max_concurrent IS NULL THEN
		RAISE EXCEPTION 'a limit needs per_second, max_concurrent or both'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'To refuse every execution, use guardrails.block_digest().';
	END IF;
	IF per_second IS NOT NULL AND
	   (per_second <= 0 OR per_second = 'NaN' OR per_second = 'Infinity') THEN
		RAISE EXCEPTION 'per_second must be a positive number, not %', per_second
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF burst IS NOT NULL AND burst < 1 THEN
		RAISE EXCEPTION 'burst must be at least 1, not %', burst
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF max_concurrent IS NOT NULL AND max_concurrent < 1 THEN
		RAISE EXCEPTION 'max_concurrent must be at least 1, not %', max_concurrent
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF action IS NULL OR action NOT IN ('limit', 'dry_run') THEN
		RAISE EXCEPTION 'action must be ''limit'' or ''dry_run'', not %', coalesce(quote_literal(action), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'To refuse every execution, use guardrails.block_digest().';
	END IF;
	PERFORM guardrails.digest_limits_check_args(role, expires_at);
	-- one second's worth, as far as an integer goes
	IF per_second IS NOT NULL AND burst IS NULL THEN
		burst := least(greatest(1, ceil(per_second)), 2147483647);
	END IF;
	INSERT INTO guardrails.digest_limits AS l
		(queryid, role, per_second, burst, max_concurrent, action, note, expires_at)
	VALUES (limit_digest.queryid, limit_digest.role, limit_digest.per_second,
			limit_digest.burst, limit_digest.max_concurrent, limit_digest.action,
			limit_digest.note, limit_digest.expires_at)
	ON CONFLICT ON CONSTRAINT digest_limits_rule DO UPDATE
	SET per_second = EXCLUDED.per_second, burst = EXCLUDED.burst,
		max_concurrent = EXCLUDED.max_concurrent, action = EXCLUDED.action,
		note = EXCLUDED.note, expires_at = EXCLUDED.expires_at,
		created_by = CURRENT_USER, created_at = now();
END
$$;

CREATE OR REPLACE FUNCTION guardrails.block_digest(
	queryid bigint,
	role regrole DEFAULT NULL,
	expires_at timestamptz DEFAULT NULL,
	note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF queryid IS NULL THEN
		RAISE EXCEPTION 'queryid must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM guardrails.digest_limits_check_args(role, expires_at);
	INSERT INTO guardrails.digest_limits AS l
		(queryid, role, action, note, expires_at)
	VALUES (block_digest.queryid, block_digest.role, 'block',
			block_digest.note, block_digest.expires_at)
	ON CONFLICT ON CONSTRAINT digest_limits_rule DO UPDATE
	SET per_second = NULL, burst = NULL, max_concurrent = NULL,
		action = 'block', note = EXCLUDED.note, expires_at = EXCLUDED.expires_at,
		created_by = CURRENT_USER, created_at = now();
END
$$;

-- guardrails_admin already existing when the extension is created: roles
-- are shared by every database of the server, so it does whenever the
-- extension is in another database, and its members then hold the same
-- rights here.  But anyone with CREATEROLE can also create it beforehand,
-- with members of their choosing, and PostgreSQL 15 does not record who
-- created a role, so the two cannot be told apart: say who its members are
-- (and what it can do beyond NOLOGIN), once, at CREATE EXTENSION.
DO $$
DECLARE
	admin record;
	members text;
	powers text;
BEGIN
	-- A new install: the extension's dependency on its schema was made in
	-- this transaction (ALTER EXTENSION UPDATE rewrites the pg_extension
	-- row, but leaves that one alone).
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
						 JOIN pg_catalog.pg_extension e
						   ON d.objid OPERATOR(pg_catalog.=) e.oid
				   WHERE e.extname OPERATOR(pg_catalog.=) 'pg_guardrails'
					 AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
					 AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
					 AND d.xmin OPERATOR(pg_catalog.=)
						 pg_catalog.xid(pg_catalog.pg_current_xact_id())) THEN
		RETURN;
	END IF;
	SELECT a.oid, a.xmin OPERATOR(pg_catalog.=)
				  pg_catalog.xid(pg_catalog.pg_current_xact_id()) AS created_now,
		   a.rolsuper, a.rolcanlogin, a.rolcreaterole, a.rolcreatedb,
		   a.rolreplication, a.rolbypassrls
	  INTO admin
	FROM pg_catalog.pg_authid a WHERE a.rolname = 'guardrails_admin';
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

-- Operator experience: whether the library is preloaded, and when each
-- digest rule last matched.

-- Whether this server loaded the library via shared_preload_libraries:
-- without it, rules are stored (the triggers of the rules tables say so
-- with a WARNING) but nothing enforces them, and the views fail.
CREATE FUNCTION guardrails.preloaded()
RETURNS boolean
AS 'MODULE_PATHNAME', 'grd_preloaded_sql'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- digest_limit_stats() gains the creation time of the rule its counters
-- are for (a replaced rule's counters are not shown as the new rule's) and
-- when the rule last matched an execution.  The view warns about a rule
-- that has not matched since a schema change ran in this database: adding
-- a column to a table changes the digest of a statement that reads it with
-- SELECT *, and dropping and creating a table changes every digest that
-- names it, so the rule may no longer match the statement it was made for.
-- (A rule of an absurdly small rate, the smallest double being a valid
-- per_second, refills by an amount that rounds to zero, which float8
-- multiplication reports as an underflow error, failing the view for every
-- reader: the refill is computed with at least 1e-300 per second, which
-- changes nothing that could be seen.)
DROP VIEW guardrails.digest_limit_status;
DROP FUNCTION guardrails.digest_limit_stats();

CREATE FUNCTION guardrails.digest_limit_stats(
	OUT queryid bigint,
	OUT roleid oid,
	OUT tokens double precision,
	OUT refilled_at timestamptz,
	OUT running integer,
	OUT admitted bigint,
	OUT rejected bigint,
	OUT last_rejection timestamptz,
	OUT rule_created_at timestamptz,
	OUT last_matched_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_digest_limit_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.digest_limit_status AS
	WITH schema_changes AS MATERIALIZED (
		-- (names in a view are bound when it is created, under the script's
		-- search_path: nothing here can be redirected later)
		SELECT d.start_time, d.command_tag, d.object_identity
		FROM guardrails.ddl_log d
		WHERE d.database = pg_catalog.current_database()
		  AND d.outcome = 'ok' AND d.rolled_back IS NOT TRUE
		  AND d.command_tag ~ '^(CREATE|ALTER|DROP) (TABLE|VIEW|MATERIALIZED VIEW|FOREIGN TABLE|TYPE|FUNCTION)'
	)
	SELECT l.queryid, l.role, l.action, l.per_second, l.burst,
		   l.max_concurrent, l.expires_at,
		   coalesce(l.expires_at <= pg_catalog.now(), false) AS expired,
		   coalesce(s.admitted, 0) AS admitted,
		   coalesce(s.rejected, 0) AS rejected,
		   CASE WHEN l.per_second IS NULL THEN NULL
				WHEN s.refilled_at IS NULL THEN l.burst::double precision
				ELSE least(l.burst, s.tokens +
						   greatest(l.per_second, 1e-300::double precision) *
						   extract(epoch FROM pg_catalog.clock_timestamp() - s.refilled_at))
		   END AS tokens,
		   coalesce(s.running, 0) AS running,
		   s.last_rejection, l.note, l.created_by, l.created_at,
		   s.last_matched_at,
		   CASE WHEN l.role IS NOT NULL AND NOT EXISTS
					 (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = l.role::oid)
				THEN pg_catalog.format('role %s was dropped: the rule applies to nobody',
									   l.role::oid)
				WHEN c.changes > 0
				THEN pg_catalog.format('not matched since %s, and %s schema %s ran in this database since (the last: %s %s at %s): if one changed a table that the statement reads, the statement has a new digest, which this rule does not match',
									   coalesce(s.last_matched_at::text, 'the rule was created'),
									   c.changes,
									   CASE WHEN c.changes = 1 THEN 'change' ELSE 'changes' END,
									   c.command_tag, coalesce(c.object_identity, '?'),
									   c.start_time)
		   END AS warning
	FROM guardrails.digest_limits l
		 LEFT JOIN guardrails.digest_limit_stats() s
				ON s.queryid = l.queryid
			   AND s.roleid IS NOT DISTINCT FROM l.role::oid
			   AND s.rule_created_at = l.created_at
		 LEFT JOIN LATERAL (
			SELECT pg_catalog.count(*) OVER () AS changes, x.start_time,
				   x.command_tag, x.object_identity
			FROM schema_changes x
			WHERE x.start_time > coalesce(s.last_matched_at,
										  greatest(l.created_at,
												   pg_catalog.pg_postmaster_start_time()))
			ORDER BY x.start_time DESC LIMIT 1) c
				ON l.expires_at IS NULL OR l.expires_at > pg_catalog.now();

GRANT SELECT ON guardrails.digest_limit_status TO PUBLIC;

-- The DDL history is written in one database, guardrails.database, and
-- stays empty in the others.  Said where a reader of the table looks (\d+,
-- \dt+, any catalog browser), rather than at CREATE EXTENSION: a NOTICE of
-- an extension script is never shown (PostgreSQL raises
-- client_min_messages to WARNING while one runs), and a WARNING would
-- fire in every database whose rules the extension serves, the normal case.
COMMENT ON TABLE guardrails.ddl_history IS
	'DDL statements of every database of the server, stored by pg_guardrails'' background worker in the database named by the setting guardrails.database only (SHOW guardrails.database); in any other database this table stays empty. guardrails.ddl_log shows the recent statements in every database.';

-- DDL audit log, identity across a fleet: an entry is identified by the
-- server's system identifier, the timeline it was stored on and its
-- number.  A standby has its primary's system identifier; once promoted
-- it stores on a timeline of its own, so that its numbers never collide
-- with those the old primary used and stored, whatever its sequence file
-- says.  Rows stored before 1.1 were on timeline 1 as far as can be told.
ALTER TABLE guardrails.ddl_history ADD COLUMN timeline integer NOT NULL DEFAULT 1;
ALTER TABLE guardrails.ddl_history ALTER COLUMN timeline DROP DEFAULT;
ALTER TABLE guardrails.ddl_history DROP CONSTRAINT ddl_history_pkey;
ALTER TABLE guardrails.ddl_history
	ADD CONSTRAINT ddl_history_pkey PRIMARY KEY (system_identifier, timeline, seq);

-- Schema-change policy (issue 15, part 5): check_migration().

-- guardrails.check_migration(sql text): the verdicts the schema-change
-- policy would give each statement of a migration script, against the live
-- catalog, without running it.  It changes nothing and waits for no lock
-- (a table's size is read under ACCESS SHARE only if that is free at
-- once, and the lock is given back at once), and shows sizes only of tables the caller may change (as the policy
-- itself does), so every role may call it.
CREATE FUNCTION guardrails.check_migration(
	sql text,
	OUT statement int,
	OUT line int,
	OUT command text,
	OUT rule text,
	OUT level text,
	OUT certain boolean,
	OUT message text,
	OUT detail text,
	OUT hint text,
	OUT table_name text,
	OUT table_size bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_check_migration'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION guardrails.check_migration(text) IS
'the verdicts the schema-change policy would give each statement of a migration script, without running it';

-- Latency windows and mergeable exports: quantile() takes a window
-- (last), so it is replaced; the recent-window view, the export, the merge
-- aggregate and the quantile of an exported histogram are new.
DROP FUNCTION guardrails.quantile(bigint, double precision, oid, oid);
CREATE FUNCTION guardrails.quantile(
	queryid bigint,
	q double precision,
	dbid oid DEFAULT NULL,
	userid oid DEFAULT NULL,
	last interval DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'grd_quantile'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION guardrails.latency_recent_stats(
	OUT dbid oid,
	OUT userid oid,
	OUT queryid bigint,
	OUT last interval,
	OUT calls bigint,
	OUT failed bigint,
	OUT p50_ms double precision,
	OUT p90_ms double precision,
	OUT p95_ms double precision,
	OUT p99_ms double precision,
	OUT p999_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_latency_recent_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.latency_recent AS
	SELECT s.dbid, d.datname, s.userid, r.rolname, s.queryid, s.last,
		   s.calls, s.failed, s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms,
		   s.p999_ms
	FROM guardrails.latency_recent_stats() s
		 LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
		 LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid;
GRANT SELECT ON guardrails.latency_recent TO PUBLIC;

CREATE FUNCTION guardrails.latency_export(
	last interval DEFAULT NULL,
	OUT dbid oid,
	OUT userid oid,
	OUT queryid bigint,
	OUT histogram bytea)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_latency_export'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION guardrails.latency_merge_trans(internal, bytea)
RETURNS internal
AS 'MODULE_PATHNAME', 'grd_latency_merge_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION guardrails.latency_merge_final(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'grd_latency_merge_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE guardrails.latency_merge(bytea) (
	SFUNC = guardrails.latency_merge_trans,
	STYPE = internal,
	FINALFUNC = guardrails.latency_merge_final
);

CREATE FUNCTION guardrails.histogram_quantile(
	histogram bytea,
	q double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'grd_histogram_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION guardrails.histogram_stats(
	histogram bytea,
	OUT calls bigint,
	OUT failed bigint,
	OUT p50_ms double precision,
	OUT p90_ms double precision,
	OUT p95_ms double precision,
	OUT p99_ms double precision,
	OUT p999_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'grd_histogram_stats'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION guardrails.histogram_prometheus(
	histogram bytea,
	OUT le double precision[],
	OUT buckets bigint[],
	OUT sum_seconds double precision,
	OUT count bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'grd_histogram_prometheus'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;



-- guardrails.lock_blockers(relation, mode): the sessions that hold, or wait
-- for, a lock on the relation, its partitions and inheritance children,
-- their indexes and TOAST tables, in a mode that conflicts with the given
-- one; one row per session.  blocks is 'holds' (the statement would wait
-- until that transaction ends) or 'waits' (it waits already; the statement
-- would queue behind it).  It reads pg_locks and pg_stat_activity as the
-- caller: another role's state, times, wait and query are shown only as
-- pg_stat_activity shows them to the caller (to superusers, members of
-- pg_read_all_stats and of that role), so every role may call it.  It
-- takes no lock on the relation.
CREATE FUNCTION guardrails.lock_blockers(
	relation regclass,
	mode text DEFAULT 'access exclusive',
	OUT pid integer,
	OUT role name,
	OUT application_name text,
	OUT state text,
	OUT xact_duration interval,
	OUT query_duration interval,
	OUT wait_event_type text,
	OUT wait_event text,
	OUT blocks text,
	OUT lock_modes text[],
	OUT relations regclass[],
	OUT query text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- the lock modes, weakest first, as pg_locks names them
	modes CONSTANT text[] := ARRAY['AccessShareLock', 'RowShareLock',
		'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock',
		'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'];
	-- conflicts[i]: the modes that conflict with mode i, as a bit mask
	-- over the positions in modes (the table of the PostgreSQL manual,
	-- "Conflicting Lock Modes")
	conflicts CONSTANT int[] := ARRAY[128, 192, 240, 248, 236, 252, 254, 255];
	wanted text;
	want int;
BEGIN
	IF relation IS NULL THEN
		RAISE EXCEPTION 'relation must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF mode IS NULL THEN
		RAISE EXCEPTION 'lock mode must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- "access exclusive", "ACCESS EXCLUSIVE", "AccessExclusiveLock"
	wanted := pg_catalog.regexp_replace(pg_catalog.lower(mode), '[[:space:]_]+', '', 'g');
	wanted := pg_catalog.regexp_replace(wanted, 'lock$', '');
	SELECT m.i INTO want
	FROM pg_catalog.unnest(modes) WITH ORDINALITY AS m(name, i)
	WHERE pg_catalog.lower(pg_catalog.regexp_replace(m.name, 'Lock$', '')) OPERATOR(pg_catalog.=) wanted;
	IF want IS NULL THEN
		RAISE EXCEPTION 'invalid lock mode: "%"', mode
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use one of ACCESS SHARE, ROW SHARE, ROW EXCLUSIVE, SHARE UPDATE EXCLUSIVE, SHARE, SHARE ROW EXCLUSIVE, EXCLUSIVE, ACCESS EXCLUSIVE.';
	END IF;

	RETURN QUERY
	WITH RECURSIVE tables(oid) AS (
		SELECT relation::oid
		UNION
		SELECT i.inhrelid FROM pg_catalog.pg_inherits i, tables t
		WHERE i.inhparent OPERATOR(pg_catalog.=) t.oid
	),
	targets(oid) AS (
		SELECT t.oid FROM tables t
		UNION
		SELECT x.indexrelid FROM pg_catalog.pg_index x, tables t
		WHERE x.indrelid OPERATOR(pg_catalog.=) t.oid
		UNION
		SELECT c.reltoastrelid FROM pg_catalog.pg_class c, tables t
		WHERE c.oid OPERATOR(pg_catalog.=) t.oid
		  AND c.reltoastrelid OPERATOR(pg_catalog.<>) 0
		UNION
		SELECT x.indexrelid FROM pg_catalog.pg_index x, pg_catalog.pg_class c, tables t
		WHERE c.oid OPERATOR(pg_catalog.=) t.oid
		  AND x.indrelid OPERATOR(pg_catalog.=) c.reltoastrelid
	),
	conflicting AS (
		SELECT l.pid, l.mode, l.granted, l.relation
		FROM pg_catalog.pg_locks l
		WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'
		  AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
								WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
		  AND l.relation OPERATOR(pg_catalog.=) ANY (SELECT oid FROM targets)
		  AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
		  AND (conflicts[want] OPERATOR(pg_catalog.&)
			   (1 OPERATOR(pg_catalog.<<) (pg_catalog.array_position(modes, l.mode) OPERATOR(pg_catalog.-) 1)))
			  OPERATOR(pg_catalog.<>) 0
	),
	per_session AS (
		SELECT c.pid,
			   pg_catalog.bool_or(c.granted) AS holds,
			   pg_catalog.array_agg(DISTINCT c.mode) AS modes,
			   pg_catalog.array_agg(DISTINCT c.relation::regclass) AS rels
		FROM conflicting c
		GROUP BY c.pid
	)
	SELECT s.pid, a.usename, a.application_name, a.state,
		   pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.xact_start,
		   pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.query_start,
		   a.wait_event_type, a.wait_event,
		   CASE WHEN s.holds THEN 'holds' ELSE 'waits' END,
		   s.modes, s.rels, a.query
	FROM per_session s
		 LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) s.pid
	ORDER BY s.holds DESC, a.xact_start NULLS LAST, s.pid;
END
$$;
COMMENT ON FUNCTION guardrails.lock_blockers(regclass, text) IS
'the sessions that hold or wait for a lock on the relation (its partitions, indexes, TOAST table) that conflicts with the given mode';



-- guardrails.index_usage_export(): this server's usage of each index of the
-- current database, since when it has been counted, and who this server
-- is.  Counting began at the later of the database's last statistics reset
-- and the server's start (a standby's counters do not survive a restart;
-- a primary's do not survive a crash), so "since" never claims more than
-- was counted.  Physical standbys have the primary's OIDs, so indexrelid
-- names the same index on every server of one system_identifier.  All rows
-- of one export have the same exported_at (the statement's start).  It reads
-- pg_stat_user_indexes, which every role may read.
CREATE FUNCTION guardrails.index_usage_export(
	OUT system_identifier bigint,
	OUT server text,
	OUT in_recovery boolean,
	OUT database name,
	OUT indexrelid oid,
	OUT schema_name name,
	OUT index_name name,
	OUT table_name name,
	OUT idx_scan bigint,
	OUT idx_tup_read bigint,
	OUT idx_tup_fetch bigint,
	OUT since timestamptz,
	OUT exported_at timestamptz)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (SELECT c.system_identifier FROM pg_catalog.pg_control_system() c),
		   NULLIF(pg_catalog.current_setting('cluster_name'), ''),
		   pg_catalog.pg_is_in_recovery(),
		   pg_catalog.current_database(),
		   s.indexrelid, s.schemaname, s.indexrelname, s.relname,
		   s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
		   GREATEST(
			   (SELECT d.stats_reset FROM pg_catalog.pg_stat_database d
				WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()),
			   pg_catalog.pg_postmaster_start_time()),
		   pg_catalog.statement_timestamp()
	FROM pg_catalog.pg_stat_user_indexes s
$$;
COMMENT ON FUNCTION guardrails.index_usage_export() IS
'this server''s scans of each index of the current database, since when they were counted, with the server''s identity';

-- The exports of every server, gathered on the primary (standbys cannot
-- write: an operator's script copies their exports here).  Rows of one
-- server are told apart by server, which is cluster_name when the export
-- carries one, else the label the script gives.
CREATE TABLE guardrails.index_usage_reports (
	system_identifier bigint NOT NULL,
	server text NOT NULL,
	in_recovery boolean NOT NULL,
	database name NOT NULL,
	indexrelid oid NOT NULL,
	schema_name name NOT NULL,
	index_name name NOT NULL,
	table_name name NOT NULL,
	idx_scan bigint NOT NULL,
	idx_tup_read bigint NOT NULL,
	idx_tup_fetch bigint NOT NULL,
	since timestamptz NOT NULL,
	exported_at timestamptz NOT NULL,
	PRIMARY KEY (server, database, indexrelid, exported_at)
);
REVOKE ALL ON guardrails.index_usage_reports FROM PUBLIC;
GRANT SELECT, INSERT, DELETE, TRUNCATE ON guardrails.index_usage_reports
	TO guardrails_admin;
COMMENT ON TABLE guardrails.index_usage_reports IS
'the index_usage_export() rows of every server, gathered for guardrails.unused_indexes()';

-- guardrails.unused_indexes(min_unused): the indexes of the current
-- database that no server of this fleet (this system_identifier) has
-- scanned for at least min_unused, judged from the reports.  On each
-- server, an index is unused from the start of counting if its latest
-- report shows no scan, else from the first report of the same counting
-- period with the same number of scans, until its latest report; the
-- fleet's figure is the shortest of the servers'.  An index is listed only
-- when every server that ever reported for this database reported it in
-- its latest report (delete the rows of a retired server).  The indexes
-- of tables that belong to an extension are not listed.
CREATE FUNCTION guardrails.unused_indexes(
	min_unused interval,
	OUT index regclass,
	OUT table_name regclass,
	OUT unused_for interval,
	OUT servers integer,
	OUT size_bytes bigint,
	OUT table_writes_per_second double precision,
	OUT constraint_name name,
	OUT disabled boolean)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF min_unused IS NULL THEN
		RAISE EXCEPTION 'min_unused must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF min_unused OPERATOR(pg_catalog.<=) interval '0' THEN
		RAISE EXCEPTION 'min_unused must be positive'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('It is %s.', min_unused);
	END IF;

	RETURN QUERY
	WITH r AS (
		SELECT u.* FROM guardrails.index_usage_reports u
		WHERE u.database OPERATOR(pg_catalog.=) pg_catalog.current_database()
		  AND u.system_identifier OPERATOR(pg_catalog.=)
			  (SELECT c.system_identifier FROM pg_catalog.pg_control_system() c)
	),
	latest AS (
		SELECT r.server, pg_catalog.max(r.exported_at) AS at
		FROM r GROUP BY r.server
	),
	last AS (
		SELECT r.* FROM r, latest l
		WHERE r.server OPERATOR(pg_catalog.=) l.server
		  AND r.exported_at OPERATOR(pg_catalog.=) l.at
	),
	per_server AS (
		SELECT l.server, l.indexrelid, l.exported_at,
			   CASE WHEN l.idx_scan OPERATOR(pg_catalog.=) 0 THEN l.since
			   ELSE (SELECT pg_catalog.min(e.exported_at) FROM r e
					 WHERE e.server OPERATOR(pg_catalog.=) l.server
					   AND e.indexrelid OPERATOR(pg_catalog.=) l.indexrelid
					   AND e.since OPERATOR(pg_catalog.=) l.since
					   AND e.idx_scan OPERATOR(pg_catalog.=) l.idx_scan)
			   END AS unused_since
		FROM last l
	),
	fleet AS (
		SELECT p.indexrelid,
			   pg_catalog.min(p.exported_at OPERATOR(pg_catalog.-) p.unused_since) AS unused_for,
			   pg_catalog.count(*)::integer AS servers
		FROM per_server p
		GROUP BY p.indexrelid
		HAVING pg_catalog.count(*) OPERATOR(pg_catalog.=) (SELECT pg_catalog.count(*) FROM latest)
	)
	SELECT i.indexrelid::regclass, i.indrelid::regclass, f.unused_for, f.servers,
		   pg_catalog.pg_relation_size(i.indexrelid),
		   (t.n_tup_ins OPERATOR(pg_catalog.+) t.n_tup_upd OPERATOR(pg_catalog.+) t.n_tup_del)::double precision
			   OPERATOR(pg_catalog./) GREATEST(1, pg_catalog.date_part('epoch',
				   pg_catalog.now() OPERATOR(pg_catalog.-) GREATEST(
					   (SELECT d.stats_reset FROM pg_catalog.pg_stat_database d
						WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()),
					   pg_catalog.pg_postmaster_start_time()))),
		   (SELECT con.conname FROM pg_catalog.pg_constraint con
			WHERE con.conindid OPERATOR(pg_catalog.=) i.indexrelid
			  AND con.conrelid OPERATOR(pg_catalog.=) i.indrelid
			LIMIT 1),
		   EXISTS (SELECT FROM guardrails.disabled_indexes d
				   WHERE d.index_schema OPERATOR(pg_catalog.=) n.nspname
					 AND d.index_name OPERATOR(pg_catalog.=) c.relname)
	FROM fleet f
		 JOIN pg_catalog.pg_index i ON i.indexrelid OPERATOR(pg_catalog.=) f.indexrelid
		 JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
		 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
		 LEFT JOIN pg_catalog.pg_stat_user_tables t ON t.relid OPERATOR(pg_catalog.=) i.indrelid
	WHERE f.unused_for OPERATOR(pg_catalog.>=) min_unused
	  -- not the indexes of an extension's tables (ours among them)
	  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend dep
					  WHERE dep.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
						AND dep.objid OPERATOR(pg_catalog.=) i.indrelid
						AND dep.deptype OPERATOR(pg_catalog.=) 'e')
	ORDER BY pg_catalog.pg_relation_size(i.indexrelid) DESC, 1;
END
$$;
REVOKE ALL ON FUNCTION guardrails.unused_indexes(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.unused_indexes(interval) TO guardrails_admin;
COMMENT ON FUNCTION guardrails.unused_indexes(interval) IS
'the indexes that no server of the fleet has scanned for at least min_unused, from guardrails.index_usage_reports';
-- Workload classes (schema/80_workload_classes.sql), new in 1.1.


-- The rules that put statements into classes, per database; replicated to
-- standbys, which classify (and shed) by them on their own load.  A rule
-- names any of role, database, application_name (a LIKE pattern) and
-- digest; the most specific rule that matches a statement gives its class
-- (see the README, "Workload classes").
CREATE TABLE guardrails.workload_rules (
	class text NOT NULL
		CHECK (class IN ('critical', 'normal', 'low', 'background')),
	role regrole,
	database name,
	application_name text,
	queryid bigint CHECK (queryid <> 0),
	note text,
	created_by name NOT NULL DEFAULT CURRENT_USER,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT workload_rules_key
		UNIQUE NULLS NOT DISTINCT (role, database, application_name, queryid)
);
-- (no key index may hold the NULLs that mean "any": the whole row is the
-- replica identity, as for digest_limits)
ALTER TABLE guardrails.workload_rules REPLICA IDENTITY FULL;
SELECT pg_catalog.pg_extension_config_dump('guardrails.workload_rules',
	'WHERE role IS NULL OR role::pg_catalog.oid IN (SELECT oid FROM pg_catalog.pg_roles)');
REVOKE ALL ON guardrails.workload_rules FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
	ON guardrails.workload_rules TO guardrails_admin;

CREATE FUNCTION guardrails.workload_rules_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'grd_workload_rules_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION guardrails.workload_rules_changed() FROM PUBLIC;

CREATE TRIGGER changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON guardrails.workload_rules
	FOR EACH STATEMENT EXECUTE FUNCTION guardrails.workload_rules_changed();

CREATE FUNCTION guardrails.workload_rules_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.role IS NOT NULL AND
	   NOT EXISTS (SELECT 1 FROM pg_roles WHERE oid = NEW.role) THEN
		RAISE WARNING 'workload rule not stored: role with OID % does not exist',
			NEW.role::oid
			USING HINT = 'Leave role NULL for a rule that applies to every role.';
		RETURN NULL;
	END IF;
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER) THEN
		NEW.created_by := CURRENT_USER;
		NEW.created_at := now();
	END IF;
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION guardrails.workload_rules_check() FROM PUBLIC;

CREATE TRIGGER check_role BEFORE INSERT OR UPDATE ON guardrails.workload_rules
	FOR EACH ROW EXECUTE FUNCTION guardrails.workload_rules_check();

CREATE FUNCTION guardrails.set_workload_class(
	class text,
	role regrole DEFAULT NULL,
	database name DEFAULT NULL,
	application_name text DEFAULT NULL,
	queryid bigint DEFAULT NULL,
	note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF class IS NULL OR class NOT IN ('critical', 'normal', 'low', 'background') THEN
		RAISE EXCEPTION 'workload class must be critical, normal, low or background, not %',
			coalesce(quote_literal(class), 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF role IS NULL AND database IS NULL AND application_name IS NULL AND
	   queryid IS NULL THEN
		RAISE EXCEPTION 'a workload rule needs role, database, application_name or queryid'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'To change the class of statements that no rule matches, set "guardrails.default_workload_class".';
	END IF;
	IF role IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE oid = role) THEN
		RAISE EXCEPTION 'role with OID % does not exist', role::oid
			USING ERRCODE = 'undefined_object';
	END IF;
	IF queryid = 0 THEN
		RAISE EXCEPTION 'queryid must not be 0'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Leave queryid NULL for a rule that applies to every statement.';
	END IF;
	INSERT INTO guardrails.workload_rules AS w
		(class, role, database, application_name, queryid, note)
	VALUES (set_workload_class.class, set_workload_class.role,
			set_workload_class.database, set_workload_class.application_name,
			set_workload_class.queryid, set_workload_class.note)
	ON CONFLICT ON CONSTRAINT workload_rules_key DO UPDATE
	SET class = EXCLUDED.class, note = EXCLUDED.note,
		created_by = CURRENT_USER, created_at = now();
END
$$;
REVOKE ALL ON FUNCTION guardrails.set_workload_class(text, regrole, name, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.set_workload_class(text, regrole, name, text, bigint, text) TO guardrails_admin;

CREATE FUNCTION guardrails.unset_workload_class(
	role regrole DEFAULT NULL,
	database name DEFAULT NULL,
	application_name text DEFAULT NULL,
	queryid bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM guardrails.workload_rules w
	WHERE w.role IS NOT DISTINCT FROM unset_workload_class.role
	  AND w.database IS NOT DISTINCT FROM unset_workload_class.database
	  AND w.application_name IS NOT DISTINCT FROM unset_workload_class.application_name
	  AND w.queryid IS NOT DISTINCT FROM unset_workload_class.queryid;
	IF NOT FOUND THEN
		RAISE NOTICE 'no workload rule matches these arguments';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION guardrails.unset_workload_class(regrole, name, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.unset_workload_class(regrole, name, text, bigint) TO guardrails_admin;

-- The class of the statement that calls it, in this session, and whether
-- the statement is exempt from shedding (a superuser's, the extension's
-- own); for an operator checking the rules, and for tests.
CREATE FUNCTION guardrails.current_workload_class(
	OUT class text,
	OUT exempt boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'grd_current_workload_class'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- One row per class on this server: its statements, and the overload
-- controller's state and decisions about them.
CREATE FUNCTION guardrails.workload_class_stats(
	OUT class text,
	OUT priority integer,
	OUT active integer,
	OUT statements bigint,
	OUT exempt bigint,
	OUT admitted bigint,
	OUT shed bigint,
	OUT queued integer,
	OUT waited bigint,
	OUT wait_ms double precision,
	OUT parallel_denied bigint,
	OUT shed_fraction double precision,
	OUT signal double precision,
	OUT shed_share double precision,
	OUT shedding_since timestamptz,
	OUT control text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_workload_class_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.workload_classes AS
	SELECT s.class, s.priority, s.active, s.statements, s.exempt,
		   s.admitted, s.shed, s.queued, s.waited, s.wait_ms,
		   s.parallel_denied, s.shed_fraction, s.signal, s.shed_share,
		   s.shedding_since, s.control
	FROM guardrails.workload_class_stats() s;
GRANT SELECT ON guardrails.workload_classes TO PUBLIC;

-- For tests: replace this server's measured overload signal (NULL: measure
-- again).  Superuser-only (the function checks, and is not granted).
CREATE FUNCTION guardrails.overload_inject_signal(value double precision)
RETURNS void
AS 'MODULE_PATHNAME', 'grd_overload_inject_signal'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION guardrails.overload_inject_signal(double precision) FROM PUBLIC;

-- WAL budgets (schema/90_wal_budgets.sql), new in 1.1.

-- One row per class on this server: its WAL budget, the rate it is held
-- to, what it wrote and what it met.
CREATE FUNCTION guardrails.wal_budget_stats(
	OUT class text,
	OUT budget_bytes_per_s bigint,
	OUT lag_cap_bytes_per_s bigint,
	OUT rate_limit_bytes_per_s bigint,
	OUT ahead_ms double precision,
	OUT wal_bytes bigint,
	OUT charged_bytes bigint,
	OUT recent_bytes_per_s bigint,
	OUT waiting integer,
	OUT waited bigint,
	OUT wait_ms double precision,
	OUT refused bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_wal_budget_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.wal_budgets AS
	SELECT s.class, s.budget_bytes_per_s, s.lag_cap_bytes_per_s,
		   s.rate_limit_bytes_per_s, s.ahead_ms, s.wal_bytes,
		   s.charged_bytes, s.recent_bytes_per_s, s.waiting, s.waited,
		   s.wait_ms, s.refused
	FROM guardrails.wal_budget_stats() s;
GRANT SELECT ON guardrails.wal_budgets TO PUBLIC;

-- The standbys the replica-lag controller knows on this primary, by the
-- pid of their WAL sender.
CREATE FUNCTION guardrails.wal_lag_standbys(
	OUT pid integer,
	OUT state text,
	OUT flush_lsn pg_lsn,
	OUT replay_lsn pg_lsn,
	OUT replay_lag_ms double precision,
	OUT reply_time timestamptz,
	OUT last_seen timestamptz,
	OUT counted boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_wal_lag_standbys'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.wal_lag AS
	SELECT s.pid, r.application_name, s.state, s.flush_lsn, s.replay_lsn,
		   s.replay_lag_ms, s.reply_time, s.last_seen, s.counted
	FROM guardrails.wal_lag_standbys() s
	LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.pid;
GRANT SELECT ON guardrails.wal_lag TO PUBLIC;

-- The replica-lag controller's state on this server.
CREATE FUNCTION guardrails.wal_lag_controller(
	OUT state text,
	OUT lag_ms double precision,
	OUT worst_pid integer,
	OUT target_ms integer,
	OUT throttling_since timestamptz,
	OUT episodes bigint,
	OUT injected boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'grd_wal_lag_controller'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
GRANT EXECUTE ON FUNCTION guardrails.wal_lag_controller() TO PUBLIC;

-- For tests: replace the lag the controller acts on (NULL: read the
-- standbys again).  Superuser-only (the function checks, and is not
-- granted).
CREATE FUNCTION guardrails.wal_lag_inject(lag_ms double precision)
RETURNS void
AS 'MODULE_PATHNAME', 'grd_wal_lag_inject'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION guardrails.wal_lag_inject(double precision) FROM PUBLIC;

-- New or suddenly costly expensive digests contained on this server (see
-- the README, "New query shapes, contained automatically").
CREATE FUNCTION guardrails.contained_digest_stats(
	OUT queryid bigint,
	OUT dbid oid,
	OUT reason text,
	OUT cost_ms double precision,
	OUT cost_ms_per_second double precision,
	OUT since timestamptz,
	OUT state text,
	OUT "limit" integer,
	OUT running integer,
	OUT admitted bigint,
	OUT exempt bigint,
	OUT refused bigint,
	OUT mode text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_contained_digest_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.contained_digests AS
	SELECT s.queryid, s.dbid, s.reason, s.cost_ms, s.cost_ms_per_second,
		   s.since, s.state, s."limit", s.running, s.admitted, s.exempt, s.refused,
		   s.mode
	FROM guardrails.contained_digest_stats() s;
GRANT SELECT ON guardrails.contained_digests TO PUBLIC;

-- Let a contained digest run again on this server (in every database);
-- it is not contained again while the controller remembers it.
CREATE FUNCTION guardrails.release_contained(queryid bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'grd_release_contained'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION guardrails.release_contained(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.release_contained(bigint) TO guardrails_admin;
