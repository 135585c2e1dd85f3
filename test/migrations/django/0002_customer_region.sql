BEGIN;
--
-- Add field region to customer
--
ALTER TABLE "shop_customer" ADD COLUMN "region" varchar(20) DEFAULT 'eu' NOT NULL;
ALTER TABLE "shop_customer" ALTER COLUMN "region" DROP DEFAULT;
COMMIT;
