-- label: hazard
-- source: eugene: E15 (foreign key without an index on the referencing columns)
-- why: NOT VALID keeps the ADD brief, but line_items.order_id has no index: every delete or key update on orders scans line_items
ALTER TABLE line_items ADD CONSTRAINT line_items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id) NOT VALID;
