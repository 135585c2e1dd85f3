/* schema/50_digest_limits.sql: limits and blocks per query digest */

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
REVOKE ALL ON guardrails.digest_limits FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
	ON guardrails.digest_limits TO guardrails_admin;

CREATE FUNCTION guardrails.digest_limits_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'grd_digest_limits_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION guardrails.digest_limits_changed() FROM PUBLIC;

CREATE TRIGGER changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON guardrails.digest_limits
	FOR EACH STATEMENT EXECUTE FUNCTION guardrails.digest_limits_changed();

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
REVOKE ALL ON FUNCTION guardrails.digest_limits_check() FROM PUBLIC;

CREATE TRIGGER check_role BEFORE INSERT OR UPDATE ON guardrails.digest_limits
	FOR EACH ROW EXECUTE FUNCTION guardrails.digest_limits_check();

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
REVOKE ALL ON FUNCTION guardrails.limit_digest(bigint, double precision, integer, integer, regrole, text, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.limit_digest(bigint, double precision, integer, integer, regrole, text, timestamptz, text) TO guardrails_admin;

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
REVOKE ALL ON FUNCTION guardrails.block_digest(bigint, regrole, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.block_digest(bigint, regrole, timestamptz, text) TO guardrails_admin;

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
REVOKE ALL ON FUNCTION guardrails.unlimit_digest(bigint, regrole) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.unlimit_digest(bigint, regrole) TO guardrails_admin;

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
REVOKE ALL ON FUNCTION guardrails.limit_query(text, double precision, integer, integer, regrole, text, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.limit_query(text, double precision, integer, integer, regrole, text, timestamptz, text) TO guardrails_admin;

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
REVOKE ALL ON FUNCTION guardrails.block_query(text, regrole, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.block_query(text, regrole, timestamptz, text) TO guardrails_admin;

-- The counters of each rule: its token bucket, what it admitted and
-- rejected, the creation time of the rule they are for (a replaced rule's
-- counters are not shown as the new rule's) and when the rule last matched
-- an execution.
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

-- The rules with their counters.  The view warns about a rule that has not
-- matched since a schema change ran in this database: adding a column to a
-- table changes the digest of a statement that reads it with SELECT *, and
-- dropping and creating a table changes every digest that names it, so the
-- rule may no longer match the statement it was made for.  (A rule of an
-- absurdly small rate, the smallest double being a valid per_second,
-- refills by an amount that rounds to zero, which float8 multiplication
-- reports as an underflow error, failing the view for every reader: the
-- refill is computed with at least 1e-300 per second, which changes
-- nothing that could be seen.)
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
