-- label: hazard
-- source: eugene: adding a column that fills every row
-- why: an identity column is filled for every row: a rewrite
ALTER TABLE tags ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;
