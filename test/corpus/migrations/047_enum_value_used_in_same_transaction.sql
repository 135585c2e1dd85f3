-- label: hazard
-- source: PostgreSQL refuses a new enum value used in the transaction that added it (issue 24)
-- why: the UPDATE fails at run time: unsafe use of new value
BEGIN;
ALTER TYPE order_status ADD VALUE 'shipped';
UPDATE orders SET state = 'shipped' WHERE id = 1;
COMMIT;
