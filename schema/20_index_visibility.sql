/* schema/20_index_visibility.sql: disabled indexes, hidden from the planner
 * and still maintained */

-- The source of truth, per database.  Indexes are named by schema and name
-- (pg_dump restores these rows before it creates the indexes); indexrelid
-- follows the index across renames and is filled in by a trigger.
CREATE TABLE guardrails.disabled_indexes (
	index_schema name NOT NULL,
	index_name name NOT NULL,
	indexrelid oid,
	disabled_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	disabled_by name NOT NULL DEFAULT CURRENT_USER,
	reason text,
	scans_at_disable bigint,
	PRIMARY KEY (index_schema, index_name)
);
SELECT pg_catalog.pg_extension_config_dump('guardrails.disabled_indexes', '');
REVOKE ALL ON guardrails.disabled_indexes FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
	ON guardrails.disabled_indexes TO guardrails_admin;

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

-- Resolve the index a row names, and hold the row to
-- disabled_indexes_check(): a name that resolves to nothing is checked by
-- its schema only, as during a restore the index does not exist yet.
CREATE FUNCTION guardrails.disabled_indexes_resolve()
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
REVOKE ALL ON FUNCTION guardrails.disabled_indexes_resolve() FROM PUBLIC;

CREATE TRIGGER resolve BEFORE INSERT OR UPDATE ON guardrails.disabled_indexes
	FOR EACH ROW EXECUTE FUNCTION guardrails.disabled_indexes_resolve();

-- Every change reaches every backend (and standby) at commit, and plans
-- that used the index are replanned.
CREATE FUNCTION guardrails.disabled_indexes_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'grd_disabled_indexes_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION guardrails.disabled_indexes_changed() FROM PUBLIC;

CREATE TRIGGER changed AFTER INSERT OR UPDATE OR DELETE
	ON guardrails.disabled_indexes
	FOR EACH ROW EXECUTE FUNCTION guardrails.disabled_indexes_changed();
CREATE TRIGGER changed_truncate AFTER TRUNCATE ON guardrails.disabled_indexes
	FOR EACH STATEMENT EXECUTE FUNCTION guardrails.disabled_indexes_changed();

CREATE FUNCTION guardrails.disable_index(
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
REVOKE ALL ON FUNCTION guardrails.disable_index(regclass, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.disable_index(regclass, text, boolean) TO guardrails_admin;

CREATE FUNCTION guardrails.enable_index(index regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF index IS NULL THEN
		RAISE EXCEPTION 'index must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = index AND relkind IN ('i', 'I')) THEN
		RAISE EXCEPTION '"%" is not an index', index
			USING ERRCODE = 'wrong_object_type';
	END IF;
	DELETE FROM guardrails.disabled_indexes d
	USING pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = index
	  AND d.index_schema = n.nspname AND d.index_name = c.relname;
	IF NOT FOUND THEN
		RAISE NOTICE 'index "%" is not disabled', index;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION guardrails.enable_index(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.enable_index(regclass) TO guardrails_admin;

-- Keep the rows right across DDL: follow renames and schema moves, fill
-- in indexes created after their rows (a restore), forget dropped ones.
-- SECURITY DEFINER: whoever runs the DDL need not be able to write the table.
--
-- A disabled index renamed (or moved) onto a name that another row holds:
-- that row names no index (names are unique), typically one inserted by
-- hand ahead of the index.  The renamed index's own row wins, with a
-- NOTICE, instead of a unique violation that would fail the rename.
CREATE FUNCTION guardrails.disabled_indexes_follow_ddl()
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
REVOKE ALL ON FUNCTION guardrails.disabled_indexes_follow_ddl() FROM PUBLIC;

CREATE EVENT TRIGGER guardrails_disabled_indexes_follow ON ddl_command_end
	EXECUTE FUNCTION guardrails.disabled_indexes_follow_ddl();

CREATE FUNCTION guardrails.disabled_indexes_forget_dropped()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- DROP EXTENSION drops the table too
	IF to_regclass('guardrails.disabled_indexes') IS NULL OR
	   current_setting('transaction_read_only')::boolean THEN
		RETURN;
	END IF;
	DELETE FROM guardrails.disabled_indexes d
	USING pg_event_trigger_dropped_objects() o
	WHERE o.object_type = 'index'
	  AND (d.indexrelid = o.objid OR
		   (d.index_schema, d.index_name) = (o.schema_name, o.object_name));
END
$$;
REVOKE ALL ON FUNCTION guardrails.disabled_indexes_forget_dropped() FROM PUBLIC;

CREATE EVENT TRIGGER guardrails_disabled_indexes_forget ON sql_drop
	EXECUTE FUNCTION guardrails.disabled_indexes_forget_dropped();

CREATE VIEW guardrails.index_visibility AS
	SELECT d.index_schema, d.index_name,
		   c.oid::regclass AS index,
		   i.indrelid::regclass AS table_name,
		   pg_catalog.pg_relation_size(c.oid) AS size_bytes,
		   pg_catalog.pg_size_pretty(pg_catalog.pg_relation_size(c.oid)) AS size,
		   con.conname AS constraint_name,
		   con.contype AS constraint_type,
		   i.indisunique AS is_unique,
		   d.disabled_at, d.disabled_by, d.reason,
		   greatest(pg_catalog.pg_stat_get_numscans(c.oid) -
					coalesce(d.scans_at_disable, 0), 0) AS scans_since_disabled
	FROM guardrails.disabled_indexes d
		 LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = d.index_schema
		 LEFT JOIN pg_catalog.pg_class c
				ON c.relnamespace = n.oid AND c.relname = d.index_name
		 LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
		 LEFT JOIN pg_catalog.pg_constraint con
				ON con.conindid = c.oid AND con.contype IN ('p', 'u', 'x');
GRANT SELECT ON guardrails.index_visibility TO PUBLIC;
