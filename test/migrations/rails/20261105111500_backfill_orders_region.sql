-- Rails: BackfillOrdersRegion
--   add_column :orders, :region, :string
--   Order.update_all(region: "eu")
-- The ALTER's ACCESS EXCLUSIVE lock is held through the whole UPDATE.
BEGIN;
ALTER TABLE "orders" ADD "region" character varying;
UPDATE "orders" SET "region" = 'eu';
INSERT INTO "schema_migrations" ("version") VALUES ('20261105111500') RETURNING "version";
COMMIT;
