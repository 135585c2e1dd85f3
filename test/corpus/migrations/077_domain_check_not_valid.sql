-- label: safe
-- source: squawk: ban-alter-domain-with-add-constraint (NOT VALID checks new values only)
-- why: NOT VALID scans nothing; existing values stay unchecked until a later decision
ALTER DOMAIN positive_int ADD CONSTRAINT positive_int_small CHECK (VALUE < 1000000) NOT VALID;
