--
-- Disabling an index: hidden from the planner, still maintained.
--
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, code text, created date);
CREATE UNIQUE INDEX orders_code ON orders (code);
CREATE INDEX orders_customer ON orders (customer);
INSERT INTO orders SELECT g, g % 500, 'c' || g, date '2026-01-01' + g % 300
FROM generate_series(1, 20000) g;
ANALYZE orders;
SET enable_seqscan = off;	-- make any usable index win
-- EXPLAIN without the "Disabled: true" lines that 18 adds under the nodes
-- enable_seqscan = off disables: the plan's shape is what is tested.
CREATE FUNCTION plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		IF line !~ '^\s*Disabled: true$' THEN
			RETURN NEXT line;
		END IF;
	END LOOP;
END
$f$;

-- Before, after disable, after enable.
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);
SELECT guardrails.disable_index('orders_customer', reason => 'unused since the v2 API');
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);
-- no index-only or bitmap scan either
SELECT * FROM plan($$SELECT customer FROM orders WHERE customer BETWEEN 1 AND 3$$);
SELECT index_name, table_name, reason, disabled_by = current_user AS by_me,
       constraint_name, scans_since_disabled
FROM guardrails.index_visibility;
SELECT guardrails.enable_index('orders_customer');
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);

-- A disabled unique index still enforces uniqueness and still arbitrates
-- ON CONFLICT, and is still maintained by writes.
SELECT guardrails.disable_index('orders_code');
SELECT * FROM plan($$SELECT * FROM orders WHERE code = 'c7'$$);
INSERT INTO orders VALUES (20001, 1, 'c7', NULL);
INSERT INTO orders VALUES (20001, 1, 'c7', NULL) ON CONFLICT (code) DO NOTHING;
INSERT INTO orders VALUES (20002, 1, 'c7', NULL)
  ON CONFLICT (code) DO UPDATE SET customer = 499 RETURNING id, customer;
INSERT INTO orders VALUES (20003, 1, 'new-code', NULL);
SET guardrails.use_disabled_indexes = on;
SELECT * FROM plan($$SELECT id FROM orders WHERE code = 'new-code'$$);
SELECT id FROM orders WHERE code = 'new-code';
RESET guardrails.use_disabled_indexes;
SELECT guardrails.enable_index('orders_code');

-- A prepared statement's cached plan is replanned.
PREPARE by_customer(int) AS SELECT count(*) FROM orders WHERE customer = $1;
SELECT * FROM plan($$EXECUTE by_customer(1)$$);
SELECT guardrails.disable_index('orders_customer');
SELECT * FROM plan($$EXECUTE by_customer(1)$$);
EXECUTE by_customer(1);
SELECT guardrails.enable_index('orders_customer');
SELECT * FROM plan($$EXECUTE by_customer(1)$$);
DEALLOCATE by_customer;

-- Transactional: effective inside the transaction, undone by rollback.
BEGIN;
SELECT guardrails.disable_index('orders_customer');
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);
ROLLBACK;
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);
SELECT count(*) AS rows_after_rollback FROM guardrails.disabled_indexes;

-- Plain INSERT and DELETE on the table behave like the functions.
INSERT INTO guardrails.disabled_indexes (index_schema, index_name, reason)
VALUES ('public', 'orders_customer', 'by hand');
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);
DELETE FROM guardrails.disabled_indexes WHERE index_name = 'orders_customer';
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);
INSERT INTO guardrails.disabled_indexes (index_schema, index_name)
VALUES ('public', 'orders');

-- Session experiments: hide more indexes for this session only.
SET guardrails.hidden_indexes = 'orders_customer';
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);
SET guardrails.hidden_indexes = 'public.orders_customer, "orders_code"';
SELECT * FROM plan($$SELECT * FROM orders WHERE code = 'c1'$$);
SET guardrails.hidden_indexes = 'no_such_index';
SET guardrails.hidden_indexes = 'orders';
SET guardrails.hidden_indexes = 'a,,b';
SET guardrails.hidden_indexes = 'orders_customer, otherdb.public.orders_customer';
RESET guardrails.hidden_indexes;
-- In a role's or a database's setting, checked where its names cannot be
-- resolved (they may be another database's), names need not exist; their
-- form is still checked.
CREATE ROLE grd_hider;
ALTER ROLE grd_hider SET guardrails.hidden_indexes = 'nosuch_idx, public.orders_customer';
ALTER ROLE grd_hider IN DATABASE postgres SET guardrails.hidden_indexes = 'other_schema.nosuch_idx';
ALTER ROLE grd_hider SET guardrails.hidden_indexes = 'otherdb.public.nosuch_idx';
DO $$ BEGIN
	EXECUTE format('ALTER DATABASE %I SET guardrails.hidden_indexes = %L',
				   current_database(), 'nosuch_idx');
END $$;
SELECT r.rolname, d.datname IS NOT NULL AS in_database, c.setting
FROM pg_db_role_setting s
LEFT JOIN pg_roles r ON r.oid = s.setrole
LEFT JOIN pg_database d ON d.oid = s.setdatabase,
	 unnest(s.setconfig) AS c(setting)
WHERE (s.setrole = 'grd_hider'::regrole
	   OR (s.setrole = 0 AND d.datname = current_database()))
  AND c.setting LIKE 'guardrails.%'
ORDER BY r.rolname NULLS LAST, d.datname NULLS FIRST;
DO $$ BEGIN
	EXECUTE format('ALTER DATABASE %I RESET guardrails.hidden_indexes',
				   current_database());
END $$;
DROP ROLE grd_hider;
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);

