-- label: hazard
-- source: pg_guardrails: index_concurrently; PostgreSQL docs: REINDEX CONCURRENTLY
-- why: REINDEX without CONCURRENTLY blocks writes (and reads through the index) while it runs
REINDEX TABLE orders;
