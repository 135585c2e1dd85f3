-- label: safe
-- source: pg_guardrails: attach_partition (its safe form); PostgreSQL docs on ATTACH PARTITION
-- why: a validated check that implies the bound lets ATTACH skip its scan
ALTER TABLE events_2027 ADD CONSTRAINT events_2027_bound
	CHECK (created_at >= '2027-01-01 00:00+00' AND created_at < '2028-01-01 00:00+00') NOT VALID;
ALTER TABLE events_2027 VALIDATE CONSTRAINT events_2027_bound;
ALTER TABLE events ATTACH PARTITION events_2027
	FOR VALUES FROM ('2027-01-01 00:00+00') TO ('2028-01-01 00:00+00');
ALTER TABLE events_2027 DROP CONSTRAINT events_2027_bound;
