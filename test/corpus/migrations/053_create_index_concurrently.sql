-- label: safe
-- source: squawk: require-concurrent-index-creation
-- why: the concurrent build lets reads and writes go on
CREATE INDEX CONCURRENTLY orders_amount_idx ON orders (amount);
