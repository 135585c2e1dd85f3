-- label: hazard
-- source: squawk: disallowed-unique-constraint (a primary key builds the same index); strong_migrations: adding a primary key
-- why: the key's index is built under ACCESS EXCLUSIVE, and the nullable column is scanned for NULLs
ALTER TABLE line_items ADD PRIMARY KEY (id);
