-- guardrails.check_migration() reads the whole script: what it creates,
-- alters and drops, the settings it sets, the locks its transaction blocks
-- hold; and rule lock_held at run time
CREATE EXTENSION IF NOT EXISTS pg_guardrails;
SET client_min_messages = warning;
CREATE SCHEMA scr;
CREATE SCHEMA scr_other;
SET search_path = scr, public;
SET guardrails.ddl_policy = enforce;
SET guardrails.ddl_policy_min_size = 0;
CREATE TABLE orders (id int, customer_id int, note text,
					 created timestamp, code text NOT NULL);
INSERT INTO orders
SELECT i, i % 10, 'n', '2026-01-01', 'c' FROM generate_series(1, 1000) i;
SET client_min_messages = notice;

--
-- objects the script creates, alters and drops
--
-- an index created by the script, then a primary key over it: its
-- nullable column becomes NOT NULL by a scan (rule set_not_null)
SELECT statement, rule, certain FROM guardrails.check_migration($$
CREATE UNIQUE INDEX CONCURRENTLY orders_id_key ON orders (id);
ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_id_key;
$$);
-- the same verdict as when the index exists already, and execution agrees
CREATE UNIQUE INDEX CONCURRENTLY orders_id_key ON orders (id);
SELECT statement, rule FROM guardrails.check_migration(
	'ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_id_key');
\set VERBOSITY terse
ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_id_key;
\set VERBOSITY default
-- an index of the script over a NOT NULL column: ok
SELECT count(*) FROM guardrails.check_migration($$
CREATE UNIQUE INDEX CONCURRENTLY orders_code_key ON orders (code);
ALTER TABLE orders ADD CONSTRAINT orders_code_pkey PRIMARY KEY USING INDEX orders_code_key;
$$);

-- a column the script adds, backfills and makes NOT NULL (Flyway style)
SELECT statement, rule FROM guardrails.check_migration($$
ALTER TABLE orders ADD COLUMN region text;
UPDATE orders SET region = 'eu';
ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
$$);
-- and execution agrees
ALTER TABLE orders ADD COLUMN region text;
UPDATE orders SET region = 'eu';
\set VERBOSITY terse
ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
\set VERBOSITY default
ALTER TABLE orders DROP COLUMN region;
-- proven by a validated check of the script: ok
SELECT count(*) FROM guardrails.check_migration($$
ALTER TABLE orders ADD COLUMN region text;
UPDATE orders SET region = 'eu';
ALTER TABLE orders ADD CONSTRAINT orders_region_nn CHECK (region IS NOT NULL) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_region_nn;
ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
$$);
-- added NOT NULL with a default: already NOT NULL, ok
SELECT count(*) FROM guardrails.check_migration($$
ALTER TABLE orders ADD COLUMN region text NOT NULL DEFAULT 'eu';
ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
$$);
-- a NOT NULL column dropped and added again holds NULLs
SELECT statement, rule FROM guardrails.check_migration($$
ALTER TABLE orders DROP COLUMN code;
ALTER TABLE orders ADD COLUMN code text;
ALTER TABLE orders ALTER COLUMN code SET NOT NULL;
$$);

-- a table the script drops and creates again is new and empty: ok
SELECT count(*) FROM guardrails.check_migration($$
DROP TABLE orders;
CREATE TABLE orders (id int, note text);
CREATE INDEX orders_note ON orders (note);
ALTER TABLE orders ALTER COLUMN id TYPE bigint;
ALTER TABLE orders RENAME COLUMN note TO remark;
$$);
-- the same statements on the table that exists
SELECT statement, rule FROM guardrails.check_migration($$
CREATE INDEX orders_note ON orders (note);
ALTER TABLE orders ALTER COLUMN id TYPE bigint;
ALTER TABLE orders RENAME COLUMN note TO remark;
$$);

--
-- the settings the script sets
--
-- timestamp -> timestamptz rewrites unless the session's timezone is UTC
SET timezone = 'UTC';
SELECT count(*) FROM guardrails.check_migration(
	'ALTER TABLE orders ALTER COLUMN created TYPE timestamptz');
