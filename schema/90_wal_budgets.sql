/* schema/90_wal_budgets.sql: WAL budgets per workload class, and the
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

-- The standbys the replica-lag controller knows on this primary, by the
-- pid of their WAL sender.
CREATE FUNCTION guardrails.wal_lag_standbys(
	OUT pid integer,
	OUT state text,
	OUT flush_lsn pg_lsn,
	OUT replay_lsn pg_lsn,
	OUT replay_lag_ms double precision,
	OUT reply_time timestamptz,
	OUT last_seen timestamptz,
	OUT counted boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'grd_wal_lag_standbys'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW guardrails.wal_lag AS
	SELECT s.pid, r.application_name, s.state, s.flush_lsn, s.replay_lsn,
		   s.replay_lag_ms, s.reply_time, s.last_seen, s.counted
	FROM guardrails.wal_lag_standbys() s
	LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.pid;
GRANT SELECT ON guardrails.wal_lag TO PUBLIC;

-- The replica-lag controller's state on this server.
CREATE FUNCTION guardrails.wal_lag_controller(
	OUT state text,
	OUT lag_ms double precision,
	OUT worst_pid integer,
	OUT target_ms integer,
	OUT throttling_since timestamptz,
	OUT episodes bigint,
	OUT injected boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'grd_wal_lag_controller'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
GRANT EXECUTE ON FUNCTION guardrails.wal_lag_controller() TO PUBLIC;

-- For tests: replace the lag the controller acts on (NULL: read the
-- standbys again).  Superuser-only (the function checks, and is not
-- granted).
CREATE FUNCTION guardrails.wal_lag_inject(lag_ms double precision)
RETURNS void
AS 'MODULE_PATHNAME', 'grd_wal_lag_inject'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION guardrails.wal_lag_inject(double precision) FROM PUBLIC;
