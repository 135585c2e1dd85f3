-- label: hazard
-- source: pg_guardrails: index_concurrently; PostgreSQL docs: REINDEX CONCURRENTLY
-- why: as above, for one index
REINDEX INDEX orders_created_idx;
