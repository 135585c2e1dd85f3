-- label: safe
-- source: squawk: ban-truncate-cascade does not apply; the table is new
-- why: the table is created in the same transaction
BEGIN;
CREATE TABLE staging (id bigint);
TRUNCATE staging;
COMMIT;
