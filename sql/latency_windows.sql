--
-- Windows, exported histograms, their merge and their quantiles; bad
-- input to all of them.  The suites run with guardrails.latency_window_slot
-- = 1s (test/regress.conf): the windows are 1, 5, 15 and 60 seconds.
--
SELECT value AS slot_seconds FROM guardrails.status
WHERE name = 'latency_window_slot_seconds';
SELECT value = 100 AS default_window_digests FROM guardrails.status
WHERE name = 'latency_max_window_digests';
SELECT (SELECT value FROM guardrails.status WHERE name = 'latency_window_memory_bytes') =
       100 * (SELECT value FROM guardrails.status WHERE name = 'latency_window_bytes_per_digest')
       AS window_memory_is_per_digest_times_cap;

SELECT guardrails.latency_reset() >= 0 AS reset;
PREPARE nap(float8) AS SELECT pg_sleep($1);
EXECUTE nap(0.01);
EXECUTE nap(0.02);
EXECUTE nap(0.03);
SELECT queryid AS nap_id FROM guardrails.latency ORDER BY max_ms DESC LIMIT 1 \gset

-- every window of the digest holds the three executions (the 15 and 60 s
-- ones for sure; the shorter ones unless the run took seconds)
SELECT last, calls, failed, p50_ms BETWEEN 19.8 AND 30 AS p50_is_20ms
FROM guardrails.latency_recent
WHERE queryid = :nap_id AND last >= interval '15 s' ORDER BY last;
SELECT guardrails.quantile(:nap_id, 0.99, last => interval '15 s') BETWEEN 29.7 AND 45
       AS p99_15s_is_30ms;
SELECT guardrails.quantile(:nap_id, 0.5, last => interval '1 min') =
       guardrails.quantile(:nap_id, 0.5, last => interval '60 s') AS minute_is_60s;
-- no window of that length
SELECT guardrails.quantile(:nap_id, 0.5, last => interval '7 s');
SELECT guardrails.quantile(:nap_id, 0.5, last => interval '1 day');
SELECT * FROM guardrails.latency_export(interval '-5 s');
-- a NULL window is every execution since the reset
SELECT guardrails.quantile(:nap_id, 0.5, last => NULL) =
       guardrails.quantile(:nap_id, 0.5) AS null_window_is_cumulative;

-- The export of the cumulative histogram gives the same quantiles; merged
-- with itself, twice the counts and still the same quantiles.
SELECT histogram AS nap_hist FROM guardrails.latency_export() WHERE queryid = :nap_id \gset
SELECT substr(:'nap_hist'::bytea, 1, 8) AS header;
SELECT guardrails.histogram_quantile(:'nap_hist', q) = guardrails.quantile(:nap_id, q)
       AS same_quantile, q
FROM unnest(ARRAY[0, 0.25, 0.5, 0.75, 1]) q;
SELECT (guardrails.histogram_stats(m)).calls AS merged_calls,
       guardrails.histogram_quantile(m, 0.5) = guardrails.quantile(:nap_id, 0.5) AS same_median,
       guardrails.histogram_quantile(m, 1) = guardrails.quantile(:nap_id, 1) AS same_max
FROM (SELECT guardrails.latency_merge(h) AS m
      FROM (VALUES (:'nap_hist'::bytea), (:'nap_hist'::bytea), (NULL)) v(h)) s;
-- a window's export has calls and buckets, no recorded min and max
SELECT calls, failed, p50_ms BETWEEN 19.8 AND 30 AS p50_is_20ms
FROM guardrails.latency_export(interval '15 s') e,
     guardrails.histogram_stats(e.histogram) s
WHERE e.queryid = :nap_id;
SELECT substr(histogram, 6, 1) AS flags_of_window
FROM guardrails.latency_export(interval '15 s') WHERE queryid = :nap_id;
-- merging an exact and an inexact histogram keeps the counts, loses min/max
SELECT (guardrails.histogram_stats(guardrails.latency_merge(h))).calls AS calls,
       substr(guardrails.latency_merge(h), 6, 1) AS flags
FROM (SELECT histogram FROM guardrails.latency_export() WHERE queryid = :nap_id
      UNION ALL
      SELECT histogram FROM guardrails.latency_export(interval '60 s') WHERE queryid = :nap_id) v(h);

