-- label: hazard
-- source: strong_migrations: adding a json column; eugene: E3
-- why: json has no equality operator: SELECT DISTINCT and UNION over the table break
ALTER TABLE orders ADD COLUMN metadata json;
