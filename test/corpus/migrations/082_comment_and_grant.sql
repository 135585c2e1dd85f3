-- label: safe
-- source: squawk: (no rule)
-- why: catalog changes only
COMMENT ON TABLE orders IS 'customer orders';
GRANT SELECT ON orders TO PUBLIC;
