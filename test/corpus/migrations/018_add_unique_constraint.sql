-- label: hazard
-- source: squawk: disallowed-unique-constraint; strong_migrations: adding a unique constraint
-- why: ADD CONSTRAINT UNIQUE builds its index without CONCURRENTLY
ALTER TABLE accounts ADD CONSTRAINT accounts_email_uq UNIQUE (email);
