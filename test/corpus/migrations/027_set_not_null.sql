-- label: hazard
-- source: squawk: adding-not-nullable-field; strong_migrations: setting NOT NULL on an existing column
-- why: SET NOT NULL scans the table for NULLs under ACCESS EXCLUSIVE
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
