-- label: hazard
-- source: squawk: require-concurrent-index-creation
-- why: as above, for a unique index
CREATE UNIQUE INDEX accounts_email_key ON accounts (email);
