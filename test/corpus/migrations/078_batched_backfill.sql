-- label: safe
-- source: strong_migrations: backfilling data (in batches, outside the schema change's transaction)
-- why: each UPDATE is its own short transaction and no strong lock is held
ALTER TABLE orders ADD COLUMN flagged boolean;
UPDATE orders SET flagged = false WHERE id BETWEEN 1 AND 500;
UPDATE orders SET flagged = false WHERE id BETWEEN 501 AND 1000;
