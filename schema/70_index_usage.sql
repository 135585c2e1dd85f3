/* schema/70_index_usage.sql: index usage across the fleet */

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
