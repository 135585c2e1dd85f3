-- label: hazard
-- source: squawk: changing-column-type; strong_migrations: changing the type of a column
-- why: text to varchar(10) checks the length of every value (a rewrite)
ALTER TABLE accounts ALTER COLUMN status TYPE varchar(10);
