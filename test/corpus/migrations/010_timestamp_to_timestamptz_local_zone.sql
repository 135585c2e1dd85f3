-- label: hazard
-- source: strong_migrations: changing timestamp to timestamptz (safe only when the session time zone is UTC)
-- why: outside UTC the stored values must be converted: a rewrite
SET timezone = 'Europe/Paris';
ALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;
