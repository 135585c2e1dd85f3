-- DDL lock_timeout and the schema-change policy
CREATE EXTENSION IF NOT EXISTS pg_guardrails;
SET client_min_messages = warning;
CREATE SCHEMA mig;
SET search_path = mig, public;

--
-- lock_timeout for DDL: an event trigger records the lock_timeout each DDL
-- statement runs with (ddl_command_end runs inside the statement).
--
CREATE TABLE seen (n serial, tag text, lock_timeout text);
CREATE FUNCTION record_lock_timeout() RETURNS event_trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO seen (tag, lock_timeout)
	VALUES (tg_tag, current_setting('lock_timeout'));
END
$$;
CREATE EVENT TRIGGER record_lock_timeout ON ddl_command_end
	EXECUTE FUNCTION record_lock_timeout();

SET guardrails.ddl_lock_timeout = '2s';
RESET lock_timeout;
CREATE TABLE lt_a (x int);				-- 2s
SHOW lock_timeout;						-- the session's again
SET lock_timeout = '1s';
CREATE TABLE lt_b (x int);				-- the session's is stricter: 1s
SET lock_timeout = '10s';
CREATE TABLE lt_c (x int);				-- 2s
SHOW lock_timeout;
-- after an error
CREATE TABLE lt_a (x int);
SHOW lock_timeout;
-- inside a transaction, nothing leaks into the next statements
BEGIN;
ALTER TABLE lt_a ADD COLUMN y int;		-- 2s
SHOW lock_timeout;
SET LOCAL lock_timeout = '500ms';
ALTER TABLE lt_a ADD COLUMN z int;		-- 500ms
SHOW lock_timeout;
COMMIT;
SHOW lock_timeout;
-- after an error inside a transaction, rolled back to a savepoint
BEGIN;
SAVEPOINT s;
ALTER TABLE lt_a ADD COLUMN y int;
ROLLBACK TO SAVEPOINT s;
SHOW lock_timeout;
COMMIT;
-- nested: DO blocks and functions
DO $$ BEGIN EXECUTE 'CREATE TABLE lt_d (x int)'; END $$;	-- 2s
CREATE FUNCTION make_table(name text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('CREATE TABLE %I (x int)', name);
	RETURN current_setting('lock_timeout');
END
$$;
SELECT make_table('lt_e');				-- 2s for its CREATE TABLE, 10s after
SHOW lock_timeout;
-- CONCURRENTLY is left alone
CREATE INDEX CONCURRENTLY lt_a_x ON lt_a (x);	-- 10s
-- 0 turns it off
SET guardrails.ddl_lock_timeout = 0;
CREATE TABLE lt_f (x int);				-- 10s
RESET guardrails.ddl_lock_timeout;
RESET lock_timeout;
CREATE TABLE lt_g (x int);				-- 5s, the default
SELECT tag, lock_timeout FROM seen ORDER BY n;
DROP EVENT TRIGGER record_lock_timeout;

-- an ordinary role cannot loosen any of it
CREATE ROLE grd_dev;
SET ROLE grd_dev;
SET guardrails.ddl_lock_timeout = 0;
SET guardrails.ddl_lock_wait = 'queue';
SET guardrails.ddl_lock_retries = 3;
SET guardrails.ddl_policy = 'off';
SET guardrails.allow_new_tables = on;
SET guardrails.ddl_policy_rules = 'rename: off';
RESET ROLE;

-- bad values are refused, with the valid ones named
SET guardrails.ddl_policy = 'strict';
SET guardrails.ddl_lock_wait = 'wait';
SET guardrails.ddl_lock_retries = -1;
SET guardrails.ddl_lock_retries = 101;
-- (the range of a setting with a unit is worded differently from 17 on:
-- show the message up to the range)
DO $$
BEGIN
	SET guardrails.ddl_lock_timeout = '-1s';
EXCEPTION WHEN invalid_parameter_value THEN
	RAISE WARNING '%: %', SQLSTATE, regexp_replace(SQLERRM, ' \(.*\)$', '');
END
$$;
SET guardrails.allow_new_tables = 'perhaps';
-- the event trigger function is not for calling
SELECT guardrails.ddl_policy_table_rewrite();

--
-- The schema-change policy: a realistic set of migrations on a table with
-- data, each with its verdict under enforce.
--
CREATE TABLE customers (id int PRIMARY KEY);
INSERT INTO customers SELECT generate_series(1, 100);
CREATE TABLE orders (id int, customer_id int, note text, amount int);
INSERT INTO orders SELECT i, i % 100 + 1, 'n' || i, i FROM generate_series(1, 1000) i;
CREATE TABLE empty_orders (LIKE orders);

SET guardrails.ddl_policy = enforce;
SET client_min_messages = notice;

-- 1. nullable column: ok
ALTER TABLE orders ADD COLUMN shipped_at timestamptz;
-- 2. column with a constant default: ok (no rewrite since PostgreSQL 11)
ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
-- 3. column with DEFAULT now(): ok (stable, computed once)
ALTER TABLE orders ADD COLUMN created_at timestamptz DEFAULT now();
-- 4. column with a volatile default: rejected (new_column)
ALTER TABLE orders ADD COLUMN token float8 DEFAULT random();
\echo :LAST_ERROR_SQLSTATE
-- 5. NOT NULL column without a default: rejected (new_column)
ALTER TABLE orders ADD COLUMN region text NOT NULL;
-- 6. serial column: rejected (new_column: nextval() for every row)
ALTER TABLE orders ADD COLUMN seq bigserial;
-- 7. index without CONCURRENTLY: rejected (index_concurrently)
CREATE INDEX orders_customer ON orders (customer_id);
-- 8. index CONCURRENTLY: ok
CREATE INDEX CONCURRENTLY orders_customer ON orders (customer_id);
-- 9. foreign key without NOT VALID: rejected (constraint_not_valid)
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
	FOREIGN KEY (customer_id) REFERENCES customers (id);
-- 10. foreign key NOT VALID, then validated: ok
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
	FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
-- 11. check constraint without and with NOT VALID
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0);
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
-- 12. type change that rewrites: rejected (table_rewrite, decided by PostgreSQL)
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
-- 13. type change that does not rewrite: ok
ALTER TABLE orders ALTER COLUMN note TYPE varchar;
-- 14. new table, then fill it and index it, in one transaction: ok
BEGIN;
CREATE TABLE order_lines (order_id int, line int, qty int);
INSERT INTO order_lines SELECT i, 1, 1 FROM generate_series(1, 1000) i;
CREATE INDEX order_lines_order ON order_lines (order_id);
ALTER TABLE order_lines ADD CONSTRAINT order_lines_qty CHECK (qty > 0);
ALTER TABLE order_lines ALTER COLUMN qty TYPE bigint;
ALTER TABLE order_lines ADD COLUMN code text NOT NULL DEFAULT md5(random()::text);
COMMIT;
-- ... but the next transaction sees an existing table
-- (terse: a table written in bulk has a size that depends on the major,
-- since 16 extends relations several pages at a time)
\set VERBOSITY terse
CREATE INDEX order_lines_qty ON order_lines (qty);
\set VERBOSITY default
-- 15. primary key built in place: rejected; on a concurrently built index: ok
ALTER TABLE orders ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX CONCURRENTLY orders_id ON orders (id);
-- (a primary key makes its columns NOT NULL: rule set_not_null, unless a
-- valid check proves them)
ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_id;
ALTER TABLE orders ADD CONSTRAINT orders_id_nn CHECK (id IS NOT NULL) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_id_nn;
ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_id;
-- the table's shape after the migrations that were allowed
\d orders

