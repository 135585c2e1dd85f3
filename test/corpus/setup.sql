-- The tables the corpus's migrations touch, each with a few hundred rows
-- (a few data pages).  The test sets guardrails.ddl_policy_min_size = 0,
-- so that the size-based exemption does not hide anything: every table
-- with a data page counts as existing data.
CREATE TYPE order_status AS ENUM ('new', 'paid');
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);

CREATE TABLE accounts (
	id bigint PRIMARY KEY,
	email text,
	name text NOT NULL,
	status text DEFAULT 'active',
	region text,
	balance int,
	credit positive_int,
	code varchar(32),
	created_at timestamp
);
INSERT INTO accounts
SELECT g, 'user' || g || '@example.org', 'User ' || g, 'active', 'eu', g, g,
	   'c' || g, timestamp '2026-01-01' + g * interval '1 hour'
FROM generate_series(1, 500) g;

CREATE TABLE orders (
	id bigint PRIMARY KEY,
	account_id bigint NOT NULL,
	amount int,
	note text,
	state order_status NOT NULL DEFAULT 'new',
	created_at timestamp
);
INSERT INTO orders
SELECT g, 1 + g % 500, g * 10, 'note ' || g, 'new',
	   timestamp '2026-02-01' + g * interval '1 minute'
FROM generate_series(1, 1000) g;
CREATE INDEX orders_account_id_idx ON orders (account_id);
CREATE INDEX orders_created_idx ON orders (created_at);
ALTER TABLE orders ADD CONSTRAINT orders_amount_nonneg CHECK (amount >= 0);

-- line items: no primary key yet, a nullable id, no index on order_id
CREATE TABLE line_items (id bigint, order_id bigint, qty int);
INSERT INTO line_items SELECT g, 1 + g % 1000, 1 FROM generate_series(1, 1000) g;

-- tags: a NOT NULL id without a key
CREATE TABLE tags (id bigint NOT NULL, label text);
INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 500) g;

CREATE TABLE events (id bigint, created_at timestamptz NOT NULL, payload text)
	PARTITION BY RANGE (created_at);
CREATE TABLE events_2025 PARTITION OF events
	FOR VALUES FROM ('2025-01-01 00:00+00') TO ('2026-01-01 00:00+00');
CREATE TABLE events_2026 PARTITION OF events
	FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2027-01-01 00:00+00');
INSERT INTO events
SELECT g, timestamptz '2025-01-01 00:00+00' + g * interval '30 minutes', 'e'
FROM generate_series(1, 1000) g;
-- filled, not yet attached
CREATE TABLE events_2027 (id bigint, created_at timestamptz NOT NULL, payload text);
INSERT INTO events_2027
SELECT g, timestamptz '2027-01-01 00:00+00' + g * interval '1 hour', 'e'
FROM generate_series(1, 500) g;

CREATE MATERIALIZED VIEW order_totals AS
	SELECT account_id, sum(amount) AS total FROM orders GROUP BY account_id;
CREATE UNIQUE INDEX order_totals_account_idx ON order_totals (account_id);

CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id bigint PRIMARY KEY, total int);
INSERT INTO billing.invoices SELECT g, g FROM generate_series(1, 500) g;

ANALYZE;
