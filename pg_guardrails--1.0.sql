/* pg_guardrails--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_guardrails" to load this file. \quit

-- The role that may change behaviour: limits, blocks, index visibility and
-- resets.  Roles are cluster-wide, so it may already exist.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
				   WHERE rolname = 'guardrails_admin') THEN
		CREATE ROLE guardrails_admin NOLOGIN;
	END IF;
END
$$;

GRANT USAGE ON SCHEMA guardrails TO PUBLIC;

-- Latency histograms per query digest

CREATE FUNCTION guardrails.latency_stats(
	OUT dbid oid,
	OUT userid oid,
	OUT queryid bigint,
	OUT calls bigint,
	OUT failed bigint,
	OUT total_ms double precision,
	OUT min_ms double precision,
	OUT max_ms double precision,
	OUT p50_ms double precision,
	OUT p90_ms double precision,
	OUT p95_ms double precision,
	OUT p99_ms double precision,
	OUT p999_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_latency_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.latency AS
	SELECT s.dbid, d.datname, s.userid, r.rolname, s.queryid,
		   s.calls, s.failed, s.total_ms,
		   s.total_ms / NULLIF(s.calls, 0) AS mean_ms,
		   s.min_ms, s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.p999_ms,
		   s.max_ms
	FROM guardrails.latency_stats() s
		 LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
		 LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid;

CREATE FUNCTION guardrails.quantile(
	queryid bigint,
	q double precision,
	dbid oid DEFAULT NULL,
	userid oid DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'grd_quantile'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION guardrails.latency_histogram(
	queryid bigint,
	dbid oid DEFAULT NULL,
	userid oid DEFAULT NULL,
	OUT lower_ms double precision,
	OUT upper_ms double precision,
	OUT count bigint,
	OUT cumulative_fraction double precision,
	OUT bar text,
	per_octave integer DEFAULT 35)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_latency_histogram'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION guardrails.latency_bucket_counts(
	OUT dbid oid,
	OUT userid oid,
	OUT queryid bigint,
	OUT le double precision,
	OUT count bigint,
	OUT sum_seconds double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_latency_bucket_counts'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.latency_buckets AS
	SELECT dbid, userid, queryid, le, count, sum_seconds
	FROM guardrails.latency_bucket_counts();

CREATE FUNCTION guardrails.latency_reset()
RETURNS bigint
AS 'MODULE_PATHNAME', 'grd_latency_reset_all'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION guardrails.latency_reset(queryid bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'grd_latency_reset_queryid'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Disabled indexes: hidden from the planner, still maintained

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

-- Resolve the index a row names, and refuse names of other kinds of
-- relation.  A name that resolves to nothing is accepted: during a restore
-- the index does not exist yet.
CREATE FUNCTION guardrails.disabled_indexes_resolve()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kind "char";
BEGIN
	SELECT c.oid, c.relkind INTO NEW.indexrelid, kind
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = NEW.index_schema AND c.relname = NEW.index_name;
	IF FOUND AND kind NOT IN ('i', 'I') THEN
		RAISE EXCEPTION '"%.%" is not an index', NEW.index_schema, NEW.index_name
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'Only indexes can be disabled.';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER resolve BEFORE INSERT OR UPDATE ON guardrails.disabled_indexes
	FOR EACH ROW EXECUTE FUNCTION guardrails.disabled_indexes_resolve();

-- Every change reaches every backend (and standby) at commit, and plans
-- that used the index are replanned.
CREATE FUNCTION guardrails.disabled_indexes_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'grd_disabled_indexes_changed'
LANGUAGE C;

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

-- Keep the rows right across DDL: follow renames and schema moves, fill
-- in indexes created after their rows (a restore), forget dropped ones.
-- SECURITY DEFINER: whoever runs the DDL need not be able to write the table.
CREATE FUNCTION guardrails.disabled_indexes_follow_ddl()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the common case, and nothing can be renamed in a read-only transaction
	IF NOT EXISTS (SELECT 1 FROM guardrails.disabled_indexes) OR
	   current_setting('transaction_read_only')::boolean THEN
		RETURN;
	END IF;
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

REVOKE ALL ON FUNCTION guardrails.disabled_indexes_resolve() FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.disabled_indexes_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.disabled_indexes_follow_ddl() FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.disabled_indexes_forget_dropped() FROM PUBLIC;

CREATE EVENT TRIGGER guardrails_disabled_indexes_follow ON ddl_command_end
	EXECUTE FUNCTION guardrails.disabled_indexes_follow_ddl();
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

-- Limits and blocks per query digest

-- The source of truth, per database; replicated to standbys, which enforce
-- it too (each server with its own token buckets).
CREATE TABLE guardrails.digest_limits (
	queryid bigint NOT NULL,
	role regrole,
	per_second double precision
		CHECK (per_second > 0 AND per_second < 'Infinity'),
	burst integer CHECK (burst >= 1),
	max_concurrent integer CHECK (max_concurrent >= 1),
	action text NOT NULL DEFAULT 'limit'
		CHECK (action IN ('limit', 'block', 'dry_run')),
	note text,
	created_by name NOT NULL DEFAULT CURRENT_USER,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	expires_at timestamptz,
	CHECK (action = 'block' OR per_second IS NOT NULL OR max_concurrent IS NOT NULL),
	CONSTRAINT digest_limits_rule UNIQUE NULLS NOT DISTINCT (queryid, role)
);
SELECT pg_catalog.pg_extension_config_dump('guardrails.digest_limits', '');

CREATE FUNCTION guardrails.digest_limits_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'grd_digest_limits_changed'
LANGUAGE C;

CREATE TRIGGER changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON guardrails.digest_limits
	FOR EACH STATEMENT EXECUTE FUNCTION guardrails.digest_limits_changed();

CREATE FUNCTION guardrails.limit_digest(
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
	IF per_second IS NOT NULL AND burst IS NULL THEN
		burst := greatest(1, ceil(per_second));
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

CREATE FUNCTION guardrails.block_digest(
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

CREATE FUNCTION guardrails.unlimit_digest(
	queryid bigint,
	role regrole DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF queryid IS NULL THEN
		RAISE EXCEPTION 'queryid must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	DELETE FROM guardrails.digest_limits l
	WHERE l.queryid = unlimit_digest.queryid
	  AND l.role IS NOT DISTINCT FROM unlimit_digest.role;
	IF NOT FOUND THEN
		RAISE NOTICE 'query digest % has no limit%', queryid,
			CASE WHEN role IS NULL THEN '' ELSE format(' for role %s', role) END;
	END IF;
END
$$;

CREATE FUNCTION guardrails.query_digest(sql text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'grd_query_digest'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- limit_query() and block_query() analyse the sample statement with the
-- caller's search_path, as the application's statement would be: they keep
-- it (SECURITY INVOKER) and qualify everything they call.
CREATE FUNCTION guardrails.limit_query(
	sql text,
	per_second double precision,
	burst integer DEFAULT NULL,
	max_concurrent integer DEFAULT NULL,
	role regrole DEFAULT NULL,
	action text DEFAULT 'limit',
	expires_at timestamptz DEFAULT NULL,
	note text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	id bigint := guardrails.query_digest(sql);
BEGIN
	PERFORM guardrails.limit_digest(id, per_second, burst, max_concurrent,
									role, action, expires_at,
									coalesce(note, pg_catalog.left(sql, 200)));
	RETURN id;
END
$$;

CREATE FUNCTION guardrails.block_query(
	sql text,
	role regrole DEFAULT NULL,
	expires_at timestamptz DEFAULT NULL,
	note text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	id bigint := guardrails.query_digest(sql);
BEGIN
	PERFORM guardrails.block_digest(id, role, expires_at,
									coalesce(note, pg_catalog.left(sql, 200)));
	RETURN id;
END
$$;

CREATE FUNCTION guardrails.digest_limit_stats(
	OUT queryid bigint,
	OUT roleid oid,
	OUT tokens double precision,
	OUT refilled_at timestamptz,
	OUT running integer,
	OUT admitted bigint,
	OUT rejected bigint,
	OUT last_rejection timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_digest_limit_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.digest_limit_status AS
	SELECT l.queryid, l.role, l.action, l.per_second, l.burst,
		   l.max_concurrent, l.expires_at,
		   coalesce(l.expires_at <= pg_catalog.now(), false) AS expired,
		   coalesce(s.admitted, 0) AS admitted,
		   coalesce(s.rejected, 0) AS rejected,
		   CASE WHEN l.per_second IS NULL THEN NULL
				WHEN s.refilled_at IS NULL THEN l.burst::double precision
				ELSE least(l.burst, s.tokens + l.per_second *
						   extract(epoch FROM pg_catalog.clock_timestamp() - s.refilled_at))
		   END AS tokens,
		   coalesce(s.running, 0) AS running,
		   s.last_rejection, l.note, l.created_by, l.created_at
	FROM guardrails.digest_limits l
		 LEFT JOIN guardrails.digest_limit_stats() s
				ON s.queryid = l.queryid AND s.roleid IS NOT DISTINCT FROM l.role::oid;

-- Schema-change policy: PostgreSQL tells this event trigger when it has
-- decided to rewrite a table, before it copies a row (rule table_rewrite;
-- the other rules are checked before the statement runs).

CREATE FUNCTION guardrails.ddl_policy_table_rewrite()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'grd_ddl_policy_table_rewrite'
LANGUAGE C;

CREATE EVENT TRIGGER guardrails_table_rewrite ON table_rewrite
	EXECUTE FUNCTION guardrails.ddl_policy_table_rewrite();

REVOKE ALL ON FUNCTION guardrails.ddl_policy_table_rewrite() FROM PUBLIC;

-- DDL audit log: the shared ring, and the durable table the background
-- worker fills from it in the database named by guardrails.database.

CREATE FUNCTION guardrails.ddl_log_entries(
	OUT seq bigint,
	OUT start_time timestamptz,
	OUT duration_ms double precision,
	OUT dbid oid,
	OUT database name,
	OUT userid oid,
	OUT role name,
	OUT session_role name,
	OUT client_addr inet,
	OUT application_name text,
	OUT pid integer,
	OUT xid xid8,
	OUT statement_xid xid8,
	OUT toplevel boolean,
	OUT command_tag text,
	OUT object_type text,
	OUT object_identity text,
	OUT query text,
	OUT query_truncated boolean,
	OUT outcome text,
	OUT sqlstate text,
	OUT message text,
	OUT policy_warnings text,
	OUT lock_wait_ms double precision,
	OUT stored boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_ddl_log_entries'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- rolled_back: nothing the statement did remains.  A failed statement
-- always; one that succeeded once the (sub)transaction it ran in has
-- aborted, read from the commit log; NULL while that transaction is open.
CREATE VIEW guardrails.ddl_log AS
	SELECT seq, start_time, duration_ms, database, role, session_role,
		   client_addr, application_name, pid, xid, toplevel, command_tag,
		   object_type, object_identity, query, query_truncated, outcome,
		   sqlstate, message,
		   pg_catalog.string_to_array(policy_warnings, ',') AS policy_warnings,
		   lock_wait_ms,
		   CASE WHEN outcome <> 'ok' THEN true
				WHEN statement_xid IS NULL THEN false
				ELSE CASE pg_catalog.pg_xact_status(statement_xid)
						 WHEN 'aborted' THEN true
						 WHEN 'committed' THEN false
					 END
		   END AS rolled_back,
		   stored
	FROM guardrails.ddl_log_entries();

CREATE FUNCTION guardrails.ddl_log_reset()
RETURNS bigint
AS 'MODULE_PATHNAME', 'grd_ddl_log_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- One row per entry of the ring, appended by the background worker.  The
-- key includes the server's system identifier: rows restored from another
-- server's dump never collide with this one's numbers.
CREATE TABLE guardrails.ddl_history (
	system_identifier bigint NOT NULL,
	seq bigint NOT NULL,
	start_time timestamptz NOT NULL,
	duration_ms double precision NOT NULL,
	database name,
	role name,
	session_role name,
	client_addr inet,
	application_name text,
	pid integer,
	xid xid8,
	statement_xid xid8,
	toplevel boolean,
	command_tag text NOT NULL,
	object_type text,
	object_identity text,
	query text,
	query_truncated boolean,
	outcome text NOT NULL CHECK (outcome IN ('ok', 'error', 'rejected')),
	sqlstate text,
	message text,
	policy_warnings text[],
	lock_wait_ms double precision,
	rolled_back boolean,
	PRIMARY KEY (system_identifier, seq)
);
CREATE INDEX ddl_history_start_time ON guardrails.ddl_history (start_time);
CREATE INDEX ddl_history_unsettled ON guardrails.ddl_history (seq)
	WHERE rolled_back IS NULL;
SELECT pg_catalog.pg_extension_config_dump('guardrails.ddl_history', '');

-- Status of every module, as (name, value) rows

CREATE FUNCTION guardrails.status_report(OUT name text, OUT value bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_status_report'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.status AS
	SELECT name, value FROM guardrails.status_report();

-- Privileges: statistics are for everyone, changes for guardrails_admin.

GRANT SELECT ON guardrails.latency, guardrails.latency_buckets,
	guardrails.status, guardrails.index_visibility TO PUBLIC;

GRANT SELECT ON guardrails.digest_limit_status TO PUBLIC;

GRANT SELECT ON guardrails.ddl_log TO PUBLIC;
REVOKE ALL ON guardrails.ddl_history FROM PUBLIC;
GRANT SELECT ON guardrails.ddl_history TO guardrails_admin;
REVOKE ALL ON FUNCTION guardrails.ddl_log_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.ddl_log_reset() TO guardrails_admin;
REVOKE ALL ON guardrails.digest_limits FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
	ON guardrails.digest_limits TO guardrails_admin;
REVOKE ALL ON FUNCTION guardrails.digest_limits_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.limit_digest(bigint, double precision, integer, integer, regrole, text, timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.block_digest(bigint, regrole, timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.unlimit_digest(bigint, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.limit_query(text, double precision, integer, integer, regrole, text, timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.block_query(text, regrole, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.limit_digest(bigint, double precision, integer, integer, regrole, text, timestamptz, text) TO guardrails_admin;
GRANT EXECUTE ON FUNCTION guardrails.block_digest(bigint, regrole, timestamptz, text) TO guardrails_admin;
GRANT EXECUTE ON FUNCTION guardrails.unlimit_digest(bigint, regrole) TO guardrails_admin;
GRANT EXECUTE ON FUNCTION guardrails.limit_query(text, double precision, integer, integer, regrole, text, timestamptz, text) TO guardrails_admin;
GRANT EXECUTE ON FUNCTION guardrails.block_query(text, regrole, timestamptz, text) TO guardrails_admin;

REVOKE ALL ON guardrails.disabled_indexes FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
	ON guardrails.disabled_indexes TO guardrails_admin;
REVOKE ALL ON FUNCTION guardrails.disable_index(regclass, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.enable_index(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.disable_index(regclass, text, boolean) TO guardrails_admin;
GRANT EXECUTE ON FUNCTION guardrails.enable_index(regclass) TO guardrails_admin;

REVOKE ALL ON FUNCTION guardrails.latency_reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION guardrails.latency_reset(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.latency_reset() TO guardrails_admin;
GRANT EXECUTE ON FUNCTION guardrails.latency_reset(bigint) TO guardrails_admin;
