-- label: hazard
-- source: squawk: adding-required-field; strong_migrations: adding a NOT NULL column without a default
-- why: existing rows have no value: the ALTER fails on a filled table, or forces a rewrite once a default is added
ALTER TABLE accounts ADD COLUMN tier text NOT NULL;
