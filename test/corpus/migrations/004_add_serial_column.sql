-- label: hazard
-- source: squawk: prefer-identity (serial); eugene: adding a column that fills every row
-- why: a serial column takes a value from the sequence for every existing row: a rewrite
ALTER TABLE line_items ADD COLUMN seq bigserial;
