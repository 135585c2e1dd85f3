-- label: hazard
-- source: squawk: ban-alter-domain-with-add-constraint; PostgreSQL: ALTER DOMAIN ... VALIDATE CONSTRAINT locks the tables that use the domain in SHARE mode (typecmds.c)
-- why: unlike a table's VALIDATE CONSTRAINT, the domain's blocks writes to every table using it for the scan
ALTER DOMAIN positive_int ADD CONSTRAINT positive_int_small CHECK (VALUE < 1000000) NOT VALID;
ALTER DOMAIN positive_int VALIDATE CONSTRAINT positive_int_small;
