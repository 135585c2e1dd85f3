-- label: hazard
-- source: squawk: require-concurrent-index-creation (Rails wraps each migration in a transaction)
-- why: the index is built without CONCURRENTLY, inside the migration's transaction
BEGIN;
ALTER TABLE orders ADD COLUMN source text;
CREATE INDEX index_orders_on_account_id_and_amount ON orders (account_id, amount);
COMMIT;
