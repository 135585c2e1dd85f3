-- label: safe
-- source: PostgreSQL: REFRESH MATERIALIZED VIEW CONCURRENTLY lets readers go on
-- why: readers are not blocked; a unique index exists
REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals;
