-- label: hazard
-- source: pg_guardrails: detach_concurrently (no squawk rule)
-- why: DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the partitioned table
ALTER TABLE events DETACH PARTITION events_2025;
