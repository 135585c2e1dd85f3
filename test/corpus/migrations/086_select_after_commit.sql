-- label: safe
-- source: eugene: E4 (its safe form: commit before querying)
-- why: the schema change commits before the UPDATE, so no lock is held across it
BEGIN;
ALTER TABLE orders ADD COLUMN flagged boolean;
COMMIT;
UPDATE orders SET flagged = false WHERE id < 100;
