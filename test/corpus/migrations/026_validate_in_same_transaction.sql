-- label: hazard
-- source: squawk: constraint-missing-not-valid (validating in the same transaction)
-- why: the transaction still holds the ADD's ACCESS EXCLUSIVE lock while VALIDATE scans
BEGIN;
ALTER TABLE accounts ADD CONSTRAINT accounts_balance_nonneg CHECK (balance >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_balance_nonneg;
COMMIT;
