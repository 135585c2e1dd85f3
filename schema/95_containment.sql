/* schema/95_containment.sql: new query shapes, contained automatically */

-- New or suddenly costly expensive digests contained on this server (see
-- the README, "New query shapes, contained automatically").
CREATE FUNCTION guardrails.contained_digest_stats(
	OUT queryid bigint,
	OUT dbid oid,
	OUT reason text,
	OUT cost_ms double precision,
	OUT cost_ms_per_second double precision,
	OUT since timestamptz,
	OUT state text,
	OUT "limit" integer,
	OUT running integer,
	OUT admitted bigint,
	OUT exempt bigint,
	OUT refused bigint,
	OUT mode text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_contained_digest_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.contained_digests AS
	SELECT s.queryid, s.dbid, s.reason, s.cost_ms, s.cost_ms_per_second,
		   s.since, s.state, s."limit", s.running, s.admitted, s.exempt, s.refused,
		   s.mode
	FROM guardrails.contained_digest_stats() s;
GRANT SELECT ON guardrails.contained_digests TO PUBLIC;

-- Let a contained digest run again on this server (in every database);
-- it is not contained again while the controller remembers it.
CREATE FUNCTION guardrails.release_contained(queryid bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'grd_release_contained'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION guardrails.release_contained(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardrails.release_contained(bigint) TO guardrails_admin;
