/* schema/30_ddl_policy.sql: the schema-change policy */

-- PostgreSQL tells this event trigger when it has decided to rewrite a
-- table, before it copies a row (rule table_rewrite; the other rules are
-- checked before the statement runs).
CREATE FUNCTION guardrails.ddl_policy_table_rewrite()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'grd_ddl_policy_table_rewrite'
LANGUAGE C;
REVOKE ALL ON FUNCTION guardrails.ddl_policy_table_rewrite() FROM PUBLIC;

CREATE EVENT TRIGGER guardrails_table_rewrite ON table_rewrite
	EXECUTE FUNCTION guardrails.ddl_policy_table_rewrite();

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
