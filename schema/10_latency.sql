/* schema/10_latency.sql: latency histograms per query digest */

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
GRANT SELECT ON guardrails.latency TO PUBLIC;

CREATE FUNCTION guardrails.quantile(
	queryid bigint,
	q double precision,
	dbid oid DEFAULT NULL,
	userid oid DEFAULT NULL,
	last interval DEFAULT NULL)
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
GRANT SELECT ON guardrails.latency_buckets TO PUBLIC;

CREATE FUNCTION guardrails.latency_reset()
RETURNS bigint
AS 'MODULE_PATHNAME', 'grd_latency_reset_all'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION guardrails.latency_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.latency_reset() TO guardrails_admin;

CREATE FUNCTION guardrails.latency_reset(queryid bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'grd_latency_reset_queryid'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION guardrails.latency_reset(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.latency_reset(bigint) TO guardrails_admin;

CREATE FUNCTION guardrails.latency_recent_stats(
	OUT dbid oid,
	OUT userid oid,
	OUT queryid bigint,
	OUT last interval,
	OUT calls bigint,
	OUT failed bigint,
	OUT p50_ms double precision,
	OUT p90_ms double precision,
	OUT p95_ms double precision,
	OUT p99_ms double precision,
	OUT p999_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_latency_recent_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.latency_recent AS
	SELECT s.dbid, d.datname, s.userid, r.rolname, s.queryid, s.last,
		   s.calls, s.failed, s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms,
		   s.p999_ms
	FROM guardrails.latency_recent_stats() s
		 LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
		 LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid;
GRANT SELECT ON guardrails.latency_recent TO PUBLIC;

CREATE FUNCTION guardrails.latency_export(
	last interval DEFAULT NULL,
	OUT dbid oid,
	OUT userid oid,
	OUT queryid bigint,
	OUT histogram bytea)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_latency_export'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION guardrails.latency_merge_trans(internal, bytea)
RETURNS internal
AS 'MODULE_PATHNAME', 'grd_latency_merge_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION guardrails.latency_merge_final(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'grd_latency_merge_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE guardrails.latency_merge(bytea) (
	SFUNC = guardrails.latency_merge_trans,
	STYPE = internal,
	FINALFUNC = guardrails.latency_merge_final
);

CREATE FUNCTION guardrails.histogram_quantile(
	histogram bytea,
	q double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'grd_histogram_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION guardrails.histogram_stats(
	histogram bytea,
	OUT calls bigint,
	OUT failed bigint,
	OUT p50_ms double precision,
	OUT p90_ms double precision,
	OUT p95_ms double precision,
	OUT p99_ms double precision,
	OUT p999_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'grd_histogram_stats'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION guardrails.histogram_prometheus(
	histogram bytea,
	OUT le double precision[],
	OUT buckets bigint[],
	OUT sum_seconds double precision,
	OUT count bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'grd_histogram_prometheus'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