-- Bad input and repeated calls.
SELECT guardrails.disable_index('orders');
CREATE SEQUENCE some_seq;
SELECT guardrails.disable_index('some_seq');
SELECT guardrails.disable_index(NULL);
SELECT guardrails.disable_index('no_such_index');
SELECT guardrails.enable_index('orders_customer');
SELECT guardrails.disable_index('orders_customer');
SELECT guardrails.disable_index('orders_customer');
SELECT guardrails.enable_index(NULL);

-- A primary key, and a unique index that foreign keys use, are refused
-- unless forced, with a warning naming the checks that will scan.
CREATE TABLE customers (id int PRIMARY KEY, email text);
CREATE UNIQUE INDEX customers_email ON customers (email);
CREATE TABLE invoices (id int, email text REFERENCES customers (email));
SELECT guardrails.disable_index('customers_pkey');
SELECT guardrails.disable_index('customers_email');
SELECT guardrails.disable_index('customers_email', force => true);
SELECT index_name, is_unique FROM guardrails.index_visibility ORDER BY 1;

-- Renaming follows the index; dropping it, or its table, leaves no row.
ALTER INDEX orders_customer RENAME TO orders_by_customer;
SELECT index_schema, index_name FROM guardrails.disabled_indexes ORDER BY 2;
SELECT * FROM plan($$SELECT * FROM orders WHERE customer = 42$$);
DROP INDEX CONCURRENTLY orders_by_customer;	-- (without CONCURRENTLY: rule index_concurrently)
DROP TABLE invoices, customers;
SELECT count(*) AS rows_left FROM guardrails.disabled_indexes;

-- A partitioned index hides the matching index of every partition.
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_id ON events (id);
INSERT INTO events SELECT g, date '2025-01-01' + g % 700 FROM generate_series(1, 5000) g;
ANALYZE events;
SELECT * FROM plan($$SELECT * FROM events WHERE id = 7$$);
SELECT guardrails.disable_index('events_id');
SELECT * FROM plan($$SELECT * FROM events WHERE id = 7$$);
-- a partition attached later is hidden too
CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
SELECT * FROM plan($$SELECT * FROM events_2027 WHERE id = 7$$);
SELECT guardrails.enable_index('events_id');
SELECT * FROM plan($$SELECT * FROM events_2027 WHERE id = 7$$);

-- Only guardrails_admin may change what is disabled.
CREATE ROLE grd_plain LOGIN;
GRANT SELECT ON orders TO grd_plain;
SET ROLE grd_plain;
SELECT guardrails.disable_index('orders_code');
SELECT guardrails.enable_index('orders_code');
INSERT INTO guardrails.disabled_indexes (index_schema, index_name) VALUES ('public', 'orders_code');
SELECT count(*) >= 0 AS can_read_view FROM guardrails.index_visibility;
SET guardrails.hidden_indexes = 'orders_code';	-- a session experiment is allowed
SELECT * FROM plan($$SELECT * FROM orders WHERE code = 'c1'$$);
RESET guardrails.hidden_indexes;
RESET ROLE;
DROP OWNED BY grd_plain;
DROP ROLE grd_plain;
RESET enable_seqscan;

-- The extension can be dropped, taking its rules with it, and created again.
SET enable_seqscan = off;
SELECT guardrails.disable_index('orders_code');
SELECT * FROM plan($$SELECT * FROM orders WHERE code = 'c1'$$);
DROP EXTENSION pg_guardrails;
SELECT * FROM plan($$SELECT * FROM orders WHERE code = 'c1'$$);
CREATE EXTENSION pg_guardrails;
SELECT count(*) FROM guardrails.disabled_indexes;
SELECT guardrails.disable_index('orders_code');
SELECT * FROM plan($$SELECT * FROM orders WHERE code = 'c1'$$);
SELECT guardrails.enable_index('orders_code');
RESET enable_seqscan;
