-- label: hazard
-- source: squawk: adding-foreign-key-constraint; strong_migrations: adding a foreign key
-- why: validation scans the table while writes to both tables are blocked
ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);
