-- label: safe
-- source: strong_migrations: adding a primary key (its safe form)
-- why: tags.id is NOT NULL already: adding the key over the concurrent index scans nothing
CREATE UNIQUE INDEX CONCURRENTLY tags_pkey_idx ON tags (id);
ALTER TABLE tags ADD CONSTRAINT tags_pkey PRIMARY KEY USING INDEX tags_pkey_idx;
