-- label: safe
-- source: squawk: disallowed-unique-constraint (its safe form)
-- why: the index is built concurrently; ADD CONSTRAINT ... USING INDEX is a catalog change
CREATE UNIQUE INDEX CONCURRENTLY accounts_code_key ON accounts (code);
ALTER TABLE accounts ADD CONSTRAINT accounts_code_uq UNIQUE USING INDEX accounts_code_key;