-- other rewrites, recognised from the statement
VACUUM FULL orders;
VACUUM (FULL) orders;
VACUUM FULL;
CLUSTER orders USING orders_customer;
ALTER TABLE orders SET UNLOGGED;
CREATE MATERIALIZED VIEW order_totals AS
	SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id;
REFRESH MATERIALIZED VIEW order_totals;
CREATE UNIQUE INDEX CONCURRENTLY order_totals_customer ON order_totals (customer_id);
REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals;
REINDEX TABLE orders;
REINDEX INDEX orders_customer;
REINDEX TABLE CONCURRENTLY orders;
REINDEX SCHEMA public;
-- plain VACUUM and ANALYZE are fine
VACUUM orders;

-- exempt: empty tables, temporary tables
CREATE INDEX empty_orders_id ON empty_orders (id);
ALTER TABLE empty_orders ADD COLUMN region text NOT NULL;
ALTER TABLE empty_orders ALTER COLUMN amount TYPE bigint;
CREATE TEMP TABLE scratch AS SELECT * FROM orders;
CREATE INDEX scratch_id ON scratch (id);
ALTER TABLE scratch ALTER COLUMN amount TYPE numeric;

-- partitioned tables: their partitions' data counts
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events
	FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT i, '2026-06-01' FROM generate_series(1, 100) i;
