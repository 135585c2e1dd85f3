/* schema/80_workload_classes.sql: workload classes, and which statements
 * belong to which */

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
