-- label: safe
-- source: pg_guardrails: detach_concurrently (its safe form)
-- why: DETACH ... CONCURRENTLY takes SHARE UPDATE EXCLUSIVE only
ALTER TABLE events DETACH PARTITION events_2025 CONCURRENTLY;
