-- label: safe
-- source: squawk: (no rule); a new view
-- why: no data is touched
CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 1000;
