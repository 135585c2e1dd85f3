/* schema/40_ddl_log.sql: the DDL audit log, the shared ring and the
 * durable table the background worker fills from it in the database named
 * by guardrails.database */

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
-- ddl_log_entries() shows another role's entry with its outcome NULL (as
-- pg_stat_activity shows another role's session): rolled_back is then
-- unknown, not false.
CREATE VIEW guardrails.ddl_log AS
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
GRANT SELECT ON guardrails.ddl_log TO PUBLIC;

CREATE FUNCTION guardrails.ddl_log_reset()
RETURNS bigint
AS 'MODULE_PATHNAME', 'grd_ddl_log_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION guardrails.ddl_log_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.ddl_log_reset() TO guardrails_admin;

-- One row per entry of the ring, appended by the background worker.  An
-- entry is identified by the server's system identifier, the timeline it
-- was stored on and its number, across a fleet: rows restored from another
-- server's dump never collide with this one's.  A standby has its
-- primary's system identifier; once promoted it stores on a timeline of
-- its own, so that its numbers never collide with those the old primary
-- used and stored, whatever its sequence file says.  (timeline is the last
-- column because 1.1 added it: an upgraded install has it there.)
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
	timeline integer NOT NULL,
	PRIMARY KEY (system_identifier, timeline, seq)
);
CREATE INDEX ddl_history_start_time ON guardrails.ddl_history (start_time);
CREATE INDEX ddl_history_unsettled ON guardrails.ddl_history (seq)
	WHERE rolled_back IS NULL;
SELECT pg_catalog.pg_extension_config_dump('guardrails.ddl_history', '');
REVOKE ALL ON guardrails.ddl_history FROM PUBLIC;
GRANT SELECT ON guardrails.ddl_history TO guardrails_admin;

-- The DDL history is written in one database, guardrails.database, and
-- stays empty in the others.  Said where a reader of the table looks (\d+,
-- \dt+, any catalog browser), rather than at CREATE EXTENSION: a NOTICE of
-- an extension script is never shown (PostgreSQL raises
-- client_min_messages to WARNING while one runs), and a WARNING would
-- fire in every database whose rules the extension serves, the normal case.
COMMENT ON TABLE guardrails.ddl_history IS
	'DDL statements of every database of the server, stored by pg_guardrails'' background worker in the database named by the setting guardrails.database only (SHOW guardrails.database); in any other database this table stays empty. guardrails.ddl_log shows the recent statements in every database.';
