-- label: hazard
-- source: GitLab migration guide: avoid TRUNCATE in migrations (issue 24)
-- why: TRUNCATE takes ACCESS EXCLUSIVE and throws away data that running code expects
TRUNCATE orders;
