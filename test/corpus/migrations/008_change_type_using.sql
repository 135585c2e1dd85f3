-- label: hazard
-- source: squawk: changing-column-type
-- why: a text column converted to int through USING: every row is rewritten
ALTER TABLE accounts ALTER COLUMN code TYPE int USING length(code);
