-- Rails: AddIndexToOrdersCreatedAt, with disable_ddl_transaction!
--   add_index :orders, :created_at, algorithm: :concurrently
CREATE INDEX CONCURRENTLY "index_orders_on_created_at" ON "orders" ("created_at");
INSERT INTO "schema_migrations" ("version") VALUES ('20261104100000') RETURNING "version";
