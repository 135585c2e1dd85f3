-- label: safe
-- source: squawk: (no rule); a default is a catalog change
-- why: changing a default touches no row
ALTER TABLE accounts ALTER COLUMN status SET DEFAULT 'pending';
ALTER TABLE accounts ALTER COLUMN region DROP DEFAULT;
