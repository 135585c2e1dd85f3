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
