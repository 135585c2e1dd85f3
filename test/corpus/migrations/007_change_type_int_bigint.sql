-- label: hazard
-- source: squawk: changing-column-type; strong_migrations: changing the type of a column
-- why: int to bigint changes the storage of every row: a rewrite under ACCESS EXCLUSIVE
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