SELECT statement, rule, certain FROM guardrails.check_migration($$
SET TIME ZONE 'Europe/Paris';
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
SET timezone = 'Europe/Paris';
SELECT statement, rule, certain FROM guardrails.check_migration(
	'ALTER TABLE orders ALTER COLUMN created TYPE timestamptz');
SELECT count(*) FROM guardrails.check_migration($$
SET timezone = 'UTC';
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
-- SET LOCAL lasts until the end of its block
SELECT statement, rule, certain FROM guardrails.check_migration($$
BEGIN;
SET LOCAL timezone = 'UTC';
COMMIT;
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
SELECT count(*) FROM guardrails.check_migration($$
BEGIN;
SET LOCAL timezone = 'UTC';
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
COMMIT;
$$);
-- and does nothing outside a block
SELECT statement, rule FROM guardrails.check_migration($$
SET LOCAL timezone = 'UTC';
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
-- a block that rolls back undoes its SET; one that commits keeps it
SELECT statement, rule FROM guardrails.check_migration($$
BEGIN;
SET timezone = 'UTC';
ROLLBACK;
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
SELECT count(*) FROM guardrails.check_migration($$
BEGIN;
SET timezone = 'UTC';
COMMIT;
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
-- RESET goes back to the session's default (not UTC under pg_regress)
SELECT statement, rule FROM guardrails.check_migration($$
SET timezone = 'UTC';
RESET timezone;
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
-- set_config(), a DO block or a CALL may change it unseen: not certain
SELECT statement, rule, certain FROM guardrails.check_migration($$
SET timezone = 'UTC';
SELECT set_config('timezone', 'Europe/Paris', false);
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
SELECT statement, rule, certain FROM guardrails.check_migration($$
DO $do$ BEGIN EXECUTE 'SET timezone = ''UTC'''; END $do$;
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
-- a timezone the server refuses: unknown from then on
SELECT statement, rule, certain FROM guardrails.check_migration($$
SET timezone = 'UTC';
SET timezone = 'Nowhere/Atlantis';
ALTER TABLE orders ALTER COLUMN created TYPE timestamptz;
$$);
-- the caller's settings are as they were
SHOW timezone;

-- the policy's own settings
SELECT statement, rule, level FROM guardrails.check_migration($$
CREATE INDEX orders_note ON orders (note);
SET guardrails.ddl_policy_rules = 'index_concurrently: warn';
CREATE INDEX orders_note ON orders (note);
SET guardrails.ddl_policy_min_size = '1GB';
CREATE INDEX orders_note ON orders (note);
RESET guardrails.ddl_policy_min_size;
$$);
SHOW guardrails.ddl_policy_rules;
SHOW guardrails.ddl_policy_min_size;
-- a role that may not set them changes nothing, as the script would fail
CREATE ROLE grd_script_dev;
GRANT USAGE ON SCHEMA scr TO grd_script_dev;
ALTER TABLE orders OWNER TO grd_script_dev;
SET ROLE grd_script_dev;
SELECT statement, rule, level FROM guardrails.check_migration($$
SET guardrails.ddl_policy = off;
CREATE INDEX orders_note ON orders (note);
$$);
RESET ROLE;
ALTER TABLE orders OWNER TO CURRENT_USER;
DROP OWNED BY grd_script_dev;
DROP ROLE grd_script_dev;

--
-- a strong lock held across later statements: rule lock_held
--
\set locked 'BEGIN;\nALTER TABLE orders ADD COLUMN flag int;\nUPDATE orders SET flag = 0;\nSELECT count(*) FROM orders o JOIN orders p USING (id);\nCOMMIT;\n'
SELECT statement, line, command, rule, level, certain, table_name
FROM guardrails.check_migration(E:'locked');
SELECT message, regexp_replace(detail, '\(\d+ kB\)', '(size)') AS detail, hint
FROM guardrails.check_migration(E:'locked') WHERE statement = 3;
-- outside a block each statement commits its own: ok
SELECT count(*) FROM guardrails.check_migration($$
ALTER TABLE orders ADD COLUMN flag int;
UPDATE orders SET flag = 0;
$$);
-- a lock that blocks no write (SHARE UPDATE EXCLUSIVE), a table created in
-- the block, and the statements after the block: ok
SELECT count(*) FROM guardrails.check_migration($$
BEGIN;
ALTER TABLE orders SET (fillfactor = 90);
UPDATE orders SET note = 'm';
CREATE TABLE staging (id int);
LOCK TABLE staging IN ACCESS EXCLUSIVE MODE;
INSERT INTO staging SELECT id FROM staging;
COMMIT;
UPDATE orders SET note = 'm';
$$);
-- LOCK TABLE, and COPY
SELECT statement, rule, message FROM guardrails.check_migration($$
BEGIN;
LOCK TABLE orders IN SHARE MODE;
COPY orders TO STDOUT;
COPY orders (id) FROM STDIN;
DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE note = 'x');
COMMIT;
$$);

-- at run time
\set VERBOSITY terse
BEGIN;
ALTER TABLE orders ADD COLUMN flag int;
UPDATE orders SET flag = 0;
ROLLBACK;
SET guardrails.ddl_policy_rules = 'lock_held: warn';
BEGIN;
ALTER TABLE orders ADD COLUMN flag int;
SELECT count(*) FROM orders;
-- EXPLAIN without ANALYZE runs nothing: ok
EXPLAIN (COSTS OFF) UPDATE orders SET flag = 0;
ROLLBACK;
-- a lock that blocks no write, and the next transaction: ok
BEGIN;
ALTER TABLE orders SET (fillfactor = 90);
UPDATE orders SET note = 'm';
COMMIT;
UPDATE orders SET note = 'n';
-- a table created in the transaction: ok
BEGIN;
CREATE TABLE staging AS SELECT * FROM orders;
ALTER TABLE staging ADD COLUMN flag int;
UPDATE staging SET flag = 0;
ROLLBACK;
-- the rule off
SET guardrails.ddl_policy_rules = 'lock_held: off';
BEGIN;
ALTER TABLE orders ADD COLUMN flag int;
UPDATE orders SET flag = 0;
ROLLBACK;
RESET guardrails.ddl_policy_rules;
\set VERBOSITY default

--
-- false positives removed
--
-- CREATE INDEX ON ONLY a partitioned table builds nothing: indexing a
-- partitioned table works under enforce, the way the hint says
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events
	FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events SELECT i, '2025-06-01' FROM generate_series(1, 1000) i;
\set VERBOSITY terse
CREATE INDEX events_at ON events (at);
CREATE INDEX CONCURRENTLY events_at ON events (at);
\set VERBOSITY default
SELECT count(*) FROM guardrails.check_migration($$
CREATE INDEX events_id ON ONLY events (id);
CREATE INDEX CONCURRENTLY events_2025_id ON events_2025 (id);
ALTER INDEX events_id ATTACH PARTITION events_2025_id;
$$);
CREATE INDEX events_id ON ONLY events (id);
CREATE INDEX CONCURRENTLY events_2025_id ON events_2025 (id);
ALTER INDEX events_id ATTACH PARTITION events_2025_id;
SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_id'::regclass;

-- a table renamed, and a view under its old name in the same transaction:
-- the hint's backward-compatible way
\set renamed 'BEGIN;\nALTER TABLE orders RENAME TO purchases;\nCREATE VIEW orders AS SELECT * FROM purchases;\nCOMMIT;\n'
SELECT count(*) FROM guardrails.check_migration(E:'renamed');
-- the view in another transaction, or none: rule rename
SELECT statement, rule FROM guardrails.check_migration($$
BEGIN;
ALTER TABLE orders RENAME TO purchases;
COMMIT;
CREATE VIEW orders AS SELECT * FROM purchases;
BEGIN;
ALTER TABLE orders RENAME TO purchases;
CREATE VIEW orders_v AS SELECT * FROM purchases;
COMMIT;
ALTER TABLE orders RENAME TO purchases;
CREATE VIEW orders AS SELECT * FROM purchases;
$$);
-- at run time, the verdict waits for the commit
BEGIN;
ALTER TABLE orders RENAME TO purchases;
CREATE VIEW orders AS SELECT * FROM purchases;
COMMIT;
SELECT relname, relkind FROM pg_class
WHERE relnamespace = 'scr'::regnamespace AND relname IN ('orders', 'purchases')
ORDER BY 1;
SET guardrails.ddl_policy_rules = 'rename: off';
BEGIN;
DROP VIEW orders;
ALTER TABLE purchases RENAME TO orders;
COMMIT;
RESET guardrails.ddl_policy_rules;
-- without the view, the commit is refused, and nothing is renamed
\set VERBOSITY terse
BEGIN;
ALTER TABLE orders RENAME TO purchases;
COMMIT;
SELECT count(*) FROM orders;
-- renamed back before the commit: nothing renamed
BEGIN;
ALTER TABLE orders RENAME TO purchases;
ALTER TABLE purchases RENAME TO orders;
COMMIT;
-- outside a transaction block, at once
ALTER TABLE orders RENAME TO purchases;
-- warn: a WARNING at the commit
SET guardrails.ddl_policy_rules = 'rename: warn';
BEGIN;
ALTER TABLE orders SET SCHEMA scr_other;
ALTER TABLE scr_other.orders SET SCHEMA scr;
ALTER TABLE orders RENAME TO purchases;
COMMIT;
ALTER TABLE purchases RENAME TO orders;
RESET guardrails.ddl_policy_rules;
\set VERBOSITY default

--
-- rules the peers have
--
-- renaming a schema, or a value of an enum: running clients break
CREATE SCHEMA scr_old;
CREATE TYPE mood AS ENUM ('sad', 'ok');
SELECT statement, rule, message FROM guardrails.check_migration($$
ALTER SCHEMA scr_old RENAME TO scr_new;
ALTER TYPE mood RENAME VALUE 'ok' TO 'happy';
ALTER TYPE mood ADD VALUE 'happy';
$$);
\set VERBOSITY terse
ALTER SCHEMA scr_old RENAME TO scr_new;
ALTER TYPE mood RENAME VALUE 'ok' TO 'happy';
\set VERBOSITY default
-- CONCURRENTLY forms and VACUUM inside a block: PostgreSQL refuses them
SELECT statement, command, rule, level FROM guardrails.check_migration($$
BEGIN;
CREATE INDEX CONCURRENTLY orders_note ON orders (note);
DROP INDEX CONCURRENTLY orders_note;
REINDEX TABLE CONCURRENTLY orders;
VACUUM orders;
REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals;
COMMIT;
CREATE INDEX CONCURRENTLY orders_note ON orders (note);
VACUUM orders;
$$);
SELECT message, detail, hint FROM guardrails.check_migration(
	'BEGIN; CREATE INDEX CONCURRENTLY orders_note ON orders (note); COMMIT;');


-- TRUNCATE of a table with data, and TRUNCATE ... CASCADE at any size
CREATE TABLE customers (id int PRIMARY KEY);
CREATE TABLE invoices (id int, customer_id int, amount int);
INSERT INTO invoices SELECT i, i % 10, i FROM generate_series(1, 1000) i;
SELECT statement, command, rule, level, certain, table_name
FROM guardrails.check_migration($$
TRUNCATE invoices;
TRUNCATE customers CASCADE;
TRUNCATE customers;
TRUNCATE customers, invoices RESTRICT;
TRUNCATE events;
$$);
SELECT message, regexp_replace(detail, '\d+ kB', 'size') AS detail, hint
FROM guardrails.check_migration('TRUNCATE invoices; TRUNCATE customers CASCADE');
\set VERBOSITY terse
TRUNCATE invoices;
TRUNCATE customers CASCADE;
TRUNCATE customers;
-- a table created in the transaction: ok
BEGIN;
CREATE TABLE staging AS SELECT * FROM invoices;
TRUNCATE staging;
ROLLBACK;
-- the rule off, or a role that may not truncate: PostgreSQL decides
CREATE TABLE invoices_copy AS SELECT * FROM invoices;
SET guardrails.ddl_policy_rules = 'truncate: off';
TRUNCATE invoices_copy CASCADE;
RESET guardrails.ddl_policy_rules;
INSERT INTO invoices_copy SELECT * FROM invoices;
CREATE ROLE grd_script_reader;
GRANT USAGE ON SCHEMA scr TO grd_script_reader;
SET ROLE grd_script_reader;
TRUNCATE invoices_copy;
SELECT count(*) FROM guardrails.check_migration('TRUNCATE invoices_copy CASCADE');
RESET ROLE;
\set VERBOSITY default

-- a json column: json has no equality operator (warn level)
SELECT statement, rule, level, certain, table_name
FROM guardrails.check_migration($$
ALTER TABLE invoices ADD COLUMN payload json;
ALTER TABLE invoices ADD COLUMN payload jsonb;
ALTER TABLE customers ADD COLUMN tags json[];
ALTER TABLE invoices ALTER COLUMN amount TYPE json USING to_json(amount);
ALTER TABLE invoices ALTER COLUMN amount TYPE bigint;
$$);
SELECT message, detail, hint FROM guardrails.check_migration(
	'ALTER TABLE invoices ADD COLUMN payload json');
\set VERBOSITY terse
ALTER TABLE invoices ADD COLUMN payload json;
SELECT DISTINCT * FROM invoices LIMIT 1;
ALTER TABLE invoices DROP COLUMN payload;
SET guardrails.ddl_policy_rules = 'json_column: enforce';
ALTER TABLE invoices ADD COLUMN payload json;
-- a table created in the transaction has no queries yet: ok
BEGIN;
CREATE TABLE staging (id int);
ALTER TABLE staging ADD COLUMN payload json;
ROLLBACK;
RESET guardrails.ddl_policy_rules;
\set VERBOSITY default

-- a foreign key whose columns no index leads with (warn level)
SELECT statement, command, rule, level, table_name, message
FROM guardrails.check_migration($$
ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) REFERENCES customers NOT VALID;
CREATE INDEX CONCURRENTLY invoices_customer_idx ON invoices (customer_id, id);
ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) REFERENCES customers NOT VALID;
CREATE TABLE payments (id int PRIMARY KEY, invoice_id int REFERENCES invoices (id),
	customer_id int, FOREIGN KEY (customer_id, id) REFERENCES customers);
CREATE TABLE refunds (payment_id int PRIMARY KEY REFERENCES payments, customer_id int,
	UNIQUE (customer_id, payment_id), FOREIGN KEY (customer_id) REFERENCES customers);
CREATE TEMP TABLE scratch (customer_id int REFERENCES customers);
$$);
-- an index the script creates later on the table withdraws the verdict
-- (Rails' create_table, then add_index)
SELECT statement, rule, message FROM guardrails.check_migration($$
CREATE TABLE payments (id int, invoice_id int REFERENCES invoices (id), customer_id int REFERENCES customers);
CREATE INDEX payments_invoice_id ON payments (invoice_id);
CREATE INDEX payments_customer_id ON payments (id, customer_id);
$$);
-- an index in the catalog: ok; a partial one, or one that leads with
-- another column, is not
CREATE INDEX CONCURRENTLY invoices_amount_idx ON invoices (amount) WHERE amount > 0;
SELECT statement, rule FROM guardrails.check_migration($$
ALTER TABLE invoices ADD CONSTRAINT invoices_amount_fk FOREIGN KEY (amount) REFERENCES customers NOT VALID;
ALTER TABLE invoices ADD CONSTRAINT invoices_id_fk FOREIGN KEY (id) REFERENCES customers NOT VALID;
$$);
CREATE INDEX CONCURRENTLY invoices_id_idx ON invoices (id);
SELECT count(*) FROM guardrails.check_migration($$
ALTER TABLE invoices ADD CONSTRAINT invoices_id_fk FOREIGN KEY (id) REFERENCES customers NOT VALID;
$$);
SELECT message, detail, hint FROM guardrails.check_migration(
	'ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) REFERENCES customers NOT VALID');
\set VERBOSITY terse
ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) REFERENCES customers NOT VALID;
ALTER TABLE invoices DROP CONSTRAINT invoices_customer_fk;
CREATE TABLE payments (id int PRIMARY KEY, customer_id int REFERENCES customers);
SET guardrails.ddl_policy_rules = 'fk_index: enforce';
ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) REFERENCES customers NOT VALID;
CREATE TABLE refunds (payment_id int REFERENCES payments);
CREATE INDEX CONCURRENTLY invoices_customer_idx ON invoices (customer_id);
ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) REFERENCES customers NOT VALID;
RESET guardrails.ddl_policy_rules;
\set VERBOSITY default

-- an enum value added and used in the same transaction: PostgreSQL
-- refuses it
CREATE TYPE invoice_state AS ENUM ('new', 'paid');
\set enum_added 'BEGIN;\nALTER TYPE invoice_state ADD VALUE \'void\';\nSELECT \'void\'::invoice_state;\nUPDATE invoices SET amount = 0 WHERE id::text = \'void\';\nALTER TABLE invoices ADD COLUMN state invoice_state DEFAULT \'void\';\nCOMMIT;\nSELECT \'void\'::invoice_state;\n'
SELECT statement, line, command, rule, level, certain
FROM guardrails.check_migration(E:'enum_added');
SELECT message, detail, hint FROM guardrails.check_migration(E:'enum_added')
WHERE statement = 3;
SELECT message, detail FROM guardrails.check_migration(E:'enum_added')
WHERE NOT certain;
-- outside a block, a value that exists already, a type the script
-- creates in the block: ok
SELECT count(*) FROM guardrails.check_migration($$
ALTER TYPE invoice_state ADD VALUE 'void';
SELECT 'void'::invoice_state;
BEGIN;
ALTER TYPE invoice_state ADD VALUE IF NOT EXISTS 'paid';
SELECT 'paid'::invoice_state;
CREATE TYPE card AS ENUM ('visa');
ALTER TYPE card ADD VALUE 'amex';
SELECT 'amex'::card;
ROLLBACK;
$$);
-- and PostgreSQL agrees
\set VERBOSITY terse
BEGIN;
ALTER TYPE invoice_state ADD VALUE 'void';
SELECT 'void'::invoice_state;
ROLLBACK;
\set VERBOSITY default
REVOKE USAGE ON SCHEMA scr FROM grd_script_reader;
DROP ROLE grd_script_reader;

SET client_min_messages = warning;
DROP SCHEMA scr, scr_other, scr_old CASCADE;
