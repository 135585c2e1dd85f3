-- label: safe
-- source: strong_migrations: use jsonb rather than json
-- why: jsonb has an equality operator, and a nullable column is a catalog change
ALTER TABLE orders ADD COLUMN attributes jsonb;
