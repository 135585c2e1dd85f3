-- label: safe
-- source: PostgreSQL: a new enum value may be used once its transaction committed
-- why: the UPDATE runs in its own transaction after the ADD VALUE committed
ALTER TYPE order_status ADD VALUE 'shipped';
UPDATE orders SET state = 'shipped' WHERE id = 1;
