-- label: hazard
-- source: squawk: disallowed-unique-constraint
-- why: UNIQUE declared inline in ADD COLUMN builds an index under ACCESS EXCLUSIVE
ALTER TABLE accounts ADD COLUMN handle text UNIQUE;
