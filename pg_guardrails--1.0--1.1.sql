/* pg_guardrails--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_guardrails UPDATE TO '1.1'" to load this file. \quit


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
