-- Rails: AddStatusToOrders, as ActiveRecord runs it (one transaction per
-- migration, then its version into schema_migrations).
--   add_column :orders, :status, :string, null: false, default: "new"
BEGIN;
ALTER TABLE "orders" ADD "status" character varying DEFAULT 'new' NOT NULL;
INSERT INTO "schema_migrations" ("version") VALUES ('20261102083000') RETURNING "version";
COMMIT;
