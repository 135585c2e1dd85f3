-- label: hazard
-- source: strong_migrations: adding a stored generated column
-- why: the generated value is computed and stored for every row: a rewrite
ALTER TABLE accounts ADD COLUMN balance_cents bigint GENERATED ALWAYS AS (balance * 100) STORED;
