-- label: hazard
-- source: strong_migrations: renaming a schema (issue 24)
-- why: every client that names billing.* fails
ALTER SCHEMA billing RENAME TO invoicing;
