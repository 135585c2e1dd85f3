-- label: hazard
-- source: strong_migrations: renaming an enum value (issue 24)
-- why: clients that write the old value fail
ALTER TYPE order_status RENAME VALUE 'paid' TO 'settled';
