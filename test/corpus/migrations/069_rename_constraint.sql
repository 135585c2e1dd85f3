-- label: safe
-- source: squawk: (no rule); queries do not name constraints
-- why: a catalog change that no client depends on
ALTER TABLE orders RENAME CONSTRAINT orders_amount_nonneg TO orders_amount_check;
