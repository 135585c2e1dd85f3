-- label: hazard
-- source: squawk: require-concurrent-index-deletion; strong_migrations: removing an index non-concurrently
-- why: DROP INDEX takes ACCESS EXCLUSIVE on the table
DROP INDEX orders_created_idx;
