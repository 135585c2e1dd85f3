-- label: hazard
-- source: strong_migrations: adding a column with a volatile default
-- why: a volatile default is computed for every row: the table is rewritten under ACCESS EXCLUSIVE
ALTER TABLE accounts ADD COLUMN api_token uuid DEFAULT gen_random_uuid();
