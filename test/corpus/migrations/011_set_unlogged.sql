-- label: hazard
-- source: strong_migrations: (none); PostgreSQL rewrites the table for SET UNLOGGED
-- why: SET UNLOGGED copies the whole table under ACCESS EXCLUSIVE
ALTER TABLE accounts SET UNLOGGED;
