-- Flyway: add a column, fill it, make it NOT NULL.  The SET NOT NULL
-- scans the whole table for NULLs under ACCESS EXCLUSIVE.
ALTER TABLE account ADD COLUMN tier text;
UPDATE account SET tier = 'basic';
ALTER TABLE account ALTER COLUMN tier SET NOT NULL;
