-- label: safe
-- source: squawk: constraint-missing-not-valid (its safe form)
-- why: NOT VALID, then VALIDATE in another transaction under SHARE UPDATE EXCLUSIVE
ALTER TABLE accounts ADD CONSTRAINT accounts_balance_nonneg CHECK (balance >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_balance_nonneg;
