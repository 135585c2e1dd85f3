-- Rails: AddIndexToOrdersCustomerId
--   add_index :orders, :customer_id
-- The build blocks writes to orders for as long as it lasts.
BEGIN;
CREATE INDEX "index_orders_on_customer_id" ON "orders" ("customer_id");
INSERT INTO "schema_migrations" ("version") VALUES ('20261103091500') RETURNING "version";
COMMIT;
