-- label: safe
-- source: pg_guardrails: index_concurrently; PostgreSQL docs: REINDEX CONCURRENTLY
-- why: REINDEX CONCURRENTLY blocks neither reads nor writes
REINDEX INDEX CONCURRENTLY orders_created_idx;
