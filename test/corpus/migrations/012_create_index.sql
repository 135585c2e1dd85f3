-- label: hazard
-- source: squawk: require-concurrent-index-creation; strong_migrations: adding an index non-concurrently
-- why: the build blocks writes to the table for its whole duration
CREATE INDEX orders_amount_idx ON orders (amount);
