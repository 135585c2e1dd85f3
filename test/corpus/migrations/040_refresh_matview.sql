-- label: hazard
-- source: strong_migrations: (none); PostgreSQL: REFRESH without CONCURRENTLY locks out readers
-- why: readers of the view wait for the whole refresh
REFRESH MATERIALIZED VIEW order_totals;
