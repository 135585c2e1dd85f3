-- label: hazard
-- source: pg_guardrails: table_rewrite (VACUUM FULL copies the table)
-- why: VACUUM FULL copies the table under ACCESS EXCLUSIVE
VACUUM FULL orders;
