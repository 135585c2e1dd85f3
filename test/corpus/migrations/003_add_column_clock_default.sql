-- label: hazard
-- source: strong_migrations: adding a column with a volatile default
-- why: clock_timestamp() is volatile: a rewrite, as above
ALTER TABLE orders ADD COLUMN touched_at timestamptz DEFAULT clock_timestamp();
