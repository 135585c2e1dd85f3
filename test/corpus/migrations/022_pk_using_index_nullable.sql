-- label: hazard
-- source: strong_migrations: adding a primary key; PostgreSQL docs: PRIMARY KEY USING INDEX makes the columns NOT NULL
-- why: the index is built concurrently, but id is nullable: adding the key scans for NULLs under ACCESS EXCLUSIVE
CREATE UNIQUE INDEX CONCURRENTLY line_items_id_key ON line_items (id);
ALTER TABLE line_items ADD CONSTRAINT line_items_pkey PRIMARY KEY USING INDEX line_items_id_key;
