-- label: safe
-- source: strong_migrations: (no rule); dropping NOT NULL scans nothing
-- why: a catalog change
ALTER TABLE accounts ALTER COLUMN name DROP NOT NULL;
