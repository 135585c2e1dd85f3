-- label: safe
-- source: strong_migrations: operations on a new table are safe
-- why: the table is created in the same transaction: no one else can see it
BEGIN;
CREATE TABLE shipments (id bigint, order_id bigint, carrier text);
INSERT INTO shipments VALUES (1, 1, 'post');
CREATE INDEX shipments_order_idx ON shipments (order_id);
ALTER TABLE shipments ADD PRIMARY KEY (id);
ALTER TABLE shipments ADD CONSTRAINT shipments_order_fk FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE shipments ALTER COLUMN carrier SET NOT NULL;
COMMIT;
