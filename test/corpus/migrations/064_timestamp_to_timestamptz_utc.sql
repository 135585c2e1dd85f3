-- label: safe
-- source: strong_migrations: changing timestamp to timestamptz when the session time zone is UTC
-- why: under UTC the values need no conversion: no rewrite (PostgreSQL 12+)
SET timezone = 'UTC';
ALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;
