-- label: hazard
-- source: eugene: E4 (a strong lock held across later statements)
-- why: LOCK TABLE in SHARE mode blocks writers for as long as the report runs
BEGIN;
LOCK TABLE orders IN SHARE MODE;
SELECT account_id, sum(amount) FROM orders GROUP BY account_id;
COMMIT;
