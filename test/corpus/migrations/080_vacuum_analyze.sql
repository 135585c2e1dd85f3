-- label: safe
-- source: PostgreSQL docs: plain VACUUM and ANALYZE take SHARE UPDATE EXCLUSIVE
-- why: SHARE UPDATE EXCLUSIVE only
VACUUM orders;
ANALYZE accounts;
