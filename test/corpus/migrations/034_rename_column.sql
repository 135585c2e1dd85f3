-- label: hazard
-- source: squawk: renaming-column; strong_migrations: renaming a column
-- why: running clients still use the old name and fail
ALTER TABLE accounts RENAME COLUMN name TO full_name;
