-- label: hazard
-- source: strong_migrations: removing a column (ignore it in the application first)
-- why: clients that still select the column fail; the server cannot tell whether any does
ALTER TABLE accounts DROP COLUMN region;
