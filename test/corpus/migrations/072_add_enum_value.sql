-- label: safe
-- source: strong_migrations: adding an enum value (safe outside a transaction that uses it)
-- why: ADD VALUE touches no table
ALTER TYPE order_status ADD VALUE 'refunded';
