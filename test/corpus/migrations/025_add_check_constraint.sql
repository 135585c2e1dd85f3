-- label: hazard
-- source: squawk: constraint-missing-not-valid; strong_migrations: adding a check constraint
-- why: validation scans the whole table under ACCESS EXCLUSIVE
ALTER TABLE accounts ADD CONSTRAINT accounts_balance_nonneg CHECK (balance >= 0);
