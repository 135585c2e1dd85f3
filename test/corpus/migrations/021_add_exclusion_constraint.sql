-- label: hazard
-- source: strong_migrations: adding an exclusion constraint
-- why: an exclusion constraint builds its index and checks all rows under ACCESS EXCLUSIVE
ALTER TABLE orders ADD CONSTRAINT orders_id_excl EXCLUDE USING btree (id WITH =);
