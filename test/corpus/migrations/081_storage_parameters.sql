-- label: safe
-- source: squawk: (no rule); SET (fillfactor) takes SHARE UPDATE EXCLUSIVE
-- why: a catalog change that blocks neither reads nor writes
ALTER TABLE orders SET (fillfactor = 90);
ALTER TABLE orders ALTER COLUMN amount SET STATISTICS 500;
