/* schema/60_sessions.sql: what would block a migration, now */

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