CREATE INDEX events_id ON events (id);

-- rule new_tables
SET guardrails.allow_new_tables = off;
CREATE TABLE new_workload (x int);
CREATE TABLE new_workload AS SELECT 1 AS x;
SELECT 1 AS x INTO new_workload;
CREATE TEMP TABLE tmp_work (x int);
CREATE TABLE events_2027 PARTITION OF events
	FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE IF NOT EXISTS orders (x int);
RESET guardrails.allow_new_tables;

--
-- The catalogue of unsafe migrations, beyond the first five rules
--
CREATE TABLE accounts (id int NOT NULL, email text, owner_id int, balance int);
INSERT INTO accounts SELECT i, 'a' || i, i % 100 + 1, i FROM generate_series(1, 1000) i;

-- rule set_not_null: a full scan under ACCESS EXCLUSIVE
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
-- a column that is NOT NULL already: nothing to scan, ok
ALTER TABLE accounts ALTER COLUMN id SET NOT NULL;
-- a NOT VALID check proves nothing yet
ALTER TABLE accounts ADD CONSTRAINT accounts_email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
-- once validated (another transaction), it proves the column: ok
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_email_nn;
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
-- a check that implies it proves it too
ALTER TABLE accounts ADD CONSTRAINT accounts_owner_pos CHECK (owner_id > 0);
ALTER TABLE accounts ADD CONSTRAINT accounts_owner_pos CHECK (owner_id > 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_owner_pos;
ALTER TABLE accounts ALTER COLUMN owner_id SET NOT NULL;

-- rule validate_separately: VALIDATE in the transaction of its ADD ... NOT VALID
BEGIN;
ALTER TABLE accounts ADD CONSTRAINT accounts_balance_nonneg CHECK (balance >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_balance_nonneg;
ROLLBACK;
ALTER TABLE accounts ADD CONSTRAINT accounts_balance_nonneg CHECK (balance >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_balance_nonneg;

-- constraints declared inline in ADD COLUMN
ALTER TABLE accounts ADD COLUMN tier int CHECK (tier > 0);
ALTER TABLE accounts ADD COLUMN referrer_id int REFERENCES customers (id);
ALTER TABLE accounts ADD COLUMN code text UNIQUE;
ALTER TABLE accounts ADD COLUMN tier int;

-- DROP INDEX without CONCURRENTLY: rule index_concurrently
CREATE INDEX CONCURRENTLY accounts_owner ON accounts (owner_id);
DROP INDEX accounts_owner;
DROP INDEX CONCURRENTLY accounts_owner;

-- DETACH PARTITION without CONCURRENTLY: rule detach_concurrently
ALTER TABLE events DETACH PARTITION events_2026;
ALTER TABLE events DETACH PARTITION events_2026 CONCURRENTLY;

-- ATTACH PARTITION of a table with data scans it under ACCESS EXCLUSIVE
-- for rows outside the bound: rule attach_partition
CREATE TABLE events_2025 (id int, at date);
INSERT INTO events_2025 SELECT i, '2025-06-01' FROM generate_series(1, 100) i;
ALTER TABLE events ATTACH PARTITION events_2025
	FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- a check constraint proves the bound only once it is valid
ALTER TABLE events_2025 ADD CONSTRAINT events_2025_bound
	CHECK (at IS NOT NULL AND at >= '2025-01-01' AND at < '2026-01-01') NOT VALID;
ALTER TABLE events ATTACH PARTITION events_2025
	FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- a constraint that proves another bound proves nothing
ALTER TABLE events_2025 VALIDATE CONSTRAINT events_2025_bound;
ALTER TABLE events ATTACH PARTITION events_2025
	FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
SELECT statement, rule FROM guardrails.check_migration($$
ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
$$);
-- once valid, PostgreSQL skips the scan: ok
ALTER TABLE events ATTACH PARTITION events_2025
	FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- an empty table: ok
CREATE TABLE events_2028 (id int, at date);
ALTER TABLE events ATTACH PARTITION events_2028
	FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');

-- ALTER DOMAIN ... ADD CONSTRAINT ... CHECK scans every column of the
-- domain's type, as ALTER TABLE's CHECK does: rule constraint_not_valid
CREATE DOMAIN amount_d AS int;
CREATE DOMAIN small_amount_d AS amount_d;
CREATE TABLE ledger (id int, amount small_amount_d);
INSERT INTO ledger SELECT i, i FROM generate_series(1, 1000) i;
ALTER DOMAIN amount_d ADD CONSTRAINT amount_d_positive CHECK (VALUE > 0);
ALTER DOMAIN small_amount_d ADD CHECK (VALUE < 1000000);
SELECT statement, rule FROM guardrails.check_migration(
	'ALTER DOMAIN amount_d ADD CONSTRAINT amount_d_positive CHECK (VALUE > 0)');
-- NOT VALID, then VALIDATE CONSTRAINT: ok
ALTER DOMAIN amount_d ADD CONSTRAINT amount_d_positive CHECK (VALUE > 0) NOT VALID;
ALTER DOMAIN amount_d VALIDATE CONSTRAINT amount_d_positive;
-- a domain that no table with data uses: ok
CREATE DOMAIN unused_d AS int;
ALTER DOMAIN unused_d ADD CONSTRAINT unused_d_positive CHECK (VALUE > 0);

-- SET TABLESPACE copies the relation: rule table_rewrite
SET allow_in_place_tablespaces = on;
SET client_min_messages = warning;
CREATE TABLESPACE grd_space LOCATION '';
SET client_min_messages = notice;
CREATE INDEX CONCURRENTLY accounts_id ON accounts (id);
ALTER TABLE accounts SET TABLESPACE grd_space;
ALTER INDEX accounts_id SET TABLESPACE grd_space;
ALTER TABLE ALL IN TABLESPACE pg_default OWNED BY CURRENT_USER SET TABLESPACE grd_space;
-- where it is already: nothing is copied, ok
ALTER TABLE accounts SET TABLESPACE pg_default;
ALTER TABLE empty_orders SET TABLESPACE grd_space;
ALTER TABLE empty_orders SET TABLESPACE pg_default;

-- rule rename: clients that run still use the old name
ALTER TABLE accounts RENAME COLUMN email TO email_address;
ALTER TABLE accounts RENAME TO users;
ALTER TABLE accounts SET SCHEMA public;
-- an index or a constraint is nobody's name in a query: ok
ALTER INDEX accounts_id RENAME TO accounts_id_idx;
ALTER TABLE accounts RENAME CONSTRAINT accounts_email_nn TO accounts_email_present;
-- the relation's kind decides, not the words of the statement: PostgreSQL
-- renames the table accounts, or its column, with each of these
ALTER INDEX accounts RENAME TO users;
ALTER INDEX IF EXISTS accounts RENAME TO users;
ALTER VIEW accounts RENAME COLUMN email TO email_address;
ALTER MATERIALIZED VIEW accounts RENAME COLUMN email TO email_address;
ALTER FOREIGN TABLE accounts RENAME COLUMN email TO email_address;
ALTER TYPE accounts RENAME ATTRIBUTE email TO email_address;
-- and an index renamed with the words ALTER TABLE is still an index: ok
ALTER TABLE accounts_id_idx RENAME TO accounts_id_ix;
ALTER TABLE accounts_id_ix RENAME TO accounts_id_idx;
SELECT statement, rule, message FROM guardrails.check_migration($$
ALTER INDEX accounts RENAME TO users;
ALTER VIEW accounts RENAME COLUMN email TO email_address;
ALTER TYPE accounts RENAME ATTRIBUTE email TO email_address;
ALTER TABLE accounts_id_idx RENAME TO accounts_id_ix;
ALTER INDEX accounts_id_idx RENAME TO accounts_id_ix;
$$) ORDER BY statement;
-- an empty table: ok
ALTER TABLE empty_orders RENAME COLUMN note TO remark;

-- a table created in the transaction: every rule lets it through
BEGIN;
CREATE TABLE staging (id int, email text);
INSERT INTO staging SELECT i, 'a' || i FROM generate_series(1, 1000) i;
ALTER TABLE staging ALTER COLUMN email SET NOT NULL;
ALTER TABLE staging ADD COLUMN flag int CHECK (flag > 0);
ALTER TABLE staging ADD CONSTRAINT staging_id_pos CHECK (id > 0) NOT VALID;
ALTER TABLE staging VALIDATE CONSTRAINT staging_id_pos;
CREATE INDEX staging_id ON staging (id);
DROP INDEX staging_id;
ALTER TABLE staging SET TABLESPACE grd_space;
ALTER TABLE staging RENAME COLUMN email TO address;
ALTER TABLE staging RENAME TO staged;
COMMIT;

--
-- per-rule control: guardrails.ddl_policy_rules
--
SET guardrails.ddl_policy_rules = 'rename: warn, set_not_null: off';
SHOW guardrails.ddl_policy_rules;
-- (set_not_null off: PostgreSQL scans, and finds the NULLs)
ALTER TABLE accounts ALTER COLUMN tier SET NOT NULL;
ALTER TABLE accounts RENAME COLUMN balance TO amount;
ALTER TABLE accounts RENAME COLUMN amount TO balance;
-- unnamed rules follow guardrails.ddl_policy
CREATE INDEX accounts_balance ON accounts (balance);
-- a rule named enforce is enforced with the policy off
SET guardrails.ddl_policy = off;
SET guardrails.ddl_policy_rules = 'index_concurrently: enforce';
CREATE INDEX accounts_balance ON accounts (balance);
ALTER TABLE accounts RENAME COLUMN balance TO amount;
ALTER TABLE accounts RENAME COLUMN amount TO balance;
SET guardrails.ddl_policy = enforce;
-- spaces and case do not matter, and an empty value names no rule
SET guardrails.ddl_policy_rules = ' Rename :WARN ,new_tables:enforce ';
SHOW guardrails.ddl_policy_rules;
SET guardrails.ddl_policy_rules = '';
-- bad values are refused, naming what is wrong
SET guardrails.ddl_policy_rules = 'renames: warn';
SET guardrails.ddl_policy_rules = 'rename: strict';
SET guardrails.ddl_policy_rules = 'rename';
SET guardrails.ddl_policy_rules = 'rename: warn, rename: off';
SET guardrails.ddl_policy_rules = 'rename: warn,';
RESET guardrails.ddl_policy_rules;

--
-- guardrails.check_migration(): the verdicts, before running anything
--
\set migration 'BEGIN;\nALTER TABLE accounts ADD CONSTRAINT accounts_tier_nn CHECK (tier IS NOT NULL) NOT VALID;\nALTER TABLE accounts ADD CONSTRAINT accounts_owner_fk FOREIGN KEY (owner_id) REFERENCES customers (id) NOT VALID;\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_owner_fk;\nCOMMIT;\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_tier_nn;\nALTER TABLE accounts ALTER COLUMN tier SET NOT NULL, ALTER COLUMN email TYPE varchar;\nALTER TABLE orders ALTER COLUMN amount TYPE bigint;\nALTER TABLE accounts ALTER COLUMN balance TYPE numeric USING balance::numeric;\nCREATE INDEX accounts_email ON accounts (email);\nALTER TABLE accounts RENAME COLUMN email TO address;\nALTER TABLE orders ALTER COLUMN customer_id SET NOT NULL;\nCREATE TABLE audit_log (id bigint, at timestamptz);\n-- the new table is empty\nCREATE INDEX audit_log_at ON audit_log (at);\n'
SET guardrails.ddl_policy_rules = 'rename: warn';
SELECT statement, line, command, rule, level, certain, table_name,
	   table_size = pg_relation_size(table_name) AS size_ok
FROM guardrails.check_migration(E:'migration');
-- the texts, as the policy would raise them
SELECT statement, message, detail, hint
FROM guardrails.check_migration(E:'migration')
WHERE rule IN ('validate_separately', 'table_rewrite') AND certain;
SELECT message, detail FROM guardrails.check_migration(E:'migration')
WHERE NOT certain;
RESET guardrails.ddl_policy_rules;
-- it ran nothing, and holds no lock on the tables it looked at
BEGIN;
SELECT count(*) FROM guardrails.check_migration(E:'migration');
SELECT relation::regclass, mode FROM pg_locks
WHERE pid = pg_backend_pid() AND relation IN ('accounts'::regclass, 'orders'::regclass);
COMMIT;
SELECT conname FROM pg_constraint
WHERE conrelid = 'accounts'::regclass AND contype <> 'n' ORDER BY 1;
-- the other statements the policy looks at, and the precision cases
SELECT statement, rule, certain FROM guardrails.check_migration($$
ALTER TABLE orders ALTER COLUMN note TYPE text;
ALTER TABLE accounts ALTER COLUMN owner_id SET NOT NULL;
ALTER TABLE empty_orders ALTER COLUMN amount TYPE bigint;
ALTER TABLE orders SET UNLOGGED;
SELECT 1 AS x INTO new_workload;
EXPLAIN ANALYZE CREATE TABLE new_workload AS SELECT 1 AS x;
ALTER TABLE orders ALTER COLUMN amount TYPE no_such_type;
DROP INDEX orders_customer;
VACUUM FULL orders;
INSERT INTO orders (id) VALUES (0);
$$) ORDER BY statement, rule;
SET guardrails.allow_new_tables = off;
SELECT statement, rule FROM guardrails.check_migration(
	'SELECT 1 AS x INTO new_workload; EXPLAIN ANALYZE CREATE TABLE new_workload AS SELECT 1 AS x');
RESET guardrails.allow_new_tables;
-- an invalid script is refused as PostgreSQL would refuse it
SELECT * FROM guardrails.check_migration('ALTER TABLE accounts ADD COLUM x int');
SELECT * FROM guardrails.check_migration(NULL);
-- any role may call it; it says nothing about tables the role may not change
GRANT USAGE ON SCHEMA mig TO grd_dev;
SET ROLE grd_dev;
SELECT count(*) FROM guardrails.check_migration('CREATE INDEX ON mig.accounts (id); ALTER TABLE mig.accounts RENAME TO x');
RESET ROLE;
REVOKE USAGE ON SCHEMA mig FROM grd_dev;
SET client_min_messages = warning;
DROP TABLE staged;
DROP TABLESPACE grd_space;
SET client_min_messages = notice;

--
-- warn: the same text as a WARNING, and the statement runs
--
DROP MATERIALIZED VIEW order_totals;
SET guardrails.ddl_policy = warn;
ALTER TABLE orders ADD COLUMN region text NOT NULL DEFAULT 'eu';
ALTER TABLE orders ADD COLUMN token float8 DEFAULT random();
-- the column's default rewrote the table, in bulk: sizes are left out from
-- here on, since they depend on the major (the same texts are shown above)
\set VERBOSITY terse
CREATE INDEX orders_amount ON orders (amount);
ALTER TABLE orders ADD CONSTRAINT orders_amount_nonnegative CHECK (amount >= 0);
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
VACUUM FULL orders;
\set VERBOSITY default
SET guardrails.allow_new_tables = off;
CREATE TABLE new_workload (x int);
RESET guardrails.allow_new_tables;
SELECT count(*) AS rows, count(token) AS tokens FROM orders;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'mig.orders'::regclass AND attname = 'amount';

-- off: nothing is checked
SET guardrails.ddl_policy = off;
CREATE INDEX orders_note ON orders (note);

-- per role: a superuser sets it, the role gets it at login
ALTER ROLE grd_dev SET guardrails.ddl_policy = enforce;
ALTER ROLE grd_dev SET guardrails.ddl_policy_rules = 'rename: warn';
ALTER ROLE grd_dev LOGIN;
\set su :USER
\c - grd_dev
SHOW guardrails.ddl_policy;
SHOW guardrails.ddl_policy_rules;
SET guardrails.ddl_policy = warn;
SET guardrails.ddl_policy_rules = 'rename: off';
\c - :su
SET client_min_messages = warning;
DROP ROLE grd_dev;
SET client_min_messages = warning;
DROP SCHEMA mig CASCADE;
