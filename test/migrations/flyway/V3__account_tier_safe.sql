-- Flyway: the same, proven first by a validated check, so the SET NOT
-- NULL no longer scans.
ALTER TABLE account ADD COLUMN plan text;
UPDATE account SET plan = 'basic';
ALTER TABLE account ADD CONSTRAINT account_plan_nn CHECK (plan IS NOT NULL) NOT VALID;
ALTER TABLE account VALIDATE CONSTRAINT account_plan_nn;
ALTER TABLE account ALTER COLUMN plan SET NOT NULL;
