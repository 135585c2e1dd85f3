-- label: hazard
-- source: eugene: E4 (statements run while holding an ACCESS EXCLUSIVE lock)
-- why: the ALTER's ACCESS EXCLUSIVE lock is held through the whole UPDATE
BEGIN;
ALTER TABLE orders ADD COLUMN flagged boolean;
UPDATE orders SET flagged = false;
COMMIT;
