-- label: hazard
-- source: squawk: adding-not-nullable-field (the Flyway add, update, set not null pattern)
-- why: the column was added nullable: SET NOT NULL still scans, whatever the UPDATE filled
ALTER TABLE accounts ADD COLUMN tier text;
UPDATE accounts SET tier = 'basic';
ALTER TABLE accounts ALTER COLUMN tier SET NOT NULL;
