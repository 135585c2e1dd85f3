-- label: hazard
-- source: strong_migrations: disable_ddl_transaction! for concurrent indexes; PostgreSQL refuses CONCURRENTLY in a transaction block
-- why: the migration fails at run time: CREATE INDEX CONCURRENTLY cannot run inside a transaction block
BEGIN;
CREATE INDEX CONCURRENTLY orders_note_idx ON orders (note);
COMMIT;
