-- label: safe
-- source: squawk: adding-not-nullable-field (its safe form)
-- why: a validated CHECK (email IS NOT NULL) lets SET NOT NULL skip its scan
ALTER TABLE accounts ADD CONSTRAINT accounts_email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_email_nn;
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
ALTER TABLE accounts DROP CONSTRAINT accounts_email_nn;
