-- label: hazard
-- source: squawk: ban-alter-domain-with-add-constraint
-- why: the new domain check is validated against every stored value while writes to those tables are blocked
ALTER DOMAIN positive_int ADD CONSTRAINT positive_int_small CHECK (VALUE < 1000000);
