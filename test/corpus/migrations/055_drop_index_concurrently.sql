-- label: safe
-- source: squawk: require-concurrent-index-deletion
-- why: DROP INDEX CONCURRENTLY waits for readers without blocking them
DROP INDEX CONCURRENTLY orders_created_idx;
