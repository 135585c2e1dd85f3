-- label: safe
-- source: squawk: adding-field-with-default (a column without a default is always fine)
-- why: a nullable column without a default is a catalog change only
ALTER TABLE accounts ADD COLUMN nickname text;