-- For postgres_exporter: cumulative counts at the bounds of latency_buckets.
SELECT le[1:3] AS first_bounds, array_length(le, 1) AS bounds,
       buckets[array_length(buckets, 1)] AS last_bucket, count,
       buckets[7] AS at_10ms, buckets[8] BETWEEN 1 AND 2 AS some_at_25ms,
       abs(sum_seconds * 1000 - (SELECT total_ms FROM guardrails.latency WHERE queryid = :nap_id)) < 1e-6
         AS sum_is_total
FROM guardrails.histogram_prometheus(:'nap_hist');
SELECT sum_seconds IS NULL AS window_has_no_sum
FROM guardrails.latency_export(interval '15 s') e, guardrails.histogram_prometheus(e.histogram)
WHERE e.queryid = :nap_id;
SELECT guardrails.histogram_prometheus('\x00'::bytea);

-- Merging nothing, or only NULLs, gives NULL.
SELECT guardrails.latency_merge(h) IS NULL AS nothing
FROM (SELECT NULL::bytea WHERE false) v(h);
SELECT guardrails.latency_merge(NULL::bytea) IS NULL AS only_null;
-- An empty histogram is valid and has no quantile.
SELECT guardrails.histogram_quantile(
  '\x475244480100850400000000000000000000000000000000000000000000000000000000000000000000000000000000'::bytea || '\x00000000'::bytea,
  0.5) IS NULL AS empty_has_no_quantile;

-- Bad input: clear errors, never a crash.
SELECT guardrails.histogram_quantile(:'nap_hist', 1.5);
SELECT guardrails.histogram_quantile(:'nap_hist', 'NaN');
SELECT guardrails.histogram_quantile('\x'::bytea, 0.5);
SELECT guardrails.histogram_quantile('hello world, this is not a histogram at all, no no no'::bytea, 0.5);
-- another version
SELECT guardrails.histogram_quantile(overlay(:'nap_hist'::bytea placing '\x02'::bytea from 5), 0.5);
-- unknown flags
SELECT guardrails.histogram_quantile(overlay(:'nap_hist'::bytea placing '\x80'::bytea from 6), 0.5);
-- another layout
SELECT guardrails.histogram_quantile(overlay(:'nap_hist'::bytea placing '\x0004'::bytea from 7), 0.5);
-- truncated, or with a byte too many
SELECT guardrails.histogram_quantile(substr(:'nap_hist'::bytea, 1, length(:'nap_hist'::bytea) - 1), 0.5);
SELECT guardrails.histogram_quantile(:'nap_hist'::bytea || '\x00'::bytea, 0.5);
-- a huge bucket count
SELECT guardrails.histogram_quantile(overlay(:'nap_hist'::bytea placing '\xffffffff'::bytea from 49), 0.5);
-- a bucket out of range
SELECT guardrails.histogram_quantile(overlay(:'nap_hist'::bytea placing '\xffff'::bytea from 53), 0.5);
-- a zero count
SELECT guardrails.histogram_quantile(overlay(:'nap_hist'::bytea placing '\x0000000000000000'::bytea from 55), 0.5);
-- counts that overflow
SELECT guardrails.histogram_quantile(overlay(:'nap_hist'::bytea placing '\xffffffffffffffff'::bytea from 55), 0.5);
-- min above max
SELECT guardrails.histogram_quantile(overlay(:'nap_hist'::bytea placing '\xffffffffffffffff'::bytea from 33), 0.5);
-- bad input inside an aggregate
SELECT guardrails.latency_merge(h)
FROM (VALUES (:'nap_hist'::bytea), ('\xdeadbeef'::bytea)) v(h);
-- sums that overflow when merged
SELECT guardrails.latency_merge(h)
FROM (VALUES (overlay(:'nap_hist'::bytea placing '\xffffffffffffff7f'::bytea from 9)),
             (overlay(:'nap_hist'::bytea placing '\xffffffffffffff7f'::bytea from 9)),
             (overlay(:'nap_hist'::bytea placing '\xffffffffffffff7f'::bytea from 9))) v(h);
DEALLOCATE nap;
