-- label: safe
-- source: squawk: require-concurrent-index-creation
-- why: as above
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note_idx ON orders (note);
