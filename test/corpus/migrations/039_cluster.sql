-- label: hazard
-- source: pg_guardrails: table_rewrite (CLUSTER copies the table)
-- why: CLUSTER copies the table under ACCESS EXCLUSIVE
CLUSTER orders USING orders_pkey;
