-- label: safe
-- source: squawk: adding-field-with-default (safe from PostgreSQL 11); strong_migrations: adding a column with a default
-- why: a constant default is stored in the catalog: no rewrite
ALTER TABLE accounts ADD COLUMN active boolean NOT NULL DEFAULT true;
