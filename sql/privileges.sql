--
-- Statistics are for everyone; changing anything is for guardrails_admin.
--
CREATE ROLE grd_reader LOGIN;
CREATE ROLE grd_operator LOGIN IN ROLE guardrails_admin;

SET ROLE grd_reader;
SELECT count(*) >= 0 AS can_read_latency FROM guardrails.latency;
SELECT count(*) >= 0 AS can_read_buckets FROM guardrails.latency_buckets;
SELECT count(*) > 0 AS can_read_status FROM guardrails.status;
SELECT guardrails.quantile(1, 0.5) IS NULL AS can_ask_quantile;
SELECT guardrails.latency_reset();
SELECT guardrails.latency_reset(1);
RESET ROLE;

SET ROLE grd_operator;
SELECT guardrails.latency_reset(1) AS removed;
SELECT guardrails.latency_reset() >= 0 AS reset;
RESET ROLE;

-- no function that changes anything is executable by PUBLIC
SELECT p.oid::regprocedure AS function
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'guardrails'
  AND has_function_privilege('grd_reader', p.oid, 'EXECUTE')
ORDER BY p.oid::regprocedure::text COLLATE "C";  -- by name: OIDs follow the script

-- guardrails.track is superuser-only: a user cannot switch tracking off
SET ROLE grd_reader;
SET guardrails.track = 'none';
RESET ROLE;

DROP ROLE grd_reader;
DROP ROLE grd_operator;
