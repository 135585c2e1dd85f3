-- label: hazard
-- source: squawk: renaming-table; strong_migrations: renaming a table
-- why: running clients still use the old name and fail
ALTER TABLE orders RENAME TO purchases;
