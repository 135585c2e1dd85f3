--
-- Bad input to the latency functions: clear errors or documented empty
-- results, never a crash.
--
SELECT guardrails.quantile(1, 1.5);
SELECT guardrails.quantile(1, -0.1);
SELECT guardrails.quantile(1, 'NaN');
SELECT guardrails.quantile(1, 'Infinity');
-- NULL arguments give NULL, as for a strict function
SELECT guardrails.quantile(NULL, 0.5) IS NULL AS null_queryid;
SELECT guardrails.quantile(1, NULL) IS NULL AS null_q;
-- an unknown digest has no quantile and no histogram
SELECT guardrails.quantile(12345, 0.5) IS NULL AS unknown_queryid;
SELECT count(*) FROM guardrails.latency_histogram(12345);
SELECT count(*) FROM guardrails.latency_histogram(NULL);
SELECT * FROM guardrails.latency_histogram(1, per_octave => 3);
SELECT * FROM guardrails.latency_histogram(1, per_octave => 0);
-- resetting needs a queryid, not NULL
SELECT guardrails.latency_reset(NULL);
SELECT guardrails.latency_reset(12345) AS removed;

-- Quantiles at the edges are the smallest and largest values recorded.
SELECT guardrails.latency_reset() >= 0 AS reset;
PREPARE nap(float8) AS SELECT pg_sleep($1);
EXECUTE nap(0.01);
EXECUTE nap(0.02);
EXECUTE nap(0.03);
SELECT queryid AS nap_id FROM guardrails.latency ORDER BY max_ms DESC LIMIT 1 \gset
SELECT guardrails.quantile(:nap_id, 0) = min_ms AS q0_is_min,
       guardrails.quantile(:nap_id, 1) = max_ms AS q1_is_max,
       guardrails.quantile(:nap_id, 0.5) BETWEEN 19.8 AND 30 AS median_is_20ms,
       guardrails.quantile(:nap_id, 0.5, dbid => 0) IS NULL AS other_db_empty,
       guardrails.quantile(:nap_id, 0.5, userid => userid) = p50_ms AS by_user
FROM guardrails.latency WHERE queryid = :nap_id;
