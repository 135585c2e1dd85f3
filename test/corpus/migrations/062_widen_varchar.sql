-- label: safe
-- source: squawk: changing-column-type (increasing a varchar's length is safe)
-- why: varchar(32) to varchar(64) needs neither rewrite nor scan
ALTER TABLE accounts ALTER COLUMN code TYPE varchar(64);
