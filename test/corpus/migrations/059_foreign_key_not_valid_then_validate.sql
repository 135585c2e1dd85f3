-- label: safe
-- source: squawk: adding-foreign-key-constraint (its safe form)
-- why: NOT VALID is brief; VALIDATE in its own transaction lets writes go on; orders.account_id is indexed
ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_account_fk;
