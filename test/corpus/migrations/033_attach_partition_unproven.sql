-- label: hazard
-- source: pg_guardrails: attach_partition; GitLab migration guide: partitioning
-- why: no check constraint proves the bound: the table is scanned under ACCESS EXCLUSIVE
ALTER TABLE events ATTACH PARTITION events_2027
	FOR VALUES FROM ('2027-01-01 00:00+00') TO ('2028-01-01 00:00+00');
