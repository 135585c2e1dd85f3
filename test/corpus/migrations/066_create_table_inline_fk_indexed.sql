-- label: safe
-- source: eugene: E15 (its safe form: the referencing column is indexed)
-- why: a new, empty table; its foreign key column gets an index
CREATE TABLE notes (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts (id), body text);
CREATE INDEX notes_account_idx ON notes (account_id);
