/* schema/70_wal_budgets.sql: WAL budgets per workload class, and the
 * replica-lag controller that cuts them */

-- One row per class on this server: its WAL budget, the rate it is held
-- to, what it wrote and what it met.
CREATE FUNCTION guardrails.wal_budget_stats(
	OUT class text,
	OUT budget_bytes_per_s bigint,
	OUT lag_cap_bytes_per_s bigint,
	OUT rate_limit_bytes_per_s bigint,
	OUT ahead_ms double precision,
	OUT wal_bytes bigint,
	OUT charged_bytes bigint,
	OUT recent_bytes_per_s bigint,
	OUT waiting integer,
	OUT waited bigint,
	OUT wait_ms double precision,
	OUT refused bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_wal_budget_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.wal_budgets AS
	SELECT s.class, s.budget_bytes_per_s, s.lag_cap_bytes_per_s,
		   s.rate_limit_bytes_per_s, s.ahead_ms, s.wal_bytes,
		   s.charged_bytes, s.recent_bytes_per_s, s.waiting, s.waited,
		   s.wait_ms, s.refused
	FROM guardrails.wal_budget_stats() s;
GRANT SELECT ON guardrails.wal_budgets TO PUBLIC;
