-- label: safe
-- source: strong_migrations: adding a column with a non-volatile default
-- why: now() is stable: evaluated once, no rewrite
ALTER TABLE orders ADD COLUMN imported_at timestamptz DEFAULT now();
