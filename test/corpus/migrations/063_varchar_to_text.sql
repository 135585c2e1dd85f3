-- label: safe
-- source: strong_migrations: changing varchar to text is safe
-- why: binary coercible: no rewrite
ALTER TABLE accounts ALTER COLUMN code TYPE text;
