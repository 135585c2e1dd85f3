-- label: safe
-- source: strong_migrations: renaming a table (its safe form, a view under the old name)
-- why: clients keep using the old name through the view, created in the same transaction
BEGIN;
ALTER TABLE orders RENAME TO purchases;
CREATE VIEW orders AS SELECT * FROM purchases;
COMMIT;
